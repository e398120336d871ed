"""Every exit code bisector uses, the error types that carry them, and how an error is reported.

The README's exit-code table is this module. An error the user can fix is a
BisectorError: its message (and hint) is printed on one line, no traceback. Anything
else is a bug of ours: InternalError prints one line and writes the traceback to a
crash log.
"""

from __future__ import annotations

import enum
import os
import time
import traceback
from pathlib import Path


class ExitCode(enum.IntEnum):
    """Exit codes of the commands (`run` and `demo` use 0-4, 70, 130; `score` speaks git bisect's)."""

    FOUND = 0            # run: the culprit (or the candidates bordering it) is named
    NO_CULPRIT = 1       # run: no reproducible culprit (unconfirmed, or outside the relevant paths)
    USAGE = 2            # a mistake in the input: arguments, configuration, repository state
    ENDPOINTS_REFUSED = 3  # the good endpoint is not good, or the bad one not bad
    ABORTED = 4          # the harness, not a commit, stopped the hunt (reference, scoring failure)
    NO_BAD_STATE = 5     # scan (and run on a good tip): no scored state in the range is bad
    INTERNAL = 70        # a bug in bisector (EX_SOFTWARE); the traceback is in a crash log
    INTERRUPTED = 130    # Ctrl-C or SIGTERM, as shells report SIGINT

    # `bisector score` and the scoring step: git bisect's contract.
    GOOD = 0
    BAD = 1
    SKIP = 125
    BISECT_ABORT = 128   # 128 or more makes git bisect run stop instead of blaming a commit

    # `bisector nightly`: what a scheduler acts on.
    NIGHT_GOOD = 0
    REGRESSION_PINNED = 1      # the tip regressed; the culprit is pinned and confirmed
    REGRESSION_NOT_PINNED = 2  # the tip regressed; no confirmed culprit
    TIP_UNTESTABLE = 3         # the tip cannot be tested (setup, import, no output, timeout)
    NIGHT_HARNESS = 4          # the reference, the ledger or bisector failed
    REGRESSION_KNOWN = 6       # the tip is still bad from a pinned regression; nothing new
    NIGHT_USAGE = 64           # bad input (EX_USAGE): 2 means "not pinned" to a scheduler


class BisectorError(Exception):
    """A failure with a message that names what was wrong and what to do.

    The CLI prints ``message`` (and ``hint`` when given) without a traceback and exits
    with ``exit_code``; a command that speaks git bisect's language exits 128 instead.
    """

    exit_code: int = ExitCode.USAGE

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

    exit_code = ExitCode.ABORTED


class HarnessAbort(BisectorError):
    """Scoring failed in the harness (an endpoint, or a step of git bisect run)."""

    exit_code = ExitCode.ABORTED


class EndpointError(BisectorError):
    """The good endpoint is not good or the bad endpoint is not bad; carries the evidence."""

    exit_code = ExitCode.ENDPOINTS_REFUSED


class InternalError(BisectorError):
    """A bug in bisector: one line for the screen, the traceback in ``crash_log``."""

    exit_code = ExitCode.INTERNAL

    def __init__(self, message: str, crash_log: Path | None = None):
        where = f"; traceback in {crash_log}" if crash_log else ""
        super().__init__(f"internal error in bisector: {message}{where}")
        self.crash_log = crash_log

    @classmethod
    def from_exception(cls, exc: BaseException, folder: Path | None = None) -> "InternalError":
        """Write ``exc``'s traceback to a crash log in ``folder`` (else the cache folder)."""
        summary = f"{type(exc).__name__}: {_first_line(str(exc))}".rstrip(": ")
        return cls(summary, write_crash_log(exc, folder))


def exit_code_of(exc: BaseException, *, bisect_protocol: bool = False) -> int:
    """The exit code for ``exc``; under git bisect's protocol every error aborts (128)."""
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if bisect_protocol:
        return ExitCode.BISECT_ABORT
    if isinstance(exc, BisectorError):
        return exc.exit_code
    return ExitCode.INTERNAL


def as_reportable(exc: BaseException, folder: Path | None = None) -> BisectorError:
    """``exc`` as an error with a one-line message: a BisectorError stays, anything else
    becomes an InternalError whose traceback goes to a crash log."""
    if isinstance(exc, BisectorError):
        return exc
    return InternalError.from_exception(exc, folder)


def error_lines(error: BisectorError) -> list[str]:
    """What the screen shows for ``error``: the message, then the hint."""
    lines = [f"bisector: error: {error.message}"]
    if error.hint:
        lines.append(f"  hint: {error.hint}")
    return lines


def write_crash_log(exc: BaseException, folder: Path | None = None) -> Path | None:
    """The traceback of ``exc`` in ``folder``/crash-<stamp>.log; None when nowhere is writable."""
    from .config import default_cache_dir  # config imports this module

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
