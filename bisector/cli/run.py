"""`bisector run`: bisect a port's history against its C reference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import overrides_from


@app.command()
def run(
    good: Annotated[str, typer.Option("--good", "-g", help="A commit whose image matches the reference.")],
    bad: Annotated[Optional[str], typer.Option("--bad", "-b", help="A commit whose image does not (default: HEAD).")] = None,
    scenario: Annotated[Optional[list[str]], typer.Option("--scenario", "-s", help="Scenario to judge (repeatable; default: all).")] = None,
    paths: Annotated[Optional[list[str]], typer.Option("--paths", help="Relevant path (repeatable; default from config or src).")] = None,
    repo: Annotated[Path, typer.Option("--repo", help="The port's repository.")] = Path("."),
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file with the \\[tool.bisector] settings.")] = None,
    c_bin: Annotated[Optional[Path], typer.Option("--c-bin", help="The C reference program (else NB_C_BIN or config).")] = None,
    reference: Annotated[Optional[str], typer.Option("--reference", help="'c' or 'simkernel'.")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Seconds per candidate run.")] = None,
    min_correlation: Annotated[Optional[float], typer.Option("--min-correlation", help="Good needs at least this Pearson correlation (default 0.999).")] = None,
    max_sum_ratio_error: Annotated[Optional[float], typer.Option("--max-sum-ratio-error", help="Good needs |sum_ratio - 1| at most this (default 5e-3).")] = None,
    report_dir: Annotated[Optional[Path], typer.Option("--report-dir", help="Where report bundles go (default ./reports/bisect).")] = None,
    keep_worktree: Annotated[bool, typer.Option("--keep-worktree", help="Leave the private worktree for inspection.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Commits scored at once per round (multisection; 1: git bisect run).")] = 1,
    executor: Annotated[Optional[str], typer.Option("--executor", help="local, processes (default for --jobs > 1), dask-local or dask://HOST:PORT.")] = None,
) -> int:
    """Find the commit that broke parity: endpoints first, then git bisect, then a fresh confirmation."""
    from ..api import run_bisect

    result = run_bisect(
        repo, good, bad, config_file=config, report_root=report_dir, keep_worktree=keep_worktree,
        jobs=jobs, executor=executor,
        overrides=overrides_from(c_bin=c_bin, paths=paths, scenarios=scenario, timeout=timeout,
                                 min_correlation=min_correlation, max_sum_ratio_error=max_sum_ratio_error,
                                 reference=reference),
    )
    raise typer.Exit(result.exit_code)
