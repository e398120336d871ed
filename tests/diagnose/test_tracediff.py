"""trace-diff on hand-written traces: parsing every line form, alignment, tolerances, hints."""

from __future__ import annotations

import math

import pytest

from bisector.cli import main
from bisector.diagnose.tracediff import (diff_traces, parse_trace, parse_value, power_of_ten,
                                         report_lines)
from bisector.errors import BisectorError

C_TRACE = """\
nanoBragg starting
TRACE_C: pix0_vector_meters 0.1 -0.0512 0.0512
TRACE_C:distance_m=0.1
TRACE_C:rot=[1 0 0; 0 0.5 -0.866025; 0 0.866025 0.5]
TRACE_C: hkl_frac H:1.02 K:2.5 L:-3
TRACE_C: convention MOSFLM
TRACE_C: F_cell 100
TRACE_C: F_cell 50
TRACE_C: c_only 1
some other output 1 2 3
"""

PY_TRACE = """\
TRACE_PY: pix0_vector_meters 0.1 -0.0512 0.0512000000001
TRACE_PY: distance_m 1000000000.0
TRACE_PY: rot [1 0 0; 0 0.5 -0.866025; 0 0.866025 0.5]
TRACE_PY: hkl_frac H:1.02 K:2.5 L:-3.5
TRACE_PY: convention XDS
TRACE_PY: F_cell 100
TRACE_PY: F_cell 50
TRACE_PY: py_only 2
"""


def test_every_line_form_is_parsed():
    entries = parse_trace(C_TRACE)
    names = [e.label() for e in entries]
    assert names == ["pix0_vector_meters", "distance_m", "rot", "hkl_frac", "convention",
                     "F_cell", "F_cell#2", "c_only"]
    by = {e.label(): e.value for e in entries}
    assert by["pix0_vector_meters"].numbers == (0.1, -0.0512, 0.0512)
    assert by["distance_m"].numbers == (0.1,)
    assert by["rot"].numbers == (1, 0, 0, 0, 0.5, -0.866025, 0, 0.866025, 0.5)
    assert by["hkl_frac"].labels == ("H", "K", "L") and by["hkl_frac"].numbers == (1.02, 2.5, -3.0)
    assert by["convention"].text == "MOSFLM"
    assert entries[0].line == 2


def test_values_that_are_not_all_numbers_are_text():
    assert parse_value("1.5 apples").text == "1.5 apples"
    assert parse_value("  2e-3 ").numbers == (0.002,)


def test_first_divergence_is_the_unit_slip_with_its_hint():
    diff = diff_traces(parse_trace(C_TRACE), parse_trace(PY_TRACE), first_name="c", second_name="py")
    first = diff.divergences[0]
    assert first.first.name == "distance_m"
    assert first.ratio == pytest.approx(1e10)
    assert first.power_of_ten == 10 and "angstrom" in first.hint()
    later = [d.first.label() for d in diff.divergences[1:]]
    assert later == ["hkl_frac", "convention"]  # the 1e-12 residue of pix0 is within tolerance
    assert [e.label() for e in diff.only_first] == ["c_only"]
    assert [e.label() for e in diff.only_second] == ["py_only"]
    assert diff.compared == 7 and diff.exit_code == 1


def test_tolerance_decides():
    a = parse_trace("TRACE_C: x 1.0 0.0\n")
    b = parse_trace("TRACE_PY: x 1.001 6e-17\n")
    assert diff_traces(a, b, rtol=1e-2).divergences == []
    loose = diff_traces(a, b, rtol=1e-6).divergences
    assert len(loose) == 1 and loose[0].ratio is None  # 0 -> 6e-17 is not one factor
    assert "component 1" in loose[0].why


def test_power_of_ten_only_for_exact_decades():
    assert power_of_ten(1e-3) == -3 and power_of_ten(-1e10) == 10
    assert power_of_ten(1.0) is None and power_of_ten(2e3) is None and power_of_ten(math.nan) is None


def test_report_names_first_divergence_both_values_and_tables():
    diff = diff_traces(parse_trace(C_TRACE), parse_trace(PY_TRACE), first_name="c.log", second_name="py.log")
    text = "\n".join(report_lines(diff))
    assert "## First divergence: distance_m" in text
    assert "c.log (line 3): 0.1" in text and "py.log (line 2): 1000000000" in text
    assert "1e+10: a unit slip?" in text
    assert "| hkl_frac |" in text and "## Only in py.log" in text


def test_cli_exit_codes_and_report_file(tmp_path, capsys):
    c, py = tmp_path / "c.log", tmp_path / "py.log"
    c.write_text(C_TRACE)
    py.write_text(PY_TRACE)
    assert main(["trace-diff", str(c), str(py), "--out", str(tmp_path / "diff.md")]) == 1
    assert "First divergence: distance_m" in (tmp_path / "diff.md").read_text()
    same = tmp_path / "same.log"
    same.write_text(C_TRACE.replace("TRACE_C", "TRACE_PY"))
    assert main(["trace-diff", str(c), str(same)]) == 0
    assert "No quantity diverges" in capsys.readouterr().out


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("empty", "holds no trace lines"),
    ("disjoint", "share no quantity names"),
])
def test_bad_input_is_a_message_and_exit_2(tmp_path, capsys, case, message):
    c = tmp_path / "c.log"
    c.write_text(C_TRACE)
    other = tmp_path / "other.log"
    if case == "empty":
        other.write_text("no trace here\n")
    elif case == "disjoint":
        other.write_text("TRACE_PY: something_else 1\n")
    assert main(["trace-diff", str(c), str(other)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_no_common_names_raises_from_the_library():
    with pytest.raises(BisectorError):
        diff_traces(parse_trace("TRACE_C: a 1\n"), parse_trace("TRACE_PY: b 1\n"))


def _real_trace(program: list[str], tmp_path, tag: str) -> str:
    """The trace lines a real program prints for pixel (10, 12) of a small benchmark image."""
    import subprocess

    from portrepo import scenario_args

    argv = [*program, *scenario_args(32).split(), "-trace_pixel", "10", "12", "-floatfile", str(tmp_path / f"{tag}.bin")]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    text = proc.stdout + proc.stderr
    if proc.returncode != 0 or f"TRACE_{tag}:" not in text:
        pytest.skip(f"this simkernel has no -trace_pixel yet: {text.strip().splitlines()[-1:] or proc.returncode}")
    return text


@pytest.mark.slow
def test_an_injected_unit_slip_in_a_real_simkernel_trace_is_the_first_divergence(tmp_path, c_twin):
    import sys

    py_text = _real_trace([sys.executable, "-m", "simkernel"], tmp_path, "PY")
    entries = parse_trace(py_text)
    assert len(entries) >= 10
    # Metres written as angstroms in one quantity of the port: airpath_m x 1e10.
    slipped = "\n".join(
        " ".join(["TRACE_PY:", "airpath_m", *(f"{float(v) * 1e10:.17g}" for v in line.split()[2:])])
        if line.startswith("TRACE_PY: airpath_m") else line for line in py_text.splitlines())
    assert slipped != py_text
    diff = diff_traces(entries, parse_trace(slipped), rtol=1e-9)
    first = diff.divergences[0]
    assert first.first.name == "airpath_m" and first.power_of_ten == 10
    assert "angstroms" in first.hint()

    # The C twin traces the same pixel under the same names, and agrees.
    c_text = _real_trace([str(c_twin)], tmp_path, "C")
    real = diff_traces(parse_trace(c_text), entries, rtol=1e-6)
    assert real.compared == len(entries) and real.divergences == []


# --- hostile inputs ---------------------------------------------------------------------------

def _trace_diff(tmp_path, c_text: str, py_text: str, *args: str) -> int:
    c, py = tmp_path / "c.log", tmp_path / "py.log"
    c.write_text(c_text)
    py.write_text(py_text)
    return main(["trace-diff", str(c), str(py), *args])


@pytest.mark.parametrize("c_value, py_value", [("nan 2.0", "0.5 2.0"), ("0.5 2.0", "nan 2.0"),
                                               ("inf", "1.0"), ("1.0", "-inf")])
def test_a_nan_or_infinity_on_either_side_diverges(tmp_path, capsys, c_value, py_value):
    code = _trace_diff(tmp_path, f"TRACE_C: ok 1\nTRACE_C: v {c_value}\n", f"TRACE_PY: ok 1\nTRACE_PY: v {py_value}\n")
    out = capsys.readouterr().out
    assert code == 1, out
    assert "First divergence: v" in out
    first, second = c_value.split()[0], py_value.split()[0]
    assert f"{float(first):g} vs {float(second):g}" in out


def test_nan_on_both_sides_is_the_same_value():
    diff = diff_traces(parse_trace("TRACE_C: v nan 1\n"), parse_trace("TRACE_PY: v nan 1\n"))
    assert diff.divergences == [] and diff.exit_code == 0


@pytest.mark.parametrize("option, value", [("--rtol", "nan"), ("--rtol", "-1e-6"), ("--rtol", "inf"),
                                           ("--atol", "nan"), ("--atol", "-1")])
def test_a_tolerance_that_is_not_a_finite_non_negative_number_is_bad_input(tmp_path, capsys, option, value):
    # A 1e10 slip that a NaN tolerance used to hide (every comparison with NaN is false).
    code = _trace_diff(tmp_path, "TRACE_C: d 0.1\n", "TRACE_PY: d 1e9\n", option, value)
    captured = capsys.readouterr()
    assert code == 2
    assert f"{option} must be a finite number >= 0" in captured.err
    assert len(captured.err.strip().splitlines()) <= 2 and "Traceback" not in captured.err  # message + hint
    assert "diverge" not in captured.out


def test_control_characters_in_names_are_escaped_on_the_console(tmp_path, capsys):
    c_text = "TRACE_C: red\x1b[31mname 1\nTRACE_C: nul\x00name 1\nTRACE_C: a|b 1\nTRACE_C: z 1\n"
    py_text = "TRACE_PY: red\x1b[31mname 2\nTRACE_PY: nul\x00name 3\nTRACE_PY: a|b 4\nTRACE_PY: z 1\n"
    assert _trace_diff(tmp_path, c_text, py_text, "--out", str(tmp_path / "diff.md")) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x00" not in out
    assert "red\\x1b[31mname" in out and "nul\\x00name" in out
    assert "| a\\|b |" in out  # a `|` in a name stays inside its table cell
    assert (tmp_path / "diff.md").read_text().strip() == out.strip()


def _peak_rss_kb(argv: list[str], cwd) -> tuple[int, int]:
    """Exit code and peak resident memory (kB) of ``python -m bisector ARGV``, measured by the kernel."""
    import subprocess
    import sys

    probe = ("import resource, subprocess, sys; "
             "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
             "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "bisector", *argv],
                          cwd=cwd, capture_output=True, text=True, timeout=600)
    code, peak = proc.stdout.split()
    return int(code), int(peak)


def test_long_traces_are_read_with_bounded_memory(tmp_path):
    lines = 150_000
    c, py = tmp_path / "c.log", tmp_path / "py.log"
    with open(c, "w") as fc, open(py, "w") as fp:
        for i in range(lines):
            fc.write(f"TRACE_C: q{i % 50} {i} {i + 0.5} {i * 2}\n")
            fp.write(f"TRACE_PY: q{i % 50} {i} {i + 0.5} {i * 2 + (i == lines - 7)}\n")
    code, peak_kb = _peak_rss_kb(["trace-diff", str(c), str(py)], tmp_path)
    assert code == 1  # the one slip near the end is found
    # Holding both logs as entries took ~700 bytes a line (about 200 MB here, with the
    # interpreter's own ~35 MB); streaming them keeps the peak near that base whatever the length.
    assert peak_kb < 100 * 1024, f"peak {peak_kb / 1024:.0f} MB"


def test_a_huge_line_is_bad_input_not_memory(tmp_path, capsys):
    c = tmp_path / "c.log"
    with open(c, "w") as fh:
        fh.write("TRACE_C: a 1\nTRACE_C: blob " + "7 " * (20 << 20) + "\n")
    (tmp_path / "py.log").write_text("TRACE_PY: a 1\n")
    code, peak_kb = _peak_rss_kb(["trace-diff", str(c), str(tmp_path / "py.log")], tmp_path)
    assert code == 2
    assert peak_kb < 200 * 1024, f"peak {peak_kb / 1024:.0f} MB"
    assert main(["trace-diff", str(c), str(tmp_path / "py.log")]) == 2
    err = capsys.readouterr().err
    assert "line 2 of" in err and "is longer than 65536 bytes" in err and "Traceback" not in err
