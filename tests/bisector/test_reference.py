"""Reference images: detector shape from arguments, the real C twin, caching, building."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bisector.store.cache import Cache
from bisector.config import ConfigOverrides, Scenario, load_config
from bisector.errors import ReferenceFailure
from bisector.score.reference import CReference, detector_shape, open_reference
from portrepo import make_port_repo, scenario_args

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


@pytest.mark.parametrize("case", sorted(p.stem for p in GOLDEN.glob("*.json")))
def test_detector_shape_matches_the_golden_images(case):
    meta = json.loads((GOLDEN / f"{case}.json").read_text())
    assert detector_shape(meta["args_physics"]) == tuple(meta["shape_slow_fast"])
    assert np.load(GOLDEN / f"{case}.npy", mmap_mode="r").shape == tuple(meta["shape_slow_fast"])


@pytest.mark.parametrize("args, shape", [
    ([], (1024, 1024)),                                   # 102.4 mm / 0.1 mm
    (["-detsize", "12.8"], (128, 128)),
    (["-detsize", "10", "-pixel", "0.3"], (33, 33)),      # ceil(33.33 - 0.5)
    (["-detsize_f", "2", "-detsize_s", "1"], (10, 20)),
    (["-detpixels_f", "100", "-detpixels_s", "50"], (50, 100)),
    (["-detpixels", "8", "-detpixels", "16"], (16, 16)),  # the last one wins
    (["-detpixels", "32", "-pixel", "0.4"], (32, 32)),
])
def test_detector_shape_by_hand(args, shape):
    assert detector_shape(args) == shape


def test_detector_shape_rejects_nonsense():
    with pytest.raises(ValueError, match="-detpixels"):
        detector_shape(["-detpixels", "many"])


def _counting_wrapper(tmp_path: Path, c_twin: Path) -> tuple[Path, Path]:
    counter = tmp_path / "calls"
    wrapper = tmp_path / "nanoBragg"
    wrapper.write_text(f'#!/bin/sh\necho run >> "{counter}"\nexec "{c_twin}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper, counter


def test_c_reference_runs_once_per_scenario_ever(tmp_path, c_twin):
    wrapper, counter = _counting_wrapper(tmp_path, c_twin)
    scenario = Scenario("small", tuple(scenario_args(16).split()))
    first = CReference(wrapper, Cache(tmp_path / "cache"), 60).image(scenario)
    again = CReference(wrapper, Cache(tmp_path / "cache"), 60).image(scenario)
    assert counter.read_text().count("run") == 1
    assert first.shape == (16, 16) and first.dtype == np.float32 and np.array_equal(first, again)
    # Independent value: the 128-pixel golden image, summed in float64 (physics.md §13: 112265).
    golden = Scenario("golden", tuple(json.loads((GOLDEN / "01_base.json").read_text())["args_physics"]))
    image = CReference(c_twin, None, 60).image(golden)
    assert np.array_equal(image, np.load(GOLDEN / "01_base.npy"))


def test_failing_c_reference_names_command_and_stderr(tmp_path):
    broken = tmp_path / "nanoBragg"
    broken.write_text("#!/bin/sh\necho 'cannot open Fdump.bin' >&2\nexit 9\n")
    broken.chmod(0o755)
    with pytest.raises(ReferenceFailure) as info:
        CReference(broken, None, 60).image(Scenario("s", ("-detpixels", "8")))
    text = str(info.value)
    assert "status 9" in text and "cannot open Fdump.bin" in text and "-floatfile" in text


def test_short_output_is_a_reference_failure(tmp_path):
    short = tmp_path / "nanoBragg"
    # Writes 4 floats whatever the detector size.
    short.write_text('#!/bin/sh\nfor a; do out="$a"; done\nhead -c 16 /dev/zero > "$out"\n')
    short.chmod(0o755)
    with pytest.raises(ReferenceFailure, match="wrong size"):
        CReference(short, None, 60).image(Scenario("s", ("-detpixels", "8")))


def test_build_kind_builds_once_in_a_private_worktree(tmp_path, c_twin):
    from simkernel import cref

    port = make_port_repo(tmp_path / "port", history=[])
    shutil.copy(cref.source_path(), port.path / "twin.c")
    git = ["git", "-C", str(port.path)]
    subprocess.run([*git, "add", "twin.c"], check=True)
    subprocess.run([*git, "commit", "-qm", "C reference"], check=True)
    (port.path / "twin.c").unlink()  # the build must use the commit, not the working tree
    (tmp_path / "b.toml").write_text(
        '[reference]\nbuild = "cc -O1 -o nanoBragg twin.c -lm"\nbuild_commit = "HEAD"\n'
        f'[scenarios.small]\nargs = "{port.scenario_args}"\n')
    cfg = load_config(port.path, tmp_path / "b.toml", ConfigOverrides(cache_dir=tmp_path / "cache"))
    ref = open_reference(cfg, Cache(cfg.cache_dir))
    assert ref.binary.is_relative_to(tmp_path / "cache")
    expected = CReference(c_twin, None, 60).image(cfg.scenarios["small"])
    assert np.allclose(ref.image(cfg.scenarios["small"]), expected, rtol=1e-5)
    assert open_reference(cfg).binary == ref.binary  # cached: no second build
    worktrees = subprocess.run([*git, "worktree", "list"], capture_output=True, text=True).stdout
    assert len(worktrees.splitlines()) == 1
