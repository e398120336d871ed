"""Beam sources (divergence x dispersion) and the spindle (phi) sampling, as nanoBragg does.

All automatic step/range rules live here as pure functions so args.py can resolve them at
parse time and tests can check them alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .vectors import cross, rotate_axis, unit

BEAM = np.array([1.0, 0.0, 0.0])           # MOSFLM beam direction
POLARIZATION_AXIS = np.array([0.0, 0.0, 1.0])
SPINDLE_AXIS = np.array([0.0, 0.0, 1.0])
SOURCE_DISTANCE_M = 10.0


def resolve_range_steps(range_: float, step: float, count: int) -> tuple[float, float, int]:
    """nanoBragg's auto rule for a sampled range (divergence h/v or dispersion).

    range_ < 0 means unset, step <= 0 unset, count <= 0 unset. Returns (range, step, count)
    after the sanity reset (anything non-positive -> one sample, range = step = 0).
    """
    range_set, step_set = range_ >= 0, step > 0
    if count <= 0:
        if not range_set and not step_set:
            count, range_ = 1, 0.0
        elif not range_set:
            range_, count = step, 2
        elif not step_set:
            step, count = range_, 2
        else:
            count = int(math.ceil(range_ / step))
    else:
        if not range_set and not step_set:
            range_ = 1.0
            step = range_ / count
        elif not range_set:
            range_, count = step, 2
        elif not step_set:
            count = max(count, 2)
            step = range_ / (count - 1)
    if range_ <= 0 or step <= 0 or count <= 0:
        return 0.0, 0.0, 1
    return range_, step, count


def resolve_phi(osc: float, phistep: float, phisteps: int) -> tuple[float, float, int]:
    """nanoBragg's phi rules (radians; osc < 0, phistep <= 0, phisteps <= 0 mean unset).

    Returns (osc, phistep, phisteps).
    """
    if phisteps <= 0:
        if osc < 0:
            if phistep <= 0:
                return 0.0, 0.0, 1
            return phistep, phistep, 2
        if phistep <= 0:
            return osc, osc / 2.0, 2
        return osc, phistep, max(1, int(math.ceil(osc / phistep)))
    if osc < 0:
        if phistep <= 0:
            osc = math.radians(1.0)
            return osc, osc / phisteps, phisteps
        return phistep, phistep, 2
    if phistep <= 0:
        return osc, osc / phisteps, phisteps
    return osc, phistep, phisteps


def phi_angles(phi0_rad: float, phistep_rad: float, phisteps: int) -> np.ndarray:
    """phi_k = phi0 + k * phistep (radians), k = 0..phisteps-1."""
    return phi0_rad + phistep_rad * np.arange(phisteps)


@dataclass(frozen=True, eq=False)
class Divergence:
    """One kept divergence direction: angles (rad) and the rotated source position (m)."""

    hdiv_rad: float
    vdiv_rad: float
    position_m: np.ndarray


def divergence_directions(hrange, hstep, hsteps, vrange, vstep, vsteps, square_div) -> list[Divergence]:
    """Source positions of the divergence grid (h outer, v inner), elliptically trimmed
    unless square_div. A zero range makes C's trim test 0/0 = NaN, which keeps the point."""
    kept = []
    v_axis = unit(cross(BEAM, POLARIZATION_AXIS))
    for hi in range(hsteps):
        for vi in range(vsteps):
            hdiv = hstep * hi - hrange / 2.0
            vdiv = vstep * vi - vrange / 2.0
            if not square_div and hrange > 0 and vrange > 0:
                test = ((hdiv ** 2 - hstep ** 2 / 4.0 * (1 - hsteps % 2)) / hrange ** 2
                        + (vdiv ** 2 - vstep ** 2 / 4.0 * (1 - vsteps % 2)) / vrange ** 2)
                if 4 * test > 1.1:
                    continue
            pos = BEAM * -SOURCE_DISTANCE_M
            pos = rotate_axis(pos, POLARIZATION_AXIS, vdiv)
            pos = rotate_axis(pos, v_axis, hdiv)
            kept.append(Divergence(hdiv, vdiv, pos))
    return kept


def wavelengths(config) -> np.ndarray:
    """lambda_j = lambda0 (1 + dispstep j - dispersion/2), metres."""
    j = np.arange(config.dispsteps)
    return config.wavelength_m * (1.0 + config.dispstep_fraction * j - config.dispersion_fraction / 2.0)


def config_divergence(config) -> list[Divergence]:
    return divergence_directions(config.hdivrange_rad, config.hdivstep_rad, config.hdivsteps,
                                 config.vdivrange_rad, config.vdivstep_rad, config.vdivsteps,
                                 config.square_div)


@dataclass(frozen=True, eq=False)
class Sources:
    """Sources in nanoBragg order (direction-major, wavelength-minor).

    incident: (n, 3) unit vectors of the incident beam (= -unit(position));
    wavelength_m: (n,); position_m: (n, 3) the printed source positions.
    """

    incident: np.ndarray
    wavelength_m: np.ndarray
    position_m: np.ndarray


def build_sources(config) -> Sources:
    dirs = config_divergence(config)
    lams = wavelengths(config)
    pos = np.array([d.position_m for d in dirs for _ in lams])
    incident = np.array([unit(p) * -1.0 for p in pos])
    return Sources(incident, np.array([lam for _ in dirs for lam in lams]), pos)


def source_count(config) -> int:
    return len(config_divergence(config)) * config.dispsteps


def spin(vector: np.ndarray, phi_rad: float) -> np.ndarray:
    """Right-handed rotation of ``vector`` about the MOSFLM spindle axis by phi."""
    return rotate_axis(vector, SPINDLE_AXIS, phi_rad)
