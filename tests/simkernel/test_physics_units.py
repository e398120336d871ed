"""Pure functions of simkernel against independently derived values."""
import math

import numpy as np
import pytest

import simkernel
from simkernel.crystal import cell_parameters, crystal_vectors
from simkernel.geometry import detector
from simkernel.rng import Ran1, mosaic_rotations
from simkernel.sources import build_sources, resolve_phi, resolve_range_steps


def _reference_ran1(seed: int, count: int) -> list[float]:
    """Numerical Recipes ran1 written out from its definition (independent of simkernel.rng)."""
    m, a = 2**31 - 1, 16807
    state = max(1, -seed)
    for _ in range(8):                    # warm-up
        state = a * state % m
    table = []
    for _ in range(32):
        state = a * state % m
        table.append(state)
    table.reverse()                       # C fills iv[31] first, iv[0] last
    last = table[0]
    out = []
    for _ in range(count):
        state = a * state % m
        j = last // (1 + (m - 1) // 32)
        last, table[j] = table[j], state
        out.append(min(float(np.float32(last / m)), float(np.float32(1 - 1.2e-7))))
    return out


def test_ran1_matches_the_park_miller_recurrence():
    rng = Ran1(-12345678)
    values = [float(rng.next()) for _ in range(20)]
    assert values == _reference_ran1(-12345678, 20)
    assert all(0 < v < 1 for v in values)


def test_mosaic_domains_are_rotations_with_identity_first():
    mats = mosaic_rotations(math.radians(0.5), 4, 12345678)
    assert np.array_equal(mats[0], np.eye(3))
    for m in mats[1:]:
        np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-14)
        angle = math.acos((np.trace(m) - 1) / 2)
        assert 0 < angle <= math.radians(0.5) + 1e-9


def test_cubic_cell_vectors():
    v = crystal_vectors((100.0, 100.0, 100.0), (math.pi / 2,) * 3)
    np.testing.assert_allclose(v.real_m, 1e-8 * np.eye(3), atol=1e-22)
    np.testing.assert_allclose(v.recip_per_angstrom, 0.01 * np.eye(3), atol=1e-16)
    assert v.volume_angstrom3 == pytest.approx(1e6)


def test_triclinic_cell_volume_lengths_and_c_quirk():
    lengths, angles_deg = (70.0, 80.0, 90.0), (75.0, 85.0, 95.0)
    ca, cb, cg = (math.cos(math.radians(x)) for x in angles_deg)
    by_hand = 70 * 80 * 90 * math.sqrt(1 - ca**2 - cb**2 - cg**2 + 2 * ca * cb * cg)
    v = crystal_vectors(lengths, tuple(math.radians(x) for x in angles_deg), tuple(math.radians(x) for x in (10, 20, 30)))
    assert v.volume_angstrom3 == pytest.approx(by_hand, rel=1e-12)
    assert v.volume_angstrom3 == pytest.approx(481811, rel=1e-6)  # printed by C (golden 05)
    params = cell_parameters(v.real_m * 1e10)
    np.testing.assert_allclose(params[:3], lengths, rtol=1e-12)
    # nanoBragg's c* formula tilts the cell a little; C prints these angles (golden 05 stdout)
    np.testing.assert_allclose(params[3:], (75.0391, 85.0136, 95.0081), atol=1e-4)
    # reciprocal vectors are the duals of the real ones (scaled by the angle-formula V)
    np.testing.assert_allclose(v.recip_per_angstrom @ (v.real_m * 1e10).T, np.eye(3) * (
        np.linalg.det(v.real_m * 1e10) / v.volume_angstrom3), atol=1e-12)


@pytest.mark.parametrize("extra, expected", [
    ([], 1),                                                     # 3*5e-8/6.2e-7 = 0.24 -> 1
    (["-lambda", "1.0", "-cell", "70", "80", "90", "75", "85", "95"], 2),  # 1.35 -> 2 (golden 05)
    (["-oversample", "3"], 3),
])
def test_auto_oversample(base_args, extra, expected):
    config = simkernel.parse_args(base_args + extra)
    assert config.oversample == expected
    assert config.oversample_auto == ("-oversample" not in extra)


def test_sources_for_dispersion_and_divergence(base_args):
    config = simkernel.parse_args(base_args + "-dispersion 2 -dispsteps 3 -divergence 0.5 -divsteps 3".split())
    sources = build_sources(config)
    assert len(sources.wavelength_m) == 15 and config.steps == 15
    directions = {tuple(np.round(i, 12)) for i in sources.incident}
    assert len(directions) == 5  # 3x3 grid with the four corners trimmed
    np.testing.assert_allclose(sources.wavelength_m[:3], 6.2e-10 * np.array([0.99, 1.0, 1.01]), rtol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(sources.incident, axis=1), 1.0)
    assert (1.0, 0.0, 0.0) in directions
    tilt = max(math.acos(min(1.0, i[0])) for i in sources.incident)
    assert tilt == pytest.approx(0.25e-3, rel=1e-9)


@pytest.mark.parametrize("args, expected", [
    ((-1.0, -1.0, -1), (0.0, 0.0, 1)),
    ((0.02, -1.0, 3), (0.02, 0.01, 3)),      # -dispersion 2 -dispsteps 3
    ((0.0, -1.0, 3), (0.0, 0.0, 1)),         # -dispsteps without -dispersion: one wavelength
    ((-1.0, -1.0, 4), (1.0, 0.25, 4)),       # steps alone: range 1 rad (as C)
    ((0.5, -1.0, -1), (0.5, 0.5, 2)),
    ((1.0, 0.3, -1), (1.0, 0.3, 4)),
])
def test_range_step_rules(args, expected):
    assert resolve_range_steps(*args) == pytest.approx(expected)


@pytest.mark.parametrize("args, expected", [
    ((-1.0, -1.0, -1), (0.0, 0.0, 1)),
    ((0.3, -1.0, -1), (0.3, 0.15, 2)),
    ((1.0, 0.25, -1), (1.0, 0.25, 4)),
    ((-1.0, -1.0, 4), (math.radians(1), math.radians(0.25), 4)),
    ((1.0, -1.0, 3), (1.0, 1 / 3, 3)),
    ((-1.0, 0.2, 5), (0.2, 0.2, 2)),
])
def test_phi_rules(args, expected):
    assert resolve_phi(*args) == pytest.approx(expected)


def test_default_geometry_and_beam_centre(base_args):
    config = simkernel.parse_args(base_args)
    assert (config.fpixels, config.spixels) == (128, 128)
    assert config.xbeam_m == pytest.approx(0.00645) and config.fbeam_m == pytest.approx(0.0065)
    np.testing.assert_allclose(detector(config).pix0_m, (0.1, 0.0065, -0.0065), atol=1e-15)
    explicit = simkernel.parse_args(base_args + ["-Xbeam", "6.45", "-Ybeam", "6.45"])
    assert explicit.sbeam_m == pytest.approx(config.sbeam_m, abs=1e-15)  # +1/2 pixel applied too
    assert (config.roi_fast, config.roi_slow) == ((0, 128), (0, 128))


def test_parse_rules(base_args):
    config = simkernel.parse_args(base_args)
    assert config.polarization_kahn == 0.0 and config.polarization_enabled
    assert config.fluence_photons_per_m2 == 1.25932015286227e29
    assert simkernel.parse_args(base_args + ["-N", "0"]).n_cells == (1, 1, 1)
    assert simkernel.parse_args(base_args + ["-lambda", "2", "-lambda", "3"]).wavelength_m == pytest.approx(3e-10)
    assert simkernel.parse_args(base_args + ["-energy", "12398.42"]).wavelength_m == pytest.approx(1e-10)
    flux = simkernel.parse_args(base_args + "-flux 1e12 -exposure 1 -beamsize 0.1".split())
    assert flux.fluence_photons_per_m2 == pytest.approx(1e20)
    mosaic = simkernel.parse_args(base_args + ["-mosaic", "0.5"])
    assert (mosaic.mosaic_domains, mosaic.mosaic_spread_rad) == (10, pytest.approx(math.radians(0.5)))
    assert simkernel.parse_args(base_args + ["-mosaic_domains", "4"]).mosaic_domains == 1
    no_pixels = base_args[:base_args.index("-detpixels")]
    sized = simkernel.parse_args(no_pixels + ["-detsize", "5", "-detpixels_s", "30"])
    assert (sized.fpixels, sized.spixels) == (50, 30)  # detsize 5 mm / 0.1 mm; detpixels wins
    assert simkernel.parse_args(base_args + ["-detsize", "5"]).fpixels == 128


def test_round_shape_factor_is_one_at_zero_and_cancels_like_c_for_residues():
    import torch
    from simkernel.kernel import _sinc3

    x = torch.tensor([0.0, 1e-17, 0.05, 0.5, 2.0], dtype=torch.float64)
    # C's formula: exactly 1 at 0, but a rounding residue cancels to 0 (sin x / x == cos x == 1)
    expected = [1.0, 0.0] + [3 * (math.sin(v) / v - math.cos(v)) / v**2 for v in (0.05, 0.5, 2.0)]
    np.testing.assert_allclose(_sinc3(x).numpy(), expected, rtol=1e-12)
    assert 3 * (math.sin(0.05) / 0.05 - math.cos(0.05)) / 0.05**2 == pytest.approx(1 - 0.05**2 / 10, rel=1e-6)
