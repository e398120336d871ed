#!/usr/bin/env python3
"""bisector run against the hand procedure, side by side: eager, compiled cold, compiled warm.

The history is the demo's realistic port (most commits touch only docs and reports), with
its kernel wrapped in ``torch.compile`` as real ports do; its kernel takes the physics as
tensors, so one compiled graph per image shape serves every commit. Both searches bracket
the same injected regression, in three port modes measured one after the other:

  eager          ``TORCH_COMPILE_DISABLE=1`` in the environment of both sides;
  compiled cold  every compile cache empty (bisector: a fresh cache folder; by hand: a fresh
                 TMPDIR, under which PyTorch keeps its compile cache by default);
  compiled warm  a second hunt of the same bracket with the compile cache the cold hunt
                 filled and everything else cold (bisector: a fresh cache folder holding only
                 a copy of the cold hunt's compile cache; by hand: the cold run's TMPDIR).

  bisector   `bisector run --good G --bad B --c-bin <C twin>` with default settings;
  by hand    a plain `git bisect run step.sh` in a full checkout, where step.sh does what a
             user does: clean the tree, run the C reference, run the port, compare.

Prints wall times and ratios, candidate runs, the per-run seconds of the compiled hunts
against the same runs eager, bisector's floor (the runs no hunt can avoid: the good endpoint
and the fresh confirmation runs, at full size, from its results.json) and its wall time over
that floor, and the issue's goals with PASS/MISS.

Brackets: ``--bracket regression`` (the demo's own, from a good commit well before the
culprit to just before its fix: dense in source commits), and two shaped like the user's real
one (05b648a..4cace485: 137 commits, 2 touching src, the culprit the first of them):
``--bracket user`` with the culprit first, as there (USER_SPAN commits between the source
commit before the culprit and the second one after it, where the gaps allow), and
``--bracket user-last`` from just before the source commit that precedes the culprit to just
before the one that follows it (the culprit second: the bad endpoint holds its state).

    python scripts/bench_bisect.py [--commits 400] [--size 1024] [--regression unit_slip]
                                   [--bracket regression|user|user-last] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from cold_cache import cold_cache_env
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

MODES = ("eager", "compiled cold", "compiled warm")
USER_SPAN = 136  # commits in a user-shaped bracket where the history allows (the real one: 137)
EAGER = {"TORCH_COMPILE_DISABLE": "1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1400)
    parser.add_argument("--size", type=int, default=4096, help="benchmark detector pixels per axis")
    parser.add_argument("--regression", default="unit_slip", help="which injected regression to bracket")
    parser.add_argument("--bracket", choices=("regression", "user", "user-last"), default="regression",
                        help="the demo's bracket of the regression, or one shaped like the user's (see above)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None,
                        help="a new folder to work in and keep (reports, clones, rows.pickle) instead of a temporary one")
    args = parser.parse_args()

    from bisector.config import ConfigOverrides, load_config
    from bisector.demo.port_history import DEFAULT_SEED, generate
    from simkernel import cref

    with tempfile.TemporaryDirectory(prefix="bench-bisect-") as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(exist_ok=args.keep is None)
        t0 = time.perf_counter()
        demo = generate(tmp / "port", commits=args.commits, size=args.size, seed=args.seed or DEFAULT_SEED,
                        compiled=True)
        generated = time.perf_counter() - t0
        regression = demo.regression(args.regression)
        if args.bracket != "regression":
            regression = _user_shaped(demo, regression, culprit_first=args.bracket == "user")
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
              + f"; regression '{regression.name}' bracketed {regression.good[:10]}..{regression.bad[:10]} "
              f"({_shape(demo, regression)})")
        print(f"C reference: {', '.join(f'{k} {v:.2f} s' for k, v in reference_s.items())} per run", flush=True)

        hand = lambda name, env, tmpdir: _by_hand(demo.path, regression, c_bin, config.package, full.args,  # noqa: E731
                                                  tmp / name, env, tmpdir)
        mine = lambda name, env, compile_from=None: _bisector(demo.path, regression, c_bin, tmp / name, env,  # noqa: E731
                                                              compile_from)
        rows = {}
        rows["eager"] = (mine("bisector-eager", EAGER), hand("hand-eager", EAGER, tmp / "hand-eager-tmp"))
        _rows(rows)
        rows["compiled cold"] = (mine("bisector-cold", {}), hand("hand-cold", {}, tmp / "hand-compile-tmp"))
        _rows({"compiled cold": rows["compiled cold"]})
        rows["compiled warm"] = (mine("bisector-warm", {}, compile_from=tmp / "bisector-cold"),
                                 hand("hand-warm", {}, tmp / "hand-compile-tmp"))
        _rows({"compiled warm": rows["compiled warm"]})
        (tmp / "rows.pickle").write_bytes(pickle.dumps((rows, regression)))
        _report(rows, regression)


def _user_shaped(demo, regression, culprit_first: bool):
    """The regression bracketed like the user's real hunt: the culprit and one other source
    commit inside (after it with ``culprit_first``, else before it), the rest docs and records."""
    history, source = list(demo.history), list(demo.source_commits)
    at = source.index(regression.culprit)
    if culprit_first:  # USER_SPAN commits where the gaps allow, so that hand steps compare
        culprit, second = history.index(source[at]), history.index(source[at + 1])
        lo, hi = history.index(source[at - 1]), history.index(source[at + 2]) - 1
        start = max(lo, min(culprit - 1, second - USER_SPAN // 2))
        good, bad = history[start], history[min(hi, max(second, start + USER_SPAN))]
    else:
        good, bad = history[history.index(source[at - 1]) - 1], history[history.index(source[at + 1]) - 1]
    if not history.index(regression.good) <= history.index(good) < history.index(bad) <= history.index(regression.bad):
        sys.exit(f"no user-shaped bracket inside {regression.name}'s: pick another --regression or --commits")
    return replace(regression, good=good, bad=bad)


def _shape(demo, regression) -> str:
    history = list(demo.history)
    lo, hi = history.index(regression.good), history.index(regression.bad)
    touching = sum(1 for sha in demo.source_commits if lo < history.index(sha) <= hi)
    return f"{hi - lo} commits, {touching} touching src"


def _rows(rows: dict, header: bool = True) -> None:
    if header:
        print(f"\n{'port':15}{'procedure':24}{'wall s':>8}{'runs':>6}{'run s':>8}{'s/run':>7}"
              f"{'floor s':>9}{'wall/floor':>11}{'outside s':>10}{'culprit':>12}")
    for mode, (mine, hand) in rows.items():
        for name, r in (("bisector run", mine), ("git bisect run by hand", hand)):
            per = r["candidate_s"] / max(r["processes"], 1)
            floor = (f"{r['floor']:9.1f}{r['wall'] / r['floor']:10.2f}x{r['outside']:10.1f}" if "floor" in r
                     else f"{'':9}{'':11}{'':10}")
            print(f"{mode:15}{name:24}{r['wall']:8.1f}{r['processes']:6d}{r['candidate_s']:8.1f}{per:7.1f}"
                  f"{floor}{r['culprit'][:10]:>12}", flush=True)


def _report(rows: dict, regression) -> None:
    print("\n== all three, side by side")
    _rows(rows)
    print("\n== per candidate run, seconds (same commit and scenario in each hunt; "
          "'fresh' excludes runs served from the score cache)")
    runs = {mode: rows[mode][0]["per_run"] for mode in MODES}
    keys = [k for k in runs["eager"] if all(k in runs[m] for m in MODES)]
    print(f"{'phase':9}{'commit':12}{'scenario':16}" + "".join(f"{m:>15}" for m in MODES) + f"{'warm/eager':>12}")
    ratios = []
    for key in keys:
        phase, commit, scenario = key
        seconds = [runs[m][key] for m in MODES]
        ratios.append(seconds[2] / seconds[0])
        print(f"{phase:9}{commit[:10]:12}{scenario:16}" + "".join(f"{s:15.1f}" for s in seconds)
              + f"{ratios[-1]:11.2f}x")
    warm_total = sum(runs["compiled warm"][k] for k in keys)
    eager_total = sum(runs["eager"][k] for k in keys)
    worst = max(ratios, default=float("nan"))
    print(f"matched runs: {len(keys)}; warm/eager: median {statistics.median(ratios) if ratios else float('nan'):.2f}x, "
          f"worst {worst:.2f}x, total {warm_total:.1f} s / {eager_total:.1f} s = "
          f"{warm_total / max(eager_total, 1e-9):.2f}x")
    for mode in MODES:
        mine = rows[mode][0]
        print(f"{mode}: bisector outside scoring {mine['outside']:.1f} s of {mine['wall']:.1f} s "
              f"(results.json timing: hunt {mine['timing_s']:.1f} s, scorings {mine['scoring_s']:.1f} s; "
              f"candidate runs {mine['candidate_s']:.1f} s of them); confirmation: {mine['confirmation']}")

    print("\n== goals")
    eager, cold, warm = (rows[m] for m in MODES)
    goals = [
        (f"compiled warm: each candidate run within 1.3x of the same run eager (worst {worst:.2f}x)",
         worst <= 1.3),
        (_speedup("compiled warm", warm, 3.0), warm[1]["wall"] / warm[0]["wall"] >= 3.0),
        (_speedup("compiled cold", cold, 2.0), cold[1]["wall"] / cold[0]["wall"] >= 2.0),
        (_speedup("eager", eager, 3.0), eager[1]["wall"] / eager[0]["wall"] >= 3.0),
        (f"eager: bisector's wall within 1.15x of its floor ({eager[0]['wall']:.1f} s / "
         f"{eager[0]['floor']:.1f} s = {eager[0]['wall'] / eager[0]['floor']:.2f}x)",
         eager[0]["wall"] <= 1.15 * eager[0]["floor"]),
    ]
    for text, met in goals:
        print(f"{'PASS' if met else 'MISS'}  {text}")
    found = all(r["culprit"] == regression.culprit for pair in rows.values() for r in pair)
    print(f"every hunt named the injected culprit {regression.culprit[:10]}: {found}", flush=True)


def _speedup(mode: str, pair: tuple[dict, dict], goal: float) -> str:
    mine, hand = pair
    return (f"{mode}: bisector >= {goal:g}x faster than by hand ({hand['wall']:.1f} s / "
            f"{mine['wall']:.1f} s = {hand['wall'] / mine['wall']:.2f}x; by hand {hand['processes']} runs "
            f"of {hand['candidate_s'] / max(hand['processes'], 1):.1f} s, bisector {mine['processes']} of "
            f"{mine['candidate_s'] / max(mine['processes'], 1):.1f} s)")


def _time(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def _bisector(repo: Path, regression, c_bin: Path, work: Path, extra: dict, compile_from: Path | None) -> dict:
    """One `bisector run` with a cold cache; ``compile_from``: an earlier hunt's work folder
    whose compile cache this one starts with (only that: scores and references stay cold)."""
    work.mkdir()
    cache = work / "cold-cache"
    if compile_from is not None:
        shutil.copytree(compile_from / "cold-cache" / "bisector" / "compile", cache / "bisector" / "compile",
                        symlinks=True)
    env = cold_cache_env(cache, **extra)
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
    per_run = {}
    for record, runs in zip(records, fresh):
        for run in runs:
            key = (record.get("phase") or "", record["commit"], run["scenario"])
            if key not in per_run:  # the first of repeated runs: the matching run of the other hunts
                per_run[key] = run["seconds"]
    timing = results["timing"]
    sides = results.get("confirmation", {})
    confirmation = "; ".join(
        f"{side} by " + ", ".join(f"{r['phase']} {r['commit'][:8]} {r['verdict']}" for r in sides[side]["runs"])
        for side in ("parent", "culprit") if side in sides)
    return {"wall": wall, "culprit": results["culprit"] or "", "processes": sum(len(runs) for runs in fresh),
            "candidate_s": sum(run["seconds"] for runs in fresh for run in runs), "per_run": per_run,
            "floor": _floor(results, regression.good), "outside": wall - timing["scoring_seconds"],
            "timing_s": timing["seconds"], "scoring_s": timing["scoring_seconds"], "confirmation": confirmation}


def _floor(results: dict, good: str) -> float:
    """The runs no hunt can avoid: the good endpoint's and the confirmation's fresh full-size
    runs. Each side of the culprit (its parent, itself) is confirmed by a re-run, or by the
    fresh full run of its state that the search made (an endpoint or a step)."""
    sides = results.get("confirmation", {})
    evidence = {(r["phase"], r["commit"]) for side in ("parent", "culprit")
                for r in sides.get(side, {}).get("runs", [])[-1:]}
    unavoidable = [r for r in results["records"]
                   if r.get("phase") == "confirm" or (r.get("phase") == "endpoint" and r["commit"] == good)
                   or (r.get("phase"), r["commit"]) in evidence]
    return sum(run["seconds"] for r in unavoidable for run in r.get("runs", [])
               if not run["cached"] and not run.get("probe_for"))


def _by_hand(repo: Path, regression, c_bin: Path, package: str, args: tuple[str, ...], work: Path,
             extra: dict, tmpdir: Path) -> dict:
    """A plain `git bisect run` in a fresh clone; ``tmpdir`` holds PyTorch's default compile
    cache, so a folder an earlier hand run used starts it warm."""
    work.mkdir()
    tmpdir.mkdir(exist_ok=True)
    checkout = work / "checkout"
    subprocess.run(["git", "clone", "-q", str(repo), str(checkout)], check=True)
    (work / "compare.py").write_text(COMPARE)
    step = work / "step.sh"
    step.write_text(STEP)
    step.chmod(0o755)
    env = dict(os.environ, C_BIN=str(c_bin), ARGS=shlex.join(args), PY=sys.executable, PACKAGE=package,
               WORK=str(work), TMPDIR=str(tmpdir), **extra)
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
    return {"wall": wall, "culprit": culprit, "processes": steps, "candidate_s": wall}


if __name__ == "__main__":
    main()
