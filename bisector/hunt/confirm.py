"""Confirm a culprit on the full scenarios without repeating runs this hunt already made.

Each side of the culprit needs fresh evidence: full-scenario results (no probe, not read
from the cache) of its relevant state, made in this hunt. The parent is good and the
culprit bad on every such run, or the culprit is not confirmed.

- parent: a fresh full-scenario result of the same relevant tree made earlier in this hunt
  (the good endpoint, or a bisect step) is its evidence; it is re-run only without one.
- culprit: the same, but its evidence must show every judged scenario (none cut short at
  the first bad one) and, in a run, keep its images for the report's figures, as the
  endpoints and `git bisect run`'s steps do. Without such a run (the probe convicted it, its
  score came from the cache, a scan cut it short) it is re-run once, fresh. A scan's break
  or fix is held to the same rule, without the images (its report draws none).
- paranoid: each side needs two fresh runs, and is re-run at least once.
- a noisy port: the runs of each side, pooled per scenario, must be told apart by the noise
  rule (score/noise.py ``separated``): the parent GOOD on every judged scenario, the culprit
  BAD on one. For a deterministic port this is what the verdicts already say.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import git
from ..config import Config
from ..records import Phase, ScoreRecord
from ..score.noise import Outcome, decide, separated
from ..score.scoring import score_commit
from ..score.verdict import Verdict

Announce = Callable[[str, ScoreRecord], None]  # (label, record) after each re-run


@dataclass
class Side:
    """The evidence about one side of the culprit: ``runs`` are score records (with phase)."""

    label: str  # "parent" or "culprit"
    commit: str
    wanted: Verdict
    tree_ids: dict
    runs: list[ScoreRecord] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return bool(self.runs) and all(r.verdict is self.wanted for r in self.runs)

    def to_dict(self) -> dict:
        return {"commit": self.commit, "wanted": self.wanted.value, "holds": self.holds,
                "runs": [{"commit": r.commit, "phase": r.phase.value if r.phase else "",
                          "verdict": r.verdict.value} for r in self.runs]}


@dataclass
class Confirmation:
    parent: Side
    culprit: Side
    reruns: list[ScoreRecord]  # the fresh re-runs made here (phase confirm), in order
    separated: bool = True  # the noise rule tells the sides' pooled runs apart

    @property
    def same_state(self) -> bool:
        return self.parent.tree_ids == self.culprit.tree_ids

    @property
    def confirmed(self) -> bool:
        return self.parent.holds and self.culprit.holds and self.separated and not self.same_state

    def to_dict(self) -> dict:
        return {"parent": self.parent.to_dict(), "culprit": self.culprit.to_dict(),
                "same_state": self.same_state, "separated": self.separated, "confirmed": self.confirmed}


def is_fresh_full(record: ScoreRecord, config: Config) -> bool:
    """A result that counts as confirmation evidence: every judged scenario ran in this
    hunt (not read from the cache) on its full arguments (not decided by a probe); a bad
    one may have stopped at its first bad scenario (``score_commit(until_bad=...)``)."""
    names = [sc.name for sc in record.scenarios]
    complete = names == list(config.judge) or (
        record.verdict is Verdict.BAD and set(names) <= set(config.judge)
        and any(sc.verdict is Verdict.BAD for sc in record.scenarios))
    return (record.verdict in (Verdict.GOOD, Verdict.BAD) and complete
            and not any(sc.cached or sc.via_probe for sc in record.scenarios))


def shows_every_scenario(record: ScoreRecord, config: Config) -> bool:
    """Fresh full evidence with every judged scenario run (none cut short at the first bad
    one): the numbers a report gives for a culprit, a break or a fix."""
    return is_fresh_full(record, config) and [sc.name for sc in record.scenarios] == list(config.judge)


def pictures_the_state(record: ScoreRecord, config: Config) -> bool:
    """``shows_every_scenario``, and each scenario kept its image for the report's figures."""
    return shows_every_scenario(record, config) and all(_kept(sc.image) for sc in record.scenarios)


def _kept(image: str | None) -> bool:
    return bool(image) and Path(image).is_file()  # a step drops the images a later step supersedes


def confirm_culprit(config: Config, culprit: str, hunt_records: list[ScoreRecord], keep_dir: Path,
                    announce: Announce | None = None) -> Confirmation:
    """Gather each side's evidence from ``hunt_records`` and re-run what is missing."""
    repo = Path(config.repo)
    paths = list(config.paths)
    parent_sha = git.parents(repo, culprit)[0]
    parent = Side("parent", parent_sha, Verdict.GOOD, git.tree_ids(repo, parent_sha, paths))
    guilty = Side("culprit", culprit, Verdict.BAD, git.tree_ids(repo, culprit, paths))
    needed = 2 if config.paranoid else 1
    reruns: list[ScoreRecord] = []
    # What each side's evidence must be to spare a re-run (the scan's transitions: the same shape).
    for side, suffices in ((parent, is_fresh_full), (guilty, pictures_the_state)):
        side.runs = [r for r in hunt_records if r.tree_ids == side.tree_ids and is_fresh_full(r, config)]
        at_least = 1 if config.paranoid or not any(suffices(r, config) for r in side.runs) else 0
        for _ in range(max(at_least, needed - len(side.runs))):
            record = score_commit(config, side.commit, use_cache=False, use_probes=False,
                                  keep_images=keep_dir / f"{side.label}-{len(reruns)}").in_phase(Phase.CONFIRM)
            reruns.append(record)
            side.runs.append(record)
            if announce:
                announce(side.label, record)
            if record.verdict not in (Verdict.GOOD, Verdict.BAD):
                break  # a skip or abort will not turn into evidence by running it again
    return Confirmation(parent, guilty, reruns, sides_separated(config, parent, guilty))


def sides_separated(config: Config, parent: Side, culprit: Side) -> bool:
    """The noise rule on each side's runs pooled per judged scenario: the parent GOOD on
    every scenario, and the parent's and culprit's runs separated on at least one."""
    th = config.thresholds
    pooled = {side.label: {name: _samples(side, name) for name in config.judge} for side in (parent, culprit)}
    if not all(pooled["parent"].values()) or any(
            decide(s, th.min_correlation, th.max_sum_ratio_error) is not Outcome.GOOD
            for s in pooled["parent"].values()):
        return False
    return any(separated(pooled["parent"][name], pooled["culprit"][name], th.min_correlation,
                         th.max_sum_ratio_error) for name in config.judge if pooled["culprit"][name])


def _samples(side: Side, scenario: str) -> list[tuple[float, float]]:
    """Every judged run of ``scenario`` in the side's records (a repeated one counts each run)."""
    out: list[tuple[float, float]] = []
    for record in side.runs:
        for sc in record.scenarios:
            # a bad image without metrics (NaN pixels, wrong size) is a run with NaN metrics
            if sc.name == scenario and sc.verdict in (Verdict.GOOD, Verdict.BAD) and not sc.via_probe:
                runs = sc.samples if sc.samples else [(sc.correlation, sc.sum_ratio)]
                out += [(_number(c), _number(r)) for c, r in runs]
    return out


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)  # JSON wrote NaN as null


def pictured_runs(confirmation: Confirmation) -> tuple[ScoreRecord | None, ScoreRecord]:
    """(parent run with kept images or None, the culprit's latest run with kept images, else
    its latest run) for the report's pictures and figures."""
    def with_images(side: Side) -> ScoreRecord | None:
        kept = [r for r in side.runs if any(_kept(sc.image) for sc in r.scenarios)]
        return kept[-1] if kept else None

    return with_images(confirmation.parent), with_images(confirmation.culprit) or confirmation.culprit.runs[-1]
