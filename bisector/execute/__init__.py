"""Executors: run one function over many items, here or elsewhere, results as they complete.

``open_executor(spec, jobs)`` returns one of:

- ``local``: one item at a time, in this process (the default for one job);
- ``processes``: ``jobs`` local worker processes at once, each with its own scratch
  folder (its TMPDIR) and a share of the cores as its thread budget;
- ``dask://host:port`` or ``dask-local``: a Dask distributed cluster (the ``dask``
  extra), an existing one or a LocalCluster of ``jobs`` workers started here.

Every executor offers the same contract, which ``bisector run --jobs`` and ``scan`` use::

    with open_executor("processes", jobs=4) as pool:
        for outcome in pool.map(score_task, tasks, timeout_s=600):
            outcome.item, outcome.value, outcome.error

``map`` yields one :class:`Outcome` per item in completion order. A task that raises,
whose worker dies or that runs past ``timeout_s`` is retried once in a fresh worker;
if that fails too the outcome carries ``error`` (the reason) instead of a value. Leaving
the ``with`` block, normally or by Ctrl-C/SIGTERM, stops every worker and the
processes they started and removes every scratch folder. ``fn`` must be a module-level
function and items and values picklable: out-of-process workers import ``fn`` by name.
Each executor's module is imported on use (distributed alone costs 0.6 s).
"""

from __future__ import annotations

from ..errors import ConfigError
from .base import Executor, Outcome
from .local import LocalExecutor

__all__ = ["Executor", "Outcome", "LocalExecutor", "open_executor", "describe_spec"]

DASK_LOCAL = "dask-local"
DASK_PREFIX = "dask://"


def open_executor(spec: str | None = None, jobs: int = 1) -> Executor:
    """The executor named by ``spec`` with ``jobs`` workers.

    No ``spec``: ``local`` for one job, ``processes`` for more. Raises ConfigError for an
    unknown spec, a jobs count below one, or a dask spec without dask installed.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, not {jobs}", hint="pass --jobs 1 for one at a time")
    spec = spec or ("local" if jobs == 1 else "processes")
    if spec == "local":
        return LocalExecutor()
    if spec == "processes":
        from .processes import ProcessExecutor

        return ProcessExecutor(jobs)
    if spec == DASK_LOCAL or spec.startswith(DASK_PREFIX):
        from .dask import DaskExecutor

        return DaskExecutor(None if spec == DASK_LOCAL else spec[len(DASK_PREFIX):], jobs)
    raise ConfigError(f"unknown executor {spec!r}",
                      hint="use local, processes, dask-local or dask://HOST:PORT")


def describe_spec(spec: str | None, jobs: int) -> str:
    return spec or ("local" if jobs == 1 else "processes")
