"""Metrics against hand-computed values, and the judging rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bisector.config import Thresholds
from bisector.score.metrics import Metrics, compare, judge, pearson
from bisector.score.verdict import Verdict

T = Thresholds(min_correlation=0.999, max_sum_ratio_error=5e-3)


def test_pearson_of_small_arrays_by_hand():
    # deviations a: -1.5 -.5 .5 1.5 (ss 5); b: -3 -1 0 4 (ss 26); cross sum 11.
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[2.0, 4.0], [5.0, 9.0]])
    m = compare(a, b)
    assert m.correlation == pytest.approx(11 / math.sqrt(5 * 26), rel=1e-15)
    assert m.sum_ratio == pytest.approx(10 / 20)
    assert m.max_abs_diff == 5.0
    assert m.rms_diff == pytest.approx(math.sqrt((1 + 4 + 4 + 25) / 4))


def test_one_pixel_shift_of_a_single_spot():
    # One 1 among five pixels, moved by one: each deviation vector has 0.8 once and -0.2
    # four times (ss 0.8); the cross sum is 2*(0.8*-0.2) + 3*0.04 = -0.2, so r = -0.25.
    ref = np.array([[0.0, 0.0, 1.0, 0.0, 0.0]])
    img = np.roll(ref, 1, axis=1)
    m = compare(img, ref)
    assert m.correlation == pytest.approx(-0.25, rel=1e-14)
    assert m.sum_ratio == 1.0
    verdict, reason = judge(m, T)
    assert verdict is Verdict.BAD and "correlation -0.250000 < 0.999" in reason


def test_scaled_by_two_correlates_perfectly_but_sum_is_off():
    rng = np.random.default_rng(1)
    ref = rng.random((16, 16)).astype(np.float32)
    m = compare(2 * ref, ref)
    assert m.correlation == pytest.approx(1.0, abs=1e-12)
    assert m.sum_ratio == pytest.approx(2.0, rel=1e-7)
    verdict, reason = judge(m, T)
    assert verdict is Verdict.BAD and "sum ratio 2.000000" in reason and "0.005" in reason


def test_float32_precision_is_good_and_threshold_edges():
    ref = np.linspace(1, 2, 64).reshape(8, 8)
    assert judge(compare(ref.astype(np.float32), ref), T)[0] is Verdict.GOOD
    assert judge(compare(ref * 1.004, ref), T)[0] is Verdict.GOOD
    assert judge(compare(ref * 1.006, ref), T)[0] is Verdict.BAD
    loose = Thresholds(min_correlation=0.9, max_sum_ratio_error=0.01)
    assert judge(compare(ref * 1.006, ref), loose)[0] is Verdict.GOOD


@pytest.mark.parametrize("bad_value, word", [(np.nan, "1 NaN"), (np.inf, "1 Inf")])
def test_non_finite_pixels_are_bad(bad_value, word):
    ref = np.arange(9.0).reshape(3, 3)
    img = ref.copy()
    img[1, 1] = bad_value
    m = compare(img, ref)
    assert m.problem and word in m.problem and math.isnan(m.correlation)
    verdict, reason = judge(m, T)
    assert verdict is Verdict.BAD and word in reason


def test_constant_image_is_bad():
    ref = np.arange(9.0).reshape(3, 3)
    m = compare(np.zeros((3, 3)), ref)
    assert "constant" in m.problem and m.sum_ratio == 0.0 and m.max_abs_diff == 8.0
    assert judge(m, T) == (Verdict.BAD, m.problem)


@pytest.mark.parametrize("img", [np.zeros((4, 3)) + np.arange(3), np.arange(10.0)])
def test_wrong_size_is_bad(img):
    m = compare(img, np.arange(9.0).reshape(3, 3))
    verdict, reason = judge(m, T)
    assert verdict is Verdict.BAD and reason.startswith("wrong size") and "(3, 3)" in reason


def test_broken_reference_aborts_instead_of_blaming_the_commit():
    m = compare(np.arange(4.0).reshape(2, 2), np.ones((2, 2)))
    assert m.reference_problem and judge(m, T)[0] is Verdict.ABORT


def test_metrics_dict_round_trip():
    m = compare(np.arange(4.0).reshape(2, 2), np.arange(1.0, 5.0).reshape(2, 2))
    assert Metrics.from_dict(m.to_dict()) == m


def test_pearson_undefined_for_constant_input():
    assert math.isnan(pearson(np.ones(3), np.arange(3.0)))


def test_blockwise_statistics_match_numpy_on_a_large_offset_image():
    # Several blocks, and a mean far above the spread: a one-pass formula would cancel.
    rng = np.random.default_rng(7)
    ref = (1e6 + rng.standard_normal((700, 1000))).astype(np.float32)
    img = (ref + 0.5 * rng.standard_normal(ref.shape)).astype(np.float32)
    x, y = img.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    m = compare(img, ref)
    assert m.correlation == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    assert m.sum_ratio == pytest.approx(x.sum() / y.sum(), rel=1e-15)
    assert m.max_abs_diff == pytest.approx(np.abs(x - y).max(), rel=1e-12)
    assert m.rms_diff == pytest.approx(np.sqrt(np.mean((x - y) ** 2)), rel=1e-9)
