"""One item at a time, in this process: today's behaviour and the default for one job."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .base import RETRIES, Outcome, failure_text


class LocalExecutor:
    """Runs ``fn`` here; ``timeout_s`` is not enforced (the scorer times its candidates out)."""

    name = "local"
    workers = 1

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *,
            timeout_s: float | None = None) -> Iterator[Outcome]:
        for item in items:
            yield _attempts(fn, item)

    def close(self) -> None:
        pass

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _attempts(fn: Callable[[Any], Any], item: Any) -> Outcome:
    reason = ""
    for attempt in range(1, RETRIES + 2):
        try:
            return Outcome(item, fn(item), attempts=attempt)
        except Exception as exc:  # noqa: BLE001 - a failing item must not end the others
            reason = failure_text(exc)
    return Outcome(item, error=reason, attempts=RETRIES + 1)
