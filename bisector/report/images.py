"""Detector images reduced for display: each block keeps its extreme, so one bright pixel
(a Bragg spot, a one-pixel difference) survives the reduction. Rows are the slow index,
columns the fast index (the float file's order).

numpy is imported on use: a scoring answered from the cache never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# A 4096^2 detector is more pixels than a screen shows: larger images are reduced to at
# most this many pixels per side before drawing.
MAX_SIDE = 1024


def reduce_for_display(image: np.ndarray, max_side: int = MAX_SIDE, *, signed: bool = True) -> np.ndarray:
    """Shrink by an integer factor so no side exceeds ``max_side``; each block keeps its value
    of largest magnitude, so a one-pixel Bragg spot (or a one-pixel difference) stays visible.
    ``signed=False`` (intensities) keeps each block's maximum: half the work."""
    import numpy as np

    img = _finite_2d(image)
    factor = -(-max(img.shape) // max_side)
    if factor <= 1:
        return img
    rows, cols = (-(-n // factor) * factor for n in img.shape)
    if (rows, cols) != img.shape:
        padded = np.zeros((rows, cols), dtype=img.dtype)
        padded[: img.shape[0], : img.shape[1]] = img
        img = padded
    high = _block_extreme(img, factor, np.maximum)
    if not signed:
        return high.astype(np.float64)
    low = _block_extreme(img, factor, np.minimum)
    return np.where(high >= -low, high, low).astype(np.float64)


def _block_extreme(img: np.ndarray, factor: int, pick) -> np.ndarray:
    """Max (or min) over factor x factor blocks, as ``factor`` strided whole-array passes per
    axis: a reduction over a short inner axis would loop per element and be many times slower."""
    cols = img[:, 0::factor].copy()
    for k in range(1, factor):
        pick(cols, img[:, k::factor], out=cols)
    out = cols[0::factor].copy()
    for k in range(1, factor):
        pick(out, cols[k::factor], out=out)
    return out


def _finite_2d(image: np.ndarray) -> np.ndarray:
    import numpy as np

    img = np.asarray(image)
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D image (slow, fast), got shape {img.shape}")
    if not np.issubdtype(img.dtype, np.floating):
        img = img.astype(np.float64)
    return img if np.isfinite(img).all() else np.where(np.isfinite(img), img, 0.0)
