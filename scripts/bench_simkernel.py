#!/usr/bin/env python
"""Speed and memory of simkernel against its C twin, on one machine, in one run.

For the benchmark scenario
    -default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels N
and each N in --sizes, measures:
  * the C twin: whole-process wall time and peak RSS (OMP threads = cores);
  * simkernel: in-process kernel time (parse once, warm up once, then best and median
    of --repeats) in float32 and float64, and the whole command line
    (`python -m simkernel ... -floatfile <tmp>`) wall time and peak RSS;
and prints them as a table with ratios to the C twin, then PASS/MISS for the goals at
the largest size: float32 kernel <= 0.5x C twin, command line <= 1.5x, peak RSS <= 1 GB.

Whole-process numbers come from a fresh helper interpreter per measurement that runs
the command as its only child and reads resource.getrusage(RUSAGE_CHILDREN), so the
peak RSS is the command's own. Nothing is written to the current folder.

Usage: python scripts/bench_simkernel.py [--sizes 1024 4096] [--repeats 3] [--scenario benchmark|hkl]
(--scenario hkl: golden case 05's arguments, an HKL table with a triclinic, misset cell)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = {
    # square shape, no table: the kernel's separable fast path
    "benchmark": "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100",
    # golden case 05 (HKL table, triclinic, misset, auto 2x2): indices in C's order of operations
    "hkl": f"-hkl {Path(__file__).resolve().parents[1] / 'tests' / 'data' / 'golden' / 'small.hkl'} "
           "-default_F 10 -cell 70 80 90 75 85 95 -misset 10 20 30 -lambda 1.0 -N 5 -distance 100",
}
SCENARIO = SCENARIOS["benchmark"]
GOAL_KERNEL_RATIO = 0.5
GOAL_CLI_RATIO = 1.5
GOAL_RSS_BYTES = 1 << 30

# Runs argv (JSON in argv[1]) as its only child; prints wall seconds and child peak RSS.
_MEASURE_CHILD = r"""
import json, resource, subprocess, sys, time
argv = json.loads(sys.argv[1])
start = time.perf_counter()
proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - start
rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall_s": wall, "rss_bytes": rss_kb * 1024, "rc": proc.returncode,
                  "stderr": proc.stderr[-2000:]}))
"""


@dataclass
class Measurement:
    label: str
    seconds: float
    rss_bytes: int | None = None
    median: float | None = None


def scenario_argv(size: int) -> list[str]:
    return [*SCENARIO.split(), "-detpixels", str(size)]


def measure_process(argv: list[str], env: dict[str, str], repeats: int) -> tuple[float, float, int]:
    """Best and median wall seconds, and max peak RSS (bytes), over `repeats` fresh runs."""
    walls, peak = [], 0
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _MEASURE_CHILD, json.dumps(argv)],
            env=env, capture_output=True, text=True, check=True,
        )
        record = json.loads(out.stdout)
        if record["rc"] != 0:
            raise RuntimeError(f"{argv[0]} failed ({record['rc']}): {record['stderr']}")
        walls.append(record["wall_s"])
        peak = max(peak, record["rss_bytes"])
    return min(walls), statistics.median(walls), peak


def measure_c_twin(size: int, repeats: int, workdir: Path) -> Measurement:
    from simkernel import cref

    env = dict(os.environ, OMP_NUM_THREADS=str(os.cpu_count() or 1))
    argv = [str(cref.binary()), *scenario_argv(size), "-floatfile", str(workdir / "c.bin")]
    best, median, rss = measure_process(argv, env, repeats)
    return Measurement("C twin (process)", best, rss, median)


def measure_simkernel_cli(size: int, repeats: int, workdir: Path, dtype_name: str) -> Measurement:
    argv = [sys.executable, "-m", "simkernel", *scenario_argv(size), "-dtype", dtype_name,
            "-floatfile", str(workdir / "t.bin")]
    best, median, rss = measure_process(argv, dict(os.environ), repeats)
    return Measurement(f"simkernel command line {dtype_name[-2:]}", best, rss, median)


def measure_torch_import(repeats: int) -> Measurement:
    """The floor under any torch command line: a process that only imports torch."""
    best, median, rss = measure_process([sys.executable, "-c", "import torch"], dict(os.environ), repeats)
    return Measurement("python -c 'import torch'", best, rss, median)


def measure_simkernel_kernel(size: int, repeats: int, dtype_name: str) -> Measurement:
    import torch

    import simkernel

    dtype = getattr(torch, dtype_name)
    config = simkernel.parse_args(scenario_argv(size))
    simkernel.simulate(config, device="cpu", dtype=dtype)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        image = simkernel.simulate(config, device="cpu", dtype=dtype)
        times.append(time.perf_counter() - start)
        del image
    return Measurement(f"simkernel kernel {dtype_name}", min(times), None, statistics.median(times))


def format_row(m: Measurement, reference: Measurement) -> str:
    ratio = m.seconds / reference.seconds
    median = f"{m.median:9.3f}" if m.median is not None else " " * 9
    rss = f"{m.rss_bytes / 2**20:9.0f}" if m.rss_bytes is not None else "        -"
    return f"  {m.label:28s} {m.seconds:9.3f} {median} {ratio:8.2f}x {rss}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="benchmark")
    args = parser.parse_args(argv)
    global SCENARIO
    SCENARIO = SCENARIOS[args.scenario]

    import torch

    from simkernel import cref

    cref.binary()  # build outside the timed region
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); C twin {cref.binary()}")
    print(f"scenario: {SCENARIO} -detpixels N; repeats {args.repeats}")
    print(f"  {'measure':28s} {'best s':>9s} {'median s':>9s} {'vs C':>9s} {'RSS MiB':>9s}")

    results: dict[int, dict[str, Measurement]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-simkernel-") as tmp:
        workdir = Path(tmp)
        for size in args.sizes:
            print(f"{size}x{size}")
            c = measure_c_twin(size, args.repeats, workdir)
            rows = {"c": c}
            print(format_row(c, c), flush=True)
            try:
                rows["f32"] = measure_simkernel_kernel(size, args.repeats, "float32")
                print(format_row(rows["f32"], c), flush=True)
                rows["f64"] = measure_simkernel_kernel(size, args.repeats, "float64")
                print(format_row(rows["f64"], c), flush=True)
                rows["cli"] = measure_simkernel_cli(size, args.repeats, workdir, "float64")
                print(format_row(rows["cli"], c), flush=True)
                rows["cli32"] = measure_simkernel_cli(size, args.repeats, workdir, "float32")
                print(format_row(rows["cli32"], c), flush=True)
                print(format_row(measure_torch_import(args.repeats), c), flush=True)
            except (ImportError, AttributeError, RuntimeError, subprocess.CalledProcessError) as exc:
                print(f"  simkernel unavailable: {type(exc).__name__}: {exc}")
            results[size] = rows

    largest = max(args.sizes)
    rows = results[largest]
    print(f"goals at {largest}x{largest}:")
    if not {"f32", "cli"} <= rows.keys():
        print("  MISS  simkernel could not be measured")
        return 1
    c = rows["c"]
    kernel_ratio = rows["f32"].seconds / c.seconds
    cli_ratio = rows["cli"].seconds / c.seconds
    rss = rows["cli"].rss_bytes or 0
    print(f"  {verdict(kernel_ratio <= GOAL_KERNEL_RATIO)}  float32 kernel {kernel_ratio:.2f}x C twin "
          f"(goal <= {GOAL_KERNEL_RATIO}x)")
    cli32_ratio = rows["cli32"].seconds / c.seconds
    print(f"  {verdict(cli_ratio <= GOAL_CLI_RATIO)}  command line {cli_ratio:.2f}x C twin "
          f"(float64, the default; float32 {cli32_ratio:.2f}x; goal <= {GOAL_CLI_RATIO}x)")
    print(f"  {verdict(rss <= GOAL_RSS_BYTES)}  command-line peak RSS {rss / 2**20:.0f} MiB (goal <= 1024 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
