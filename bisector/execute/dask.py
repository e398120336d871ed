"""Items on a Dask distributed cluster: an existing one (dask://host:port) or a LocalCluster.

Each item runs on a Dask worker as ``run_isolated`` (a fresh Python process, see
isolated.py), so the worker can stop it: Dask itself cannot stop a running task. The
scorer's files (the repository, the cache folder) must be reachable at the same paths
on every worker, as they are on one machine or on a shared file system. A task that
raises or times out is retried once by Dask (``retries=1``); a worker that dies takes its
task to another worker. On cancel the client sets a Dask Event that every running task
polls, so workers end their candidate processes before the client goes away.
dask and distributed (0.6 s) are imported on use: installing them is optional.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import ConfigError
from ..score import procs
from .base import RETRIES, Outcome, failure_text
from .isolated import TaskCancelled, run_isolated, worker_env
from .processes import budget_env

CONNECT_TIMEOUT_S = 30
# Beyond each item's own timeout: how long to wait for any result before declaring the
# cluster lost (a scheduler that went away, workers that never come).
SILENCE_MARGIN_S = 120.0
_CANCEL_POLL_S = 1.0


class DaskExecutor:
    name = "dask"

    def __init__(self, address: str | None, workers: int):
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("the dask executor needs dask and distributed",
                              hint="pip install 'bisector[dask]'") from None
        self.workers = workers
        self._cluster = None
        # Dask's own spill and lock files go where we remove them on close.
        self._scratch = procs.owned_tempdir("bisector-dask-local-") if address is None else None
        # One failure a worker's death causes is enough evidence: do not replay it further.
        settings = {"distributed.scheduler.allowed-failures": RETRIES}
        if self._scratch is not None:
            settings["temporary-directory"] = str(self._scratch)
        self._settings = dask.config.set(settings)  # undone on close
        try:
            if address is None:
                with _sigint_ignored():
                    self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                 dashboard_address=None, silence_logs=logging.ERROR,
                                                 env=budget_env(workers))
                self._client = Client(self._cluster)
            else:
                self._client = Client(address, timeout=CONNECT_TIMEOUT_S)
                self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))
        except OSError as exc:
            self.close()
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}",
                              hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`") from None
        except BaseException:
            self.close()
            raise
        self._cancel_name = f"bisector-cancel-{uuid.uuid4().hex}"
        self._futures: list = []

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *,
            timeout_s: float | None = None) -> Iterator[Outcome]:
        from distributed import wait

        futures = {self._client.submit(run_on_worker, fn, item, self._cancel_name, timeout_s,
                                       pure=False, retries=RETRIES): item for item in items}
        self._futures.extend(futures)
        silence = None if timeout_s is None else timeout_s * (RETRIES + 1) + SILENCE_MARGIN_S
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=silence, return_when="FIRST_COMPLETED")
                if not done:
                    yield from (Outcome(futures[f], error=f"no result from the cluster within {silence:g} s",
                                        attempts=0) for f in pending)
                    self._cancel(pending)
                    return
                for future in done:
                    yield _outcome(future, futures[future])
        except GeneratorExit:
            self._cancel(pending)
            raise
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Tell running tasks to stop their workers, then close the client (and our cluster)."""
        client, self._client = getattr(self, "_client", None), None
        if client is not None:
            try:
                self._stop_running(client)
            finally:
                client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        settings, self._settings = getattr(self, "_settings", None), None
        if settings is not None:
            settings.__exit__(None, None, None)

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _cancel(self, futures) -> None:
        if futures and self._client is not None:
            self._client.cancel(list(futures))

    def _stop_running(self, client) -> None:
        from distributed import Event, wait

        running = [f for f in self._futures if not f.done()]
        if not running:
            return
        Event(self._cancel_name, client=client).set()
        # Running tasks notice the event within a poll and stop their processes.
        wait(running, timeout=_CANCEL_POLL_S * 2 + 15)
        client.cancel(running)


@contextlib.contextmanager
def _sigint_ignored():
    """Workers started now inherit an ignored SIGINT: a terminal's Ctrl-C reaches the whole
    foreground group, and only this process should act on it (by cancelling the workers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _outcome(future, item: Any) -> Outcome:
    if future.status == "finished":
        return Outcome(item, future.result())
    if future.status == "cancelled":
        return Outcome(item, error="cancelled", attempts=0)
    try:
        future.result()
    except Exception as exc:  # noqa: BLE001 - the task's own error, after Dask's retry
        return Outcome(item, error=failure_text(exc), attempts=RETRIES + 1)
    return Outcome(item, error=f"task ended as {future.status}", attempts=RETRIES + 1)


def run_on_worker(fn: Callable[[Any], Any], item: Any, cancel_name: str, timeout_s: float | None) -> Any:
    """Runs on a Dask worker: ``fn(item)`` in a fresh process in a private scratch folder."""
    from distributed import Event

    cancel = Event(cancel_name)
    scratch = procs.owned_tempdir("bisector-dask-")
    try:
        return run_isolated(fn, item, scratch=scratch, env=worker_env(dict(os.environ), scratch),
                            timeout_s=timeout_s, cancelled=_poll_every(_CANCEL_POLL_S, cancel.is_set))
    except TaskCancelled:
        return None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _poll_every(interval_s: float, check: Callable[[], bool]) -> Callable[[], bool]:
    last = [0.0]
    state = [False]

    def poll() -> bool:
        now = time.monotonic()
        if not state[0] and now - last[0] >= interval_s:
            last[0] = now
            state[0] = bool(check())
        return state[0]
    return poll
