"""Whether a bad night is a regression the ledger already pinned, or something new on top of one.

A scheduler opens an issue on a new regression; it must not open one every night while the
same regression stays unfixed. The rule (docs/nightly.md):

- The *streak* is the run of earlier nights of the branch, newest first, back to the last good
  night. Interrupted, untestable and failed nights say nothing about the port and are passed
  over. A streak whose nights pinned a culprit that is still in the tip's history is a *known
  regression*; the newest night of the streak that reached a verdict on it (pinned, known, or a
  new regression on top) is the *known-bad state*.
- Tonight is *known* (nothing new) when every scenario bad tonight was bad in that state and
  none is markedly worse: its correlation fell by no more than ``1 - min_correlation`` and its
  ``|sum_ratio - 1|`` grew by no more than ``max_sum_ratio_error`` (the thresholds themselves:
  a change the judge would call a regression from a perfect state).
- A scenario bad tonight but good (or not judged) in the known-bad state is a *new* regression:
  it is hunted on that scenario alone, from the newest earlier night where it was good.
- A scenario bad in both but markedly worse tonight is new too, but a threshold judge cannot
  bisect it (both sides fail the thresholds): it is reported as found, not pinned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .. import git
from ..config import ConfigOverrides, Thresholds
from ..errors import NightlyExit
from ..score.scoring import ScenarioResult
from ..score.verdict import Verdict
from ..store.ledger import Ledger, Night

# Outcomes of nights that reached a verdict about a bad tip's regression.
PINNED, KNOWN, NOT_PINNED = "pinned", "known", "not_pinned"
_ACCOUNTED = (PINNED, KNOWN, NOT_PINNED)
_SAYS_NOTHING = ("untestable", "error")


@dataclass(frozen=True)
class KnownRegression:
    culprits: tuple[tuple[int, str], ...]   # (night it was first reported on, culprit), oldest first
    state: Night                            # the known-bad state tonight is compared with
    newly_bad: tuple[str, ...]              # bad tonight, not bad in the known-bad state
    worse: tuple[str, ...]                  # bad in both, markedly worse tonight
    hunt_from: str | None = None            # where the newly bad scenarios were last good

    @property
    def nothing_new(self) -> bool:
        return not self.newly_bad and not self.worse

    @property
    def culprit(self) -> str:
        return self.culprits[-1][1]

    def verdict(self, tip: str) -> tuple[int, str]:
        """Exit code and conclusion of a night with no new bad scenario (nothing to hunt)."""
        if self.nothing_new:
            return NightlyExit.KNOWN, f"{tip[:10]} is bad from a known regression: {self.describe()}."
        moved = ", ".join(self.worse)
        return NightlyExit.NOT_PINNED, (
            f"{tip[:10]} is markedly worse than night {self.state.id} on {moved}, on top of a known regression "
            f"({self.describe()}): a new regression that a threshold judge cannot bisect, since both sides "
            f"fail the thresholds; compare night {self.state.id}'s tip {self.state.tip[:10]} with this one "
            "(`bisector compare`), or hunt it once the known regression is fixed.")

    def narrowed(self, overrides: ConfigOverrides | None) -> ConfigOverrides:
        """The hunt of a new regression on top of this one judges only the newly bad scenarios."""
        return replace(overrides or ConfigOverrides(), scenarios=list(self.newly_bad))

    def describe(self) -> str:
        """``still bad since night 3, culprit 1a2b3c4d5e`` (every culprit of the streak)."""
        return "; ".join(f"still bad since night {night}, culprit {sha[:10]}" for night, sha in self.culprits)


def recall(ledger: Ledger, night: int, branch: str, repo: Path, tip: str, tonight: list[ScenarioResult],
           thresholds: Thresholds) -> KnownRegression | None:
    """:func:`known_regression` for tonight's night of ``branch`` in ``ledger``, with where to
    hunt a new regression on top of it."""
    earlier = [n for n in ledger.nights(branch) if n.id < night]

    def in_history(sha: str) -> bool:
        return git.is_ancestor(repo, sha, tip)

    known = known_regression(earlier, tonight, min_correlation=thresholds.min_correlation,
                             max_sum_ratio_error=thresholds.max_sum_ratio_error, in_history=in_history)
    if known is None or not known.newly_bad:
        return known
    start = last_good_for(earlier, known.newly_bad, lambda sha: sha != tip and in_history(sha))
    return replace(known, hunt_from=start)


def known_regression(earlier: list[Night], tonight: list[ScenarioResult], *, min_correlation: float,
                     max_sum_ratio_error: float, in_history: Callable[[str], bool]) -> KnownRegression | None:
    """The known regression tonight's bad tip belongs to, or None when the streak pinned nothing.

    ``earlier``: the branch's nights before tonight, oldest first. ``in_history(sha)``: whether
    a culprit is an ancestor of tonight's tip (a rewritten history forgets its culprits).
    """
    streak = _streak(earlier)
    first_seen: dict[str, int] = {}
    for night in reversed(streak):  # oldest first: the night each culprit was first reported on
        if night.culprit and night.outcome in (PINNED, KNOWN):
            first_seen.setdefault(night.culprit, night.id)
    culprits = tuple((night, sha) for sha, night in first_seen.items() if in_history(sha))
    state = next((n for n in streak if n.outcome in _ACCOUNTED), None)
    if not culprits or state is None:
        return None
    before = {r.scenario: r for r in state.results}
    bad = [sc for sc in tonight if sc.verdict is Verdict.BAD]
    newly_bad = tuple(sc.name for sc in bad if sc.name not in before or before[sc.name].verdict != "bad")
    worse = tuple(sc.name for sc in bad if sc.name not in newly_bad
                  and _markedly_worse(before[sc.name], sc, min_correlation, max_sum_ratio_error))
    return KnownRegression(culprits=culprits, state=state, newly_bad=newly_bad, worse=worse)


def last_good_for(earlier: list[Night], scenarios: tuple[str, ...], in_history: Callable[[str], bool]) -> str | None:
    """The tip of the newest earlier night on which every one of ``scenarios`` was good."""
    for night in reversed(earlier):
        verdicts = {r.scenario: r.verdict for r in night.results}
        if all(verdicts.get(name) == "good" for name in scenarios) and in_history(night.tip):
            return night.tip
    return None


def _streak(earlier: list[Night]) -> list[Night]:
    """The bad nights back to the last good one, newest first, passing over nights that say nothing."""
    streak = []
    for night in reversed(earlier):
        if night.verdict == "good":
            break
        if night.verdict == "bad" and night.outcome not in _SAYS_NOTHING and not night.interrupted:
            streak.append(night)
    return streak


def _markedly_worse(before, tonight: ScenarioResult, min_correlation: float, max_sum_ratio_error: float) -> bool:
    if before.correlation is None:
        return False  # already unusable (no image, NaN): nothing can be worse
    if tonight.correlation is None:
        return True   # measured then, unusable now
    fell = before.correlation - tonight.correlation > 1.0 - min_correlation
    grew = (before.sum_ratio is not None and tonight.sum_ratio is not None
            and abs(tonight.sum_ratio - 1.0) - abs(before.sum_ratio - 1.0) > max_sum_ratio_error)
    return fell or grew
