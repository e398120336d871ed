"""Every executor keeps the same contract: all items, failures retried once, nothing left behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

import worktasks
from bisector.errors import ConfigError
from bisector.execute import LocalExecutor, open_executor
from bisector.execute.processes import ProcessExecutor, thread_budget

TESTS = str(Path(__file__).resolve().parents[1])


@pytest.fixture(autouse=True)
def tasks_importable(monkeypatch):
    """Workers in other processes import the task functions from tests/worktasks.py."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")])))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state != "Z"


def test_specs_and_mistakes():
    assert isinstance(open_executor(None, 1), LocalExecutor)
    with open_executor(None, 2) as pool:
        assert isinstance(pool, ProcessExecutor) and pool.workers == 2
    with pytest.raises(ConfigError, match="unknown executor 'threads'"):
        open_executor("threads", 2)
    with pytest.raises(ConfigError, match="at least 1"):
        open_executor("processes", 0)


def test_thread_budget_shares_the_cores():
    assert thread_budget(4, cores=16) == 4
    assert thread_budget(3, cores=2) == 1


@pytest.mark.parametrize("spec", ["local", "processes"])
def test_every_item_comes_back_with_its_value(spec):
    with open_executor(spec, 2) as pool:
        got = {o.item: o.value for o in pool.map(worktasks.square, range(5), timeout_s=60)}
    assert got == {i: i * i for i in range(5)}


@pytest.mark.parametrize("spec", ["local", "processes"])
def test_a_raising_item_is_retried_once_then_reported(spec, tmp_path):
    with open_executor(spec, 2) as pool:
        flaky, = pool.map(worktasks.fails_once, [str(tmp_path / "marker")], timeout_s=60)
        broken, = pool.map(worktasks.always_raises, ["x"], timeout_s=60)
    assert flaky.ok and flaky.attempts == 2 and flaky.value.startswith("ok after")
    assert not broken.ok and broken.attempts == 2 and "this item is broken" in broken.error


def test_workers_get_their_own_scratch_and_a_share_of_the_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with open_executor("processes", 2) as pool:
        seen = [o.value for o in pool.map(worktasks.environment, range(4), timeout_s=60)]
        root = pool.root
    assert {s["OMP_NUM_THREADS"] for s in seen} == {str(thread_budget(2))}
    assert {Path(s["TMPDIR"]).parent for s in seen} == {root}
    assert not root.exists()  # scratch folders are removed on close


def test_a_dying_worker_is_retried_in_a_fresh_process_then_reported(tmp_path):
    marker = tmp_path / "pids"
    with open_executor("processes", 2) as pool:
        outcome, = pool.map(worktasks.dies, [str(marker)], timeout_s=60)
    assert not outcome.ok and "killed by signal 9" in outcome.error
    pids = marker.read_text().split()
    assert len(pids) == 2 and pids[0] != pids[1]


def test_a_worker_past_its_deadline_is_stopped_not_waited_for():
    start = time.monotonic()
    with open_executor("processes", 2) as pool:
        outcome, = pool.map(worktasks.sleeps, [300], timeout_s=1.5)
    assert not outcome.ok and "no result within 1.5 s" in outcome.error
    assert time.monotonic() - start < 60


def test_interrupt_stops_every_worker_and_its_candidates(tmp_path):
    pidfiles = [tmp_path / f"hang{i}.pid" for i in range(2)]
    pool = ProcessExecutor(2)
    results = pool.map(worktasks.hangs_with_child, [str(p) for p in pidfiles], timeout_s=600)
    # Ctrl-C arrives in the main thread while it waits for results.
    timer = threading.Timer(0.1, _interrupt_when_started, (pidfiles,))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        list(results)
    timer.join()
    pids = [int(p.read_text()) for p in pidfiles]
    assert not any(_alive(pid) for pid in pids)
    assert not pool.root.exists()


def _interrupt_when_started(pidfiles):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(p.exists() and p.read_text().strip() for p in pidfiles):
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGINT)
