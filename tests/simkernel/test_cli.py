"""The real command line: files written, their bytes, the printed parameter lines."""
import subprocess
import sys

import fabio
import numpy as np
import pytest
import torch

import simkernel
from simkernel.io import read_floatfile, write_floatfile, write_smv


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One real `python -m simkernel` run of golden case 01 writing both files."""
    cwd = tmp_path_factory.mktemp("cwd")
    out = tmp_path_factory.mktemp("out")
    args = ("-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 "
            "-detpixels_f 128 -detpixels_s 96").split()
    argv = args + ["-floatfile", str(out / "img.bin"), "-intfile", str(out / "img.img"),
                   "-nonoise", "-nopgm", "-noprogress", "-device", "cpu"]
    proc = subprocess.run([sys.executable, "-m", "simkernel", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    return {"proc": proc, "cwd": cwd, "out": out, "args": args}


def test_exit_status_and_nothing_else_written(cli_run):
    assert cli_run["proc"].returncode == 0, cli_run["proc"].stderr
    assert list(cli_run["cwd"].iterdir()) == []
    assert sorted(p.name for p in cli_run["out"].iterdir()) == ["img.bin", "img.img"]


def test_floatfile_is_raw_float32_slow_major(cli_run):
    path = cli_run["out"] / "img.bin"
    assert path.stat().st_size == 96 * 128 * 4
    expected = simkernel.simulate(simkernel.parse_args(cli_run["args"]), dtype=torch.float64).numpy()
    raw = np.fromfile(path, dtype="<f4").reshape(96, 128)
    assert np.array_equal(raw, expected.astype(np.float32))
    # the direct beam hits the border between pixels 48|49 (slow) and 64|65 (fast)
    assert np.unravel_index(np.argmax(raw), raw.shape) == (48, 64)


def test_intfile_is_smv_readable_by_fabio(cli_run):
    image = fabio.open(str(cli_run["out"] / "img.img"))
    floats = read_floatfile(cli_run["out"] / "img.bin", (96, 128)).astype(np.float64)
    assert image.data.shape == (96, 128)
    assert int(image.header["SIZE1"]) == 128 and int(image.header["SIZE2"]) == 96
    scale = 55000.0 / floats.max()
    np.testing.assert_array_equal(image.data, np.floor(floats * scale + 40 + 0.5).astype(np.uint16))
    assert image.data.max() == 55040


def test_printed_parameter_lines(cli_run):
    stdout = cli_run["proc"].stdout.splitlines()
    for line in ["mosflm convention selected.", "auto-selected 1-fold oversampling",
                 "  parallelpiped xtal: 5x5x5 cells", "  Kahn polarization factor: 0.000000",
                 "  distance=0.1 detsize=0.0128x0.0096  pixel=0.0001 meters (128x96 pixels)",
                 "  Xbeam=0.00485 Ybeam=0.00645", "  Fbeam=0.0065 Sbeam=0.0049",
                 "  roi: 0 < x < 128 && 0 < y < 96", "  1x1 pixel oversample steps",
                 "intfile_scale = 355.636"]:
        assert line in stdout
    assert any(line.startswith("max_I = 154.652  at 0.00645 0.00485") for line in stdout)


def test_describe_matches_c_wording(golden_case):
    from simkernel.describe import describe, summary

    for name in ("01_base", "04_phi_osc", "06_hires_flux_roi"):
        case = golden_case(name)
        config = simkernel.parse_args(case["argv"])
        c_lines = set(case["stdout"].splitlines())
        ours = [l for l in describe(config) + summary(case["image"], config) if "created a total" not in l]
        sources = ours.index("  0 initialized hkls (all others =100)")
        missing = [l for l in ours if l not in c_lines and not l.startswith("-10 ")]
        assert missing == [], name
        assert sources > 0


def test_io_roundtrip_and_smv_scale(tmp_path):
    image = np.arange(12, dtype=np.float64).reshape(3, 4) / 11.0
    write_floatfile(tmp_path / "a.bin", image)
    np.testing.assert_array_equal(read_floatfile(tmp_path / "a.bin", (3, 4)), image.astype(np.float32))
    with pytest.raises(ValueError):
        read_floatfile(tmp_path / "a.bin", (4, 4))
    assert write_smv(tmp_path / "a.img", image, scale=2.0) == 2.0
    data = fabio.open(str(tmp_path / "a.img")).data
    np.testing.assert_array_equal(data, np.floor(image * 2.0 + 40.5).astype(np.uint16))
