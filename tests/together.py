"""Start several Python processes so that their work begins at the same moment.

Interpreter start-up differs by tenths of a second between processes, which hides races
of the first open of a file. Each process runs ``script`` (``sys.argv`` as given); the
script calls ``rounds(n, gap_s)`` from its prelude and does round ``k`` when it yields
``k``: every process reaches round ``k`` at the same wall-clock time.
"""

from __future__ import annotations

import subprocess
import sys
import time

_PRELUDE = '''
import sys, time
print("ready", flush=True)
_start = float(sys.stdin.readline())
def rounds(n, gap_s):
    for k in range(n):
        time.sleep(max(0.0, _start + gap_s * k - time.time()))
        yield k
'''


def run_together(script: str, argvs: list[list[str]], timeout_s: float = 300) -> list[tuple[int, str]]:
    """(exit code, output) of one process per argv, each running ``script``."""
    procs = [subprocess.Popen([sys.executable, "-c", _PRELUDE + script, *argv], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for argv in argvs]
    try:
        ready = [p.stdout.readline() for p in procs]
        assert ready == ["ready\n"] * len(procs), ready
        start = time.time() + 0.1
        for p in procs:
            p.stdin.write(f"{start}\n")
            p.stdin.close()
        outputs = [p.stdout.read() for p in procs]  # small: no process blocks on a full pipe
        return [(p.wait(timeout=timeout_s), out) for p, out in zip(procs, outputs)]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
