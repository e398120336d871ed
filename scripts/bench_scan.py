#!/usr/bin/env python3
"""bisector scan against scoring every state by hand, side by side on the demo's history.

The history is the demo's default port (1,400 commits, three injected windows, the tip good
again). Both answer "where did parity break, and where was it fixed?" from the first good
commit to the tip, judging every scenario of the port's configuration:

  bisector   `bisector scan --good G --c-bin <C twin>` with a cold cache, as one process (its
             start-up, the C reference images, the report and the plot included): one scoring
             per distinct relevant state (a state is bad at its first bad scenario, so the
             rest of a bad state is not run), then a fresh full-size re-run of each pinned
             break or fix whose state the scan did not judge fresh on every scenario (a
             break cut short, or convicted by a probe); its parent's evidence, and a good
             fix's, is the scan's own fresh scoring;
  naive      what a user does without it, one commit at a time: for every first-parent commit
             touching src (the only ones that can change the answer), check it out, clean the
             tree, and for each scenario run the C reference, the port and a comparison
             script; a window is where consecutive verdicts change. It confirms nothing: a
             verdict it saw once is final, so it never re-runs a culprit or a fix.

  floor      what the scan cannot avoid, from its own timeline.json: each good (or untestable)
             state's runs once, each bad state's one convicting run (its probe where the probe
             convicted; the scan's mean probe where it has a probe that did not run), and the
             fresh full-size re-runs that confirm the pinned commits.

Two comparisons, because the naive procedure does less: naive / bisector (the goal: the scan
faster than one by one, confirmations and all), and naive / (bisector minus its confirmation
re-runs), the same question answered with the same evidence. The demo's history is mostly
good (29 of its 38 source states), as real ones are; a small size keeps a run to minutes:

    python scripts/bench_scan.py [--sizes 1024 4096] [--commits 1400]
    python scripts/bench_scan.py --sizes 256 --commits 120
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cold_cache import cold_cache_env
from hand_procedure import COMPARE


STEP = '''\
#!/bin/sh
# One scenario at the checked-out commit: run both programs, compare (0 good, 1 bad, 125 skip).
"$C_BIN" $ARGS -floatfile "$WORK/ref.bin" >/dev/null 2>&1 || exit 128
PYTHONPATH=src "$PY" -m "$PACKAGE" $ARGS -floatfile "$WORK/port.bin" >/dev/null 2>&1 || exit 125
exec "$PY" "$WORK/compare.py" "$WORK/ref.bin" "$WORK/port.bin"
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096],
                        help="benchmark detector pixels per axis")
    parser.add_argument("--commits", type=int, default=1400)
    args = parser.parse_args()

    rows = [_bench(size, args.commits) for size in args.sizes]
    print()
    print(f"{'size':>6} {'commits':>8} {'distinct':>9} {'scored':>7} {'runs':>5} {'bisector s':>11} "
          f"{'floor s':>8} {'/floor':>7} {'outside s':>10} {'confirm s':>10} {'windows':>8} {'naive runs':>11} "
          f"{'naive s':>9} {'naive win':>10} {'naive/bisector':>15} {'w/o confirm':>12}")
    for r in rows:
        print(f"{r['size']:>6} {r['commits']:>8} {r['distinct']:>9} {r['scored']:>7} {r['runs']:>5} {r['wall']:>11.1f} "
              f"{r['floor']:>8.1f} {r['wall'] / r['floor']:>6.2f}x {r['outside']:>10.1f} {r['confirm']:>10.1f} "
              f"{r['found']:>4}/{r['injected']:<3} {r['naive_runs']:>11} {r['naive_wall']:>9.1f} "
              f"{r['naive_found']:>6}/{r['injected']:<3} {r['naive_wall'] / r['wall']:>14.2f}x "
              f"{r['naive_wall'] / (r['wall'] - r['confirm']):>11.2f}x")
    print()
    print(f"{'size':>6} {'bisector cpu s':>15} {'naive cpu s':>12} {'naive/bisector cpu':>19}")
    for r in rows:
        print(f"{r['size']:>6} {r['cpu']:>15.1f} {r['naive_cpu']:>12.1f} {r['naive_cpu'] / r['cpu']:>18.2f}x")
    print("scored = distinct states scored once each; runs = the scan's port runs (confirmations included); "
          "naive runs = commits x scenarios, each a C run, a port run and a comparison; bisector's wall time "
          "is the whole process (references, report and plot included); outside = the process's wall time "
          "outside its scorings; confirm = its fresh re-runs of the pinned breaks and fixes, which the naive "
          "procedure does not make (w/o confirm: naive / (bisector - confirm)); cpu = user + system seconds "
          "of all their processes, the fairer measure when other jobs share the machine (the two sides run "
          "one after the other, so a change of load between them moves the wall ratio)")


def _bench(size: int, commits: int) -> dict:
    from bisector.config import ConfigOverrides, load_config
    from bisector.demo.port_history import DEFAULT_SEED, generate
    from simkernel import cref

    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        tmp = Path(tmp)
        demo = generate(tmp / "port", commits=commits, size=size, seed=DEFAULT_SEED)
        c_bin = cref.binary()
        config = load_config(demo.path, overrides=ConfigOverrides(c_bin=str(c_bin)))
        scenarios = [config.scenarios[name].args for name in config.judge]
        injected = {(r.culprit, r.fix) for r in demo.regressions}
        print(f"size {size}^2: {commits} commits, {len(demo.source_commits)} touch src, "
              f"scenarios {', '.join(config.judge)}", flush=True)

        mine = _bisector(demo, c_bin, tmp)
        print(f"  bisector scan: {mine['wall']:.1f} s, {mine['scored']} of {mine['distinct']} states, {mine['runs']} "
              f"port runs ({mine['probes']} probes); floor {mine['floor']:.1f} s ({mine['wall'] / mine['floor']:.2f}x); "
              f"confirmations {mine['confirm']:.1f} s; outside scoring {mine['outside']:.1f} s", flush=True)
        naive = _naive(demo, c_bin, config.package, scenarios, tmp)
        print(f"  naive: {naive['wall']:.1f} s, {len(naive['commits'])} commits x {len(scenarios)} scenarios", flush=True)
    return {"size": size, "commits": commits, "distinct": mine["distinct"], "scored": mine["scored"],
            "wall": mine["wall"], "floor": mine["floor"], "outside": mine["outside"], "runs": mine["runs"],
            "confirm": mine["confirm"],
            "found": len(injected & mine["windows"]), "injected": len(injected),
            "cpu": mine["cpu"], "naive_cpu": naive["cpu"],
            "naive_runs": len(naive["commits"]) * len(scenarios), "naive_wall": naive["wall"],
            "naive_found": len(injected & naive["windows"])}


def _bisector(demo, c_bin: Path, tmp: Path) -> dict:
    env = cold_cache_env(tmp / "cold-cache")
    argv = [sys.executable, "-m", "bisector", "scan", "--good", demo.first_good, "--c-bin", str(c_bin),
            "--report-dir", str(tmp / "reports")]
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(argv, cwd=demo.path, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if proc.returncode not in (0, 1):
        sys.exit(f"bisector scan failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    data = json.loads(next((tmp / "reports").glob("*/timeline.json")).read_text())
    windows = {(w["first_bad"], w["fix"]) for w in data["windows"]}
    scorings = data["timing"]["scorings"]
    return {"wall": wall, "cpu": cpu, "distinct": data["distinct_states"], "scored": data["scored_states"],
            "windows": windows, "floor": _floor(data), "outside": wall - data["timing"]["scoring_seconds"],
            "runs": sum(len(s["runs"]) for s in scorings),
            "confirm": sum(s["seconds"] for s in scorings if s["phase"] == "confirm"),
            "probes": sum(1 for s in scorings for run in s["runs"] if run["probe_for"])}


def _floor(timeline: dict) -> float:
    """Seconds the scan cannot avoid, from the runs it made: each good or untestable state's
    runs; each bad state's cheapest run of a scenario it was convicted on (its probe's when
    the probe convicted; the mean probe run of the scan when this state has a probe that did
    not run); one fresh full run per confirmed commit."""
    from bisector.hunt.probing import ProbeLedger
    from bisector.records import ScoreRecord
    from bisector.score.verdict import Verdict

    scorings = timeline["timing"]["scorings"]
    ledger = ProbeLedger()
    for s in scorings:
        ledger.observe(ScoreRecord(commit=s["commit"], tree_ids={}, verdict=Verdict(s["verdict"]), runs=s["runs"]))
    probe, _ = ledger.costs()
    convicting = {state["first"]: {sc["name"] for sc in state["scenarios"] if sc["verdict"] == "bad"}
                  for state in timeline["states"]}

    def full(s: dict) -> float:
        return sum(run["seconds"] for run in s["runs"] if not run["probe_for"])

    def convicted(s: dict) -> float:
        names = convicting.get(s["commit"], set())
        probes = [run["seconds"] for run in s["runs"] if run["probe_for"] in names]
        if probes:
            return min(probes)
        fulls = [run["seconds"] for run in s["runs"] if not run["probe_for"] and run["scenario"] in names]
        return min([*fulls, *([probe] if probe else [])] or [full(s)])

    floor = sum((convicted(s) if s["verdict"] == "bad" else full(s)) for s in scorings if s["phase"] == "scan")
    confirmed = {t["commits"][0] for w in timeline["windows"] for t in (w["break"], w["fixed"])
                 if t and t["kind"] == "pinned"}
    last = {s["commit"]: s for s in scorings if s["phase"] == "confirm"}
    return floor + sum(full(last[c]) for c in confirmed if c in last)


def _naive(demo, c_bin: Path, package: str, scenarios: list[tuple[str, ...]], tmp: Path) -> dict:
    checkout = tmp / "naive"
    subprocess.run(["git", "clone", "-q", str(demo.path), str(checkout)], check=True)
    work = tmp / "naive-work"
    work.mkdir()
    (work / "compare.py").write_text(COMPARE)
    step = work / "step.sh"
    step.write_text(STEP)
    step.chmod(0o755)
    git = ["git", "-C", str(checkout)]
    listed = subprocess.run([*git, "rev-list", "--first-parent", "--reverse", f"{demo.first_good}..{demo.tip}",
                             "--", "src"], capture_output=True, text=True, check=True).stdout.split()
    commits = [demo.first_good, *listed]
    verdicts = []
    start, cpu = time.perf_counter(), _children_cpu()
    for sha in commits:
        subprocess.run([*git, "checkout", "-q", sha], check=True)
        subprocess.run([*git, "clean", "-fdxq"], check=True)
        codes = []
        for args in scenarios:
            env = dict(os.environ, C_BIN=str(c_bin), ARGS=shlex.join(args), PY=sys.executable,
                       PACKAGE=package, WORK=str(work))
            codes.append(subprocess.run([str(step)], cwd=checkout, env=env).returncode)
        verdicts.append("bad" if 1 in codes else "skip" if 125 in codes else "good")
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    return {"wall": wall, "cpu": cpu, "commits": commits, "windows": _windows(commits, verdicts)}


def _children_cpu() -> float:
    """User + system seconds of every finished process below this one (each waits for its
    own): the work done, which other jobs on a shared machine do not stretch as they do the
    wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _windows(commits: list[str], verdicts: list[str]) -> set[tuple[str, str | None]]:
    found, start, previous = set(), None, "good"
    for sha, verdict in zip(commits, verdicts):
        if verdict == "skip":
            continue
        if verdict == "bad" and previous == "good":
            start = sha
        if verdict == "good" and previous == "bad":
            found.add((start, sha))
        previous = verdict
    if previous == "bad":
        found.add((start, None))
    return found


if __name__ == "__main__":
    main()
