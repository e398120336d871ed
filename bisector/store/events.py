"""Events from the scoring steps to the run that started them.

``git bisect run`` starts a fresh scorer process per step, so the scorers append their
events (one JSON object per line) to a file and the ``run`` process follows that file
to drive the display and, later, the report.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path


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
