"""Scoring through an executor: a worker killed outright twice makes its commit a SKIP with the
reason, and leaves no candidate behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from bisector.config import ConfigOverrides, load_config
from bisector.execute import open_executor
from bisector.execute.task import score_many
from bisector.score.verdict import Verdict
from portrepo import Change, make_port_repo


def _pids(marker: bytes, also: bytes) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes() and also in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_a_worker_killed_twice_makes_a_skip_with_the_reason(tmp_path, monkeypatch):
    port = make_port_repo(tmp_path / "port", history=[Change("refactor"), Change("hang")], timeout=60)
    config = load_config(port.path, None, ConfigOverrides(cache_dir=str(tmp_path / "cache")))
    marker = f"BISECTOR_TEST_RUN={tmp_path}".encode()
    monkeypatch.setenv("BISECTOR_TEST_RUN", str(tmp_path))
    killed = []

    def kill_workers_in_their_candidates():
        deadline = time.time() + 120
        while time.time() < deadline and len(killed) < 2:
            candidates = _pids(marker, b"-m\0nbport")
            if candidates:  # the hanging candidate runs: its worker dies now
                stat = Path(f"/proc/{candidates[0]}/stat").read_text()
                worker = int(stat.rsplit(")", 1)[1].split()[1])
                os.kill(worker, signal.SIGKILL)
                killed.append(worker)
                while _pids(marker, b"-m\0nbport"):
                    time.sleep(0.1)
            time.sleep(0.1)

    killer = threading.Thread(target=kill_workers_in_their_candidates)
    killer.start()
    with open_executor("processes", 2) as pool:
        hung, = score_many(pool, config, [port.shas[1]])
    killer.join()
    assert hung.verdict is Verdict.SKIP and len(set(killed)) == 2
    assert "killed by signal 9" in hung.error and "killed by signal 9" in hung.scenarios[0].reason
    assert _pids(marker, b"") == []  # the orphaned candidates were reaped too
