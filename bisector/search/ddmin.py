"""Zeller's delta debugging (ddmin): a 1-minimal set of changes that still shows an effect.

Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing Input" (IEEE TSE 2002).
Given changes whose full set shows an effect (for bisector: the culprit's hunks break
parity) and whose empty set does not (the parent is good), ddmin tests subsets and their
complements at ever finer granularity and returns a set from which no single change can
be removed without losing the effect.

The test is three-valued. UNRESOLVED (git bisect's 125: the subset does not apply, does
not import, produces no image) is never a verdict: it neither reduces the set nor blames a
change. Each distinct subset is tested once; the empty and the full set are known and never
tested. A budget bounds the tests; a search it stops is reported as such, with the smallest
failing set found so far.

Pure: no git, no scoring; ``test`` is injected.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class Outcome(enum.Enum):
    FAIL = "fail"              # shows the effect being isolated (a culprit's "bad", a fix's "good")
    PASS = "pass"              # does not show it
    UNRESOLVED = "unresolved"  # cannot be told: never a verdict


@dataclass(frozen=True)
class Trial(Generic[T]):
    """One test ddmin made: the subset (in the order of the input) and its outcome."""

    subset: tuple[T, ...]
    outcome: Outcome


@dataclass(frozen=True)
class Result(Generic[T]):
    """What ddmin found.

    ``found``: the smallest subset known to fail (all changes when none smaller failed).
    ``minimal``: the search ended: removing any one change of ``found`` was tested (or is
    the empty set) and did not fail. ``exhausted``: the budget stopped the search first.
    """

    found: tuple[T, ...]
    minimal: bool
    exhausted: bool
    trials: tuple[Trial[T], ...]
    changes: int  # how many changes the search started from

    @property
    def tests(self) -> int:
        return len(self.trials)

    @property
    def unresolved(self) -> list[tuple[T, ...]]:
        return [t.subset for t in self.trials if t.outcome is Outcome.UNRESOLVED]

    @property
    def bound(self) -> int:
        return worst_case_tests(self.changes)


def worst_case_tests(n: int) -> int:
    """Zeller and Hildebrandt's worst case for ddmin on ``n`` changes: (n^2 + 3n) / 2 tests."""
    return (n * n + 3 * n) // 2


class _Exhausted(Exception):
    pass


def ddmin(changes: Sequence[T], test: Callable[[tuple[T, ...]], Outcome],
          budget: int | None = None) -> Result[T]:
    """A 1-minimal failing subset of ``changes`` (whose full set is known to fail).

    ``test(subset)`` is called with subsets in the order of ``changes``, each distinct
    subset at most once, at most ``budget`` times (None: no limit).
    """
    items = list(changes)
    trials: list[Trial[T]] = []
    known: dict[frozenset[int], Outcome] = {frozenset(range(len(items))): Outcome.FAIL, frozenset(): Outcome.PASS}

    def outcome(indices: list[int]) -> Outcome:
        key = frozenset(indices)
        if key not in known:
            if budget is not None and len(trials) >= budget:
                raise _Exhausted()
            subset = tuple(items[i] for i in sorted(key))
            known[key] = test(subset)
            trials.append(Trial(subset, known[key]))
        return known[key]

    current = list(range(len(items)))
    n = 2
    minimal = exhausted = False
    try:
        while True:
            if len(current) <= 1:
                minimal = True  # the empty set passes: one change cannot be reduced
                break
            parts = _split(current, n)
            reduced = next((p for p in parts if outcome(p) is Outcome.FAIL), None)
            if reduced is not None:
                current, n = reduced, 2
                continue
            if n > 2:  # with two parts the complements are the parts themselves
                chosen = set()
                for part in parts:
                    complement = [i for i in current if i not in set(part)]
                    if outcome(complement) is Outcome.FAIL:
                        chosen = set(complement)
                        break
                if chosen:
                    current, n = sorted(chosen), max(n - 1, 2)
                    continue
            if n >= len(current):
                minimal = True
                break
            n = min(len(current), 2 * n)
    except _Exhausted:
        exhausted = True
    return Result(found=tuple(items[i] for i in current), minimal=minimal, exhausted=exhausted,
                  trials=tuple(trials), changes=len(items))


def _split(indices: list[int], n: int) -> list[list[int]]:
    """``indices`` cut into ``n`` consecutive parts of nearly equal size (the larger first)."""
    size, extra = divmod(len(indices), n)
    parts, start = [], 0
    for k in range(n):
        stop = start + size + (1 if k < extra else 0)
        parts.append(indices[start:stop])
        start = stop
    return [p for p in parts if p]
