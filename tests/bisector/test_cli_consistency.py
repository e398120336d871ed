"""The command line is consistent: shared options, --version, honest help, commands it prints work.

Everything runs in this process through ``bisector.cli.main`` (no process is the point here).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from portrepo import Change, make_port_repo


@pytest.fixture
def bisector(bisector_cli):
    """`bisector ARGS` in ``cwd`` with XDG_CACHE_HOME=``xdg`` (and any other variables given)."""
    def run(*args: str, cwd: Path, xdg: Path, **extra_env: str):
        return bisector_cli(*args, cwd=cwd, env={"XDG_CACHE_HOME": str(xdg), **extra_env})
    return run


def _long_options(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", help_text))


def test_version(tmp_path, bisector):
    proc = bisector("--version", cwd=tmp_path, xdg=tmp_path)
    assert proc.returncode == 0 and re.fullmatch(r"bisector \S+\n", proc.stdout), proc.stdout


def test_score_takes_every_judging_option_of_run(tmp_path, bisector):
    run = _long_options(bisector("run", "--help", cwd=tmp_path, xdg=tmp_path).stdout)
    score_help = bisector("score", "--help", cwd=tmp_path, xdg=tmp_path).stdout
    only_run = {"--good", "--bad", "--report-dir", "--keep-worktree",  # about a range, not a commit
                "--paranoid", "--no-paranoid", "--jobs", "--executor"}
    assert run - only_run <= _long_options(score_help), run - only_run - _long_options(score_help)
    assert {"--reference", "--timeout", "--min-correlation", "--max-sum-ratio-error"} <= _long_options(score_help)
    assert re.search(r"--scenario\s+-s\b", score_help)


@pytest.mark.parametrize("command", [[], ["run"], ["score"], ["demo"], ["cache", "clear"], ["scan"], ["compare"]])
def test_flags_show_no_value_placeholder(tmp_path, bisector, command):
    text = bisector(*command, "--help", cwd=tmp_path, xdg=tmp_path).stdout
    assert "--help" in text and "<bool>" not in text


def test_score_repo_that_does_not_exist(tmp_path, bisector):
    proc = bisector("score", "--repo", str(tmp_path / "nowhere"), cwd=tmp_path, xdg=tmp_path)
    assert proc.returncode == 128, proc.stderr  # git bisect's abort: never "bad"
    assert f"{tmp_path / 'nowhere'} does not exist" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def port(tmp_path):
    return make_port_repo(tmp_path / "port", history=[Change("docs"), Change("regress"), Change("docs")])


def test_score_warns_when_the_relevant_paths_have_uncommitted_changes(port, xdg_cache, bisector):
    physics = port.path / "src" / "nbport" / "physics.py"
    clean = bisector("score", "--reference", "simkernel", cwd=port.path, xdg=xdg_cache)
    assert clean.returncode == 1 and "uncommitted" not in clean.stderr, clean.stderr
    physics.write_text(physics.read_text() + "\n# an edit\n")
    (port.path / "docs" / "notes.md").write_text("not relevant\n")
    dirty = bisector("score", "--reference", "simkernel", cwd=port.path, xdg=xdg_cache)
    assert dirty.returncode == 1, dirty.stderr
    (warning,) = [line for line in dirty.stderr.splitlines() if "uncommitted" in line]
    assert "src/nbport/physics.py" in warning and "notes.md" not in warning
    other = bisector("score", port.base, "--reference", "simkernel", cwd=port.path, xdg=xdg_cache)
    assert other.returncode == 0 and "uncommitted" not in other.stderr  # not HEAD: nothing to warn of


@pytest.mark.slow
def test_the_reproduce_line_after_run_works_and_names_the_reference(port, tmp_path, bisector, c_twin, xdg_cache):
    (port.path / "pyproject.toml").write_text(  # no reference configured: the flag must carry it
        (port.path / "pyproject.toml").read_text().replace('kind = "simkernel"\n', ""))
    subprocess.run(["git", "-C", str(port.path), "commit", "-qam", "no reference"], check=True)
    run = bisector("run", "-g", port.base, "-b", port.shas[1], "--reference", "simkernel",
                   "--min-correlation", "0.99", "--report-dir", str(tmp_path / "r"), cwd=port.path,
                   xdg=xdg_cache)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("report: ") == 1
    (line,) = [line for line in run.stderr.splitlines() if line.startswith("reproduce with: ")]
    argv = shlex.split(line.removeprefix("reproduce with: "))
    assert argv[:3] == ["bisector", "score", port.culprit]
    assert "--reference" in argv and argv[argv.index("--reference") + 1] == "simkernel"
    assert argv[argv.index("--min-correlation") + 1] == "0.99"
    # Elsewhere, with a cold cache, and a C program in NB_C_BIN that would otherwise win.
    again = bisector(*argv[1:], "--json", cwd=tmp_path, xdg=tmp_path / "other-xdg", NB_C_BIN=str(c_twin))
    assert again.returncode == 1, again.stderr  # the culprit is bad, as the run said
    assert json.loads(again.stdout)["reference"].startswith("simkernel-")
