"""The search behind `bisector scan`: every change of verdict along a history, as pure functions.

The history is a list of :class:`Run` (maximal stretches of first-parent commits whose
relevant trees are equal, oldest first). Two adjacent runs differ by exactly one commit,
the first commit of the later run, so once both are judged a change of verdict between
them is pinned to that commit. ``search`` decides which runs to judge through an injected
``judge(key) -> Verdict`` (scoring in production, a list lookup in tests); ``timeline``
turns the verdicts into windows, candidate ranges and stretches left unscored.

Runs that share a tree key (a fix that restores an earlier tree) are judged once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from ..score.verdict import Verdict

Judge = Callable[[Hashable], Verdict]


@dataclass(frozen=True)
class Run:
    """A maximal stretch of consecutive first-parent commits with one relevant state."""

    key: Hashable                # the relevant tree ids
    commits: tuple[str, ...]     # oldest first; commits[0] is the commit that made this state

    @property
    def first(self) -> str:
        return self.commits[0]

    @property
    def last(self) -> str:
        return self.commits[-1]


def runs_of(commits: list[str], keys: dict[str, Hashable]) -> list[Run]:
    """Group ``commits`` (oldest first) into maximal runs of equal ``keys[commit]``."""
    runs: list[Run] = []
    stretch: list[str] = []
    for sha in commits:
        if stretch and keys[sha] != keys[stretch[0]]:
            runs.append(Run(keys[stretch[0]], tuple(stretch)))
            stretch = []
        stretch.append(sha)
    if stretch:
        runs.append(Run(keys[stretch[0]], tuple(stretch)))
    return runs


def distinct_keys(runs: list[Run]) -> int:
    return len({r.key for r in runs})


# -- the search ------------------------------------------------------------------------------

@dataclass
class Search:
    """Verdicts per run index, in the order the search asked for them."""

    runs: list[Run]
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    judged_keys: list[Hashable] = field(default_factory=list)   # distinct keys, in judging order

    @property
    def complete(self) -> bool:
        return len(self.verdicts) == len(self.runs)


def search(runs: list[Run], judge: Judge, budget: int | None = None,
           on_judged: Callable[[int, Verdict], None] | None = None,
           free: Callable[[Hashable], bool] = lambda key: False) -> Search:
    """Judge runs until every one is known or ``budget`` costly judgements were made.

    Order: both ends first; then the middle of a stretch known to hold a change of verdict
    (a binary search pins it); then the middle of the longest stretch between equal verdicts
    (it may hide a whole window). Without a budget every run is judged, so no window of any
    length is missed; with one, the stretches left unjudged are reported, never guessed.
    A key for which ``free(key)`` holds (a verdict already in the cache) costs no budget:
    once the budget is spent, every free key left is still judged, and nothing else.
    An ABORT from ``judge`` is not a verdict about the code: it is raised to the caller
    by ``judge`` itself.
    """
    result = Search(runs)
    memo: dict[Hashable, Verdict] = {}
    spent = 0
    while not result.complete:
        index = _next_index(result)
        if budget is not None and spent >= budget:
            index = _next_free(result, memo, free, index)
            if index is None:
                break
        key = runs[index].key
        if key not in memo:
            spent += not free(key)
            memo[key] = judge(key)
            result.judged_keys.append(key)
        result.verdicts[index] = memo[key]
        # Every other run with this key is now known for free.
        for other, run in enumerate(runs):
            if run.key == key:
                result.verdicts.setdefault(other, memo[key])
        if on_judged is not None:
            on_judged(index, memo[key])
    return result


def _next_free(result: Search, memo: dict, free: Callable[[Hashable], bool], preferred: int) -> int | None:
    """With the budget spent: ``preferred`` if judging it costs nothing, else the first such run."""
    def costless(i: int) -> bool:
        return i not in result.verdicts and (result.runs[i].key in memo or free(result.runs[i].key))

    if costless(preferred):
        return preferred
    return next((i for i in range(len(result.runs)) if costless(i)), None)


def _next_index(result: Search) -> int:
    n = len(result.runs)
    for end in (0, n - 1):
        if end not in result.verdicts:
            return end
    gaps = _gaps(result.verdicts, n)
    changing = [g for g in gaps if g.left is not None and g.right is not None and g.left != g.right]
    if changing:
        gap = changing[0]
    else:
        gap = max(gaps, key=lambda g: (g.stop - g.start, -g.start))
    return (gap.start + gap.stop - 1) // 2


@dataclass(frozen=True)
class _Gap:
    start: int                 # first unjudged index
    stop: int                  # one past the last
    left: Verdict | None       # nearest good/bad verdict before it (skips looked through)
    right: Verdict | None


def _gaps(verdicts: dict[int, Verdict], n: int) -> list[_Gap]:
    gaps, i = [], 0
    while i < n:
        if i in verdicts:
            i += 1
            continue
        j = i
        while j < n and j not in verdicts:
            j += 1
        gaps.append(_Gap(i, j, _decided(verdicts, range(i - 1, -1, -1)), _decided(verdicts, range(j, n))))
        i = j
    return gaps


def _decided(verdicts: dict[int, Verdict], indices: range) -> Verdict | None:
    """The first good/bad verdict along ``indices``, stopping at an unjudged run."""
    for i in indices:
        v = verdicts.get(i)
        if v is None:
            return None
        if v in (Verdict.GOOD, Verdict.BAD):
            return v
    return None


# -- what the verdicts say -------------------------------------------------------------------

PINNED = "pinned"         # the change is one commit
RANGE = "range"           # untestable runs border it: one of ``commits``
UNSCORED = "unscored"     # the budget ran out before the runs between were judged


@dataclass(frozen=True)
class Transition:
    """A change of verdict between judged runs ``before`` and ``after`` (indices)."""

    before: int
    after: int
    to: Verdict                  # BAD: a break, GOOD: a fix
    kind: str                    # PINNED, RANGE or UNSCORED
    commits: tuple[str, ...]     # PINNED: the one commit; RANGE/UNSCORED: every candidate


@dataclass(frozen=True)
class Window:
    """A stretch of bad runs: ``start`` is None when the range starts bad, ``end`` None when
    it is still bad at its last commit."""

    start: Transition | None
    end: Transition | None
    first_bad_run: int
    last_bad_run: int


@dataclass(frozen=True)
class Stretch:
    """Runs ``start``..``stop - 1`` left unjudged between two equal verdicts (may hide a window)."""

    start: int
    stop: int
    verdict: Verdict | None


@dataclass
class Timeline:
    runs: list[Run]
    verdicts: dict[int, Verdict]
    windows: list[Window]
    unscored: list[Stretch]
    untestable: list[int]        # runs judged SKIP

    @property
    def bad_runs(self) -> int:
        return sum(1 for v in self.verdicts.values() if v is Verdict.BAD)


def timeline(runs: list[Run], verdicts: dict[int, Verdict]) -> Timeline:
    """Windows of bad runs, the transitions that bound them, and what was left unjudged."""
    decided = [i for i in sorted(verdicts) if verdicts[i] in (Verdict.GOOD, Verdict.BAD)]
    transitions = []
    unscored = []
    for a, b in zip(decided, decided[1:]):
        between = range(a + 1, b)
        if verdicts[a] != verdicts[b]:
            transitions.append(_transition(runs, verdicts, a, b))
        elif any(i not in verdicts for i in between):
            unscored.append(Stretch(a + 1, b, verdicts[a]))
    if decided:
        for start, stop in ((0, decided[0]), (decided[-1] + 1, len(runs))):
            if any(i not in verdicts for i in range(start, stop)):
                unscored.append(Stretch(start, stop, None))
    windows = _windows(verdicts, decided, transitions)
    untestable = [i for i in sorted(verdicts) if verdicts[i] is Verdict.SKIP]
    return Timeline(runs, dict(verdicts), windows, sorted(unscored, key=lambda s: s.start), untestable)


def _transition(runs: list[Run], verdicts: dict[int, Verdict], a: int, b: int) -> Transition:
    to = verdicts[b]
    if b == a + 1:
        return Transition(a, b, to, PINNED, (runs[b].first,))
    # The change is the first commit of one of the runs a+1..b.
    candidates = tuple(runs[i].first for i in range(a + 1, b + 1))
    kind = RANGE if all(i in verdicts for i in range(a + 1, b)) else UNSCORED
    return Transition(a, b, to, kind, candidates)


def _windows(verdicts: dict[int, Verdict], decided: list[int], transitions: list[Transition]) -> list[Window]:
    windows = []
    if not decided:
        return windows
    opening: Transition | None = None
    first_bad = decided[0] if verdicts[decided[0]] is Verdict.BAD else None
    for t in transitions:
        if t.to is Verdict.BAD:
            opening, first_bad = t, t.after
        elif first_bad is not None:
            windows.append(Window(opening, t, first_bad, t.before))
            opening, first_bad = None, None
    if first_bad is not None:
        windows.append(Window(opening, None, first_bad, decided[-1]))
    return windows
