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
    import numpy as np

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
    import numpy as np

    img = np.asarray(image, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
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
    diff = img - ref
    ref_sum = ref.sum()
    sum_ratio = img.sum() / ref_sum if ref_sum != 0 else _NAN
    correlation = _NAN if problem else pearson(img, ref)
    return Metrics(correlation=correlation, sum_ratio=float(sum_ratio),
                   max_abs_diff=float(np.abs(diff).max()), rms_diff=float(np.sqrt(np.mean(diff ** 2))),
                   **shapes, problem=problem)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally shaped arrays, computed in float64."""
    import numpy as np

    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    x = x - x.mean()
    y = y - y.mean()
    denom = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / denom if denom > 0 else _NAN


def _image_problem(img: np.ndarray, what: str) -> str | None:
    import numpy as np

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
