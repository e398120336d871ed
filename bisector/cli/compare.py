"""`bisector compare -- <nanoBragg args>`: two sides on the same arguments, and where they differ."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import app
from . import options as opt


@app.command("compare", cls=opt.Command, short_help="Compare a candidate with a reference on one input.")
def compare(
    args: Annotated[Optional[list[str]], typer.Argument(metavar="ARGS", help="nanoBragg arguments, after -- (without -floatfile).")] = None,
    reference: opt.CompareReference = None,
    candidate: Annotated[Optional[str], typer.Option(
        "--candidate", metavar="COMMIT|simkernel|FILE",
        help="A commit of the port, 'simkernel' or a saved image (default: HEAD).")] = None,
    roi: Annotated[Optional[tuple[int, int, int, int]], typer.Option(
        "--roi", metavar="X0 X1 Y0 Y1", help="Also compare this region (fast, slow pixels, inclusive).")] = None,
    scenario: opt.CompareScenario = None,
    repo: opt.Repo = None,
    config: opt.ConfigFile = None,
    c_bin: opt.CBin = None,
    timeout: opt.Timeout = None,
    eager: opt.Eager = None,
    min_correlation: opt.MinCorrelation = None,
    max_sum_ratio_error: opt.MaxSumRatioError = None,
    peaks: Annotated[int, typer.Option("--peaks", help="How many of the brightest peaks to match.")] = 20,
    radius: Annotated[float, typer.Option("--radius", help="Peaks farther apart than this (pixels) do not match.")] = 2.0,
    report_dir: opt.ReportDir = None,
    ref: Annotated[Optional[str], typer.Option("--ref", hidden=True)] = None,  # the spelling of earlier versions
) -> None:
    """Compare a candidate with a reference on one set of arguments.

    Exit codes: 0 the sides agree, 1 they differ, 2 bad input, 4 a side failed, 70 a bug,
    130 interrupted.
    """
    from ..diagnose.compare import run_compare

    result = run_compare(list(args or []), ref=reference or ref, candidate=candidate, roi=roi, repo=repo,
                         config_file=config, scenario=scenario, report_root=report_dir, peaks=peaks, radius=radius,
                         overrides=opt.overrides_from(c_bin=c_bin, timeout=timeout, min_correlation=min_correlation,
                                                      max_sum_ratio_error=max_sum_ratio_error, eager=eager))
    w = result.whole
    typer.echo(f"{result.candidate.label} vs {result.reference.label}: {w.verdict.value} ({w.reason})")
    typer.echo(f"centre correlation {_f(w.regions.centre_correlation)}, edge correlation "
               f"{_f(w.regions.edge_correlation)}; peaks matched {w.peaks.matched}")
    typer.echo(f"report: {result.report_dir}")
    raise typer.Exit(result.exit_code)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"
