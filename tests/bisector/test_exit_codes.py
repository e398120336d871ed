"""Exit codes per command: one vocabulary each, usage errors said in it, the README's tables true."""

from __future__ import annotations

import enum
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bisector.cli import main
from bisector.errors import (VOCABULARIES, BisectorError, DiagnosisExit, EndpointError, HarnessAbort, InternalError,
                             NightlyExit, RunExit, ScanExit, ScoreExit, exit_code_of)
from portrepo import Change, make_port_repo
from procwatch import cmdline, wait_for, with_env
from warmcache import share_references

ROOT = Path(__file__).resolve().parents[2]
NOT_SCORE = (RunExit, ScanExit, NightlyExit, DiagnosisExit)


# -- the vocabularies --------------------------------------------------------------------------

def test_each_vocabulary_is_its_own_enum_without_aliases():
    for vocabulary in VOCABULARIES:
        enum.unique(vocabulary)  # raises on an alias inside one vocabulary
    members = [member for vocabulary in VOCABULARIES for member in vocabulary]
    for a in members:
        for b in members:
            assert (a is b) == (type(a) is type(b) and a.name == b.name)
    assert NightlyExit.NOT_PINNED is not RunExit.BAD_INPUT and NightlyExit.NOT_PINNED != NightlyExit.BAD_INPUT


def test_the_agreed_numbers():
    assert [int(c) for c in ScoreExit] == [0, 1, 125, 128, 130]
    assert {v.__name__: {c.name: int(c) for c in v} for v in NOT_SCORE} == {
        "RunExit": {"FOUND": 0, "NO_CULPRIT": 1, "BAD_INPUT": 2, "ENDPOINTS_REFUSED": 3, "HARNESS": 4,
                    "BUG": 70, "INTERRUPTED": 130},
        "ScanExit": {"PINNED": 0, "NOT_PINNED": 1, "BAD_INPUT": 2, "HARNESS": 4, "NO_BAD_STATE": 5,
                     "BUG": 70, "INTERRUPTED": 130},
        "NightlyExit": {"ALL_GOOD": 0, "PINNED": 1, "BAD_INPUT": 2, "TIP_UNTESTABLE": 3, "HARNESS": 4,
                        "NOT_PINNED": 5, "KNOWN": 6, "BUG": 70, "INTERRUPTED": 130},
        "DiagnosisExit": {"OK": 0, "FAILS": 1, "BAD_INPUT": 2, "HARNESS": 4, "BUG": 70, "INTERRUPTED": 130}}


@pytest.mark.parametrize("vocabulary", NOT_SCORE)
def test_errors_are_said_in_the_command_vocabulary(vocabulary):
    assert exit_code_of(BisectorError("bad flag"), vocabulary) is vocabulary.BAD_INPUT
    assert exit_code_of(HarnessAbort("reference broke"), vocabulary) is vocabulary.HARNESS
    assert exit_code_of(BisectorError("side failed", exit_code=DiagnosisExit.HARNESS), vocabulary) is vocabulary.HARNESS
    assert exit_code_of(InternalError("a bug"), vocabulary) is vocabulary.BUG
    assert exit_code_of(ValueError("a bug"), vocabulary) is vocabulary.BUG
    assert exit_code_of(KeyboardInterrupt(), vocabulary) is vocabulary.INTERRUPTED
    # Only run has a word for a refused endpoint; nightly's 3 means something else.
    expected = RunExit.ENDPOINTS_REFUSED if vocabulary is RunExit else vocabulary.BUG
    assert exit_code_of(EndpointError("good is bad"), vocabulary) is expected


def test_under_git_bisect_every_error_aborts():
    for exc in (BisectorError("bad flag"), HarnessAbort("x"), EndpointError("x"), ValueError("bug")):
        assert exit_code_of(exc, ScoreExit) is ScoreExit.ABORT
    assert exit_code_of(KeyboardInterrupt(), ScoreExit) is ScoreExit.INTERRUPTED


# -- the documentation ------------------------------------------------------------------------

def _table_after(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first Markdown table after ``heading``."""
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return [rows[0]] + rows[2:]  # without the |---| line


def test_the_readme_table_is_the_enums():
    header, *rows = _table_after((ROOT / "README.md").read_text(), "### Exit codes")
    columns = {"`score`": ScoreExit, "`run`": RunExit, "`scan`": ScanExit, "`nightly`": NightlyExit,
               "`audit`": DiagnosisExit}
    assert len(header) == 1 + len(columns)
    for i, cell in enumerate(header[1:], start=1):
        vocabulary = next(v for name, v in columns.items() if cell.startswith(name))
        documented = {int(row[0]) for row in rows if row[i] != "-"}
        assert documented == {int(c) for c in vocabulary}, (cell, documented)


def test_the_nightly_guide_table_is_the_enum():
    header, *rows = _table_after((ROOT / "docs" / "nightly.md").read_text(), "## Exit codes")
    assert header[0] == "code"
    assert [int(row[0]) for row in rows] == [int(c) for c in NightlyExit]


# -- usage errors through cli.main -------------------------------------------------------------

@pytest.fixture(scope="module")
def port(tmp_path_factory):
    return make_port_repo(tmp_path_factory.mktemp("port") / "port",
                          history=[Change("docs"), Change("regress"), Change("docs")])


@pytest.mark.parametrize("argv, code, says", [
    (["score", "--no-such-option"], 128, "No such option: --no-such-option"),
    (["score", "--min-corelation", "0.99"], 128, "Possible options: --min-correlation"),
    (["score", "--min-correlation", "abc"], 128, "'--min-correlation'"),
    (["score", "--reference", "fortran"], 128, "'fortran'"),
    (["score", "--config", "/no/such.toml"], 128, "/no/such.toml does not exist"),
    (["nightly", "--bogus"], NightlyExit.BAD_INPUT, "No such option: --bogus"),
    (["nightly", "--config", "/no/such.toml"], NightlyExit.BAD_INPUT, "/no/such.toml does not exist"),
    (["run"], RunExit.BAD_INPUT, "Missing option '--good'"),
    (["run", "-g", "HEAD~1", "--jobs", "many"], RunExit.BAD_INPUT, "'--jobs'"),
    (["scan", "-g", "HEAD~1", "--budget", "1"], ScanExit.BAD_INPUT, "'--budget'"),
    (["compare", "--peaks", "x"], DiagnosisExit.BAD_INPUT, "'--peaks'"),
    (["audit", "--min-correlation", "7"], DiagnosisExit.BAD_INPUT, "--min-correlation must be a number in (0, 1]"),
    (["cache", "clear", "--older-than", "-1"], DiagnosisExit.BAD_INPUT, "'--older-than'"),
    (["trace-diff"], DiagnosisExit.BAD_INPUT, "Missing argument"),
    (["no-such-command"], DiagnosisExit.BAD_INPUT, "No such command 'no-such-command'"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_usage_errors_exit_with_the_command_bad_input_code(port, capsys, monkeypatch, argv, code, says):
    monkeypatch.chdir(port.path)
    assert main(argv) == code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("bisector: error: ")]
    assert len(errors) == 1 and says in errors[0], err
    assert "hint: " in err and "Traceback" not in err and "Usage:" not in err


def test_a_hidden_old_spelling_is_never_suggested(capsys):
    assert main(["nightly", "--bogus"]) == 2
    assert "--out" not in capsys.readouterr().err


# -- through real processes: git bisect run, and signals ---------------------------------------

def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return dict(env, XDG_CACHE_HOME=str(tmp_path / "xdg"), PYTHONUNBUFFERED="1")


@pytest.mark.parametrize("mistake", [["--no-such-option"], ["--min-correlation", "abc"],
                                     ["--config", "/no/such.toml"]], ids=" ".join)
def test_git_bisect_run_stops_on_a_usage_error_and_blames_nothing(tmp_path, mistake):
    port = make_port_repo(tmp_path / "port", history=[Change("docs"), Change("regress"), Change("docs")])
    bisector = Path(sys.executable).with_name("bisector")  # the console script the README installs
    assert bisector.is_file()
    git = ["git", "-C", str(port.path)]
    env = _env(tmp_path)
    subprocess.run([*git, "bisect", "start", port.head, port.base], check=True, env=env, capture_output=True)
    proc = subprocess.run([*git, "bisect", "run", str(bisector), "score", *mistake], env=env,
                          capture_output=True, text=True, timeout=300)
    log = subprocess.run([*git, "bisect", "log"], env=env, capture_output=True, text=True).stdout
    subprocess.run([*git, "bisect", "reset"], check=True, env=env, capture_output=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "first bad commit" not in output and "first bad commit" not in log, output
    steps = [line for line in log.splitlines() if re.match(r"git bisect (good|bad|skip)\b", line)]
    assert steps == [], log  # no step was judged at all: only the endpoints given at the start
    assert "abort (exit 128)" in proc.stderr and "Traceback" not in output


def test_sighup_cleans_up_like_sigterm_and_says_interrupted(tmp_path, warm_references):
    port = make_port_repo(tmp_path / "port", history=[Change("docs"), Change("hang")], timeout=120)
    env = _env(tmp_path)
    share_references(warm_references, Path(env["XDG_CACHE_HOME"]) / "bisector")  # the session's reference images
    proc = subprocess.Popen([sys.executable, "-m", "bisector", "score", port.head], cwd=port.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    marker = f"XDG_CACHE_HOME={env['XDG_CACHE_HOME']}"
    try:
        assert wait_for(lambda: [p for p in with_env(marker) if "-m nbport" in cmdline(p)]), proc.communicate()
        os.kill(proc.pid, signal.SIGHUP)  # the terminal closed
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == ScoreExit.INTERRUPTED, err
    assert err.splitlines()[-1] == "bisector: interrupted" and "Traceback" not in err
    assert with_env(marker) == []  # the hanging candidate is gone too
