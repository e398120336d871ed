"""Every command bisector prints for a person to run works when pasted into a fresh shell.

bisector runs here as a user runs it after the README's install: the console script in the
virtual environment's bin folder, called by its path, with a PATH that does not contain that
folder. Each printed command is then run as printed, with the same PATH.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bisector.invocation import program
from portrepo import Change, make_port_repo

SCRIPT = Path(sys.executable).parent / "bisector"   # the console script pip installed

pytestmark = pytest.mark.skipif(not SCRIPT.is_file(), reason="bisector is not installed as a console script")


def _fresh_shell(tmp_path: Path) -> dict[str, str]:
    """A user's environment without the virtual environment on PATH, a private cache, no NB_C_BIN."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "NB_C_BIN"}
    bin_dir = SCRIPT.parent.resolve()
    env["PATH"] = os.pathsep.join(d for d in env.get("PATH", "").split(os.pathsep)
                                  if d and Path(d).resolve() != bin_dir)
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    env["COLUMNS"] = "400"  # a printed command on one line
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _printed(pattern: str, text: str) -> list[str]:
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"no printed command matching {pattern!r} in:\n{text}"
    return shlex.split(match.group(1))


def test_the_fresh_shell_cannot_find_bisector(tmp_path):
    # The premise of the tests below: a bare `bisector` would fail here.
    assert _run(["sh", "-c", "command -v bisector"], tmp_path, _fresh_shell(tmp_path)).returncode != 0


def test_the_program_is_bisector_when_path_finds_the_same_script(monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([str(SCRIPT.parent), os.environ.get("PATH", "")]))
    assert program() == ["bisector"]
    monkeypatch.setenv("PATH", "/nonexistent")
    assert program() == [str(SCRIPT.absolute())]


@pytest.mark.slow
def test_the_reproduce_line_of_run_works_when_pasted(tmp_path, c_twin):
    # The port configures the C reference without a program: only --c-bin supplies it.
    port = make_port_repo(tmp_path / "port", history=[Change("docs"), Change("regress"), Change("docs")],
                          reference="c")
    env = _fresh_shell(tmp_path)
    run = _run([str(SCRIPT), "run", "--repo", str(port.path), "-g", port.base, "--c-bin", str(c_twin),
                "--report-dir", str(tmp_path / "reports")], tmp_path, env)
    assert run.returncode == 0, run.stderr
    argv = _printed(r"^reproduce with: (.*)$", run.stderr)
    assert argv[0] == str(SCRIPT) and argv[1:3] == ["score", port.culprit]
    assert argv[argv.index("--c-bin") + 1] == str(c_twin)
    again = _run(argv, tmp_path / "reports", env)
    assert again.returncode == 1, again.stderr   # bad, as the run said
    assert f"{port.culprit[:12]}: bad" in again.stdout


@pytest.mark.slow
def test_the_scan_the_refusal_prints_and_the_rehunt_the_scan_writes_work(tmp_path, c_twin):
    history = [Change("docs"), Change("regress"), Change("docs"), Change("fix"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history, reference="c")
    env = _fresh_shell(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = _run([str(SCRIPT), "run", "--repo", str(port.path), "-g", port.base, "-b", port.head,
                    "--c-bin", str(c_twin), "-s", "small"], elsewhere, env)
    assert refused.returncode == 3, refused.stderr   # an explicit --bad that is good
    scan = _printed(r"`([^`]* scan [^`]*)`", refused.stderr)
    assert scan[0] == str(SCRIPT) and "--c-bin" in scan and "--repo" in scan
    scanned = _run(scan, elsewhere, env)
    assert scanned.returncode == 0, scanned.stderr   # the window pinned and confirmed
    (commands,) = (elsewhere / "reports" / "scan").glob("*/commands.txt")
    printed = [shlex.split(line) for line in commands.read_text().splitlines()]
    (rehunt,) = [argv for argv in printed if argv[1] == "run"]
    (rejudge,) = [argv for argv in printed if argv[1] == "score"]   # the window's first bad state, --full
    assert rehunt[0] == rejudge[0] == str(SCRIPT) and "--full" in rejudge
    hunted = _run([*rehunt, "--report-dir", str(tmp_path / "rehunt")], elsewhere, env)
    assert hunted.returncode == 0, hunted.stderr
    assert _printed(r"^reproduce with: (.*)$", hunted.stderr)[2] == port.shas[1]   # the injected break
