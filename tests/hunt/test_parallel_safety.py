"""Ctrl-C and SIGTERM during `run --jobs`: exit 130, every worker and candidate ended, nothing left.

The interrupted runs are real processes (signals are the point); bad input runs in-process.

The same promises as tests/bisector/test_run_safety.py, with workers hanging in a round.
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

# Relevant commits: refactor, hang, regress, unhang, refactor: the first round of two
# probes lands on the hanging commit.
HISTORY = [Change("docs"), Change("refactor"), Change("hang"), Change("regress"), Change("unhang"),
           Change("refactor"), Change("docs")]


def _with_marker(marker: bytes, also: bytes = b"") -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker + b"\0" in (proc / "environ").read_bytes() and also in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
@pytest.mark.parametrize("executor, how", [("processes", "ctrl-c"), ("processes", "kill"),
                                           ("dask-local", "ctrl-c")])
def test_interrupt_during_a_parallel_round_cleans_up(tmp_path, executor, how, xdg_cache):
    if executor.startswith("dask"):
        pytest.importorskip("distributed")
    port = make_port_repo(tmp_path / "port", history=HISTORY, timeout=120)
    subprocess.run(["git", "-C", str(port.path), "stash", "list"], check=True)  # a plain user repo
    (port.path / "scratch.txt").write_text("untracked work\n")
    before = snapshot(port.path)
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    marker = f"XDG_CACHE_HOME={xdg_cache}".encode()
    env = dict(os.environ, XDG_CACHE_HOME=str(xdg_cache), TMPDIR=str(scratch), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "bisector", "run", "--good", port.base, "--jobs", "2",
                             "--executor", executor, "--report-dir", str(tmp_path / "r")],
                            cwd=port.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    # Wait until a worker runs the hanging candidate.
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None and not _with_marker(marker, b"nbport"):
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    time.sleep(1.0)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # a terminal signals the whole foreground group
    else:
        os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert snapshot(port.path) == before
    assert _with_marker(marker) == []            # every worker and candidate is gone
    assert list(scratch.iterdir()) == []         # every worktree and scratch folder removed


@pytest.mark.parametrize("args, message", [
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--jobs", "2", "--executor", "threads"], "unknown executor 'threads'"),
])
def test_bad_jobs_or_executor_is_a_clear_error(tmp_path, xdg_cache, bisector_cli, args, message):
    port = make_port_repo(tmp_path / "port", history=[Change("regress")])
    before = snapshot(port.path)
    proc = bisector_cli("run", "--good", port.base, *args, cwd=port.path)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(port.path) == before
