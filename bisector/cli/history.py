"""`bisector history`: the nightly ledger as a table, and the same plot as `scan`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app


@app.command()
def history(
    branch: Annotated[Optional[str], typer.Option("--branch", help="Only nights of this branch.")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", min=1, help="Only the last N nights.")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also write the timeline plot (PNG) here.")] = None,
    ledger: Annotated[Optional[Path], typer.Option("--ledger", help="The ledger file (default: <git dir>/bisector/ledger.sqlite3).")] = None,
    repo: Annotated[Path, typer.Option("--repo", help="The port's repository.")] = Path("."),
) -> int:
    """Print the nightly ledger: commit, date, verdict, metrics per scenario, outcome."""
    from ..report.nightly_history import print_history, save_history_plot
    from ..store.ledger import Ledger, default_path
    from .. import git
    from ..errors import BisectorError

    path = ledger or default_path(git.toplevel(Path(repo)))
    if not path.exists():
        raise BisectorError(f"no ledger at {path}", hint="run `bisector nightly` first, or pass --ledger FILE")
    with Ledger(path) as opened:
        nights = opened.nights(branch, limit)
    print_history(nights, path)
    if plot is not None:
        save_history_plot(nights, plot)
        typer.echo(f"plot: {plot}")
    return 0
