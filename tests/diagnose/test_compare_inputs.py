"""`bisector compare` refuses what it cannot measure, as bad input (2), before running a side."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from bisector.cli import main
from bisector.diagnose.compare import compare_images
from bisector.errors import BisectorError
from portrepo import scenario_args


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NB_C_BIN", raising=False)
    monkeypatch.chdir(tmp_path)


def _compare(tmp_path, *argv: str) -> int:
    return main(["compare", *argv, "--report-dir", str(tmp_path / "r"), "--", *scenario_args(16).split()])


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert 1 <= len(err.strip().splitlines()) <= 2  # the message, and its hint
    return err


@pytest.mark.parametrize("option, value, message", [
    ("--peaks", "-5", "--peaks must be a whole number from 1"),
    ("--peaks", "0", "--peaks must be a whole number from 1"),
    ("--radius", "nan", "--radius must be a finite number of pixels > 0"),
    ("--radius", "-1", "--radius must be a finite number of pixels > 0"),
    ("--radius", "inf", "--radius must be a finite number of pixels > 0"),
])
def test_peak_options_are_checked_before_any_side_runs(tmp_path, capsys, option, value, message):
    code = _compare(tmp_path, "--ref", "simkernel", "--candidate", "simkernel", option, value)
    assert code == 2
    assert message in _one_line_error(capsys)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "r").exists()  # nothing ran, nothing written


def _saved(tmp_path, name: str, image) -> str:
    np.save(tmp_path / name, image)
    return str(tmp_path / name)


def test_a_complex_image_is_refused_not_called_agree(tmp_path, capsys):
    real = np.random.default_rng(1).random((16, 16))
    ref = _saved(tmp_path, "ref.npy", real)
    # Its real part equals the reference: before, the imaginary part was silently ignored.
    cand = _saved(tmp_path, "cand.npy", real + 5j * real)
    assert _compare(tmp_path, "--ref", ref, "--candidate", cand) == 2
    err = _one_line_error(capsys)
    assert "holds complex values (complex128)" in err and "cand.npy" in err
    with pytest.raises(BisectorError, match="complex"):
        compare_images(real.astype(complex), real)


def test_a_text_npy_is_refused(tmp_path, capsys):
    ref = _saved(tmp_path, "ref.npy", np.ones((16, 16)))
    cand = _saved(tmp_path, "words.npy", np.array([["a", "b"], ["c", "d"]]))
    assert _compare(tmp_path, "--ref", ref, "--candidate", cand) == 2
    assert "holds text values" in _one_line_error(capsys)


def _npy_with_header(path, shape: tuple, data: bytes = b"\0" * 64) -> str:
    """A version 1.0 .npy whose header claims ``shape`` float64 pixels, followed by ``data``."""
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data)
    return str(path)


def test_an_npy_header_claiming_more_than_the_file_holds_is_refused_before_allocating(tmp_path, capsys):
    ref = _saved(tmp_path, "ref.npy", np.ones((16, 16)))
    huge = _npy_with_header(tmp_path / "huge.npy", (99999, 99999))  # 80 GB claimed, 64 bytes held
    assert _compare(tmp_path, "--ref", ref, "--candidate", huge) == 2
    err = _one_line_error(capsys)
    assert "claims 99999 x 99999 float64 pixels (79998400008 bytes) but holds 64 bytes" in err


def test_an_honest_handmade_npy_is_read_and_compared(tmp_path, capsys):
    # The same writer with a true header: the check refuses only headers that lie.
    image = np.random.default_rng(2).random((16, 16)) + 1.0
    ref = _saved(tmp_path, "ref.npy", image)
    honest = _npy_with_header(tmp_path / "honest.npy", (16, 16), image.astype("<f8").tobytes())
    assert _compare(tmp_path, "--ref", ref, "--candidate", honest) == 0
    assert "good (" in capsys.readouterr().out
