"""verify on a generated port: scenarios and the port's own pytest selectors, privately."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from bisector.cli import main
from portrepo import Change, make_port_repo, scenario_args
from repostate import snapshot

PORT_TESTS = {
    "tests/test_port.py": (
        "import os\n\n"
        "import nbport\n\n\n"
        "def test_runs_in_a_private_checkout():\n"
        "    assert 'bisector-verify-' in os.getcwd()\n"
        "    assert os.path.dirname(nbport.__file__).startswith(os.getcwd())\n"
    ),
    "tests/test_broken.py": "def test_fails():\n    assert 1 + 1 == 3\n",
}


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    """A port whose last commit regresses (scale x1.5), with a second scenario and its own tests."""
    root = tmp_path_factory.mktemp("verify")
    extra = f'[tool.bisector.scenarios.tiny]\nargs = "{scenario_args(16)}"\n'
    repo = make_port_repo(root / "port", history=[Change("docs"), Change("regress", how="scale")],
                          size=32, extra_toml=extra)
    for name, text in PORT_TESTS.items():
        path = repo.path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x",
           "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(repo.path), "add", "tests"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo.path), "commit", "-qm", "tests"], check=True, env=env)
    return repo


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NB_C_BIN", raising=False)


def _json(report_root):
    (folder,) = list(report_root.iterdir())
    return folder, json.loads((folder / "verify.json").read_text())


@pytest.mark.slow
def test_verify_scores_every_scenario_and_runs_the_port_tests(port, tmp_path, capsys):
    before = snapshot(port.path)
    scratch_before = set(Path(tempfile.gettempdir()).glob("bisector-verify-*"))
    code = main(["verify", "--repo", str(port.path), "--pytest", "tests/test_port.py",
                 "--pytest", "tests/test_broken.py",
                 "--report-dir", str(tmp_path / "head")])
    assert code == 1
    folder, data = _json(tmp_path / "head")
    rows = {(c["kind"], c["name"]): c for c in data["checks"]}
    assert rows[("scenario", "small")]["status"] == "bad" and "sum ratio 1.5" in rows[("scenario", "small")]["detail"]
    assert rows[("scenario", "tiny")]["status"] == "bad"
    assert rows[("pytest", "tests/test_port.py")]["passed"] is True
    assert "1 passed" in rows[("pytest", "tests/test_port.py")]["detail"]
    assert rows[("pytest", "tests/test_broken.py")]["status"] == "fail"
    assert "1 failed" in rows[("pytest", "tests/test_broken.py")]["detail"]
    table = (folder / "verify.md").read_text()
    assert table.count("| scenario |") == 2 and table.count("| pytest |") == 2 and ": FAIL" in table
    assert "| pytest | tests/test_port.py | pass (pass) |" in capsys.readouterr().out
    assert snapshot(port.path) == before
    assert set(Path(tempfile.gettempdir()).glob("bisector-verify-*")) <= scratch_before  # checkout removed

    # The good root, one scenario: everything passes. (The root has no tests folder.)
    assert main(["verify", port.base, "--repo", str(port.path), "--scenario", "tiny",
                 "--report-dir", str(tmp_path / "base")]) == 0
    _, data = _json(tmp_path / "base")
    assert [(c["name"], c["status"]) for c in data["checks"]] == [("tiny", "good")]
    assert snapshot(port.path) == before


@pytest.mark.parametrize("argv, message", [
    (["no-such-commit"], "no-such-commit"),
    (["--scenario", "nope"], "unknown scenario 'nope'"),
])
def test_bad_input_is_a_message(port, tmp_path, capsys, argv, message):
    assert main(["verify", *argv, "--repo", str(port.path), "--report-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("selector", ["no/such::test", "tests/test_port.py::test_nope", "tests/test_nothing.py"])
def test_a_pytest_selector_that_selects_nothing_is_bad_input(port, tmp_path, capsys, selector):
    scratch_before = set(Path(tempfile.gettempdir()).glob("bisector-verify-*"))
    code = main(["verify", "--repo", str(port.path), "--scenario", "tiny", "--pytest", "tests/test_port.py",
                 "--pytest", selector, "--report-dir", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"--pytest {selector} selects no test" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()   # refused before any verdict was written
    assert set(Path(tempfile.gettempdir()).glob("bisector-verify-*")) <= scratch_before


def test_outside_a_repository(tmp_path, capsys):
    assert main(["verify", "--repo", str(tmp_path)]) == 2
    assert "not inside a git repository" in capsys.readouterr().err
