"""Score one commit: reference image, candidate image, metrics, verdict (with a cache).

Only temporary exports of the commit are used (git archive), so the user's working tree,
index and HEAD are never touched. Every failure is mapped on purpose: the commit cannot
be measured -> SKIP; the reference or bisector itself fails -> ABORT (a bug of ours names
the crash log that holds its traceback), never an accidental "bad".
"""

from __future__ import annotations

import enum
import json
import math
import shutil
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy costs ~0.15 s to import: only paths that touch images load it
    import numpy as np

    from ..store.events import Event

from .. import git
from ..store.cache import Cache
from . import procs
from .candidate import Workspace, export_workspace, run_candidate, run_setup
from ..config import Config, Scenario
from ..errors import MachineFault, ReferenceFailure, as_reportable
from .metrics import Metrics, compare, judge
from .reference import Reference, detector_shape, open_reference
from .verdict import Verdict

Log = Callable[["Event"], None]


class Phase(enum.Enum):
    """Why a hunt scored a commit."""

    ENDPOINT = "endpoint"  # the good and bad commits, before bisecting
    BISECT = "bisect"      # a step of git bisect run
    CONFIRM = "confirm"    # the fresh re-run of the culprit and its parent
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

    @property
    def measured(self) -> bool:
        """True when the scenario produced an image whose metrics were computed."""
        return self.correlation is not None and self.sum_ratio is not None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        for key in ("correlation", "sum_ratio", "max_abs_diff", "rms_diff"):
            if isinstance(data[key], float) and not math.isfinite(data[key]):
                data[key] = None  # JSON has no NaN
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ScenarioResult":
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in data.items() if k in known}, "verdict": Verdict(data["verdict"])})


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

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def in_phase(self, phase: Phase) -> "ScoreRecord":
        return replace(self, phase=phase)

    def to_dict(self) -> dict[str, Any]:
        data = {"commit": self.commit, "tree_ids": self.tree_ids, "verdict": self.verdict.value,
                "exit_code": self.exit_code, "scenarios": [s.to_dict() for s in self.scenarios],
                "seconds": self.seconds, "reference": self.reference, "error": self.error,
                "runs": self.runs}
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
                   round=int(data["round"]) if data.get("round") is not None else None)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def environment_key(config: Config) -> dict[str, Any]:
    """What, besides the commit's files, decides the candidate's image.

    Versions are read from package metadata so that torch is never imported here.
    """
    return {"python": sys.version, "executable": os.path.realpath(sys.executable),
            "torch": _dist_version("torch"), "numpy": _dist_version("numpy"),
            "command": config.command, "package": config.package, "setup": config.setup,
            "env": config.env,
            # compiled and eager runs of one commit may differ: they are different measurements
            "eager": config.eager or os.environ.get("TORCH_COMPILE_DISABLE", "") not in ("", "0")}


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def score_commit(config: Config, commit: str, *, use_cache: bool = True, use_probes: bool = True,
                 keep_images: Path | None = None, log: Log | None = None) -> ScoreRecord:
    """Score ``commit`` (any revision of ``config.repo``) on every judged scenario.

    ``use_probes``: a scenario's probe may convict the commit without the full run (bisect
    steps); False judges every scenario on its full run (the good endpoint, confirmations).
    ``keep_images``: save the images of fresh candidate runs (.npy) there (results read
    from the cache have none: pass ``use_cache=False`` to be sure to get them).
    ``log(event)`` is called with a scenario_start and a scenario_end Event per scenario.
    """
    start = time.monotonic()
    record = ScoreRecord(commit=commit, tree_ids={}, verdict=Verdict.ABORT)
    try:
        with _Scorer(config, use_cache, keep_images, log, use_probes) as scorer:
            scorer.score(record)
    except Exception as exc:
        # A bug of ours aborts with one line; its traceback goes to a crash log.
        record.verdict, record.error = Verdict.ABORT, str(as_reportable(exc, config.cache_dir))
    record.seconds = time.monotonic() - start
    return record


class _Scorer:
    """Holds what one commit's scoring shares: cache, reference, the lazily made export."""

    def __init__(self, config: Config, read_cache: bool, keep_images: Path | None, log: Log | None,
                 use_probes: bool = True):
        self.config = config
        self.read_cache = read_cache
        self.use_probes = use_probes
        self.runs: list[dict[str, Any]] = []
        self.keep_images = Path(keep_images) if keep_images else None
        self.log = log or (lambda event: None)
        self.cache: Cache | None = None
        self.reference: Reference | None = None
        self.scratch: Path | None = None
        self.workspace: Workspace | None = None
        self.setup_failure: str | None = None
        self.commit = ""
        self.trees: dict[str, str | None] = {}

    def __enter__(self) -> "_Scorer":
        return self

    def __exit__(self, *exc_info) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        if self.cache is not None:
            self.cache.close()

    def score(self, record: ScoreRecord) -> None:
        self.commit = record.commit = git.resolve(self.config.repo, record.commit)
        self.trees = record.tree_ids = git.tree_ids(self.config.repo, self.commit, list(self.config.paths))
        self.cache = Cache(self.config.cache_dir)
        self.reference = open_reference(self.config, self.cache)
        record.reference = self.reference.key
        self.env_key = environment_key(self.config)
        record.runs = self.runs
        for name in self.config.judge:
            record.scenarios.append(self._judged(self.config.scenarios[name]))
        record.verdict = Verdict.worst([s.verdict for s in record.scenarios])

    def _judged(self, scenario: Scenario) -> ScenarioResult:
        if scenario.probe and self.use_probes:
            probe = self._measured(self.config.scenarios[scenario.probe], probe_for=scenario.name)
            if _clearly_bad(probe, scenario.probe_margin, self.config.thresholds.max_sum_ratio_error):
                return ScenarioResult(
                    name=scenario.name, verdict=Verdict.BAD, via_probe=True,
                    reason=f"probe {probe.name!r} is clearly bad ({probe.reason}; margins: correlation "
                           f"{scenario.probe_margin:g}, sum ratio off by more than "
                           f"{PROBE_SUM_RATIO_FACTOR:g}x the threshold); full run skipped",
                    correlation=probe.correlation, sum_ratio=probe.sum_ratio,
                    max_abs_diff=probe.max_abs_diff, rms_diff=probe.rms_diff,
                    seconds=probe.seconds, cached=probe.cached, image=probe.image)
        return self._measured(scenario)

    def _measured(self, scenario: Scenario, probe_for: str | None = None) -> ScenarioResult:
        from ..store.events import Event, EventType

        self.log(Event(EventType.SCENARIO_START, self.commit, scenario=scenario.name, probe_for=probe_for))
        start = time.monotonic()
        parts = {"trees": self.trees, "args": list(scenario.args), "reference": self.reference.key,
                 "environment": self.env_key}
        result = self._from_cache(scenario, parts) if self.read_cache else None
        if result is None:
            result = self._run(scenario, parts)
            result.seconds = time.monotonic() - start
        self.runs.append({"scenario": scenario.name, "probe_for": probe_for, "seconds": result.seconds,
                          "cached": result.cached})
        self.log(Event(EventType.SCENARIO_END, self.commit, scenario=scenario.name, probe_for=probe_for,
                       result=result))
        return result

    def _from_cache(self, scenario: Scenario, parts: dict) -> ScenarioResult | None:
        payload = self.cache.get_score(parts)
        if payload is None:
            return None
        try:
            if payload["status"] == "skip":
                return ScenarioResult(scenario.name, Verdict.SKIP, str(payload["reason"]),
                                      seconds=float(payload["seconds"]), cached=True)
            metrics = Metrics.from_dict(payload["metrics"])
            seconds = float(payload["seconds"])
        except (KeyError, TypeError, ValueError):
            self.cache.delete_score(parts)  # damaged entry: recompute rather than trust it
            return None
        return self._result(scenario, metrics, seconds, cached=True)

    def _run(self, scenario: Scenario, parts: dict) -> ScenarioResult:
        # The reference first: when it is broken the bisection must stop before blaming anyone.
        reference = self.reference.image(scenario)
        shape = detector_shape(scenario.args)
        if tuple(reference.shape) != shape:
            raise ReferenceFailure(f"reference image of scenario {scenario.name!r} has shape "
                                   f"{tuple(reference.shape)}, expected {shape} from its args")
        try:
            ws = self._workspace()
            if self.setup_failure:
                return ScenarioResult(scenario.name, Verdict.SKIP, self.setup_failure)
            run = run_candidate(self.config, ws, scenario, shape)
        except OSError as exc:
            # A full or failing disk is the machine's fault, not the commit's: stop the hunt
            # (exit 4) rather than skip every commit after it.
            fault = MachineFault.of(exc)
            if fault is not None:
                raise fault from None
            # The candidate itself (it may delete its own folders) got in the way of
            # measuring this commit: skip it, do not stop the whole hunt.
            return ScenarioResult(scenario.name, Verdict.SKIP, f"could not run the candidate: {exc}")
        if run.status == "skip":
            if not run.timed_out:  # a timeout may pass on a quieter machine: do not remember it
                self.cache.put_score(parts, {"status": "skip", "reason": run.reason, "seconds": run.seconds})
            return ScenarioResult(scenario.name, Verdict.SKIP, run.reason)
        metrics = compare(run.image, reference)
        if metrics.reference_problem is None:
            self.cache.put_score(parts, {"status": "measured", "metrics": metrics.to_dict(),
                                         "seconds": run.seconds})
        result = self._result(scenario, metrics, run.seconds, cached=False)
        if self.keep_images is not None:
            result.image = str(self._keep(scenario, run.image))
        return result

    def _result(self, scenario: Scenario, metrics: Metrics, seconds: float, cached: bool) -> ScenarioResult:
        verdict, reason = judge(metrics, self.config.thresholds)
        if verdict is Verdict.ABORT:
            raise ReferenceFailure(f"scenario {scenario.name!r}: {reason}")
        return ScenarioResult(scenario.name, verdict, reason, correlation=metrics.correlation,
                              sum_ratio=metrics.sum_ratio, max_abs_diff=metrics.max_abs_diff,
                              rms_diff=metrics.rms_diff, seconds=seconds, cached=cached)

    def _workspace(self) -> Workspace:
        if self.workspace is None:
            self.scratch = procs.owned_tempdir("bisector-score-")
            self.workspace = export_workspace(self.config, self.commit, self.scratch)
            self.setup_failure = run_setup(self.config, self.workspace)
        return self.workspace

    def _keep(self, scenario: Scenario, image: np.ndarray) -> Path:
        """Save the candidate's image; the reference image stays in the cache, under its key."""
        import numpy as np

        self.keep_images.mkdir(parents=True, exist_ok=True)
        path = self.keep_images / f"{self.commit[:12]}-{procs.safe_label(scenario.name)}.npy"
        np.save(path, image)
        return path


# A probe convicts on its sum ratio only when it is this many times the threshold off 1.
PROBE_SUM_RATIO_FACTOR = 10.0


def _clearly_bad(probe: ScenarioResult, margin: float, max_sum_ratio_error: float) -> bool:
    """A probe can only convict, and only far outside the thresholds: an unusable image
    (NaN/Inf, constant, wrong size), a correlation below ``margin``, or a sum ratio off 1 by
    more than PROBE_SUM_RATIO_FACTOR times the allowed error. Anything milder, and every
    good probe, leaves the verdict to the full run."""
    if probe.verdict is not Verdict.BAD:
        return False
    corr, ratio = probe.correlation, probe.sum_ratio
    if corr is None or not math.isfinite(corr) or corr < margin:
        return True
    return ratio is not None and math.isfinite(ratio) and abs(ratio - 1) > PROBE_SUM_RATIO_FACTOR * max_sum_ratio_error
