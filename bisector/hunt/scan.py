"""`bisector scan` for real: the first-parent history, scored through the cache, confirmed fresh.

:mod:`bisector.search.windows` decides what to judge; this module supplies the judge
(``score_commit`` on the first commit of a state, through the score cache), prints one
line per scored state with what remains, and re-runs both sides of every pinned
transition without the cache.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path

from .. import git
from ..config import Config, ConfigOverrides, load_config
from ..errors import BisectorError, ConfigError, EndpointError, HarnessAbort, ScanExit, as_reportable
from ..execute import Executor, open_executor
from ..report.bundle import new_report_dir
from ..report.text import first_reason
from ..report.timeline import save_scan_plot, write_scan_bundle
from ..execute.task import score_many
from ..invocation import program
from ..records import Phase, ScoreRecord
from ..report.reproduce import judge_argv
from ..score.scoring import score_commit
from ..score.verdict import Verdict
from .handler import HuntHandler, SilentHandler
from .confirm import is_fresh_full, shows_every_scenario
from .peek import CachePeek
from .probing import MIN_TRIALS, ProbeLedger
from ..report.writable import report_folder
from .prepare import CrashFolder, build_at, endpoints, prepare_references
from ..report.reproduce import reproduce_argv
from ..search.windows import PINNED, Run, Timeline, Transition, Window, distinct_keys, runs_of, search, timeline

# Exit codes of `bisector scan` (and of `run` when it continues as a scan; README).
WINDOWS_PINNED = ScanExit.PINNED       # at least one window's break pinned to one commit and confirmed
NOT_PINNED = ScanExit.NOT_PINNED      # windows found, none pinned and confirmed
NO_BAD_STATE = ScanExit.NO_BAD_STATE  # no scored state is bad


@dataclass(frozen=True)
class Confirmation:
    """Fresh full-size evidence (no cache, no probe) on both sides of a pinned transition:
    each side re-run unless the search already judged its state so (the commit's on every
    judged scenario; hunt/confirm.py has the rule)."""

    commit: str
    parent: str
    expected: tuple[Verdict, Verdict]          # verdicts the scan saw: (parent, commit)
    records: tuple[ScoreRecord, ScoreRecord]   # the fresh score records: (parent, commit)

    @property
    def confirmed(self) -> bool:
        return (self.records[0].verdict, self.records[1].verdict) == self.expected

    @property
    def reruns(self) -> list[ScoreRecord]:
        """The scorings made to confirm (the parent's may be the search's own)."""
        return [r for r in self.records if r.phase is Phase.CONFIRM]


@dataclass
class ScanResult:
    repo: Path
    good: str
    bad: str
    paths: tuple[str, ...]
    judge: tuple[str, ...]                      # judged scenarios
    thresholds: dict
    commits: list[str]                          # first-parent, oldest first (good included)
    runs: list[Run]
    timeline: Timeline
    records: dict[Hashable, ScoreRecord]        # run key -> score record
    judged_order: list[Hashable]
    fresh_states: int                           # states scored without the cache
    budget: int | None
    confirmations: dict[str, Confirmation] = field(default_factory=dict)   # commit -> confirmation
    full_records: dict[str, ScoreRecord] = field(default_factory=dict)     # commit -> full-size record
    reproduce: dict[str, list[str]] = field(default_factory=dict)          # commit -> `bisector score` argv
    judge_options: tuple[str, ...] = ()        # what a printed command needs to judge the same way
    seconds: float = 0.0
    conclusion: str = ""
    exit_code: int = NOT_PINNED
    report_dir: Path | None = None

    @property
    def distinct_states(self) -> int:
        return distinct_keys(self.runs)

    @property
    def scored_states(self) -> int:
        return len(self.judged_order)

    def record_of(self, run_index: int) -> ScoreRecord | None:
        return self.records.get(self.runs[run_index].key)

    def confirmed(self, t: Transition | None) -> bool | None:
        """True/False for a pinned transition judged on fresh full-size runs; None when there is
        nothing to confirm."""
        if t is None or t.kind != PINNED or t.commits[0] not in self.confirmations:
            return None
        return self.confirmations[t.commits[0]].confirmed

    def window_record(self, w: Window) -> ScoreRecord | None:
        """The full-size evidence of a window's first bad state: the break's confirming run when
        it was pinned, else a full-size scoring of the state (the search's record may be its probe's)."""
        first = self.runs[w.first_bad_run].first
        c = self.confirmations.get(first)
        if c is not None:
            return c.records[1]
        return self.full_records.get(first) or self.record_of(w.first_bad_run)

    def pinned_windows(self) -> list:
        return [w for w in self.timeline.windows if self.confirmed(w.start)]


class GoodTip(EndpointError):
    """The bad endpoint is good: the history may hold windows that a bisection cannot see."""

    def refusal(self, config: Config, good: str, bad: str, states: int) -> EndpointError:
        """The refusal `run` gives for an explicit good --bad: the evidence and the scan to run."""
        argv = [*program(), "scan", "--repo", str(config.repo), "--good", good, "--bad", bad,
                *judge_argv(Path(config.repo), config)]
        return EndpointError(self.message,
                             hint=f"the tip may be good again after one or more fixed windows: "
                                  f"`{shlex.join(argv)}` scores {states} distinct states and pins every window")


def scan_history(repo: Path, good: str, bad: str | None = None, *, config_file: Path | None = None,
                 overrides: ConfigOverrides | None = None, report_root: Path | None = None,
                 budget: int | None = None, handler: HuntHandler | None = None, jobs: int = 1,
                 executor: str | None = None) -> ScanResult:
    """Score every distinct state of good..bad (first parent) and pin every window of broken parity.

    Raises BisectorError (bad input), HarnessAbort/ReferenceFailure (the harness stopped),
    InternalError (a bug of ours, with its traceback in a crash log in the cache folder).
    """
    handler = handler or SilentHandler()
    crash = CrashFolder()
    started = time.monotonic()
    try:
        repo = git.toplevel(Path(repo))
        good_sha, bad_sha = endpoints(repo, good, bad)
        config = load_config(repo, config_file, overrides)
        crash.path = config.cache_dir
        for notice in config.notices:
            handler.notice(notice)
        config = prepare_references(build_at(config, good_sha), handler)
        with open_executor(executor, jobs) as pool:
            return scan_and_report(config, good_sha, bad_sha, budget, report_root, handler, pool, started=started)
    except BisectorError:
        raise
    except Exception as exc:
        raise as_reportable(exc, crash.path) from None


def scan_and_report(config: Config, good: str, bad: str, budget: int | None, report_root: Path | None,
                    handler: HuntHandler, pool: Executor | None = None, *, started: float | None = None) -> ScanResult:
    """Scan, write the data of the report, print the verdict, then draw the plot.
    ``started``: when the hunt began (its references included), for the timing."""
    root = report_folder(report_root, "scan")
    result = scan_range(config, good, bad, budget=budget, handler=handler, executor=pool, started=started)
    result.report_dir = write_scan_bundle(result, new_report_dir(root))
    handler.finished(result)
    save_scan_plot(result, result.report_dir)
    return result


def count_states(repo: Path, good: str, bad: str, paths: list[str]) -> int:
    return distinct_keys(plan(repo, good, bad, paths)[1])


def plan(repo: Path, good: str, bad: str, paths: list[str]) -> tuple[list[str], list[Run]]:
    """The first-parent commits of good..bad (good first) grouped into runs of equal relevant trees."""
    commits = git.first_parent_commits(repo, good, bad)
    keys = git.tree_ids_many(repo, commits, paths)
    return commits, runs_of(commits, keys)


def scan_range(config: Config, good: str, bad: str, *, budget: int | None = None,
               handler: HuntHandler | None = None, confirm: bool = True,
               executor: Executor | None = None, started: float | None = None) -> ScanResult:
    """Score the states of good..bad (first parent), find every window, confirm its edges.

    With an ``executor`` of several workers and no budget, every distinct state is scored
    up front, all at once (without a budget the search judges each of them anyway).
    """
    handler = handler or SilentHandler()
    started = time.monotonic() if started is None else started
    repo = Path(config.repo)
    commits, runs = plan(repo, good, bad, list(config.paths))
    if all(not any(run.key) for run in runs):
        raise ConfigError(f"the relevant paths ({', '.join(config.paths)}) match no file anywhere in "
                          f"{good[:10]}..{bad[:10]}: there is nothing to scan",
                          hint="pass --paths with the folder of the port's source (or set `paths` in the configuration)")
    distinct = distinct_keys(runs)
    handler.progress(f"scan {good[:10]}..{bad[:10]}: {len(commits)} first-parent commits, {len(runs)} "
                  f"stretches of equal {', '.join(config.paths)}, {distinct} distinct states"
                  + (f", budget {budget} new scorings (cached states are free)" if budget is not None else ""))
    position = {sha: i + 1 for i, sha in enumerate(commits)}  # where a state lies in the history
    first_of = {}
    for run in runs:
        first_of.setdefault(run.key, run.first)
    records: dict[Hashable, ScoreRecord] = {}
    fresh_seconds: list[float] = []
    ahead: dict[str, ScoreRecord] = {}
    evidence = _Evidence(config)
    if executor is not None and executor.workers > 1 and budget is None:
        states = list(first_of.values())
        with handler.busy(f"scoring {len(states)} states on {executor.workers} workers"):
            ahead = _score_ahead(executor, config, states, evidence, good)

    def judge(key: Hashable) -> Verdict:
        sha = first_of[key]
        with handler.busy(f"scoring state {len(records) + 1}/{distinct}: {sha[:10]}"):
            record = ahead.pop(sha, None)
            if record is None:
                # The good endpoint is expected good, and a probe can only convict: like `run`, judge it in full.
                record = score_commit(config, sha, use_probes=sha != good and evidence.probes.pays(),
                                      until_bad=evidence.order())
                evidence.observe(record)
            record = record.in_phase(Phase.SCAN)
        records[key] = record
        if record.verdict is Verdict.ABORT:
            raise HarnessAbort(f"scoring {sha[:10]} failed in the harness, not in the commit: "
                               f"{first_reason(record)}")
        if not all(sc.cached for sc in record.scenarios):
            fresh_seconds.append(record.seconds)
        handler.step_scored(f"state {len(records)}/{distinct} (commit {position[sha]} of {len(commits)})",
                            record, git.commit_info(repo, sha).subject,
                            _remaining(len(records), distinct, fresh_seconds))
        return record.verdict

    cached = set(CachePeek(config).cached(list(first_of.values()))) if budget is not None else set()
    found = search(runs, judge, budget=budget, free=lambda key: first_of[key] in cached)
    result = ScanResult(repo=repo, good=good, bad=bad, paths=tuple(config.paths), judge=tuple(config.judge),
                        thresholds={"min_correlation": config.thresholds.min_correlation,
                                    "max_sum_ratio_error": config.thresholds.max_sum_ratio_error},
                        commits=commits, runs=runs, timeline=timeline(runs, found.verdicts),
                        records=records, judged_order=found.judged_keys,
                        fresh_states=len(fresh_seconds), budget=budget,
                        judge_options=tuple(judge_argv(repo, config)))
    if confirm:
        _confirm_transitions(config, result, handler)
    result.exit_code, result.conclusion = _conclude(result)
    result.seconds = time.monotonic() - started
    return result


class _Evidence:
    """What the scan has learnt about judging its states: whether probes pay (ProbeLedger)
    and which scenarios convict. A state is judged until its first bad scenario, the ones
    that convicted most states so far first: on a window that breaks one scenario the
    state's other scenarios are not run (a good state runs them all, in any order)."""

    def __init__(self, config: Config):
        self.judge = tuple(config.judge)
        self.probes = ProbeLedger()
        self.convictions = dict.fromkeys(self.judge, 0)

    def observe(self, record: ScoreRecord) -> None:
        self.probes.observe(record)
        for sc in record.scenarios:
            if sc.verdict is Verdict.BAD and sc.name in self.convictions:
                self.convictions[sc.name] += 1

    def order(self) -> list[str]:
        return sorted(self.judge, key=lambda name: -self.convictions[name])  # stable: ties keep the configured order


def _score_ahead(executor: Executor, config: Config, states: list[str], evidence: _Evidence,
                 good: str) -> dict[str, ScoreRecord]:
    """Every state scored on the executor's workers, in rounds, so the probe rule and the
    scenario order follow the evidence like a serial scan's: the first round (at least
    MIN_TRIALS states) measures, each later one is judged on what the rounds before found.
    A round ends when its slowest state does, so rounds hold a few states per worker.
    The good endpoint is judged in full, as in a serial scan."""
    records: dict[str, ScoreRecord] = {}
    size = max(executor.workers, MIN_TRIALS)
    todo = list(states)
    while todo:
        batch, todo = todo[:size], todo[size:]
        scored = score_many(executor, config, batch, full_only={good} if evidence.probes.pays() else set(batch),
                            until_bad=evidence.order())
        for sha, record in zip(batch, scored):
            evidence.observe(record)
            records[sha] = record
        size = 4 * executor.workers
    return records


def _remaining(done: int, total: int, fresh_seconds: list[float]) -> str:
    """About how long the states left take, from the states run so far ("" when unknown)."""
    left = max(total - done, 0)
    if left and fresh_seconds:
        return f"about {_duration(left * sum(fresh_seconds) / len(fresh_seconds))} left"
    return ""


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _confirm_transitions(config: Config, result: ScanResult, handler: HuntHandler) -> None:
    verdicts = result.timeline.verdicts
    for window in result.timeline.windows:
        for t in (window.start, window.end):
            if t is None or t.kind != PINNED or t.commits[0] in result.confirmations:
                continue
            commit = t.commits[0]
            parent = result.runs[t.before].last  # the commit's first parent on the mainline
            # The states judged fresh at full size by this scan are their own evidence (the
            # commit's only with every scenario run); the rest is re-run, fresh and in full:
            # the probe may convict during the search, never here.
            fresh = []
            for sha, run, enough in ((parent, t.before, is_fresh_full), (commit, t.after, shows_every_scenario)):
                searched = result.record_of(run)
                if searched is not None and enough(searched, config):
                    fresh.append(searched)
                    continue
                with handler.busy(f"confirming: fresh full-size re-run of {sha[:10]}"):
                    fresh.append(score_commit(config, sha, use_cache=False, use_probes=False)
                                 .in_phase(Phase.CONFIRM))
            expected = (verdicts[t.before], verdicts[t.after])
            c = Confirmation(commit=commit, parent=parent, expected=expected, records=(fresh[0], fresh[1]))
            result.confirmations[commit] = c
            what = "break" if t.to is Verdict.BAD else "fix"
            for label, sha, record in ((f"{what} parent", parent, fresh[0]), (what, commit, fresh[1])):
                if record.phase is Phase.CONFIRM:
                    handler.confirmed(label, record, git.commit_info(result.repo, sha).subject)
            # Short enough for 80 columns: "break", NOT and "abort" at once fill exactly 80.
            how = ["re-run" if r.phase is Phase.CONFIRM else "scanned" for r in fresh]
            handler.progress(f"  {what} {commit[:10]} {'confirmed' if c.confirmed else 'NOT confirmed'}: parent "
                             f"{fresh[0].verdict.value} ({how[0]}), commit {fresh[1].verdict.value} ({how[1]})")
    for window in result.timeline.windows:
        first = result.runs[window.first_bad_run].first
        record = result.record_of(window.first_bad_run)
        if first not in result.confirmations and record and any(sc.via_probe for sc in record.scenarios):
            with handler.busy(f"full-size metrics of {first[:10]}"):
                result.full_records[first] = score_commit(config, first, use_probes=False).in_phase(Phase.CONFIRM)
        result.reproduce[first] = reproduce_argv(result.repo, first, config)


def _conclude(result: ScanResult) -> tuple[int, str]:
    tl = result.timeline
    gaps = _what_is_not_known(result)
    if not tl.windows:
        if gaps:
            return NO_BAD_STATE, f"No scored state in the range is bad, but parity is not established: {gaps}."
        return NO_BAD_STATE, "No scored state in the range is bad: parity holds along the history."
    pinned = result.pinned_windows()
    text = (f"{len(tl.windows)} window(s) of broken parity; {len(pinned)} pinned to one commit and "
            f"confirmed on fresh full-size runs.")
    if gaps:
        text += f" Not known: {gaps}; they may hide more windows (see timeline.md)."
    return (WINDOWS_PINNED if pinned else NOT_PINNED), text


def _what_is_not_known(result: ScanResult) -> str:
    """The distinct states the scan could not judge (untestable, or unresolved: a noisy port's
    runs straddling a threshold) or did not (the budget), in words."""
    tl = result.timeline
    skipped = {result.runs[i].key: result.record_of(i) for i in tl.untestable}
    unresolved = sum(1 for record in skipped.values() if record and record.unresolved)
    untestable = len(skipped) - unresolved
    unscored = len({result.runs[i].key for s in tl.unscored for i in range(s.start, s.stop)} - {
        result.runs[i].key for i in tl.verdicts})
    parts = []
    if untestable:
        parts.append(f"{untestable} of {result.distinct_states} distinct states were untestable")
    if unresolved:
        parts.append(f"{unresolved} of {result.distinct_states} distinct states were unresolved (their repeated "
                     "runs straddle a threshold)")
    if unscored:
        parts.append(f"{unscored} states in {len(tl.unscored)} stretches were left unscored by the budget")
    return " and ".join(parts)
