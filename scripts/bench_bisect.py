#!/usr/bin/env python3
"""bisector run against the hand procedure, side by side on one generated history.

The history is the demo's realistic port (1,000+ commits, most touching only docs and
reports). Both searches bracket the same injected regression:

  bisector   `bisector run --good G --bad B --c-bin <C twin>` with a cold cache;
  by hand    a plain `git bisect run step.sh` in a full checkout, where step.sh does what a
             user does: clean the tree, run the C reference, run the port, compare.

Prints wall times and their ratio, the commits each one scored, and bisector's own
overhead per scoring (wall time not spent in the candidate or the reference).

    python scripts/bench_bisect.py [--commits 1200] [--size 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMPARE = '''\
import sys
import numpy as np
ref, img = (np.fromfile(p, "<f4").astype(np.float64) for p in sys.argv[1:3])
if img.size != ref.size or not np.isfinite(img).all():
    sys.exit(1)
corr = np.corrcoef(ref, img)[0, 1]
ratio = img.sum() / ref.sum()
sys.exit(0 if corr >= 0.999 and abs(ratio - 1) <= 5e-3 else 1)
'''

STEP = '''\
#!/bin/sh
# A user's bisect step: git bisect has checked out the full tree; clean it, run both, compare.
git clean -fdxq
"$C_BIN" $ARGS -floatfile "$WORK/ref.bin" >/dev/null 2>&1 || exit 128
PYTHONPATH=src "$PY" -m "$PACKAGE" $ARGS -floatfile "$WORK/port.bin" >/dev/null 2>&1 || exit 125
exec "$PY" "$WORK/compare.py" "$WORK/ref.bin" "$WORK/port.bin"
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1200)
    parser.add_argument("--size", type=int, default=1024, help="benchmark detector pixels per axis")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()

    from bisector.config import ConfigOverrides, load_config
    from bisector.demo.history import DEFAULT_SEED, generate
    from simkernel import cref

    with tempfile.TemporaryDirectory(prefix="bench-bisect-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        demo = generate(tmp / "port", commits=args.commits, size=args.size, seed=args.seed or DEFAULT_SEED)
        generated = time.perf_counter() - t0
        regression = demo.regressions[0]
        c_bin = cref.binary()
        config = load_config(demo.path, overrides=ConfigOverrides(c_bin=str(c_bin)))
        scenario = config.scenarios["benchmark"]

        ref_seconds = _time([str(c_bin), *scenario.args, "-floatfile", str(tmp / "r.bin")], tmp)
        mine = _bisector(demo.path, regression, c_bin, tmp)
        hand = _by_hand(demo.path, regression, c_bin, config.package, scenario.args, tmp)

    found_same = mine["culprit"] == hand["culprit"] == regression.culprit
    overhead = (mine["wall"] - mine["candidate"] - ref_seconds) / max(mine["scorings"], 1)
    print(f"history: {args.commits} commits generated in {generated:.1f} s; scenario benchmark at "
          f"{args.size}^2; regression '{regression.name}' bracketed")
    print(f"{'':24}{'wall s':>9}{'scored':>8}{'culprit':>12}")
    print(f"{'bisector run':24}{mine['wall']:9.1f}{mine['scored']:8d}{mine['culprit'][:10]:>12}")
    print(f"{'git bisect run by hand':24}{hand['wall']:9.1f}{hand['scored']:8d}{hand['culprit'][:10]:>12}")
    print(f"speed-up (hand / bisector): {hand['wall'] / mine['wall']:.2f}x   (goal >= 5x: "
          f"{'PASS' if hand['wall'] >= 5 * mine['wall'] else 'MISS'})")
    print(f"bisector: {mine['scorings']} scorings, {mine['candidate']:.1f} s in candidates, "
          f"{ref_seconds:.2f} s for the one reference run")
    print(f"bisector overhead per scoring: {overhead:.3f} s   (goal < 0.5 s: "
          f"{'PASS' if overhead < 0.5 else 'MISS'})")
    print(f"hand: {hand['steps']} steps at {hand['wall'] / max(hand['steps'], 1):.2f} s each")
    print(f"both found the injected culprit: {found_same}")


def _time(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def _bisector(repo: Path, regression, c_bin: Path, tmp: Path) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cold-cache"))
    argv = [sys.executable, "-m", "bisector", "run", "--good", regression.good, "--bad", regression.bad,
            "--c-bin", str(c_bin), "--scenario", "benchmark", "--report-dir", str(tmp / "reports")]
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bisector run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    results = json.loads(next((tmp / "reports").glob("*/results.json")).read_text())
    records = results["records"]
    candidate = sum(sc["seconds"] for r in records for sc in r["scenarios"] if not sc["cached"])
    scorings = len(records)
    return {"wall": wall, "culprit": results["culprit"] or "", "scored": len({r["commit"] for r in records}),
            "scorings": scorings, "candidate": candidate}


def _by_hand(repo: Path, regression, c_bin: Path, package: str, args: tuple[str, ...], tmp: Path) -> dict:
    checkout = tmp / "hand"
    subprocess.run(["git", "clone", "-q", str(repo), str(checkout)], check=True)
    work = tmp / "hand-work"
    work.mkdir()
    (work / "compare.py").write_text(COMPARE)
    step = work / "step.sh"
    step.write_text(STEP)
    step.chmod(0o755)
    env = dict(os.environ, C_BIN=str(c_bin), ARGS=shlex.join(args), PY=sys.executable, PACKAGE=package,
               WORK=str(work))
    git = ["git", "-C", str(checkout)]
    start = time.perf_counter()
    subprocess.run([*git, "bisect", "start", regression.bad, regression.good], check=True, capture_output=True)
    subprocess.run([*git, "bisect", "run", str(step)], env=env, capture_output=True)
    wall = time.perf_counter() - start
    log = subprocess.run([*git, "bisect", "log"], capture_output=True, text=True).stdout
    culprit = next((line.split("[")[1].split("]")[0] for line in log.splitlines()
                    if line.startswith("# first bad commit")), "")
    steps = sum(1 for line in log.splitlines() if line.startswith(("git bisect good", "git bisect bad",
                                                                  "git bisect skip")))
    return {"wall": wall, "culprit": culprit, "scored": steps, "steps": steps}


if __name__ == "__main__":
    main()
