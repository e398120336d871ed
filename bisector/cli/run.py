"""`bisector run`: bisect a port's history against its C reference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from . import options as opt


@app.command(cls=opt.Command)
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
    report_dir: Annotated[Optional[Path], typer.Option("--report-dir", help="Where report bundles go (default ./reports/bisect).")] = None,
    keep_worktree: Annotated[bool, typer.Option("--keep-worktree", help="Leave the private repository for inspection.")] = False,
    eager: opt.Eager = None,
    paranoid: Annotated[Optional[bool], typer.Option("--paranoid/--no-paranoid", help="Confirm each side of the culprit with two fresh runs instead of reusing this hunt's fresh results (config: paranoid).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Commits scored at once per round (multisection; 1: git bisect run).")] = 1,
    executor: Annotated[Optional[str], typer.Option("--executor", help="local, processes (default for --jobs > 1), dask-local or dask://HOST:PORT.")] = None,
) -> int:
    """Find the commit that broke parity: endpoints first, then git bisect, then a fresh confirmation."""
    from ..api import run_bisect
    from .console import ConsoleHandler

    result = run_bisect(
        repo or Path("."), good, bad, config_file=config, report_root=report_dir, keep_worktree=keep_worktree,
        jobs=jobs, executor=executor, handler=ConsoleHandler(),
        overrides=opt.overrides_from(c_bin=c_bin, paths=paths, scenarios=scenario, timeout=timeout,
                                     min_correlation=min_correlation, max_sum_ratio_error=max_sum_ratio_error,
                                     reference=reference, eager=eager, paranoid=paranoid),
    )
    raise typer.Exit(result.exit_code)
