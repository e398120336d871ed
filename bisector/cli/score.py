"""``bisector score [COMMIT]``: score one commit and exit with git bisect's codes.

0 good, 1 bad, 125 skip, 128 abort. Every failure that is not the commit's (a usage error,
an invalid configuration, a broken reference, a bug of ours) becomes 128 in ``cli.main``,
so git bisect stops instead of blaming a commit. Heavy modules are imported inside the
command: git runs this at every step.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import app
from . import options as opt


@app.command("score", cls=opt.Command, short_help="Score one commit (git bisect run bisector score).")
def score(
    commit: Annotated[Optional[str], typer.Argument(
        metavar="COMMIT", help="Commit to score (default: BISECT_HEAD during a bisection, else HEAD).")] = None,
    repo: opt.Repo = None,
    config: opt.ConfigFile = None,
    c_bin: opt.CBin = None,
    reference: opt.Reference = None,
    scenario: opt.Scenarios = None,
    paths: opt.Paths = None,
    timeout: opt.Timeout = None,
    min_correlation: opt.MinCorrelation = None,
    max_sum_ratio_error: opt.MaxSumRatioError = None,
    eager: opt.Eager = None,
    repeats: opt.Repeats = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Run the candidate even if a cached score exists.")] = False,
    full: opt.Full = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full record as JSON.")] = False,
) -> None:
    """Score one commit against the reference.

    Exit codes (git bisect's): 0 good, 1 bad, 125 skip (the commit cannot be tested, or its
    repeated runs leave it unresolved), 128 abort
    (any failure of the harness or of the command line: git bisect stops), 130 interrupted.
    """
    from ..api import score as score_one
    from ..report.text import record_lines

    overrides = opt.overrides_from(c_bin=c_bin, paths=paths, scenarios=scenario, timeout=timeout,
                                   min_correlation=min_correlation, max_sum_ratio_error=max_sum_ratio_error,
                                   reference=reference, eager=eager, repeats=repeats)
    record, cfg = score_one(repo, commit, config_file=config, overrides=overrides, use_cache=not no_cache,
                            use_probes=not full)
    for notice in cfg.notices:
        typer.echo(f"bisector: {notice}", err=True)
    typer.echo(record.to_json() if as_json else "\n".join(record_lines(record)))
    if record.error:
        typer.echo(f"bisector: error: {record.error}", err=True)
    raise typer.Exit(record.exit_code)
