"""The one event schema: what scoring reports while it works, and the file that carries it.

``git bisect run`` starts a fresh scorer process per step, so the scorers append their
events (one JSON object per line) to a file and the ``run`` process follows that file
to drive the display and, later, the report. Inside bisector an event is an ``Event``;
it is a dict only in that file.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..records import ScenarioResult, ScoreRecord


class EventType(enum.Enum):
    STEP_START = "start"                # a scoring step began on ``commit``
    SCENARIO_START = "scenario_start"   # ``scenario`` (a probe when ``probe_for`` is set) began
    SCENARIO_END = "scenario_end"       # ``result`` holds its ScenarioResult
    SCORED = "scored"                   # ``record`` holds the commit's ScoreRecord


@dataclass(frozen=True)
class Event:
    type: EventType
    commit: str
    scenario: str | None = None
    probe_for: str | None = None
    result: ScenarioResult | None = None
    record: ScoreRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type.value, "commit": self.commit}
        if self.scenario is not None:
            data["scenario"] = self.scenario
        if self.probe_for is not None:
            data["probe_for"] = self.probe_for
        if self.result is not None:
            data["result"] = self.result.to_dict()
        if self.record is not None:
            data["record"] = self.record.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "Event | None":
        """The event ``to_dict`` wrote; None for anything else (it is not evidence)."""
        try:
            return cls(type=EventType(data["type"]), commit=str(data["commit"]),
                       scenario=data.get("scenario"), probe_for=data.get("probe_for"),
                       result=ScenarioResult.from_dict(data["result"]) if data.get("result") else None,
                       record=ScoreRecord.from_dict(data["record"]) if data.get("record") else None)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


class EventLog:
    """An append-only JSON-lines file shared by the scorer processes and the run process."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._offset = 0

    def append(self, event: Event) -> None:
        # One write() per line on an O_APPEND descriptor: concurrent writers never interleave.
        line = (json.dumps(event.to_dict(), sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def follow(self) -> Iterator[Event]:
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
                event = Event.from_dict(json.loads(line))
            except json.JSONDecodeError:
                event = None  # a corrupt line is not evidence; the scorer's exit code still counts
            if event is not None:
                yield event

    def read_all(self) -> list[Event]:
        if not self.path.exists():
            return []
        return list(EventLog(self.path).follow())
