"""`bisector narrow` end to end on generated port histories (64x64 images, real git, real runs)."""

from __future__ import annotations

import json
import subprocess

import pytest

from bisector.cli import main
from portrepo import MAIN_SOURCE, Change, PortState, commit_files, edited, make_port_repo, physics_source
from repostate import snapshot

SIZE = 64
PHYSICS = "src/nbport/physics.py"
MAIN = "src/nbport/__main__.py"

# Edits of the port's physics.py, each far enough from the others to be its own hunk.
DOCSTRING = ("Units: lengths in metres inside, wavelengths in metres, image in photons per pixel.",
             "Units: SI inside (lengths and wavelengths in metres); the image is in photons per pixel.")
SINCG_DOC = ('"""Lattice factor sin(n x)/sin(x) (n where x == 0), as nanoBragg defines it."""',
             '"""Lattice factor sin(n x) / sin(x), n where x == 0 (nanoBragg\'s sincg)."""')
OVERSAMPLE_COMMENT = ("    xtal_max = max(c * n for c, n in zip(cell_m, n_cells))\n",
                      "    # the crystal's largest extent decides how finely a pixel is sampled\n"
                      "    xtal_max = max(c * n for c, n in zip(cell_m, n_cells))\n")
PIX0_COMMENT = ("    # pix0 = -Fbeam f - Sbeam s + distance b with f=(0,0,1), s=(0,-1,0), b=(1,0,0).\n",
                "    # pix0 = -Fbeam f - Sbeam s + distance b (MOSFLM: f=(0,0,1), s=(0,-1,0), b=(1,0,0)).\n")
BREAK = ("            polar = 0.5 * (1.0 + (x / r0) ** 2)\n",
         "            polar = 0.75 * (1.0 + (x / r0) ** 2)  # the unpolarised factor, rescaled\n")
MAIN_DOC = ('"""nanoBragg-compatible command line (a subset): python -m nbport FLAGS -floatfile FILE."""',
            '"""The command line of the port: python -m nbport FLAGS -floatfile FILE (a subset of nanoBragg\'s)."""')
IMPORTS = "import time\n"  # the last import line: a place for module-level additions
UNITS = "src/nbport/units.py"
UNITS_TEXT = '"""Unit constants."""\n\nMETRE = 1.0\nANGSTROM = 1e-10\n'


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("narrow-cache")


def _port(tmp_path):
    return make_port_repo(tmp_path / "port", history=[Change("docs"), Change("refactor")], size=SIZE)


def _narrow(port, reports, *args) -> tuple[int, dict]:
    code = main(["narrow", *args, "--repo", str(port.path), "--report-dir", str(reports)])
    folder = max((p for p in reports.iterdir() if (p / "narrow.json").is_file()), key=lambda p: p.name)
    return code, json.loads((folder / "narrow.json").read_text()) | {"folder": str(folder)}


@pytest.fixture(autouse=True)
def private_cache(cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _objects(repo) -> str:
    return subprocess.run(["git", "-C", str(repo), "count-objects", "-v"], capture_output=True, text=True).stdout


def test_one_breaking_hunk_among_unrelated_ones_is_isolated(tmp_path):
    port = _port(tmp_path)
    physics = edited(physics_source(port.states[-1]), DOCSTRING, SINCG_DOC, OVERSAMPLE_COMMENT, PIX0_COMMENT, BREAK)
    line = _line_of(physics, "polar = 0.75")
    culprit = commit_files(port.path, {
        PHYSICS: physics,
        MAIN: edited(MAIN_SOURCE, MAIN_DOC),
        UNITS: UNITS_TEXT,
        "docs/notes.md": "# Notes\n\nOutside the relevant paths: never a hunk.\n",
    }, "Tidy physics docs, add units.py, rescale polarisation")
    before, objects = snapshot(port.path), _objects(port.path)

    code, found = _narrow(port, tmp_path / "reports", culprit)

    assert code == 0, found["conclusion"]
    assert found["direction"] == "break" and found["isolated"] and not found["interaction"]
    hunks = found["hunks"]
    assert [h["path"] for h in hunks] == [MAIN] + [PHYSICS] * 5 + [UNITS]
    breaking = [h for h in hunks if h["path"] == PHYSICS and h["first"] == line]
    assert len(breaking) == 1 and breaking[0]["function"] == "simulate"
    assert found["minimal"] == [breaking[0]["hunk"]]
    assert [h["function"] for h in hunks if h["path"] == PHYSICS] == [None, "sincg", "auto_oversample",
                                                                      "simulate", "simulate"]
    # scorings: within ddmin's bound (+ confirmation and complement), complement checked and good
    assert found["search_tests"] <= found["ddmin_bound"] == (7 * 7 + 3 * 7) // 2
    assert found["scorings"] == found["search_tests"] + 2
    assert found["complement"]["outcome"] == "pass" and found["confirmation"]["outcome"] == "fail"
    assert found["parent_record"]["verdict"] == "good" and found["commit_record"]["verdict"] == "bad"
    confirm = found["confirmation"]["record"]["scenarios"][0]
    assert confirm["sum_ratio"] == pytest.approx(1.5, rel=1e-3)  # 0.75 / 0.5: the polarisation hunk alone
    # the report: the patch is exactly the breaking hunk and applies to the parent
    folder = tmp_path / "reports" / found["folder"].rsplit("/", 1)[-1]
    patch = (folder / "minimal.patch").read_text()
    assert "polar = 0.75" in patch and "units" not in patch and patch.count("@@ -") == 1
    check = subprocess.run(["git", "-C", str(port.path), "apply", "--check", "-"], input=patch, text=True,
                           capture_output=True)
    assert check.returncode != 0  # HEAD is the culprit: the hunk is already there
    md = (folder / "narrow.md").read_text()
    assert f"src/nbport/physics.py:{line} in simulate" in md and "| parent + minimal hunks | bad |" in md
    # the user's repository: untouched, not even an object written
    assert snapshot(port.path) == before and _objects(port.path) == objects

    # a budget too small for the search: not isolated, and said so (scores come from the cache now)
    code, short = _narrow(port, tmp_path / "reports", culprit, "--budget", "3")
    assert code == 1 and short["search_exhausted"] and short["scorings"] <= 3
    assert "budget of 3 scorings ran out" in short["conclusion"]


def test_lines_granularity_splits_a_hunk_at_its_unchanged_lines(tmp_path):
    port = _port(tmp_path)
    physics = edited(physics_source(port.states[-1]), BREAK,
                     ("z_sub[0] * z_sub[0])\n", "z_sub[0] * z_sub[0])  # first subpixel\n"))
    culprit = commit_files(port.path, {PHYSICS: physics}, "Comment the subpixel; rescale polarisation")
    code, whole = _narrow(port, tmp_path / "reports", culprit)
    assert code == 0 and len(whole["hunks"]) == 1 and whole["minimal"] == [1]  # one hunk holds both
    code, lines = _narrow(port, tmp_path / "reports", culprit, "--granularity", "lines")
    assert code == 0 and len(lines["hunks"]) == 2
    polar = _line_of(physics, "polar = 0.75")
    assert [h["first"] for h in lines["hunks"]] == [polar - 2, polar]
    assert lines["minimal"] == [2] and lines["hunks"][1]["function"] == "simulate"


def _gain_port(tmp_path, *, unrelated: bool):
    """A port whose image is scaled by GAIN only when USE_GAIN: two hunks that break only together."""
    port = _port(tmp_path)
    base = edited(physics_source(port.states[-1]),
                  (IMPORTS, IMPORTS + "\nGAIN = 1.0\n"),
                  ("\n\ndef simulate(", "\n\nUSE_GAIN = False\n\n\ndef simulate("),
                  ("value * e * INTENSITY_SCALE for", "value * e * INTENSITY_SCALE * (GAIN if USE_GAIN else 1.0) for"))
    commit_files(port.path, {PHYSICS: base}, "physics: an optional gain")
    edits = [("GAIN = 1.0\n", "GAIN = 1.5\n"), ("USE_GAIN = False\n", "USE_GAIN = True\n")]
    if unrelated:
        edits.append(SINCG_DOC)
    return port, commit_files(port.path, {PHYSICS: edited(base, *edits)}, "Turn the gain on")


def test_two_hunks_that_break_only_together_are_both_reported(tmp_path):
    port, culprit = _gain_port(tmp_path / "a", unrelated=True)
    code, found = _narrow(port, tmp_path / "reports", culprit)
    assert len(found["hunks"]) == 3
    turned_on = (port.path / PHYSICS).read_text()
    gain, use = (next(h["hunk"] for h in found["hunks"] if h["first"] == _line_of(turned_on, needle))
                 for needle in ("GAIN = 1.5", "USE_GAIN = True"))
    assert code == 0 and found["minimal"] == [gain, use] and found["interaction"]
    assert {h["function"] for h in found["hunks"]} == {None, "sincg"}
    assert "interact" in found["conclusion"]

    # the same two hunks with nothing else: no proper subset breaks parity -> not isolated
    port, culprit = _gain_port(tmp_path / "b", unrelated=False)
    code, found = _narrow(port, tmp_path / "reports", culprit)
    assert code == 1 and not found["isolated"] and found["minimal"] == [1, 2]
    assert "no proper subset of the 2 hunks break parity" in found["conclusion"]


def test_a_hunk_that_cannot_import_alone_is_unresolved_never_blamed(tmp_path):
    port = _port(tmp_path)
    physics = edited(physics_source(port.states[-1]), (IMPORTS,
                                                       IMPORTS + "\nfrom .units import METRE  # noqa: F401\n"),
                     SINCG_DOC, BREAK)
    culprit = commit_files(port.path, {PHYSICS: physics, UNITS: UNITS_TEXT}, "units.py, and rescale polarisation")
    code, found = _narrow(port, tmp_path / "reports", culprit)
    assert code == 0, found["conclusion"]
    imports = next(h["hunk"] for h in found["hunks"] if h["path"] == PHYSICS
                   and h["first"] == _line_of(physics, "from .units import METRE"))
    units = next(h["hunk"] for h in found["hunks"] if h["path"] == UNITS)
    unresolved = [t for t in found["trials"] if t["outcome"] == "unresolved"]
    assert unresolved and all(imports in t["hunks"] and units not in t["hunks"] for t in unresolved)
    assert any("ModuleNotFoundError" in (t["record"]["scenarios"][0]["reason"]) for t in unresolved)
    assert imports not in found["minimal"] and len(found["minimal"]) == 1
    assert "could not be judged" in found["conclusion"]


def test_a_fix_is_narrowed_to_the_hunks_that_restore_parity(tmp_path):
    port = make_port_repo(tmp_path / "port", history=[Change("regress", how="scale"), Change("docs")], size=SIZE)
    regressed = physics_source(port.states[-1])
    fixed = edited(regressed, DOCSTRING, ("INTENSITY_SCALE = 1.5\n", "INTENSITY_SCALE = 1.0\n"), SINCG_DOC)
    fix = commit_files(port.path, {PHYSICS: fixed, MAIN: edited(MAIN_SOURCE, MAIN_DOC)},
                       "Restore the intensity scale; tidy docstrings")
    assert physics_source(PortState()) != fixed  # the fix keeps its unrelated edits
    code, found = _narrow(port, tmp_path / "reports", fix)
    assert code == 0, found["conclusion"]
    assert found["direction"] == "fix"
    assert found["parent_record"]["verdict"] == "bad" and found["commit_record"]["verdict"] == "good"
    restoring = next(h for h in found["hunks"]
                     if h["path"] == PHYSICS and h["first"] == _line_of(fixed, "INTENSITY_SCALE = 1.0"))
    assert found["minimal"] == [restoring["hunk"]] and "restores parity" in found["conclusion"]


def test_bad_input_is_refused_with_exit_2(tmp_path, capsys):
    port = _port(tmp_path)
    reports = tmp_path / "reports"
    assert main(["narrow", "no-such-commit", "--repo", str(port.path), "--report-dir", str(reports)]) == 2
    assert "unknown commit 'no-such-commit'" in capsys.readouterr().err
    assert main(["narrow", "HEAD", "--budget", "1", "--repo", str(port.path), "--report-dir", str(reports)]) == 2
    assert main(["narrow", "--repo", str(port.path), "--report-dir", str(reports)]) == 2
    assert "no run with a confirmed culprit" in capsys.readouterr().err
    assert main(["narrow", port.base, "--repo", str(port.path), "--report-dir", str(reports)]) == 2
    assert "root commit" in capsys.readouterr().err


def _mixed_culprit(port) -> str:
    physics = edited(physics_source(port.states[-1]), DOCSTRING, SINCG_DOC, PIX0_COMMENT, BREAK)
    return commit_files(port.path, {PHYSICS: physics, MAIN: edited(MAIN_SOURCE, MAIN_DOC)},
                        "Tidy docstrings; rescale polarisation")


def test_run_narrow_adds_the_hunks_to_the_run_bundle_and_narrow_defaults_to_its_culprit(tmp_path, capsys):
    port = _port(tmp_path)
    culprit = _mixed_culprit(port)
    commit_files(port.path, {"docs/notes.md": "# Notes\n\nlater\n"}, "docs after the culprit")
    reports = tmp_path / "reports"
    code = main(["run", "--good", port.base, "--narrow", "--repo", str(port.path), "--report-dir", str(reports)])
    assert code == 0
    (bundle,) = [p for p in reports.iterdir()]
    results = json.loads((bundle / "results.json").read_text())
    assert results["culprit"] == culprit
    (narrowed,) = results["narrow"]
    # hunks: __main__ docstring, physics docstring, sincg, the pix0 comment, then the breaking one
    assert narrowed["isolated"] and len(narrowed["hunks"]) == 5 and narrowed["minimal"] == [5]
    assert narrowed["hunks"][4]["function"] == "simulate"
    assert "polar = 0.75" in (bundle / "minimal.patch").read_text()
    summary = (bundle / "culprit_summary.md").read_text()
    assert summary.count("## Narrowing") == 1 and "in simulate" in summary and "## Metrics" in summary
    for name in ("narrow.md", "narrow.json", "minimal.patch"):
        assert (bundle / name).is_file()
    capsys.readouterr()

    # `bisector narrow` with no commit: the last run's culprit, into the same bundle (replacing the section)
    assert main(["narrow", "--repo", str(port.path), "--report-dir", str(reports)]) == 0
    assert [p for p in reports.iterdir()] == [bundle]
    summary = (bundle / "culprit_summary.md").read_text()
    assert summary.count("## Narrowing") == 1
    assert f"narrowing {culprit[:10]}" in capsys.readouterr().err


def test_scan_narrow_finds_the_breaking_and_the_restoring_hunks(tmp_path):
    port = _port(tmp_path)
    culprit = _mixed_culprit(port)
    broken = (port.path / PHYSICS).read_text()
    fix = commit_files(port.path, {PHYSICS: edited(broken, (BREAK[1], BREAK[0]), OVERSAMPLE_COMMENT)},
                       "Restore the polarisation factor; comment auto_oversample")
    reports = tmp_path / "reports"
    assert main(["scan", "--good", port.base, "--narrow", "--repo", str(port.path), "--report-dir", str(reports)]) == 0
    (bundle,) = [p for p in reports.iterdir()]
    narrowed = {n["commit"]: n for n in json.loads((bundle / "timeline.json").read_text())["narrow"]}
    assert set(narrowed) == {culprit, fix}
    assert narrowed[culprit]["direction"] == "break" and narrowed[fix]["direction"] == "fix"
    assert narrowed[fix]["isolated"] and len(narrowed[fix]["hunks"]) == 2
    restoring = next(h for h in narrowed[fix]["hunks"] if h["function"] == "simulate")
    assert narrowed[fix]["minimal"] == [restoring["hunk"]]
    assert narrowed[culprit]["isolated"] and len(narrowed[culprit]["minimal"]) == 1
    assert (bundle / f"narrow-{fix[:10]}" / "minimal.patch").is_file()
    assert "## Narrowing" in (bundle / "timeline.md").read_text()


def test_interrupting_a_narrowing_removes_its_private_repository_and_candidates(tmp_path):
    """SIGTERM while a subset hangs: exit 130, no scratch folder or candidate left, repository untouched."""
    import os
    import signal
    import sys

    from procwatch import cmdline, wait_for, with_env

    port = _port(tmp_path)
    hooked = edited(physics_source(port.states[-1]), ("    n = oversample if oversample > 0",
                                                      "    if globals().get(\"HANG\"):\n        time.sleep(300)\n"
                                                      "    n = oversample if oversample > 0"))
    commit_files(port.path, {PHYSICS: hooked}, "physics: a debugging hook")
    # the first hunk turns the hook on, the end of the file off again: ddmin's first subset
    # (the first hunk without the last) hangs; the whole commit does not
    culprit = commit_files(port.path, {PHYSICS: edited(hooked, (IMPORTS, IMPORTS + "\nHANG = True\n"),
                                                       BREAK) + "\n\nHANG = False\n"}, "hook on and off; rescale")
    before = snapshot(port.path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # a cache of its own: the marker then names this run's processes only (git processes the
    # in-process tests above started carry the module's cache in their environment)
    cache = tmp_path / "cache"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), PYTHONUNBUFFERED="1", TMPDIR=str(scratch))
    proc = subprocess.Popen([sys.executable, "-m", "bisector", "narrow", culprit, "--report-dir", str(tmp_path / "r")],
                            cwd=port.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    marker = f"XDG_CACHE_HOME={cache}"
    hanging = wait_for(lambda: list(scratch.glob("bisector-narrow-*"))
                       and [p for p in with_env(marker) if "-m nbport" in cmdline(p)], timeout_s=180)
    assert hanging and proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "search 1" not in err  # stopped inside the first subset
    assert not list(scratch.glob("bisector-*")), list(scratch.iterdir())
    assert with_env(marker) == [], [cmdline(p) for p in with_env(marker)]
    assert snapshot(port.path) == before
