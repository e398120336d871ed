"""`bisector history`: the nightly ledger as a table, and the same plot as `scan`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from . import options as opt


@app.command(cls=opt.Command, short_help="The nightly ledger as a table, and its plot.")
def history(
    branch: opt.HistoryBranch = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", min=1, metavar="N", help="Only the last N nights.")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="FILE", help="Also write the timeline plot (PNG) here.")] = None,
    ledger: opt.Ledger = None,
    repo: opt.Repo = None,
) -> int:
    """Print the nightly ledger: commit, date, verdict, metrics per scenario, outcome.

    Exit codes: 0 printed, 2 bad input (no ledger, a plot path that cannot be written),
    4 the ledger cannot be read (left as it is), 70 a bug, 130 interrupted.
    """
    from ..report.nightly_history import configured_thresholds, print_history, save_history_plot
    from ..report.writable import writable_file
    from ..store.ledger import Ledger, default_path
    from .. import git
    from ..errors import BisectorError

    if plot is not None:
        if not plot.suffix:  # the plot is a PNG: say the name it really gets
            plot = plot.with_name(plot.name + ".png")
        plot = writable_file(plot, "--plot", suffixes=(".png",))
    path = ledger or default_path(git.toplevel(Path(repo or ".")))
    if not path.exists():
        raise BisectorError(f"no ledger at {path}", hint="run `bisector nightly` first, or pass --ledger FILE")
    with Ledger(path, read_only=True) as opened:  # reading never creates, upgrades or writes
        nights = opened.nights(branch, limit)
    print_history(nights, path)
    if plot is not None:
        min_correlation, max_sum_ratio_error, notice = configured_thresholds(Path(repo or "."))
        if notice:
            typer.echo(f"note: {notice}", err=True)
        written = save_history_plot(nights, plot, min_correlation, max_sum_ratio_error)
        typer.echo(f"plot: {written}")
    return 0
