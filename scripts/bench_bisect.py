#!/usr/bin/env python3
"""bisector run against the hand procedure, side by side, with a compiled and an eager port.

The history is the demo's realistic port (1,400 commits, most touching only docs and
reports), generated with its kernel wrapped in ``torch.compile`` as real ports do. Both
searches bracket the same injected regression, twice: with the port compiling (its
default) and with the port forced eager (``TORCH_COMPILE_DISABLE=1`` in the environment of
both sides, so both run the same port code):

  bisector   `bisector run --good G --bad B --c-bin <C twin>` with default settings and a
             cold cache (score, reference and compile caches all empty);
  by hand    a plain `git bisect run step.sh` in a full checkout, where step.sh does what a
             user does: clean the tree, run the C reference, run the port, compare. Its
             compile cache (PyTorch's default, under the temp folder) starts empty too and is
             shared by its steps, as on a user's machine.

Prints wall times and their ratio, candidate runs (scorings that ran the port, and the
port processes they started, probes included), the goal on candidate runs, and bisector's
own overhead per scoring (wall time not spent in candidate runs or reference runs).

    python scripts/bench_bisect.py [--commits 1400] [--size 4096] [--regression unit_slip]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hand_procedure import COMPARE


STEP = '''\
#!/bin/sh
# A user's bisect step: git bisect has checked out the full tree; clean it, run both, compare.
git clean -fdxq
echo step >> "$WORK/steps"
"$C_BIN" $ARGS -floatfile "$WORK/ref.bin" >/dev/null 2>&1 || exit 128
PYTHONPATH=src "$PY" -m "$PACKAGE" $ARGS -floatfile "$WORK/port.bin" >/dev/null 2>&1 || exit 125
exec "$PY" "$WORK/compare.py" "$WORK/ref.bin" "$WORK/port.bin"
'''

GOALS = {"compiled": 2.0, "eager": 3.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1400)
    parser.add_argument("--size", type=int, default=4096, help="benchmark detector pixels per axis")
    parser.add_argument("--regression", default="unit_slip", help="which injected regression to bracket")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()

    from bisector.config import ConfigOverrides, load_config
    from bisector.demo.port_history import DEFAULT_SEED, generate
    from simkernel import cref

    with tempfile.TemporaryDirectory(prefix="bench-bisect-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        demo = generate(tmp / "port", commits=args.commits, size=args.size, seed=args.seed or DEFAULT_SEED,
                        compiled=True)
        generated = time.perf_counter() - t0
        regression = demo.regression(args.regression)
        c_bin = cref.binary()
        config = load_config(demo.path, overrides=ConfigOverrides(c_bin=str(c_bin)))
        full = config.scenarios["benchmark"]
        probe = config.scenarios.get(full.probe) if full.probe else None
        reference_s = {s.name: _time([str(c_bin), *s.args, "-floatfile", str(tmp / "r.bin")], tmp)
                       for s in filter(None, (full, probe))}

        print(f"history: {args.commits} commits (generated in {generated:.1f} s), port kernel in "
              f"torch.compile; scenario benchmark at {args.size}^2"
              + (f", built-in probe {probe.name} at {probe.args[probe.args.index('-detpixels') + 1]}^2"
                 if probe else ", no probe")
              + f"; regression '{regression.name}' bracketed {regression.good[:10]}..{regression.bad[:10]}")
        print(f"C reference: {', '.join(f'{k} {v:.2f} s' for k, v in reference_s.items())} per run", flush=True)
        rows = {}
        for mode in ("compiled", "eager"):
            extra = {} if mode == "compiled" else {"TORCH_COMPILE_DISABLE": "1"}
            mine = _bisector(demo.path, regression, c_bin, tmp / f"bisector-{mode}", extra)
            hand = _by_hand(demo.path, regression, c_bin, config.package, full.args, tmp / f"hand-{mode}", extra)
            rows[mode] = (mine, hand)
            _report({mode: rows[mode]}, regression)  # each mode as soon as it is measured
        if len(rows) > 1:
            _report(rows, regression)


def _report(rows: dict, regression) -> None:
    print()
    print(f"{'port':10}{'procedure':24}{'wall s':>8}{'cand. runs':>12}{'processes':>11}{'s/run':>11}"
          f"{'culprit':>12}")
    for mode, (mine, hand) in rows.items():
        for name, r in (("bisector run", mine), ("git bisect run by hand", hand)):
            per = r["candidate_s"] / max(r["processes"], 1)
            print(f"{mode:10}{name:24}{r['wall']:8.1f}{r['runs']:12d}{r['processes']:11d}{per:11.1f}"
                  f"{r['culprit'][:10]:>12}")
    print()
    for mode, (mine, hand) in rows.items():
        ratio = hand["wall"] / mine["wall"]
        goal = GOALS[mode]
        print(f"{mode}: speed-up (hand / bisector) {ratio:.2f}x   (goal >= {goal:g}x: "
              f"{'PASS' if ratio >= goal else 'MISS'})")
    for mode, (mine, hand) in rows.items():
        states = mine["distinct_states"]
        budget = math.ceil(math.log2(max(states, 2))) + 3
        print(f"{mode}: bisector ran {mine['runs']} candidate scorings ({mine['processes']} processes, "
              f"{mine['probe_runs']} of them probes; {mine['probe_verdicts']} verdicts from the probe); "
              f"{states} distinct relevant states -> goal <= {budget}: "
              f"{'PASS' if mine['runs'] <= budget else 'MISS'}; hand ran {hand['runs']} steps")
    for mode, (mine, _) in rows.items():
        overhead = mine["overhead"]
        print(f"{mode}: bisector's own time per scoring {overhead:.3f} s over {mine['scorings']} scorings "
              f"(wall {mine['wall']:.1f} s - {mine['candidate_s']:.1f} s in candidate runs - "
              f"{mine['reference_s']:.1f} s of reference runs)   (goal < 0.5 s: "
              f"{'PASS' if overhead < 0.5 else 'MISS'})")
    for mode, (mine, hand) in rows.items():
        print(f"{mode}: confirmation: {mine['confirmation']}")
    found = all(r["culprit"] == regression.culprit for pair in rows.values() for r in pair)
    print(f"every hunt named the injected culprit {regression.culprit[:10]}: {found}", flush=True)


def _time(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def _bisector(repo: Path, regression, c_bin: Path, work: Path, extra: dict) -> dict:
    work.mkdir()
    env = dict(os.environ, XDG_CACHE_HOME=str(work / "cold-cache"), **extra)
    argv = [sys.executable, "-m", "bisector", "run", "--good", regression.good, "--bad", regression.bad,
            "--c-bin", str(c_bin), "--scenario", "benchmark", "--report-dir", str(work / "reports")]
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bisector run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    results = json.loads(next((work / "reports").glob("*/results.json")).read_text())
    records = results["records"]
    fresh = [[run for run in r.get("runs", []) if not run["cached"]] for r in records]
    candidate_s = sum(run["seconds"] for runs in fresh for run in runs)
    reference_s = sum(_reference_seconds(results))
    sides = results.get("confirmation", {})
    confirmation = "; ".join(
        f"{side} by " + ", ".join(f"{r['phase']} {r['commit'][:8]} {r['verdict']}" for r in sides[side]["runs"])
        for side in ("parent", "culprit") if side in sides)
    return {"wall": wall, "culprit": results["culprit"] or "", "scorings": len(records),
            "runs": sum(1 for runs in fresh if runs), "processes": sum(len(runs) for runs in fresh),
            "probe_runs": sum(1 for runs in fresh for run in runs if run["probe_for"]),
            "probe_verdicts": sum(1 for r in records for sc in r["scenarios"] if sc.get("via_probe")),
            "candidate_s": candidate_s, "reference_s": reference_s,
            "overhead": (wall - candidate_s - reference_s) / max(len(records), 1),
            "distinct_states": results["walk"]["distinct_states"], "confirmation": confirmation}


def _reference_seconds(results: dict) -> list[float]:
    """bisector made each reference image once (cold cache): time those C runs again."""
    config = results["config"]
    c_bin = config["reference"]["c_bin"]
    wanted = list(config["judge"]) + [config["scenarios"][n]["probe"] for n in config["judge"]
                                      if config["scenarios"][n]["probe"]]
    with tempfile.TemporaryDirectory() as tmp:
        return [_time([c_bin, *config["scenarios"][n]["args"], "-floatfile", f"{tmp}/r.bin"], Path(tmp))
                for n in wanted]


def _by_hand(repo: Path, regression, c_bin: Path, package: str, args: tuple[str, ...], work: Path,
             extra: dict) -> dict:
    work.mkdir()
    checkout = work / "checkout"
    subprocess.run(["git", "clone", "-q", str(repo), str(checkout)], check=True)
    (work / "compare.py").write_text(COMPARE)
    (work / "tmp").mkdir()
    step = work / "step.sh"
    step.write_text(STEP)
    step.chmod(0o755)
    # TMPDIR: PyTorch's default compile cache lives under it; a fresh one starts it cold.
    env = dict(os.environ, C_BIN=str(c_bin), ARGS=shlex.join(args), PY=sys.executable, PACKAGE=package,
               WORK=str(work), TMPDIR=str(work / "tmp"), **extra)
    for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):
        env.pop(name, None)
    git = ["git", "-C", str(checkout)]
    start = time.perf_counter()
    subprocess.run([*git, "bisect", "start", regression.bad, regression.good], check=True, capture_output=True)
    subprocess.run([*git, "bisect", "run", str(step)], env=env, capture_output=True)
    wall = time.perf_counter() - start
    log = subprocess.run([*git, "bisect", "log"], capture_output=True, text=True).stdout
    culprit = next((line.split("[")[1].split("]")[0] for line in log.splitlines()
                    if line.startswith("# first bad commit")), "")
    steps = len((work / "steps").read_text().split()) if (work / "steps").exists() else 0
    return {"wall": wall, "culprit": culprit, "runs": steps, "processes": steps,
            "candidate_s": wall}


if __name__ == "__main__":
    main()
