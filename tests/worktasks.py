"""Module-level functions for executor tests: out-of-process workers import them by name."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def square(x: int) -> int:
    return x * x


def environment(_: object) -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "TMPDIR")}


def fails_once(marker: str) -> str:
    """Raises on the first call for ``marker``, succeeds on the second (a flaky worker)."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        raise RuntimeError("flaky first attempt")
    return f"ok after {path.read_text()}"


def always_raises(_: object) -> None:
    raise ValueError("this item is broken")


def dies(marker: str) -> None:
    """The worker process vanishes without a word, once per call."""
    with open(marker, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    os.kill(os.getpid(), signal.SIGKILL)


def sleeps(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def hangs_with_child(pidfile: str) -> None:
    """Starts a candidate-like child in its own session (as the scorer does) and waits on it."""
    from bisector.score import procs

    # The real runner: a group of its own, killed when an interrupt unwinds through it.
    log = Path(pidfile).parent
    procs.run(["sh", "-c", f"echo $$ > {pidfile}; exec sleep 300"], cwd=log, log_dir=log, label="hang",
              timeout_s=600, env=dict(os.environ))


def cache_round_trip(job: tuple[str, int]) -> dict:
    """Opens the shared cache afresh, as every scorer process does, writes and reads back."""
    import numpy as np

    from bisector.store.cache import Cache

    directory, i = job
    cache = Cache(Path(directory))
    try:
        cache.put_score({"item": i}, {"status": "measured", "i": i})
        cache.put_reference("ref", ("shared",), np.arange(64, dtype=np.float64).reshape(8, 8))
        return {"score": cache.get_score({"item": i}), "reference_sum": float(cache.get_reference("ref", ("shared",)).sum())}
    finally:
        cache.close()
