"""What the user sees while a bisection runs in other processes (see store/events.py), and
while anything long runs: a spinner on a terminal, a heartbeat line in a log.

A CI log shows no spinner, so a 40 s step would leave it silent; there a line saying what runs
and for how long is printed every HEARTBEAT_S seconds instead.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.text import Text

from ..report.text import score_line, shown
from ..score.compile_cache import entry_count
from ..store.events import Event, EventType
from .eta import HuntClock, duration


HEARTBEAT_S = 30.0


@contextmanager
def activity(console: Console, what: str, interval_s: float = HEARTBEAT_S) -> Iterator[None]:
    """``console.status(what)`` on a terminal; elsewhere a line every ``interval_s`` seconds
    ("... scoring state 3/27: 1a2b3c4d5e, 1m30s so far") while the block runs."""
    if console.is_terminal:
        with console.status(Text(what)):
            yield
        return
    stop = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not stop.wait(interval_s):
            console.print(Text(f"  ... {what}, {duration(time.monotonic() - started)} so far"))

    thread = threading.Thread(target=beat, name="bisector-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def steps_left(relevant_commits: int) -> int:
    """Steps a binary search needs over ``relevant_commits`` untested candidates."""
    return math.ceil(math.log2(relevant_commits + 1)) if relevant_commits > 0 else 0


class BisectDisplay:
    """One line per scored commit and a spinner naming what runs now."""

    def __init__(self, console: Console, relevant_commits: int, subjects: dict[str, str],
                 endpoints: list | None = None, config=None):
        self.console = console
        self.estimate = steps_left(relevant_commits)
        self.subjects = subjects
        self.step = 0
        self._status = None
        self._config = config
        self.clock = HuntClock(self.estimate, 2 if config is not None and config.paranoid else 1,
                               seed_seconds=[r.seconds for r in endpoints or []])
        self._line = ""
        self._shown_second = -1
        self._entries: int | None = None
        self._hinted = False
        self._last_beat = time.monotonic()

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
            self.clock.start_step()
            self._last_beat = time.monotonic()
            self._entries = self._compile_entries()
            self._show(self._scoring(event.commit, subject).plain)
        elif event.type is EventType.SCENARIO_START:
            what = f"probe {event.scenario} of {event.probe_for}" if event.probe_for else event.scenario
            self._show(self._scoring(event.commit, subject).append(f" ({what})").plain)
        elif event.type is EventType.SCORED and event.record is not None:
            added = self._compile_entries()
            fresh = any(not run.get("cached") for run in event.record.runs)
            self.clock.end_step(event.record.seconds, fresh,
                                None if added is None or self._entries is None else added - self._entries)
            self.console.print(score_line(self.step, event.record, subject, self.console.width))
            self._hint()

    def _show(self, line: str) -> None:
        self._line, self._shown_second = line, -1
        self.tick()

    def tick(self) -> None:
        """Refresh the running candidate's elapsed seconds and the hunt's time left."""
        if not self._line or self._status is None:
            return
        elapsed = self.clock.elapsed()
        if int(elapsed) == self._shown_second:
            return
        self._shown_second = int(elapsed)
        remaining = self.clock.remaining()
        eta = f", hunt done in about {duration(remaining)}" if remaining is not None else ""
        # A Text, not a markup string: the subject is shown as written.
        line = Text(f"{self._line} - {duration(elapsed)}{eta}")
        if self.console.is_terminal:
            self._status.update(line)
        elif time.monotonic() - self._last_beat >= HEARTBEAT_S:  # a log has no spinner
            self._last_beat = time.monotonic()
            self.console.print(Text("  ... ").append(line))

    def _compile_entries(self) -> int | None:
        config = self._config
        if config is None or not config.compile_cache or config.eager:
            return None
        return entry_count(config)

    def _hint(self) -> None:
        hint = None if self._hinted else self.clock.compile_hint()
        if hint:
            self._hinted = True
            self.console.print(Text("hint:", style="yellow").append(f" {hint}", style=""))

    def _scoring(self, commit: str, subject: str) -> Text:
        # A Text, not a markup string: the subject is shown as written.
        left = max(self.estimate - self.step + 1, 1)
        return Text(f"step {self.step} (about {left} left): scoring {commit[:10]} {shown(subject)[:50]}")
