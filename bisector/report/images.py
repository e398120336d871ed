"""PNG renderings of detector images for the report: log-scaled intensity, signed differences.

Rows are the slow index, columns the fast index (the float file's order), so the PNG
shows the detector as nanoBragg's own PGM does.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import atomic_write

if TYPE_CHECKING:
    import numpy as np

# Intensities span many decades (Bragg peaks over a weak background): show 3 of them.
_LOG_DECADES = 3
# A 4096^2 detector is more pixels than a screen shows and tens of MB as PNG: larger images
# are reduced to at most this many pixels per side before rendering.
MAX_SIDE = 1024


def intensity_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (slow, fast, 3) grey levels: log scale over the top 3 decades, 0 -> black, max -> white."""
    import numpy as np

    img = _finite_2d(image)
    top = img.max(initial=0.0)
    if top <= 0:
        grey = np.zeros(img.shape)
    else:
        floor = top * 10.0 ** -_LOG_DECADES
        grey = np.log1p(np.clip(img, 0, None) / floor) / np.log1p(top / floor)
    level = np.round(255 * grey).astype(np.uint8)
    return np.repeat(level[:, :, None], 3, axis=2)


def difference_rgb(diff: np.ndarray) -> np.ndarray:
    """uint8 (slow, fast, 3): white at 0, red for positive, blue for negative, linear in |diff|."""
    import numpy as np

    d = _finite_2d(diff)
    scale = np.abs(d).max(initial=0.0)
    t = d / scale if scale > 0 else np.zeros(d.shape)
    rgb = np.stack([1 - np.clip(-t, 0, 1), 1 - np.abs(t), 1 - np.clip(t, 0, 1)], axis=2)
    return np.round(255 * rgb).astype(np.uint8)


def save_png(path: Path, image: np.ndarray, *, signed: bool = False) -> Path:
    """Write ``image`` (2-D) as a PNG; ``signed`` selects the difference colouring."""
    from PIL import Image

    small = reduce_for_display(image)
    rgb = difference_rgb(small) if signed else intensity_rgb(small)
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="PNG")
    atomic_write(Path(path), buf.getvalue())
    return Path(path)


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
