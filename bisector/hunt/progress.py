"""What the user sees while a bisection runs in other processes (see events.py)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.markup import escape

from ..report.bundle import scenario_text


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
    """A rich-markup line for one scored commit (texts from commits are escaped)."""
    parts = [scenario_text(sc) + (" cached" if sc.get("cached") else "") for sc in record.get("scenarios", [])]
    verdict = record.get("verdict", "?")
    colour = {"good": "green", "bad": "red", "skip": "yellow"}.get(verdict, "magenta")
    return (f"  {escape(f'[{step}]')} {record.get('commit', '')[:10]} [{colour}]{verdict:>5}[/{colour}]  "
            f"{escape('; '.join(parts))}  [dim]{escape(subject[:60])}[/dim]")

