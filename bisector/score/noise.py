"""Verdicts from repeated runs of one state: the rule for a port that is not deterministic.

Pure functions. A *sample* is one run's (correlation, sum_ratio). The rule:

- one run far from both thresholds (outside the margin) is final: a deterministic port
  pays nothing;
- otherwise the state is run again, up to ``max_repeats`` runs (at least ``repeats`` when
  the port declares itself noisy), and each metric gets a confidence interval: the
  observed range for two runs, mean +- t(97.5 %, n-1) * stderr from three runs on;
- GOOD when the whole interval of the correlation is >= min_correlation and the whole
  interval of the sum ratio lies within 1 +- max_sum_ratio_error; BAD when the interval of
  the correlation is entirely below its threshold or that of the sum ratio entirely
  outside its band; otherwise UNRESOLVED (git bisect's skip), and more runs are made
  while the limit allows.

``flaky``: two runs of the state, judged alone, disagree.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from statistics import fmean, stdev

# Two-sided 95 % quantiles of Student's t for n - 1 = 1..9 degrees of freedom; 2.0 beyond.
_T95 = {1: 12.71, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}

# A run is "near" a threshold when its distance from perfect (1 - correlation, or
# |sum_ratio - 1|) is within this fraction of the allowed distance on either side
# (0.5 at 0.999: correlations 0.9985..0.9995; at 5e-3: sum errors 2.5e-3..7.5e-3).
DEFAULT_NOISE_MARGIN = 0.5
DEFAULT_MAX_REPEATS = 5


class Outcome(enum.Enum):
    GOOD = "good"
    BAD = "bad"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class Interval:
    """What the runs say about one metric: its mean, range and confidence bounds."""

    n: int
    mean: float
    low: float   # the observed minimum
    high: float  # the observed maximum
    lower: float  # the confidence bound below
    upper: float  # the confidence bound above

    @property
    def half_width(self) -> float:
        return (self.upper - self.lower) / 2

    def to_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "mean": self.mean, "min": self.low, "max": self.high,
                "lower": self.lower, "upper": self.upper}


def interval(values: list[float]) -> Interval:
    """The confidence interval of a metric's runs (ValueError on no runs)."""
    if not values:
        raise ValueError("no runs")
    n, mean, low, high = len(values), fmean(values), min(values), max(values)
    if n < 3:  # too few for a standard error: the extremes are the bounds
        return Interval(n, mean, low, high, low, high)
    reach = _T95.get(n - 1, 2.0) * stdev(values) / math.sqrt(n)
    return Interval(n, mean, low, high, mean - reach, mean + reach)


def decide(samples: list[tuple[float, float]], min_correlation: float,
           max_sum_ratio_error: float) -> Outcome:
    """GOOD, BAD or UNRESOLVED for one state's (correlation, sum_ratio) runs (the rule above).

    A non-finite metric in a run makes that run plainly bad: with only such runs the state
    is BAD; mixed with finite runs it is UNRESOLVED.
    """
    finite = [(c, r) for c, r in samples if math.isfinite(c) and math.isfinite(r)]
    if not finite:
        return Outcome.BAD
    if len(finite) < len(samples):
        return Outcome.UNRESOLVED
    corr = interval([c for c, _ in finite])
    ratio = interval([r for _, r in finite])
    lo_band, hi_band = 1 - max_sum_ratio_error, 1 + max_sum_ratio_error
    if corr.upper < min_correlation or ratio.upper < lo_band or ratio.lower > hi_band:
        return Outcome.BAD
    if corr.lower >= min_correlation and ratio.lower >= lo_band and ratio.upper <= hi_band:
        return Outcome.GOOD
    return Outcome.UNRESOLVED


def near(sample: tuple[float, float], min_correlation: float, max_sum_ratio_error: float,
         margin: float) -> bool:
    """True when noise could flip one run's verdict: a metric lies within ``margin`` (a
    fraction of the allowed distance from perfect) of its threshold and no metric is bad
    beyond the margin (a run that far off is bad however the other metric moves)."""
    corr, ratio = sample
    if not (math.isfinite(corr) and math.isfinite(ratio)):
        return False  # an unusable image is no borderline value
    past = [_past(1 - corr, 1 - min_correlation), _past(abs(ratio - 1), max_sum_ratio_error)]
    return all(p <= margin for p in past) and any(abs(p) <= margin for p in past)


def _past(distance: float, allowed: float) -> float:
    """How far past its threshold a metric is, in units of the allowed distance from
    perfect (> 0: the bad side). Nothing allowed (a threshold of perfection) leaves no margin."""
    if allowed <= 0:
        return math.inf if distance > 0 else -math.inf
    return (distance - allowed) / allowed


def wants_another(samples: list[tuple[float, float]], min_correlation: float, max_sum_ratio_error: float,
                  *, margin: float, repeats: int, max_repeats: int) -> bool:
    """Whether the state should be run again: below the declared ``repeats``, always; at
    ``max_repeats``, never; after one run, when it is near a threshold; later, while the
    rule leaves it unresolved."""
    n = len(samples)
    if n >= max(max_repeats, repeats):
        return False
    if n < repeats:
        return True
    if n == 1:
        return near(samples[0], min_correlation, max_sum_ratio_error, margin)
    return decide(samples, min_correlation, max_sum_ratio_error) is Outcome.UNRESOLVED


def separated(parent: list[tuple[float, float]], culprit: list[tuple[float, float]],
              min_correlation: float, max_sum_ratio_error: float) -> bool:
    """A culprit's runs are told apart from its parent's by the rule: the parent's are
    GOOD and the culprit's BAD (the threshold lies between the two intervals)."""
    return (decide(parent, min_correlation, max_sum_ratio_error) is Outcome.GOOD
            and decide(culprit, min_correlation, max_sum_ratio_error) is Outcome.BAD)
