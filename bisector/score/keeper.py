"""The keeper: the first process of every program bisector starts (Linux), and its last.

``python -I -S keeper.py OWNER_PID MARKER -- PROGRAM ARGS...`` starts PROGRAM as its child,
with ``BISECTOR_PROC=MARKER`` in its environment, and
makes itself the child subreaper (``PR_SET_CHILD_SUBREAPER``): every process PROGRAM's
tree orphans, also one that double-forks into a session of its own with an empty
environment, is adopted by the keeper instead of init. When PROGRAM exits, or when
asked (SIGUSR1), or when its owner dies (``PR_SET_PDEATHSIG``: also when a candidate
kills the scoring step that started it), the keeper kills every process below it and
reaps them, then exits with PROGRAM's status (a signal death is passed on as the same
signal). SIGTERM is left to PROGRAM: the supervisor sends it to the whole group.

The keeper itself carries no marker. A sweep (any bisector process's, after any program it
ran) kills every marked process whose owner is gone; a keeper killed that way, while it
ends its tree after its owner died, would free what it adopted (an ``env -i setsid``
child, which has no marker) to run on. A keeper needs no sweep: it always ends its tree.

Standard library only and no package imports, so that it starts in a few milliseconds
and :mod:`bisector.score.procs` can import it for :func:`stat_fields`.
"""

from __future__ import annotations

import os
import signal
import sys
import time

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_REAP_LIMIT_S = 10.0
MARKER = "BISECTOR_PROC"  # the environment variable that names who started a process


class _End(Exception):
    """Asked to end everything now (SIGUSR1, or the owner died)."""


def stat_fields(pid: int | str) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (state, ppid, pgrp, session, ...),
    or None when the process is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    return fields if len(fields) > 19 and fields[0] != b"Z" else None


def descendants(root: int) -> list[int]:
    """Every live process below ``root``, by parentage."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = stat_fields(name)
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def end_tree() -> None:
    """Kill every process below us and reap them: what a killed parent orphans comes to us,
    so repeat until no child is left (bounded, for a process stuck in the kernel)."""
    me = os.getpid()
    deadline = time.monotonic() + _REAP_LIMIT_S
    while time.monotonic() < deadline:
        for pid in descendants(me):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.005)


def _prctl(option: int, value: int) -> bool:
    import ctypes  # on use: only on Linux, once per keeper

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _end(signum, frame):
    raise _End()


def _pass(signum, frame):
    """SIGTERM reached the whole group; PROGRAM decides how to stop, we wait for it."""


def main(argv: list[str]) -> int:
    owner, marker, program = int(argv[0]), argv[1], argv[3:]
    for sig in (signal.SIGUSR1, signal.SIGHUP):
        signal.signal(sig, _end)
    signal.signal(signal.SIGTERM, _pass)  # a handler, not SIG_IGN: PROGRAM must not inherit "ignored"
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGUSR1)
    status = None
    try:
        if os.getppid() != owner:  # the owner died before the death signal was set
            raise _End()
        try:
            child = os.posix_spawnp(program[0], program, dict(os.environ, **{MARKER: marker}))
        except OSError as exc:
            print(f"cannot start {program[0]!r}: {exc.strerror or exc}", file=sys.stderr)
            return 127
        while status is None:
            pid, wait_status = os.waitpid(-1, 0)  # adopted orphans are reaped here too
            if pid == child:
                status = os.waitstatus_to_exitcode(wait_status)
    except _End:
        status = -signal.SIGKILL
    finally:
        for sig in (signal.SIGUSR1, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        end_tree()
    if status < 0:  # died of a signal: die of the same one, so the supervisor sees it as such
        if -status != signal.SIGKILL:
            signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
