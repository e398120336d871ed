"""Noisy ports end to end: real repositories whose images carry seeded random noise, real
git bisect, real candidate runs (each run of a noisy port draws its own noise level)."""

from __future__ import annotations

import json

from portrepo import Change, Noise, make_port_repo


def _runs(noise: Noise) -> int:
    """How many times the port really ran (each noisy run counts itself)."""
    return len(noise.counter.read_text()) if noise.counter.exists() else 0


def _results(stdout: str, reports: object) -> dict:
    bundles = sorted(p for p in reports.iterdir() if (p / "results.json").is_file())
    return json.loads((bundles[-1] / "results.json").read_text())


def test_a_culprit_larger_than_the_noise_is_found_and_confirmed(tmp_path, xdg_cache, bisector_cli):
    # good states correlate about 0.9994 +- 0.00014 with the reference: within the margin
    noise = Noise(level=0.035, jitter=0.004, counter=tmp_path / "runs")
    port = make_port_repo(tmp_path / "port", noise=noise, history=[
        Change("refactor"), Change("refactor"), Change("regress", how="scale"), Change("refactor"),
        Change("refactor")])
    out = bisector_cli("run", "--good", port.base, "--report-dir", tmp_path / "reports", cwd=port.path)
    assert out.returncode == 0, out.stdout + out.stderr
    results = _results(out.stdout, tmp_path / "reports")
    assert results["culprit"] == port.culprit
    assert results["confirmation"]["separated"] is True
    scenarios = [sc for rec in results["records"] for sc in rec["scenarios"]]
    repeated = [sc for sc in scenarios if sc["runs"] > 1]
    assert repeated, "no state near the threshold was run again"
    for sc in repeated:
        assert len(sc["samples"]) == sc["runs"]
        corr = [c for c, _ in sc["samples"]]
        assert sc["spread"]["correlation"]["min"] == min(corr) and sc["spread"]["correlation"]["max"] == max(corr)
        assert abs(sc["correlation"] - sum(corr) / len(corr)) < 1e-12
    assert f"(n={repeated[0]['runs']}" in out.stdout + out.stderr
    assert _runs(noise) == sum(sc["runs"] for sc in scenarios if not sc["cached"])


def test_noise_near_the_threshold_blames_no_commit(tmp_path, xdg_cache, bisector_cli):
    # no real change: every state correlates about 0.9992 +- 0.00015, one run in ten below 0.999
    noise = Noise(level=0.04, jitter=0.004, counter=tmp_path / "runs")
    port = make_port_repo(tmp_path / "port", noise=noise, history=[Change("refactor")] * 5)
    out = bisector_cli("run", "--good", port.base, "--report-dir", tmp_path / "reports", cwd=port.path)
    text = out.stdout + out.stderr
    assert out.returncode in (1, 3, 5), text
    assert "flaky" in text  # the state whose runs disagreed is named so
    assert out.returncode != 3 or "straddle a threshold" in text
    assert _runs(noise) > 6  # states near the threshold were measured more than once


def test_a_deterministic_port_runs_each_state_once(tmp_path, xdg_cache, bisector_cli):
    port = make_port_repo(tmp_path / "port", history=[
        Change("refactor"), Change("refactor"), Change("regress", how="shift"), Change("refactor")])
    out = bisector_cli("run", "--good", port.base, "--report-dir", tmp_path / "reports", cwd=port.path)
    assert out.returncode == 0, out.stdout + out.stderr
    results = _results(out.stdout, tmp_path / "reports")
    assert results["culprit"] == port.culprit
    runs = [run for rec in results["records"] for run in rec["runs"]]
    assert runs and not any("repeat" in run for run in runs)
    assert all(sc["runs"] == 1 and not sc["flaky"] for rec in results["records"] for sc in rec["scenarios"])


def test_a_deterministic_state_near_the_threshold_costs_one_more_run(tmp_path, xdg_cache, bisector_cli):
    # jitter 0: every run of a state is the same image, correlating about 0.9992
    noise = Noise(level=0.04, jitter=0.0, counter=tmp_path / "runs")
    port = make_port_repo(tmp_path / "port", noise=noise, history=[Change("refactor")])
    out = bisector_cli("score", "--json", "--full", cwd=port.path)
    assert out.returncode == 0, out.stdout + out.stderr
    (sc,) = json.loads(out.stdout)["scenarios"]
    assert _runs(noise) == 2 and sc["runs"] == 2 and not sc["flaky"]
    assert sc["spread"]["correlation"]["min"] == sc["spread"]["correlation"]["max"]


def test_declared_repeats_and_a_seed(tmp_path, xdg_cache, bisector_cli):
    noise = Noise(level=0.03, jitter=0.006, counter=tmp_path / "runs")
    port = make_port_repo(tmp_path / "port", noise=noise, history=[Change("refactor")],
                          settings=f'repeats = 3\nseed = 7\nseed_env = "{noise.seed_env}"')
    out = bisector_cli("score", "--json", "--full", cwd=port.path)
    assert out.returncode == 0, out.stdout + out.stderr
    record = json.loads(out.stdout)
    (sc,) = record["scenarios"]
    # seeded: the port read its seed from the variable (it counted no run), and repeated itself
    assert record["seeded"] is True and _runs(noise) == 0
    assert sc["runs"] == 3 and len({tuple(s) for s in sc["samples"]}) == 1


def test_a_scan_of_a_noisy_history_names_flaky_states_in_its_timeline(tmp_path, xdg_cache, bisector_cli):
    noise = Noise(level=0.04, jitter=0.004, counter=tmp_path / "runs")
    port = make_port_repo(tmp_path / "port", noise=noise, history=[Change("refactor")] * 5)
    out = bisector_cli("scan", "--good", port.base, "--report-dir", tmp_path / "reports", cwd=port.path)
    text = out.stdout + out.stderr
    assert out.returncode != 0, text  # 0 would mean a window pinned and confirmed: a false blame
    (timeline,) = (tmp_path / "reports").glob("*/timeline.json")
    data = json.loads(timeline.read_text())
    assert not any(w["start"] and w["start"]["confirmed"] for w in data["windows"])
    flaky = [s for s in data["states"] if s["flaky"]]
    assert flaky and all(sc["runs"] > 1 for s in flaky for sc in s["scenarios"])
    assert all(s["verdict"] in ("skip", "good") for s in flaky)  # named, never counted bad
    assert (timeline.parent / "timeline.png").is_file()  # drawn with the ranges of repeated states
    unresolved = {s["first"] for s in data["states"] if s["verdict"] == "skip"}
    assert unresolved and all(s["flaky"] for s in data["states"] if s["first"] in unresolved)
    # They ran, and their runs straddle a threshold: unresolved, not "untestable".
    assert f"{len(unresolved)} of " in text and "were unresolved (their repeated runs straddle a threshold)" in text
    assert "untestable" not in text
