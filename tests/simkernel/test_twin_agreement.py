"""simkernel (PyTorch, float64) and the C twin agree on seeded random scenarios, one theme each.

Each scenario is a small detector (24-48 pixels a side) with a random crystal and
geometry plus one "theme" of flags, so that together the scenarios span every flag
both programs implement (test_twin_combinations.py combines many flags per scenario). The seed is fixed for reproducible CI runs; set
SIMKERNEL_AGREEMENT_SEED to explore other draws.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

import simkernel
from simkernel import cref

BASE_SEED = int(os.environ.get("SIMKERNEL_AGREEMENT_SEED", "20240611"))
MIN_CORRELATION = 0.99999
MAX_SUM_ERROR = 1e-5
MAX_REL_ERROR = 1e-6  # per pixel, over pixels above 1e-3 of the maximum


def _num(x: float) -> str:
    return f"{x:.6g}"


def _crystal(rng: np.random.Generator, triclinic: bool) -> list[str]:
    lengths = rng.uniform(40.0, 110.0, size=3)
    angles = rng.uniform(80.0, 100.0, size=3) if triclinic else np.full(3, 90.0)
    args = ["-cell", *map(_num, lengths), *map(_num, angles)]
    if rng.random() < 0.5:
        args += ["-N", str(rng.integers(3, 7))]
    else:
        args += ["-Na", str(rng.integers(3, 7)), "-Nb", str(rng.integers(3, 7)),
                 "-Nc", str(rng.integers(3, 7))]
    return args


def _geometry(rng: np.random.Generator, by_detsize: bool) -> list[str]:
    args = ["-distance", _num(rng.uniform(60.0, 200.0)), "-pixel", _num(rng.uniform(0.08, 0.2))]
    if by_detsize:  # pixel count = ceil(detsize/pixel - 0.5)
        args += ["-detsize", _num(rng.uniform(3.0, 6.0))]
    elif rng.random() < 0.5:
        args += ["-detpixels", str(rng.integers(24, 49))]
    else:
        args += ["-detpixels_f", str(rng.integers(24, 49)), "-detpixels_s", str(rng.integers(24, 49))]
    return args


def _misset(rng: np.random.Generator) -> list[str]:
    return ["-misset", *map(_num, rng.uniform(-40.0, 40.0, size=3))]


def write_hkl(path: Path, rng: np.random.Generator) -> Path:
    """A P1 table of integer h k l in -3..3 with random F (some entries missing)."""
    lines = []
    for h in range(-3, 4):
        for k in range(-3, 4):
            for l in range(-3, 4):
                if rng.random() < 0.85:
                    lines.append(f"{h} {k} {l} {rng.uniform(1.0, 300.0):.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


# Each theme adds the flags it exercises; the caller adds crystal and geometry.
THEMES = {
    "square_misset": lambda r, hkl: _misset(r),
    "round_fudge": lambda r, hkl: ["-round_xtal", "-fudge", _num(r.uniform(0.5, 2.0))],
    # odd pixel count, default beam centre: one pixel centre sits exactly on the direct
    # beam, where S = 0 and the round shape's sinc3(0) = 1
    "round_direct_beam": lambda r, hkl: ["-round_xtal", "-detpixels", str(2 * r.integers(12, 24) + 1)],
    "gauss_fudge": lambda r, hkl: ["-gauss_xtal", "-fudge", _num(r.uniform(0.5, 2.0)), *_misset(r)],
    "tophat_fudge": lambda r, hkl: ["-tophat_spots", "-fudge", _num(r.uniform(0.3, 1.0))],
    "hkl_misset": lambda r, hkl: ["-hkl", str(hkl), *_misset(r)],
    "hkl_round": lambda r, hkl: ["-hkl", str(hkl), "-round_xtal"],
    "oversample": lambda r, hkl: ["-oversample", str(r.integers(2, 4))],
    "oversample_omega": lambda r, hkl: ["-oversample", "2", "-oversample_omega"],
    "oversample_polar": lambda r, hkl: ["-oversample", "2", "-oversample_polar",
                                        "-polar", _num(r.uniform(0.2, 1.0))],
    "oversample_thick": lambda r, hkl: ["-oversample", "2", "-oversample_thick"],
    "roi": lambda r, hkl: ["-roi", str(r.integers(0, 6)), str(r.integers(14, 23)),
                           str(r.integers(0, 6)), str(r.integers(14, 23))],
    "phi_osc_steps": lambda r, hkl: ["-phi", _num(r.uniform(0.0, 20.0)),
                                     "-osc", _num(r.uniform(0.5, 3.0)), "-phisteps", str(r.integers(2, 5))],
    "phi_zero_phistep": lambda r, hkl: ["-phi", "0", "-osc", "2", "-phistep", "0.5"],
    "mosaic_domains_seed": lambda r, hkl: ["-mosaic", _num(r.uniform(0.1, 2.0)),
                                           "-mosaic_domains", str(r.integers(2, 7)),
                                           "-mosaic_seed", str(r.integers(1, 10**6))],
    "mosaic_auto_domains": lambda r, hkl: ["-mosaic", _num(r.uniform(0.1, 1.0))],
    "dispersion": lambda r, hkl: ["-dispersion", _num(r.uniform(0.5, 5.0)), "-dispsteps", str(r.integers(2, 5))],
    "divergence": lambda r, hkl: ["-divergence", _num(r.uniform(0.2, 2.0)), "-divsteps", str(r.integers(2, 5))],
    "hv_divergence_square": lambda r, hkl: ["-hdivrange", _num(r.uniform(0.2, 2.0)), "-hdivsteps", "3",
                                            "-vdivrange", _num(r.uniform(0.2, 2.0)), "-vdivsteps", "2",
                                            "-square_div"],
    "hv_divstep": lambda r, hkl: ["-hdivrange", "1.0", "-hdivstep", "0.5",
                                  "-vdivrange", "0.6", "-vdivstep", "0.3"],
    "flux_exposure_beamsize": lambda r, hkl: ["-flux", _num(10 ** r.uniform(10, 13)),
                                              "-exposure", _num(r.uniform(0.1, 10.0)),
                                              "-beamsize", _num(r.uniform(0.01, 0.5))],
    "fluence": lambda r, hkl: ["-fluence", _num(10 ** r.uniform(20, 26))],
    "beam_centre": lambda r, hkl: ["-Xbeam", _num(r.uniform(1.0, 3.0)), "-Ybeam", _num(r.uniform(1.0, 3.0))],
    "detector_thickness": lambda r, hkl: ["-detector_thick", _num(r.uniform(20.0, 300.0)),
                                          "-detector_abs", _num(r.uniform(20.0, 500.0)),
                                          "-thicksteps", str(r.integers(2, 5)),
                                          *(["-oversample", "2", "-oversample_thick"] if r.random() < 0.5 else [])],
    "point_pixel_nopolar": lambda r, hkl: ["-point_pixel", "-nopolar"],
    "kahn_polar": lambda r, hkl: ["-polar", _num(r.uniform(0.0, 1.0)), *_misset(r)],
    "energy_detsize": lambda r, hkl: ["-energy", _num(r.uniform(2000.0, 15000.0))],
    "everything": lambda r, hkl: ["-hkl", str(hkl), "-mosaic", "0.5", "-mosaic_domains", "3",
                                  "-phi", "1", "-osc", "1", "-phisteps", "2", "-dispersion", "1",
                                  "-dispsteps", "2", "-oversample", "2", "-polar", "0.7", *_misset(r)],
}
SCENARIOS = list(THEMES)
HKL_THEMES = {"hkl_misset", "hkl_round", "everything"}


def scenario_argv(index: int, hkl: Path) -> list[str]:
    """The argv of scenario `index` (deterministic for a given BASE_SEED)."""
    theme = SCENARIOS[index]
    rng = np.random.default_rng([BASE_SEED, index])
    by_energy = theme == "energy_detsize"
    argv = [*_crystal(rng, triclinic=rng.random() < 0.5), *_geometry(rng, by_detsize=by_energy)]
    if not by_energy:
        argv += ["-lambda", _num(rng.uniform(0.8, 6.5))]
    if theme not in HKL_THEMES:
        argv += ["-default_F", _num(rng.uniform(5.0, 200.0))]
    elif rng.random() < 0.5:  # F outside the table
        argv += ["-default_F", _num(rng.uniform(1.0, 20.0))]
    return argv + THEMES[theme](rng, hkl)


@pytest.fixture(scope="module")
def hkl_file(tmp_path_factory) -> Path:
    return write_hkl(tmp_path_factory.mktemp("hkl") / "random.hkl", np.random.default_rng(BASE_SEED))


def test_scenarios_cover_enough_cases():
    assert len(SCENARIOS) >= 20


@pytest.mark.parametrize("index", range(len(SCENARIOS)), ids=SCENARIOS)
def test_simkernel_agrees_with_c_twin(index, hkl_file):
    argv = scenario_argv(index, hkl_file)
    twin = cref.simulate(argv).astype(np.float64)
    assert twin.std() > 0, f"degenerate scenario (flat twin image): {' '.join(argv)}"

    config = simkernel.parse_args(argv)
    torch_image = simkernel.simulate(config, device="cpu", dtype=torch.float64)
    ported = torch_image.detach().cpu().numpy().astype(np.float64)

    context = f"argv: {' '.join(argv)}"
    assert ported.shape == twin.shape, context
    corr = np.corrcoef(ported.ravel(), twin.ravel())[0, 1]
    sum_error = abs(ported.sum() / twin.sum() - 1.0)
    assert corr >= MIN_CORRELATION, f"correlation {corr:.9f}; {context}"
    bright = twin > 1e-3 * twin.max()
    rel = np.max(np.abs(ported[bright] - twin[bright]) / twin[bright])
    assert rel <= MAX_REL_ERROR, f"max relative error {rel:.3g} over bright pixels; {context}"
    assert sum_error <= MAX_SUM_ERROR, (
        f"sum simkernel {ported.sum():.9g} vs C twin {twin.sum():.9g} "
        f"(relative {sum_error:.3g}); {context}"
    )
