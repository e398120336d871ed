"""What a hunt tells the person (or program) watching it: the presentation interface.

The drivers (hunt/bisect.py, hunt/scan.py, hunt/nightly.py) report every fact through a
:class:`HuntHandler` and print nothing themselves; the console implementation lives with
the command line (bisector/cli/console.py). A library caller gets :class:`SilentHandler`
unless it passes its own, so a library call writes nothing to the terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager, Protocol

if TYPE_CHECKING:
    from ..config import Config
    from ..records import ScoreRecord
    from ..store.events import Event


class StepDisplay(Protocol):
    """Live view of a `git bisect run` whose steps score in other processes."""

    def show(self, event: Event) -> None: ...

    def tick(self) -> None: ...


class HuntHandler(Protocol):
    def notice(self, text: str) -> None:
        """A note to read (configuration, cache, a fallback taken)."""

    def progress(self, text: str) -> None:
        """A plain fact of the hunt's progress (the range, a round, a skipped confirmation)."""

    def busy(self, what: str) -> ContextManager[Any]:
        """Something slow runs now (a spinner on a terminal)."""

    def endpoint_scored(self, label: str, record: ScoreRecord, subject: str) -> None: ...

    def step_scored(self, label: str, record: ScoreRecord, subject: str, remaining: str = "") -> None:
        """One commit or state scored during the search; ``remaining``: what is left, in words."""

    def confirmed(self, label: str, record: ScoreRecord, subject: str) -> None:
        """A fresh full-size re-run of one side of a culprit, break or fix."""

    def bisect_display(self, relevant_commits: int, subjects: dict[str, str], records: list[ScoreRecord],
                       config: Config) -> ContextManager[StepDisplay]: ...

    def finished(self, result: Any) -> None:
        """The result of the hunt (BisectResult, ScanResult or NightlyResult), said before
        anything optional is written."""

    def report_written(self, path: Path) -> None:
        """Where the report bundle of a run went."""


class _NoDisplay:
    def show(self, event: Event) -> None:
        pass

    def tick(self) -> None:
        pass


class SilentHandler:
    """Says nothing: the default of a library call."""

    def notice(self, text: str) -> None:
        pass

    def progress(self, text: str) -> None:
        pass

    @contextmanager
    def busy(self, what: str) -> Iterator[None]:
        yield

    def endpoint_scored(self, label: str, record: ScoreRecord, subject: str) -> None:
        pass

    def step_scored(self, label: str, record: ScoreRecord, subject: str, remaining: str = "") -> None:
        pass

    def confirmed(self, label: str, record: ScoreRecord, subject: str) -> None:
        pass

    @contextmanager
    def bisect_display(self, relevant_commits, subjects, records, config) -> Iterator[StepDisplay]:
        yield _NoDisplay()

    def finished(self, result: Any) -> None:
        pass

    def report_written(self, path: Path) -> None:
        pass
