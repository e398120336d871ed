"""An unusable cache is a notice, not a failure; `bisector cache info|clear` through the CLI.

The cache is the point here: every test starts from a bare XDG_CACHE_HOME of its own (no
warm reference images), and the command line runs in this process (``bisector.cli.main``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from portrepo import Change, make_port_repo


@pytest.fixture
def bisector(bisector_cli):
    """`bisector ARGS` in ``cwd`` with XDG_CACHE_HOME=``xdg``."""
    def run(*args: str, cwd: Path, xdg: Path):
        return bisector_cli(*args, cwd=cwd, env={"XDG_CACHE_HOME": str(xdg)})
    return run


@pytest.fixture(scope="module")
def port(tmp_path_factory, c_twin):
    """Only read by the tests."""
    return make_port_repo(tmp_path_factory.mktemp("cache-cli") / "port",
                          history=[Change("docs"), Change("regress"), Change("docs")], reference="c", c_bin=c_twin)


def _immutable(paths: list[Path], request) -> None:
    """Read-only for anyone, root included (root ignores permission bits, not the immutable flag)."""
    request.addfinalizer(lambda: [p.chmod(0o755) for p in paths])  # runs after chattr -i below
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("running as root without chattr +i: cannot make a read-only folder")
        request.addfinalizer(lambda: subprocess.run(["chattr", "-i", *map(str, paths)]))


def test_a_cache_path_that_is_a_file_is_one_notice_and_the_hunt_goes_on(port, tmp_path, bisector):
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    (xdg / "bisector").write_text("not a folder")
    proc = bisector("run", "--good", port.base, "--report-dir", str(tmp_path / "r"), cwd=port.path, xdg=xdg)
    assert proc.returncode == 0, proc.stderr
    assert f"culprit: {port.culprit}" in proc.stderr
    assert proc.stderr.count("cannot be used") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (xdg / "bisector").read_text() == "not a folder"


@pytest.mark.parametrize("what", ["folder", "database"])
def test_a_read_only_cache_still_answers_and_stores_nothing(port, tmp_path, request, bisector, what):
    xdg = tmp_path / "xdg"
    first = bisector("score", port.shas[1], "--json", cwd=port.path, xdg=xdg)
    assert first.returncode == 1, first.stderr
    cache = xdg / "bisector"
    files = sorted(p for p in cache.rglob("*"))
    before = {p: p.stat().st_mtime_ns for p in files if p.is_file()}
    _immutable([cache, cache / "images", *files] if what == "folder" else [cache / "cache.sqlite3"], request)

    again = bisector("score", port.shas[1], "--json", cwd=port.path, xdg=xdg)
    assert again.returncode == 1, again.stderr  # the same verdict
    assert again.stderr.count("read-only") + again.stderr.count("cannot be used") == 1, again.stderr
    assert "Traceback" not in again.stderr
    other = bisector("score", port.shas[0], "--json", cwd=port.path, xdg=xdg)  # not cached: computed
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout)["scenarios"][0]["cached"] is False
    assert {p: p.stat().st_mtime_ns for p in files if p.is_file()} == before


def test_cache_info_and_clear(port, tmp_path, bisector):
    xdg = tmp_path / "xdg"
    empty = bisector("cache", "info", cwd=tmp_path, xdg=xdg)
    assert empty.returncode == 0 and str(xdg / "bisector") in empty.stdout and "not created yet" in empty.stdout
    for sha in (port.base, port.shas[1]):
        bisector("score", sha, cwd=port.path, xdg=xdg)
    info = bisector("cache", "info", cwd=tmp_path, xdg=xdg)
    assert info.returncode == 0, info.stderr
    assert "1 reference images, 2 scores" in info.stdout
    on_disk = sum(p.stat().st_size for p in (xdg / "bisector").rglob("*") if p.is_file())
    assert f"({on_disk:,} bytes)" in info.stdout.split("size:")[1].split(";")[0]

    kept = bisector("cache", "clear", "--older-than", "1", cwd=tmp_path, xdg=xdg)
    assert kept.returncode == 0 and "removed 0 entries" in kept.stdout
    assert "1 reference images, 2 scores" in bisector("cache", "info", cwd=tmp_path, xdg=xdg).stdout
    compile_caches = list((xdg / "bisector" / "compile").glob("*"))  # a scoring run makes one (Inductor's)
    cleared = bisector("cache", "clear", cwd=tmp_path, xdg=xdg)
    assert cleared.returncode == 0 and f"removed {3 + len(compile_caches)} entries" in cleared.stdout
    assert not any(p.exists() for p in compile_caches)
    assert "0 reference images, 0 scores" in bisector("cache", "info", cwd=tmp_path, xdg=xdg).stdout
    assert not list((xdg / "bisector" / "images").glob("*.npy"))


def test_cache_clear_touches_only_bisectors_files(tmp_path, bisector):
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "mine.txt").write_text("not bisector's")
    proc = bisector("cache", "clear", "--cache-dir", str(folder), cwd=tmp_path, xdg=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (folder / "mine.txt").read_text() == "not bisector's"
