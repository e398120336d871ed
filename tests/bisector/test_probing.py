"""When a hunt runs its probes: the rule with numbers, and a real scan that stops paying for them."""

from __future__ import annotations

import json
import time

import pytest

from bisector.api import run_bisect, scan_history
from bisector.config import ConfigOverrides
from bisector.hunt.probing import MIN_TRIALS, ProbeLedger, probe_pays
from bisector.records import Phase, ScenarioResult, ScoreRecord
from bisector.score.verdict import Verdict
from portrepo import Change, make_port_repo, scenario_args


def test_the_probe_pays_while_it_costs_less_than_the_time_its_convictions_save():
    # A bisection (about every other state bad): 8 convictions in 14 -> rate 9/16 = 0.5625.
    assert probe_pays(2.8, 12.2, trials=14, convictions=8)          # eager: 2.8 < 0.5625 * 12.2 = 6.86
    assert not probe_pays(20.5, 22.0, trials=14, convictions=8)     # compiled: 20.5 > 12.4
    # The scan: 20 good states judged, none convicted -> rate 1/22; an eager probe
    # (2.8 s of a 12.2 s run) would have to cost under 0.55 s.
    assert not probe_pays(2.8, 12.2, trials=20, convictions=0)
    assert probe_pays(0.5, 12.2, trials=20, convictions=0)
    # Right at the break-even point the probe does not pay: 3 of 8 -> rate 0.4, 0.4 * 10 = 4.
    assert not probe_pays(4.0, 10.0, trials=8, convictions=3)
    assert probe_pays(3.9, 10.0, trials=8, convictions=3)


def test_the_probe_runs_until_its_cost_and_enough_states_are_known():
    assert probe_pays(None, None, trials=50, convictions=0)          # never measured
    assert probe_pays(10.0, None, trials=50, convictions=0)          # full size never run fresh
    assert probe_pays(20.0, 20.0, trials=MIN_TRIALS - 1, convictions=0)
    assert not probe_pays(20.0, 20.0, trials=MIN_TRIALS, convictions=0)


def _record(verdict: Verdict, runs: list[tuple[str, str | None, float, bool]], via_probe: bool = False):
    return ScoreRecord(commit="c", tree_ids={}, verdict=verdict,
                       scenarios=[ScenarioResult("full", verdict, "", via_probe=via_probe)],
                       runs=[{"scenario": s, "probe_for": p, "seconds": t, "cached": c} for s, p, t, c in runs])


def test_the_ledger_counts_fresh_costs_and_convictions_from_score_records():
    ledger = ProbeLedger()
    ledger.observe(_record(Verdict.GOOD, [("full", None, 40.0, True)]))  # cached: no cost, not the coldest
    ledger.observe(_record(Verdict.GOOD, [("full", None, 30.0, False)]))  # the hunt's coldest run: verdict only
    ledger.observe(_record(Verdict.GOOD, [("crop", "full", 2.0, False), ("full", None, 10.0, False)]))
    ledger.observe(_record(Verdict.BAD, [("crop", "full", 4.0, False)], via_probe=True))
    ledger.observe(_record(Verdict.BAD, [("crop", "full", 99.0, True), ("full", None, 99.0, True)]))  # cached
    ledger.observe(_record(Verdict.BAD, [("full", None, 14.0, False)]))  # judged in full: counts as convicted
    ledger.observe(_record(Verdict.SKIP, [("full", None, 1.0, False)]))  # no trial, but a cost
    assert ledger.costs() == (pytest.approx(3.0), pytest.approx(25.0 / 3))
    assert (ledger.trials, ledger.convictions) == (6, 2)
    assert ledger.pays() is probe_pays(3.0, 25.0 / 3, 6, 2) is True   # 3 < 3/8 * 8.33
    same = ProbeLedger.read_text(ledger.to_json())
    assert same == ledger


def test_a_bisection_decides_its_first_step_from_its_two_endpoints():
    # Measured on a bracket shaped like the user's (three states, so one bisect step), eager at
    # 4096^2: the good endpoint judged in full (the coldest run: its verdict counts, its cost
    # does not), the bad endpoint's 1024^2 probe did not convict and its full run did.
    # Rate 1/4: the probe would have to cost under a quarter of a full run (1.53 s), not 4.85 s.
    ledger = ProbeLedger()
    ledger.observe(_record(Verdict.GOOD, [("full", None, 8.22, False)]))
    ledger.observe(_record(Verdict.BAD, [("crop", "full", 4.85, False), ("full", None, 6.11, False)]))
    assert ledger.costs() == (4.85, 6.11) and ledger.trials == MIN_TRIALS == 2 and not ledger.pays()
    # The real hunt: the bad endpoint's 2.8 s probe convicted, so no full run was
    # timed warm yet: the step runs the probe (which convicted there too).
    ledger = ProbeLedger()
    ledger.observe(_record(Verdict.GOOD, [("full", None, 12.2, False)]))
    ledger.observe(_record(Verdict.BAD, [("crop", "full", 2.8, False)], via_probe=True))
    assert ledger.costs() == (None, None) and ledger.pays()


PROBE = f'probe = "tiny"\nprobe_margin = 0.99\n\n[tool.bisector.scenarios.tiny]\nargs = "{scenario_args(16)}"\n'


def _replayed(records: list[ScoreRecord], ledger: ProbeLedger) -> list[bool]:
    """Whether each scoring ran a probe, checked against the rule on the evidence before it."""
    probed = []
    for record in records:
        ran = any(run["probe_for"] for run in record.runs)
        assert ran == ledger.pays(), f"scoring {len(probed) + 1}: probe ran {ran}, the rule said {ledger.pays()}"
        probed.append(ran)
        ledger.observe(record)
    return probed


def _hunted(tmp_path, cache, history: list[Change], toml: str):
    """A port with ``history`` and the probe ``toml``, and `run` from its first commit."""
    port = make_port_repo(tmp_path / "port", history=history, extra_toml=toml)
    return port, run_bisect(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(cache)),
                            report_root=tmp_path / "reports")


# A probe that costs several times the full scenario's run: once measured it cannot pay.
COSTLY_PROBE = f'probe = "wide"\nprobe_margin = 0.99\n\n[tool.bisector.scenarios.wide]\nargs = "{scenario_args(1024)}"\n'


def test_each_git_bisect_step_decides_from_the_endpoints_and_the_steps_before_it(tmp_path, bisector_cache):
    # Sequential `git bisect run`: every step is its own process; the evidence reaches it
    # through the pinned probes.json (endpoints) and the event log (earlier steps).
    history = [Change("refactor")] * 12 + [Change("regress", how="shift")] + [Change("refactor")] * 3
    port, result = _hunted(tmp_path, bisector_cache, history, COSTLY_PROBE)
    assert result.culprit == port.culprit and result.confirmed
    ledger = ProbeLedger()
    for record in (r for r in result.records if r.phase is Phase.ENDPOINT):
        ledger.observe(record)
    assert any(run["probe_for"] for r in result.records for run in r.runs if r.phase is Phase.ENDPOINT)
    steps = [r for r in result.records if r.phase is Phase.BISECT]
    probed = _replayed(steps, ledger)
    # The bad endpoint measured the probe at several times a full run: from the first step on,
    # no step runs it. A step that did not receive the endpoints' evidence would run it.
    assert len(probed) >= 3 and not any(probed)


def test_a_scan_of_a_mostly_good_history_stops_running_probes_that_cannot_pay(tmp_path, bisector_cache):
    # A 16^2 probe of the 32^2 scenario costs about what the full run costs (process start-up
    # dominates both), and the history is mostly good: once MIN_TRIALS states are judged and
    # both costs were timed warm, the rule says the probe does not pay, and no later state runs it.
    history = [Change("refactor")] * 7 + [Change("regress", how="shift"), Change("refactor")]
    port = make_port_repo(tmp_path / "port", history=history, extra_toml=PROBE)
    started = time.monotonic()
    result = scan_history(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(bisector_cache)),
                          report_root=tmp_path / "reports")
    wall = time.monotonic() - started
    assert result.timeline.windows and result.confirmed(result.timeline.windows[0].start)

    # timeline.json: each scoring's own time, and the scan's time outside scoring.
    timing = json.loads((result.report_dir / "timeline.json").read_text())["timing"]
    fresh = [r for c in result.confirmations.values() for r in c.reruns]
    assert len(timing["scorings"]) == len(result.judged_order) + len(fresh) + len(result.full_records)
    assert [s["seconds"] for s in timing["scorings"]] == [result.records[k].seconds for k in result.judged_order] + [
        r.seconds for r in fresh] + [r.seconds for r in result.full_records.values()]
    assert timing["scoring_seconds"] == pytest.approx(sum(s["seconds"] for s in timing["scorings"]))
    assert 0 < timing["scoring_seconds"] < timing["seconds"] < wall
    assert timing["outside_scoring_seconds"] == pytest.approx(timing["seconds"] - timing["scoring_seconds"])

    # The good endpoint is judged first and in full, as `run` judges it; the states after it
    # probe until the rule has its evidence (MIN_TRIALS states judged, both costs timed after
    # the scan's first fresh run), then none does.
    base, *states = [result.records[key] for key in result.judged_order]
    assert base.commit == port.base and not any(run["probe_for"] for run in base.runs)
    ledger = ProbeLedger()
    ledger.observe(base)
    probed = _replayed(states, ledger)
    assert len(probed) == 9 and probed[0] and not probed[-1]
    assert probed == sorted(probed, reverse=True), probed  # once stopped, never again


def test_a_scan_on_workers_follows_the_probe_rule_round_by_round(tmp_path, bisector_cache):
    # `scan --jobs 2` scores every state up front, in rounds: the first round (MIN_TRIALS
    # states) runs the probe (but on the good endpoint) and measures it; it costs about what
    # the full run costs and convicts nothing, so no later round runs it.
    history = [Change("refactor")] * 7 + [Change("regress", how="shift"), Change("refactor")]
    port = make_port_repo(tmp_path / "port", history=history, extra_toml=PROBE)
    result = scan_history(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(bisector_cache)),
                          report_root=tmp_path / "reports", jobs=2, executor="processes")
    assert result.timeline.windows and result.confirmed(result.timeline.windows[0].start)
    in_history = [result.records[run.key] for run in result.runs]   # the order the rounds scored them
    probed = [any(run["probe_for"] for run in record.runs) for record in in_history]
    assert probed[:MIN_TRIALS] == [False] + [True] * (MIN_TRIALS - 1)
    assert len(probed) == 10 and not any(probed[MIN_TRIALS:])


def test_a_bracket_with_one_relevant_commit_judges_its_bad_endpoint_in_full(tmp_path, bisector_cache):
    # One commit among docs touches the port's sources: it is the culprit, and the bad endpoint
    # holds its state, so that endpoint's fresh full run is the culprit's evidence and a probe
    # could only add a run (as in a nightly hunt over one day's commits).
    history = [Change("docs")] * 2 + [Change("regress", how="shift")] + [Change("docs")] * 2
    port, result = _hunted(tmp_path, bisector_cache, history, PROBE)
    assert result.culprit == port.culprit and result.confirmed
    assert result.walk.relevant_commits == 1
    good, bad = (r for r in result.records if r.phase is Phase.ENDPOINT)
    assert [(run["scenario"], run["probe_for"]) for run in bad.runs] == [("small", None)]
    assert bad.verdict is Verdict.BAD and not any(sc.via_probe or sc.cached for sc in bad.scenarios)
    # Both sides' evidence is the endpoints' own runs: nothing is run again to confirm.
    assert [run["phase"] for run in result.confirmation["culprit"]["runs"]] == ["endpoint"]
    assert [run["phase"] for run in result.confirmation["parent"]["runs"]] == ["endpoint"]
    assert not any(r.phase is Phase.CONFIRM for r in result.records)


def test_a_step_whose_verdict_names_the_culprit_runs_in_full(tmp_path, bisector_cache):
    # Shaped like the user's real bracket: two commits touch the sources and the first is the
    # culprit. The bad endpoint, a state of its own, is convicted by its probe; the one step
    # scores the culprit's state, which is the culprit's evidence when bad and would be the
    # parent's when good. It runs in full, so nothing is run again to confirm.
    history = [Change("docs"), Change("regress", how="scale"), Change("docs"), Change("refactor"), Change("docs")]
    port, result = _hunted(tmp_path, bisector_cache, history, PROBE)
    assert result.culprit == port.culprit and result.confirmed and result.walk.relevant_commits == 2
    good, bad = (r for r in result.records if r.phase is Phase.ENDPOINT)
    assert bad.scenarios[0].via_probe  # the probe still convicts where that saves a full run
    fresh = [r for r in result.records if r.phase is Phase.BISECT and not r.scenarios[0].cached]
    assert len(fresh) == 1 and fresh[0].verdict is Verdict.BAD
    assert [(run["scenario"], run["probe_for"]) for run in fresh[0].runs] == [("small", None)]
    assert [run["phase"] for run in result.confirmation["culprit"]["runs"]] == ["bisect"]
    assert not any(r.phase is Phase.CONFIRM for r in result.records)


def test_a_step_decides_the_culprit_when_every_suspect_holds_its_state_or_the_bad_one():
    from bisector.hunt.probing import decisive

    assert decisive("A", "B", ["B", "A", "A"])           # A bad: the culprit; A good: the parent
    assert not decisive("A", "B", ["B", "A", "C"])       # C between: A may be neither
    assert not decisive("B", "B", ["B", "B"])            # the bad state itself: nothing to decide
