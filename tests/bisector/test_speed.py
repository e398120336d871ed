"""Hunts that run less without judging less: probes, confirmation reuse, shared compile caches."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bisector.api import run_bisect
from bisector.config import ConfigOverrides, load_config
from bisector.hunt.eta import HuntClock
from bisector.score.candidate import export_workspace, run_candidate
from bisector.score.compile_cache import cache_root
from portrepo import Change, make_port_repo

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
    at the culprit's parent would refuse the endpoint or unconfirm the culprit.
    """
    root = tmp_path_factory.mktemp("wide")
    toml = _scenario("center", 32, 0.1, probe="wide") + _scenario("wide", 16, 0.8)
    history = [Change("regress", how="edge"), Change("docs"), Change("regress", how="scale"), Change("docs")]
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
    # is its evidence; the culprit is re-run once, fresh, in full.
    confirm = [r for r in data["records"] if r["phase"] == "confirm"]
    assert [(r["commit"], r["verdict"]) for r in confirm] == [(culprit, "bad")]
    assert all(_fresh_full(r) for r in confirm)
    sides = data["confirmation"]
    assert sides["parent"]["commit"] == port.shas[1]
    assert sides["parent"]["runs"] == [{"commit": port.shas[0], "phase": "endpoint", "verdict": "good"}]
    assert [r["phase"] for r in sides["culprit"]["runs"]] == ["confirm"]
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


COMPILED_PORT = '''\
"""A tiny port whose kernel is torch.compile'd; it says whether Inductor's cache served it."""
import os
import sys

# A cold compile of one tiny kernel, made cheaper: no compile worker pool, and no vector-ISA
# probe programs to build and run before the kernel. The precompiled header stays: its
# sharing between runs is checked below.
os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
os.environ.setdefault("TORCHINDUCTOR_VEC_ISA_OK", "0")
import torch  # noqa: E402
from torch._dynamo.utils import counters  # noqa: E402


@torch.compile
def kernel(x):
    return torch.sin(x) ** 2 + 1.0


argv = sys.argv[1:]
n = int(argv[argv.index("-detpixels") + 1])
image = kernel(torch.linspace(0.0, 1.0, n * n).reshape(n, n))
image.numpy().astype("<f4").tofile(argv[argv.index("-floatfile") + 1])
print("fxgraph_cache_hit", counters["inductor"]["fxgraph_cache_hit"])
'''


def _compiled_port(path: Path) -> Path:
    (path / "src" / "tinyport").mkdir(parents=True)
    (path / "src" / "tinyport" / "__main__.py").write_text(COMPILED_PORT)
    (path / "pyproject.toml").write_text('[tool.bisector]\npaths = ["src"]\n'
                                         '[tool.bisector.scenarios.tiny]\nargs = "-detpixels 4"\n')
    for argv in (["init", "-q"], ["add", "."],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny compiled port"]):
        subprocess.run(["git", "-C", str(path), *argv], check=True, capture_output=True)
    return path


@pytest.mark.slow
def test_two_runs_of_the_same_state_share_the_compile_cache(tmp_path, monkeypatch):
    for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "TORCH_COMPILE_DISABLE"):
        monkeypatch.delenv(name, raising=False)
    repo = _compiled_port(tmp_path / "port")
    config = load_config(repo, overrides=ConfigOverrides(cache_dir=str(tmp_path / "cache")))
    scenario = config.scenarios["tiny"]
    hits, files = [], []
    for run in ("first", "second"):
        ws = export_workspace(config, "HEAD", tmp_path / run)  # each run has its own TMPDIR
        result = run_candidate(config, ws, scenario, (4, 4))
        assert result.status == "ok", result.reason
        hits.append(int((ws.logs / "run-tiny.stdout").read_text().split()[-1]))
        files.append(sorted(p for p in cache_root(config).rglob("*") if p.is_file()))
    # The first run compiled into the shared cache; the second found its entry there.
    assert hits == [0, 1]
    assert files[0] and files[1] == files[0]
    # Inductor's precompiled headers (kept under TMPDIR whatever TORCHINDUCTOR_CACHE_DIR says)
    # went to the shared folder through each private TMPDIR's link, so the second run built
    # none (files[1] == files[0] above), and no TMPDIR holds a folder of its own.
    headers = cache_root(config) / "inductor-tmpdir" / "precompiled_headers"
    assert any(p.suffix == ".gch" or p.name.endswith(".h.gch") for p in headers.rglob("*")), \
        sorted(headers.rglob("*"))
    for run in ("first", "second"):
        assert all(p.is_symlink() for p in (tmp_path / run / "tmp").glob("torchinductor_*"))


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
    from bisector.demo.port_history import generate

    plain = generate(tmp_path / "plain", commits=120, size=32)
    compiled = generate(tmp_path / "compiled", commits=120, size=32, compiled=True)
    simulator = (compiled.path / "src" / "nbport" / "simulator.py").read_text()
    assert compiled.compiled and not plain.compiled
    assert "render_rows = torch.compile(render_rows)" in simulator
    assert "torch.compile" not in (plain.path / "src" / "nbport" / "simulator.py").read_text()
    # Every later source change still applies: the same story, commit for commit.
    assert len(compiled.history) == len(plain.history)
    assert [r.name for r in compiled.regressions] == [r.name for r in plain.regressions]
