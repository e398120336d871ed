"""The noise rule (bisector/score/noise.py) on hand-computed numbers."""

import math

import pytest

from bisector.score.noise import Outcome, decide, interval, near, separated, wants_another

THR, ERR = 0.999, 5e-3


def test_interval_of_three_runs_is_the_t_interval():
    # mean 0.9990, sample sd 0.0001 (values -0.0001, 0, +0.0001), stderr 0.0001/sqrt(3);
    # t(97.5 %, 2 df) = 4.303
    iv = interval([0.9989, 0.9990, 0.9991])
    reach = 4.303 * 0.0001 / math.sqrt(3)
    assert iv.mean == pytest.approx(0.9990)
    assert (iv.low, iv.high) == (0.9989, 0.9991)
    assert iv.lower == pytest.approx(0.9990 - reach) and iv.upper == pytest.approx(0.9990 + reach)


def test_interval_of_two_runs_is_their_range():
    iv = interval([0.9995, 0.9993])
    assert (iv.lower, iv.upper) == (0.9993, 0.9995)


def test_one_run_is_judged_like_the_single_threshold():
    assert decide([(0.9991, 1.0)], THR, ERR) is Outcome.GOOD
    assert decide([(0.9989, 1.0)], THR, ERR) is Outcome.BAD
    assert decide([(0.9999, 1.006)], THR, ERR) is Outcome.BAD


def test_runs_on_both_sides_of_the_threshold_are_unresolved():
    assert decide([(0.9993, 1.0), (0.9987, 1.0)], THR, ERR) is Outcome.UNRESOLVED
    # mean 0.9990 +- 0.00025: straddles
    assert decide([(0.9989, 1.0), (0.9990, 1.0), (0.9991, 1.0)], THR, ERR) is Outcome.UNRESOLVED


def test_many_tight_runs_resolve_a_state_close_to_the_threshold():
    # mean 0.99915, sd ~ 3.5e-5 over 6 runs: reach 2.571 * 3.5e-5 / sqrt(6) ~ 3.7e-5 < 1.5e-4
    runs = [(c, 1.0) for c in (0.99910, 0.99915, 0.99920, 0.99910, 0.99915, 0.99920)]
    assert decide(runs, THR, ERR) is Outcome.GOOD
    bad = [(c - 0.0003, 1.0) for c, _ in runs]  # mean 0.99885
    assert decide(bad, THR, ERR) is Outcome.BAD


def test_sum_ratio_band_decides_too():
    assert decide([(0.99999, 1.004), (0.99999, 1.0045)], THR, ERR) is Outcome.GOOD
    assert decide([(0.99999, 1.004), (0.99999, 1.006)], THR, ERR) is Outcome.UNRESOLVED
    assert decide([(0.99999, 0.990), (0.99999, 0.993)], THR, ERR) is Outcome.BAD


def test_non_finite_runs():
    assert decide([(float("nan"), 1.0)], THR, ERR) is Outcome.BAD
    assert decide([(float("nan"), 1.0), (0.9999, 1.0)], THR, ERR) is Outcome.UNRESOLVED


def test_near_means_within_the_margin_of_the_allowed_distance():
    # margin 0.5 of 1e-3: correlations 0.9985..0.9995; of 5e-3: sum errors 2.5e-3..7.5e-3
    assert near((0.9994, 1.0), THR, ERR, 0.5)
    assert near((0.9986, 1.0), THR, ERR, 0.5)
    assert not near((0.9996, 1.0), THR, ERR, 0.5)
    assert not near((0.95, 1.0), THR, ERR, 0.5)
    assert near((0.99999, 1.003), THR, ERR, 0.5)
    assert not near((0.99999, 1.002), THR, ERR, 0.5)
    assert not near((0.9994, 1.0), THR, ERR, 0.0)
    # a threshold of perfection leaves no margin to be near
    assert not near((0.9999, 1.0), 1.0, ERR, 0.5) and not near((1.0, 1.0), 1.0, 0.0, 0.5)
    # a sum ratio far off decides alone: a borderline correlation cannot save the run
    assert not near((0.9994, 1.5), THR, ERR, 0.5)


def test_a_run_far_from_the_thresholds_is_final_and_a_near_one_is_repeated():
    kw = dict(margin=0.5, repeats=1, max_repeats=5)
    assert not wants_another([(0.99999, 1.0)], THR, ERR, **kw)
    assert not wants_another([(0.5, 1.5)], THR, ERR, **kw)
    assert wants_another([(0.9992, 1.0)], THR, ERR, **kw)
    # two identical runs (a deterministic port near the threshold): resolved, stop
    assert not wants_another([(0.9992, 1.0), (0.9992, 1.0)], THR, ERR, **kw)
    assert wants_another([(0.9992, 1.0), (0.9988, 1.0)], THR, ERR, **kw)


def test_declared_repeats_and_the_limit():
    assert wants_another([(0.99999, 1.0)], THR, ERR, margin=0.5, repeats=3, max_repeats=5)
    assert wants_another([(0.99999, 1.0)] * 2, THR, ERR, margin=0.5, repeats=3, max_repeats=5)
    assert not wants_another([(0.99999, 1.0)] * 3, THR, ERR, margin=0.5, repeats=3, max_repeats=5)
    straddling = [(0.9992, 1.0), (0.9988, 1.0)] * 2 + [(0.9992, 1.0)]
    assert not wants_another(straddling, THR, ERR, margin=0.5, repeats=1, max_repeats=5)


def test_separated_needs_good_parent_and_bad_culprit_intervals():
    parent = [(0.9999, 1.0), (0.99985, 1.0)]
    assert separated(parent, [(0.95, 1.0), (0.96, 1.0)], THR, ERR)
    assert not separated(parent, [(0.9992, 1.0), (0.9985, 1.0)], THR, ERR)
    assert not separated([(0.9993, 1.0), (0.9987, 1.0)], [(0.95, 1.0)], THR, ERR)
