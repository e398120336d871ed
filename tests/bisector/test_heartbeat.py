"""Outside a terminal (a CI log) a long step prints a heartbeat line at a steady interval."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest
from rich.console import Console

from bisector.hunt.progress import HEARTBEAT_S, activity
from portrepo import Change, make_port_repo


def test_a_log_gets_a_line_every_interval_while_the_block_runs_and_none_after():
    log = io.StringIO()
    console = Console(file=log, force_terminal=False, width=120)
    with activity(console, "scoring state 3/27: 1a2b3c4d5e", interval_s=0.1):
        time.sleep(0.55)
    lines = log.getvalue().splitlines()
    assert 4 <= len(lines) <= 6, lines
    assert all(line.startswith("  ... scoring state 3/27: 1a2b3c4d5e, ") and line.endswith(" so far") for line in lines)
    time.sleep(0.3)
    assert log.getvalue().splitlines() == lines  # the heartbeat ends with the block


def test_a_terminal_gets_a_spinner_not_heartbeat_lines():
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with activity(console, "scoring state 1/2", interval_s=0.05):
        time.sleep(0.3)
    assert "so far" not in screen.getvalue()


@pytest.mark.slow
@pytest.mark.waits
def test_a_scan_logged_to_a_pipe_shows_a_heartbeat_during_a_long_state(tmp_path, xdg_cache):
    # The hanging state runs until its timeout, just past one heartbeat interval.
    port = make_port_repo(tmp_path / "port", history=[Change("hang"), Change("unhang")], timeout=HEARTBEAT_S + 8)
    env = dict(os.environ, XDG_CACHE_HOME=str(xdg_cache))
    proc = subprocess.run([sys.executable, "-m", "bisector", "scan", "--good", port.base, "--report-dir",
                           str(tmp_path / "r")], cwd=port.path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 5, proc.stderr  # no scored state is bad
    beats = [line for line in proc.stderr.splitlines() if line.startswith("  ... scoring state 2/")]
    assert len(beats) >= 1 and port.shas[0][:10] in beats[0] and beats[0].endswith("so far"), proc.stderr
