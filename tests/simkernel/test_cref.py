"""The C twin (real compiler, real runs) against the golden nanoBragg images."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simkernel import cref

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
HKL = GOLDEN / "small.hkl"
BASE = "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 128"
OUTPUT_FLAGS_WITH_VALUE = {"-floatfile", "-intfile", "-noisefile", "-pgmfile"}
OUTPUT_SWITCHES = {"-nopgm", "-nonoise", "-noprogress"}


def golden_case(name: str) -> tuple[list[str], np.ndarray, dict]:
    """Physics argv (program name and output flags stripped), image, metadata."""
    meta = json.loads((GOLDEN / f"{name}.json").read_text())
    argv, raw, i = [], meta["argv"][1:], 0
    while i < len(raw):
        if raw[i] in OUTPUT_FLAGS_WITH_VALUE:
            i += 2
            continue
        if raw[i] not in OUTPUT_SWITCHES:
            argv.append(raw[i])
        i += 1
    if "-hkl" in argv:
        argv[argv.index("-hkl") + 1] = str(HKL)
    return argv, np.load(GOLDEN / f"{name}.npy"), meta


CASES = [
    "01_base",
    "02_oversample2",
    "03_mosaic",
    "04_phi_osc",
    "05_triclinic_misset_hkl",
    "06_hires_flux_roi",
    "08_sources_gauss_polar",
    "09_round_nopolar_pointpx_explicit_beam",
]


@pytest.mark.parametrize("name", CASES)
def test_twin_matches_golden(name):
    argv, golden, meta = golden_case(name)
    image = cref.simulate(argv, threads=2).astype(np.float64)
    assert image.shape == tuple(meta["shape_slow_fast"])
    corr = np.corrcoef(image.ravel(), golden.ravel().astype(np.float64))[0, 1]
    assert corr >= 0.99999
    assert abs(image.sum() / meta["sum"] - 1.0) <= 1e-4
    # an independent double-precision model reproduces these bit-for-bit; so does the twin
    np.testing.assert_allclose(image, golden, rtol=1e-6, atol=0)
    assert tuple(np.unravel_index(image.argmax(), image.shape)) == tuple(meta["argmax_slow_fast"])


# nanoBragg stdout lines the twin prints with the same wording and values
PARAMETER_LINE = re.compile(
    r"^(  created a total of|auto-selected|  distance=|  roi:|  [XF]beam=|  incident fluence|"
    r"max_I =|mean=|  wave=|  Kahn|  polarization|phi\d|lambda\d|divergence deviation|"
    r"  [XF]close=|  sensor is|  [hv]divrange|Unit Cell|volume|crystal is|intfile_scale|"
    r"  \d+ (sources|mosaic|phi|divergence)|  \d+x\d+ pixel|-?\d)"
)


@pytest.mark.parametrize("name", CASES)
def test_parameter_lines_match_nanobragg(tmp_path, name):
    argv, _, meta = golden_case(name)
    printed = set(cref.run([*argv, "-intfile", "int.img"], tmp_path).stdout.splitlines())
    expected = [line for line in meta["stdout"].splitlines() if PARAMETER_LINE.match(line)]
    assert len(expected) >= 25
    assert [line for line in expected if line not in printed] == []


def test_phi0_case_rotates_at_every_step():
    """Case 07 (-phi 0 -osc 1 -phisteps 3): the twin does not copy the phi = 0 carry-over bug.

    Correct rotation means the image is the mean of single-phi images at 0, 1/3 and 2/3
    degrees, and the phi = 0 image is golden case 01 exactly. The golden (buggy) image
    instead reuses the last rotated vectors (2/3 deg) at phi = 0: its sum is
    (2*I(2/3) + I(1/3))/3, which we check too, so we know which of the two we differ by.
    """
    argv, golden, meta = golden_case("07_phi0_carryover_bug")
    twin = cref.simulate(argv, threads=2).astype(np.float64)
    base_argv, base_golden, _ = golden_case("01_base")
    at = {
        deg: cref.simulate([*base_argv, "-phi", repr(deg)], threads=2).astype(np.float64)
        for deg in (1.0 / 3.0, 2.0 / 3.0)
    }
    expected = (base_golden.astype(np.float64) + at[1.0 / 3.0] + at[2.0 / 3.0]) / 3.0
    np.testing.assert_allclose(twin, expected, rtol=2e-6, atol=1e-6)
    buggy_sum = (2.0 * at[2.0 / 3.0].sum() + at[1.0 / 3.0].sum()) / 3.0
    assert abs(buggy_sum / meta["sum"] - 1.0) < 1e-4
    # the documented bug is visible: the correct sum is not the golden one
    assert abs(twin.sum() / meta["sum"] - 1.0) > 3e-4


def test_intfile_is_smv_scaled_to_55000(tmp_path):
    result = cref.run([*BASE.split(), "-detpixels", "32", "-intfile", "img.smv"], tmp_path)
    assert result.returncode == 0, result.stderr
    raw = (tmp_path / "img.smv").read_bytes()
    assert raw.startswith(b"{\nHEADER_BYTES=512;")
    pixels = np.frombuffer(raw[512:], dtype="<u2")
    assert pixels.size == 32 * 32
    assert pixels.max() == 55000 + 40
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.smv"]


def test_writes_only_what_was_asked_and_ignores_fdump(tmp_path):
    (tmp_path / "Fdump.bin").write_bytes(b"\0" * 64)  # a stray dump must not be read
    result = cref.run([*BASE.split(), "-detpixels", "16", "-nopgm", "-nonoise", "-noprogress"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Fdump.bin"]
    assert "auto-selected 1-fold oversampling" in result.stdout
    assert "Fbeam=0.0009 Sbeam=0.0009" in result.stdout
    assert "max_I = " in result.stdout and "mean= " in result.stdout


BAD_ARGUMENTS = [
    ("-frobnicate", f"{BASE} -frobnicate"),
    ("-distance", "-default_F 100 -cell 100 100 100 90 90 90 -distance"),
    ("-lambda", f"{BASE} -lambda fast"),
    ("-cell", "-default_F 100 -detpixels 16"),
    ("-pixel", f"{BASE} -pixel 0"),
    ("-distance", f"{BASE} -distance -5"),
    ("-hkl", f"{BASE} -hkl /nonexistent/file.hkl -N 5"),
    ("-hkl", "-cell 100 100 100 90 90 90 -detpixels 16"),
    ("-cell", "-default_F 100 -cell 100 100 100 90 90"),
]


@pytest.mark.parametrize("flag,args", BAD_ARGUMENTS)
def test_bad_arguments_name_the_flag(tmp_path, flag, args):
    result = cref.run(args.split(), tmp_path)
    assert result.returncode == 2
    assert flag in result.stderr
    assert "error" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_interpolation_case_is_refused(tmp_path):
    result = cref.run(["-hkl", str(HKL), "-cell", "70", "80", "90", "90", "90", "90", "-N", "2"], tmp_path)
    assert result.returncode == 2
    assert "interpolation" in result.stderr


def test_binary_is_cached_and_not_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CC", raising=False)
    first = cref.binary()
    assert first.is_relative_to(tmp_path / "simkernel")
    mtime = first.stat().st_mtime_ns
    second = cref.binary()
    assert second == first and second.stat().st_mtime_ns == mtime
    # no temp files are left next to the binary
    assert [p.name for p in first.parent.iterdir()] == ["nanobragg_twin"]
    assert len(cref.binary_sha256()) == 64


def test_concurrent_first_builds_do_not_collide(tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    env.pop("CC", None)
    code = "from simkernel import cref; print(cref.binary())"  # torch-free import
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    paths = {out.strip() for out, _ in outputs}
    assert len(paths) == 1
    built = Path(paths.pop())
    assert [p.name for p in built.parent.iterdir()] == ["nanobragg_twin"]
    assert subprocess.run([str(built), "-cell", "50"], capture_output=True).returncode == 2


@pytest.mark.parametrize("compiler,expected", [("false", "compiling the C twin failed"),
                                               ("no-such-compiler-xyz", "install gcc")])
def test_broken_compiler_gives_build_error(tmp_path, monkeypatch, compiler, expected):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CC", compiler)
    with pytest.raises(cref.BuildError, match=expected):
        cref.binary()
    assert cref.main(["-h"]) == 3
    leftovers = list((tmp_path / "simkernel").rglob("*")) if (tmp_path / "simkernel").exists() else []
    assert [p for p in leftovers if p.is_file()] == []


def test_console_script_returns_the_twin_status(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cref.main([*BASE.split(), "-detpixels", "8", "-floatfile", "f.bin"]) == 0
    assert (tmp_path / "f.bin").stat().st_size == 8 * 8 * 4
    assert cref.main(["-bogus"]) == 2


def test_source_is_package_data():
    assert cref.source_path().is_file()
    assert cref.source_path().parent.name == "csrc"
