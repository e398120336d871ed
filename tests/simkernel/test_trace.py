"""-trace_pixel: simkernel's trace (TRACE_PY) and the C twin's (TRACE_C) line up by name."""
from pathlib import Path

import numpy as np
import pytest

import simkernel
from simkernel import cref
from simkernel.cli import main
from simkernel.trace import format_trace, parse_trace, trace_pixel

GOLDEN_HKL = Path(__file__).resolve().parents[1] / "data" / "golden" / "small.hkl"
NAMES = ["subpixel_slow_fast_m", "pixel_pos_m", "airpath_m", "diffracted_dir", "omega_sr", "capture_fraction",
         "incident_dir", "lambda_m", "scattering_vector_per_m", "polarization", "rot_a_m", "rot_b_m", "rot_c_m",
         "hkl_frac", "hkl_nearest", "F_latt", "F_cell", "I_term", "steps", "fluence_photons_per_m2", "pixel_value"]

CASES = {
    "triclinic_misset_hkl_mosaic_phi": f"-hkl {GOLDEN_HKL} -default_F 3 -cell 70 80 90 80 95 110 -misset 10 20 30 "
                                       "-N 4 -lambda 1.2 -detpixels 24 -oversample 2 -mosaic 0.5 -mosaic_domains 2 "
                                       "-phi 3 -osc 1 -phisteps 2 -polar 0.6 -divergence 0.3 -divsteps 2 "
                                       "-trace_pixel 5 17",
    "round_thick_point_pixel": "-cell 60 70 80 90 90 90 -default_F 20 -round_xtal -fudge 0.8 -N 5 -lambda 1.5 "
                               "-detpixels_f 16 -detpixels_s 12 -detector_thick 100 -thicksteps 3 -point_pixel "
                               "-dispersion 1 -dispsteps 2 -trace_pixel 11 3",
    "gauss_outside_roi": "-cell 50 50 50 90 90 90 -default_F 10 -gauss_xtal -N 3 -lambda 2 -detpixels 10 "
                         "-roi 0 4 0 4 -misset 5 -5 5 -trace_pixel 8 8",
}


def _agree(ours: tuple, theirs: tuple, rel: float = 1e-9) -> bool:
    scale = max([abs(v) for v in theirs] + [1e-300])
    return len(ours) == len(theirs) and all(abs(a - b) <= rel * scale for a, b in zip(ours, theirs))


@pytest.mark.parametrize("name", CASES)
def test_python_and_c_traces_agree_by_name(name, tmp_path):
    argv = CASES[name].split()
    twin = cref.run(argv, tmp_path)
    assert twin.returncode == 0, twin.stderr
    theirs = parse_trace(twin.stdout.splitlines(), "TRACE_C")
    config, options = simkernel.parse_command_line(argv)
    ours_list = trace_pixel(config, *options.trace_pixel)
    assert [n for n, _ in ours_list] == NAMES == list(theirs)
    ours = dict(ours_list)
    bad = {n: (ours[n], theirs[n]) for n in NAMES if not _agree(ours[n], theirs[n])}
    assert bad == {}
    if name == "gauss_outside_roi":
        assert ours["pixel_value"] == (0.0,)
    else:
        assert ours["pixel_value"][0] > 0 and ours["I_term"][0] > 0


def test_the_trace_is_the_kernel_and_a_change_shows_in_it():
    """The traced pixel value is the image's, and the trace moves with the physics."""
    argv = CASES["round_thick_point_pixel"].split()
    config, options = simkernel.parse_command_line(argv)
    trace = dict(trace_pixel(config, *options.trace_pixel))
    image = simkernel.simulate(config).numpy()
    assert trace["pixel_value"][0] == pytest.approx(image[11, 3], rel=1e-12)
    moved = dict(trace_pixel(simkernel.parse_args(argv + ["-lambda", "1.6"]), 11, 3))
    assert moved["lambda_m"][0] == pytest.approx(1.6e-10 * (1 - 0.01 / 2))  # first of 2 wavelengths, 1%
    assert not np.allclose(moved["hkl_frac"], trace["hkl_frac"])


def test_command_line_prints_trace_py_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(CASES["gauss_outside_roi"].split() + ["-device", "cpu"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("TRACE_PY: ")]
    assert [line.split()[1] for line in lines] == NAMES
    config, options = simkernel.parse_command_line(CASES["gauss_outside_roi"].split())
    assert lines == format_trace(trace_pixel(config, *options.trace_pixel))
