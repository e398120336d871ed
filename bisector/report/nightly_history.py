"""The nightly ledger for people: a table on the terminal and the timeline plot of `scan`."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..store.ledger import Night
from .timeline import Plot, Series, save_plot

DEFAULT_MIN_CORRELATION = 0.999
DEFAULT_MAX_SUM_RATIO_ERROR = 5e-3


def _outcome(night: Night) -> str:
    return "interrupted" if night.interrupted else night.outcome or "-"


def print_history(nights: list[Night], path: Path, console: Console | None = None) -> None:
    if console is None:
        console = Console(soft_wrap=True)
        if not console.is_terminal:  # a log file or a pipe: keep every column whole
            console = Console(width=250)
    scenarios = sorted({r.scenario for n in nights for r in n.results})
    table = Table(title=f"nightly ledger {path}", title_justify="left")
    for column in ("night", "started (UTC)", "branch", "commit", "commit date", "verdict",
                   *scenarios, "outcome", "culprit"):
        table.add_column(column)
    for n in nights:
        by_name = {r.scenario: r for r in n.results}
        cells = []
        for name in scenarios:
            r = by_name.get(name)
            if r is None:
                cells.append("-")
            elif r.correlation is not None and r.sum_ratio is not None:
                cells.append(f"{r.correlation:.6f} / {r.sum_ratio:.4f} {r.verdict}")
            else:
                cells.append(r.verdict)
        table.add_row(str(n.id), time.strftime("%Y-%m-%d %H:%M", time.gmtime(n.started)), n.branch, n.tip[:10],
                      (n.tip_date or "")[:10], n.verdict or "-", *cells, _outcome(n),
                      n.culprit[:10] if n.culprit else "-")
    console.print(table)
    if not nights:
        console.print("no nights recorded yet")


def save_history_plot(nights: list[Night], path: Path, min_correlation: float = DEFAULT_MIN_CORRELATION,
                      max_sum_ratio_error: float = DEFAULT_MAX_SUM_RATIO_ERROR) -> Path:
    """Correlation and sum ratio per scenario, one step per night; bad nights shaded."""
    scenarios = sorted({r.scenario for n in nights for r in n.results})
    series = []
    for name in scenarios:
        corr, ratio = [], []
        for n in nights:
            r = next((r for r in n.results if r.scenario == name), None)
            corr.append(r.correlation if r else None)
            ratio.append(r.sum_ratio if r else None)
        series.append(Series(name, list(range(len(nights))), corr, ratio))
    windows = [(i, i + 1, n.tip[:7]) for i, n in enumerate(nights) if n.verdict == "bad"]
    untestable = [(i, i + 1) for i, n in enumerate(nights) if n.verdict == "skip"]
    plot = Plot(title="nightly ledger", xlabel="night", series=series, min_correlation=min_correlation,
                max_sum_ratio_error=max_sum_ratio_error, windows=windows, untestable=untestable,
                x_end=len(nights))
    return save_plot(plot, path)
