"""The nightly ledger for people: a table on the terminal and the timeline plot of `scan`."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ..config import load_config
from ..errors import BisectorError
from ..store.ledger import Night, ScenarioEntry
from .timeline import Plot, Series, save_plot

DEFAULT_MIN_CORRELATION = 0.999
DEFAULT_MAX_SUM_RATIO_ERROR = 5e-3


def _outcome(night: Night) -> str:
    return "interrupted" if night.interrupted else night.outcome or "-"


def print_history(nights: list[Night], path: Path, console: Console | None = None) -> None:
    """The ledger as a table when the terminal is wide enough for every cell whole, else one
    block of short lines per night: no sha, date or metric is ever cut."""
    if console is None:
        console = Console(soft_wrap=False)
        if not console.is_terminal:  # a log file or a pipe: keep every column whole
            console = Console(width=250)
    scenarios = sorted({r.scenario for n in nights for r in n.results})
    table = _table(nights, scenarios, path)
    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if natural <= console.width:
        console.print(table)
    else:
        console.print(Text(f"nightly ledger {path}"))
        for n in nights:
            for line in _block(n, scenarios):
                console.print(line)
    if not nights:
        console.print("no nights recorded yet")


def _table(nights: list[Night], scenarios: list[str], path: Path) -> Table:
    table = Table(title=f"nightly ledger {path}", title_justify="left")
    for column in ("night", "started (UTC)", "branch", "commit", "commit date", "verdict",
                   *(f"{name} corr / ratio" for name in scenarios), "outcome", "culprit"):
        table.add_column(column, no_wrap=True)
    for n in nights:
        by_name = {r.scenario: r for r in n.results}
        table.add_row(str(n.id), _started(n), n.branch, n.tip[:10], (n.tip_date or "")[:10], n.verdict or "-",
                      *(_metrics(by_name.get(name)) for name in scenarios), _outcome(n),
                      n.culprit[:10] if n.culprit else "-")
    return table


def _block(n: Night, scenarios: list[str]) -> list[Text]:
    """One night in lines of at most about 70 characters (longer only for long names)."""
    lines = [Text.assemble((f"night {n.id}", "bold"), f"  {n.branch}  started {_started(n)} UTC"),
             Text(f"  commit {n.tip[:10]} ({(n.tip_date or '-')[:10]})  verdict {n.verdict or '-'}  "
                  f"outcome {_outcome(n)}")]
    if n.culprit:
        lines.append(Text(f"  culprit {n.culprit[:10]}"))
    by_name = {r.scenario: r for r in n.results}
    width = max((len(name) for name in scenarios), default=0)
    for name in scenarios:
        lines.append(Text(f"  {name:<{width}}  {_metrics(by_name.get(name), labelled=True)}"))
    return lines


def _started(n: Night) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(n.started))


def _metrics(r: ScenarioEntry | None, labelled: bool = False) -> str:
    if r is None:
        return "-"
    if r.correlation is None or r.sum_ratio is None:
        return r.verdict
    if labelled:
        return f"{r.verdict:<4}  correlation {r.correlation:.6f}  sum ratio {r.sum_ratio:.4f}"
    return f"{r.correlation:.6f} / {r.sum_ratio:.4f} {r.verdict}"


def save_history_plot(nights: list[Night], path: Path, min_correlation: float = DEFAULT_MIN_CORRELATION,
                      max_sum_ratio_error: float = DEFAULT_MAX_SUM_RATIO_ERROR) -> Path:
    """Correlation and sum ratio per scenario, one step per night, ticks numbered as the table;
    each stretch of consecutive bad nights is one window labelled with its pinned culprit."""
    scenarios = sorted({r.scenario for n in nights for r in n.results})
    series = []
    for name in scenarios:
        corr, ratio = [], []
        for n in nights:
            r = next((r for r in n.results if r.scenario == name), None)
            corr.append(r.correlation if r else None)
            ratio.append(r.sum_ratio if r else None)
        series.append(Series(name, list(range(len(nights))), corr, ratio))
    untestable = [(i, i + 1) for i, n in enumerate(nights) if n.verdict == "skip"]
    plot = Plot(title="nightly ledger", xlabel="night", series=series, min_correlation=min_correlation,
                max_sum_ratio_error=max_sum_ratio_error, windows=bad_windows(nights), untestable=untestable,
                x_end=len(nights), xticks=night_ticks(nights))
    return save_plot(plot, path)


def bad_windows(nights: list[Night]) -> list[tuple[float, float, str]]:
    """Consecutive bad nights as one window (night i spans x i..i+1), labelled with the culprit
    pinned on one of them, else "not pinned"."""
    windows: list[tuple[float, float, str]] = []
    start = None
    for i, n in enumerate([*nights, None]):
        if n is not None and n.verdict == "bad":
            start = i if start is None else start
            continue
        if start is not None:
            culprit = next((m.culprit for m in nights[start:i] if m.culprit), None)
            windows.append((start, i, f"culprit {culprit[:7]}" if culprit else "not pinned"))
            start = None
    return windows


def night_ticks(nights: list[Night], most: int = 20) -> list[tuple[float, str]]:
    """A tick in the middle of each night's step, labelled with its number in the table
    (every k-th night when there are more than ``most``)."""
    every = max(1, -(-len(nights) // most))
    return [(i + 0.5, str(n.id)) for i, n in enumerate(nights) if i % every == 0]


def configured_thresholds(repo: Path) -> tuple[float, float, str | None]:
    """The port's configured thresholds for the plot, and a notice when its configuration
    cannot be read (the defaults are drawn then)."""
    try:
        thresholds = load_config(repo).thresholds
    except BisectorError as exc:
        return (DEFAULT_MIN_CORRELATION, DEFAULT_MAX_SUM_RATIO_ERROR,
                f"the plot draws the default thresholds: {exc.message}")
    return thresholds.min_correlation, thresholds.max_sum_ratio_error, None
