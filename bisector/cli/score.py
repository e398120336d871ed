"""``bisector score [COMMIT]``: score one commit and exit with git bisect's codes.

0 good, 1 bad, 125 skip, 128 abort. Every failure of the harness (invalid configuration,
broken reference, a bug of ours) becomes 128, so git bisect stops instead of blaming a
commit. Heavy modules are imported inside the command: git runs this at every step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ExitCode, as_reportable, error_lines, exit_code_of
from . import app


@app.command("score")
def score(
    commit: Annotated[Optional[str], typer.Argument(
        help="Commit to score (default: BISECT_HEAD during a bisection, else HEAD).")] = None,
    repo: Annotated[Optional[Path], typer.Option(
        help="Repository of the port (default: the one containing the current folder).")] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="TOML configuration file (default: bisector.toml or pyproject.toml).")] = None,
    c_bin: Annotated[Optional[Path], typer.Option(
        "--c-bin", help="nanoBragg-compatible C program used as the reference.")] = None,
    scenario: Annotated[Optional[list[str]], typer.Option(
        "--scenario", help="Scenario to judge (repeatable; default: all configured).")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Run the candidate even if a cached score exists.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full record as JSON.")] = False,
) -> None:
    """Score one commit against the reference; exit 0 good, 1 bad, 125 skip, 128 abort."""
    try:
        code = _score(commit, repo, config, c_bin, scenario, no_cache, as_json)
    except (KeyboardInterrupt, typer.Exit):
        raise
    except BaseException as exc:  # noqa: BLE001 - anything else must not look like "bad"
        _abort(exc)
        code = exit_code_of(exc, bisect_protocol=True)
    raise typer.Exit(code)


def _score(commit, repo, config_file, c_bin, scenarios, no_cache, as_json) -> int:
    from ..api import score as score_one
    from ..report.text import record_lines
    from .options import overrides_from

    overrides = overrides_from(c_bin=c_bin, scenarios=scenarios)
    record, cfg = score_one(repo, commit, config_file=config_file, overrides=overrides, use_cache=not no_cache)
    for notice in cfg.notices:
        typer.echo(f"bisector: {notice}", err=True)
    typer.echo(record.to_json() if as_json else "\n".join(record_lines(record)))
    if record.error:
        typer.echo(f"bisector: error: {record.error}", err=True)
    return record.exit_code


def _abort(exc: BaseException) -> None:
    for i, line in enumerate(error_lines(as_reportable(exc))):
        typer.secho(line, err=True, fg="red" if i == 0 else None)
    typer.echo(f"abort (exit {int(ExitCode.BISECT_ABORT)})", err=True)
