"""`bisector scan`: every window of broken parity along a history, each pinned to one commit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import overrides_from


@app.command()
def scan(
    good: Annotated[str, typer.Option("--good", "-g", help="Where the history starts (scored too).")],
    bad: Annotated[Optional[str], typer.Option("--bad", "-b", help="Where it ends (default: HEAD).")] = None,
    budget: Annotated[Optional[int], typer.Option("--budget", min=2, help="Score at most N distinct states; the stretches left are listed, never guessed.")] = None,
    scenario: Annotated[Optional[list[str]], typer.Option("--scenario", "-s", help="Scenario to judge (repeatable; default: all).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="States scored at once (not with --budget).")] = 1,
    executor: Annotated[Optional[str], typer.Option("--executor", help="local, processes (default for --jobs > 1), dask-local or dask://HOST:PORT.")] = None,
    paths: Annotated[Optional[list[str]], typer.Option("--paths", help="Relevant path (repeatable; default from config or src).")] = None,
    repo: Annotated[Path, typer.Option("--repo", help="The port's repository.")] = Path("."),
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file with the \\[tool.bisector] settings.")] = None,
    c_bin: Annotated[Optional[Path], typer.Option("--c-bin", help="The C reference program (else NB_C_BIN or config).")] = None,
    reference: Annotated[Optional[str], typer.Option("--reference", help="'c' or 'simkernel'.")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Seconds per candidate run.")] = None,
    min_correlation: Annotated[Optional[float], typer.Option("--min-correlation", help="Good needs at least this Pearson correlation (default 0.999).")] = None,
    max_sum_ratio_error: Annotated[Optional[float], typer.Option("--max-sum-ratio-error", help="Good needs |sum_ratio - 1| at most this (default 5e-3).")] = None,
    report_dir: Annotated[Optional[Path], typer.Option("--report-dir", help="Where report bundles go (default ./reports/scan).")] = None,
) -> int:
    """Score each distinct state of GOOD..BAD (first parent), pin every change of verdict, plot the timeline.

    Exit codes: 0 at least one window pinned and confirmed, 1 windows found but none pinned
    and confirmed, 5 no scored state is bad, 2 bad input, 4 harness failure.
    """
    from ..api import scan_history
    from .console import ConsoleHandler
    from ..errors import BisectorError

    if jobs > 1 and budget is not None:
        raise BisectorError(f"--jobs {jobs} scores every state at once and cannot keep --budget {budget}",
                            hint="drop --budget, or run with --jobs 1")
    result = scan_history(
        repo, good, bad, config_file=config, report_root=report_dir, budget=budget, jobs=jobs, executor=executor,
        handler=ConsoleHandler(),
        overrides=overrides_from(c_bin=c_bin, paths=paths, scenarios=scenario, timeout=timeout,
                                 min_correlation=min_correlation, max_sum_ratio_error=max_sum_ratio_error,
                                 reference=reference),
    )
    raise typer.Exit(result.exit_code)
