"""`bisector score` through the command line on real repositories, and score_commit.

The command line runs in this process (``bisector.cli.main``); git's own `git bisect run`
starts real `bisector score` processes, since the exit code git reads is the point there.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bisector.score.candidate import load_kept_image
from bisector.config import ConfigOverrides, load_config
from bisector.score.scoring import score_commit
from bisector.score.verdict import Verdict
from portrepo import Change, make_port_repo, pyproject_text
from repostate import snapshot

HISTORY = [Change("docs"), Change("regress", how="scale"), Change("fix"),
           Change("regress", how="shift"), Change("break_import"), Change("unbreak")]


@pytest.fixture
def score(bisector_cli, xdg_cache):
    """`bisector score ARGS` in ``repo`` with this test's own (reference-warm) cache."""
    def run(repo: Path, *args: str):
        return bisector_cli("score", *args, cwd=repo)
    return run


def record(proc) -> dict:
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def port(tmp_path_factory, c_twin):
    """The tests that use it only read it; each scores it with a cache of its own."""
    return make_port_repo(tmp_path_factory.mktemp("score") / "port", history=HISTORY, reference="c",
                          c_bin=c_twin)


def test_exit_codes_follow_git_bisect_contract(port, score):
    assert port.expected == ["good", "bad", "good", "bad", "skip", "bad"]
    codes = {"good": 0, "bad": 1, "skip": 125}
    for sha, expected in zip([port.base, *port.shas], ["good", *port.expected]):
        proc = score(port.path, sha)
        assert proc.returncode == codes[expected], (expected, proc.stdout, proc.stderr)
    scaled = record(score(port.path, port.shas[1], "--json"))
    assert scaled["scenarios"][0]["sum_ratio"] == pytest.approx(1.5, rel=1e-6)
    assert "sum ratio" in scaled["scenarios"][0]["reason"]
    shifted = record(score(port.path, port.shas[3], "--json"))
    assert shifted["scenarios"][0]["correlation"] < 0.99 and "correlation" in shifted["scenarios"][0]["reason"]
    broken = record(score(port.path, port.shas[4], "--json"))
    assert broken["verdict"] == "skip" and "SyntaxError" in broken["scenarios"][0]["reason"]


def test_default_commit_is_head_and_text_output(port, score):
    proc = score(port.path)
    assert proc.returncode == 1
    assert re.search(r"^small +corr=0\.\d+ +sum_ratio=0\.9\d+ +bad ", proc.stdout, re.M), proc.stdout
    assert f"{port.head[:12]}: bad (exit 1" in proc.stdout


def test_cache_hit_then_rejudge_after_threshold_change(port, score, tmp_path):
    first = record(score(port.path, port.shas[3], "--json"))
    assert first["scenarios"][0]["cached"] is False and first["verdict"] == "bad"
    second = record(score(port.path, port.shas[3], "--json"))
    assert second["scenarios"][0]["cached"] is True
    assert second["scenarios"][0]["correlation"] == first["scenarios"][0]["correlation"]
    # The docs commit has the same relevant tree as the root: it is a hit without any run.
    record(score(port.path, port.base, "--json"))
    assert record(score(port.path, port.shas[0], "--json"))["scenarios"][0]["cached"] is True

    loose = tmp_path / "loose.toml"
    loose.write_text(pyproject_text(size=32, reference="c", c_bin=port_c_bin(port),
                                    extra_toml="[tool.bisector.thresholds]\nmin_correlation = 0.9\n"
                                               "max_sum_ratio_error = 0.05"))
    proc = score(port.path, port.shas[3], "--json", "--config", str(loose))
    rejudged = record(proc)
    assert proc.returncode == 0 and rejudged["verdict"] == "good"
    assert rejudged["scenarios"][0]["cached"] is True

    fresh = record(score(port.path, port.shas[3], "--json", "--no-cache"))
    assert fresh["scenarios"][0]["cached"] is False


def port_c_bin(port) -> Path:
    text = (port.path / "pyproject.toml").read_text()
    return Path(re.search(r'c_bin = "(.*)"', text).group(1))


def test_timeout_is_skip_and_kills_the_candidate(tmp_path, c_twin, score):
    port = make_port_repo(tmp_path / "port", history=[Change("hang")], reference="c", c_bin=c_twin,
                          timeout=1.5)
    start = time.monotonic()
    proc = score(port.path, "--json")
    assert proc.returncode == 125, proc.stderr
    assert time.monotonic() - start < 30
    assert "timeout after 1.5s" in record(proc)["scenarios"][0]["reason"]
    # A timeout may pass on a quieter machine: it is not cached.
    assert record(score(port.path, "--json"))["scenarios"][0]["cached"] is False


def test_broken_reference_aborts(port, score, tmp_path):
    broken = tmp_path / "nanoBragg"
    broken.write_text("#!/bin/sh\necho 'segmentation fault' >&2\nexit 139\n")
    broken.chmod(0o755)
    proc = score(port.path, "--c-bin", str(broken))
    assert proc.returncode == 128
    assert "segmentation fault" in proc.stderr and str(broken) in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("toml, word", [("[tool.bisector]\ntimout = 3\n", "timout"),
                                        ("[tool.bisector\n", "not valid TOML")])
def test_invalid_config_aborts(port, score, tmp_path, toml, word):
    bad = tmp_path / "bad.toml"
    bad.write_text(toml)
    proc = score(port.path, "--config", str(bad))
    assert proc.returncode == 128 and word in proc.stderr and "Traceback" not in proc.stderr


def test_missing_c_bin_and_unknown_commit_abort(port, score, tmp_path):
    assert score(port.path, "--c-bin", str(tmp_path / "none")).returncode == 128
    proc = score(port.path, "no-such-commit")
    assert proc.returncode == 128 and "no-such-commit" in proc.stderr


def test_real_git_bisect_finds_the_injected_commit(tmp_path, c_twin, score_env):
    history = [Change("docs"), Change("refactor"), Change("break_import"), Change("unbreak"),
               Change("docs"), Change("refactor"), Change("regress", how="shift"), Change("docs"),
               Change("refactor"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history, reference="c", c_bin=c_twin)
    git = ["git", "-C", str(port.path)]
    subprocess.run([*git, "bisect", "start", "--no-checkout", port.head, port.base], check=True,
                   env=score_env, capture_output=True)
    run = subprocess.run([*git, "bisect", "run", sys.executable, "-m", "bisector", "score"],
                         env=score_env, capture_output=True, text=True, timeout=300)
    subprocess.run([*git, "bisect", "reset"], check=True, env=score_env, capture_output=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{port.culprit} is the first bad commit" in run.stdout
    assert port.culprit == port.shas[6]


def test_user_state_is_untouched(tmp_path, c_twin, score):
    port = make_port_repo(tmp_path / "port", history=HISTORY, reference="c", c_bin=c_twin)  # edited here
    (port.path / "README.md").write_text("edited, not committed\n")
    (port.path / "scratch.txt").write_text("untracked\n")
    subprocess.run(["git", "-C", str(port.path), "add", "README.md"], check=True)
    (port.path / "docs" / "notes.md").write_text("unstaged edit\n")
    before = snapshot(port.path)
    for sha in (port.base, port.shas[1], port.shas[4]):
        score(port.path, sha)
    assert snapshot(port.path) == before


def test_score_commit_api_probe_log_and_internal_errors(tmp_path, c_twin):
    extra = ('[tool.bisector.scenarios.tiny]\nargs = "-default_F 100 -cell 100 100 100 90 90 90 '
             '-lambda 6.2 -N 5 -distance 100 -detpixels 8 -pixel 1.6"')
    port = make_port_repo(tmp_path / "port", history=[Change("regress", how="shift")], reference="c",
                          c_bin=c_twin, extra_toml=extra)
    text = (port.path / "pyproject.toml").read_text()
    (port.path / "pyproject.toml").write_text(
        text.replace('[tool.bisector.scenarios.small]\n', '[tool.bisector.scenarios.small]\n'
                     'probe = "tiny"\nprobe_margin = 0.999999\n'))
    cfg = load_config(port.path, overrides=ConfigOverrides(cache_dir=tmp_path / "cache"))
    assert cfg.judge == ("small",)

    events = []
    good = score_commit(cfg, port.base, log=events.append)
    assert good.verdict is Verdict.GOOD and not good.scenarios[0].via_probe
    # The probe ran first, then the full scenario.
    assert [(e.type.value, e.scenario) for e in events] == [
        ("scenario_start", "tiny"), ("scenario_end", "tiny"),
        ("scenario_start", "small"), ("scenario_end", "small")]

    bad = score_commit(cfg, port.head)
    assert bad.verdict is Verdict.BAD and bad.scenarios[0].via_probe
    assert "probe 'tiny'" in bad.scenarios[0].reason
    assert json.loads(bad.to_json())["scenarios"][0]["via_probe"] is True
    # The full evidence: no probe shortcut, no cache, images on disk.
    kept = score_commit(cfg, port.head, use_cache=False, use_probes=False, keep_images=tmp_path / "images")
    assert kept.verdict is Verdict.BAD and not kept.scenarios[0].via_probe
    assert load_kept_image(kept.scenarios[0].image).shape == (32, 32)

    stricter = load_config(port.path, overrides=ConfigOverrides(cache_dir=tmp_path / "cache", min_correlation=1.0))
    assert score_commit(stricter, port.base).scenarios[0].cached is True

    def explode(event):
        raise RuntimeError("bug in a progress display")
    crashed = score_commit(cfg, port.base, log=explode)
    assert crashed.verdict is Verdict.ABORT and crashed.exit_code == 128
    # One line for the screen; the traceback is in the crash log it names.
    assert "bug in a progress display" in crashed.error and "Traceback" not in crashed.error
    crash_log = Path(crashed.error.rsplit("traceback in ", 1)[1].split(";")[0].strip())
    assert "Traceback" in crash_log.read_text() and crash_log.parent == cfg.cache_dir
