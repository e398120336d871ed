"""The typer app: each command lives in its own module and only parses, calls and maps errors."""

from __future__ import annotations

import sys

import typer

from ..errors import BisectorError
from ..verdict import INTERRUPTED_EXIT

app = typer.Typer(
    name="bisector",
    help="Find the commit that broke numerical parity between a PyTorch port and its C reference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Importing the command modules registers their commands on ``app``.
from . import demo, run, score  # noqa: E402,F401


def main(argv: list[str] | None = None) -> int:
    """Console entry point: user mistakes become a message and an exit code, never a traceback."""
    try:
        app(args=argv, standalone_mode=False)
    except BisectorError as exc:
        typer.secho(f"bisector: error: {exc.message}", err=True, fg="red")
        if exc.hint:
            typer.secho(f"  hint: {exc.hint}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.secho("bisector: interrupted", err=True)
        return INTERRUPTED_EXIT
    except SystemExit as exc:  # typer.Exit in standalone_mode=False arrives as its code
        return exc.code if isinstance(exc.code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:  # click usage errors etc.
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            return INTERRUPTED_EXIT
        raise
    return 0


def entry() -> None:
    sys.exit(main())
