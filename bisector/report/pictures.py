"""The images a run's report shows: for every scenario the culprit fails, worst first, the
reference, the parent and the culprit, read from the runs that confirmed the culprit.

The culprit's evidence always has its images (hunt/confirm.py re-runs it otherwise). The
parent's may not (a run that kept none, such as a ``--jobs`` round, is evidence enough), so
its image may not exist; the figure then says why instead of leaving the panel empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..hunt.confirm import pictured_runs
from ..score.candidate import load_kept_image
from ..score.reference import reference_for
from ..score.verdict import Verdict

if TYPE_CHECKING:
    import numpy as np

    from ..config import Config
    from ..hunt.confirm import Confirmation
    from ..score.scoring import ScenarioResult


@dataclass(frozen=True)
class ScenarioPictures:
    scenario: str
    reference: np.ndarray
    culprit: np.ndarray
    parent: np.ndarray | None
    parent_note: str = ""     # why there is no parent image


def worst_first(scenarios: list[ScenarioResult]) -> list[ScenarioResult]:
    """The bad scenarios, the farthest from parity first: no usable image, then the lowest
    correlation, then the largest |sum ratio - 1|."""
    def badness(sc: ScenarioResult) -> tuple[float, float]:
        if sc.correlation is None or not math.isfinite(sc.correlation):
            return (math.inf, math.inf)
        ratio = sc.sum_ratio if sc.sum_ratio is not None and math.isfinite(sc.sum_ratio) else math.inf
        return (1.0 - sc.correlation, abs(ratio - 1.0))

    return sorted((sc for sc in scenarios if sc.verdict is Verdict.BAD), key=badness, reverse=True)


def run_pictures(config: Config, confirmation: Confirmation) -> list[ScenarioPictures]:
    """One set of pictures per scenario the culprit's evidence fails (with a kept image), worst first."""
    parent, culprit = pictured_runs(confirmation)
    reference = reference_for(config)
    pictures = []
    for failing in (sc for sc in worst_first(culprit.scenarios) if sc.image):
        before = next((sc for sc in (parent.scenarios if parent else []) if sc.name == failing.name and sc.image),
                      None)
        pictures.append(ScenarioPictures(
            scenario=failing.name, reference=reference.image(config.scenarios[failing.name]),
            culprit=load_kept_image(failing.image),
            parent=load_kept_image(before.image) if before else None,
            parent_note="" if before else _no_parent_image(confirmation)))
    return pictures


def _no_parent_image(confirmation: Confirmation) -> str:
    runs = confirmation.parent.runs
    if not runs:
        return "no run of the parent in this hunt"
    phases = sorted({r.phase.value for r in runs if r.phase})
    return (f"no image kept: the parent's state was judged {runs[-1].verdict.value} by "
            f"{' and '.join(phases) or 'an earlier'} run(s) of this hunt, not re-run")
