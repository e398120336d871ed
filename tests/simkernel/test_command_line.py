"""One command line for simkernel and its C twin: the same lists through both programs.

The twin runs as the compiled program; simkernel runs through ``simkernel.cli.main`` (the
console script's entry, in this process so torch is imported once) and, for a few lists, as
``python -m simkernel``. Exit codes, error lines, --help, parameter lines and written files
are compared between the two.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simkernel import cref
from simkernel.args import HANDLERS, detector_shape, parse_command_line
from simkernel.cli import main
from simkernel.errors import ArgumentError
from simkernel.flags import table
from simkernel.io import read_floatfile

GOLDEN_HKL = Path(__file__).resolve().parents[1] / "data" / "golden" / "small.hkl"
CELL = "-cell 100 100 100 90 90 90"
GOOD = f"{CELL} -default_F 100 -lambda 6.2 -N 5 -detpixels 12"

BAD = [
    "-cell 100 100 100 90 90 -default_F 100",          # one cell value missing
    f"{GOOD} -bogus",
    f"{GOOD} 5",
    f"{GOOD} -dmin 2",
    f"{GOOD} -mat some.mat",
    f"{GOOD} -distance",
    f"{GOOD} -lambda abc",
    f"{GOOD} -lambda 0",
    f"{GOOD} -lambda inf",
    f"{GOOD} -lambda 1e999",
    f"{GOOD} -N 2.5",
    f"{GOOD} -detpixels 0",
    f"{GOOD} -roi 0 5 0",
    f"{GOOD} -roi 0 5 0 -nopgm",
    f"{GOOD} -misset random",
    f"{GOOD} -dtype float16",
    f"{GOOD} -device tpu",
    "-default_F 100 -detpixels 12",
    "-cell 0 100 100 90 90 90 -default_F 100",
    "-cell 100 100 100 90 90 180 -default_F 100",
    CELL,
    f"{CELL} -hkl /nonexistent/file.hkl",
    f"{CELL} -default_F 100 -detsize 0.01",
    f"{GOOD} -flux 1e12 -beamsize 0",
    f"{GOOD} -detector_thick 100 -detector_abs -5",
    f"{GOOD} -trace_pixel 99 0",
    f"{GOOD} -trace_pixel 1",
]


def _simkernel(argv: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "simkernel", *argv], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _normalised(text: str, program: str) -> str:
    return text.replace(program, "PROGRAM")


def _main(argv: list[str], cwd: Path, capsys, monkeypatch) -> tuple[int, str, str]:
    """simkernel's console entry in this process: (exit status, stdout, stderr)."""
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_bad_lists_are_rejected_alike_by_both_programs(tmp_path, capsys, monkeypatch):
    garbage = tmp_path / "garbage.hkl"
    garbage.write_text("not an hkl file\n")
    lists = [line.split() for line in BAD] + [f"{CELL} -hkl {garbage}".split()]
    for argv in lists:
        status, out, err = _main(argv, tmp_path, capsys, monkeypatch)
        twin = cref.run(argv, tmp_path)
        context = " ".join(argv)
        assert (status, twin.returncode) == (2, 2), (context, err, twin.stderr)
        assert _normalised(err, "simkernel") == _normalised(twin.stderr, "nanobragg_twin"), context
        first = err.splitlines()[0]
        assert first.startswith("simkernel: error: -") or first.startswith("simkernel: error: 5"), first
        assert "Traceback" not in err and "physics.md" not in err and out == ""
        assert len(err.splitlines()) == 2 and "--help" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.hkl"]


def test_bad_lists_through_the_real_command(tmp_path):
    lists = [BAD[0].split(), BAD[1].split(), BAD[6].split()]
    procs = [_simkernel(argv, tmp_path) for argv in lists]
    for argv, proc in zip(lists, procs):
        _, err = proc.communicate(timeout=120)
        twin = cref.run(argv, tmp_path)
        assert proc.returncode == twin.returncode == 2
        assert _normalised(err, "simkernel") == _normalised(twin.stderr, "nanobragg_twin")


def test_the_issue_example_names_the_missing_value(tmp_path):
    result = cref.run("-cell 100 100 100 90 90 -default_F 100".split(), tmp_path)
    assert result.stderr.splitlines()[0] == (
        "nanobragg_twin: error: -cell: needs 6 values (a b c alpha beta gamma), got 5")
    with pytest.raises(ArgumentError, match=r"^-cell: needs 6 values \(a b c alpha beta gamma\), got 5$"):
        parse_command_line("-cell 100 100 100 90 90 -default_F 100".split())


def test_help_is_the_table_in_both_programs(tmp_path):
    py = _simkernel(["--help"], tmp_path)
    out, err = py.communicate(timeout=120)
    twin = cref.run(["-h"], tmp_path)
    assert py.returncode == 0 and twin.returncode == 0
    lines, twin_lines = out.splitlines(), twin.stdout.splitlines()
    assert _normalised(lines[0], "simkernel") == _normalised(twin_lines[0], "nanobragg_twin")
    assert lines[1:] == twin_lines[1:]
    for flag in table().flags.values():
        row = next(line for line in lines if line.split()[:1] == [flag.name])
        assert flag.unit in row and flag.default in row and flag.meaning in row
    for alias, target in table().aliases.items():
        assert any(line.split()[:4] == [alias, "same", "as", target] for line in lines)
    assert all(name in lines[-1] for name in table().unsupported)


def test_every_table_flag_is_accepted_by_both(tmp_path):
    """One run per flag with a valid value, through the twin and simkernel's parser."""
    samples = {"-hkl": [str(GOLDEN_HKL), "-nointerpolate"], "-roi": ["0", "3", "0", "3"],
               "-trace_pixel": ["1", "2"], "-cell": CELL.split()[1:], "-misset": ["10", "20", "30"],
               "-floatfile": ["f.bin"], "-intfile": ["i.img"], "-noisefile": ["n.img"], "-pgmfile": ["p.pgm"]}
    by_kind = {"NUMBER": "1.5", "POSITIVE": "1.5", "INTEGER": "2", "COUNT": "4", "TEXT": "x"}
    base = f"{CELL} -default_F 100 -lambda 6.2 -N 3 -detpixels 4".split()
    assert set(HANDLERS) == set(table().flags)
    for name, spec in table().flags.items():
        values = samples.get(name) or ([spec.metavar.split("|")[0]] if spec.kind == "CHOICE"
                                       else [by_kind[spec.kind]] * spec.count if spec.count else [])
        argv = [*base, name, *values]
        parse_command_line(argv)
        result = cref.run(argv, tmp_path)
        if name == "-interpolate":  # the twin has no tricubic interpolation (docs/simkernel.md)
            assert result.returncode == 2 and "interpolation" in result.stderr
        else:
            assert result.returncode == 0, (name, result.stderr)


OUTPUT_CASES = [
    f"{GOOD} -intfile img.smv -floatfile img.bin",
    f"-hkl {GOLDEN_HKL} -default_F 3 -cell 70 80 90 75 85 95 -misset 10 20 30 -N 3 -lambda 1.2 -detpixels_f 14 "
    "-detpixels_s 10 -roi 2 11 1 8 -mosaic 0.5 -mosaic_domains 2 -phi 0 -osc 1 -phisteps 2 -divergence 0.4 "
    "-divsteps 2 -dispersion 1 -dispsteps 2 -polar 0.5 -detector_thick 50 -oversample 2 -oversample_thick "
    "-scale 7 -adc 11 -intfile img.smv -floatfile img.bin",
    f"{CELL} -round_xtal -default_F 50 -lambda 3 -N 4 -detpixels 9 -Xbeam 0.4 -Ybeam 0.5 -nopolar -point_pixel "
    "-oversample 1 -energy 9000 -intfile img.smv -floatfile img.bin -trace_pixel 4 5",
]


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=["base", "many_flags", "round_trace"])
def test_both_programs_print_the_same_lines_and_write_the_same_files(case, tmp_path, capsys, monkeypatch):
    argv = case.split()
    py_dir, c_dir = tmp_path / "py", tmp_path / "c"
    py_dir.mkdir(), c_dir.mkdir()
    status, out, err = _main([*argv, "-device", "cpu"], py_dir, capsys, monkeypatch)
    twin = cref.run(argv, c_dir)
    assert (status, twin.returncode) == (0, 0), (err, twin.stderr)
    ours, theirs = out.splitlines(), twin.stdout.splitlines()
    assert ours[0].startswith("simkernel ") and theirs[0].startswith("nanobragg_twin")
    # trace values are compared with a tolerance in test_trace.py
    strip = [line for line in ours[1:] if not line.startswith("TRACE_PY")]
    assert strip == [line for line in theirs[1:] if not line.startswith("TRACE_C")]
    assert any(line.startswith("max_I = ") and "  at " in line for line in strip)
    smv_py, smv_c = (py_dir / "img.smv").read_bytes(), (c_dir / "img.smv").read_bytes()
    assert smv_py[:512] == smv_c[:512] and b"ADC_OFFSET=" in smv_py[:512]
    assert smv_py == smv_c
    shape = detector_shape(argv)
    float_py, float_c = (read_floatfile(d / "img.bin", shape).astype(np.float64) for d in (py_dir, c_dir))
    bright = float_c > 1e-3 * float_c.max()
    assert np.max(np.abs(float_py[bright] - float_c[bright]) / float_c[bright]) <= 1e-6


def test_simkernel_c_starts_without_torch(tmp_path):
    code = ("import sys; from simkernel.cref import main; import simkernel, simkernel.args, simkernel.io, "
            "simkernel.flags; rc = main(['-cell', '100', '100', '100', '90', '90', '90', '-default_F', '1', "
            "'-detpixels', '4']); print('torch' in sys.modules, rc)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines()[-1] == "False 0", result.stderr


def test_lazy_simulate_is_the_kernel_function():
    import simkernel
    from simkernel.kernel import simulate

    assert simkernel.simulate is simulate and callable(simkernel.simulate)


@pytest.mark.parametrize("argv, shape", [
    ("-detpixels 12", (12, 12)),
    ("-detpixels_x 10 -detsize_s 3 -pixel 0.1", (30, 10)),
    ("-detsize 5 -detpixels_s 30", (30, 50)),
    ("-pixel 0.2 -detsize_y 3 -detsize_x 4", (15, 20)),
    ("", (1024, 1024)),
])
def test_detector_shape_is_the_parser_rule(argv, shape):
    assert detector_shape(argv.split()) == shape
    # flags simkernel does not know are skipped, not refused (any nanoBragg command line)
    assert detector_shape(["-water", "5", *argv.split(), "-somefutureflag", "3"]) == shape
    config, _ = parse_command_line([*CELL.split(), "-default_F", "100", *argv.split()])
    assert (config.spixels, config.fpixels) == shape


def test_detector_shape_errors_name_the_flag():
    with pytest.raises(ArgumentError, match="^-pixel: 'x' is not a number"):
        detector_shape(["-pixel", "x"])
    with pytest.raises(ArgumentError, match="^-detsize: the detector has no pixels"):
        detector_shape(["-detsize", "0.01"])
    with pytest.raises(ArgumentError, match="^-detpixels: needs 1 value"):
        detector_shape(["-detpixels"])


def test_read_floatfile_is_numpy_only_and_checks_the_size(tmp_path):
    data = np.arange(6, dtype="<f4").reshape(2, 3)
    data.tofile(tmp_path / "f.bin")
    np.testing.assert_array_equal(read_floatfile(tmp_path / "f.bin", (2, 3)), data)
    with pytest.raises(ValueError, match="f.bin holds 6 float32 values, expected 3 x 3 = 9"):
        read_floatfile(tmp_path / "f.bin", (3, 3))


def test_docs_list_every_flag():
    text = (Path(__file__).resolve().parents[2] / "docs" / "simkernel.md").read_text()
    flags = table()
    missing = [name for name in [*flags.flags, *flags.aliases, *flags.unsupported] if f"`{name}" not in text]
    assert missing == []
    assert "physics.md" not in text
