"""Paths are data, results come before decoration, links in commits are data, bad input is said first.

Real repositories at hostile paths, real hunts, real file-system faults (a tiny tmpfs, an
immutable folder), all through `bisector.cli.main`. Each test asserts the exit code, the
message without a traceback and the user's repository unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from bisector import git
from bisector.cli import main
from fsfaults import fill, read_only, small_filesystem
from portrepo import Change, make_port_repo
from repostate import snapshot

D, R = Change("docs"), Change("refactor")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def _git(repo, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def _error(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("bisector: error:")]
    assert len(lines) == 1, err
    return lines[0]


# -- paths are data ------------------------------------------------------------------------------

def test_a_dollar_in_the_repository_path_judges_that_repository_not_the_expanded_one(tmp_path, monkeypatch,
                                                                                       capsys):
    odd = tmp_path / "a $REL_SUB ~ é"
    decoy = tmp_path / "a other ~ é"
    port = make_port_repo(odd / "port", history=[D, Change("regress"), D], size=16)
    make_port_repo(decoy / "port", history=[D, D, D], size=16)  # what "$REL_SUB" would expand to: all good
    monkeypatch.setenv("REL_SUB", "other")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache $HOME ~"))
    before = snapshot(port.path)

    assert main(["score", "HEAD", "--repo", str(port.path)]) == 1  # the real port's HEAD is bad
    reports = tmp_path / "reports $REL_SUB ~"
    assert main(["run", "--good", port.base, "--repo", str(port.path), "--report-dir", str(reports)]) == 0
    assert f"culprit: {port.culprit}" in capsys.readouterr().err
    assert len(list(reports.iterdir())) == 1 and not (tmp_path / "reports other ~").exists()
    assert (tmp_path / "cache $HOME ~" / "bisector" / "cache.sqlite3").exists()
    assert snapshot(port.path) == before


def test_a_relative_tilde_folder_is_a_folder_here_not_home(tmp_path, monkeypatch, capsys):
    port = make_port_repo(tmp_path / "port", history=[D, Change("regress")], size=16)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert main(["history", "--ledger", str(tmp_path / "none"), "--repo", str(port.path)]) == 2
    capsys.readouterr()
    assert main(["nightly", "--repo", str(port.path), "--ledger", "~/ledger $X.sqlite3", "--out", "~out"]) == 5
    assert (tmp_path / "~" / "ledger $X.sqlite3").is_file() and (tmp_path / "~out" / "nightly.json").is_file()
    assert not (tmp_path / "home").exists()


def test_verify_in_a_repository_under_a_folder_named_dollar_home(tmp_path, monkeypatch, capsys):
    port = make_port_repo(tmp_path / "$HOME" / "port", history=[D, Change("regress")], size=16)
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "HEAD~1", "--repo", str(port.path), "--report-dir", str(tmp_path / "$HOME r")]) == 0
    assert main(["verify", "--repo", str(port.path), "--report-dir", str(tmp_path / "$HOME r")]) == 1
    assert "Traceback" not in capsys.readouterr().err


# -- links in commits are data -------------------------------------------------------------------

def _commit_links_then_regress(port) -> tuple[str, str]:
    src = port.path / "src"
    os.symlink("/", src / "rootlink")
    os.symlink("../../x", src / "nbport" / "uplink")
    _git(port.path, "add", "-A")
    _git(port.path, "commit", "-q", "-m", "Links out of the tree")
    links = _git(port.path, "rev-parse", "HEAD")
    physics = src / "nbport" / "physics.py"
    physics.write_text(physics.read_text().replace("INTENSITY_SCALE = 1.0", "INTENSITY_SCALE = 1.5"))
    _git(port.path, "commit", "-q", "-am", "Scale the image")
    return links, _git(port.path, "rev-parse", "HEAD")


def test_links_out_of_the_tree_are_exported_as_links_and_never_abort_the_hunt(tmp_path, capsys):
    port = make_port_repo(tmp_path / "port", history=[D, R], size=16)
    links, culprit = _commit_links_then_regress(port)
    before = snapshot(port.path)

    dest = tmp_path / "export"
    git.export(port.path, links, ["src"], dest)
    assert os.readlink(dest / "src" / "rootlink") == "/" and os.readlink(dest / "src" / "nbport" / "uplink") == "../../x"

    assert main(["run", "--good", port.base, "--repo", str(port.path), "--report-dir", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert f"culprit: {culprit}" in err and "Traceback" not in err
    assert main(["scan", "--good", port.base, "--repo", str(port.path), "--report-dir", str(tmp_path / "s")]) == 0
    assert main(["verify", links, "--repo", str(port.path), "--report-dir", str(tmp_path / "v")]) == 0
    assert main(["verify", "--repo", str(port.path), "--report-dir", str(tmp_path / "v")]) == 1
    assert snapshot(port.path) == before


# -- bad input, said before the work -------------------------------------------------------------

@pytest.fixture
def port(tmp_path):
    return make_port_repo(tmp_path / "port", history=[D, Change("regress")], size=16)


def test_run_with_paths_outside_the_repository_is_bad_input(port, capsys):
    before = snapshot(port.path)
    for outside in ("/etc", "../elsewhere"):
        assert main(["run", "--good", port.base, "--repo", str(port.path), "--paths", outside]) == 2
        err = capsys.readouterr().err
        assert "outside the repository" in _error(err) and outside in err and "endpoint" not in err
    assert snapshot(port.path) == before


@pytest.mark.parametrize("command", ["verify", "compare"])
def test_a_read_only_report_folder_is_refused_before_either_side_runs(port, tmp_path, capsys, request, command):
    folder = tmp_path / "ro"
    folder.mkdir()
    read_only([folder], request)
    argv = [command, "--repo", str(port.path), "--report-dir", str(folder)]
    if command == "compare":
        argv += ["--ref", "simkernel", "--scenario", "small"]
    cache = tmp_path / "xdg-cache" / "bisector"
    before = snapshot(port.path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(folder) in _error(err) and "--report-dir" in err
    assert not (cache / "images").exists() or not any((cache / "images").iterdir())  # no side ran
    assert list(folder.iterdir()) == [] and snapshot(port.path) == before


def test_trace_diff_out_in_a_read_only_folder_is_bad_input(tmp_path, capsys, request):
    c, py = tmp_path / "c.log", tmp_path / "py.log"
    c.write_text("TRACE_C: omega 1.5\n")
    py.write_text("TRACE_PY: omega 1.5\n")
    folder = tmp_path / "ro"
    folder.mkdir()
    read_only([folder], request)
    assert main(["trace-diff", str(c), str(py), "--out", str(folder / "diff.md")]) == 2
    assert str(folder) in _error(capsys.readouterr().err)


@pytest.mark.parametrize("name", ["x.txt", "ro/h.png"])
def test_history_plot_that_cannot_be_written_is_bad_input(port, tmp_path, capsys, request, name):
    (tmp_path / "ro").mkdir()
    read_only([tmp_path / "ro"], request)
    ledger = tmp_path / "ledger.sqlite3"
    assert main(["nightly", "--repo", str(port.path), "--branch", "HEAD~1", "--ledger", str(ledger),
                 "--out", str(tmp_path / "n")]) == 0
    capsys.readouterr()
    before = ledger.read_bytes()
    assert main(["history", "--ledger", str(ledger), "--plot", str(tmp_path / name)]) == 2
    captured = capsys.readouterr()
    assert "--plot" in captured.err and _error(captured.err) and "nightly ledger" not in captured.out
    assert ledger.read_bytes() == before and not (tmp_path / name).exists()


def test_history_plot_reports_the_file_it_wrote(port, tmp_path, capsys):
    ledger = tmp_path / "ledger.sqlite3"
    assert main(["nightly", "--repo", str(port.path), "--branch", "HEAD~1", "--ledger", str(ledger),
                 "--out", str(tmp_path / "n")]) == 0
    capsys.readouterr()
    assert main(["history", "--ledger", str(ledger), "--plot", str(tmp_path / "h")]) == 0
    assert f"plot: {tmp_path / 'h.png'}\n" in capsys.readouterr().out
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG" and not (tmp_path / "h").exists()


# -- results before decoration; a machine fault is 4 ---------------------------------------------

def test_a_full_report_disk_keeps_the_culprit_line_and_results_json(port, tmp_path, capsys, request):
    reports = small_filesystem(tmp_path / "small", request, size_kib=512)
    fill(reports, leave_bytes=48 * 1024)  # room for results.json and Markdown, not the figure
    before = snapshot(port.path)
    assert main(["run", "--good", port.base, "--repo", str(port.path), "--report-dir", str(reports)]) == 4
    err = capsys.readouterr().err
    assert f"culprit: {port.culprit}" in err
    line = _error(err)
    assert "cannot write the report" in line and "No space left" in line and "verdict above stands" in line
    assert err.index("culprit:") < err.index("bisector: error:")
    written = [p for p in reports.iterdir() if p.is_dir()]
    assert len(written) == 1
    assert json.loads((written[0] / "results.json").read_text())["culprit"] == port.culprit
    assert snapshot(port.path) == before


def test_a_full_scratch_disk_is_a_machine_fault(port, tmp_path, capsys, request, monkeypatch):
    import tempfile

    scratch = small_filesystem(tmp_path / "scratch", request, size_kib=256)
    fill(scratch, leave_bytes=0)
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    code = main(["run", "--good", port.base, "--repo", str(port.path), "--report-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 4, err
    assert "No space left" in err and "internal error" not in err and "Traceback" not in err
