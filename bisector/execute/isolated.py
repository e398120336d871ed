"""One call in a fresh Python process: the unit of work of the processes and dask executors.

A fresh process per item keeps items apart (no state leaks from one commit's scoring into
the next) and makes every failure visible: the process raised (its traceback comes back),
died (no result file), or ran past its deadline (it is stopped with everything it
started). The worker is started by the one supervisor (``score/procs.py``): its own
session, so a terminal's Ctrl-C reaches only the parent, which then stops the workers in
order: SIGTERM first, so each worker can end its own candidates, then the supervisor's
keeper ends whatever is left, also when this process dies.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..score import procs

STOP_GRACE_S = 10.0
_POLL_S = 0.2
_LOG_LINES = 3


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
                 on_start: Callable[[procs.Supervised], None] = lambda worker: None) -> Any:
    """``fn(item)`` in ``python -m bisector.execute.worker``; its value, or TaskFailed/TaskCancelled."""
    scratch.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    task, result = scratch / f"{name}.task", scratch / f"{name}.result"
    task.write_bytes(pickle.dumps((fn, item)))
    log = scratch / f"{name}.log"
    try:
        with open(log, "w+b") as out:
            worker = procs.start([sys.executable, "-m", "bisector.execute.worker", str(task), str(result)],
                                 cwd=scratch, env=env, stdout=out, stderr=subprocess.STDOUT)
            try:
                on_start(worker)
                _wait(worker, timeout_s, cancelled)
            finally:
                worker.stop(STOP_GRACE_S)
            return _read_result(worker, result, procs.read_tail(out))
    finally:
        for path in (task, result, log):
            path.unlink(missing_ok=True)


def _wait(worker: procs.Supervised, timeout_s: float | None, cancelled: Callable[[], bool]) -> None:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        try:
            worker.wait(timeout=_POLL_S)
            return
        except subprocess.TimeoutExpired:
            pass
        if cancelled():
            worker.stop(STOP_GRACE_S)
            raise TaskCancelled("cancelled")
        if deadline is not None and time.monotonic() > deadline:
            worker.stop(STOP_GRACE_S)
            raise TaskFailed(f"no result within {timeout_s:g} s: the worker was stopped")


def _read_result(worker: procs.Supervised, result: Path, log_tail: str) -> Any:
    if not result.exists():
        code = worker.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        tail = log_tail.splitlines()[-_LOG_LINES:]
        raise TaskFailed(f"the worker process {how} without a result" + (": " + " / ".join(tail) if tail else ""))
    status, value = pickle.loads(result.read_bytes())
    if status != "ok":
        raise TaskFailed(_last_line(value))
    return value


def _last_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[-1] if lines else "the task raised"
