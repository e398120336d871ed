"""`bisector nightly` and `history`: real repositories, real scoring, a real SQLite ledger."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from bisector.cli import main
from bisector.hunt.nightly import ALL_GOOD, HARNESS, PINNED
from bisector.store.ledger import Ledger, default_path
from portrepo import Change, make_port_repo

pytestmark = pytest.mark.slow


D, R = Change("docs"), Change("refactor")
HISTORY = [D, R, D, R, Change("regress", how="scale"), D, R, D]
NIGHT_ONE = 2  # history index of the first night's tip (good)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private score cache for in-process runs and for subprocesses alike."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


@pytest.fixture
def port(tmp_path):
    port = make_port_repo(tmp_path / "port", history=HISTORY)
    subprocess.run(["git", "-C", str(port.path), "branch", "dev", port.shas[NIGHT_ONE]], check=True)
    return port


def _nightly(port, out, *extra) -> int:
    return main(["nightly", "--repo", str(port.path), "--branch", "dev", "--out", str(out), *extra])


def _move_dev(port, sha):
    subprocess.run(["git", "-C", str(port.path), "branch", "-f", "dev", sha], check=True)


def test_a_good_night_then_a_regressed_one_is_hunted_and_pinned(port, env, tmp_path, capsys):
    assert _nightly(port, tmp_path / "n1") == ALL_GOOD
    _move_dev(port, port.head)
    assert _nightly(port, tmp_path / "n2") == PINNED

    report = json.loads((tmp_path / "n2" / "nightly.json").read_text())
    assert report["outcome"] == "pinned" and report["culprit"] == port.culprit
    assert report["hunted_from"] == port.shas[NIGHT_ONE]
    suite = ET.parse(tmp_path / "n2" / "junit.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 1 and suite.get("failures") == "1"
    failure = cases[0].find("failure")
    assert port.culprit in failure.text and "sum_ratio 1.5" in failure.text
    summary = (tmp_path / "n2" / "summary.md").read_text()
    assert "REGRESSION (pinned)" in summary and port.culprit in summary
    first = ET.parse(tmp_path / "n1" / "junit.xml").getroot().find("testsuite")
    assert first.get("failures") == "0" and first.find("testcase").find("failure") is None

    with Ledger(default_path(port.path)) as ledger:
        nights = ledger.nights()
    assert [(n.tip, n.verdict, n.outcome) for n in nights] == [
        (port.shas[NIGHT_ONE], "good", "good"), (port.head, "bad", "pinned")]
    assert nights[1].culprit == port.culprit

    capsys.readouterr()
    assert main(["history", "--repo", str(port.path), "--plot", str(tmp_path / "history.png")]) == 0
    out = capsys.readouterr().out
    assert port.shas[NIGHT_ONE][:10] in out and port.head[:10] in out and "pinned" in out
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"


def test_two_nightlies_at_once_both_land(port, env, tmp_path):
    ledger = tmp_path / "ledger.sqlite3"
    assert _nightly(port, tmp_path / "warm", "--ledger", str(ledger)) == ALL_GOOD  # warms the caches
    argv = [sys.executable, "-m", "bisector", "nightly", "--repo", str(port.path), "--branch", "dev",
            "--ledger", str(ledger)]
    procs = [subprocess.Popen(argv + ["--out", str(tmp_path / f"p{i}")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    with Ledger(ledger) as opened:
        nights = opened.nights()
    assert len(nights) == 3 and all(n.outcome == "good" for n in nights)
    db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()


def test_a_night_killed_mid_hunt_leaves_a_ledger_the_next_night_reads(port, env, tmp_path):
    ledger = tmp_path / "ledger.sqlite3"
    assert _nightly(port, tmp_path / "n1", "--ledger", str(ledger)) == ALL_GOOD
    _move_dev(port, port.head)
    proc = subprocess.Popen([sys.executable, "-m", "bisector", "nightly", "--repo", str(port.path),
                             "--branch", "dev", "--ledger", str(ledger), "--out", str(tmp_path / "killed")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert _wait_for_phase(ledger, "hunting", proc), "the night never started hunting"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    assert _nightly(port, tmp_path / "n3", "--ledger", str(ledger)) == PINNED
    with Ledger(ledger) as opened:
        nights = opened.nights()
    assert [n.outcome for n in nights] == ["good", None, "pinned"]
    assert nights[1].interrupted and nights[1].verdict == "bad" and nights[1].hunted_from == port.shas[NIGHT_ONE]
    assert nights[2].culprit == port.culprit


def _wait_for_phase(ledger, phase, proc, timeout=120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(ledger, timeout=5) as db:
                row = db.execute("SELECT phase FROM nights ORDER BY id DESC LIMIT 1").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row and row[0] == phase:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("content", [b"these are my notes, not a database\n" * 40,
                                     b"SQLite format 3\x00" + bytes(range(256)) * 20])
def test_a_corrupt_ledger_is_reported_and_left_untouched(port, env, tmp_path, capsys, content):
    ledger = tmp_path / "ledger.sqlite3"
    ledger.write_bytes(content)
    assert _nightly(port, tmp_path / "out", "--ledger", str(ledger)) == HARNESS
    err = capsys.readouterr().err
    assert str(ledger) in err and "move it aside" in err and "Traceback" not in err
    assert ledger.read_bytes() == content
    assert not (tmp_path / "out").exists()
