"""The scan's search over a list of runs with an injected judge: windows, ranges, budgets."""

from __future__ import annotations

import random

import pytest

from bisector.search.windows import PINNED, RANGE, UNSCORED, Run, distinct_keys, runs_of, search, timeline
from bisector.score.verdict import Verdict

G, B, S = Verdict.GOOD, Verdict.BAD, Verdict.SKIP


def _runs(verdicts: list[Verdict]) -> tuple[list[Run], dict]:
    """One run per verdict, keyed by its index, with commit ids c<index>."""
    runs = [Run(key=i, commits=(f"c{i}", f"c{i}-docs")) for i in range(len(verdicts))]
    return runs, dict(enumerate(verdicts))


def _counting(truth: dict):
    calls = []

    def judge(key):
        calls.append(key)
        return truth[key]
    return judge, calls


def _true_windows(verdicts: list[Verdict]) -> list[tuple[int, int]]:
    """(first bad, last bad) index pairs, skips inside a window belong to it."""
    decided = [(i, v) for i, v in enumerate(verdicts) if v is not S]
    windows, start = [], None
    for pos, (i, v) in enumerate(decided):
        if v is B and start is None:
            start = i
        if v is G and start is not None:
            windows.append((start, decided[pos - 1][0]))
            start = None
    if start is not None:
        windows.append((start, decided[-1][0]))
    return windows


def test_runs_group_consecutive_equal_keys():
    keys = {"a": 1, "b": 1, "c": 2, "d": 1, "e": 1}
    runs = runs_of(list("abcde"), keys)
    assert [r.commits for r in runs] == [("a", "b"), ("c",), ("d", "e")]
    assert distinct_keys(runs) == 2  # the third run restores the first state


def test_every_window_is_pinned_to_its_commit_without_a_budget():
    verdicts = [G, G, B, B, G, B, G, G, B, S, B, G, B]
    runs, truth = _runs(verdicts)
    judge, calls = _counting(truth)
    found = search(runs, judge)
    assert sorted(calls) == list(range(len(verdicts)))  # each state judged exactly once
    tl = timeline(runs, found.verdicts)
    assert [(w.first_bad_run, w.last_bad_run) for w in tl.windows] == _true_windows(verdicts)
    assert [w.start.commits for w in tl.windows] == [("c2",), ("c5",), ("c8",), ("c12",)]
    assert [w.end.commits if w.end else None for w in tl.windows] == [("c4",), ("c6",), ("c11",), None]
    assert all(t.kind == PINNED for w in tl.windows for t in (w.start, w.end) if t)
    assert tl.untestable == [9] and tl.unscored == []


def test_skips_at_a_window_edge_give_a_candidate_range():
    verdicts = [G, S, S, B, B, G]
    runs, truth = _runs(verdicts)
    tl = timeline(runs, search(runs, _counting(truth)[0]).verdicts)
    (window,) = tl.windows
    assert window.start.kind == RANGE and window.start.commits == ("c1", "c2", "c3")
    assert window.end.kind == PINNED and window.end.commits == ("c5",)


def test_repeated_states_are_judged_once():
    # A fix that restores the exact earlier tree: runs 0, 2 and 4 share one key.
    runs = [Run("good", ("a",)), Run("bad", ("b",)), Run("good", ("c",)), Run("bad2", ("d",)),
            Run("good", ("e",))]
    truth = {"good": G, "bad": B, "bad2": B}
    judge, calls = _counting(truth)
    tl = timeline(runs, search(runs, judge).verdicts)
    assert sorted(calls) == ["bad", "bad2", "good"]
    assert [w.start.commits for w in tl.windows] == [("b",), ("d",)]


def test_a_bad_start_opens_a_window_without_a_start_transition():
    runs, truth = _runs([B, B, G])
    (window,) = timeline(runs, search(runs, _counting(truth)[0]).verdicts).windows
    assert window.start is None and window.end.commits == ("c2",)


@pytest.mark.parametrize("seed", range(40))
def test_a_budget_never_guesses(seed):
    rng = random.Random(seed)
    n = rng.randint(2, 40)
    verdicts = [rng.choice([G, G, G, B, B, S]) for _ in range(n)]
    runs, truth = _runs(verdicts)
    budget = rng.randint(2, n)
    judge, calls = _counting(truth)
    found = search(runs, judge, budget=budget)
    assert len(calls) <= budget and len(set(calls)) == len(calls)
    tl = timeline(runs, found.verdicts)
    for window in tl.windows:
        for t in (window.start, window.end):
            if t is None:
                continue
            assert f"c{t.after}" in t.commits
            if t.kind == PINNED:
                # the commit named really is where the verdict changes
                assert verdicts[t.after] is t.to and verdicts[t.before] is not t.to
    if found.complete:
        assert [(w.first_bad_run, w.last_bad_run) for w in tl.windows] == _true_windows(verdicts)
        assert tl.unscored == []
    else:
        assert tl.unscored or any(t.kind == UNSCORED for w in tl.windows for t in (w.start, w.end) if t)


def test_a_small_budget_pins_a_single_transition_by_binary_search():
    verdicts = [G] * 37 + [B] * 27
    runs, truth = _runs(verdicts)
    judge, calls = _counting(truth)
    found = search(runs, judge, budget=9)
    (window,) = timeline(runs, found.verdicts).windows
    assert window.start.kind == PINNED and window.start.commits == ("c37",)
    assert len(calls) <= 2 + 7  # both ends, then log2(64) halvings


@pytest.mark.parametrize("seed", range(40))
def test_cached_verdicts_cost_no_budget(seed):
    # A key already in the cache is free: the budget counts only the others, and once it is
    # spent every free key is still judged, so what the cache knows is never left unscored.
    rng = random.Random(seed)
    n = rng.randint(2, 40)
    verdicts = [rng.choice([G, G, G, B, B, S]) for _ in range(n)]
    runs, truth = _runs(verdicts)
    cached = {i for i in range(n) if rng.random() < 0.5}
    budget = rng.randint(0, n)
    judge, calls = _counting(truth)
    found = search(runs, judge, budget=budget, free=lambda key: key in cached)
    assert len([k for k in calls if k not in cached]) <= budget
    assert cached <= set(calls)
    if budget >= n - len(cached):
        assert found.complete


def test_a_fully_cached_history_is_scanned_whole_on_any_budget():
    verdicts = [G, B, B, G, G, B, G, S, G]
    runs, truth = _runs(verdicts)
    judge, calls = _counting(truth)
    found = search(runs, judge, budget=1, free=lambda key: True)
    assert found.complete and sorted(calls) == list(range(len(verdicts)))
    assert len(timeline(runs, found.verdicts).windows) == 2
