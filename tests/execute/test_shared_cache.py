"""The score cache shared by concurrent workers: every write lands, nothing is set aside as damaged."""

from __future__ import annotations

import os
from pathlib import Path

import worktasks
from bisector.execute import open_executor
from bisector.store.cache import DB_NAME, Cache

TESTS = str(Path(__file__).resolve().parents[1])


def test_workers_opening_and_writing_one_fresh_cache_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")])))
    directory = tmp_path / "cache"
    jobs = [(str(directory), i) for i in range(8)]
    with open_executor("processes", 4) as pool:
        outcomes = list(pool.map(worktasks.cache_round_trip, jobs, timeout_s=120))
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert all(o.value["score"] == {"status": "measured", "i": o.item[1]} for o in outcomes)
    assert {o.value["reference_sum"] for o in outcomes} == {float(sum(range(64)))}
    assert [p.name for p in directory.iterdir() if p.name.startswith(f"{DB_NAME}.corrupt")] == []
    cache = Cache(directory)
    assert all(cache.get_score({"item": i}) for i in range(8))
    assert len(list((directory / "images").glob("*.npy"))) == 1  # same content, one file
