"""Multisection against the truth, for every shape of history (property-based)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bisector.search.bisection import Conclusion, expected_rounds, least_satisfying, probes, window
from bisector.score.verdict import Verdict

G, B, S = Verdict.GOOD, Verdict.BAD, Verdict.SKIP


def _truth(n: int, first_bad: int, skips: frozenset[int]):
    def score(indices):
        return {i: S if i in skips else (B if i >= first_bad else G) for i in indices}
    return score


@given(n=st.integers(0, 300), data=st.data(), k=st.integers(1, 8))
@settings(max_examples=150, deadline=None)
def test_finds_the_first_bad_state_in_log_k_plus_1_rounds(n, data, k):
    first_bad = data.draw(st.integers(0, n))  # n: only the bad endpoint is bad
    search = least_satisfying(n, _truth(n, first_bad, frozenset()), k)
    assert search.conclusion == Conclusion((first_bad,))
    assert len(search.rounds) <= expected_rounds(n, k)
    assert all(len(r) <= k and len(set(r)) == len(r) for r in search.rounds)
    # Nothing is scored twice.
    scored = [i for r in search.rounds for i in r]
    assert len(scored) == len(set(scored))


@given(n=st.integers(1, 200), data=st.data(), k=st.integers(1, 6))
@settings(max_examples=150, deadline=None)
def test_skips_leave_the_true_first_bad_among_the_candidates(n, data, k):
    first_bad = data.draw(st.integers(0, n))
    skips = frozenset(data.draw(st.sets(st.integers(0, n - 1), max_size=n)))
    search = least_satisfying(n, _truth(n, first_bad, skips), k)
    candidates = search.conclusion.candidates
    assert first_bad in candidates
    # Every candidate but the last is a skipped state; the last is the first known bad.
    assert all(c in skips for c in candidates[:-1]) and candidates[-1] not in skips
    assert list(candidates) == sorted(candidates)


@given(n=st.integers(0, 300), data=st.data())
@settings(max_examples=100, deadline=None)
def test_one_probe_per_round_is_binary_search(n, data):
    first_bad = data.draw(st.integers(0, n))
    search = least_satisfying(n, _truth(n, first_bad, frozenset()), 1)
    assert len(search.rounds) <= math.ceil(math.log2(n + 1))


def test_rounds_drop_as_log_k_plus_1():
    assert [expected_rounds(1000, k) for k in (1, 2, 4)] == [10, 7, 5]
    assert expected_rounds(0, 3) == 0 and expected_rounds(3, 3) == 1 and expected_rounds(4, 3) == 2


def test_probes_are_evenly_spaced_inside_the_window():
    verdicts = [None] * 15
    assert probes(verdicts, 3) == [3, 7, 11]
    verdicts[3], verdicts[7] = G, B
    assert window(verdicts).lo == 3 and window(verdicts).hi == 7
    assert probes(verdicts, 3) == [4, 5, 6]


def test_known_verdicts_are_used_and_bad_verdicts_are_refused():
    search = least_satisfying(4, _truth(4, 2, frozenset()), 2, known={3: B})
    assert search.conclusion.first_bad == 2 and 3 not in [i for r in search.rounds for i in r]
    with pytest.raises(ValueError, match="not Verdict.ABORT"):
        least_satisfying(3, lambda idx: {i: Verdict.ABORT for i in idx}, 1)
    with pytest.raises(ValueError):
        probes([None], 0)


@given(n=st.integers(1, 200), data=st.data(), k=st.integers(1, 6))
@settings(max_examples=150, deadline=None)
def test_settled_states_narrow_for_free_and_never_change_the_answer(n, data, k):
    # What `run --jobs` reads from the score cache: settled before each round, never probed.
    first_bad = data.draw(st.integers(0, n))
    cached = frozenset(data.draw(st.sets(st.integers(0, n - 1), max_size=n)))
    truth = _truth(n, first_bad, frozenset())
    search = least_satisfying(n, truth, k, settle=lambda untested: truth([i for i in untested if i in cached]))
    assert search.conclusion == Conclusion((first_bad,))
    assert not cached & {i for r in search.rounds for i in r}
    assert len(search.rounds) <= expected_rounds(n, k)
