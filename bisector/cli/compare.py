"""`bisector compare -- <nanoBragg args>`: two sides on the same arguments, and where they differ."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import overrides_from


@app.command("compare")
def compare(
    args: Annotated[Optional[list[str]], typer.Argument(help="nanoBragg arguments, after -- (without -floatfile).")] = None,
    ref: Annotated[Optional[str], typer.Option("--ref", help="'c', 'simkernel' or a saved image (.npy/.bin); default: the configured reference.")] = None,
    candidate: Annotated[Optional[str], typer.Option("--candidate", help="A commit of the port, 'simkernel' or a saved image (default: HEAD).")] = None,
    roi: Annotated[Optional[tuple[int, int, int, int]], typer.Option("--roi", help="X0 X1 Y0 Y1: also compare this region (fast, slow pixels, inclusive).")] = None,
    scenario: Annotated[Optional[str], typer.Option("--scenario", help="Use a configured scenario's arguments instead of args.")] = None,
    repo: Annotated[Optional[Path], typer.Option("--repo", help="The port's repository (default: the current one).")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file with the \\[tool.bisector] settings.")] = None,
    c_bin: Annotated[Optional[Path], typer.Option("--c-bin", help="The C program for --ref c (else NB_C_BIN or config).")] = None,
    peaks: Annotated[int, typer.Option("--peaks", help="How many of the brightest peaks to match.")] = 20,
    radius: Annotated[float, typer.Option("--radius", help="Peaks farther apart than this (pixels) do not match.")] = 2.0,
    report_dir: Annotated[Optional[Path], typer.Option("--report-dir", help="Where report folders go (default ./reports/compare).")] = None,
) -> None:
    """Compare a candidate with a reference on one set of arguments (exit 0 agree, 1 differ, 2 bad input, 4 a side failed)."""
    from ..diagnose.compare import run_compare

    result = run_compare(list(args or []), ref=ref, candidate=candidate, roi=roi, repo=repo, config_file=config,
                         overrides=overrides_from(c_bin=c_bin), scenario=scenario, report_root=report_dir,
                         peaks=peaks, radius=radius)
    w = result.whole
    typer.echo(f"{result.candidate.label} vs {result.reference.label}: {w.verdict.value} ({w.reason})")
    typer.echo(f"centre correlation {_f(w.regions.centre_correlation)}, edge correlation "
               f"{_f(w.regions.edge_correlation)}; peaks matched {w.peaks.matched}")
    typer.echo(f"report: {result.report_dir}")
    raise typer.Exit(result.exit_code)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"
