"""The one process supervisor: every program bisector starts goes through here.

Candidates, setup, the C reference and its build, pytest in `verify`, and the executors'
worker processes are each started by :func:`start` (or :func:`run`, which also waits,
logs and ends), and each
- runs in its own session (so its own process group), stdin from /dev/null;
- gets an environment without the GIT_* variables that would point git at the user's
  repository, plus a marker ``BISECTOR_PROC=<owner pid>:<owner start time>:<run id>``;
- runs under a keeper (``keeper.py``, Linux): a small parent that is the child subreaper
  of the program's tree, so every process the tree orphans, even one that cleared its
  environment and double-forked into a session of its own (``env -i setsid ...``), is
  adopted by it and killed when the program ends; it also kills the tree when its owner
  dies (SIGKILL of bisector, or a candidate that kills its scoring step);
- is stopped with its whole group (SIGTERM, a grace period, then the keeper ends the tree,
  then SIGKILL), and afterwards a sweep of /proc kills what is left of it by marker,
  process group and session, and every marked process whose owner is gone (a keeper is
  not marked: it ends its own tree when its owner dies, and must not be killed mid-way).

Output goes to files the caller chooses (:func:`run`: a log folder outside what the
program may write to); only a tail is ever read back (:func:`read_tail`), through the
descriptors we opened, so a program that deletes its folders keeps its logs and 800 MB of
output cost disk but no memory.

Scratch folders (``bisector-*`` in the temp folder) carry an owner file; making a new one
removes those whose owner is gone (what a SIGKILLed run leaves), and :func:`prune_orphans`
does the same for folders and processes at the start of a hunt.

Why no cgroup: it needs delegation that most machines (and containers) do not give a
user; the keeper needs none. What escapes: a process that kills its keeper with SIGKILL
after leaving both the group and the environment marker behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..git import without_repository_env
from . import keeper

MARKER = keeper.MARKER
OWNER_FILE = ".bisector-owner"
TAIL_CHARS = 2000
_TAIL_BYTES = 4 * TAIL_CHARS  # enough bytes for TAIL_CHARS characters of UTF-8
KEEPER_STOP_S = 10.0  # how long the keeper may take to kill and reap the tree
_HAS_PROC = os.path.isdir("/proc/self")
_USE_KEEPER = sys.platform.startswith("linux") and _HAS_PROC
_runs = itertools.count()


@dataclass(frozen=True)
class ProcessResult:
    returncode: int | None  # None when killed for the timeout
    output_tail: str        # stderr tail, or stdout tail when stderr is empty
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


class Supervised:
    """A program started by :func:`start`. ``pid`` leads its process group (the keeper's
    pid where there is one); ``marker`` is the value of its environment marker."""

    def __init__(self, popen: subprocess.Popen, marker: str | None, kept: bool):
        self.popen, self.marker, self._kept = popen, marker, kept
        self.pid = popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.popen.wait(timeout)

    def stop(self, grace_s: float = 0.0) -> None:
        """End the program and everything it started; safe to call more than once.

        ``grace_s`` > 0: SIGTERM the group first and give it that long to stop by itself
        (a worker then ends its own candidates); after that, or at once, the keeper kills
        the tree, SIGKILL takes the group, and a sweep of /proc takes what is left.
        """
        if grace_s > 0 and self.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            _until(lambda: not _group_alive(self.pid), grace_s, self.poll)
        if self._kept and self.poll() is None:
            _signal(self.pid, signal.SIGUSR1)
            _until(lambda: self.poll() is not None, KEEPER_STOP_S)
        _signal_group(self.pid, signal.SIGKILL)
        self.popen.wait()
        sweep(self)


def stop_group(popen: subprocess.Popen, grace_s: float = 0.0) -> None:
    """Stop a program that leads its own process group but was started elsewhere (git's
    ``bisect run``) the same way: group, grace, SIGKILL, sweep."""
    Supervised(popen, None, kept=False).stop(grace_s)


def start(argv: list[str], *, cwd: Path, stdout: IO | int, stderr: IO | int,
          env: Mapping[str, str] | None = None) -> Supervised:
    """Start ``argv`` supervised (see the module's docstring); OSError if it cannot start.

    ``env``: the environment (default: ours), filtered of GIT_* repository variables.
    Under a keeper, a program that cannot be executed exits 127 with the reason on stderr.
    """
    marker = f"{owner_id()}:{next(_runs)}"
    full_env = without_repository_env(os.environ if env is None else env)
    full_env.pop(MARKER, None)
    if _USE_KEEPER:  # the keeper marks the program, not itself (see keeper.py)
        command = [sys.executable, "-I", "-S", keeper.__file__, str(os.getpid()), marker, "--", *argv]
    else:
        command, full_env[MARKER] = list(argv), marker
    popen = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=stdout, stderr=stderr,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    return Supervised(popen, marker, _USE_KEEPER)


def run(argv: list[str], *, cwd: Path, log_dir: Path, label: str, timeout_s: float | None,
        env: Mapping[str, str] | None = None) -> ProcessResult:
    """Run ``argv`` to its end (or ``timeout_s``), then end everything it left behind.

    Returns status 127 with the reason as output when the program cannot be started.
    Raises OSError when ``log_dir`` cannot hold the logs.
    """
    started = time.monotonic()
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{label}.stdout", "w+b") as out, open(log_dir / f"{label}.stderr", "w+b") as err:
        try:
            child = start(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        except OSError as exc:
            return ProcessResult(127, f"cannot start {argv[0]!r}: {exc.strerror or exc}",
                                 time.monotonic() - started)
        returncode: int | None = None
        try:
            returncode = _wait(child, timeout_s)
        finally:
            child.stop()  # on timeout, on normal exit and on Ctrl-C/SIGTERM alike
        tail = read_tail(err) or read_tail(out)
    return ProcessResult(returncode, tail, time.monotonic() - started)


def _wait(child: Supervised, timeout_s: float | None) -> int | None:
    """The exit status, or None at the deadline; short waits in a loop, so any finite or
    infinite timeout works (one long wait would overflow for huge values)."""
    deadline = None if timeout_s is None or timeout_s == float("inf") else time.monotonic() + timeout_s
    with exit_waiter(child) as wait_up_to:
        while True:
            remaining = 1.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return None
            wait_up_to(min(remaining, 1.0))
            if child.poll() is not None:
                return child.returncode


@contextlib.contextmanager
def exit_waiter(proc: subprocess.Popen | Supervised) -> Iterator[Callable[[float], None]]:
    """A function that blocks until ``proc`` exits or the seconds given pass.

    Popen.wait(timeout) polls with sleeps of up to 50 ms, which every candidate run would
    pay (about 25 ms on average); a pidfd (Linux 5.3) wakes us the moment the process exits.
    Where there is none, Popen.wait it is."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        yield lambda seconds: _popen_wait(proc, seconds)
        return
    try:
        yield lambda seconds: select.select([fd], [], [], seconds)
    finally:
        os.close(fd)


def _popen_wait(proc: subprocess.Popen | Supervised, seconds: float) -> None:
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def _until(done: Callable[[], bool], timeout_s: float, poll: Callable[[], object] = lambda: None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        poll()
        if done():
            return True
        time.sleep(0.02)
    return done()


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


# --- sweeping: what is left after a program ended ------------------------------------------

@dataclass(frozen=True)
class _Seen:
    pid: int
    group: int
    session: int
    marker: str | None  # None: unmarked, or an environment we may not read


def sweep(child: Supervised | None = None) -> int:
    """Kill what ``child`` left behind (its marker, group or session) and every marked
    process whose owner is gone; how many processes were killed."""
    def stray(seen: _Seen) -> bool:
        if child is not None and ((child.marker and seen.marker == child.marker)
                                  or child.pid in (seen.group, seen.session)):
            return True
        return seen.marker is not None and not owner_alive(seen.marker.rpartition(":")[0])
    return _kill_all(stray)


def _kill_all(match: Callable[[_Seen], bool]) -> int:
    """SIGKILL every process that ``match``es, repeating until none is left (a process may
    fork while we look, and a killed owner orphans its children); how many were killed."""
    killed: set[int] = set()
    me = os.getpid()
    for _ in range(20):
        found = [s.pid for s in _processes() if s.pid != me and match(s)]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
        # The kernel ends a process a little after SIGKILL; until then its children look owned.
        _until(lambda: not any(keeper.stat_fields(pid) for pid in found), 2.0)
    return len(killed)


def _processes() -> Iterator[_Seen]:
    """Every live process we can see, with its group, session and marker."""
    if not _HAS_PROC:
        return
    needle = MARKER.encode() + b"="
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = keeper.stat_fields(name)
        if fields is None:
            continue
        marker = None
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:  # gone meanwhile, or not ours
            environ = b""
        for item in environ.split(b"\0"):
            if item.startswith(needle):
                marker = item[len(needle):].decode(errors="replace")
                break
        yield _Seen(int(name), int(fields[2]), int(fields[3]), marker)


def read_tail(fh, chars: int = TAIL_CHARS) -> str:
    """The last ``chars`` characters of an open binary log file, stripped."""
    fh.flush()
    size = fh.seek(0, os.SEEK_END)
    fh.seek(max(0, size - _TAIL_BYTES))
    text = fh.read().decode(errors="replace").strip()
    return text if len(text) <= chars and size <= _TAIL_BYTES else "..." + text[-chars:]


def safe_label(name: str) -> str:
    """``name`` as one plain file name: a scenario called ``../x`` must not write (or delete)
    outside the folder it is given. Names that change get a short hash, so two stay apart."""
    plain = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in name)
    if plain == name and plain:
        return plain
    return f"{plain[:40]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


# --- owners: who started a marked process or a scratch folder ------------------------------

def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if it is gone.

    With the pid it names one process for good: a reused pid has another start time.
    """
    fields = keeper.stat_fields(pid)
    return fields[19].decode() if fields is not None else None


def owner_id(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid) or '0'}"


def owner_alive(owner: str) -> bool:
    pid, _, start = owner.partition(":")
    if not pid.isdigit():
        return False
    if not _HAS_PROC:  # trust the pid alone
        try:
            os.kill(int(pid), 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return _start_time(int(pid)) == start


def owned_tempdir(prefix: str) -> Path:
    """A new temp folder ``<prefix>*`` (prefix ``bisector-...``) that records its owner.

    Making one first removes the folders beside it whose owner is gone: a run killed with
    SIGKILL cleans nothing up itself, the next one does."""
    root = Path(tempfile.gettempdir())
    _prune_folders(root)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    (path / OWNER_FILE).write_text(owner_id())
    return path


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """:func:`owned_tempdir` for a ``with`` block: removed when the block ends."""
    path = owned_tempdir(prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def prune_orphans(temp_root: Path | None = None) -> list[Path]:
    """End processes and remove temp folders left by bisector processes that no longer exist.

    A marked process whose owner is gone is killed (repeatedly, since killing an orphaned
    scorer orphans its candidate in turn); a ``bisector-*`` temp folder whose owner file
    names a dead process is removed. Returns the folders removed.
    """
    sweep()
    return _prune_folders(Path(temp_root or tempfile.gettempdir()))


def _prune_folders(root: Path) -> list[Path]:
    removed = []
    try:
        folders = list(root.glob("bisector-*"))
    except OSError:
        return removed
    for folder in folders:
        try:
            owner = (folder / OWNER_FILE).read_text().strip()
        except OSError:  # not ours, or its owner has not named itself yet
            continue
        # Empty: its owner made the file and is writing its name this instant (another
        # bisector's sweep once removed a live reference's folder in that gap).
        if owner and not owner_alive(owner):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
