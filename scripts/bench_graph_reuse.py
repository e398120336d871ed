#!/usr/bin/env python3
"""Does the demo's compiled port reuse its compiled graph across commits and physics?

Generates the demo port with its kernel in ``torch.compile`` and runs the port's command line
in fresh processes (each with its own TMPDIR, one shared Inductor cache and Inductor's
TMPDIR folder linked to a shared one, as bisector's candidates run), in this order:

  0. first_good, benchmark              eager (TORCH_COMPILE_DISABLE=1), for comparison
  1. first_good, benchmark              cold: the cache is empty
  2. first_good, benchmark              the same state again
  3. a later commit, benchmark          unrelated source change (a docstring)
  4. the unit-slip culprit, benchmark   different physics: the wavelength 1e10 times off
  5. first_good, other physics          another cell, F, wavelength and distance, same detector

For each: where its wall time went (import, Dynamo's compile and within it the backend and
the cache load, from ``torch._dynamo.utils.compile_times``; the kernel; the rest) and the FX
graph cache's hits and misses. A port whose constants are Python
floats misses on 4 and 5: the first trace in each process bakes every float the kernel reads
into the graph as a constant (``specialize_float=False`` only turns a float into an input
after it changed within one process, which a one-run-per-process bisection never sees), so
other physics is another graph. One that takes them as tensors hits. ``--port-from DIR`` generates the port with the bisector found in DIR (for
example a checkout from before the demo's kernel took tensors), to compare.

    python scripts/bench_graph_reuse.py [--size 256] [--port-from DIR]
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Runs the port's CLI and reports what the compiler did, as JSON on the last line of stderr.
PROBE = """
import atexit, json, sys, time
started = time.perf_counter()
import torch
from torch._dynamo.utils import compile_times, counters
imported = time.perf_counter() - started

def report():
    times = compile_times(repr="csv", aggregate=True)
    names, values = times if isinstance(times, tuple) else ([], [])
    print(json.dumps({"import_s": imported, "hit": counters["inductor"]["fxgraph_cache_hit"],
                      "miss": counters["inductor"]["fxgraph_cache_miss"],
                      "compile": dict(zip(names, (float(v) for v in values)))}),
          file=sys.stderr)

atexit.register(report)
from nbport.cli import main
sys.exit(main(sys.argv[1:]))
"""

BENCH = "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels {n}"
# other physics, the same shapes and subpixel count (nanoBragg's automatic oversample stays 1)
OTHER = "-default_F 80 -cell 90 100 110 90 90 90 -lambda 5 -N 5 -distance 120 -detpixels {n}"


def generate_port(dest: Path, size: int, bisector_root: Path):
    code = ("import json, sys\nfrom pathlib import Path\nfrom bisector.demo.port_history import generate\n"
            f"r = generate(Path({str(dest)!r}), commits=200, size={size}, compiled=True)\n"
            "print(json.dumps({'shas': r.shas, 'source': r.source_commits}))\n")
    env = dict(os.environ, PYTHONPATH=str(bisector_root))
    # cwd too: `python -c` puts the current folder ahead of PYTHONPATH
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=bisector_root, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def run(repo: Path, sha: str, args: str, work: Path, cache: Path, eager: bool = False) -> dict:
    work.mkdir(parents=True)
    (work / "tmp").mkdir()
    (work / "tmp" / f"torchinductor_{getpass.getuser()}").symlink_to(cache.parent / "inductor-tmpdir")
    archive = subprocess.run(["git", "-C", str(repo), "archive", sha, "src"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(work)], input=archive.stdout, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TORCH", "TRITON"))}
    env.update(PYTHONPATH=str(work / "src"), TMPDIR=str(work / "tmp"), TORCHINDUCTOR_CACHE_DIR=str(cache))
    if eager:
        env["TORCH_COMPILE_DISABLE"] = "1"
    started = time.perf_counter()
    argv = [sys.executable, "-c", PROBE, *args.split(),
            "-floatfile", str(work / "out.bin")]
    proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"port run failed:\n{proc.stderr[-3000:]}")
    rendered = next(line for line in proc.stdout.splitlines() if line.startswith("rendered "))
    return {"wall": wall, "render_s": float(rendered.split(" in ")[1].split()[0]),
            **json.loads(proc.stderr.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="benchmark detector pixels per axis")
    parser.add_argument("--port-from", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the bisector checkout that generates the port")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reuse-") as tmp:
        root = Path(tmp)
        # the first-good benchmark is half size until the benchmark grows; use the tip's size throughout
        info = generate_port(root / "port", opts.size, opts.port_from)
        (root / "inductor-tmpdir").mkdir()
        shas, source = info["shas"], info["source"]
        later = source[source.index(shas["first_good"]) + 1]  # the next source commit: a docstring
        runs = [("0 first_good, eager", shas["first_good"], BENCH),
                ("1 first_good, cold", shas["first_good"], BENCH),
                ("2 first_good, again", shas["first_good"], BENCH),
                ("3 next source commit", later, BENCH),
                ("4 unit-slip culprit", shas["unit_slip"], BENCH),
                ("5 first_good, other physics", shas["first_good"], OTHER)]
        print(f"demo port generated by {opts.port_from}, benchmark at {opts.size}^2, "
              "compile caches shared as bisector shares them")
        print("seconds: wall = import torch + simulate (compile + kernel) + the rest (start-up, CLI, "
              "writing the image); compile = Dynamo's whole compile, of which the backend (AOTAutograd + "
              "Inductor) and, on a hit, the cache load")
        print(f"{'run':30}{'wall':>7}{'import':>8}{'simulate':>9}{'compile':>8}{'backend':>8}{'load':>7}"
              f"{'kernel':>8}{'rest':>7}{'fx hit':>8}{'miss':>6}")
        for i, (label, sha, args) in enumerate(runs):
            r = run(root / "port", sha, args.format(n=opts.size), root / f"run{i}", root / "inductor",
                    eager=i == 0)
            compiled = r["compile"].get("_compile.compile_inner", 0.0)
            backend = r["compile"].get("OutputGraph.call_user_compiler", 0.0)
            load = r["compile"].get("AOTAutogradCache.inductor_load", 0.0)
            rest = r["wall"] - r["import_s"] - r["render_s"]
            print(f"{label:30}{r['wall']:7.1f}{r['import_s']:8.1f}{r['render_s']:9.1f}{compiled:8.1f}{backend:8.1f}"
                  f"{load:7.1f}{r['render_s'] - compiled:8.1f}{rest:7.1f}{r['hit']:8d}{r['miss']:6d}", flush=True)


if __name__ == "__main__":
    main()
