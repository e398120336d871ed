"""`bisector demo`: generate a port with a realistic history and hunt its first regression."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..demo.history import DEFAULT_SEED
from . import app


@app.command()
def demo(
    dir: Annotated[Optional[Path], typer.Option("--dir", help="Empty or new folder for the port (default: a temp folder).")] = None,
    commits: Annotated[int, typer.Option("--commits", help="Commits in the generated history.")] = 1400,
    size: Annotated[int, typer.Option("--size", help="Benchmark detector pixels per axis.")] = 4096,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated history (same seed, same commits).")] = DEFAULT_SEED,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the generated port (and its report) on disk.")] = False,
) -> int:
    """Generate a PyTorch port of nanoBragg with three injected regressions, then find the first one."""
    from simkernel.cref import BuildError

    from ..demo import run_demo
    from ..errors import BisectorError

    try:
        outcome = run_demo(dir=dir, commits=commits, size=size, seed=seed, keep=keep)
    except BuildError as exc:
        raise BisectorError(f"cannot build the C twin the demo compares against: {exc}",
                            hint="install a C compiler (gcc) and run `bisector demo` again") from None
    raise typer.Exit(0 if outcome.found else 1)
