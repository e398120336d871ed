"""`bisector demo`: generate a port with a realistic history and hunt its first regression."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..demo.history import DEFAULT_SEED
from . import app


@app.command()
def demo(
    dir: Annotated[Path | None, typer.Option("--dir", help="Empty or new folder for the port (default: a temp folder).")] = None,
    commits: Annotated[int, typer.Option("--commits", help="Commits in the generated history.")] = 1400,
    size: Annotated[int, typer.Option("--size", help="Benchmark detector pixels per axis.")] = 4096,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated history (same seed, same commits).")] = DEFAULT_SEED,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the generated port (and its report) on disk.")] = False,
    regression: Annotated[str, typer.Option("--regression", help="Which injected regression to hunt: unit_slip, half_pixel or oversample_norm.")] = "unit_slip",
    scan: Annotated[bool, typer.Option("--scan", help="Scan the whole history instead: find all three windows, print the timeline, write the plot.")] = False,
) -> int:
    """Generate a PyTorch port of nanoBragg with three injected regressions, then hunt one (the first by default)."""
    from simkernel.cref import BuildError

    from ..demo import run_demo
    from ..errors import BisectorError

    try:
        if scan:
            from ..demo.scan import run_demo_scan

            scanned = run_demo_scan(dir=dir, commits=commits, size=size, seed=seed, keep=keep)
            raise typer.Exit(0 if scanned.found_all else 1)
        outcome = run_demo(dir=dir, commits=commits, size=size, seed=seed, keep=keep, regression=regression)
    except BuildError as exc:
        raise BisectorError(f"cannot build the C twin the demo compares against: {exc}",
                            hint="install a C compiler (gcc) and run `bisector demo` again") from None
    raise typer.Exit(0 if outcome.found else 1)
