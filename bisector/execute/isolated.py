"""One call in a fresh Python process: the unit of work of the processes and dask executors.

A fresh process per item keeps items apart (no state leaks from one commit's scoring into
the next) and makes every failure visible: the process raised (its traceback comes back),
died (no result file), or ran past its deadline (its whole process group is stopped). The
worker runs in its own session so that a terminal's Ctrl-C reaches only the parent, which
then stops the workers in order: SIGTERM first, so each worker can end its own candidate
process groups, SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

STOP_GRACE_S = 10.0
_POLL_S = 0.2
PARENT_ENV = "BISECTOR_WORKER_PARENT"


class TaskFailed(Exception):
    """The isolated call raised, died or timed out; the message says which."""


class TaskCancelled(Exception):
    """The caller cancelled the call while it ran."""


def bisector_path() -> str:
    """The folder holding the bisector package this process runs: workers import the same one."""
    return str(Path(__file__).resolve().parents[2])


def worker_env(base: dict[str, str], scratch: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [bisector_path(), base.get("PYTHONPATH")]))
    env["TMPDIR"] = str(scratch)  # every temporary export of the worker lands in its own folder
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_isolated(fn: Callable[[Any], Any], item: Any, *, scratch: Path, env: dict[str, str],
                 timeout_s: float | None, cancelled: Callable[[], bool] = lambda: False,
                 on_start: Callable[[subprocess.Popen], None] = lambda proc: None) -> Any:
    """``fn(item)`` in ``python -m bisector.execute.worker``; its value, or TaskFailed/TaskCancelled."""
    scratch.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    task, result = scratch / f"{name}.task", scratch / f"{name}.result"
    task.write_bytes(pickle.dumps((fn, item)))
    log = scratch / f"{name}.log"
    try:
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "bisector.execute.worker", str(task), str(result)],
                                    env=dict(env, **{PARENT_ENV: str(os.getpid())}), stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=scratch)
            on_start(proc)
            try:
                _wait(proc, timeout_s, cancelled)
            finally:
                if proc.poll() is None:
                    stop_group(proc)
        return _read_result(proc, result, log)
    finally:
        reap_strays(scratch)
        for path in (task, result, log):
            path.unlink(missing_ok=True)


def reap_strays(scratch: Path) -> None:
    """Kill what a worker that died left running: every process whose TMPDIR lies in ``scratch``.

    A worker kills its candidates' process groups when it is stopped, but a worker killed
    outright (SIGKILL, the out-of-memory killer) cannot; its candidates still carry a TMPDIR
    inside the worker's scratch folder (the scorer's exports live there). Linux only (/proc).
    """
    proc_root = Path("/proc")
    if not proc_root.is_dir():
        return
    marker = f"TMPDIR={scratch}".encode()
    for entry in proc_root.glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            variables = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(v == marker or v.startswith(marker + b"/") for v in variables):
            try:
                group = os.getpgid(pid)
                if group == os.getpgrp():  # never our own group: only the stray itself
                    os.kill(pid, signal.SIGKILL)
                else:
                    os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _wait(proc: subprocess.Popen, timeout_s: float | None, cancelled: Callable[[], bool]) -> None:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        try:
            proc.wait(timeout=_POLL_S)
            return
        except subprocess.TimeoutExpired:
            pass
        if cancelled():
            stop_group(proc)
            raise TaskCancelled("cancelled")
        if deadline is not None and time.monotonic() > deadline:
            stop_group(proc)
            raise TaskFailed(f"no result within {timeout_s:g} s: the worker was stopped")


def _read_result(proc: subprocess.Popen, result: Path, log: Path) -> Any:
    if not result.exists():
        how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
               else f"exited with status {proc.returncode}")
        tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
        raise TaskFailed(f"the worker process {how} without a result" + (": " + " / ".join(tail) if tail else ""))
    status, value = pickle.loads(result.read_bytes())
    if status != "ok":
        raise TaskFailed(_last_line(value))
    return value


def _last_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[-1] if lines else "the task raised"


def stop_group(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the worker's process group, SIGKILL what is left after ``grace_s``, reap it."""
    _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            break
        time.sleep(0.05)
    else:
        _signal_group(proc, signal.SIGKILL)
    proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
