"""`bisector demo`: generate a port with a realistic history and hunt its first regression."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..demo.port_history import DEFAULT_SEED
from . import app
from . import options as opt
from .options import Command


@app.command(cls=Command, short_help="Generate a port with regressions and hunt one.")
def demo(
    dir: Annotated[Path | None, typer.Option("--dir", help="Empty or new folder for the port (default: <cache>/demo/nbport, replaced by the next demo).")] = None,
    commits: Annotated[int, typer.Option("--commits", help="Commits in the generated history.")] = 1400,
    size: Annotated[int, typer.Option("--size", help="Benchmark detector pixels per axis.")] = 4096,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated history (same seed, same commits).")] = DEFAULT_SEED,
    regression: Annotated[str, typer.Option("--regression", help="Which injected regression to hunt: unit_slip, half_pixel or oversample_norm.")] = "unit_slip",
    compiled: Annotated[bool, typer.Option("--compiled", help="The port wraps its kernel in torch.compile, like real ports (slower when cold).")] = False,
    scan: Annotated[bool, typer.Option("--scan", help="Scan the whole history instead: find all three windows, print the timeline, write the plot.")] = False,
    narrow: opt.Narrow = False,
) -> int:
    """Generate a PyTorch port of nanoBragg with three injected regressions, then hunt one (the first by default)."""
    from simkernel.cref import BuildError

    from ..demo import run_demo
    from ..errors import BisectorError

    try:
        if scan:
            from ..demo.hunt import demo_folder
            from ..demo.scan import run_demo_scan

            scanned = run_demo_scan(dir=demo_folder(dir), commits=commits, size=size, seed=seed, keep=True)
            raise typer.Exit(0 if scanned.found_all else 1)
        outcome = run_demo(dir=dir, commits=commits, size=size, seed=seed, regression=regression,
                           compiled=compiled, narrow=narrow)
    except BuildError as exc:
        raise BisectorError(f"cannot build the C twin the demo compares against: {exc}",
                            hint="install a C compiler (gcc) and run `bisector demo` again") from None
    raise typer.Exit(0 if outcome.found and (outcome.narrowed_right or not narrow) else 1)
