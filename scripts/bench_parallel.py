#!/usr/bin/env python3
"""`bisector run --jobs K` side by side: rounds and wall time for K = 1, 2, 4 on one history.

The history is a generated port (tests/portrepo.py) with one injected regression among
N relevant commits. Each run starts from a cold cache, so every probe really runs its
candidate. K = 1 is today's `git bisect run`; K > 1 multisects on the `processes`
executor (and on a dask-local cluster with --dask). Rounds must drop as
ceil(log_(K+1)(N + 1)); wall time gains are bounded by the machine's cores.
`scan` (every distinct state of a shorter history) with 1 and 2 workers follows.

    python scripts/bench_parallel.py [--relevant 62] [--size 64] [--dask]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relevant", type=int, default=62, help="commits touching the port's source")
    parser.add_argument("--size", type=int, default=64, help="detector pixels per axis")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--dask", action="store_true", help="also run K = 2 on a dask-local cluster")
    parser.add_argument("--scan-states", type=int, default=16, help="relevant commits of the scan history")
    args = parser.parse_args()


    from bisector.api import run_bisect, scan_history
    from bisector.config import ConfigOverrides
    from bisector.search.bisection import expected_rounds
    from bisector.records import Phase
    from portrepo import Change, make_port_repo

    culprit_at = (2 * args.relevant) // 3
    history = []
    for i in range(args.relevant):
        history += [Change("docs"), Change("regress" if i == culprit_at else "refactor")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-parallel-"))
    port = make_port_repo(tmp / "port", history=history, size=args.size)

    runs = [(k, None) for k in args.jobs] + ([(2, "dask-local")] if args.dask else [])
    rows = []
    for k, executor in runs:
        cache = tmp / f"cache-{k}-{executor or 'default'}"
        start = time.perf_counter()
        result = run_bisect(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(cache)),
                            report_root=tmp / "reports", jobs=k, executor=executor)
        wall = time.perf_counter() - start
        steps = [r for r in result.records if r.phase is Phase.BISECT]
        rounds = max((r.round or 0 for r in steps), default=0) if k > 1 else len(steps)
        assert result.culprit == port.culprit, (k, executor, result.conclusion)
        rows.append((k, executor or ("git bisect run" if k == 1 else "processes"), rounds,
                     expected_rounds(args.relevant, k), len(steps), wall))

    print(f"run: {args.relevant} relevant commits ({2 * args.relevant} in all), {args.size}x{args.size} px, "
          f"culprit found by every run: {port.culprit[:10]}")
    print(f"{'K':>2}  {'executor':<15} {'rounds':>6} {'ceil(log_K+1(N+1))':>18} {'scored':>6} "
          f"{'wall s':>7} {'rounds/K=1':>10} {'wall/K=1':>8}")
    base_rounds, base_wall = rows[0][2], rows[0][5]
    for k, name, rounds, bound, scored, wall in rows:
        print(f"{k:>2}  {name:<15} {rounds:>6} {bound:>18} {scored:>6} {wall:>7.1f} "
              f"{rounds / base_rounds:>10.2f} {wall / base_wall:>8.2f}")

    scan_history_changes = [Change("regress") if i == args.scan_states // 2 else
                            Change("fix") if i == (3 * args.scan_states) // 4 else Change("refactor")
                            for i in range(args.scan_states)]
    scan_port = make_port_repo(tmp / "scan-port", history=scan_history_changes, size=args.size)
    scans = []
    for workers in (1, 2):
        start = time.perf_counter()
        result = scan_history(scan_port.path, scan_port.base, report_root=tmp / "scan-reports",
                              overrides=ConfigOverrides(cache_dir=str(tmp / f"scan-cache-{workers}")),
                              jobs=workers)
        scans.append((workers, result.scored_states, len(result.timeline.windows), time.perf_counter() - start))
    print(f"scan: {args.scan_states} relevant commits, one window, {args.size}x{args.size} px")
    print(f"{'workers':>7} {'states scored':>13} {'windows':>7} {'wall s':>7} {'wall/1':>7}")
    for workers, states, found, wall in scans:
        print(f"{workers:>7} {states:>13} {found:>7} {wall:>7.1f} {wall / scans[0][3]:>7.2f}")


if __name__ == "__main__":
    main()
