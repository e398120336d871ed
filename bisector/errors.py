"""Every exit code bisector uses, the error types that carry them, and how an error is reported.

The README's exit-code tables are this module: one vocabulary per kind of command, each
its own enum (equal numbers in two vocabularies are different words). An error the user
can fix is a BisectorError: its message (and hint) is printed on one line, no traceback.
Anything else is a bug of ours: InternalError prints one line and writes the traceback to
a crash log.
"""

from __future__ import annotations

import enum
import errno
import os
import time
import traceback
from pathlib import Path

from .cachedir import default_cache_dir


class ScoreExit(enum.IntEnum):
    """`bisector score` and each step of a bisection: git bisect run's contract."""

    GOOD = 0
    BAD = 1
    SKIP = 125          # the commit cannot be tested (setup, import, no output, timeout)
    ABORT = 128         # 128 or more makes git bisect run stop instead of blaming a commit
    INTERRUPTED = 130   # Ctrl-C, SIGTERM or SIGHUP, as shells report SIGINT


class RunExit(enum.IntEnum):
    """`bisector run` and `bisector demo` (a run that goes on as a scan speaks ScanExit)."""

    FOUND = 0              # the culprit (or the candidates bordering it) is named and confirmed
    NO_CULPRIT = 1         # no reproducible culprit (unconfirmed, or outside the relevant paths)
    BAD_INPUT = 2          # arguments, configuration, repository state
    ENDPOINTS_REFUSED = 3  # the good endpoint is not good, or the bad one not bad
    HARNESS = 4            # the harness, not a commit, stopped the hunt (reference, scoring, machine)
    BUG = 70               # a bug in bisector (EX_SOFTWARE); the traceback is in a crash log
    INTERRUPTED = 130


class ScanExit(enum.IntEnum):
    """`bisector scan`, and `run` when it goes on as a scan."""

    PINNED = 0          # at least one window pinned to one commit and confirmed
    NOT_PINNED = 1      # windows found, none pinned and confirmed
    BAD_INPUT = 2
    HARNESS = 4
    NO_BAD_STATE = 5    # no scored state in the range is bad
    BUG = 70
    INTERRUPTED = 130


class NightlyExit(enum.IntEnum):
    """`bisector nightly`: what a scheduler acts on."""

    ALL_GOOD = 0
    PINNED = 1          # the tip regressed; the culprit is pinned and confirmed
    BAD_INPUT = 2
    TIP_UNTESTABLE = 3  # the tip cannot be tested (setup, import, no output, timeout)
    HARNESS = 4         # the reference, the ledger or the machine failed
    NOT_PINNED = 5      # the tip regressed; no confirmed culprit
    KNOWN = 6           # the tip is still bad from a regression pinned on an earlier night; nothing new
    BUG = 70
    INTERRUPTED = 130


class DiagnosisExit(enum.IntEnum):
    """`audit`, `compare`, `trace-diff`, `verify`, `history`, `cache` and the like."""

    OK = 0              # written, the sides agree, every check passes
    FAILS = 1           # the sides disagree, a quantity diverges, a check fails
    BAD_INPUT = 2
    HARNESS = 4         # a side, the reference or the machine failed
    BUG = 70
    INTERRUPTED = 130


VOCABULARIES = (ScoreExit, RunExit, ScanExit, NightlyExit, DiagnosisExit)


class BisectorError(Exception):
    """A failure with a message that names what was wrong and what to do.

    ``exit_code`` is the code in run's vocabulary; the CLI prints ``message`` (and ``hint``
    when given) without a traceback and exits with the code of the same name in the
    command's vocabulary (:func:`exit_code_of`); `score` exits 128 instead.
    """

    exit_code: int = RunExit.BAD_INPUT

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(BisectorError):
    """The configuration (file or flags) is invalid; names the key and what is allowed."""


class GitError(BisectorError):
    """A git command failed or the repository is not in a usable state."""


class ReferenceFailure(BisectorError):
    """The reference (C program or simkernel) could not produce its image."""

    exit_code = RunExit.HARNESS


class HarnessAbort(BisectorError):
    """Scoring failed in the harness (an endpoint, or a step of git bisect run)."""

    exit_code = RunExit.HARNESS


class EndpointError(BisectorError):
    """The good endpoint is not good or the bad endpoint is not bad; carries the evidence."""

    exit_code = RunExit.ENDPOINTS_REFUSED


class MachineFault(BisectorError):
    """The machine failed us (disk full, I/O error, read-only file system): not a bug, not bad input."""

    exit_code = RunExit.HARNESS

    ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})

    @classmethod
    def of(cls, exc: BaseException) -> "MachineFault | None":
        if not isinstance(exc, OSError) or exc.errno not in cls.ERRNOS:
            return None
        where = f" ({exc.filename})" if exc.filename else ""
        return cls(f"the machine failed: {exc.strerror or exc}{where}",
                   hint="free space (or fix the disk) there, then run again")


class InternalError(BisectorError):
    """A bug in bisector: one line for the screen, the traceback in ``crash_log``."""

    exit_code = RunExit.BUG

    def __init__(self, message: str, crash_log: Path | None = None):
        where = f"; traceback in {crash_log}" if crash_log else ""
        super().__init__(f"internal error in bisector: {message}{where}")
        self.crash_log = crash_log

    @classmethod
    def from_exception(cls, exc: BaseException, folder: Path | None = None) -> "InternalError":
        """Write ``exc``'s traceback to a crash log in ``folder`` (else the cache folder)."""
        summary = f"{type(exc).__name__}: {_first_line(str(exc))}".rstrip(": ")
        return cls(summary, write_crash_log(exc, folder))


def exit_code_of(exc: BaseException, vocabulary: type[enum.IntEnum]) -> int:
    """The exit code for ``exc`` in ``vocabulary``; under git bisect's (ScoreExit) every
    error aborts (128), so that git bisect stops instead of blaming a commit.

    An error's code is translated by name (run's HARNESS is nightly's HARNESS); a code the
    command has no word for (an endpoint refusal outside `run`) is a bug of ours.
    """
    if isinstance(exc, KeyboardInterrupt):
        return vocabulary.INTERRUPTED
    if vocabulary is ScoreExit:
        return ScoreExit.ABORT
    if not isinstance(exc, BisectorError):
        return vocabulary.BUG
    return vocabulary.__members__.get(_name_of(exc.exit_code), vocabulary.BUG)


def _name_of(code: int) -> str:
    """The word for ``code``: its own name, or run's for a plain number."""
    if isinstance(code, enum.IntEnum):
        return code.name
    try:
        return RunExit(code).name
    except ValueError:
        return RunExit.BUG.name


def as_reportable(exc: BaseException, folder: Path | None = None) -> BisectorError:
    """``exc`` as an error with a one-line message: a BisectorError stays, anything else
    becomes an InternalError whose traceback goes to a crash log."""
    if isinstance(exc, BisectorError):
        return exc
    return MachineFault.of(exc) or InternalError.from_exception(exc, folder)


def error_lines(error: BisectorError) -> list[str]:
    """What the screen shows for ``error``: the message, then the hint."""
    lines = [f"bisector: error: {error.message}"]
    if error.hint:
        lines.append(f"  hint: {error.hint}")
    return lines


def write_crash_log(exc: BaseException, folder: Path | None = None) -> Path | None:
    """The traceback of ``exc`` in ``folder``/crash-<stamp>.log; None when nowhere is writable."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    for where in (folder, default_cache_dir()):
        if where is None:
            continue
        try:
            Path(where).mkdir(parents=True, exist_ok=True)
            path = Path(where) / f"crash-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8", errors="replace")
            return path
        except OSError:
            continue
    return None


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0][:200] if lines else ""
