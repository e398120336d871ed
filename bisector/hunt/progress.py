"""What the user sees while a bisection runs in other processes (see store/events.py)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.text import Text

from ..report.text import score_line, shown
from ..store.events import Event, EventType


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

    def show(self, event: Event) -> None:
        subject = self.subjects.get(event.commit, "")
        if event.type is EventType.STEP_START:
            self.step += 1
            self._status.update(self._scoring(event.commit, subject))
        elif event.type is EventType.SCENARIO_START:
            what = f"probe {event.scenario} of {event.probe_for}" if event.probe_for else event.scenario
            self._status.update(self._scoring(event.commit, subject).append(f" ({what})"))
        elif event.type is EventType.SCORED and event.record is not None:
            self.console.print(score_line(self.step, event.record, subject))

    def _scoring(self, commit: str, subject: str) -> Text:
        # A Text, not a markup string: the subject is shown as written.
        left = max(self.estimate - self.step + 1, 1)
        return Text(f"step {self.step} (about {left} left): scoring {commit[:10]} {shown(subject)[:50]}")
