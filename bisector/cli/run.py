"""`bisector run`: bisect a port's history against its C reference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import app
from . import options as opt


@app.command(cls=opt.Command, short_help="Find the commit that broke parity, and confirm it.")
def run(
    good: opt.Good,
    bad: opt.Bad = None,
    scenario: opt.Scenarios = None,
    paths: opt.Paths = None,
    repo: opt.Repo = None,
    config: opt.ConfigFile = None,
    c_bin: opt.CBin = None,
    reference: opt.Reference = None,
    timeout: opt.Timeout = None,
    min_correlation: opt.MinCorrelation = None,
    max_sum_ratio_error: opt.MaxSumRatioError = None,
    report_dir: opt.ReportDir = None,
    keep_worktree: Annotated[bool, typer.Option("--keep-worktree", help="Leave the private repository for inspection.")] = False,
    eager: opt.Eager = None,
    paranoid: opt.Paranoid = None,
    repeats: opt.Repeats = None,
    jobs: opt.Jobs = 1,
    executor: opt.Executor = None,
    narrow: opt.Narrow = False,
) -> int:
    """Find the commit that broke parity: endpoints first, then git bisect, then a fresh confirmation.

    Exit codes: 0 culprit found and confirmed, 1 no reproducible culprit, 2 bad input,
    3 endpoints refused, 4 harness failure, 70 a bug, 130 interrupted. On a tip that is good
    again (no --bad) the run goes on as a scan and exits with scan's codes.
    """
    from ..api import run_bisect
    from .console import ConsoleHandler

    overrides = opt.overrides_from(c_bin=c_bin, paths=paths, scenarios=scenario, timeout=timeout,
                                   min_correlation=min_correlation, max_sum_ratio_error=max_sum_ratio_error,
                                   reference=reference, eager=eager, paranoid=paranoid, repeats=repeats)
    result = run_bisect(
        repo or Path("."), good, bad, config_file=config, report_root=report_dir, keep_worktree=keep_worktree,
        jobs=jobs, executor=executor, overrides=overrides, handler=ConsoleHandler(),
    )
    if narrow:
        from ..narrow.api import narrow_hunted

        narrow_hunted(result, config_file=config, overrides=overrides, handler=ConsoleHandler())
    raise typer.Exit(result.exit_code)
