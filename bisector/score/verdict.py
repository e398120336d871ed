"""The verdicts of a scored commit and the exit codes git bisect expects for them.

git's numbers (0 good, 1 bad, 125 skip, 128 or more aborts the whole bisection) are
bisector.errors.ScoreExit's, like every other exit code.
"""

from __future__ import annotations

import enum

from ..errors import ScoreExit


class Verdict(enum.Enum):
    GOOD = "good"
    BAD = "bad"
    SKIP = "skip"
    ABORT = "abort"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self]

    @classmethod
    def worst(cls, verdicts: "list[Verdict]") -> "Verdict":
        """Combine per-scenario verdicts: an abort wins, then evidence of badness, then skip.

        A bad scenario outranks a skipped one because a missed threshold is evidence
        about the commit, while a skip only says one measurement could not be made.
        """
        if not verdicts:
            raise ValueError("no verdicts to combine")
        return max(verdicts, key=_SEVERITY.__getitem__)


_EXIT_CODES = {Verdict.GOOD: ScoreExit.GOOD, Verdict.BAD: ScoreExit.BAD, Verdict.SKIP: ScoreExit.SKIP,
               Verdict.ABORT: ScoreExit.ABORT}
_SEVERITY = {Verdict.GOOD: 0, Verdict.SKIP: 1, Verdict.BAD: 2, Verdict.ABORT: 3}
