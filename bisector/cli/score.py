"""``bisector score [COMMIT]``: score one commit and exit with git bisect's codes.

0 good, 1 bad, 125 skip, 128 abort. Every failure of the harness (invalid configuration,
broken reference, a bug of ours) becomes 128, so git bisect stops instead of blaming a
commit. Heavy modules are imported inside the command: git runs this at every step.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import ExitCode, as_reportable, error_lines, exit_code_of
from . import app
from . import options as opt


@app.command("score", cls=opt.Command)
def score(
    commit: Annotated[Optional[str], typer.Argument(
        help="Commit to score (default: BISECT_HEAD during a bisection, else HEAD).")] = None,
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
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Run the candidate even if a cached score exists.")] = False,
    full: opt.Full = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full record as JSON.")] = False,
) -> None:
    """Score one commit against the reference; exit 0 good, 1 bad, 125 skip, 128 abort."""
    overrides = opt.overrides_from(c_bin=c_bin, paths=paths, scenarios=scenario, timeout=timeout,
                                   min_correlation=min_correlation, max_sum_ratio_error=max_sum_ratio_error,
                                   reference=reference, eager=eager)
    try:
        code = _score(commit, repo, config, overrides, no_cache, full, as_json)
    except (KeyboardInterrupt, typer.Exit):
        raise
    except BaseException as exc:  # noqa: BLE001 - anything else must not look like "bad"
        _abort(exc)
        code = exit_code_of(exc, bisect_protocol=True)
    raise typer.Exit(code)


def _score(commit, repo, config_file, overrides, no_cache, full, as_json) -> int:
    from ..api import score as score_one
    from ..report.text import record_lines

    record, cfg = score_one(repo, commit, config_file=config_file, overrides=overrides, use_cache=not no_cache,
                             use_probes=not full)
    for notice in cfg.notices:
        typer.echo(f"bisector: {notice}", err=True)
    typer.echo(record.to_json() if as_json else "\n".join(record_lines(record)))
    if record.error:
        typer.echo(f"bisector: error: {record.error}", err=True)
    return record.exit_code


def _abort(exc: BaseException) -> None:
    for i, line in enumerate(error_lines(as_reportable(exc))):
        typer.secho(line, err=True, fg="red" if i == 0 else None)
    typer.echo(f"abort (exit {int(ExitCode.BISECT_ABORT)})", err=True)
