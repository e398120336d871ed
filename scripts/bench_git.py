#!/usr/bin/env python3
"""The git questions of one scoring step: through bisector.git (GitPython) and by hand.

A scoring step is a fresh process that resolves the commit under test, reads the tree
ids of the relevant paths and exports them. Each round runs that sequence in a new
Python process twice, once through ``bisector.git`` and once with the git command line
(``rev-parse``, ``archive``) from subprocess, on the demo's generated history, and
prints the medians and their ratio, with the cost of ``import git`` alone beside them.

    python scripts/bench_git.py [--commits 1400] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

THROUGH_BISECTOR = '''
import sys, tempfile, time
t0 = time.perf_counter()
from pathlib import Path
from bisector import git
repo, rev = Path(sys.argv[1]), sys.argv[2]
sha = git.resolve(repo, rev)
git.tree_ids(repo, sha, ["src"])
with tempfile.TemporaryDirectory() as out:
    git.export(repo, sha, ["src"], Path(out))
print(time.perf_counter() - t0)
'''

BY_HAND = '''
import io, subprocess, sys, tarfile, tempfile, time
t0 = time.perf_counter()
repo, rev = sys.argv[1], sys.argv[2]
def git(*args):
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, check=True).stdout
sha = git("rev-parse", "--verify", rev + "^{commit}").decode().strip()
git("rev-parse", "--verify", sha + ":src")
with tempfile.TemporaryDirectory() as out:
    tarfile.open(fileobj=io.BytesIO(git("archive", "--format=tar", sha, "--", "src"))).extractall(out)
print(time.perf_counter() - t0)
'''

IMPORT_ONLY = '''
import time
t0 = time.perf_counter()
import git
print(time.perf_counter() - t0)
'''


def timed(code: str, *args: str) -> float:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1400)
    parser.add_argument("--rounds", type=int, default=7)
    opts = parser.parse_args()

    from bisector.demo.port_history import generate

    with tempfile.TemporaryDirectory(prefix="bench-git-") as tmp:
        repo = generate(Path(tmp) / "port", commits=opts.commits, size=64)
        rev = repo.history[len(repo.history) // 2]
        samples = {"bisector.git": [], "git command line": [], "import git alone": []}
        for _ in range(opts.rounds):
            samples["bisector.git"].append(timed(THROUGH_BISECTOR, str(repo.path), rev))
            samples["git command line"].append(timed(BY_HAND, str(repo.path), rev))
            samples["import git alone"].append(timed(IMPORT_ONLY))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"{name:<18} {value * 1000:7.1f} ms (median of {opts.rounds})")
    print(f"ratio bisector.git / git command line: {medians['bisector.git'] / medians['git command line']:.2f}x")


if __name__ == "__main__":
    main()
