"""How close a candidate image is to the reference image, and the verdict that follows.

Pure functions over numpy arrays. Problems that make a comparison meaningless (wrong
shape, NaN/Inf pixels, a constant image) are recorded in ``Metrics.problem`` instead of
raised: they are evidence against the commit, not failures of the harness. A broken
*reference* is recorded in ``reference_problem`` and judged ABORT.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy costs ~0.15 s to import: only paths that touch images load it
    import numpy as np  # on first use: a cached scoring step never loads numpy

from .verdict import Verdict


@dataclass(frozen=True)
class Metrics:
    """Comparison of two images of shape (slow, fast); NaN where a value is undefined.

    correlation: Pearson correlation of the pixel values (float64).
    sum_ratio: image.sum() / reference.sum().
    max_abs_diff, rms_diff: in the images' units (photons per pixel).
    """

    correlation: float
    sum_ratio: float
    max_abs_diff: float
    rms_diff: float
    shape: tuple[int, ...]
    reference_shape: tuple[int, ...]
    problem: str | None = None
    reference_problem: str | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["shape"] = list(self.shape)
        data["reference_shape"] = list(self.reference_shape)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Metrics":
        return cls(correlation=float(data["correlation"]), sum_ratio=float(data["sum_ratio"]),
                   max_abs_diff=float(data["max_abs_diff"]), rms_diff=float(data["rms_diff"]),
                   shape=tuple(int(v) for v in data["shape"]),
                   reference_shape=tuple(int(v) for v in data["reference_shape"]),
                   problem=data.get("problem"), reference_problem=data.get("reference_problem"))


_NAN = float("nan")


def compare(image: np.ndarray, reference: np.ndarray) -> Metrics:
    """Metrics of ``image`` against ``reference`` (both any float dtype, compared in float64)."""
    import numpy as np  # on first use: a cached scoring step never loads numpy

    img = np.asarray(image)
    ref = np.asarray(reference)
    shapes = dict(shape=tuple(img.shape), reference_shape=tuple(ref.shape))
    reference_problem = _image_problem(ref, "reference image")
    if reference_problem:
        return Metrics(_NAN, _NAN, _NAN, _NAN, **shapes, reference_problem=reference_problem)
    if img.shape != ref.shape:
        problem = (f"wrong size: {img.size} pixels in shape {tuple(img.shape)}, "
                   f"expected {tuple(ref.shape)}")
        return Metrics(_NAN, _NAN, _NAN, _NAN, **shapes, problem=problem)
    problem = _image_problem(img, "image")
    if problem and "NaN" in problem:
        return Metrics(_NAN, _NAN, _NAN, _NAN, **shapes, problem=problem)
    st = _PairStats.of(img, ref)
    sum_ratio = st.sum_x / st.sum_y if st.sum_y != 0 else _NAN
    correlation = _NAN if problem else st.correlation
    return Metrics(correlation=correlation, sum_ratio=float(sum_ratio), max_abs_diff=st.max_abs_diff,
                   rms_diff=st.rms_diff, **shapes, problem=problem)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally shaped arrays, computed in float64."""
    return _PairStats.of(a, b).correlation


# Pixels per block: the float64 temporaries of a 4096^2 image then stay a few MB in size
# instead of several copies of 128 MB, which made comparing cost more than reading.
_BLOCK = 1 << 18


@dataclass(frozen=True)
class _PairStats:
    sum_x: float
    sum_y: float
    correlation: float
    max_abs_diff: float
    rms_diff: float

    @classmethod
    def of(cls, a: np.ndarray, b: np.ndarray) -> "_PairStats":
        """Two passes: float64 means, then centred sums block by block (no cancellation)."""
        import numpy as np  # on first use: a cached scoring step never loads numpy

        x, y = np.asarray(a).ravel(), np.asarray(b).ravel()
        n = x.size
        sum_x, sum_y = float(x.sum(dtype=np.float64)), float(y.sum(dtype=np.float64))
        mean_x, mean_y = sum_x / n, sum_y / n
        sxx = syy = sxy = sdd = max_d = 0.0
        for i in range(0, n, _BLOCK):
            dx = x[i:i + _BLOCK].astype(np.float64) - mean_x
            dy = y[i:i + _BLOCK].astype(np.float64) - mean_y
            sxx, syy, sxy = sxx + float(dx @ dx), syy + float(dy @ dy), sxy + float(dx @ dy)
            dx -= dy
            dx += mean_x - mean_y  # now the raw difference x - y
            sdd += float(dx @ dx)
            max_d = max(max_d, float(np.abs(dx).max()))
        denom = math.sqrt(sxx * syy)
        return cls(sum_x, sum_y, sxy / denom if denom > 0 else _NAN, max_d, math.sqrt(sdd / n))


def _image_problem(img: np.ndarray, what: str) -> str | None:
    import numpy as np  # on first use: a cached scoring step never loads numpy

    if img.size == 0:
        return f"{what} is empty"
    finite = np.isfinite(img)
    if not finite.all():
        n_nan = int(np.isnan(img).sum())
        n_inf = int((~finite).sum()) - n_nan
        return f"{what} has {n_nan} NaN and {n_inf} Inf pixels"
    if img.min() == img.max():
        return f"{what} is constant (every pixel = {img.flat[0]:g})"
    return None


def judge(metrics: Metrics, thresholds) -> tuple[Verdict, str]:
    """GOOD iff correlation >= min_correlation and |sum_ratio - 1| <= max_sum_ratio_error.

    ``thresholds`` has ``min_correlation`` and ``max_sum_ratio_error`` (config.Thresholds).
    """
    if metrics.reference_problem:
        return Verdict.ABORT, f"reference is unusable: {metrics.reference_problem}"
    if metrics.problem:
        return Verdict.BAD, metrics.problem
    corr, ratio = metrics.correlation, metrics.sum_ratio
    if not (math.isfinite(corr) and math.isfinite(ratio)):
        return Verdict.BAD, f"undefined metrics (correlation {corr}, sum ratio {ratio})"
    ratio_error = abs(ratio - 1.0)
    reasons = []
    if corr < thresholds.min_correlation:
        reasons.append(f"correlation {corr:.6f} < {thresholds.min_correlation:g}")
    if ratio_error > thresholds.max_sum_ratio_error:
        reasons.append(f"sum ratio {ratio:.6f} is off by {ratio_error:.3g} > {thresholds.max_sum_ratio_error:g}")
    if reasons:
        return Verdict.BAD, "; ".join(reasons)
    return Verdict.GOOD, (f"correlation {corr:.6f} >= {thresholds.min_correlation:g}, "
                          f"sum ratio {ratio:.6f} within {thresholds.max_sum_ratio_error:g}")
