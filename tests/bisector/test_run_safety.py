"""The user's repository is untouched by `bisector run`: on success, on failure, on Ctrl-C.

Also: every kind of bad input gets a clear message, a non-zero exit and no traceback.

Bad input goes through ``bisector.cli.main`` in this process (the ``bisector_cli`` fixture).
Real `python -m bisector` processes are kept where the process is the point: Ctrl-C and
`kill PID` (signals reach a process), SIGKILL and the next run's cleanup (orphans), a bug's
exit 70 as a shell sees it, and a hunt started with git's variables in its environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from portrepo import Change, make_port_repo
from procwatch import alive, cmdline, wait_for, with_env
from repostate import snapshot
from warmcache import warm_xdg


def _bisector(*args, cwd, cache, timeout=300, **extra_env):
    """`bisector ARGS` as a real process (only where the process is the point)."""
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), PYTHONUNBUFFERED="1", **extra_env)
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


HISTORY = [Change("docs"), Change("refactor"), Change("docs"), Change("regress"), Change("docs"),
           Change("refactor"), Change("docs")]


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    """A user mid-work (see _dirty_user_checkout); the tests that use it only read it."""
    port = make_port_repo(tmp_path_factory.mktemp("dirty") / "port", history=HISTORY)
    _dirty_user_checkout(port.path)
    return port


@pytest.fixture(scope="module")
def hunted(tmp_path_factory, warm_references, c_twin):
    """One successful hunt, asserted by several tests below, in the worst setting a user gives
    it: a dirty checkout with its own bisect in progress, live hooks in .git/hooks and in
    core.hooksPath, and git's variables pointing at another repository, as when bisector is
    started from a git hook (a real process: its environment is the point)."""
    tmp = tmp_path_factory.mktemp("hunted")
    port = make_port_repo(tmp / "port", history=HISTORY)
    _dirty_user_checkout(port.path)
    log = tmp / "hooks.log"
    hook = f"#!/bin/sh\necho \"$0 $1\" >> {log}\ncat > /dev/null\n"
    own = tmp / "own-hooks"
    own.mkdir()
    for folder in (port.path / ".git" / "hooks", own):  # the default folder and core.hooksPath
        folder.mkdir(exist_ok=True)
        for name in ("reference-transaction", "post-checkout", "post-index-change"):
            (folder / name).write_text(hook)
            (folder / name).chmod(0o755)
    subprocess.run(["git", "-C", str(port.path), "config", "core.hooksPath", str(own)], check=True)
    subprocess.run(["git", "-C", str(port.path), "update-ref", "refs/hook-check", "HEAD"], check=True)
    assert str(own) in log.read_text()  # the hooks are live
    other = tmp / "other.git"
    subprocess.run(["git", "init", "-q", "--bare", str(other)], check=True)
    before = snapshot(port.path)
    log.unlink(missing_ok=True)  # the snapshot's own `git status` may refresh the index
    with warm_xdg(tmp / "xdg", warm_references, c_twin) as xdg:
        proc = _bisector("run", "--good", port.base, "--report-dir", str(tmp / "r"), cwd=port.path, cache=xdg,
                         GIT_DIR=str(other), GIT_INDEX_FILE=str(tmp / "index"), GIT_WORK_TREE=str(tmp))
    # Read now: a later `git status` (a snapshot) may run the user's index hook itself.
    fired = log.read_text() if log.exists() else None
    return port, before, proc, fired, tmp


def test_successful_run_names_the_culprit(hunted):
    port, _, proc, _, _ = hunted
    assert proc.returncode == 0, proc.stderr
    assert port.culprit in proc.stderr and "Traceback" not in proc.stderr


def test_successful_run_leaves_the_checkout_and_its_bisect_alone(hunted):
    port, before, proc, _, _ = hunted
    assert proc.returncode == 0, proc.stderr
    assert snapshot(port.path) == before  # `git worktree list` and the user's bisect included
    assert before["bisect_log"]  # the user's own bisect was there to keep


def test_no_hook_of_the_user_runs_during_a_hunt(hunted):
    _, _, proc, fired, _ = hunted
    assert proc.returncode == 0, proc.stderr
    assert fired is None, fired


def test_git_variables_of_the_caller_do_not_reach_the_private_bisect(hunted):
    _, _, proc, _, tmp = hunted
    assert proc.returncode == 0, proc.stderr
    assert not (tmp / "index").exists()  # the caller's GIT_INDEX_FILE was never written


def test_failed_run_leaves_the_checkout_alone(port, tmp_path, xdg_cache, bisector_cli):
    before = snapshot(port.path)
    proc = bisector_cli("run", "--good", port.shas[4], "--bad", "HEAD", "--report-dir", tmp_path / "r",
                        cwd=port.path)
    assert proc.returncode == 3  # good endpoint is bad: refused with evidence
    assert "good endpoint" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(port.path) == before


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_interrupt_midway_cleans_up(tmp_path, xdg_cache, how):
    history = [Change("docs")] * 3 + [Change("refactor"), Change("hang"), Change("regress"),
                                      Change("unhang"), Change("refactor"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history, timeout=120)
    _dirty_user_checkout(port.path)
    before = snapshot(port.path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, XDG_CACHE_HOME=str(xdg_cache), PYTHONUNBUFFERED="1", TMPDIR=str(scratch))
    proc = subprocess.Popen([sys.executable, "-m", "bisector", "run", "--good", port.base,
                             "--report-dir", str(tmp_path / "r")], cwd=port.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    # Wait until the bisection is inside the hanging candidate.
    marker = f"XDG_CACHE_HOME={xdg_cache}"
    assert wait_for(lambda: [p for p in with_env(marker) if "-m nbport" in cmdline(p)]), proc.communicate()
    assert proc.poll() is None, proc.communicate()
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # a terminal sends SIGINT to the whole foreground group
    else:
        os.kill(proc.pid, signal.SIGTERM)  # `kill PID` reaches bisector alone
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert snapshot(port.path) == before
    assert not list(scratch.glob("bisector-run-*"))  # the private repository is gone
    assert with_env(marker) == []  # the hanging candidate is gone too


@pytest.mark.parametrize("args, message", [
    (["run", "--good", "nosuchcommit"], "unknown commit 'nosuchcommit'"),
    (["run", "--good", "HEAD", "--bad", "HEAD"], "same commit"),
    (["run", "--good", "HEAD", "--bad", "HEAD~2"], "not an ancestor"),
    (["run", "--good", "HEAD~3", "--c-bin", "/no/such/nanoBragg"], "/no/such/nanoBragg"),
    (["run", "--good", "HEAD~3", "--scenario", "nosuch"], "nosuch"),
    (["run", "--good", "HEAD~3", "--min-correlation", "7"], "min_correlation"),
])
def test_bad_input_is_a_clear_error_and_changes_nothing(port, tmp_path, xdg_cache, bisector_cli, args, message):
    before = snapshot(port.path)
    proc = bisector_cli(*args, "--report-dir", tmp_path / "r", cwd=port.path)
    assert proc.returncode not in (0, 1), proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(port.path) == before
    assert not (tmp_path / "r").exists()


def test_not_a_git_repository(tmp_path, xdg_cache, bisector_cli):
    proc = bisector_cli("run", "--good", "HEAD~1", cwd=tmp_path)
    assert proc.returncode == 2
    assert "not inside a git repository" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_config_file_names_the_key(port, tmp_path, xdg_cache, bisector_cli):
    cfg = tmp_path / "bisector.toml"
    cfg.write_text('paths = ["src"]\ncolour = "blue"\n')
    before = snapshot(port.path)
    proc = bisector_cli("run", "--good", port.base, "--config", cfg, cwd=port.path)
    assert proc.returncode == 2 and "colour" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(port.path) == before


@pytest.mark.slow
@pytest.mark.waits
def test_a_run_killed_with_sigkill_is_cleaned_up_by_the_next_run(tmp_path, c_twin, xdg_cache):
    history = [Change("docs"), Change("refactor"), Change("hang"), Change("regress"), Change("unhang"),
               Change("refactor"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history, reference="c", c_bin=c_twin, timeout=120)
    before = snapshot(port.path)
    temp = tmp_path / "t"
    temp.mkdir()
    env = dict(os.environ, XDG_CACHE_HOME=str(xdg_cache), TMPDIR=str(temp), PYTHONUNBUFFERED="1")
    first = subprocess.Popen([sys.executable, "-m", "bisector", "run", "--good", port.base, "--report-dir",
                              str(tmp_path / "r")], cwd=port.path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    marker = f"XDG_CACHE_HOME={xdg_cache}"

    def inside_the_hanging_step():
        running = [cmdline(p) for p in with_env(marker)]
        return any(" bisect run " in c for c in running) and any("-m nbport" in c for c in running)

    assert wait_for(inside_the_hanging_step)
    left = [p for p in with_env(marker)  # git bisect run, its step, the candidate
            if any(name in cmdline(p) for name in (" bisect run ", "bisector.hunt.step", "-m nbport"))]
    first.kill()
    first.wait()
    # SIGKILL allows the run no last words: its folders stay. Its processes may already be
    # ending (each program's keeper, and the scoring step, watch their owner), or be ended by
    # any other bisector that starts meanwhile: the next run below must find nothing either way.
    assert left and list(temp.glob("bisector-run-*"))

    second = _bisector("run", "--good", port.base, "--timeout", "5", "--report-dir", str(tmp_path / "r2"),
                       cwd=port.path, cache=xdg_cache, TMPDIR=str(temp))
    assert second.returncode == 0, second.stderr
    assert [cmdline(p) for p in left if alive(p)] == []
    assert list(temp.glob("bisector-run-*")) == []
    assert snapshot(port.path) == before  # `git worktree list` included


@pytest.mark.parametrize("args, message", [
    (["--timeout", "10000000"], "at most 604800"),
    (["--timeout", "inf"], "at most 604800"),
    (["--repo", "/nonexistent/port"], "/nonexistent/port does not exist"),
])
def test_bad_flags_exit_2_before_any_candidate_runs(port, tmp_path, xdg_cache, bisector_cli, args, message):
    before = snapshot(port.path)
    proc = bisector_cli("run", "--good", "HEAD~3", *args, "--report-dir", tmp_path / "r", cwd=port.path)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2  # the message and its hint
    assert snapshot(port.path) == before


def test_unwritable_report_folder_is_refused_before_bisecting(port, tmp_path, xdg_cache, bisector_cli):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    before = snapshot(port.path)
    proc = bisector_cli("run", "--good", port.base, "--report-dir", blocker / "reports", cwd=port.path)
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
def test_bad_configuration_is_a_usage_error_for_run_and_an_abort_for_score(port, tmp_path, xdg_cache,
                                                                            bisector_cli, toml, message):
    cfg = tmp_path / "bisector.toml"
    cfg.write_text(toml)
    before = snapshot(port.path)
    run = bisector_cli("run", "--good", port.base, "--config", cfg, "--report-dir", tmp_path / "r",
                       cwd=port.path)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    # `score` speaks git bisect's language: a broken harness aborts (128), never "bad".
    score = bisector_cli("score", "--config", cfg, cwd=port.path)
    assert score.returncode == 128, score.stderr
    assert message in score.stderr and "Traceback" not in score.stderr
    assert snapshot(port.path) == before
    assert not (tmp_path / "r").exists()


def test_a_bug_exits_70_with_one_line_and_a_crash_log(tmp_path):
    # A real process: the command registered here must not stay on the app for other tests.
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
