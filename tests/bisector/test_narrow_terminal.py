"""Readable at 80 columns: `history` and the scan's progress lines under a real 80-column
pseudo-terminal, where nothing a person copies (a sha, a metric) may be cut."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bisector.store.ledger import Ledger
from portrepo import Change, make_port_repo
from terminal import run_in_terminal

BISECTOR = [sys.executable, "-m", "bisector"]
TIPS = ["8e41c0ffee1234567890abcdef12345678901234", "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
        "2b2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", "3c3c3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"]
CULPRIT = "77aa88bb99cc00dd11ee22ff33aa44bb55cc66dd"


def _ledger(path: Path) -> Path:
    """Four finished nights on two scenarios and one interrupted, written through the ledger."""
    metrics = [((0.999998, 1.0001, "good"), (0.999991, 0.9998, "good")),
               ((0.941524, 1.522331, "bad"), (0.999990, 1.0002, "good")),
               ((0.941524, 1.522331, "bad"), (0.999990, 1.0002, "good")),
               ((None, None, "skip"), (None, None, "skip"))]
    outcomes = [("good", "good", 0, None), ("bad", "pinned", 1, CULPRIT), ("bad", "known", 6, CULPRIT),
                ("skip", "untestable", 3, None)]
    with Ledger(path) as ledger:
        for tip, scenarios, (verdict, outcome, code, culprit) in zip(TIPS, metrics, outcomes):
            night = ledger.begin("release/2026-12", tip, "2026-12-01T03:17:00+00:00")
            ledger.record_tip(night, verdict, [dict(name=name, verdict=v, correlation=c, sum_ratio=s, reason=None)
                                               for name, (c, s, v) in zip(("benchmark", "oversample"), scenarios)])
            ledger.finish(night, outcome=outcome, exit_code=code, culprit=culprit)
        ledger.begin("release/2026-12", "4d" * 20, "2026-12-02T03:17:00+00:00")
    return path


def test_history_at_80_columns_cuts_no_sha_and_no_metric(tmp_path):
    code, lines = run_in_terminal([*BISECTOR, "history", "--ledger", str(_ledger(tmp_path / "l.sqlite3"))],
                                  columns=80, cwd=tmp_path)
    assert code == 0, lines
    assert max(len(line) for line in lines) <= 80, lines
    text = "\n".join(lines)
    assert "…" not in text
    for sha in TIPS + [CULPRIT, "4d" * 20]:
        assert sha[:10] in text
    assert "0.941524" in text and "1.5223" in text and "release/2026-12" in text
    assert "interrupted" in text and "untestable" in text and "known" in text


def test_history_in_a_wide_terminal_is_one_table(tmp_path):
    code, lines = run_in_terminal([*BISECTOR, "history", "--ledger", str(_ledger(tmp_path / "l.sqlite3"))],
                                  columns=200, cwd=tmp_path)
    assert code == 0
    (header,) = [line for line in lines if "night" in line and "culprit" in line]
    assert "benchmark corr / ratio" in header
    (row,) = [line for line in lines if TIPS[1][:10] in line]
    assert CULPRIT[:10] in row and "0.941524 / 1.5223 bad" in row


@pytest.mark.slow
def test_scan_progress_at_80_columns_shows_the_position_and_cuts_nothing(tmp_path, xdg_cache):
    history = [Change("docs"), Change("regress"), Change("docs"),
               Change("fix", message="Fix the fluence scale that the refactor of the beam module broke last week")]
    port = make_port_repo(tmp_path / "port", history=history)
    env = dict(os.environ, XDG_CACHE_HOME=str(xdg_cache))
    code, lines = run_in_terminal([*BISECTOR, "scan", "--good", port.base, "--report-dir", str(tmp_path / "r")],
                                  columns=80, cwd=port.path, env=env)
    assert code == 0, lines
    progress = [i for i, line in enumerate(lines) if line.startswith("  [state ")]
    assert len(progress) == 2, lines
    # the first commit is state 1 of 5 first-parent commits; the regression is the third commit
    assert lines[progress[0]].startswith("  [state 1/2 (commit 1 of 5)") and port.base[:10] in lines[progress[0]]
    assert lines[progress[1]].startswith(f"  [state 2/2 (commit 3 of 5)] {port.shas[1][:10]}")
    # a line that does not fit goes on on an indented continuation line
    shown = [lines[i] + " " + lines[i + 1] if lines[i + 1].startswith("      ") else lines[i] for i in progress]
    assert all(len(lines[j]) <= 80 for i in progress for j in (i, i + 1))
    assert "small 1.000000/1.5000 bad" in shown[1]
