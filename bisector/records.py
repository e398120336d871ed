"""What scoring produces: a commit's (or tree's) ScoreRecord, one ScenarioResult per judged
scenario, and the Phase of a hunt that asked for it.

Plain data, typed inside bisector; dicts only at the JSON and event edges (``to_dict`` /
``from_dict``). It sits below the engine and the event log, which both speak it.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .score.verdict import Verdict


class Phase(enum.Enum):
    """Why a hunt scored a commit."""

    ENDPOINT = "endpoint"  # the good and bad commits, before bisecting
    BISECT = "bisect"      # a step of git bisect run
    CONFIRM = "confirm"    # a fresh full re-run of the culprit or its parent, when the search had none
    SCAN = "scan"          # one state of a scan


@dataclass
class ScenarioResult:
    """The outcome of one judged scenario; correlation/sum_ratio are None when not measured."""

    name: str
    verdict: Verdict
    reason: str
    correlation: float | None = None
    sum_ratio: float | None = None
    max_abs_diff: float | None = None
    rms_diff: float | None = None
    seconds: float = 0.0
    cached: bool = False
    via_probe: bool = False
    image: str | None = None  # path of the kept candidate image (.npy), with keep_images
    # Repeated runs (score/noise.py): how many runs the verdict rests on, each run's
    # [correlation, sum_ratio], per metric {n, mean, min, max, lower, upper}, and whether two
    # runs judged alone disagree. correlation/sum_ratio are then the means.
    runs: int = 1
    samples: list[list[float]] | None = None
    spread: dict[str, dict[str, float]] | None = None
    flaky: bool = False

    @property
    def measured(self) -> bool:
        """True when the scenario produced an image whose metrics were computed."""
        return self.correlation is not None and self.sum_ratio is not None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        for key in ("correlation", "sum_ratio", "max_abs_diff", "rms_diff"):
            data[key] = _json_number(data[key])  # JSON has no NaN
        if self.samples is not None:
            data["samples"] = [[_json_number(v) for v in sample] for sample in self.samples]
        if self.spread is not None:
            data["spread"] = {m: {k: _json_number(v) for k, v in iv.items()} for m, iv in self.spread.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ScenarioResult":
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in data.items() if k in known}, "verdict": Verdict(data["verdict"])})


def _json_number(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass
class ScoreRecord:
    commit: str
    tree_ids: dict[str, str | None]
    verdict: Verdict
    scenarios: list[ScenarioResult] = field(default_factory=list)
    seconds: float = 0.0
    reference: str | None = None
    error: str | None = None  # one-line message when ABORT
    phase: Phase | None = None  # set by a hunt
    # every scenario run this scoring made, probes included, in order: {"scenario",
    # "probe_for", "seconds", "cached"} (what progress and the speed benchmark time)
    runs: list[dict[str, Any]] = field(default_factory=list)
    round: int | None = None    # the multisection round that scored it (run --jobs)
    seeded: bool = False        # the candidates were given the configured fixed seed

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    @property
    def unresolved(self) -> bool:
        """A skip because repeated runs of a noisy port straddle a threshold (score/noise.py),
        not because the state could not run."""
        return self.verdict is Verdict.SKIP and any(sc.runs > 1 and sc.verdict is Verdict.SKIP
                                                    for sc in self.scenarios)

    def in_phase(self, phase: Phase) -> "ScoreRecord":
        return replace(self, phase=phase)

    def to_dict(self) -> dict[str, Any]:
        data = {"commit": self.commit, "tree_ids": self.tree_ids, "verdict": self.verdict.value,
                "exit_code": self.exit_code, "scenarios": [s.to_dict() for s in self.scenarios],
                "seconds": self.seconds, "reference": self.reference, "error": self.error,
                "runs": self.runs, "seeded": self.seeded}
        if self.phase is not None:
            data["phase"] = self.phase.value
        if self.round is not None:
            data["round"] = self.round
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ScoreRecord":
        """The record ``to_dict`` wrote (ValueError/KeyError/TypeError when it is not one)."""
        return cls(commit=str(data["commit"]), tree_ids=dict(data.get("tree_ids") or {}),
                   verdict=Verdict(data["verdict"]),
                   scenarios=[ScenarioResult.from_dict(s) for s in data.get("scenarios") or []],
                   seconds=float(data.get("seconds") or 0.0), reference=data.get("reference"),
                   error=data.get("error"),
                   phase=Phase(data["phase"]) if data.get("phase") else None,
                   runs=list(data.get("runs") or []),
                   round=int(data["round"]) if data.get("round") is not None else None,
                   seeded=bool(data.get("seeded", False)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)
