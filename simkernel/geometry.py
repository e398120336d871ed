"""Detector geometry: MOSFLM convention, BEAM pivot, no detector rotations.

Lengths in metres. Fast index F / slow index S are 0-based pixel indices.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FAST_AXIS = np.array([0.0, 0.0, 1.0])
SLOW_AXIS = np.array([0.0, -1.0, 0.0])
NORMAL_AXIS = np.array([1.0, 0.0, 0.0])
BEAM_AXIS = np.array([1.0, 0.0, 0.0])


def pixel_counts(detsize_m: float, pixel_size_m: float) -> int:
    """nanoBragg: ceil(detsize / pixel - 0.5)."""
    return int(np.ceil(detsize_m / pixel_size_m - 0.5))


@dataclass(frozen=True, eq=False)
class Detector:
    """Detector frame: pix0 (sample -> corner of pixel (0,0)), unit axes, close distance (m)."""

    pix0_m: np.ndarray
    fast: np.ndarray
    slow: np.ndarray
    normal: np.ndarray
    close_distance_m: float


def detector(config) -> Detector:
    """BEAM pivot: pix0 = -Fbeam f - Sbeam s + distance b."""
    pix0 = -config.fbeam_m * FAST_AXIS - config.sbeam_m * SLOW_AXIS + config.distance_m * BEAM_AXIS
    return Detector(pix0, FAST_AXIS, SLOW_AXIS, NORMAL_AXIS, float(pix0 @ NORMAL_AXIS))


def subpixel_coordinates(index: np.ndarray, sub: int, oversample: int, pixel_size_m: float) -> np.ndarray:
    """Position (m) along one detector axis of subpixel ``sub`` of the pixels ``index``:
    q (index n + sub) + q/2 with q = pixel / n."""
    q = pixel_size_m / oversample
    return q * (index * oversample + sub) + q / 2.0


def layer_offsets(config) -> np.ndarray:
    """Odet of each sensor layer (m); a single layer at 0 without thickness."""
    return config.thickstep_m * np.arange(config.thicksteps)
