"""Crystal: unit cell -> reciprocal and real-space vectors (nanoBragg's construction).

Conventions: reciprocal vectors in 1/Angstrom (used by the round/gauss/tophat shapes),
real-space vectors in metres (used for the Miller indices h = a.S with S in 1/m).
The c* formula is copied from nanoBragg as written (its third component is
|c*| V/(abc sin gamma*)), so triclinic cells come out slightly different from the textbook
cell, exactly as in C (the printed "Unit Cell" then shows e.g. 75.0391 for 75 degrees).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .vectors import cross, rotate_xyz, unit


@dataclass(frozen=True, eq=False)
class CrystalVectors:
    """real_m: rows a, b, c in metres (3x3). recip_per_angstrom: rows a*, b*, c* (3x3)."""

    real_m: np.ndarray
    recip_per_angstrom: np.ndarray
    volume_angstrom3: float


def cell_volume(lengths: tuple[float, float, float], angles_rad: tuple[float, float, float]) -> float:
    """Cell volume in cubic Angstrom from lengths (A) and angles (rad)."""
    a, b, c = lengths
    al, be, ga = angles_rad
    s = (al + be + ga) / 2
    return 2 * a * b * c * math.sqrt(abs(math.sin(s) * math.sin(s - al) * math.sin(s - be) * math.sin(s - ga)))


def default_reciprocal(lengths, angles_rad) -> tuple[np.ndarray, float]:
    """nanoBragg's default-orientation reciprocal vectors (rows a*, b*, c* in 1/A) and V (A^3)."""
    a, b, c = lengths
    al, be, ga = angles_rad
    v = cell_volume(lengths, angles_rad)
    a_len, b_len, c_len = b * c * math.sin(al) / v, c * a * math.sin(be) / v, a * b * math.sin(ga) / v
    cos_al_s = (math.cos(be) * math.cos(ga) - math.cos(al)) / (math.sin(be) * math.sin(ga))
    cos_be_s = (math.cos(ga) * math.cos(al) - math.cos(be)) / (math.sin(ga) * math.sin(al))
    cos_ga_s = (math.cos(al) * math.cos(be) - math.cos(ga)) / (math.sin(al) * math.sin(be))
    sin_ga_s = c / (v * a_len * b_len)
    recip = np.array([
        [a_len, 0.0, 0.0],
        [b_len * cos_ga_s, b_len * sin_ga_s, 0.0],
        [c_len * cos_be_s, c_len * (cos_al_s - cos_be_s * cos_ga_s) / sin_ga_s,
         c_len * v / (a * b * c * sin_ga_s)],
    ])
    return recip, v


def crystal_vectors(lengths, angles_rad, misset_rad=None) -> CrystalVectors:
    """Real (m) and reciprocal (1/A) vectors as nanoBragg builds them (its order of operations)."""
    recip, v = default_reciprocal(lengths, angles_rad)
    if misset_rad is not None:
        recip = np.array([rotate_xyz(row, *misset_rad) for row in recip])
    a_s, b_s, c_s = recip
    real = np.array([
        unit(cross(b_s, c_s)) * lengths[0],
        unit(cross(c_s, a_s)) * lengths[1],
        unit(cross(a_s, b_s)) * lengths[2],
    ])
    a, b, c = real
    recip = np.array([cross(b, c), cross(c, a), cross(a, b)]) * (1.0 / v)
    return CrystalVectors(real * 1e-10, recip, v)


def cell_parameters(vectors: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """Lengths and angles (degrees) of three row vectors: a, b, c, alpha, beta, gamma."""
    a, b, c = vectors
    la, lb, lc = (float(np.linalg.norm(x)) for x in (a, b, c))

    def angle(u, w, lu, lw):
        return math.degrees(math.acos(max(-1.0, min(1.0, float(np.dot(u, w)) / (lu * lw)))))

    return la, lb, lc, angle(b, c, lb, lc), angle(c, a, lc, la), angle(a, b, la, lb)


def recommended_oversample(real_m: np.ndarray, n_cells, wavelength_m: float, distance_m: float,
                           pixel_size_m: float) -> int:
    """nanoBragg's automatic oversample: ceil(3 * largest crystal edge / reciprocal pixel size)."""
    xtal_max = max(float(np.linalg.norm(v)) * n for v, n in zip(real_m, n_cells))
    reciprocal_pixel = wavelength_m * distance_m / pixel_size_m
    return max(1, int(math.ceil(3 * xtal_max / reciprocal_pixel)))
