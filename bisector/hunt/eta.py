"""Time for the progress display: how long the running candidate has taken, when the hunt
should end, and whether candidate runs mostly compile.

Estimates come only from this hunt's own runs: the mean time of a scoring so far (the
endpoints until the first step ends) times the steps still expected, plus the fresh
confirmation runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# Suggest --eager when compiling took more than this share of the candidates' time.
COMPILE_SHARE_HINT = 0.5


@dataclass
class HuntClock:
    steps_expected: int
    confirm_runs: int  # fresh full runs expected after the bisection
    seed_seconds: list[float] = field(default_factory=list)  # endpoint scorings
    step_seconds: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)  # fresh steps that added compile-cache entries
    warm: list[float] = field(default_factory=list)  # fresh steps that compiled nothing new
    steps_started: int = 0
    started_at: float | None = None

    def start_step(self, now: float | None = None) -> None:
        self.steps_started += 1
        self.started_at = time.monotonic() if now is None else now

    def end_step(self, seconds: float, fresh: bool, compile_entries_added: int | None) -> None:
        """A step's scoring ended after ``seconds``; ``fresh``: it ran a candidate."""
        self.step_seconds.append(seconds)
        self.started_at = None
        if fresh and compile_entries_added is not None:
            (self.cold if compile_entries_added > 0 else self.warm).append(seconds)

    def elapsed(self, now: float | None = None) -> float:
        if self.started_at is None:
            return 0.0
        return (time.monotonic() if now is None else now) - self.started_at

    def mean_scoring(self) -> float | None:
        seen = self.step_seconds or self.seed_seconds
        return sum(seen) / len(seen) if seen else None

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds the hunt still needs, or None before any scoring has ended."""
        mean = self.mean_scoring()
        if mean is None:
            return None
        full = sum(self.seed_seconds) / len(self.seed_seconds) if self.seed_seconds else mean
        left = max(self.steps_expected - self.steps_started, 0)
        current = max(mean - self.elapsed(now), 0.0) if self.started_at is not None else 0.0
        return current + left * mean + self.confirm_runs * full

    def compile_hint(self) -> str | None:
        """A suggestion to try --eager when candidate runs mostly compile, else None."""
        share = self.compile_share()
        if share is not None and share > COMPILE_SHARE_HINT:
            return (f"candidate runs spent about {share:.0%} of their time compiling (torch.compile): "
                    "--eager would skip it, at the price of not testing the compiled code")
        if share is None and len(self.cold) >= 3 and not self.warm:
            return (f"each of the last {len(self.cold)} candidate runs compiled anew (torch.compile): "
                    "--eager would skip it, at the price of not testing the compiled code")
        return None

    def compile_share(self) -> float | None:
        """Share of fresh step time spent compiling, judged by cold against warm runs."""
        if not self.cold or not self.warm:
            return None
        warm = sum(self.warm) / len(self.warm)
        compiling = sum(max(c - warm, 0.0) for c in self.cold)
        return compiling / (sum(self.cold) + sum(self.warm))


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
