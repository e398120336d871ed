"""Compare two per-pixel trace logs and name the first quantity that diverges.

A trace line is ``TRACE_<TAG>:`` followed by a quantity, in any of these forms::

    TRACE_C: pix0_vector 0.1 -0.05 0.05       name, then values separated by spaces
    TRACE_C:distance=0.1                      name=value
    TRACE_C:rot=[1 0 0; 0 1 0; 0 0 1]         a matrix, rows separated by ';'
    TRACE_PY: hkl H:1.02 K:2.00 L:-3.01       label:number tokens
    TRACE_PY: convention MOSFLM               text, compared as text

Other lines are ignored. Quantities are aligned by name and occurrence (the second
``F_cell`` of one log meets the second ``F_cell`` of the other), so a trace that prints one
quantity per subpixel still lines up.

Traces are read line by line and aligned as they stream in, so memory stays bounded
whatever their length: a line longer than MAX_LINE_BYTES is not a trace line, at most
MAX_PENDING quantities may wait for their partner in the other log, and only the first
MAX_KEPT divergences are kept (all are counted).
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BisectorError
from ..report.text import shown, table_cell

# Exit codes of `bisector trace-diff` (README): 0 the traces agree, 1 a quantity diverges,
# 2 bad input (missing file, no trace lines, no common names).
AGREE = 0
DIVERGE = 1

MAX_LINE_BYTES = 1 << 16
MAX_PENDING = 200_000
MAX_KEPT = 1000
_SHOWN_LATER = 50

_PREFIX = re.compile(r"^\s*TRACE_(\w+):\s*(.*?)\s*$")
_ASSIGN = re.compile(r"^([^\s=]+)\s*=\s*(.*)$")
_LABELLED = re.compile(r"^([A-Za-z_][\w.]*)[:=](.+)$")

# How a power-of-ten ratio usually arises in this field.
_UNIT_SLIPS = {
    10: "metres vs angstroms",
    9: "metres vs nanometres",
    7: "millimetres vs angstroms",
    6: "metres vs micrometres",
    3: "metres vs millimetres (or radians vs milliradians)",
    2: "a percentage vs a fraction (or centimetres vs metres)",
    1: "nanometres vs angstroms (or centimetres vs millimetres)",
}


@dataclass(frozen=True)
class Value:
    """One quantity's value: numbers (with optional labels) or, failing that, text."""

    numbers: tuple[float, ...] = ()
    labels: tuple[str | None, ...] = ()
    text: str | None = None

    @property
    def is_text(self) -> bool:
        return self.text is not None

    def show(self) -> str:
        if self.is_text:
            return self.text
        parts = [f"{lab}:{num:.10g}" if lab else f"{num:.10g}" for lab, num in zip(self.labels, self.numbers)]
        return " ".join(parts)


@dataclass(frozen=True)
class Entry:
    """A quantity as read from one log: ``occurrence`` counts from 1 per name; ``line`` from 1."""

    name: str
    occurrence: int
    value: Value
    line: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.occurrence)

    def label(self) -> str:
        return self.name if self.occurrence == 1 else f"{self.name}#{self.occurrence}"


@dataclass(frozen=True)
class Divergence:
    """Two values of the same quantity that differ beyond tolerance."""

    first: Entry
    second: Entry
    why: str                    # in words: which component, how far, or why not comparable
    ratio: float | None         # second / first when one factor explains the difference
    power_of_ten: int | None    # k when ratio == 10**k (k != 0)

    def hint(self) -> str | None:
        if self.power_of_ten is None:
            return None
        slip = _UNIT_SLIPS.get(abs(self.power_of_ten), "a unit prefix")
        return f"the ratio is 1e{self.power_of_ten:+d}: a unit slip? ({slip})"


@dataclass
class TraceDiff:
    first_name: str
    second_name: str
    compared: int
    divergences: list[Divergence] = field(default_factory=list)  # the first MAX_KEPT, in the first log's order
    only_first: list[Entry] = field(default_factory=list)
    only_second: list[Entry] = field(default_factory=list)
    rtol: float = 0.0
    atol: float = 0.0
    diverged: int = 0  # how many diverge, kept or not

    @property
    def exit_code(self) -> int:
        return DIVERGE if self.diverged else AGREE


def parse_value(text: str) -> Value:
    """Numbers, a ``[a b; c d]`` matrix, ``label:number`` tokens, or else the text itself."""
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1].replace(";", " ")
    tokens = body.replace(",", " ").split()
    numbers, labels = [], []
    for token in tokens:
        number = _number(token)
        label = None
        if number is None:
            match = _LABELLED.match(token)
            number = _number(match.group(2)) if match else None
            label = match.group(1) if match else None
        if number is None:
            return Value(text=" ".join(text.split()))
        numbers.append(number)
        labels.append(label)
    if not numbers:
        return Value(text=" ".join(text.split()))
    return Value(numbers=tuple(numbers), labels=tuple(labels))


def _number(token: str) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None


def parse_trace(text: str) -> list[Entry]:
    """Every trace quantity of a log, in order; lines that are not trace lines are skipped."""
    return list(_entries(enumerate(text.splitlines(), start=1)))


def _entries(lines: Iterable[tuple[int, str]]) -> Iterator[Entry]:
    seen: dict[str, int] = {}
    for number, line in lines:
        match = _PREFIX.match(line)
        if not match or not match.group(2):
            continue
        rest = match.group(2)
        assign = _ASSIGN.match(rest)
        if assign and " " not in assign.group(1):
            name, value = assign.group(1), assign.group(2)
        else:
            name, _, value = rest.partition(" ")
        name = name.rstrip(":")
        seen[name] = seen.get(name, 0) + 1
        yield Entry(name, seen[name], parse_value(value), number)


def read_trace(path: Path) -> Iterator[Entry]:
    """The trace quantities of the log at ``path``, read as they are needed.

    The file is opened now (a missing file is an error at once); BisectorError later for a
    line too long to be a trace line, or a log without any trace line."""
    path = Path(path)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise BisectorError(f"trace file {path} does not exist", hint="check the path") from None
    except OSError as exc:
        raise BisectorError(f"cannot read trace file {path}: {exc.strerror}") from None
    return _read(fh, path)


def _read(fh, path: Path) -> Iterator[Entry]:
    found = False
    with fh:
        for entry in _entries(_lines(fh, path)):
            found = True
            yield entry
    if not found:
        raise BisectorError(f"{path} holds no trace lines (lines like 'TRACE_C: name value')",
                            hint="trace one pixel, e.g. nanoBragg ... -trace_pixel SLOW FAST > trace.log")


def _lines(fh, path: Path) -> Iterator[tuple[int, str]]:
    """(number, text) of each line, never more than MAX_LINE_BYTES of one in memory."""
    for number in itertools.count(1):
        try:
            raw = fh.readline(MAX_LINE_BYTES + 1)
        except OSError as exc:
            raise BisectorError(f"cannot read trace file {path}: {exc.strerror}") from None
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise BisectorError(f"line {number} of {path} is longer than {MAX_LINE_BYTES} bytes: "
                                "not a trace log", hint="pass the log the program printed with -trace_pixel")
        yield number, raw.decode(errors="replace")


def diff_traces(first: Iterable[Entry], second: Iterable[Entry], *, rtol: float = 1e-6, atol: float = 0.0,
                first_name: str = "first", second_name: str = "second") -> TraceDiff:
    """Align by (name, occurrence) and compare the values; divergences in the first log's order.

    Numbers agree when every component satisfies |a - b| <= atol + rtol * scale, where scale
    is the largest finite magnitude in either vector (so a rounding residue like 6e-17 beside
    components of size 1 is not a divergence); NaN or an infinity against anything else
    diverges, on either side. Both logs are read in step, so memory stays bounded.
    Raises BisectorError for a tolerance that is not a finite number >= 0, when no name is
    shared, or when the logs are too far out of step (MAX_PENDING).
    """
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if not (math.isfinite(tol) and tol >= 0):
            raise BisectorError(f"--{name} must be a finite number >= 0, not {tol!r}", hint="e.g. --rtol 1e-6")
    result = TraceDiff(first_name, second_name, compared=0, rtol=rtol, atol=atol)
    waiting: tuple[dict, dict] = ({}, {})  # entries of each log whose partner has not come yet
    kept: list[tuple[int, int, Divergence]] = []  # max-heap on the first log's line: the earliest MAX_KEPT
    names: tuple[dict, dict] = ({}, {})  # a few names of each log, for the message when none is shared
    for side, entry in _in_step(iter(first), iter(second)):
        if len(names[side]) < 5:
            names[side].setdefault(entry.name, None)
        partner = waiting[1 - side].pop(entry.key, None)
        if partner is None:
            waiting[side][entry.key] = entry
            if len(waiting[0]) + len(waiting[1]) > MAX_PENDING:
                raise BisectorError(f"the traces are out of step by more than {MAX_PENDING} quantities",
                                    hint="trace the same pixel with both programs")
            continue
        a, b = (entry, partner) if side == 0 else (partner, entry)
        result.compared += 1
        divergence = _compare(a, b, rtol, atol)
        if divergence is not None:
            result.diverged += 1
            heapq.heappush(kept, (-a.line, result.diverged, divergence))
            if len(kept) > MAX_KEPT:
                heapq.heappop(kept)
    if not result.compared:
        raise BisectorError(f"the traces share no quantity names ({first_name}: {_some(names[0])}; "
                            f"{second_name}: {_some(names[1])})",
                            hint="trace the same pixel with both programs; names must match exactly")
    result.divergences = [d for _, _, d in sorted(kept, key=lambda k: (-k[0], k[1]))]
    result.only_first = sorted(waiting[0].values(), key=lambda e: e.line)
    result.only_second = sorted(waiting[1].values(), key=lambda e: e.line)
    return result


def _in_step(first: Iterator[Entry], second: Iterator[Entry]) -> Iterator[tuple[int, Entry]]:
    """(0, entry) and (1, entry) alternately from both logs until both are exhausted."""
    sides = [(0, first), (1, second)]
    while sides:
        for pair in list(sides):
            entry = next(pair[1], None)
            if entry is None:
                sides.remove(pair)
            else:
                yield pair[0], entry


def _some(names: dict, n: int = 4) -> str:
    listed = [shown(name) for name in names]
    return ", ".join(listed[:n]) + (", ..." if len(listed) > n else "")


def _compare(a: Entry, b: Entry, rtol: float, atol: float) -> Divergence | None:
    va, vb = a.value, b.value
    if va.is_text or vb.is_text:
        if va.show() == vb.show():
            return None
        return Divergence(a, b, "text differs" if va.is_text and vb.is_text else "number vs text", None, None)
    if len(va.numbers) != len(vb.numbers):
        return Divergence(a, b, f"{len(va.numbers)} vs {len(vb.numbers)} components", None, None)
    if any(x and y and x != y for x, y in zip(va.labels, vb.labels)):
        return Divergence(a, b, "labels differ", None, None)
    # NaN must not become the scale: every comparison with it is false, which hid it.
    scale = max((abs(x) for x in va.numbers + vb.numbers if math.isfinite(x)), default=0.0)
    where = (lambda i: f"component {i + 1}: " if len(va.numbers) > 1 else "")
    for i, (x, y) in enumerate(zip(va.numbers, vb.numbers)):
        if not (math.isfinite(x) and math.isfinite(y)) and not (x == y or (math.isnan(x) and math.isnan(y))):
            return Divergence(a, b, f"{where(i)}{x:g} vs {y:g}", None, None)
    worst, worst_i = 0.0, -1
    for i, (x, y) in enumerate(zip(va.numbers, vb.numbers)):
        gap = abs(x - y) if math.isfinite(x) else 0.0
        if gap > atol + rtol * scale and gap > worst:
            worst, worst_i = gap, i
    if worst_i < 0:
        return None
    ratio = common_ratio(va.numbers, vb.numbers, rtol)
    why = f"{where(worst_i)}|difference| {worst:.4g} (relative {worst / scale:.3g})" if scale else f"{where(worst_i)}differs"
    return Divergence(a, b, why, ratio, power_of_ten(ratio) if ratio is not None else None)


def common_ratio(first: tuple[float, ...], second: tuple[float, ...], rtol: float) -> float | None:
    """second / first when one factor maps every non-zero component (zeros must stay zero)."""
    ratios = []
    for x, y in zip(first, second):
        if x == 0 or y == 0:
            if x != y:
                return None
            continue
        ratios.append(y / x)
    if not ratios:
        return None
    r0 = ratios[0]
    tol = max(rtol, 1e-9) * 10
    return r0 if all(abs(r - r0) <= tol * abs(r0) for r in ratios) else None


def power_of_ten(ratio: float, tol: float = 1e-3) -> int | None:
    """k when |ratio| is 10**k within ``tol`` (relative) and k != 0, else None."""
    if not ratio or not math.isfinite(ratio):
        return None
    k = round(math.log10(abs(ratio)))
    if k == 0 or abs(abs(ratio) / 10.0 ** k - 1) > tol:
        return None
    return k


def report_lines(diff: TraceDiff) -> list[str]:
    """Plain text (valid markdown) for the terminal: the first divergence, then the tables.

    Names and values come from the logs: control characters are shown as ``\\xNN`` (a NUL
    or an escape sequence must not reach the terminal) and table cells are escaped."""
    a, b = shown(diff.first_name), shown(diff.second_name)
    lines = [f"# Trace diff: {a} vs {b}", "",
             f"{diff.compared} quantities compared (rtol {diff.rtol:g}, atol {diff.atol:g}); "
             f"{diff.diverged} diverge; {len(diff.only_first)} only in {a}, "
             f"{len(diff.only_second)} only in {b}.", ""]
    if not diff.divergences:
        lines += ["No quantity diverges beyond tolerance.", ""]
    else:
        d = diff.divergences[0]
        lines += [f"## First divergence: {shown(d.first.label())}", "",
                  f"- {a} (line {d.first.line}): {shown(d.first.value.show())}",
                  f"- {b} (line {d.second.line}): {shown(d.second.value.show())}",
                  f"- {d.why}"]
        if d.ratio is not None:
            lines.append(f"- ratio {b}/{a}: {d.ratio:.10g}")
        if d.hint():
            lines.append(f"- hint: {d.hint()}")
        lines.append("")
        later = diff.divergences[1:_SHOWN_LATER + 1]
        if later:
            lines += ["## Later divergences", "", f"| quantity | {_cell(a)} | {_cell(b)} | ratio | note |",
                      "|---|---|---|---|---|"]
            for d in later:
                ratio = f"{d.ratio:.6g}" if d.ratio is not None else "-"
                note = d.hint() or d.why
                lines.append(f"| {_cell(d.first.label())} | {_cell(d.first.value.show())} | "
                             f"{_cell(d.second.value.show())} | {ratio} | {_cell(note)} |")
            more = diff.diverged - 1 - len(later)
            lines += [f"... and {more} more.", ""] if more else [""]
    for side, entries in ((a, diff.only_first), (b, diff.only_second)):
        if entries:
            listed = ", ".join(shown(e.label()) for e in entries[:_SHOWN_LATER])
            more = f", ... ({len(entries) - _SHOWN_LATER} more)" if len(entries) > _SHOWN_LATER else ""
            lines += [f"## Only in {side}", "", listed + more, ""]
    return lines


def _cell(text: str, limit: int = 60) -> str:
    text = table_cell(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
