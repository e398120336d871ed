"""`bisector scan`: every window of broken parity along a history, each pinned to one commit."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app
from . import options as opt


@app.command(cls=opt.Command, short_help="Every window of broken parity along a history.")
def scan(
    good: opt.Good,
    bad: opt.Bad = None,
    budget: opt.ScanBudget = None,
    scenario: opt.Scenarios = None,
    jobs: opt.Jobs = 1,
    executor: opt.Executor = None,
    paths: opt.Paths = None,
    repo: opt.Repo = None,
    config: opt.ConfigFile = None,
    c_bin: opt.CBin = None,
    reference: opt.Reference = None,
    timeout: opt.Timeout = None,
    min_correlation: opt.MinCorrelation = None,
    max_sum_ratio_error: opt.MaxSumRatioError = None,
    eager: opt.Eager = None,
    paranoid: opt.Paranoid = None,
    repeats: opt.Repeats = None,
    report_dir: opt.ReportDir = None,
    narrow: opt.Narrow = False,
) -> int:
    """Score each distinct state of GOOD..BAD (first parent), pin every change of verdict, plot the timeline.

    Exit codes: 0 at least one window pinned and confirmed, 1 windows found but none pinned
    and confirmed, 2 bad input, 4 harness failure, 5 no scored state is bad, 70 a bug,
    130 interrupted.
    """
    from ..api import scan_history
    from .console import ConsoleHandler
    from ..errors import BisectorError

    if jobs > 1 and budget is not None:
        raise BisectorError(f"--jobs {jobs} scores every state at once and cannot keep --budget {budget}",
                            hint="drop --budget, or run with --jobs 1")
    overrides = opt.overrides_from(c_bin=c_bin, paths=paths, scenarios=scenario, timeout=timeout,
                                   min_correlation=min_correlation, max_sum_ratio_error=max_sum_ratio_error,
                                   reference=reference, eager=eager, paranoid=paranoid, repeats=repeats)
    result = scan_history(
        repo or Path("."), good, bad, config_file=config, report_root=report_dir, budget=budget, jobs=jobs,
        executor=executor, overrides=overrides, handler=ConsoleHandler(),
    )
    if narrow:
        from ..narrow.api import narrow_hunted

        narrow_hunted(result, config_file=config, overrides=overrides, handler=ConsoleHandler())
    raise typer.Exit(result.exit_code)
