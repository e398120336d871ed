"""`bisector audit [REPORTS_DIR]`: every earlier result, its verdict, and what differs between good and bad."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app


@app.command("audit")
def audit(
    reports: Annotated[Path, typer.Argument(help="Folder holding earlier results (searched recursively).")] = Path("reports"),
    min_correlation: Annotated[float, typer.Option("--min-correlation", min=0.0, max=1.0, help="Good needs at least this correlation.")] = 0.999,
    max_sum_ratio_error: Annotated[float, typer.Option("--max-sum-ratio-error", min=0.0, max=1.0, help="Good needs |sum_ratio - 1| at most this.")] = 5e-3,
    report_dir: Annotated[Optional[Path], typer.Option("--report-dir", help="Where the audit folder goes (default ./reports/audit).")] = None,
) -> None:
    """Write artifact_matrix.md and param_diff.md for the results under REPORTS_DIR (exit 0, or 2 for bad input)."""
    from ..config import Thresholds
    from ..diagnose.audit import open_questions, run_audit

    result = run_audit(reports, thresholds=Thresholds(min_correlation, max_sum_ratio_error), report_root=report_dir)
    a = result.audit
    typer.echo(f"{len(a.runs)} runs: {len(a.of('good'))} good, {len(a.of('bad'))} bad, "
               f"{len(a.of('unknown'))} unknown; {len(a.skipped)} files skipped")
    for question in open_questions(a):
        typer.echo(f"open question: {question}")
    typer.echo(f"report: {result.report_dir}")
