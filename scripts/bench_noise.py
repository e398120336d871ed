#!/usr/bin/env python3
"""Noise-aware judging against single-run judging, side by side, on generated noisy ports.

Each history is a tiny plain-Python port (tests/portrepo.py, 32x32 images) whose every run adds
seeded random noise (portrepo.Noise): a run correlates with the reference about
1 - L^2/2, L drawn per run. Both modes hunt with `bisector run --good ROOT` (a good tip goes
on as a scan) on the same histories and seeds, each with a cold cache of its own:

  single   max_repeats = 1: every state judged on one run, as before the noise rule;
  rule     the defaults: a run within noise_margin of a threshold is repeated, up to
           max_repeats, and judged by score/noise.py.

Histories:
  (a) culprit  three seeded histories: good states at L = 0.035 +- 0.004 (correlation ~0.9994, near 0.999), then a
               scale regression (sum ratio 1.5): is it found and confirmed?
  (b) none     no real change, L = 0.04 +- 0.004 everywhere (~0.9992 +- 0.00015): any culprit
               blamed (named and confirmed) is a false blame.

Prints runs of the port, wall time and outcomes per mode, and the false-blame rate over
--histories seeded (b) histories.

    PYTHONPATH=$PWD python scripts/bench_noise.py [--histories 20] [--commits 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from portrepo import Change, Noise, make_port_repo  # noqa: E402

from bisector.api import run_bisect  # noqa: E402
from bisector.config import ConfigOverrides  # noqa: E402
from bisector.errors import EndpointError  # noqa: E402

MODES = {"single": "max_repeats = 1", "rule": ""}


def hunt(folder: Path, history: list[Change], level: float, seed: int, settings: str) -> dict:
    noise = Noise(level=level, jitter=0.004, counter=folder / "runs", seed=seed)
    port = make_port_repo(folder / "port", history=history, noise=noise, settings=settings)
    start = time.monotonic()
    try:
        result = run_bisect(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(folder / "cache")),
                            report_root=folder / "reports")
        blamed = _blamed(result)
        code = result.exit_code
    except EndpointError:
        blamed, code = [], 3
    return {"seconds": time.monotonic() - start, "runs": len((folder / "runs").read_text()),
            "blamed": blamed, "exit": int(code), "culprit": port.culprit}


def _blamed(result) -> list[str]:
    """The commits a hunt names as confirmed culprits (a run's, or a scan's pinned breaks)."""
    if result.scan is not None:
        return [c for c, conf in result.scan.confirmations.items() if conf.confirmed and c in
                {w.start.commits[0] for w in result.scan.timeline.windows if w.start}]
    return [result.culprit] if result.culprit and result.confirmed else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, default=20, help="seeded (b) histories per mode")
    parser.add_argument("--commits", type=int, default=5, help="commits per history")
    args = parser.parse_args()
    n = args.commits
    culprit_history = [Change("refactor")] * (n // 2) + [Change("regress")] + [Change("refactor")] * (n - n // 2 - 1)
    flat_history = [Change("refactor")] * n
    with tempfile.TemporaryDirectory(prefix="bench-noise-") as tmp:
        root = Path(tmp)
        print(f"{'':24}{'single run':>28}{'noise rule':>28}")
        a = {m: [hunt(root / f"a-{m}-{i}", culprit_history, 0.035, i, s) for i in range(3)] for m, s in MODES.items()}
        print(f"{'(a) culprit: runs, s (3)':24}" + "".join(
            f"{statistics.fmean(h['runs'] for h in a[m]):>12.1f} {statistics.fmean(h['seconds'] for h in a[m]):>6.1f} s "
            f"{sum(h['blamed'] == [h['culprit']] for h in a[m]):>3}/3 ok" for m in MODES))
        b = {m: [hunt(root / f"b-{m}-{i}", flat_history, 0.04, i, s) for i in range(args.histories)] for m, s in MODES.items()}
        print(f"{'(b) none: runs, s (mean)':24}" + "".join(
            f"{statistics.fmean(h['runs'] for h in b[m]):>12.1f} {statistics.fmean(h['seconds'] for h in b[m]):>6.1f} s {'':>7}"
            for m in MODES))
        print(f"{'(b) false blames':24}" + "".join(
            f"{sum(bool(h['blamed']) for h in b[m]):>12} of {args.histories:<13}" for m in MODES))
        for m in MODES:
            print(f"(b) exit codes, {m:<8}" + " ".join(str(h["exit"]) for h in b[m]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
