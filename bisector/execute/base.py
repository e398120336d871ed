"""What every executor promises: Outcome records and the Executor protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Outcome:
    """The result of one item: ``value`` when it succeeded, else ``error`` says why not."""

    item: Any
    value: Any = None
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


class Executor(Protocol):
    name: str
    workers: int

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *,
            timeout_s: float | None = None) -> Iterator[Outcome]:
        """Yield an Outcome per item as each completes (failures retried once)."""

    def close(self) -> None:
        """Stop every worker and remove every scratch folder; safe to call twice."""

    def __enter__(self) -> "Executor": ...

    def __exit__(self, *exc) -> None: ...


RETRIES = 1  # a failing item runs at most 1 + RETRIES times


def failure_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()
