"""`--c-bin twin`: simkernel's built C twin as the C reference, without hunting for its path;
`compare --reference c` uses it, with a notice, when no C program is configured."""

from __future__ import annotations

import json

import pytest

from bisector.cli import main
from portrepo import Change, make_port_repo, scenario_args


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("NB_C_BIN", raising=False)


@pytest.fixture
def port(tmp_path):
    # The C reference without a program: only the flag (or the variable) names one.
    return make_port_repo(tmp_path / "port", history=[Change("docs"), Change("regress")], reference="c")



@pytest.mark.parametrize("how", ["flag", "variable", "config"])
def test_twin_names_the_built_c_twin(port, tmp_path, c_twin, capsys, monkeypatch, how):
    argv = ["score", "--repo", str(port.path), "--json"]
    if how == "flag":
        argv += ["--c-bin", "twin"]
    elif how == "variable":
        monkeypatch.setenv("NB_C_BIN", "twin")
    else:
        pyproject = port.path / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace('kind = "c"', 'kind = "c"\nc_bin = "twin"'))
    assert main([*argv, port.base]) == 0   # the good root matches the twin
    good = json.loads(capsys.readouterr().out)
    assert main([*argv, port.head]) == 1   # the scale slip does not
    bad = json.loads(capsys.readouterr().out)
    assert good["reference"].startswith("c-") and good["reference"] == bad["reference"]
    assert bad["scenarios"][0]["sum_ratio"] == pytest.approx(1.5, rel=1e-4)
    # the same reference as naming the twin's path: the same cached reference image
    assert main(["score", port.base, "--repo", str(port.path), "--json", "--c-bin", str(c_twin)]) == 0
    assert json.loads(capsys.readouterr().out)["reference"] == good["reference"]


def test_without_a_c_program_the_c_kind_says_twin_is_an_option(port, capsys):
    assert main(["score", port.base, "--repo", str(port.path)]) == 128
    assert "twin" in capsys.readouterr().err


def test_compare_ref_c_uses_the_twin_with_a_notice_when_no_c_program_is_configured(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a repository: no configuration at all
    args = scenario_args(32).split()
    code = main(["compare", "--reference", "c", "--candidate", "simkernel", "--report-dir", str(tmp_path / "r"), "--", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err   # simkernel and its C twin agree
    assert "note: no C program configured" in captured.err and "C twin" in captured.err
    (folder,) = (tmp_path / "r").iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["correlation"] > 0.999999 and summary["reference"]["kind"] == "c"
