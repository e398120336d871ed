"""Multisection: the search of ``run --jobs K``, as pure functions over a list of verdicts.

The states are the candidate commits, oldest first; just before them is the good
endpoint, just after them the bad one. Each entry of ``verdicts`` is GOOD, BAD, SKIP or
None (not scored yet). The range left is (lo, hi]: hi is the first BAD state (or the bad
endpoint) and lo the last GOOD state before it (or the good endpoint). A round scores K
evenly spaced untested states of the range, which splits it into K + 1 parts, so
ceil(log_(K+1)(N + 1)) rounds settle N states where binary search needs ceil(log2(N + 1)).
SKIP states never narrow the range: when only skipped states are left between lo and hi,
the first bad state is one of them or hi.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..score.verdict import Verdict

Verdicts = Sequence["Verdict | None"]


@dataclass(frozen=True)
class Window:
    lo: int   # last GOOD index before hi, -1 for the good endpoint
    hi: int   # first BAD index, len(verdicts) for the bad endpoint


@dataclass(frozen=True)
class Conclusion:
    """``candidates``: indices that may be the first bad state, in order; one means found."""

    candidates: tuple[int, ...]

    @property
    def first_bad(self) -> int | None:
        return self.candidates[0] if len(self.candidates) == 1 else None


@dataclass
class Search:
    conclusion: Conclusion
    rounds: list[list[int]] = field(default_factory=list)  # the probes of each round


def window(verdicts: Verdicts) -> Window:
    hi = next((i for i, v in enumerate(verdicts) if v is Verdict.BAD), len(verdicts))
    lo = max((i for i in range(hi) if verdicts[i] is Verdict.GOOD), default=-1)
    return Window(lo, hi)


def untested(verdicts: Verdicts) -> list[int]:
    w = window(verdicts)
    return [i for i in range(w.lo + 1, w.hi) if verdicts[i] is None]


def probes(verdicts: Verdicts, k: int) -> list[int]:
    """Up to ``k`` evenly spaced untested states of the range: the next round's work."""
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    left = untested(verdicts)
    if len(left) <= k:
        return left
    m = len(left)
    return [left[(j * (m + 1)) // (k + 1) - 1] for j in range(1, k + 1)]


def conclusion(verdicts: Verdicts) -> Conclusion | None:
    """The first bad state, or the candidates skips leave; None while states are untested."""
    if untested(verdicts):
        return None
    w = window(verdicts)
    skipped = [i for i in range(w.lo + 1, w.hi) if verdicts[i] is Verdict.SKIP]
    return Conclusion(tuple(skipped) + (w.hi,))


def expected_rounds(states: int, k: int) -> int:
    """Rounds a multisection of ``states`` needs without skips: ceil(log_(k+1)(states + 1))."""
    rounds, settled = 0, 0
    while settled < states:  # integer form of the logarithm: no floating-point edge cases
        rounds += 1
        settled = (k + 1) ** rounds - 1
    return rounds if states > 0 else 0


def least_satisfying(n: int, score: Callable[[list[int]], dict[int, Verdict]], k: int,
                     known: dict[int, Verdict] | None = None,
                     settle: Callable[[list[int]], dict[int, Verdict]] | None = None) -> Search:
    """Run the whole search: ``score(indices)`` returns a verdict per index of one round.

    ``settle(untested)``, called before each round, may return verdicts that cost nothing
    (already in a cache): they narrow the range before the round's probes are chosen.
    """
    verdicts: list[Verdict | None] = [None] * n
    for i, v in (known or {}).items():
        verdicts[i] = v
    search = Search(Conclusion(()))
    while True:
        if settle is not None:
            _take(verdicts, settle(untested(verdicts)))
        round_ = probes(verdicts, k)
        if not round_:
            break
        search.rounds.append(round_)
        _take(verdicts, score(round_))
    search.conclusion = conclusion(verdicts)
    return search


def _take(verdicts: list, scored: dict[int, Verdict]) -> None:
    for i, v in scored.items():
        if v not in (Verdict.GOOD, Verdict.BAD, Verdict.SKIP):
            raise ValueError(f"state {i}: a search verdict is good, bad or skip, not {v}")
        verdicts[i] = v
