"""Where two detector images disagree: peaks, centre against edges, error by radius.

Pure functions over numpy arrays of shape (slow, fast), computed in float64. Distances and
radii are in pixels; the centre is the middle of the array (not the beam centre), because
that is what a person looking at the frame calls the centre.

numpy is imported on use: a scoring answered from the cache never loads it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from ..score.metrics import pearson

# The centre region: the middle half of each axis (a quarter of the area).
CENTRE_FRACTION = 0.5
RINGS = 10


@dataclass(frozen=True)
class Peak:
    slow: float   # sub-pixel position (three-point Gaussian fit per axis), pixels
    fast: float
    value: float  # the local maximum, photons


@dataclass(frozen=True)
class PeakMatch:
    """The brightest ``wanted`` local maxima of the reference, each paired with at most one of
    the candidate's brightest 2 x ``wanted`` within ``radius`` (the wider candidate list keeps
    peaks of equal brightness, common in symmetric patterns, from missing by a tie at the cut)."""

    wanted: int
    radius: float
    reference_peaks: int
    candidate_peaks: int
    matched: int
    mean_distance: float | None   # over matched pairs, pixels
    max_distance: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Regions:
    """Pearson correlation of the centre region and of the rest of the frame."""

    centre_correlation: float | None
    edge_correlation: float | None
    centre_box: tuple[int, int, int, int]   # slow0, slow1, fast0, fast1 (end exclusive)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["centre_box"] = list(self.centre_box)
        return data


@dataclass(frozen=True)
class Ring:
    """Pixels with r0 <= radius < r1 (pixels from the centre): sum|c - r| / sum|r| there."""

    r0: float
    r1: float
    pixels: int
    relative_error: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def find_peaks(image: np.ndarray, n: int) -> list[Peak]:
    """The ``n`` brightest positive local maxima, brightest first.

    A maximum is > its neighbours above and to the left and >= those below and to the right,
    so a plateau (a spot centred between pixels gives 2 or 4 equal pixels in float32) counts once.
    """
    import numpy as np

    img = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=-np.inf)
    padded = np.pad(img, 1, constant_values=-np.inf)
    slow, fast = img.shape
    is_peak = img > 0
    for ds in (0, 1, 2):
        for df in (0, 1, 2):
            if (ds, df) == (1, 1):
                continue
            neighbour = padded[ds:ds + slow, df:df + fast]
            is_peak &= (img > neighbour) if (ds, df) < (1, 1) else (img >= neighbour)
    rows, cols = np.nonzero(is_peak)
    if rows.size == 0:
        return []
    values = img[rows, cols]
    order = np.argsort(-values, kind="stable")[:n]
    return [_centroid(img, int(rows[i]), int(cols[i])) for i in order]


def _centroid(img: np.ndarray, row: int, col: int) -> Peak:
    """Sub-pixel position from a three-point Gaussian fit along each axis (exact for a
    Gaussian spot; the plain pixel where a neighbour is missing or not positive)."""
    value = float(img[row, col])

    def offset(before: float, after: float) -> float:
        if not (before > 0 and after > 0 and value > 0):
            return 0.0
        lb, l0, la = math.log(before), math.log(value), math.log(after)
        curvature = lb - 2 * l0 + la
        return 0.0 if curvature >= 0 else max(-0.5, min(0.5, (lb - la) / (2 * curvature)))

    slow, fast = img.shape
    ds = offset(img[row - 1, col], img[row + 1, col]) if 0 < row < slow - 1 else 0.0
    df = offset(img[row, col - 1], img[row, col + 1]) if 0 < col < fast - 1 else 0.0
    return Peak(row + ds, col + df, value)


def match_peaks(reference: np.ndarray, candidate: np.ndarray, n: int = 20, radius: float = 2.0) -> PeakMatch:
    """Pair the closest peaks first, each peak at most once, none farther apart than ``radius``."""
    ref, cand = find_peaks(reference, n), find_peaks(candidate, 2 * n)
    pairs = sorted((math.hypot(a.slow - b.slow, a.fast - b.fast), i, j)
                   for i, a in enumerate(ref) for j, b in enumerate(cand))
    used_ref, used_cand, distances = set(), set(), []
    for dist, i, j in pairs:
        if dist > radius:
            break
        if i in used_ref or j in used_cand:
            continue
        used_ref.add(i)
        used_cand.add(j)
        distances.append(dist)
    return PeakMatch(wanted=n, radius=radius, reference_peaks=len(ref), candidate_peaks=len(cand),
                     matched=len(distances),
                     mean_distance=sum(distances) / len(distances) if distances else None,
                     max_distance=max(distances) if distances else None)


def centre_box(shape: tuple[int, int], fraction: float = CENTRE_FRACTION) -> tuple[int, int, int, int]:
    slow, fast = shape
    ds, df = int(round(slow * (1 - fraction) / 2)), int(round(fast * (1 - fraction) / 2))
    return ds, slow - ds, df, fast - df


def regions(reference: np.ndarray, candidate: np.ndarray, fraction: float = CENTRE_FRACTION) -> Regions:
    import numpy as np

    box = centre_box(reference.shape, fraction)
    s0, s1, f0, f1 = box
    inside = np.zeros(reference.shape, dtype=bool)
    inside[s0:s1, f0:f1] = True
    return Regions(centre_correlation=_finite(pearson(candidate[inside], reference[inside])),
                   edge_correlation=_finite(pearson(candidate[~inside], reference[~inside])),
                   centre_box=box)


def radial_profile(reference: np.ndarray, candidate: np.ndarray, rings: int = RINGS) -> list[Ring]:
    """Relative error in ``rings`` rings of equal width from the centre out to the corners."""
    import numpy as np

    slow, fast = reference.shape
    rr, cc = np.ogrid[:slow, :fast]
    radius = np.hypot(rr - (slow - 1) / 2, cc - (fast - 1) / 2)
    edge = float(radius.max()) * (1 + 1e-9)
    ring = np.minimum((radius / edge * rings).astype(np.int64), rings - 1).ravel()
    ref = np.asarray(reference, dtype=np.float64).ravel()
    err = np.abs(np.asarray(candidate, dtype=np.float64).ravel() - ref)
    pixels = np.bincount(ring, minlength=rings)
    ref_sum = np.bincount(ring, weights=np.abs(ref), minlength=rings)
    err_sum = np.bincount(ring, weights=err, minlength=rings)
    width = edge / rings
    return [Ring(r0=round(k * width, 3), r1=round((k + 1) * width, 3), pixels=int(pixels[k]),
                 relative_error=float(err_sum[k] / ref_sum[k]) if ref_sum[k] > 0 else None)
            for k in range(rings)]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
