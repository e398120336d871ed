"""`bisector audit [REPORTS_DIR]`: every earlier result, its verdict, and what differs between good and bad."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import app
from . import options as opt


@app.command("audit", cls=opt.Command, short_help="What earlier results say, what differs good vs bad.")
def audit(
    reports: Annotated[Path, typer.Argument(metavar="REPORTS_DIR", help="Folder holding earlier results (searched recursively).")] = Path("reports"),
    min_correlation: opt.MinCorrelation = None,
    max_sum_ratio_error: opt.MaxSumRatioError = None,
    report_dir: opt.ReportDir = None,
) -> None:
    """Write artifact_matrix.md and param_diff.md for the results under REPORTS_DIR.

    Exit codes: 0 reports written, 2 bad input, 70 a bug, 130 interrupted.
    """
    from ..diagnose.audit import open_questions, run_audit

    result = run_audit(reports, thresholds=opt.thresholds_from(min_correlation, max_sum_ratio_error),
                       report_root=report_dir)
    a = result.audit
    typer.echo(f"{len(a.runs)} runs: {len(a.of('good'))} good, {len(a.of('bad'))} bad, "
               f"{len(a.of('unknown'))} unknown; {len(a.skipped)} files skipped")
    for question in open_questions(a):
        typer.echo(f"open question: {question}")
    typer.echo(f"report: {result.report_dir}")
