"""simkernel (float64) against the C twin on seeded random scenarios that combine many flags.

Every scenario draws a triclinic-or-not cell, misset, crystal size and shape, structure
factors, wavelength, detector geometry, oversampling (and its -oversample_* switches), ROI,
beam centre, mosaic, divergence, dispersion, phi, polarisation and sensor thickness at once,
each with its own probability, on a tiny detector; a cost guard keeps every scenario small.
Judged pixel by pixel in float64: over pixels above 1e-3 of the maximum the relative error
of simkernel's float64 image must stay within 1e-6 (the twin writes float32, so ~6e-8 is its
rounding floor), and the correlation of the two float32 images must reach 0.999999. A failure prints the seed, the index and the command line to replay.
Set SIMKERNEL_COMBO_SEED to explore other draws.

The documented differences (docs/simkernel.md) are excluded by name, never by tolerance; the
generator refuses to draw them (see EXCLUDED).
"""
from __future__ import annotations

import math
import os
import shlex
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch

import simkernel
from simkernel import cref
from simkernel.crystal import cell_volume

BASE_SEED = int(os.environ.get("SIMKERNEL_COMBO_SEED", "20261128"))
SCENARIOS = 48
MAX_REL_ERROR = 1e-6
MIN_CORRELATION = 0.999999
BRIGHT_FRACTION = 1e-3
MAX_INNER_STEPS = 48          # subpixels x sources x orientations x layers per pixel
MAX_PIXELS = 28 * 28

EXCLUDED = {
    "tricubic_interpolation": "the twin refuses tricubic interpolation (-interpolate, or -hkl with any "
                              "N <= 2); simkernel interpolates, and at the table edges it uses default_F "
                              "point by point where nanoBragg switches interpolation off for the rest of "
                              "the run",
    "phi0_carry_over": "nanoBragg reuses the previous pixel's rotation at phi = 0; simkernel and the twin "
                       "both rotate correctly, so this is not a twin difference (checked against the "
                       "golden case 07 instead)",
}


def _num(x: float) -> str:
    return f"{x:.6g}"


def _cell(rng: np.random.Generator) -> list[str]:
    lengths = rng.uniform(40.0, 110.0, size=3)
    while True:
        angles = rng.uniform(60.0, 120.0, size=3) if rng.random() < 0.75 else np.full(3, 90.0)
        # keep cells whose volume is not nearly flat (real nanoBragg cells)
        if cell_volume(tuple(lengths), tuple(np.radians(angles))) > 0.4 * lengths.prod():
            return ["-cell", *map(_num, lengths), *map(_num, angles)]


def _crystal(rng, hkl: Path) -> list[str]:
    args = _cell(rng)
    if rng.random() < 0.7:
        args += ["-misset", *map(_num, rng.uniform(-180.0, 180.0, size=3))]
    if rng.random() < 0.5:
        args += ["-N", str(rng.integers(3, 7))]
    else:
        args += [x for axis in ("a", "b", "c") for x in (f"-N{axis}", str(rng.integers(3, 7)))]
    shape = rng.choice(["square", "square", "round", "gauss", "tophat"])
    if shape != "square":
        args += {"round": ["-round_xtal"], "gauss": ["-gauss_xtal"], "tophat": ["-tophat_spots"]}[shape]
        if rng.random() < 0.5:
            args += ["-fudge", _num(rng.uniform(0.3, 2.0))]
    if rng.random() < 0.4:  # N >= 3 everywhere: no tricubic interpolation (EXCLUDED)
        args += ["-hkl", str(hkl)]
        if rng.random() < 0.5:
            args += ["-default_F", _num(rng.uniform(1.0, 20.0))]
    else:
        args += ["-default_F", _num(rng.uniform(5.0, 200.0))]
    return args


def _beam(rng) -> list[str]:
    args = (["-lambda", _num(rng.uniform(0.8, 3.0))] if rng.random() < 0.8
            else ["-energy", _num(rng.uniform(4000.0, 15000.0))])
    if rng.random() < 0.25:
        args += ["-dispersion", _num(rng.uniform(0.5, 4.0)), "-dispsteps", str(rng.integers(2, 4))]
    if rng.random() < 0.25:
        if rng.random() < 0.5:
            args += ["-divergence", _num(rng.uniform(0.2, 2.0)), "-divsteps", str(rng.integers(2, 4))]
        else:
            args += ["-hdivrange", _num(rng.uniform(0.2, 2.0)), "-hdivsteps", str(rng.integers(2, 4)),
                     "-vdivrange", _num(rng.uniform(0.2, 2.0)), "-vdivsteps", str(rng.integers(1, 3))]
        if rng.random() < 0.3:
            args += ["-square_div"]
    roll = rng.random()
    if roll < 0.3:
        args += ["-polar", _num(rng.uniform(0.0, 1.0))]
    elif roll < 0.4:
        args += ["-nopolar"]
    if rng.random() < 0.1:
        args += ["-flux", _num(10 ** rng.uniform(10, 13)), "-exposure", _num(rng.uniform(0.1, 5.0)),
                 "-beamsize", _num(rng.uniform(0.02, 0.5))]
    elif rng.random() < 0.1:
        args += ["-fluence", _num(10 ** rng.uniform(20, 26))]
    return args


def _detector(rng) -> list[str]:
    fast, slow = int(rng.integers(12, 29)), int(rng.integers(12, 29))
    pixel = rng.uniform(0.08, 0.2)
    args = ["-distance", _num(rng.uniform(40.0, 150.0)), "-pixel", _num(pixel),
            "-detpixels_f", str(fast), "-detpixels_s", str(slow)]
    if rng.random() < 0.3:
        args += ["-Xbeam", _num(rng.uniform(0.2, 0.8) * slow * pixel),
                 "-Ybeam", _num(rng.uniform(0.2, 0.8) * fast * pixel)]
    if rng.random() < 0.3:
        x0, y0 = int(rng.integers(0, fast // 2)), int(rng.integers(0, slow // 2))
        args += ["-roi", str(x0), str(int(rng.integers(x0, fast + 2))), str(y0), str(int(rng.integers(y0, slow + 2)))]
    if rng.random() < 0.7:
        args += ["-oversample", str(rng.integers(1, 4))]
    for switch in ("-oversample_omega", "-oversample_polar", "-oversample_thick"):
        if rng.random() < 0.12:
            args += [switch]
    if rng.random() < 0.1:
        args += ["-point_pixel"]
    if rng.random() < 0.15:
        args += ["-detector_thick", _num(rng.uniform(20.0, 300.0)), "-thicksteps", str(rng.integers(1, 4))]
        if rng.random() < 0.7:
            args += ["-detector_abs", _num(rng.uniform(20.0, 500.0)) if rng.random() < 0.8 else "0"]
    return args


def _rotation(rng) -> list[str]:
    args = []
    if rng.random() < 0.35:
        args += ["-phi", _num(rng.uniform(0.0, 30.0)) if rng.random() < 0.7 else "0",
                 "-osc", _num(rng.uniform(0.2, 3.0)), "-phisteps", str(rng.integers(2, 4))]
    if rng.random() < 0.3:
        args += ["-mosaic", _num(rng.uniform(0.1, 2.0)), "-mosaic_seed", str(rng.integers(1, 10**6))]
        if rng.random() < 0.8:
            args += ["-mosaic_domains", str(rng.integers(2, 5))]
    return args


def _inner_steps(config) -> int:
    return config.steps * config.thicksteps


@lru_cache(maxsize=None)
def scenario_argv(index: int, hkl: Path) -> list[str]:
    """The command line of scenario ``index`` (deterministic for BASE_SEED), within the cost guard."""
    rng = np.random.default_rng([BASE_SEED, index])
    while True:
        argv = [*_crystal(rng, hkl), *_beam(rng), *_detector(rng), *_rotation(rng)]
        config = simkernel.parse_args(argv)
        if _inner_steps(config) <= MAX_INNER_STEPS and config.fpixels * config.spixels <= MAX_PIXELS:
            assert not config.interpolate, "EXCLUDED: tricubic_interpolation"
            return argv


def write_hkl(path: Path, rng: np.random.Generator) -> Path:
    """A P1 table of integer h k l in -4..4 with random F (some entries missing)."""
    lines = [f"{h} {k} {l} {rng.uniform(1.0, 300.0):.3f}"
             for h in range(-4, 5) for k in range(-4, 5) for l in range(-4, 5) if rng.random() < 0.85]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def hkl_file(tmp_path_factory) -> Path:
    return write_hkl(tmp_path_factory.mktemp("hkl") / "random.hkl", np.random.default_rng(BASE_SEED))


def judge(ported: np.ndarray, twin: np.ndarray) -> tuple[float, float]:
    """(max relative error over bright pixels, correlation); (0, 1) for two blank images.

    Pixels that overflow (e.g. -point_pixel with -oversample_omega multiplies the running
    sum by 1/R^2 per term) must overflow in both, to the same infinity; the rest is judged.
    """
    finite = np.isfinite(twin)
    with np.errstate(over="ignore"):
        stored = ported.astype(np.float32).astype(np.float64)  # what a float32 file would hold
    if not np.array_equal(finite, np.isfinite(stored)) or not np.array_equal(stored[~finite], twin[~finite]):
        return math.inf, 0.0
    ported, stored, twin = (np.where(finite, x, 0.0) for x in (ported, stored, twin))
    peak = twin.max()
    if peak <= 0:
        return (0.0 if not ported.any() else math.inf), 1.0
    bright = twin > BRIGHT_FRACTION * peak
    rel = float(np.max(np.abs(ported[bright] - twin[bright]) / twin[bright]))
    # correlation of like with like (both float32 images): on a nearly flat image (a broad
    # tophat spot) the twin's float32 rounding alone would cost ~5e-7 of correlation
    if stored.std() == 0 or twin.std() == 0:
        return rel, 1.0 if np.array_equal(stored, twin) else 0.0
    return rel, float(np.corrcoef(stored.ravel(), twin.ravel())[0, 1])


def test_scenarios_combine_many_flags(hkl_file):
    """The draws really combine flags: most scenarios set several of the risky ones at once."""
    risky = ("-misset", "-oversample", "-roi", "-Xbeam", "-mosaic", "-phi", "-divergence", "-hdivrange",
             "-dispersion", "-round_xtal", "-gauss_xtal", "-tophat_spots", "-hkl", "-detector_thick")
    counts = [sum(flag in scenario_argv(i, hkl_file) for flag in risky) for i in range(SCENARIOS)]
    assert SCENARIOS >= 40
    assert sum(c >= 3 for c in counts) >= SCENARIOS // 2, counts
    triclinic_misset_oversampled = 0
    for i in range(SCENARIOS):
        config = simkernel.parse_args(scenario_argv(i, hkl_file))
        if config.misset_rad and config.oversample > 1 and any(abs(a - math.pi / 2) > 1e-9 for a in config.cell_angles_rad):
            triclinic_misset_oversampled += 1
    assert triclinic_misset_oversampled >= 5


@pytest.mark.parametrize("index", range(SCENARIOS))
def test_simkernel_matches_twin_pixel_by_pixel(index, hkl_file):
    argv = scenario_argv(index, hkl_file)
    replay = f"seed {BASE_SEED} scenario {index}; replay: simkernel {shlex.join(argv)}"
    twin = cref.simulate(argv).astype(np.float64)
    ported = simkernel.simulate(simkernel.parse_args(argv), dtype=torch.float64).numpy()
    assert ported.shape == twin.shape, replay
    rel, corr = judge(ported, twin)
    assert rel <= MAX_REL_ERROR, f"max relative error {rel:.3g} over bright pixels; {replay}"
    assert corr >= MIN_CORRELATION, f"correlation {corr:.9f}; {replay}"
