"""ddmin (bisector.search.ddmin): properties over arbitrary three-valued tests."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bisector.search.ddmin import Outcome, ddmin, worst_case_tests

FAIL, PASS, UNRESOLVED = Outcome.FAIL, Outcome.PASS, Outcome.UNRESOLVED


def superset_test(cause: set[int]):
    """Fails exactly when the subset holds every change of ``cause`` (a monotone effect)."""
    return lambda subset: FAIL if cause <= set(subset) else PASS


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 24).flatmap(lambda n: st.tuples(
    st.just(n), st.sets(st.integers(0, n - 1), min_size=1, max_size=min(n, 4)))))
def test_a_monotone_effect_is_narrowed_to_exactly_its_cause(case):
    n, cause = case
    result = ddmin(list(range(n)), superset_test(cause))
    assert set(result.found) == cause
    assert result.minimal and not result.exhausted
    assert result.tests <= worst_case_tests(n)


def _random_test(seed: int, n: int, p_fail: float, p_unresolved: float):
    """An arbitrary (not monotone) test, fixed per subset, that fails on the full set."""
    cache = {}

    def test(subset):
        key = frozenset(subset)
        if key not in cache:
            roll = random.Random(hash((seed, tuple(sorted(key))))).random()
            cache[key] = FAIL if roll < p_fail else UNRESOLVED if roll < p_fail + p_unresolved else PASS
        return cache[key]
    return test


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 16), st.integers(0, 10**6), st.floats(0, 1), st.floats(0, 0.5))
def test_any_test_gives_a_failing_1_minimal_set_within_the_bound(n, seed, p_fail, p_unresolved):
    calls = []
    inner = _random_test(seed, n, p_fail, p_unresolved)

    def test(subset):
        calls.append(frozenset(subset))
        return inner(subset)

    result = ddmin(list(range(n)), test)
    outcomes = {frozenset(t.subset): t.outcome for t in result.trials}
    # never tested twice, never the known ends
    assert len(calls) == len(set(calls)) == result.tests
    assert frozenset() not in outcomes and frozenset(range(n)) not in outcomes
    assert result.tests <= worst_case_tests(n)
    # the answer fails: it is the full set or was tested failing
    found = frozenset(result.found)
    assert found == frozenset(range(n)) or outcomes[found] is FAIL
    # 1-minimal: removing any one change was tested (or is the empty set) and did not fail
    assert result.minimal and not result.exhausted
    for change in found:
        rest = found - {change}
        assert not rest or outcomes[rest] is not FAIL
    assert [s for s in result.unresolved] == [t.subset for t in result.trials if t.outcome is UNRESOLVED]


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 16), st.integers(0, 10**6), st.integers(0, 12))
def test_the_budget_bounds_the_tests_and_is_reported(n, seed, budget):
    result = ddmin(list(range(n)), _random_test(seed, n, 0.3, 0.2), budget=budget)
    assert result.tests <= budget
    if result.exhausted:
        assert not result.minimal and result.tests == budget
    unbounded = ddmin(list(range(n)), _random_test(seed, n, 0.3, 0.2))
    if unbounded.tests <= budget:  # a budget that suffices changes nothing
        assert result.found == unbounded.found and not result.exhausted


def test_changes_that_break_only_together_are_both_kept():
    result = ddmin(list("abcdef"), superset_test({"b", "e"}))
    assert result.found == ("b", "e") and result.minimal


def test_an_unresolved_change_is_never_blamed():
    # "i" needs "n" (it imports what "n" adds): alone it cannot be run at all; "b" breaks.
    def test(subset):
        s = set(subset)
        if "i" in s and "n" not in s:
            return UNRESOLVED
        return FAIL if "b" in s else PASS

    result = ddmin(["i", "b", "n", "x"], test)
    assert result.found == ("b",) and result.minimal
    assert any("i" in s and "n" not in s for s in result.unresolved)


def test_one_change_needs_no_test_and_the_empty_input_fails_as_it_is():
    assert ddmin(["only"], lambda s: 1 / 0).found == ("only",)
    assert ddmin(["only"], lambda s: 1 / 0).tests == 0
    empty = ddmin([], lambda s: 1 / 0)
    assert empty.found == () and empty.tests == 0


def test_the_worst_case_bound_is_zellers():
    assert [worst_case_tests(n) for n in (1, 2, 4, 8)] == [2, 5, 14, 44]
