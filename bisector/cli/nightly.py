"""`bisector nightly`: for scheduled jobs; score the tip, keep the ledger, hunt a regression."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from . import options as opt


@app.command(cls=opt.Command, short_help="For schedulers: score the tip, hunt a regression.")
def nightly(
    branch: opt.NightlyBranch = None,
    good: opt.NightlyGood = None,
    ledger: opt.Ledger = None,
    report_dir: opt.ReportDir = None,
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
    paranoid: opt.Paranoid = None,
    repeats: opt.Repeats = None,
    # The spelling of earlier versions, kept for scheduled jobs: this exact folder, no stamp.
    out: Annotated[Optional[Path], typer.Option("--out", hidden=True)] = None,
) -> int:
    """Score the tip on every judged scenario, append it to the ledger, hunt and pin a regression.

    Writes summary.md, nightly.json, junit.xml and the hunt's report. Exit codes: 0 all good,
    1 regression found and pinned, 2 bad input, 3 the tip cannot be tested, 4 harness failure
    (reference, ledger, machine), 5 regression found but not pinned, 6 a known regression still
    unfixed (nothing new), 70 a bug, 130 interrupted.
    """
    from ..hunt.nightly import run_nightly
    from .console import ConsoleHandler

    result = run_nightly(repo or Path("."), branch, good, config_file=config, ledger_path=ledger, out_dir=out,
                         report_root=report_dir, handler=ConsoleHandler(),
                         overrides=opt.overrides_from(c_bin=c_bin, paths=paths, scenarios=scenario, timeout=timeout,
                                                      min_correlation=min_correlation,
                                                      max_sum_ratio_error=max_sum_ratio_error,
                                                      reference=reference, eager=eager, paranoid=paranoid,
                                                      repeats=repeats))
    raise typer.Exit(result.exit_code)
