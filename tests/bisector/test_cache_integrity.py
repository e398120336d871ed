"""The score cache stays a valid SQLite database through real hunts, parallel and concurrent.

A hunt opens the cache from several processes at once (the run, each `git bisect run` step,
the workers of --jobs); each keeps its connections open while the others come and go.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bisector.api import run_bisect
from bisector.config import ConfigOverrides
from bisector.store.cache import DB_NAME, Cache
from portrepo import Change, make_port_repo
from repostate import snapshot
from together import run_together

HISTORY = [Change("docs"), Change("refactor"), Change("refactor"), Change("regress"),
           Change("refactor"), Change("docs"), Change("refactor")]


def _integrity(cache_dir: Path) -> str:
    conn = sqlite3.connect(cache_dir / DB_NAME)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def _searched(result) -> list:
    """Scorings the search made (endpoints and steps); confirmations always run fresh."""
    return [r for r in result.records if r.phase is not None and r.phase.value in ("endpoint", "bisect")]


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    return make_port_repo(tmp_path_factory.mktemp("port") / "nbport", history=HISTORY)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_hunt_leaves_the_cache_intact_and_a_second_hunt_scores_nothing_anew(port, tmp_path, jobs, bisector_cache):
    cache = bisector_cache  # reference images only: every score is new to the first hunt
    overrides = ConfigOverrides(cache_dir=str(cache))
    first = run_bisect(port.path, port.base, overrides=overrides, report_root=tmp_path / "r1", jobs=jobs)
    assert first.culprit == port.culprit
    assert _integrity(cache) == "ok"
    assert not list(cache.glob(f"{DB_NAME}.corrupt-*"))

    second = run_bisect(port.path, port.base, overrides=overrides, report_root=tmp_path / "r2", jobs=jobs)
    assert second.culprit == port.culprit
    searched = _searched(second)
    assert searched and all(sc.cached for r in searched for sc in r.scenarios), \
        [(r.commit[:8], r.phase, [sc.cached for sc in r.scenarios]) for r in searched]
    assert _integrity(cache) == "ok"


def test_two_hunts_at_once_on_one_repository_share_one_intact_cache_and_touch_nothing(port, tmp_path, xdg_cache):
    # Real processes: the point is two hunts sharing one repository, one cache database and
    # the machine at the same time. One is started in the checkout, the other names it.
    before = snapshot(port.path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["XDG_CACHE_HOME"] = str(xdg_cache)  # reference images only: both hunts score every state
    starts = [([], port.path), (["--repo", str(port.path)], tmp_path)]
    hunts = [subprocess.Popen([sys.executable, "-m", "bisector", "run", "--good", port.base, *repo,
                               "--report-dir", str(tmp_path / f"r{i}")], env=env, cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i, (repo, cwd) in enumerate(starts)]
    outputs = [h.communicate(timeout=600)[0] for h in hunts]
    assert [h.returncode for h in hunts] == [0, 0], outputs
    assert all(f"culprit: {port.culprit}" in " ".join(out.split()) for out in outputs), outputs
    assert snapshot(port.path) == before
    cache = xdg_cache / "bisector"
    assert _integrity(cache) == "ok"
    assert not list(cache.glob(f"{DB_NAME}.corrupt-*"))


def test_a_cache_made_by_a_newer_bisector_is_neither_read_nor_written(tmp_path):
    cache_dir = tmp_path / "cache"
    Cache(cache_dir).close()
    conn = sqlite3.connect(cache_dir / DB_NAME)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = (cache_dir / DB_NAME).read_bytes()

    cache = Cache(cache_dir)
    cache.put_score({"k": 1}, {"status": "skip", "reason": "x", "seconds": 0})
    assert cache.get_score({"k": 1}) is None
    cache.close()
    assert "newer" in cache.notice and "schema version 99" in cache.notice
    assert (cache_dir / DB_NAME).read_bytes() == before


_CACHE_WRITER = """
from pathlib import Path
from bisector.store.cache import Cache
folder, name = Path(sys.argv[1]), sys.argv[2]
for k in rounds(int(sys.argv[3]), 0.05):
    cache = Cache(folder / f"cache{k}")
    cache.put_score({"writer": name}, {"status": "good", "seconds": 0})
    assert cache.get_score({"writer": name}) is not None and cache.notice is None, cache.notice
    cache.close()
"""


def test_four_processes_making_new_caches_at_once_all_store_their_scores(tmp_path):
    """Four processes open each of 50 new caches at the same moment: none may give up storing.

    Before the fix, a process could be told "database is locked" by the concurrent switch
    to WAL, and went on without storing anything (in 2 of 3 runs of 30 caches).
    """
    caches = 50
    finished = run_together(_CACHE_WRITER, [[str(tmp_path), f"writer{i}", str(caches)] for i in range(4)])
    assert [code for code, _ in finished] == [0] * 4, finished
    for k in range(caches):
        assert _integrity(tmp_path / f"cache{k}") == "ok"
        cache = Cache(tmp_path / f"cache{k}")
        assert all(cache.get_score({"writer": f"writer{i}"}) for i in range(4))
        cache.close()
