"""The console implementation of the hunt's presentation interface (bisector.hunt.handler).

Styling and the words around results live here, not in the drivers: one line per scored
commit, a spinner for what runs, the ending of each command. Commands print to stderr
so that stdout stays free for what a script reads (`score --json`).
"""

from __future__ import annotations

import shlex
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.text import Text

from .. import git
from ..hunt.bisect import BisectResult
from ..hunt.nightly import NightlyResult
from ..hunt.progress import BisectDisplay, activity
from ..hunt.scan import ScanResult
from ..narrow.narrowing import Narrowing
from ..report.text import score_line, shown
from ..report.timeline import print_timeline


class ConsoleHandler:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True, soft_wrap=True)

    def notice(self, text: str) -> None:
        self.console.print(Text("note:", style="yellow").append(f" {text}", style=""))

    def progress(self, text: str) -> None:
        self.console.print(text, markup=False)

    def busy(self, what: str):
        return activity(self.console, what)

    def endpoint_scored(self, label: str, record, subject: str) -> None:
        self.console.print(score_line(label, record, subject, self.console.width))

    def step_scored(self, label: str, record, subject: str, remaining: str = "") -> None:
        label = f"{label}, {remaining}" if remaining else label
        self.console.print(score_line(label, record, subject, self.console.width))

    def confirmed(self, label: str, record, subject: str) -> None:
        self.console.print(score_line(f"confirm {label}", record, subject, self.console.width))

    @contextmanager
    def bisect_display(self, relevant_commits, subjects, records, config):
        with BisectDisplay(self.console, relevant_commits, subjects, records, config) as display:
            yield display

    def finished(self, result: Any) -> None:
        if isinstance(result, BisectResult):
            if result.scan is None:  # a run that went on as a scan has printed its timeline
                self._run_ending(result)
        elif isinstance(result, ScanResult):
            print_timeline(self.console, result)
        elif isinstance(result, NightlyResult):
            self.console.print(result.conclusion, markup=False)
        elif isinstance(result, Narrowing):
            self._narrowing(result)

    def _narrowing(self, n: Narrowing) -> None:
        self.console.print(f"{len(n.hunks)} hunk(s); * the minimal set:", markup=False)
        for hunk in n.hunks:
            mark = "*" if hunk.index in n.minimal and n.search is not None else " "
            self.console.print(f" {mark} #{hunk.index + 1} {n.places[hunk.index]} (+{hunk.added} -{hunk.removed})",
                               markup=False)
        self.console.print(Text(n.conclusion, style="green" if n.isolated else "yellow"))
        self.console.print(f"narrowed in {n.seconds:.0f} s", markup=False)

    def _run_ending(self, result: BisectResult) -> None:
        console = self.console
        console.print()
        if result.culprit:
            ci = git.commit_info(result.repo, result.culprit)
            line = Text("culprit:", style="bold").append(f" {ci.sha} {shown(ci.subject)} (", style="")
            line.append(*(("confirmed", "green") if result.confirmed else ("not confirmed", "red")))
            console.print(line.append(")"))
        elif result.candidates:
            console.print(Text("candidates:", style="bold").append(
                " " + " ".join(c[:10] for c in result.candidates), style=""))
        console.print(result.conclusion, markup=False)
        if result.reproduce:
            # never wrapped: it is meant to be copied and pasted
            console.print(f"reproduce with: {shlex.join(result.reproduce)}", markup=False, soft_wrap=True)

    def report_written(self, path) -> None:
        self.console.print(f"report: {path}", markup=False, soft_wrap=True)
