"""The scoring service: for a commit, or a tree that is no commit, its cache key, its
images and its verdict.

Every command that judges code goes through :class:`ScoringService` (``score_commit`` is
the thin function over it that hunts use): the score-cache key is built by one function,
:func:`score_key`, so a state scored by ``run``, ``scan``, ``nightly``, ``compare`` or
``verify`` is one cache entry. Reference images live in the reference table; a candidate's
image never does.

Only private exports are used (git archive into owned scratch folders, which the next
bisector prunes if this one is killed), so the user's working tree, index and HEAD are
never touched. Every failure is mapped on purpose: the state cannot be measured -> SKIP;
the reference or bisector itself fails -> ABORT (a bug of ours names the crash log that
holds its traceback), never an accidental "bad".
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy costs ~0.15 s to import: only paths that touch images load it
    import numpy as np

from .. import git
from ..config import Config, Scenario
from ..errors import ConfigError, MachineFault, ReferenceFailure, as_reportable
from ..records import ScenarioResult, ScoreRecord
from ..store.cache import Cache
from ..store.events import Event, EventType
from . import procs
from .candidate import CandidateRun, Workspace, export_workspace, run_candidate, run_setup
from .installed import version_of
from .metrics import Metrics, compare, judge
from .noise import Outcome, decide, interval, wants_another
from .reference import Reference, detector_shape, open_reference
from .verdict import Verdict

Log = Callable[[Event], None]


def score_key(trees: dict[str, str | None], args: tuple[str, ...] | list[str], reference_key: str,
              environment: dict[str, Any]) -> dict[str, Any]:
    """THE score-cache key: the relevant trees, the scenario's arguments, the reference's key
    and the environment (:func:`environment_key`). Nothing else builds one."""
    return {"trees": trees, "args": list(args), "reference": reference_key, "environment": environment}


def environment_key(config: Config) -> dict[str, Any]:
    """What, besides the state's files, decides the candidate's image.

    Versions are read from package metadata so that torch is never imported here.
    """
    return {"python": sys.version, "executable": os.path.realpath(sys.executable),
            "torch": version_of("torch"), "numpy": version_of("numpy"),
            "command": config.command, "package": config.package, "setup": config.setup,
            "env": config.env,
            # compiled and eager runs of one commit may differ: they are different measurements
            "eager": config.eager or os.environ.get("TORCH_COMPILE_DISABLE", "") not in ("", "0"),
            # a seeded candidate's image depends on its seed (absent when unseeded: old keys hold)
            **({"seed": [config.noise.seed, config.noise.seed_env, config.noise.seed_arg]}
               if config.noise.seeded else {})}


@dataclass(frozen=True)
class State:
    """What is scored: the files of ``rev`` in ``repo`` (a commit, or a tree object).

    ``name`` is what records carry as their ``commit`` (the commit's sha, or the tree id);
    ``trees`` the object ids of the relevant paths, which with the environment decide the key.
    """

    name: str
    rev: str
    repo: Path
    trees: dict[str, str | None]


def score_commit(config: Config, commit: str, *, use_cache: bool = True, use_probes: bool = True,
                 keep_images: Path | None = None, log: Log | None = None,
                 until_bad: Sequence[str] | None = None) -> ScoreRecord:
    """Score ``commit`` (any revision of ``config.repo``) on every judged scenario; never
    raises (a failure is an ABORT record). See :meth:`ScoringService.score`."""
    with ScoringService(config) as service:
        return service.score(commit, use_cache=use_cache, use_probes=use_probes,
                             keep_images=keep_images, log=log, until_bad=until_bad)


class ScoringService:
    """One configuration's scoring: states, keys, images and verdicts over one cache.

    Commits: ``score("abc123")`` or ``score(service.commit("abc123"))``.

    Trees that are no commit (``bisector narrow`` applies some of a culprit's hunks to its
    parent): write the tree into an object store the repository can read, e.g. with a private
    index in a scratch repository that borrows the user's objects (``objects/info/alternates``)::

        GIT_INDEX_FILE=$scratch/index git read-tree PARENT; git apply --cached HUNKS.patch
        tree=$(GIT_INDEX_FILE=$scratch/index git write-tree)

    then ``score(service.tree(tree, repo=scratch_repo))``. The state is exported with
    ``git archive`` from that tree and keyed, cached and judged exactly like a commit with
    the same relevant trees (same thresholds, probes and reference); its record's
    ``commit`` is the tree id.
    """

    def __init__(self, config: Config, environment: dict[str, Any] | None = None):
        """``environment``: :func:`environment_key` of ``config`` when the caller has it (a
        git-bisect step gets its run's: same interpreter, same packages)."""
        self.config = config
        self.environment = environment_key(config) if environment is None else environment
        self._cache: Cache | None = None
        self._reference: Reference | None = None

    def __enter__(self) -> "ScoringService":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    # -- what is scored ------------------------------------------------------------------

    def commit(self, rev: str) -> State:
        """The state of commit ``rev`` of ``config.repo`` (GitError when it is none)."""
        repo = Path(self.config.repo)
        sha = git.resolve(repo, rev)
        return State(sha, sha, repo, git.tree_ids(repo, sha, list(self.config.paths)))

    def tree(self, tree: str, *, repo: Path | None = None) -> State:
        """The state of tree object ``tree`` (its relevant and extra paths are what runs),
        read from ``repo`` (default ``config.repo``)."""
        repo = Path(repo or self.config.repo)
        trees = git.tree_ids(repo, tree, list(self.config.paths))
        return State(tree, tree, repo, trees)

    # -- keys and the cache --------------------------------------------------------------

    @property
    def cache(self) -> Cache:
        if self._cache is None:
            self._cache = Cache(self.config.cache_dir)
        return self._cache

    @property
    def reference(self) -> Reference:
        """The configured reference (a C program to build is built first, once)."""
        if self._reference is None:
            self._reference = open_reference(self.config, self.cache)
        return self._reference

    def key(self, trees: dict[str, str | None], scenario: Scenario) -> dict[str, Any]:
        return score_key(trees, scenario.args, self.reference.key, self.environment)

    def all_cached(self, trees: dict[str, str | None]) -> bool:
        """True when every judged scenario of the state with ``trees`` has a cached score
        (scoring it then runs nothing; a probe's entry alone does not count)."""
        return all(self.cached(trees, name) for name in self.config.judge)

    def cached(self, trees: dict[str, str | None], scenario: str) -> bool:
        """True when ``scenario`` of the state with ``trees`` has a cached score."""
        return self.cache.get_score(self.key(trees, self.config.scenarios[scenario])) is not None

    # -- verdicts ------------------------------------------------------------------------

    def score(self, what: str | State, *, use_cache: bool = True, use_probes: bool = True,
              keep_images: Path | None = None, log: Log | None = None,
              until_bad: Sequence[str] | None = None) -> ScoreRecord:
        """Score a commit (a revision) or a :class:`State` on every judged scenario.

        ``use_probes``: a scenario's probe may convict without the full run (bisect steps);
        False judges every scenario on its full run (the good endpoint, confirmations).
        ``use_cache=False`` runs everything afresh (results are still stored).
        ``keep_images``: save the images of fresh candidate runs (.npy) there.
        ``log(event)`` is called with a scenario_start and a scenario_end Event per scenario.
        ``until_bad``: the judged scenarios in the order to run them, stopping at the first
        bad one (nothing after it can make the state anything but bad); the record then holds
        the scenarios judged, in the configured order. A scan's search judges states so: it
        needs each state's verdict, not every way a bad state is bad.
        Never raises: a failure of the harness is an ABORT record with a one-line error.
        """
        start = time.monotonic()
        record = ScoreRecord(commit=what if isinstance(what, str) else what.name, tree_ids={},
                             verdict=Verdict.ABORT)
        try:
            state = self.commit(what) if isinstance(what, str) else what
            record.commit, record.tree_ids = state.name, state.trees
            record.reference = self.reference.key
            record.seeded = self.config.noise.seeded
            with self.session(state, read_cache=use_cache, keep_images=keep_images, log=log) as session:
                record.runs = session.runs
                for name in self._order(state, until_bad, use_cache):  # one by one: an abort keeps what was judged
                    record.scenarios.append(session.judged(self.config.scenarios[name], use_probes))
                    if until_bad and record.scenarios[-1].verdict is Verdict.BAD:
                        break
            record.scenarios.sort(key=lambda sc: self.config.judge.index(sc.name))
            record.verdict = Verdict.worst([s.verdict for s in record.scenarios])
        except Exception as exc:
            # A bug of ours aborts with one line; its traceback goes to a crash log.
            record.verdict, record.error = Verdict.ABORT, str(as_reportable(exc, self.config.cache_dir))
        record.seconds = time.monotonic() - start
        return record

    def _order(self, state: State, until_bad: Sequence[str] | None, use_cache: bool) -> list[str]:
        """The scenarios to judge, in order: ``until_bad``'s with the cached ones first (a
        cached bad score settles the state without running anything), else the configured."""
        if not until_bad:
            return list(self.config.judge)
        if not use_cache:
            return list(until_bad)
        return sorted(until_bad, key=lambda name: not self.cached(state.trees, name))

    def session(self, state: State, *, read_cache: bool = True, keep_images: Path | None = None,
                log: Log | None = None, export_all: bool = False, hold_images: bool = False) -> "Session":
        """Measure scenarios of ``state`` one by one (it raises, unlike :meth:`score`); one
        export serves them all. ``export_all``: the whole tree, not only the relevant and
        extra paths (verify runs the port's tests there); ``hold_images``: keep fresh
        candidate images in ``session.images`` (compare draws them)."""
        return Session(self, state, read_cache=read_cache, keep_images=keep_images, log=log,
                       export_all=export_all, hold_images=hold_images)


class Session:
    """The scoring of one state: its lazily made export (an owned scratch folder, removed on
    exit or pruned by the next bisector), the runs made, the images held."""

    def __init__(self, service: ScoringService, state: State, *, read_cache: bool, keep_images: Path | None,
                 log: Log | None, export_all: bool, hold_images: bool):
        self.service, self.config, self.state = service, service.config, state
        self.read_cache = read_cache
        self.keep_images = Path(keep_images) if keep_images else None
        self.log = log or (lambda event: None)
        self.export_all = export_all
        self.images: dict[str, np.ndarray] | None = {} if hold_images else None
        self.runs: list[dict[str, Any]] = []
        self.scratch: Path | None = None
        self._workspace: Workspace | None = None
        self.setup_failure: str | None = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def judged(self, scenario: Scenario, use_probes: bool = True) -> ScenarioResult:
        """The scenario's verdict; with ``use_probes`` its probe may convict first."""
        if scenario.probe and use_probes:
            probe = self.measured(self.config.scenarios[scenario.probe], probe_for=scenario.name)
            if _clearly_bad(probe, scenario.probe_margin, self.config.thresholds.max_sum_ratio_error):
                return ScenarioResult(
                    name=scenario.name, verdict=Verdict.BAD, via_probe=True,
                    reason=f"probe {probe.name!r} is clearly bad ({probe.reason}; margins: correlation "
                           f"{scenario.probe_margin:g}, sum ratio off by more than "
                           f"{PROBE_SUM_RATIO_FACTOR:g}x the threshold); full run skipped",
                    correlation=probe.correlation, sum_ratio=probe.sum_ratio,
                    max_abs_diff=probe.max_abs_diff, rms_diff=probe.rms_diff,
                    seconds=probe.seconds, cached=probe.cached, image=probe.image)
        return self.measured(scenario)

    def measured(self, scenario: Scenario, probe_for: str | None = None) -> ScenarioResult:
        """``scenario`` measured against the reference: from the cache, else run (and stored)."""
        self.log(Event(EventType.SCENARIO_START, self.state.name, scenario=scenario.name, probe_for=probe_for))
        start = time.monotonic()
        key = self.service.key(self.state.trees, scenario)
        result = self._from_cache(scenario, key) if self.read_cache else None
        if result is None:
            result = self._run(scenario, key)
            result.seconds = time.monotonic() - start
        self.runs.append({"scenario": scenario.name, "probe_for": probe_for, "seconds": result.seconds,
                          "cached": result.cached})
        if probe_for is None:  # a probe only convicts far outside the thresholds: one run serves
            result = self._repeated(scenario, key, result)
        self.log(Event(EventType.SCENARIO_END, self.state.name, scenario=scenario.name, probe_for=probe_for,
                       result=result))
        return result

    def candidate(self, scenario: Scenario) -> CandidateRun:
        """One fresh run of the port on ``scenario``, judged against nothing (compare with
        another reference than the configured one); nothing is stored."""
        try:
            shape = detector_shape(scenario.args)
        except ValueError as exc:
            raise ConfigError(f"cannot tell the image size of scenario {scenario.name!r}: {exc}",
                              hint="check its -detpixels/-detsize arguments")
        return self._candidate(scenario, shape)

    def workspace(self) -> Workspace:
        """The export of the state (made on first use; its setup has run)."""
        if self._workspace is None:
            self.scratch = procs.owned_tempdir("bisector-verify-" if self.export_all else "bisector-score-")
            self._workspace = export_workspace(self.config, self.state.rev, self.scratch, repo=self.state.repo,
                                               paths=["."] if self.export_all else None)
            self.setup_failure = run_setup(self.config, self._workspace)
        return self._workspace

    def _from_cache(self, scenario: Scenario, key: dict) -> ScenarioResult | None:
        cache = self.service.cache
        payload = cache.get_score(key)
        if payload is None:
            return None
        try:
            if payload["status"] == "skip":
                return ScenarioResult(scenario.name, Verdict.SKIP, str(payload["reason"]),
                                      seconds=float(payload["seconds"]), cached=True)
            metrics = Metrics.from_dict(payload["metrics"])
            seconds = float(payload["seconds"])
            samples = [(float(c), float(r)) for c, r in payload.get("samples", [])]
        except (KeyError, TypeError, ValueError):
            cache.delete_score(key)  # damaged entry: recompute rather than trust it
            return None
        result = self._result(scenario, metrics, seconds, cached=True)
        return self._spread(result, samples) if len(samples) > 1 else result

    def _run(self, scenario: Scenario, key: dict) -> ScenarioResult:
        # The reference first: when it is broken the bisection must stop before blaming anyone.
        # One being made alongside is waited for after the candidate ran, before any verdict.
        shape = self.service.reference.shape(scenario)
        if self.service.reference.being_made(scenario):
            run = self._candidate(scenario, shape)
            reference = self._reference(scenario, shape)
        else:
            reference = self._reference(scenario, shape)
            run = self._candidate(scenario, shape)
        cache = self.service.cache
        if run.status == "skip":
            if run.lasting:  # a timeout may pass on a quieter machine: do not remember it
                cache.put_score(key, {"status": "skip", "reason": run.reason, "seconds": run.seconds})
            return ScenarioResult(scenario.name, Verdict.SKIP, run.reason)
        metrics = compare(run.image, reference)
        if metrics.reference_problem is None:
            cache.put_score(key, {"status": "measured", "metrics": metrics.to_dict(), "seconds": run.seconds})
        result = self._result(scenario, metrics, run.seconds, cached=False)
        if self.keep_images is not None:
            result.image = str(self._keep(scenario, run.image))
        if self.images is not None:
            self.images[scenario.name] = run.image
        return result

    def _repeated(self, scenario: Scenario, key: dict, first: ScenarioResult) -> ScenarioResult:
        """``first`` as it is when one run is final by the noise rule, else judged on more
        fresh runs (each in ``self.runs``); the runs are stored with the scenario's score."""
        if not first.measured or first.verdict not in (Verdict.GOOD, Verdict.BAD):
            return first
        samples = [tuple(s) for s in first.samples] if first.samples else [(first.correlation, first.sum_ratio)]
        noise, th = self.config.noise, self.config.thresholds
        fresh = 0
        while wants_another(samples, th.min_correlation, th.max_sum_ratio_error,
                            margin=noise.margin, repeats=noise.repeats, max_repeats=noise.max_repeats):
            start = time.monotonic()
            run = self._candidate(scenario, detector_shape(scenario.args))
            self.runs.append({"scenario": scenario.name, "probe_for": None, "seconds": time.monotonic() - start,
                              "cached": False, "repeat": len(samples)})
            if run.status == "skip":
                break  # the runs made so far are the evidence; a skip adds none
            metrics = compare(run.image, self.service.reference.image(scenario))
            samples.append((metrics.correlation, metrics.sum_ratio))
            fresh += 1
        if len(samples) == 1:
            return first
        if fresh:
            payload = self.service.cache.get_score(key)
            if payload is not None and payload.get("status") == "measured":
                self.service.cache.put_score(key, {**payload, "samples": [list(s) for s in samples]})
        return self._spread(first, samples)

    def _spread(self, first: ScenarioResult, samples: list[tuple[float, float]]) -> ScenarioResult:
        """The scenario judged on its runs' ``samples`` by the noise rule (an unresolved
        state is a skip); metrics are the means, with the spread beside them."""
        th = self.config.thresholds
        outcome = decide(samples, th.min_correlation, th.max_sum_ratio_error)
        alone = {decide([s], th.min_correlation, th.max_sum_ratio_error) for s in samples}
        corr, ratio = interval([c for c, _ in samples]), interval([r for _, r in samples])
        verdict = {Outcome.GOOD: Verdict.GOOD, Outcome.BAD: Verdict.BAD}.get(outcome, Verdict.SKIP)
        said = (f"{len(samples)} runs: correlation {corr.mean:.6f} (range {corr.low:.6f}..{corr.high:.6f}), "
                f"sum ratio {ratio.mean:.6f} (range {ratio.low:.6f}..{ratio.high:.6f})")
        reason = (f"{said}; unresolved: the confidence interval straddles a threshold"
                  if outcome is Outcome.UNRESOLVED else f"{said}; {outcome.value} by the noise rule")
        return replace(first, verdict=verdict, reason=reason, correlation=corr.mean, sum_ratio=ratio.mean,
                       runs=len(samples), samples=[list(s) for s in samples], flaky=len(alone) > 1,
                       spread={"correlation": corr.to_dict(), "sum_ratio": ratio.to_dict()})

    def _reference(self, scenario: Scenario, shape: tuple[int, int]) -> np.ndarray:
        reference = self.service.reference.image(scenario)
        if tuple(reference.shape) != shape:
            raise ReferenceFailure(f"reference image of scenario {scenario.name!r} has shape "
                                   f"{tuple(reference.shape)}, expected {shape} from its args")
        return reference

    def _candidate(self, scenario: Scenario, shape: tuple[int, int]) -> CandidateRun:
        try:
            ws = self.workspace()
            if self.setup_failure:
                return CandidateRun("skip", None, self.setup_failure, 0.0, lasting=False)
            return run_candidate(self.config, ws, scenario, shape)
        except OSError as exc:
            # A full or failing disk is the machine's fault, not the state's: stop the hunt
            # (exit 4) rather than skip every state after it.
            fault = MachineFault.of(exc)
            if fault is not None:
                raise fault from None
            # The candidate itself (it may delete its own folders) got in the way of
            # measuring this state: skip it, do not stop the whole hunt.
            return CandidateRun("skip", None, f"could not run the candidate: {exc}", 0.0, lasting=False)

    def _result(self, scenario: Scenario, metrics: Metrics, seconds: float, cached: bool) -> ScenarioResult:
        verdict, reason = judge(metrics, self.config.thresholds)
        if verdict is Verdict.ABORT:
            raise ReferenceFailure(f"scenario {scenario.name!r}: {reason}")
        return ScenarioResult(scenario.name, verdict, reason, correlation=metrics.correlation,
                              sum_ratio=metrics.sum_ratio, max_abs_diff=metrics.max_abs_diff,
                              rms_diff=metrics.rms_diff, seconds=seconds, cached=cached)

    def _keep(self, scenario: Scenario, image: np.ndarray) -> Path:
        """Save the candidate's image; the reference image stays in the cache, under its key."""
        import numpy as np  # only a run that keeps images pays for numpy here

        self.keep_images.mkdir(parents=True, exist_ok=True)
        path = self.keep_images / f"{self.state.name[:12]}-{procs.safe_label(scenario.name)}.npy"
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
