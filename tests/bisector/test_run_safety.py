"""The user's repository is untouched by `bisector run`: on success, on failure, on Ctrl-C.

Also: every kind of bad input gets a clear message, a non-zero exit and no traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portrepo import Change, make_port_repo
from repostate import snapshot


def _bisector(*args, cwd, cache, timeout=300, **popen):
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "bisector", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _dirty_user_checkout(repo):
    """A user mid-work: a stash, a staged and an unstaged change, an untracked file, a bisect."""
    git = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True,  # noqa: E731
                                    capture_output=True, text=True)
    (repo / "README.md").write_text("# stashed edit\n")
    git("stash")
    (repo / "docs" / "notes.md").write_text("staged edit\n")
    git("add", "docs/notes.md")
    (repo / "README.md").write_text("# unstaged edit\n")
    (repo / "scratch.txt").write_text("untracked\n")
    git("bisect", "start")
    git("bisect", "bad", "HEAD")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def port(tmp_path):
    history = [Change("docs"), Change("refactor"), Change("docs"), Change("regress"), Change("docs"),
               Change("refactor"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history)
    _dirty_user_checkout(port.path)
    return port


def test_successful_run_leaves_the_checkout_and_its_bisect_alone(port, tmp_path, cache):
    before = snapshot(port.path)
    proc = _bisector("run", "--good", port.base, "--report-dir", str(tmp_path / "rep"),
                     cwd=port.path, cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert port.culprit in proc.stderr + proc.stdout
    assert snapshot(port.path) == before
    assert before["bisect_log"]  # the user's own bisect is still there


def test_failed_run_leaves_the_checkout_alone(port, tmp_path, cache):
    before = snapshot(port.path)
    proc = _bisector("run", "--good", port.shas[4], "--bad", "HEAD", "--report-dir", str(tmp_path / "r"),
                     cwd=port.path, cache=cache)
    assert proc.returncode == 3  # good endpoint is bad: refused with evidence
    assert "good endpoint" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(port.path) == before


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_interrupt_midway_cleans_up(tmp_path, cache, how):
    history = [Change("docs")] * 3 + [Change("refactor"), Change("hang"), Change("regress"),
                                      Change("unhang"), Change("refactor"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history, timeout=120)
    _dirty_user_checkout(port.path)
    before = snapshot(port.path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), PYTHONUNBUFFERED="1", TMPDIR=str(scratch))
    proc = subprocess.Popen([sys.executable, "-m", "bisector", "run", "--good", port.base,
                             "--report-dir", str(tmp_path / "r")], cwd=port.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    # Wait until the bisection is inside the hanging candidate: a private bisect has begun.
    deadline = time.time() + 120
    while time.time() < deadline and not list(scratch.glob("bisector-run-*/repo/.git/BISECT_LOG")):
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    time.sleep(3.0)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # a terminal sends SIGINT to the whole foreground group
    else:
        os.kill(proc.pid, signal.SIGTERM)  # `kill PID` reaches bisector alone
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert snapshot(port.path) == before
    assert not list(scratch.glob("bisector-run-*"))  # the private repository is gone
    assert _processes_with_env(f"XDG_CACHE_HOME={cache}") == []  # the hanging candidate is gone too


def _processes_with_env(marker: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() + b"\0" in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("args, message", [
    (["run", "--good", "nosuchcommit"], "unknown commit 'nosuchcommit'"),
    (["run", "--good", "HEAD", "--bad", "HEAD"], "same commit"),
    (["run", "--good", "HEAD", "--bad", "HEAD~2"], "not an ancestor"),
    (["run", "--good", "HEAD~3", "--c-bin", "/no/such/nanoBragg"], "/no/such/nanoBragg"),
    (["run", "--good", "HEAD~3", "--scenario", "nosuch"], "nosuch"),
    (["run", "--good", "HEAD~3", "--min-correlation", "7"], "min_correlation"),
])
def test_bad_input_is_a_clear_error_and_changes_nothing(port, tmp_path, cache, args, message):
    before = snapshot(port.path)
    proc = _bisector(*args, "--report-dir", str(tmp_path / "r"), cwd=port.path, cache=cache)
    assert proc.returncode not in (0, 1), proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(port.path) == before
    assert not (tmp_path / "r").exists()


def test_not_a_git_repository(tmp_path, cache):
    proc = _bisector("run", "--good", "HEAD~1", cwd=tmp_path, cache=cache)
    assert proc.returncode == 2
    assert "not inside a git repository" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_config_file_names_the_key(port, tmp_path, cache):
    cfg = tmp_path / "bisector.toml"
    cfg.write_text('paths = ["src"]\ncolour = "blue"\n')
    before = snapshot(port.path)
    proc = _bisector("run", "--good", port.base, "--config", str(cfg), cwd=port.path, cache=cache)
    assert proc.returncode == 2 and "colour" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(port.path) == before


@pytest.mark.parametrize("args, message", [
    (["--timeout", "10000000"], "at most 604800"),
    (["--timeout", "inf"], "at most 604800"),
    (["--repo", "/nonexistent/port"], "/nonexistent/port does not exist"),
])
def test_bad_flags_exit_2_before_any_candidate_runs(port, tmp_path, cache, args, message):
    before = snapshot(port.path)
    proc = _bisector("run", "--good", "HEAD~3", *args, "--report-dir", str(tmp_path / "r"),
                     cwd=port.path, cache=cache)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2  # the message and its hint
    assert snapshot(port.path) == before


def test_unwritable_report_folder_is_refused_before_bisecting(port, tmp_path, cache):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    before = snapshot(port.path)
    proc = _bisector("run", "--good", port.base, "--report-dir", str(blocker / "reports"),
                     cwd=port.path, cache=cache)
    assert proc.returncode == 2, proc.stderr
    assert f"cannot write reports to {blocker / 'reports'}" in proc.stderr
    assert "--report-dir" in proc.stderr and "Traceback" not in proc.stderr
    assert "endpoint" not in proc.stderr  # refused before the first candidate ran
    assert snapshot(port.path) == before


@pytest.mark.parametrize("toml, message", [
    ('[tool.bisector.scenarios.small]\nargs = "-detpixels \'8"\n', "cannot be split"),
    ('[tool.bisector.scenarios."../x"]\nargs = "-detpixels 8"\n', "'../x' in"),
    ('[tool.bisector]\ntimeout = inf\n', "at most 604800"),
])
def test_bad_configuration_is_a_usage_error_for_run_and_an_abort_for_score(port, tmp_path, cache,
                                                                            toml, message):
    cfg = tmp_path / "bisector.toml"
    cfg.write_text(toml)
    before = snapshot(port.path)
    run = _bisector("run", "--good", port.base, "--config", str(cfg), "--report-dir", str(tmp_path / "r"),
                    cwd=port.path, cache=cache)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    # `score` speaks git bisect's language: a broken harness aborts (128), never "bad".
    score = _bisector("score", "--config", str(cfg), cwd=port.path, cache=cache)
    assert score.returncode == 128, score.stderr
    assert message in score.stderr and "Traceback" not in score.stderr
    assert snapshot(port.path) == before
    assert not (tmp_path / "r").exists()


def test_a_bug_exits_70_with_one_line_and_a_crash_log(tmp_path):
    # A command that fails the way a bug would, registered on the real app in a real process.
    script = ("import sys\nfrom bisector.cli import app, main\n"
              "@app.command('explode')\ndef explode():\n    {}['missing']\n"
              "sys.exit(main(sys.argv[1:]))\n")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", script, "explode"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 70, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("bisector: error: internal error in bisector: KeyError: 'missing'; traceback in ")
    crash_log = Path(line.rsplit("traceback in ", 1)[1])
    assert crash_log.parent == tmp_path / "cache" / "bisector"
    assert "Traceback" in crash_log.read_text() and "KeyError: 'missing'" in crash_log.read_text()


def test_user_hooks_and_git_variables_do_not_reach_the_private_bisect(port, tmp_path, cache):
    hooks = Path(subprocess.run(["git", "-C", str(port.path), "rev-parse", "--git-path", "hooks"],
                                capture_output=True, text=True, check=True).stdout.strip())
    if not hooks.is_absolute():
        hooks = port.path / hooks
    hooks.mkdir(exist_ok=True)
    fired = tmp_path / "hooks-fired.log"
    for name in ("reference-transaction", "post-checkout", "post-index-change"):
        (hooks / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{fired}"\n')
        (hooks / name).chmod(0o755)
    other = tmp_path / "other.git"
    subprocess.run(["git", "init", "-q", "--bare", str(other)], check=True)
    before = snapshot(port.path)
    fired.unlink(missing_ok=True)  # the snapshot's own `git status` may refresh the index
    # As if bisector were started from a git hook: variables that point git elsewhere.
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), GIT_DIR=str(other),
               GIT_INDEX_FILE=str(tmp_path / "index"), GIT_WORK_TREE=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "bisector", "run", "--good", port.base,
                           "--report-dir", str(tmp_path / "r")], cwd=port.path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert port.culprit in proc.stderr
    assert not fired.exists(), fired.read_text()
    assert snapshot(port.path) == before
    assert not (tmp_path / "index").exists()
