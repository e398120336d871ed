"""Progress of a bisection that runs in other processes.

``git bisect run`` starts a fresh scorer process per step, so the scorers append their
events (one JSON object per line) to a file and the ``run`` process follows that file
to drive the display and, later, the report.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console


class EventLog:
    """An append-only JSON-lines file shared by the scorer processes and the run process."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._offset = 0

    def append(self, event: dict) -> None:
        # One write() per line on an O_APPEND descriptor: concurrent writers never interleave.
        line = (json.dumps(event, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def follow(self) -> Iterator[dict]:
        """Events written since the previous call; a half-written last line waits for the next."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.splitlines():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a corrupt line is not evidence; the scorer's exit code still counts

    def read_all(self) -> list[dict]:
        if not self.path.exists():
            return []
        return list(EventLog(self.path).follow())


def steps_left(relevant_commits: int) -> int:
    """Steps a binary search needs over ``relevant_commits`` untested candidates."""
    return math.ceil(math.log2(relevant_commits + 1)) if relevant_commits > 0 else 0


class BisectDisplay:
    """One line per scored commit and a spinner naming what runs now."""

    def __init__(self, console: Console, relevant_commits: int, subjects: dict[str, str]):
        self.console = console
        self.estimate = steps_left(relevant_commits)
        self.subjects = subjects
        self.step = 0
        self._status = None

    def __enter__(self) -> "BisectDisplay":
        self._status = self.console.status(f"bisecting: about {self.estimate} steps")
        self._status.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._status.__exit__(*exc)

    def show(self, event: dict) -> None:
        sha = event.get("commit", "")[:10]
        subject = self.subjects.get(event.get("commit", ""), "")
        if event.get("type") == "start":
            self.step += 1
            left = max(self.estimate - self.step + 1, 1)
            self._status.update(f"step {self.step} (about {left} left): scoring {sha} {subject[:50]}")
        elif event.get("type") == "scored":
            self.console.print(format_score_line(self.step, event["record"], subject))


def format_score_line(step: int | str, record: dict, subject: str = "") -> str:
    parts = []
    for sc in record.get("scenarios", []):
        corr, ratio = sc.get("correlation"), sc.get("sum_ratio")
        metric = (f"corr={corr:.6f} sum_ratio={ratio:.5f}" if corr is not None and ratio is not None
                  else sc.get("reason") or "")
        cached = " (cached)" if sc.get("cached") else ""
        parts.append(f"{sc.get('name')}: {metric}{cached}")
    verdict = record.get("verdict", "?")
    colour = {"good": "green", "bad": "red", "skip": "yellow"}.get(verdict, "magenta")
    return (f"  [{step}] {record.get('commit', '')[:10]} [{colour}]{verdict:>5}[/{colour}]  "
            f"{'; '.join(parts)}  [dim]{subject[:60]}[/dim]")
