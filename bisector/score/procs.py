"""The one way bisector runs an outside program: candidates, setup, the C reference, its build.

Every process started here
- runs in its own session (so its own process group), stdin from /dev/null;
- gets an environment without the GIT_* variables that would point git at the user's
  repository, plus a marker ``BISECTOR_PROC=<owner pid>:<owner start time>:<run id>``;
- streams stdout and stderr to files in a log folder the caller chooses, outside what the
  program may write to; only a tail of them is ever read back, through the descriptors we
  opened, so a program that deletes its own folders cannot take its logs with it, and 800 MB
  of output cost disk but no memory;
- is ended with its whole group on timeout or interrupt, and when it exits every process
  still carrying its marker is killed too: background children, also those that left the
  group with ``setsid``, which a group kill would miss.

Why an environment marker: it survives fork, exec and setsid, needs no privileges (a
user may read /proc/PID/environ of their own processes) and no cgroup delegation. A
process that clears its environment before daemonizing escapes it; on systems without
/proc only the process group is ended.

The owner part of the marker lets a later bisector find orphans of one that was killed
with SIGKILL (:func:`prune_orphans`): a marked process whose owner is gone is ended.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..git import without_repository_env

MARKER = "BISECTOR_PROC"
OWNER_FILE = ".bisector-owner"
TAIL_CHARS = 2000
_TAIL_BYTES = 4 * TAIL_CHARS  # enough bytes for TAIL_CHARS characters of UTF-8
_runs = itertools.count()

@dataclass(frozen=True)
class ProcessResult:
    returncode: int | None  # None when killed for the timeout
    output_tail: str        # stderr tail, or stdout tail when stderr is empty
    seconds: float
    stragglers: int = 0     # processes still running after the program exited, ended by us

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def run(argv: list[str], *, cwd: Path, log_dir: Path, label: str, timeout_s: float | None,
        env: Mapping[str, str] | None = None) -> ProcessResult:
    """Run ``argv`` to its end (or ``timeout_s``), then end everything it left behind.

    ``env``: the environment (default: ours), filtered of GIT_* repository variables.
    Returns status 127 with the reason as output when the program cannot be started.
    Raises OSError when ``log_dir`` cannot hold the logs.
    """
    start = time.monotonic()
    marker = f"{owner_id()}:{next(_runs)}"
    full_env = without_repository_env(os.environ if env is None else env)
    full_env[MARKER] = marker
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{label}.stdout", "w+b") as out, open(log_dir / f"{label}.stderr", "w+b") as err:
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdout=out, stderr=err,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            return ProcessResult(127, f"cannot start {argv[0]!r}: {exc}", time.monotonic() - start)
        returncode: int | None = None
        try:
            returncode = _wait(proc, timeout_s)
        finally:
            # Reached on timeout, on normal exit and on Ctrl-C/SIGTERM alike.
            stragglers = end_run(proc, marker)
        tail = read_tail(err) or read_tail(out)
    return ProcessResult(returncode, tail, time.monotonic() - start, stragglers)


def safe_label(name: str) -> str:
    """``name`` as one plain file name: a scenario called ``../x`` must not write (or delete)
    outside the folder it is given. Names that change get a short hash, so two stay apart."""
    plain = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in name)
    if plain == name and plain:
        return plain
    return f"{plain[:40]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _wait(proc: subprocess.Popen, timeout_s: float | None) -> int | None:
    """The exit status, or None at the deadline; short waits in a loop, so any finite or
    infinite timeout works (one long wait would overflow for huge values)."""
    deadline = None if timeout_s is None or timeout_s == float("inf") else time.monotonic() + timeout_s
    while True:
        remaining = 1.0 if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            return proc.wait(timeout=min(remaining, 1.0))
        except subprocess.TimeoutExpired:
            continue


def end_run(proc: subprocess.Popen, marker: str) -> int:
    """End ``proc``, its group and every process carrying ``marker``; how many processes
    besides ``proc`` were still running."""
    stragglers = kill_marked(lambda value: value == marker, spare=proc.pid)
    try:  # also those that cleared their environment but stayed in the group
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    return stragglers


def kill_marked(match, spare: int | None = None) -> int:
    """SIGKILL every process of ours whose marker value satisfies ``match``; repeat until none
    is left (a process may fork while we look, and a killed owner orphans its children);
    the number of processes killed.

    ``spare``: a pid to leave to the caller (the program itself, killed with its group)."""
    killed: set[int] = set()
    for _ in range(20):
        found = [pid for pid, value in _marked_processes() if match(value) and pid not in (os.getpid(), spare)]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
        _wait_gone(found)
    return len(killed)


def _wait_gone(pids: list[int], timeout_s: float = 2.0) -> None:
    """Until the kernel has ended ``pids`` (a process dies a little after SIGKILL; until then
    its children still look owned)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_start_time(pid) for pid in pids):
        time.sleep(0.005)


def _marked_processes():
    """(pid, marker value) of every readable live process that carries the marker."""
    needle = MARKER.encode() + b"="
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:  # gone meanwhile, or not ours
            continue
        for item in environ.split(b"\0"):
            if item.startswith(needle):
                yield int(name), item[len(needle):].decode(errors="replace")
                break


def read_tail(fh, chars: int = TAIL_CHARS) -> str:
    """The last ``chars`` characters of an open binary log file, stripped."""
    fh.flush()
    size = fh.seek(0, os.SEEK_END)
    fh.seek(max(0, size - _TAIL_BYTES))
    text = fh.read().decode(errors="replace").strip()
    return text if len(text) <= chars and size <= _TAIL_BYTES else "..." + text[-chars:]


# --- owners: who started a marked process or a scratch folder ------------------------------

def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if it is gone.

    With the pid it names one process for good: a reused pid has another start time.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 and fields[0] != b"Z" else None


def owner_id(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid) or '0'}"


def owner_alive(owner: str) -> bool:
    pid, _, start = owner.partition(":")
    if not pid.isdigit():
        return False
    if not os.path.exists("/proc/self/stat"):  # no /proc: trust the pid alone
        try:
            os.kill(int(pid), 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return _start_time(int(pid)) == start


def owned_tempdir(prefix: str) -> Path:
    """A new temp folder that records its owner, so that :func:`prune_orphans` can remove it
    once its owner is gone (a run killed with SIGKILL cleans nothing up itself)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / OWNER_FILE).write_text(owner_id())
    return path


def prune_orphans(temp_root: Path | None = None) -> list[Path]:
    """End processes and remove temp folders left by bisector processes that no longer exist.

    A marked process whose owner is gone is killed (repeatedly, since killing an orphaned
    scorer orphans its candidate in turn); a ``bisector-*`` temp folder whose owner file names
    a dead process is removed. Returns the folders removed.
    """
    kill_marked(lambda value: not owner_alive(value.rpartition(":")[0]))
    root = Path(temp_root or tempfile.gettempdir())
    removed = []
    for folder in root.glob("bisector-*"):
        try:
            owner = (folder / OWNER_FILE).read_text().strip()
        except OSError:
            continue
        if not owner_alive(owner):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
