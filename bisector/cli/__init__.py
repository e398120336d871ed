"""The typer app: each command lives in its own module and only parses, calls and maps errors.

Each command's engine is imported on use, inside the command: `bisector --help`, a usage
error and `git bisect run bisector score` then load only what they run (0.22 s against
0.45 s with every engine, and matplotlib and distributed cost 0.6 s more each).
"""

from __future__ import annotations

import signal
import sys
from enum import IntEnum
from typing import Annotated

import typer

from ..errors import (BisectorError, DiagnosisExit, NightlyExit, RunExit, ScanExit, ScoreExit, as_reportable,
                      error_lines, exit_code_of)
from .options import Group

app = typer.Typer(
    name="bisector",
    help="Find the commit that broke numerical parity between a PyTorch port and its C reference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"bisector {version('bisector')}")
        except PackageNotFoundError:
            typer.echo("bisector (not installed: version unknown)")
        raise typer.Exit(0)


@app.callback()
def _top(version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                               help="Print bisector's version and exit.")] = False) -> None:
    """Find the commit that broke numerical parity between a PyTorch port and its C reference."""


# Importing the command modules registers their commands on ``app``.
from . import cache, demo, history, narrow, nightly, run, scan, score  # noqa: E402,F401
from . import audit, compare, tracediff, verify  # noqa: E402,F401


# The exit-code vocabulary of each command; every other one (audit, compare, trace-diff,
# verify, history, cache, ...) speaks DiagnosisExit.
VOCABULARIES: dict[str, type[IntEnum]] = {"score": ScoreExit, "run": RunExit, "demo": RunExit,
                                          "scan": ScanExit, "nightly": NightlyExit}
# `kill PID` and a closed terminal must clean up like Ctrl-C does: every `finally` (worktree
# removal, bisect reset, killing candidates) runs on the way out.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def vocabulary_of(argv: list[str]) -> type[IntEnum]:
    """The exit codes of the command ``argv`` names (the top level takes only flags)."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    return VOCABULARIES.get(name, DiagnosisExit)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: every failure becomes a message and an exit code of the command's
    vocabulary, never a traceback; usage errors too (for `score`, 128: git bisect stops)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    vocabulary = vocabulary_of(argv)
    previous = {signum: signal.signal(signum, _interrupt) for signum in _STOP_SIGNALS}
    try:
        code = _run(argv, vocabulary)
    finally:
        for signum, handler in previous.items():  # main() is also called in-process (tests, scripts)
            signal.signal(signum, handler)
    if code == vocabulary.INTERRUPTED:
        typer.secho("bisector: interrupted", err=True)
    return code


def _run(argv: list[str], vocabulary: type[IntEnum]) -> int:
    try:
        result = app(args=argv, prog_name="bisector", standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        return vocabulary.INTERRUPTED
    except typer.Exit as exc:
        return exc.exit_code
    except (Exception, SystemExit) as exc:  # a stray sys.exit() deep down must not look like "bad"
        if _is_usage_error(exc):
            _report_usage_error(exc)
            code = ScoreExit.ABORT if vocabulary is ScoreExit else vocabulary.BAD_INPUT
        else:
            error = as_reportable(exc)
            _print_error(error)
            code = exit_code_of(error, vocabulary)
        if vocabulary is ScoreExit:
            typer.echo(f"abort (exit {int(code)}): git bisect stops here and blames no commit", err=True)
        return code
    return result if isinstance(result, int) else 0


def _is_usage_error(exc: Exception) -> bool:
    # click's exceptions (typer vendors its own click): duck-typed so that we do not
    # depend on where typer keeps them.
    return (not isinstance(exc, BisectorError) and hasattr(exc, "format_message") and hasattr(exc, "show")
            and isinstance(getattr(exc, "exit_code", None), int))


def _report_usage_error(exc: Exception) -> None:
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and getattr(exc, "possibilities", None):
        # "Did you mean" never names a hidden option (an old spelling kept for scripts).
        hidden = {name for param in ctx.command.params if getattr(param, "hidden", False) for name in param.opts}
        exc.possibilities = [name for name in exc.possibilities if name not in hidden]
    message = exc.format_message()
    if "\n" in message.strip():  # a command given no arguments answers with its help
        exc.show()
        return
    command = ctx.command_path if ctx is not None else "bisector"
    _print_error(BisectorError(message.rstrip(".") + ".", hint=f"see `{command} --help`"))


def _print_error(error: BisectorError) -> None:
    for i, line in enumerate(error_lines(error)):
        typer.secho(line, err=True, fg="red" if i == 0 else None)


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


def entry() -> None:
    sys.exit(main())
