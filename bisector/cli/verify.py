"""`bisector verify [COMMIT]`: every scenario and the port's own tests at one commit, one table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from . import options as opt


@app.command("verify", cls=opt.Command, short_help="Every scenario and pytest selector at one commit.")
def verify(
    commit: Annotated[Optional[str], typer.Argument(metavar="COMMIT", help="Commit to verify (default: HEAD).")] = None,
    pytest: Annotated[Optional[list[str]], typer.Option(
        "--pytest", metavar="SELECTOR",
        help="A pytest selector of the port to run too (repeatable), e.g. tests/test_geometry.py::test_pix0.")] = None,
    scenario: opt.Scenarios = None,
    repo: opt.Repo = None,
    config: opt.ConfigFile = None,
    c_bin: opt.CBin = None,
    reference: opt.Reference = None,
    timeout: opt.Timeout = None,
    min_correlation: opt.MinCorrelation = None,
    max_sum_ratio_error: opt.MaxSumRatioError = None,
    eager: opt.Eager = None,
    repeats: opt.Repeats = None,
    report_dir: opt.ReportDir = None,
) -> None:
    """Score every configured scenario and run pytest selectors in one private checkout.

    Exit codes: 0 all pass, 1 a check fails, 2 bad input, 4 the reference failed, 70 a bug,
    130 interrupted.
    """
    from ..diagnose.verify import run_verify, table_lines

    result = run_verify(repo or Path("."), commit, pytest=pytest or [], scenarios=scenario, config_file=config,
                        overrides=opt.overrides_from(c_bin=c_bin, scenarios=scenario, timeout=timeout,
                                                     min_correlation=min_correlation,
                                                     max_sum_ratio_error=max_sum_ratio_error,
                                                     reference=reference, eager=eager, repeats=repeats),
                        report_root=report_dir)
    typer.echo("\n".join(table_lines(result)))
    typer.echo(f"report: {result.report_dir}")
    raise typer.Exit(result.exit_code)
