"""Reading the outcome of a bisection from ``git bisect log`` (a pure function).

The log, not the chatter of ``git bisect run``, is the record: it lists every verdict
git received and ends with the first bad commit, or with the candidates left when
skipped commits border it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_VERDICT = re.compile(r"^# (good|bad|skip): \[([0-9a-f]{7,64})\]")
_FIRST_BAD = re.compile(r"^# first bad commit: \[([0-9a-f]{7,64})\]")
_POSSIBLE = re.compile(r"^# possible first bad commit: \[([0-9a-f]{7,64})\]")


@dataclass
class BisectOutcome:
    """What git concluded. ``culprit`` is set only when git named a single first bad commit."""

    culprit: str | None = None
    candidates: list[str] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)  # sha -> good | bad | skip, in log order

    @property
    def finished(self) -> bool:
        return self.culprit is not None or bool(self.candidates)


def parse_bisect_log(text: str) -> BisectOutcome:
    outcome = BisectOutcome()
    for line in text.splitlines():
        if m := _VERDICT.match(line):
            outcome.verdicts[m.group(2)] = m.group(1)
        elif m := _FIRST_BAD.match(line):
            outcome.culprit = m.group(1)
        elif m := _POSSIBLE.match(line):
            outcome.candidates.append(m.group(1))
    if outcome.culprit:
        outcome.candidates = [outcome.culprit]
    return outcome
