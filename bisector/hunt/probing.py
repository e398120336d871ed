"""Whether a hunt's next scoring should run the probes, from what this hunt has measured.

A probe can only convict, so on a state that turns out good it is pure cost: the probe runs
and then the full scenario. Per scored state the probe saves ``full`` when it convicts and
costs ``probe`` every time, so it pays while ``probe < conviction rate * full``. Both sides
change from hunt to hunt: a bisection convicts about every other state, a scan of a mostly
good history rarely; an eager port's 1024^2 probe costs a fifth of a 4096^2 run, a compiled
port's (compilation dominates) about as much as the full run.

:class:`ProbeLedger` gathers that evidence from the hunt's score records;
:func:`probe_pays` is the rule. Before any measurement, the bracket itself rules the probe out
where a state's full run is confirmation evidence whatever the probe says (the culprit's and
its parent's always run in full): :func:`bad_endpoint_probe_can_pay`, :func:`decisive`.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..records import ScoreRecord
from ..score.verdict import Verdict

# Judged states before the rule may drop the probe: a bisection's two endpoints. A bracket
# like the user's real one (137 commits, 2 touching the port's sources) holds three states,
# so its bisection takes one step: a rule that waited for a third judged state never acted
# where it would have saved a run.
MIN_TRIALS = 2


def probe_pays(probe_seconds: float | None, full_seconds: float | None, trials: int, convictions: int) -> bool:
    """True while running the probe first is expected to save time.

    ``probe_seconds``/``full_seconds``: the mean cost of a fresh probe run and of a fresh
    full run (None until measured); ``trials``: judged states that could have been
    convicted; ``convictions``: how many were (or, judged without a probe, were bad). The
    conviction rate is estimated with one pseudo-conviction and one pseudo-acquittal, so
    a few states never make it 0 or 1. Until both costs are known and MIN_TRIALS states
    were judged, the probe runs (it measures itself).
    """
    if trials < MIN_TRIALS or not probe_seconds or not full_seconds:
        return True
    rate = (convictions + 1) / (trials + 2)
    return probe_seconds < rate * full_seconds


def bad_endpoint_probe_can_pay(relevant_commits: int) -> bool:
    """Whether the bad endpoint's probe could save a run, before anything is measured.

    A conviction saves the bad endpoint's full run only when its state is not the culprit's:
    the culprit's fresh full run is the confirmation's evidence whatever the probe said. With
    at most one commit touching the relevant paths, that commit is the culprit and the bad
    endpoint holds its state, so the probe could only add a run (a nightly hunt over one
    day's commits often has a single one)."""
    return relevant_commits > 1


def decisive(tested: Hashable, bad: Hashable, suspects: Iterable[Hashable]) -> bool:
    """Whether a bisection step's verdict names the culprit: every commit still suspected
    holds the tested state or the bad one. Its full run is then evidence either way (the
    culprit's when bad, the parent's when good), so a probe there could only add a run; in a
    bracket with two commits touching the paths, as the user's real one, that is its one step."""
    return tested != bad and set(suspects) <= {tested, bad}


@dataclass
class ProbeLedger:
    """This hunt's evidence about its probes: fresh run times per scenario, convictions."""

    probe_seconds: dict[str, list[float]] = field(default_factory=dict)  # judged scenario -> its probe's runs
    full_seconds: dict[str, list[float]] = field(default_factory=dict)   # scenario -> its full runs
    trials: int = 0
    convictions: int = 0
    warmed: bool = False   # a scoring with fresh runs was observed: later costs count

    def observe(self, record: ScoreRecord) -> None:
        """Take one scoring's runs and verdict into account.

        The first scoring with fresh runs gives its verdict but not its costs: it is the
        hunt's coldest (page cache, the port's first import, a compile cache being filled),
        and a full run timed cold would make the probe look cheaper than it is."""
        fresh = [run for run in record.runs if not run.get("cached")]  # cached: paid by another hunt
        if self.warmed:
            self._count_costs(fresh)
        self.warmed = self.warmed or bool(fresh)
        if record.verdict not in (Verdict.GOOD, Verdict.BAD):
            return
        self.trials += 1
        probed = any(run.get("probe_for") for run in record.runs)
        convicted = any(sc.via_probe for sc in record.scenarios) if probed else record.verdict is Verdict.BAD
        self.convictions += convicted  # a bad state judged in full: a probe might have convicted it

    def _count_costs(self, runs: list[dict]) -> None:
        for run in runs:
            if run.get("probe_for"):
                self.probe_seconds.setdefault(run["probe_for"], []).append(float(run["seconds"]))
            else:
                self.full_seconds.setdefault(run["scenario"], []).append(float(run["seconds"]))

    def costs(self) -> tuple[float | None, float | None]:
        """(probe, full) mean seconds per scoring over the scenarios with both measured."""
        both = [name for name in self.probe_seconds if self.full_seconds.get(name)]
        if not both:
            return None, None
        return (sum(_mean(self.probe_seconds[n]) for n in both), sum(_mean(self.full_seconds[n]) for n in both))

    def pays(self) -> bool:
        return probe_pays(*self.costs(), self.trials, self.convictions)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def read(cls, path: Path) -> "ProbeLedger":
        return cls.read_text(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def read_text(cls, text: str) -> "ProbeLedger":
        data = json.loads(text)
        return cls(probe_seconds=data["probe_seconds"], full_seconds=data["full_seconds"],
                   trials=int(data["trials"]), convictions=int(data["convictions"]),
                   warmed=bool(data["warmed"]))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)
