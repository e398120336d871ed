#!/usr/bin/env python3
"""A warm compiled candidate run against the same run eager, side by side in one run.

The port is the demo's, generated with its kernel wrapped in ``torch.compile``. Every run is
a real candidate run as a hunt makes it (a fresh export, its own private TMPDIR), of one
state whose compiled kernel is already in the shared compile cache (one cold run first, not
counted). Three ways, interleaved so that a change of machine load hits all of them alike:

  eager           TORCH_COMPILE_DISABLE=1 (the demo port then never imports the compiler)
  warm, shared    the compile caches shared as bisector shares them (headers included)
  warm, unshared  the same, but Inductor's precompiled headers left in the private TMPDIR
                  (bisector before it linked them: every run rebuilt them with g++)
  warm, checking  shared, but each run makes Inductor's check of the CPU's vector sets
                  itself (bisector before ``score/vec_isa.py`` made it once per machine); its
                  compiled kernel has another cache key, so it gets a cold run of its own first

Prints the median of each and the ratios to eager (goal: a warm compiled run within 1.3x).

    python scripts/bench_compile_runs.py [--size 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
from pathlib import Path

from bisector.config import ConfigOverrides, load_config
from bisector.demo.port_history import generate
from bisector.score import candidate
from bisector.score.candidate import export_workspace, run_candidate
from bisector.score.reference import detector_shape


def one_run(config, scenario, scratch: Path, share_headers: bool, checking: bool = False) -> float:
    ws = export_workspace(config, "HEAD", scratch)
    if not share_headers:
        for link in ws.tmp.glob("torchinductor_*"):
            link.unlink()
    switch = candidate.isa_check_env
    if checking:
        candidate.isa_check_env = lambda *args: {}
    try:
        result = run_candidate(config, ws, scenario, detector_shape(scenario.args))
    finally:
        candidate.isa_check_env = switch
    if result.status != "ok":
        sys.exit(f"candidate run failed: {result.reason}")
    return result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp:
        root = Path(tmp)
        demo = generate(root / "port", commits=120, size=opts.size, compiled=True)
        compiled = load_config(demo.path, overrides=ConfigOverrides(
            cache_dir=str(root / "cache"), reference_kind="simkernel"))  # only candidate runs are timed
        eager = dataclasses.replace(compiled, eager=True)
        scenario = compiled.scenarios[compiled.judge[0]]
        cold = one_run(compiled, scenario, root / "cold", True)
        cold_checking = one_run(compiled, scenario, root / "cold-checking", True, checking=True)
        print(f"cold compiled runs (fill the shared caches): {cold:.1f} s, checking {cold_checking:.1f} s",
              flush=True)
        ways = {"eager": (eager, True, False), "warm, shared": (compiled, True, False),
                "warm, unshared": (compiled, False, False), "warm, checking": (compiled, True, True)}
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        for i in range(opts.repeats):
            for name, (config, share, checking) in ways.items():
                folder = root / f"{name}-{i}".replace(", ", "-")
                seconds[name].append(one_run(config, scenario, folder, share, checking))
                print(f"  {name:15s} run {i + 1}: {seconds[name][-1]:.1f} s", flush=True)
        base = statistics.median(seconds["eager"])
        print(f"\n{scenario.name} at {opts.size}^2, median of {opts.repeats}:")
        for name, values in seconds.items():
            print(f"  {name:15s} {statistics.median(values):6.1f} s   {statistics.median(values) / base:4.2f}x eager")


if __name__ == "__main__":
    main()
