"""The typer app: each command lives in its own module and only parses, calls and maps errors."""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from ..errors import ExitCode, as_reportable, error_lines
from .options import Group

app = typer.Typer(
    name="bisector",
    help="Find the commit that broke numerical parity between a PyTorch port and its C reference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
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


def main(argv: list[str] | None = None) -> int:
    """Console entry point: every failure becomes a message and an exit code, never a traceback."""
    # `kill PID` must clean up like Ctrl-C does: every `finally` (worktree removal, bisect
    # reset, killing candidates) runs on the way out.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = app(args=argv, prog_name="bisector", standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        typer.secho("bisector: interrupted", err=True)
        return ExitCode.INTERRUPTED
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:
        # Usage errors of the underlying click (vendored or not): duck-typed so that we
        # do not depend on where typer keeps its click.
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        error = as_reportable(exc)
        for i, line in enumerate(error_lines(error)):
            typer.secho(line, err=True, fg="red" if i == 0 else None)
        return error.exit_code
    finally:
        signal.signal(signal.SIGTERM, previous)  # main() is also called in-process (tests, scripts)
    return result if isinstance(result, int) else 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


def entry() -> None:
    sys.exit(main())
