"""nanoBragg's random numbers: Numerical Recipes ``ran1`` and the mosaic-domain rotations.

Reproduces the C arithmetic, including its float intermediates (ran1 returns a C float, the
mosaic spread is passed as a float and the cone angle uses powf), so the domains match C.
"""
from __future__ import annotations

import math

import numpy as np

_IA, _IM, _IQ, _IR = 16807, 2147483647, 127773, 2836
_NTAB = 32
_NDIV = 1 + (_IM - 1) // _NTAB
_AM = 1.0 / _IM
_RNMX = 1.0 - 1.2e-7


class Ran1:
    """Park-Miller minimal standard generator with a Bays-Durham shuffle table.

    ``idum`` is the caller-owned seed state (as in C, a non-positive value re-initialises).
    """

    def __init__(self, idum: int):
        self.idum = int(idum)
        self._iy = 0
        self._iv = [0] * _NTAB

    def _step(self) -> None:
        # Schrage's trick: IA*idum mod IM without 32-bit overflow (C long semantics: truncation)
        k = self.idum // _IQ  # idum > 0 here, so floor == C truncation
        self.idum = _IA * (self.idum - k * _IQ) - _IR * k
        if self.idum < 0:
            self.idum += _IM

    def next(self) -> np.float32:
        """Next uniform deviate in (0, 1), as a C float."""
        if self.idum <= 0 or self._iy == 0:
            self.idum = 1 if -self.idum < 1 else -self.idum
            for j in range(_NTAB + 7, -1, -1):
                self._step()
                if j < _NTAB:
                    self._iv[j] = self.idum
            self._iy = self._iv[0]
        self._step()
        j = self._iy // _NDIV
        self._iy = self._iv[j]
        self._iv[j] = self.idum
        temp = np.float32(_AM * self._iy)
        return np.float32(_RNMX) if temp > _RNMX else temp


def axis_angle_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    """Right-handed rotation matrix (3x3) about unit ``axis`` by ``angle`` radians (entries in
    nanoBragg's order of operations)."""
    v1, v2, v3 = axis
    c, s = math.cos(angle), math.sin(angle)
    t = 1.0 - c
    return np.array([
        [c + t * v1 * v1, t * v1 * v2 - s * v3, t * v1 * v3 + s * v2],
        [t * v1 * v2 + s * v3, c + t * v2 * v2, t * v2 * v3 - s * v1],
        [t * v1 * v3 - s * v2, t * v2 * v3 + s * v1, c + t * v3 * v3],
    ])


def _random_domain(spread_rad: float, rng: Ran1) -> np.ndarray:
    r1 = 2.0 * float(rng.next()) - 1.0
    r2 = 2.0 * float(rng.next()) - 1.0
    r3 = 2.0 * float(rng.next()) - 1.0
    xyrad = math.sqrt(1.0 - r2 * r2)
    axis = np.array([xyrad * math.sin(math.pi * r1), xyrad * math.cos(math.pi * r1), r2])
    cone = np.float32(np.float32(1.0 - r3 * r3) ** np.float32(1.0 / 3.0))
    angle = float(np.float32(np.float32(spread_rad) * cone))
    return axis_angle_matrix(axis, angle)


def mosaic_rotations(spread_rad: float, domains: int, seed: int) -> np.ndarray:
    """Rotation matrices of the mosaic domains, shape (domains, 3, 3), float64.

    ``seed`` is the user's -mosaic_seed (C stores -seed as idum). Domain 0 is the identity
    (its three random numbers are still drawn). With spread 0 every domain is the identity.
    """
    mats = np.tile(np.eye(3), (domains, 1, 1))
    if spread_rad == 0:
        return mats
    rng = Ran1(-seed)
    for m in range(domains):
        mats[m] = _random_domain(spread_rad, rng)
    mats[0] = np.eye(3)
    return mats
