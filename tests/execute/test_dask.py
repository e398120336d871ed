"""A real dask-local cluster keeps the executor contract (the ``dask`` extra)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("distributed")

import worktasks  # noqa: E402
from bisector.errors import ConfigError  # noqa: E402
from bisector.execute import open_executor  # noqa: E402

TESTS = str(Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def cluster():
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [TESTS, old]))
    try:
        with open_executor("dask-local", 2) as pool:
            yield pool
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = old


@pytest.mark.slow
def test_dask_local_returns_every_item_and_retries_failures(cluster, tmp_path):
    got = {o.item: o.value for o in cluster.map(worktasks.square, range(4), timeout_s=60)}
    assert got == {i: i * i for i in range(4)}
    flaky, = cluster.map(worktasks.fails_once, [str(tmp_path / "marker")], timeout_s=60)
    assert flaky.ok and flaky.value.startswith("ok after")
    broken, = cluster.map(worktasks.always_raises, ["x"], timeout_s=60)
    assert not broken.ok and "this item is broken" in broken.error


@pytest.mark.slow
def test_dask_local_stops_a_worker_past_its_deadline(cluster):
    outcome, = cluster.map(worktasks.sleeps, [300], timeout_s=1.5)
    assert not outcome.ok and "no result within 1.5 s" in outcome.error


def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    import bisector.execute.dask as dask_executor

    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT_S", 2)
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        open_executor("dask://127.0.0.1:9", 1)
