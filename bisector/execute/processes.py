"""K local worker processes at once, each in its own scratch folder with a share of the cores.

A thread per slot starts one fresh worker process per item (see isolated.py) and waits
for it; the slot's folder is the worker's TMPDIR, so the exports of the commits it scores
stay apart from every other slot's. Each worker gets ``cores // K`` threads through the
usual variables (torch and numpy read them), unless the user set them already.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from ..score import procs
from .base import RETRIES, Outcome, failure_text
from .isolated import STOP_GRACE_S, TaskCancelled, TaskFailed, run_isolated, worker_env

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def thread_budget(workers: int, cores: int | None = None) -> int:
    """Threads each of ``workers`` concurrent workers may use without oversubscribing the cores."""
    return max(1, (cores or os.cpu_count() or 1) // workers)


def budget_env(workers: int, environ: dict[str, str] | None = None) -> dict[str, str]:
    environ = dict(os.environ if environ is None else environ)
    threads = str(thread_budget(workers))
    return {name: environ.get(name, threads) for name in THREAD_VARIABLES}


class ProcessExecutor:
    name = "processes"

    def __init__(self, workers: int):
        self.workers = workers
        self.root = procs.owned_tempdir("bisector-workers-")
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(workers):
            self._slots.put(slot)
        self._running: set[procs.Supervised] = set()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bisector-worker")
        self._env = worker_env(dict(os.environ), self.root, budget_env(workers))

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *,
            timeout_s: float | None = None) -> Iterator[Outcome]:
        futures: set[Future] = {self._pool.submit(self._attempts, fn, item, timeout_s) for item in items}
        try:
            while futures:
                done, futures = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except GeneratorExit:  # the caller stopped reading: items not started yet are dropped
            for future in futures:
                future.cancel()
            raise
        except BaseException:  # Ctrl-C or SIGTERM while waiting: stop everything now
            self.close()
            raise

    def close(self) -> None:
        """Cancel every item, stop every worker (and its candidates), remove the scratch folders."""
        self._cancelled.set()
        with self._lock:
            running = list(self._running)
        for worker in running:
            worker.stop(STOP_GRACE_S)
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "ProcessExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one item --------------------------------------------------------------------------
    def _attempts(self, fn: Callable[[Any], Any], item: Any, timeout_s: float | None) -> Outcome:
        reason = ""
        for attempt in range(1, RETRIES + 2):
            if self._cancelled.is_set():
                return Outcome(item, error="cancelled", attempts=attempt - 1)
            try:
                return Outcome(item, self._once(fn, item, timeout_s), attempts=attempt)
            except TaskCancelled:
                return Outcome(item, error="cancelled", attempts=attempt)
            except TaskFailed as exc:
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - e.g. an item that cannot be pickled
                reason = failure_text(exc)
        return Outcome(item, error=reason, attempts=RETRIES + 1)

    def _once(self, fn: Callable[[Any], Any], item: Any, timeout_s: float | None) -> Any:
        slot = self._slots.get()
        scratch = self.root / f"slot-{slot}"
        try:
            return run_isolated(fn, item, scratch=scratch, env=dict(self._env, TMPDIR=str(scratch)),
                                timeout_s=timeout_s, cancelled=self._cancelled.is_set,
                                on_start=self._track)
        finally:
            with self._lock:
                self._running = {p for p in self._running if p.poll() is None}
            self._slots.put(slot)

    def _track(self, worker: procs.Supervised) -> None:
        with self._lock:
            self._running.add(worker)
        if self._cancelled.is_set():  # close() ran while this worker was starting
            worker.stop(STOP_GRACE_S)
