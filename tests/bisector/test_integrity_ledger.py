"""The nightly ledger under hostile conditions, and nights on rewritten history, through the CLI.

Every test asserts the exit code, a short message without a traceback, the ledger intact
(`pragma integrity_check`, or its bytes unchanged when it must be left alone) and the user's
repository unchanged by bisector.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import xml.etree.ElementTree as ET

import pytest

from bisector.cli import main
from bisector.store.ledger import SCHEMA_VERSION, Ledger
from fsfaults import read_only, small_filesystem
from simkernel import cref
from portrepo import Change, make_port_repo
from repostate import snapshot
from together import run_together

D, R = Change("docs"), Change("refactor")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def port(tmp_path):
    return make_port_repo(tmp_path / "port", history=[D, R, D, R, D], size=16)


def _git(repo, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def _nightly(port, tmp_path, ledger, out, *extra):
    return main(["nightly", "--repo", str(port.path), "--ledger", str(ledger), "--out", str(tmp_path / out),
                 *extra])


def _integrity(ledger, *, immutable: bool = False) -> str:
    """``pragma integrity_check`` through a connection that writes nothing."""
    db = sqlite3.connect(f"file:{ledger}?mode=ro{'&immutable=1' if immutable else ''}", uri=True)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith(("bisector: error:", "  hint:"))]
    assert lines and lines[0].startswith("bisector: error:"), err
    return lines


def _a_ledger(path, tip="0" * 40) -> None:
    with Ledger(path) as ledger:
        night = ledger.begin("main", tip, None)
        ledger.record_tip(night, "good", [{"name": "small", "verdict": "good", "correlation": 1.0, "sum_ratio": 1.0}])
        ledger.finish(night, outcome="good", exit_code=0)


# -- the ledger's own integrity ------------------------------------------------------------------

@pytest.mark.parametrize("change", ["PRAGMA user_version = 99", "ALTER TABLE nights ADD COLUMN mood TEXT"])
def test_a_ledger_of_a_newer_layout_is_refused_and_never_written(port, tmp_path, capsys, change):
    ledger = tmp_path / "ledger.sqlite3"
    _a_ledger(ledger)
    db = sqlite3.connect(ledger)
    db.execute(change)
    db.commit()
    db.close()
    before, repo = ledger.read_bytes(), snapshot(port.path)

    assert _nightly(port, tmp_path, ledger, "out") == 4
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert str(ledger) in lines[0] and ("newer bisector" in lines[0] or "mood" in lines[0])
    assert "[tip]" not in err  # refused before scoring
    assert main(["history", "--ledger", str(ledger), "--repo", str(port.path)]) == 4
    assert str(ledger) in _error_lines(capsys.readouterr().err)[0]

    assert ledger.read_bytes() == before and _integrity(ledger) == "ok"
    assert not (tmp_path / "out").exists()
    assert snapshot(port.path) == repo


def test_a_read_only_ledger_gets_advice_that_fits_and_history_still_reads_it(port, tmp_path, capsys, request):
    folder = tmp_path / "ledgers"
    folder.mkdir()
    ledger = folder / "ledger.sqlite3"
    _a_ledger(ledger, port.head)
    read_only([ledger, folder], request)
    before = ledger.read_bytes()

    assert _nightly(port, tmp_path, ledger, "out") == 2
    lines = _error_lines(capsys.readouterr().err)
    assert "read-only" in lines[0] and str(ledger) in lines[0]
    assert "move it aside" not in " ".join(lines) and "writable" in lines[1]
    assert main(["history", "--ledger", str(ledger), "--repo", str(port.path)]) == 0
    assert port.head[:10] in capsys.readouterr().out
    assert ledger.read_bytes() == before and _integrity(ledger, immutable=True) == "ok"


def test_history_leaves_an_empty_file_empty(port, tmp_path, capsys):
    ledger = tmp_path / "empty.sqlite3"
    ledger.write_bytes(b"")
    assert main(["history", "--ledger", str(ledger), "--repo", str(port.path)]) == 0
    assert "no nights recorded yet" in capsys.readouterr().out
    assert ledger.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir() if "empty" in p.name) == [
        "empty.sqlite3"]


def test_a_ledger_is_stamped_with_its_layout_version_and_reads_back(port, tmp_path):
    ledger = tmp_path / "ledger.sqlite3"
    assert _nightly(port, tmp_path, ledger, "n1") == 0
    db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert _integrity(ledger) == "ok"


@pytest.mark.parametrize("option", ["--out", "--report-dir", "--ledger"])
def test_an_output_below_a_file_is_bad_input_before_scoring(port, tmp_path, capsys, option):
    blocker = tmp_path / "F"
    blocker.write_text("a file\n")
    ledger, out = tmp_path / "ledger.sqlite3", tmp_path / "out"
    places = {"--ledger": ledger, "--out": out} if option != "--report-dir" else {"--ledger": ledger}
    places[option] = blocker / "x"
    argv = ["nightly", "--repo", str(port.path), *(str(a) for item in places.items() for a in item)]
    before = snapshot(port.path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert f"{blocker} is a file" in lines[0] and option in " ".join(lines)
    assert "[tip]" not in err and blocker.read_text() == "a file\n"
    assert not out.exists() and (option == "--ledger" or not ledger.exists())
    assert snapshot(port.path) == before


def test_a_ledger_whose_disk_fills_during_the_night_still_gets_every_output_written(port, tmp_path, capsys, request):
    disk = small_filesystem(tmp_path / "small", request, size_kib=256)
    ledger = disk / "ledger.sqlite3"
    # The C reference runs once the night is begun in the ledger; on its way it fills the
    # ledger's disk, as another job on the machine would.
    c_bin = tmp_path / "nanoBragg"
    c_bin.write_text(f'#!/bin/sh\ncat /dev/zero > "{disk}/filler" 2>/dev/null\nexec "{cref.binary()}" "$@"\n')
    c_bin.chmod(0o755)
    code = _nightly(port, tmp_path, ledger, "out", "--c-bin", str(c_bin))
    err = capsys.readouterr().err
    assert code == 4, err  # the tip's results could not be recorded: a harness failure
    assert "Traceback" not in err and "outcome is not in the ledger" in err
    night = json.loads((tmp_path / "out" / "nightly.json").read_text())
    assert night["exit_code"] == 4 and "full" in night["ledger_error"]
    assert ET.parse(tmp_path / "out" / "junit.xml").getroot().tag == "testsuites"
    assert "Not recorded in the ledger" in (tmp_path / "out" / "summary.md").read_text()
    (disk / "filler").unlink()
    assert _integrity(ledger) == "ok"


def test_good_that_is_not_an_ancestor_of_the_tip_is_bad_input_before_scoring(port, tmp_path, capsys):
    ledger = tmp_path / "ledger.sqlite3"
    before = snapshot(port.path)
    assert _nightly(port, tmp_path, ledger, "out", "--branch", "HEAD~3", "--good", "HEAD") == 2
    err = capsys.readouterr().err
    assert "not an ancestor" in _error_lines(err)[0] and "[tip]" not in err
    assert not ledger.exists() and not (tmp_path / "out").exists()
    assert snapshot(port.path) == before


# -- rewritten history ---------------------------------------------------------------------------

def _rewrite_with_a_regression(port, back: int) -> str:
    """What a force-push does to a clone: HEAD~back, a breaking commit, the old commits gc'd."""
    _git(port.path, "reset", "-q", "--hard", f"HEAD~{back}")
    physics = port.path / "src" / "nbport" / "physics.py"
    physics.write_text(physics.read_text().replace("INTENSITY_SCALE = 1.0", "INTENSITY_SCALE = 1.5"))
    _git(port.path, "commit", "-q", "-am", "Rewritten: scale the image")
    _git(port.path, "reflog", "expire", "--expire=now", "--all")
    _git(port.path, "gc", "-q", "--prune=now")
    return _git(port.path, "rev-parse", "HEAD")


def _outputs(out):
    report = json.loads((out / "nightly.json").read_text())
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    return report, suite, (out / "summary.md").read_text()


def test_a_good_night_whose_commit_is_gone_asks_for_good_with_every_output_written(port, tmp_path, capsys):
    ledger = tmp_path / "ledger.sqlite3"
    assert _nightly(port, tmp_path, ledger, "n1") == 0
    gone = port.head
    culprit = _rewrite_with_a_regression(port, 3)
    assert subprocess.run(["git", "-C", str(port.path), "cat-file", "-e", gone]).returncode != 0  # really gone
    before = snapshot(port.path)
    capsys.readouterr()

    assert _nightly(port, tmp_path, ledger, "n2") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "history was rewritten" in err and gone[:10] in err and "--good" in err
    report, suite, summary = _outputs(tmp_path / "n2")
    assert report["outcome"] == "bad_input" and report["exit_code"] == 2 and report["tip"] == culprit
    assert suite.get("failures") == "1" and "history was rewritten" in summary
    with Ledger(ledger) as opened:
        nights = opened.nights()
    assert [(n.outcome, n.exit_code) for n in nights] == [("good", 0), ("bad_input", 2)]
    assert _integrity(ledger) == "ok" and snapshot(port.path) == before

    # The advice works: the same night with --good pins the culprit.
    assert _nightly(port, tmp_path, ledger, "n3", "--good", "HEAD~1") == 1
    assert json.loads((tmp_path / "n3" / "nightly.json").read_text())["culprit"] == culprit


def test_a_gone_good_night_is_passed_over_for_the_newest_one_still_reachable(port, tmp_path, capsys):
    ledger = tmp_path / "ledger.sqlite3"
    _git(port.path, "branch", "-f", "older", port.shas[1])
    assert _nightly(port, tmp_path, ledger, "n1", "--branch", "older") == 0
    _git(port.path, "branch", "-D", "older")
    assert _nightly(port, tmp_path, ledger, "n2") == 0
    gone = port.head
    culprit = _rewrite_with_a_regression(port, 2)
    capsys.readouterr()

    assert _nightly(port, tmp_path, ledger, "n3") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "history was rewritten" in err and gone[:10] in err
    report, suite, _ = _outputs(tmp_path / "n3")
    assert report["hunted_from"] == port.shas[1] and report["culprit"] == culprit
    assert "history was rewritten" in report["conclusion"]
    assert _integrity(ledger) == "ok"


_WRITER = """
from pathlib import Path
from bisector.store.ledger import Ledger
folder, name = Path(sys.argv[1]), sys.argv[2]
for k in rounds(30, 0.05):
    for i in range(2):
        with Ledger(folder / f"ledger{k}.sqlite3") as ledger:   # a fresh open per night, as nightly does
            night = ledger.begin(name, "%040x" % i, None)
            ledger.record_tip(night, "good", [{"name": "small", "verdict": "good"}])
            ledger.finish(night, outcome="good", exit_code=0)
"""


def test_four_processes_making_and_writing_new_ledgers_at_once_leave_them_whole(tmp_path):
    """Four writers open each of 30 new ledgers at the same moment: the race of making one.

    Two of its losers were seen before the fix: SQLite refusing a concurrent switch to WAL at
    once (no busy wait), and a layout read between another process's tables and its version.
    """
    folder, rounds, nights = tmp_path / "shared", 30, 2
    finished = run_together(_WRITER, [[str(folder), f"writer{i}"] for i in range(4)])
    assert [code for code, _ in finished] == [0] * 4, finished
    for k in range(rounds):
        ledger = folder / f"ledger{k}.sqlite3"
        assert _integrity(ledger) == "ok"
        with Ledger(ledger, read_only=True) as opened:
            found = opened.nights()
        assert len(found) == 4 * nights and all(n.outcome == "good" and len(n.results) == 1 for n in found)
        assert sorted({n.branch for n in found}) == [f"writer{i}" for i in range(4)]
