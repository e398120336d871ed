"""What the user sees while a bisection runs in other processes (see events.py)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.markup import escape

from ..report.bundle import scenario_text
from .eta import HuntClock, duration


def steps_left(relevant_commits: int) -> int:
    """Steps a binary search needs over ``relevant_commits`` untested candidates."""
    return math.ceil(math.log2(relevant_commits + 1)) if relevant_commits > 0 else 0


class BisectDisplay:
    """One line per scored commit and a spinner naming what runs now."""

    def __init__(self, console: Console, relevant_commits: int, subjects: dict[str, str],
                 endpoints: list[dict] | None = None, config=None):
        self.console = console
        self.estimate = steps_left(relevant_commits)
        self.subjects = subjects
        self.step = 0
        self._status = None
        self._config = config
        self.clock = HuntClock(self.estimate, 2 if config is not None and config.paranoid else 1,
                               seed_seconds=[float(r.get("seconds") or 0) for r in endpoints or []])
        self._line = ""
        self._shown_second = -1
        self._entries: int | None = None
        self._hinted = False

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
            self.clock.start_step()
            self._entries = self._compile_entries()
            left = max(self.estimate - self.step + 1, 1)
            self._line = f"step {self.step} (about {left} left): scoring {sha} {subject[:50]}"
            self.tick()
        elif event.get("type") == "scored":
            added = self._compile_entries()
            self.clock.end_step(event["record"], None if added is None or self._entries is None
                                else added - self._entries)
            self.console.print(format_score_line(self.step, event["record"], subject))
            self._hint()

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
        self._status.update(f"{self._line} - {duration(elapsed)}{eta}")

    def _compile_entries(self) -> int | None:
        config = self._config
        if config is None or not config.compile_cache or config.eager:
            return None
        from ..score.compile_cache import entry_count

        return entry_count(config)

    def _hint(self) -> None:
        hint = None if self._hinted else self.clock.compile_hint()
        if hint:
            self._hinted = True
            self.console.print(f"[yellow]hint:[/yellow] {escape(hint)}")


def format_score_line(step: int | str, record: dict, subject: str = "") -> str:
    """A rich-markup line for one scored commit (texts from commits are escaped)."""
    parts = [scenario_text(sc) + (" cached" if sc.get("cached") else "") for sc in record.get("scenarios", [])]
    verdict = record.get("verdict", "?")
    colour = {"good": "green", "bad": "red", "skip": "yellow"}.get(verdict, "magenta")
    return (f"  {escape(f'[{step}]')} {record.get('commit', '')[:10]} [{colour}]{verdict:>5}[/{colour}]  "
            f"{escape('; '.join(parts))}  [dim]{escape(subject[:60])}[/dim]")

