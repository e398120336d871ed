"""How score records read as text, and how text from commits is made safe to show.

One scenario in words (``scenario_text``), one line per scored commit (``score_line``),
the table `bisector score` prints (``record_lines``). Commit subjects, authors and paths
are data: ``shown`` makes control characters visible, and the console line is a rich
``Text`` (styles attached, never parsed as markup), so ``[/usr/lib]`` is just text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..score.verdict import Verdict

if TYPE_CHECKING:  # rich is imported by the console paths only, not by the scoring step
    from rich.text import Text

    from ..records import ScenarioResult, ScoreRecord

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_COLOURS = {Verdict.GOOD: "green", Verdict.BAD: "red", Verdict.SKIP: "yellow"}


def shown(text: str | None) -> str:
    """``text`` with control characters (escape sequences, bells) written as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text or "")


def table_cell(text: str) -> str:
    """``text`` safe in one cell of a Markdown table: line breaks become spaces, ``|`` is
    escaped, control characters are shown as ``\\xNN``."""
    return shown(re.sub(r"\r\n|[\r\n]", " ", text)).replace("|", "\\|")


def scenario_text(sc: ScenarioResult) -> str:
    """One scenario's result in words: its metrics when it has an image, else why not."""
    if sc.measured:
        probe = ", by its probe" if sc.via_probe else ""
        return (f"{sc.name}: correlation {sc.correlation:.6f}{spread_text(sc)}, sum_ratio {sc.sum_ratio:.6f} "
                f"({sc.verdict.value}{probe})")
    return f"{sc.name}: {sc.verdict.value} ({last_line(sc.reason) or 'no image'})"


def spread_text(sc: ScenarioResult) -> str:
    """``±0.0003 (n=3, flaky)`` after a repeated scenario's mean correlation ("" for one run):
    the half-width of its confidence interval, the number of runs, whether they disagreed."""
    if sc.runs <= 1 or not sc.spread:
        return ""
    c = sc.spread["correlation"]
    half = (c["upper"] - c["lower"]) / 2 if c.get("upper") is not None and c.get("lower") is not None else float("nan")
    return f"±{half:.1g} (n={sc.runs}{', flaky' if sc.flaky else ''})"


def score_line(label: int | str, record: ScoreRecord, subject: str = "", width: int | None = None) -> Text:
    """The line for one scored commit: label, sha, verdict, each scenario's metrics, subject.

    With a ``width`` (the terminal's), scenarios that do not fit go on indented continuation
    lines and the subject is shortened to what is left: the sha, verdict and metrics are never cut.
    """
    from rich.text import Text  # on use: the scoring step never loads rich

    line = Text(f"  [{label}] {record.commit[:10]} ")
    line.append(f"{record.verdict.value:>5}", style=_COLOURS.get(record.verdict, "magenta"))
    cached = bool(record.scenarios) and all(sc.cached for sc in record.scenarios)
    chunks = [shown(_scenario_brief(sc, show_cached=not cached)) for sc in record.scenarios]
    if cached:
        chunks.append("(cached)")
    column = len(line.plain)
    for chunk in chunks:
        if width is not None and column + 2 + len(chunk) > width and column > 8:
            line.append("\n      ")
            column = 6
        else:
            line.append("  ")
            column += 2
        line.append(chunk)
        column += len(chunk)
    room = 60 if width is None else min(60, width - column - 2)
    if subject and room >= 12:
        text = shown(subject)
        line.append("  ")
        line.append(text if len(text) <= room else text[: room - 1] + "…", style="dim")
    return line


def _scenario_brief(sc: ScenarioResult, show_cached: bool) -> str:
    """``small 0.941524/1.5223 bad``: a scenario's correlation / sum ratio and verdict."""
    flags = (", probe" if sc.via_probe else "") + (", cached" if sc.cached and show_cached else "")
    if sc.measured:
        return f"{sc.name} {sc.correlation:.6f}{spread_text(sc)}/{sc.sum_ratio:.4f} {sc.verdict.value}{flags}"
    return f"{sc.name} {sc.verdict.value}{flags} ({last_line(sc.reason, 50) or 'no image'})"


def record_lines(record: ScoreRecord) -> list[str]:
    """The table `bisector score` prints: one row per scenario, then the verdict."""
    lines = []
    for s in record.scenarios:
        corr = "-" if s.correlation is None else f"{s.correlation:.6f}"
        ratio = "-" if s.sum_ratio is None else f"{s.sum_ratio:.6f}"
        flags = ("cached " if s.cached else "") + ("probe " if s.via_probe else "")
        corr += spread_text(s)
        lines.append(f"{s.name:<12} corr={corr:<9} sum_ratio={ratio:<9} {s.verdict.value:<5} "
                     f"{flags}{s.seconds:.2f}s  {shown(s.reason)}")
    lines.append(f"{record.commit[:12]}: {record.verdict.value} (exit {record.exit_code}, "
                 f"{record.seconds:.2f}s)")
    return lines


def first_reason(record: ScoreRecord) -> str:
    """The first line that says why ``record`` is not simply good or bad."""
    for sc in record.scenarios:
        if sc.reason:
            return first_line(sc.reason)
    return first_line(record.error) or record.verdict.value


def first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else ""


def last_line(text: str | None, limit: int = 120) -> str:
    """The line of a reason that names the error (a traceback ends with it), shortened."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
