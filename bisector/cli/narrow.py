"""`bisector narrow [CULPRIT]`: the hunks of a culprit that break parity (delta debugging)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from . import app
from . import options as opt


class Granularity(str, Enum):
    hunks = "hunks"
    lines = "lines"


GranularityOption = Annotated[Granularity, typer.Option(
    "--granularity", help="hunks: each hunk of git diff; lines: each run of changed lines within a hunk.")]


@app.command(cls=opt.Command, short_help="The hunks of a culprit that break parity (ddmin).")
def narrow(
    culprit: Annotated[Optional[str], typer.Argument(
        help="Commit to narrow (default: the confirmed culprit of the last `run` in --report-dir, default "
             "./reports/bisect; it is narrowed into that run's report folder).")] = None,
    parent: Annotated[Optional[str], typer.Option(
        "--parent", "-p", help="Narrow against this commit instead of the first parent (a merge, a fix window).")] = None,
    budget: opt.NarrowBudget = 24,
    granularity: GranularityOption = Granularity.hunks,
    scenario: opt.Scenarios = None,
    paths: opt.Paths = None,
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
) -> int:
    """Find the hunks of CULPRIT that break parity (delta debugging, ddmin).

    Subsets of its diff are applied to the parent in a private scratch repository and scored like a hunt's commits; the minimal set is confirmed on the full scenarios, and the culprit without it is scored when the budget allows. A fix (parent bad, commit good) is narrowed to the hunks that restore parity.

    Exit codes: 0 isolated, 1 not isolated (the hunks interact as a whole, the rest still breaks parity, the budget ran out, or the commit changes no verdict), 2 bad input, 4 harness failure, 70 a bug, 130 interrupted.
    """
    from ..narrow.api import Settings, narrow as narrow_one
    from .console import ConsoleHandler

    result = narrow_one(
        repo, culprit, parent=parent, settings=Settings(budget=budget, granularity=granularity.value),
        config_file=config, report_root=report_dir, handler=ConsoleHandler(),
        overrides=opt.overrides_from(c_bin=c_bin, paths=paths, scenarios=scenario, timeout=timeout,
                                     min_correlation=min_correlation, max_sum_ratio_error=max_sum_ratio_error,
                                     reference=reference, eager=eager, repeats=repeats))
    raise typer.Exit(result.exit_code)
