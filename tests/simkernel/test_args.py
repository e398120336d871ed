"""Bad command lines: through the real `python -m simkernel` and through parse_args."""
import subprocess
import sys

import pytest

import simkernel
from simkernel.cli import main

CELL = ["-cell", "100", "100", "100", "90", "90", "90"]
GOOD = CELL + ["-default_F", "100", "-detpixels", "16"]

BAD_INPUTS = [
    ("unknown flag", GOOD + ["-bogus"], "-bogus"),
    ("missing value", GOOD + ["-distance"], "-distance"),
    ("non-numeric value", GOOD + ["-lambda", "abc"], "-lambda"),
    ("non-positive pixel", GOOD + ["-pixel", "0"], "-pixel"),
    ("non-positive distance", GOOD + ["-distance", "-5"], "-distance"),
    ("no cell", ["-default_F", "100"], "-cell"),
    ("no structure factors", CELL, "-hkl"),
    ("unreadable hkl", CELL + ["-hkl", "does_not_exist.hkl"], "-hkl"),
    ("unsupported option", GOOD + ["-mat", "x.mat"], "-mat"),
    ("bad dtype", GOOD + ["-dtype", "float16"], "-dtype"),
]


@pytest.mark.parametrize("what, argv, flag", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_parse_args_names_the_flag(what, argv, flag, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(simkernel.ArgumentError) as info:
        simkernel.parse_command_line(argv)
    assert info.value.flag == flag and flag in str(info.value)
    assert isinstance(info.value, ValueError)


def test_invalid_hkl_file(tmp_path):
    bad = tmp_path / "bad.hkl"
    bad.write_text("this is not an hkl file\n")
    with pytest.raises(simkernel.ArgumentError, match="-hkl") as info:
        simkernel.parse_args(CELL + ["-hkl", str(bad)])
    assert "bad.hkl" in str(info.value)


def test_stray_fdump_is_not_read(tmp_path, monkeypatch):
    (tmp_path / "Fdump.bin").write_bytes(b"\0" * 64)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(simkernel.ArgumentError, match="no structure factors"):
        simkernel.parse_args(CELL)


def test_every_bad_input_class_exits_2_from_main(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for what, argv, flag in BAD_INPUTS:
        assert main(argv) == 2, what
        err = capsys.readouterr().err
        assert flag in err and "Traceback" not in err, (what, err)
    assert list(tmp_path.iterdir()) == []


REAL_CLI_CASES = [BAD_INPUTS[0], BAD_INPUTS[1], BAD_INPUTS[6]]


def test_bad_inputs_exit_2_through_the_real_command_line(tmp_path):
    """A few classes through `python -m simkernel` (run concurrently: each imports torch)."""
    procs = [subprocess.Popen([sys.executable, "-m", "simkernel", *argv], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _, argv, _ in REAL_CLI_CASES]
    for (what, _, flag), proc in zip(REAL_CLI_CASES, procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, (what, err)
        assert flag in err and "Traceback" not in err, (what, err)
    assert list(tmp_path.iterdir()) == []
