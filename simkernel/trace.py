"""The intermediate values of one pixel, for lining simkernel up against a C program.

``trace_pixel`` returns (name, values) pairs in the order the kernel computes them, for the
pixel's first sensor layer, first subpixel (ss = sf = 0), first source and first crystal
orientation (phi step 0, mosaic domain 0), then the whole pixel's value. The C twin's
``-trace_pixel SLOW FAST`` prints the same names with the same units (``TRACE_C:`` lines;
``simkernel -trace_pixel`` prints ``TRACE_PY:``), so two traces align by name:

    subpixel_slow_fast_m      Sdet Fdet of the first subpixel (m)
    pixel_pos_m               P = pix0 + Fdet f + Sdet s (m, lab frame)
    airpath_m                 R = |P| (m)
    diffracted_dir            d = P / R
    omega_sr                  solid angle of the pixel (sr)
    capture_fraction          sensor layer 0's absorbed fraction (1 without -detector_thick)
    incident_dir              i of source 0
    lambda_m                  wavelength of source 0 (m)
    scattering_vector_per_m   S = (d - i) / lambda (1/m)
    polarization              Kahn factor for source 0 (1 with -nopolar)
    rot_a_m rot_b_m rot_c_m   crystal axes at phi step 0, mosaic domain 0 (m)
    hkl_frac                  h k l = a.S, b.S, c.S
    hkl_nearest               ceil(h - 0.5) ...
    F_latt                    lattice factor of this term
    F_cell                    structure factor of this term (electrons)
    I_term                    F_cell^2 F_latt^2
    steps                     sources x domains x phi steps x oversample^2
    fluence_photons_per_m2
    pixel_value               the whole pixel, all terms (photons)

The values come from the kernel's own pieces (its subpixel geometry, Miller indices,
lattice and structure factors, solid angle, polarisation, capture) on a 1 x 1 chunk, and the
pixel value from simulate() over that pixel alone; nothing is printed here.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from .config import SimConfig
from .geometry import subpixel_coordinates
from .kernel import _Kernel, _plan, _Subpixel, simulate

Trace = list[tuple[str, tuple[float, ...]]]


def _scalar(tensor) -> float:
    return float(tensor.reshape(-1)[0]) if hasattr(tensor, "reshape") else float(tensor)


def trace_pixel(config: SimConfig, slow: int, fast: int, device="cpu", dtype=torch.float64) -> Trace:
    """(name, values) for pixel (slow, fast) as described in the module docstring."""
    plan = _plan(config)
    kernel = _Kernel(config, plan, torch.device(device), dtype)
    n, p = config.oversample, config.pixel_size_m
    sdet = subpixel_coordinates(np.array([float(slow)]), 0, n, p)
    fdet = subpixel_coordinates(np.array([float(fast)]), 0, n, p)
    base = plan.base_points[0]
    sub = _Subpixel(base, plan.fast, plan.slow, fdet, sdet, kernel.device, dtype)
    position = (plan.fast * fdet[0] + plan.slow * sdet[0]) + base
    airpath = math.sqrt(float(position @ position))
    direction = [_scalar(d) for d in sub.direction()]
    incident, wavelength = plan.incident[0], float(plan.wavelength_m[0])
    scattering = sub.scattering(incident, wavelength)
    cell = plan.real_m[0]
    hkl = kernel._indices(scattering, cell)
    capture = 1.0
    if config.detector_thick_m > 0 and config.detector_mu_per_m > 0:
        capture = _scalar(kernel.capture(sub, 0))
    polar = _scalar(kernel.polarization(sub, incident)) if config.polarization_enabled else 1.0
    f_latt = _scalar(kernel._shaped_lattice([h.clone() for h in hkl]))
    f_cell = _scalar(kernel._structure_factor(hkl)) if config.hkl is not None else config.default_F
    alone = dataclasses.replace(config, roi_fast=(fast, fast), roi_slow=(slow, slow))
    inside = (config.roi_fast[0] <= fast <= config.roi_fast[1]) and (config.roi_slow[0] <= slow <= config.roi_slow[1])
    value = _scalar(simulate(alone, device=device, dtype=dtype)[slow, fast]) if inside else 0.0
    return [
        ("subpixel_slow_fast_m", (float(sdet[0]), float(fdet[0]))),
        ("pixel_pos_m", tuple(float(x) for x in position)),
        ("airpath_m", (airpath,)),
        ("diffracted_dir", tuple(direction)),
        ("omega_sr", (_scalar(kernel.omega(sub)),)),
        ("capture_fraction", (capture,)),
        ("incident_dir", tuple(float(x) for x in incident)),
        ("lambda_m", (wavelength,)),
        ("scattering_vector_per_m", tuple(_scalar(s) for s in scattering)),
        ("polarization", (polar,)),
        ("rot_a_m", tuple(float(x) for x in cell[0])),
        ("rot_b_m", tuple(float(x) for x in cell[1])),
        ("rot_c_m", tuple(float(x) for x in cell[2])),
        ("hkl_frac", tuple(_scalar(h) for h in hkl)),
        ("hkl_nearest", tuple(float(np.ceil(_scalar(h) - 0.5)) for h in hkl)),
        ("F_latt", (f_latt,)),
        ("F_cell", (f_cell,)),
        ("I_term", (f_cell * f_cell * f_latt * f_latt,)),
        ("steps", (float(config.steps),)),
        ("fluence_photons_per_m2", (config.fluence_photons_per_m2,)),
        ("pixel_value", (value,)),
    ]


def format_trace(trace: Trace, prefix: str = "TRACE_PY") -> list[str]:
    """``PREFIX: name v1 v2 ...`` lines, values with 17 significant digits (like the C twin)."""
    return [f"{prefix}: {name} " + " ".join("%.17g" % v for v in values) for name, values in trace]


def parse_trace(lines, prefix: str) -> dict[str, tuple[float, ...]]:
    """``PREFIX: name values`` lines (other lines ignored) -> {name: values}."""
    out = {}
    for line in lines:
        if line.startswith(prefix + ": "):
            name, *values = line[len(prefix) + 2:].split()
            out[name] = tuple(float(v) for v in values)
    return out
