"""Hunts that run less without judging less: probes, confirmation reuse, shared compile caches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bisector.api import run_bisect
from bisector.config import ConfigOverrides, load_config
from bisector.hunt.eta import HuntClock
from bisector.score.candidate import export_workspace, process_env, run_candidate
from bisector.demo.port_history import generate
from bisector.score.compile_cache import cache_root
from portrepo import Change, make_port_repo
from simkernel import cref

PHYSICS = "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100"


def _scenario(name: str, pixels: int, pixel_mm: float, probe: str | None = None) -> str:
    lines = [f"[tool.bisector.scenarios.{name}]", f'args = "{PHYSICS} -detpixels {pixels} -pixel {pixel_mm}"']
    if probe:
        lines.append(f'probe = "{probe}"')
    return "\n".join(lines) + "\n"


def _results(result) -> dict:
    return json.loads((result.report_dir / "results.json").read_text())


def _fresh_full(record: dict) -> bool:
    return all(not sc["cached"] and not sc["via_probe"] for sc in record["scenarios"])


@pytest.mark.slow
def test_a_port_bad_only_on_the_full_scenario_is_still_found(tmp_path):
    # The probe sees the middle 8x8 pixels; the regression doubles only pixels farther out.
    toml = _scenario("full", 32, 0.4, probe="crop") + _scenario("crop", 8, 0.4)
    history = [Change("docs"), Change("refactor"), Change("docs"), Change("regress", how="edge"),
               Change("docs"), Change("refactor"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history, extra_toml=toml)
    result = run_bisect(port.path, port.base, report_root=tmp_path / "reports",
                        overrides=ConfigOverrides(cache_dir=str(tmp_path / "cache"), scenarios=["full"]))
    assert result.culprit == port.culprit and result.confirmed is True
    records = _results(result)["records"]
    # The probe never convicted (it is good) and never cleared: every bad verdict is a full run's.
    bad = [r for r in records if r["verdict"] == "bad"]
    assert bad and not any(sc["via_probe"] for r in bad for sc in r["scenarios"])
    assert records[1]["scenarios"][0]["sum_ratio"] > 1.2  # the bad endpoint, measured in full


@pytest.fixture(scope="module")
def wide_probe_port(tmp_path_factory):
    """A port whose good endpoint fails its probe (which sees a wider field) but passes in full.

    The edge regression touches only pixels the full scenario (32 px of 0.1 mm) does not
    have and the probe (16 px of 0.8 mm) does: any probe verdict at the good endpoint or
    at the culprit's parent would refuse the endpoint or unconfirm the culprit. A refactor
    after the culprit gives the bad endpoint a state of its own, where its probe may pay.
    """
    root = tmp_path_factory.mktemp("wide")
    toml = _scenario("center", 32, 0.1, probe="wide") + _scenario("wide", 16, 0.8)
    history = [Change("regress", how="edge"), Change("docs"), Change("regress", how="scale"), Change("refactor"),
               Change("docs")]
    port = make_port_repo(root / "port", history=history, extra_toml=toml)
    return port, root


def _hunt(port, root: Path, name: str, **overrides):
    return run_bisect(port.path, port.shas[0], report_root=root / name,
                      overrides=ConfigOverrides(cache_dir=str(root / "cache"), scenarios=["center"], **overrides))


@pytest.fixture(scope="module")
def first_hunt(wide_probe_port):
    """The first hunt on wide_probe_port (a cold score cache): asserted below, then the warm-up
    of the hunts that follow it."""
    port, root = wide_probe_port
    return _hunt(port, root, "first")


@pytest.mark.slow
def test_probe_never_decides_the_good_endpoint_or_the_confirmation(wide_probe_port, first_hunt):
    port, root = wide_probe_port
    culprit = port.shas[2]
    result = first_hunt
    assert result.culprit == culprit and result.confirmed is True, result.conclusion
    data = _results(result)
    good, bad = data["records"][:2]
    assert good["verdict"] == "good" and _fresh_full(good)
    # Where it may, the probe convicts: the bad endpoint's verdict comes from it.
    assert bad["verdict"] == "bad" and bad["scenarios"][0]["via_probe"]
    # The parent has the good endpoint's relevant tree, scored fresh in this hunt: that run
    # is its evidence. The one step scored the culprit, whose verdict named it (probing.decisive):
    # in full, so that run is the culprit's evidence and nothing is re-run.
    step = [r for r in data["records"] if r["phase"] == "bisect" and r["commit"] == culprit]
    assert len(step) == 1 and step[0]["verdict"] == "bad" and _fresh_full(step[0])
    assert not [r for r in data["records"] if r["phase"] == "confirm"]
    sides = data["confirmation"]
    assert sides["parent"]["commit"] == port.shas[1]
    assert sides["parent"]["runs"] == [{"commit": port.shas[0], "phase": "endpoint", "verdict": "good"}]
    assert sides["culprit"]["runs"] == [{"commit": culprit, "phase": "bisect", "verdict": "bad"}]
    summary = (result.report_dir / "culprit_summary.md").read_text()
    assert f"endpoint run of `{port.shas[0][:10]}`: good" in summary
    assert "Verdicts from a probe" in summary and port.shas[-1][:10] in summary


@pytest.mark.slow
def test_cached_endpoint_is_not_evidence_and_paranoid_runs_each_side_twice(wide_probe_port, first_hunt):
    port, root = wide_probe_port
    culprit, parent = port.shas[2], port.shas[1]
    assert first_hunt.culprit == culprit  # it scored every state this hunt needs: the cache is warm
    # Now every score is cached: the good endpoint is no fresh evidence, so the parent is re-run.
    warm = _results(_hunt(port, root, "warm"))
    assert not _fresh_full(warm["records"][0])
    assert [(r["commit"], r["verdict"]) for r in warm["records"] if r["phase"] == "confirm"] == [
        (parent, "good"), (culprit, "bad")]

    paranoid = _hunt(port, root, "paranoid", paranoid=True)
    assert paranoid.confirmed is True
    data = _results(paranoid)
    confirm = [(r["commit"], r["verdict"]) for r in data["records"] if r["phase"] == "confirm"]
    assert confirm == [(parent, "good"), (parent, "good"), (culprit, "bad"), (culprit, "bad")]
    for side in ("parent", "culprit"):
        assert [r["phase"] for r in data["confirmation"][side]["runs"]] == ["confirm", "confirm"]


def _correlation(a, b) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


@pytest.mark.slow
def test_two_commits_of_a_compiled_port_share_one_graph_and_its_headers(tmp_path, monkeypatch):
    # The demo's compiled port holds its physics in tensors, as real ports do: the unit slip
    # changes the numbers its kernel gets, not the graph Inductor compiles. Both runs go through
    # bisector's candidate path, each with its own private TMPDIR.
    for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "TORCH_COMPILE_DISABLE"):
        monkeypatch.delenv(name, raising=False)
    # A cold compile made cheaper: no compile worker pool. The precompiled header and the
    # check of the CPU's vector sets stay: their sharing is checked below.
    monkeypatch.setenv("TORCHINDUCTOR_COMPILE_THREADS", "1")
    monkeypatch.delenv("TORCHINDUCTOR_VEC_ISA_OK", raising=False)
    demo = generate(tmp_path / "port", commits=120, size=32, compiled=True)
    config = load_config(demo.path, overrides=ConfigOverrides(cache_dir=str(tmp_path / "cache"),
                                                              c_bin=str(cref.binary())))
    scenario = config.scenarios["benchmark"]
    reference = cref.simulate(list(scenario.args))
    images, files, spaces = {}, [], {}
    for run, sha in (("good", demo.first_good), ("slip", demo.regression("unit_slip").culprit)):
        ws = spaces[run] = export_workspace(config, sha, tmp_path / run)
        result = run_candidate(config, ws, scenario, reference.shape)
        assert result.status == "ok", result.reason
        images[run] = result.image
        files.append(sorted(p for p in cache_root(config).rglob("*") if p.is_file()))
    # The first run compiled into the shared cache; the second, another commit with other
    # physics, found everything there: no entry added.
    assert files[0] and files[1] == files[0]
    # Inductor's precompiled headers (kept under TMPDIR whatever TORCHINDUCTOR_CACHE_DIR says)
    # went to the shared folder through each private TMPDIR's link, so the second run built
    # none (files[1] == files[0] above), and no TMPDIR holds a folder of its own.
    headers = cache_root(config) / "inductor-tmpdir" / "precompiled_headers"
    assert any(p.suffix == ".gch" or p.name.endswith(".h.gch") for p in headers.rglob("*")), \
        sorted(headers.rglob("*"))
    for run in ("good", "slip"):
        assert all(p.is_symlink() for p in (tmp_path / run / "tmp").glob("torchinductor_*"))
    # Inductor's check of the CPU's vector sets ran once, before the first run; the second
    # reused its answer. Where every set the CPU reports passed, both runs compiled with the
    # check switched off alike (the switch is part of Inductor's cache key: files[1] == files[0]).
    (answer,) = json.loads((cache_root(config) / "vec-isa.json").read_text()).values()
    found = json.loads((spaces["good"].logs / "vec-isa-check.stdout").read_text())
    assert answer == (found["checked"] == found["assumed"] != [])
    assert not (spaces["slip"].logs / "vec-isa-check.stdout").exists()
    for run in ("good", "slip"):
        assert (process_env(config, spaces[run]).get("TORCHINDUCTOR_VEC_ISA_OK") == "1") == answer
    # The compiled images against the C twin (an independent implementation): the good commit
    # matches it, the slipped one is nothing like it and far too bright.
    good, slipped = (images[run].astype(np.float64) for run in ("good", "slip"))
    assert _correlation(good, reference) >= 0.9999 and abs(good.sum() / reference.sum() - 1) < 1e-3
    assert _correlation(slipped, reference) < 0.9 and slipped.sum() / reference.sum() > 5


def test_clock_estimates_from_this_hunts_runs_and_suggests_eager_when_compiling_dominates():
    clock = HuntClock(steps_expected=4, confirm_runs=1, seed_seconds=[10.0, 6.0])
    assert clock.remaining() == pytest.approx(4 * 8.0 + 8.0)  # no step yet: the endpoints' mean
    clock.start_step(now=100.0)
    assert clock.elapsed(now=103.0) == pytest.approx(3.0)
    # 3 steps left after this one at 8 s, this one has 5 s to go, then one full run of 8 s.
    assert clock.remaining(now=103.0) == pytest.approx(5.0 + 3 * 8.0 + 8.0)
    clock.end_step(40.0, True, compile_entries_added=12)
    assert clock.compile_hint() is None  # a cold run alone says nothing yet
    clock.start_step(now=200.0)
    clock.end_step(10.0, True, compile_entries_added=0)
    # 30 of the 50 seconds were compiling (40 cold against 10 warm): 60%.
    assert clock.compile_share() == pytest.approx(0.6)
    assert "--eager" in clock.compile_hint()
    clock.start_step(now=300.0)
    clock.end_step(10.0, True, compile_entries_added=0)
    assert clock.compile_share() == pytest.approx(0.5) and clock.compile_hint() is None


def test_demo_port_can_wrap_its_kernel_in_torch_compile(tmp_path):
    plain = generate(tmp_path / "plain", commits=120, size=32)
    compiled = generate(tmp_path / "compiled", commits=120, size=32, compiled=True)
    simulator = (compiled.path / "src" / "nbport" / "simulator.py").read_text()
    assert compiled.compiled and not plain.compiled
    assert "render_rows = torch.compile(render_rows)" in simulator
    assert "torch.compile" not in (plain.path / "src" / "nbport" / "simulator.py").read_text()
    # Eager runs (bisector --eager sets PyTorch's switch) never import the compiler, as a real
    # port's own switch does: the compiled run imports torch._dynamo, the eager one does not.
    probe = "import sys, nbport.simulator; print('torch._dynamo' in sys.modules)"
    imported = {flag: subprocess.run([sys.executable, "-c", probe], cwd=compiled.path, capture_output=True,
                                     text=True, check=True, env={**os.environ, "PYTHONPATH": "src",
                                                                 "TORCH_COMPILE_DISABLE": flag}).stdout.split()
                for flag in ("0", "1")}
    assert imported == {"0": ["True"], "1": ["False"]}
    # Every later source change still applies: the same story, commit for commit.
    assert len(compiled.history) == len(plain.history)
    assert [r.name for r in compiled.regressions] == [r.name for r in plain.regressions]
