"""`bisector run`: the sequential hunt (git bisect run) or rounds on workers, then a fresh
confirmation and the report.

The driver: endpoints first (a good tip goes on as a scan on the same workers), then
`git bisect run` with the pinned scoring step (hunt/step.py) or, with ``jobs`` > 1, rounds
chosen by the pure search (hunt/rounds.py over search/bisection.py); then the culprit and
its parent judged fresh at full size (hunt/confirm.py). Everything is reported through a
:class:`~bisector.hunt.handler.HuntHandler`.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from .. import git
from ..config import Config, ConfigOverrides, load_config
from ..errors import BisectorError, EndpointError, HarnessAbort, RunExit, as_reportable
from ..execute import Executor, open_executor
from ..execute.task import score_many
from ..report.bundle import RunFindings, new_report_dir, write_bundle
from ..report.pictures import run_pictures
from ..report.reproduce import reproduce_argv
from ..report.text import first_reason, scenario_text, shown
from ..score import procs
from ..score.scoring import environment_key
from ..records import Phase, ScoreRecord
from ..score.verdict import Verdict
from ..store.events import EventLog, EventType
from . import rounds
from .bisectlog import parse_bisect_log
from .confirm import Confirmation, confirm_culprit, pictured_runs
from .handler import HuntHandler, SilentHandler
from .probing import ProbeLedger, bad_endpoint_probe_can_pay
from ..report.writable import report_folder
from .prepare import CrashFolder, build_at, endpoints, prepare_references, references_settled
from .scan import GoodTip, ScanResult, count_states, scan_and_report
from .session import PrivateBisect
from .step import KnownStates
from .walk import GitWalk, walk_range


@dataclass
class BisectResult:
    culprit: str | None
    candidates: list[str]
    confirmed: bool | None
    report_dir: Path | None
    records: list[ScoreRecord]
    walk: GitWalk
    conclusion: str
    exit_code: int
    confirmation: dict = dataclasses.field(default_factory=dict)  # hunt/confirm.py Confirmation.to_dict()
    scan: ScanResult | None = None  # set when a good tip turned the run into a scan
    repo: Path | None = None
    reproduce: list[str] = dataclasses.field(default_factory=list)  # argv that re-judges the culprit

    @property
    def scored_commits(self) -> int:
        return len({r.commit for r in self.records})


def run_bisect(repo: Path, good: str, bad: str | None = None, *, config_file: Path | None = None,
               overrides: ConfigOverrides | None = None, report_root: Path | None = None,
               keep_worktree: bool = False, handler: HuntHandler | None = None, jobs: int = 1,
               executor: str | None = None) -> BisectResult:
    """Find the first commit in good..bad whose image misses the thresholds.

    ``jobs`` > 1 scores that many commits per round on ``executor`` (see bisector.execute).

    Raises BisectorError (bad input), EndpointError (good is not good or bad is not bad),
    HarnessAbort/ReferenceFailure (the harness stopped), InternalError (a bug of ours,
    with its traceback in a crash log).
    """
    crash = CrashFolder()
    try:
        # Images of fresh runs (endpoints, steps, confirmations) live here until the report has them.
        with procs.scratch_dir("bisector-images-") as kept, open_executor(executor, jobs) as pool:
            return _run_bisect(repo, good, bad, config_file, overrides, report_root, keep_worktree,
                               handler or SilentHandler(), crash, Path(kept), pool, jobs)
    except BisectorError:
        raise
    except Exception as exc:
        raise as_reportable(exc, crash.path) from None


def _run_bisect(repo, good, bad, config_file, overrides, report_root, keep_worktree, handler: HuntHandler,
                crash: CrashFolder, kept: Path, pool: Executor, jobs: int) -> BisectResult:
    started = time.monotonic()
    procs.prune_orphans()  # what a run killed with SIGKILL left behind
    repo = git.toplevel(Path(repo))
    good_sha, bad_sha = endpoints(repo, good, bad)
    config = load_config(repo, config_file, overrides)
    crash.path = config.cache_dir
    scan_root = Path(report_root) if report_root else None
    report_root = report_folder(report_root, "bisect")  # a hunt must not end unable to report
    for notice in config.notices:
        handler.notice(notice)
    walk = walk_range(repo, good_sha, bad_sha, list(config.paths))
    handler.progress(f"range {good_sha[:10]}..{bad_sha[:10]}: {walk.commits} commits, "
                     f"{walk.relevant_commits} touch {', '.join(config.paths)}")

    # The local executor scores the endpoints in this process: their candidates run while the
    # references are made.
    config = prepare_references(build_at(config, good_sha), handler, alongside=pool.name == "local")
    findings = RunFindings(repo=repo, walk=walk, config=json.loads(config.to_json()), started=started)
    try:
        with references_settled(config):
            findings.records += _score_endpoints(config, good_sha, bad_sha, handler, kept, pool,
                                                 probe_bad=bad_endpoint_probe_can_pay(walk.relevant_commits))
    except GoodTip as tip:
        if bad is not None:
            raise tip.refusal(config, good, bad, count_states(repo, good_sha, bad_sha, list(config.paths)))
        handler.notice(f"HEAD {bad_sha[:10]} is good again: going on as a scan of "
                       f"{good_sha[:10]}..{bad_sha[:10]} to find every window")
        # the scan keeps the run's workers: every state is scored up front on them
        return _as_bisect_result(scan_and_report(config, good_sha, bad_sha, None, scan_root, handler, pool,
                                                 started=started), walk)

    if walk.relevant_commits == 0:
        return _finish(findings.conclude(
            f"No commit in {good_sha[:10]}..{bad_sha[:10]} touches {', '.join(config.paths)}, "
            "yet the endpoints disagree: the cause lies outside the relevant paths "
            "(the environment, or a path missing from `paths`).", RunExit.NO_CULPRIT),
            config, report_root, handler, crash)

    outcome, output = _bisect(repo, config, good_sha, bad_sha, walk, keep_worktree, findings, handler,
                              pool, jobs, kept / "steps")
    if not outcome.finished:
        steps = findings.in_phase(Phase.BISECT)
        reason = _abort_reason(steps[-1] if steps else None, output)
        return _finish(findings.conclude(
            f"The bisection was aborted by the harness, not by a commit: {reason}", RunExit.HARNESS),
            config, report_root, handler, crash)

    if outcome.culprit is None:
        return _finish(findings.conclude(
            "Skipped (untestable) commits border the culprit: the first bad commit is one of "
            f"{len(outcome.candidates)} candidates listed below; fix the skip cause "
            "(see bisect_log.md) or score each by hand with "
            f"`{shlex.join(reproduce_argv(repo, 'SHA', config))}` (SHA: a candidate).",
            RunExit.FOUND, candidates=outcome.candidates), config, report_root, handler, crash)

    confirmation = _confirm(config, repo, outcome.culprit, findings.records, kept, handler)
    findings.records += confirmation.reruns
    findings.confirmation = confirmation.to_dict()
    findings.pictures = run_pictures(config, confirmation)
    confirmed = confirmation.confirmed
    conclusion = _culprit_conclusion(repo, outcome.culprit, confirmation)
    return _finish(findings.conclude(conclusion, RunExit.FOUND if confirmed else RunExit.NO_CULPRIT,
                                     culprit=outcome.culprit, confirmed=confirmed),
                   config, report_root, handler, crash)


def _bisect(repo: Path, config: Config, good_sha: str, bad_sha: str, walk: GitWalk, keep_worktree: bool,
            findings: RunFindings, handler: HuntHandler, pool: Executor, jobs: int, images: Path):
    """git bisect run (or, for jobs > 1, multisection rounds) in the private repository;
    its outcome and output, the steps in ``findings``; git's steps keep their images under ``images``."""
    with PrivateBisect(repo, bad_sha, keep=keep_worktree) as bisect:
        bisect.start(bad_sha, good_sha, list(config.paths))
        probes = ProbeLedger()
        for record in findings.in_phase(Phase.ENDPOINT):
            probes.observe(record)
        if jobs > 1 and rounds.fits(repo, good_sha, bad_sha, handler):
            hunt = rounds.run_rounds(bisect, config, pool, jobs, good_sha, bad_sha, handler, probes)
            findings.records += hunt.steps
            return hunt.outcome, hunt.abort or ""
        known = KnownStates.of(walk, environment_key(config))
        argv = bisect.pinned_scorer(config.to_json(), probes.to_json(), known.to_json(), images)
        events = EventLog(bisect.events_path)
        subjects: dict[str, str] = {}
        with handler.bisect_display(walk.relevant_commits, subjects, findings.records, config) as display:
            def poll() -> None:
                for event in events.follow():
                    if event.commit and event.commit not in subjects:
                        subjects[event.commit] = git.commit_info(repo, event.commit).subject
                    display.show(event)
            returncode, output = bisect.run(argv, poll, tick=display.tick)
        outcome = parse_bisect_log(bisect.log())
        findings.records += [e.record for e in events.read_all() if e.type is EventType.SCORED and e.record]
        if keep_worktree:
            handler.notice(f"private bisect repository kept at {bisect.worktree}")
    return outcome, output


def _as_bisect_result(result: ScanResult, walk: GitWalk) -> BisectResult:
    pinned = [w.start.commits[0] for w in result.pinned_windows()]
    records = list(result.records.values())
    records += [r for c in result.confirmations.values() for r in c.reruns]
    return BisectResult(culprit=pinned[0] if len(pinned) == 1 else None, candidates=pinned,
                        confirmed=bool(pinned) or None, report_dir=result.report_dir, records=records,
                        walk=walk, conclusion=result.conclusion, exit_code=result.exit_code, scan=result,
                        repo=result.repo)


def _score_endpoints(config: Config, good: str, bad: str, handler: HuntHandler, kept: Path,
                     pool: Executor, probe_bad: bool) -> list[ScoreRecord]:
    """Score both endpoints (at once when the executor has room). A probe may convict the bad
    one (with ``probe_bad``), never clear the good one: the good endpoint is judged on the full
    scenarios. Both keep their images: they may be the evidence of the culprit's parent or of
    the culprit."""
    records = []
    with handler.busy(f"scoring the endpoints {good[:10]} and {bad[:10]}"):
        scored = score_many(pool, config, [good, bad], keep_images={good: kept / "good", bad: kept / "bad"},
                            full_only={good} if probe_bad else {good, bad})
    for (label, sha, wanted), record in zip((("good", good, Verdict.GOOD), ("bad", bad, Verdict.BAD)), scored):
        record = record.in_phase(Phase.ENDPOINT)
        records.append(record)
        handler.endpoint_scored(label, record, git.commit_info(Path(config.repo), sha).subject)
        if record.verdict is Verdict.ABORT:
            raise HarnessAbort(f"scoring the {label} endpoint failed in the harness: {first_reason(record)}")
        if label == "bad" and record.verdict is Verdict.GOOD:
            raise GoodTip(_endpoint_evidence(label, record, wanted))
        if record.verdict is not wanted:
            raise EndpointError(_endpoint_evidence(label, record, wanted), hint=_endpoint_hint(label, record.verdict, record.unresolved))
    return records


def _endpoint_evidence(label: str, record: ScoreRecord, wanted: Verdict) -> str:
    lines = [f"the {label} endpoint {record.commit[:10]} is {record.verdict.value}, not {wanted.value}:"]
    lines += [f"  {scenario_text(sc)}" for sc in record.scenarios]
    return "\n".join(lines)


def _endpoint_hint(label: str, verdict: Verdict, unresolved: bool = False) -> str:
    if unresolved:  # noisy runs on both sides of a threshold (score/noise.py)
        return (f"the {label} commit's repeated runs straddle a threshold: seed the port (seed_env or "
                f"seed_arg), raise max_repeats, or pick another {label} commit")
    if verdict is Verdict.SKIP:
        return f"the {label} commit cannot be tested; pick another {label} commit"
    if label == "good":
        return "the 'good' commit does not match the reference: pick an older known-good commit"
    return ("the 'bad' commit matches the reference (the tip may be good again): "
            "pass --bad with a commit whose image is known to be wrong")


def _confirm(config: Config, repo: Path, culprit: str, records: list[ScoreRecord], kept: Path,
             handler: HuntHandler) -> Confirmation:
    """Fresh full-scenario evidence on both sides of the culprit (hunt/confirm.py)."""
    def announce(label: str, record: ScoreRecord) -> None:
        handler.confirmed(label, record, git.commit_info(repo, record.commit).subject)

    with handler.busy(f"confirming {culprit[:10]} and its parent on the full scenarios"):
        confirmation = confirm_culprit(config, culprit, records, kept / "confirm", announce)
    for side in (confirmation.parent, confirmation.culprit):
        runs = ", ".join(f"{r.phase.value if r.phase else ''} {r.commit[:10]} {r.verdict.value}"
                         for r in side.runs) or "none"
        handler.progress(f"  {side.label} {side.commit[:10]} confirmed {side.wanted.value} by: {runs}")
    return confirmation


def _culprit_conclusion(repo: Path, culprit: str, confirmation: Confirmation) -> str:
    ci = git.commit_info(repo, culprit)
    subject, author = shown(ci.subject), shown(ci.author)
    if confirmation.same_state:
        return (f"git named `{ci.short}` \"{subject}\", but it changes none of the relevant paths "
                "(its relevant tree equals its parent's): the verdicts differ for a reason outside "
                "the code under test (the environment, a flaky benchmark, or a path missing from "
                "`paths`); treat the culprit as unconfirmed.")
    failing = [sc for sc in pictured_runs(confirmation)[1].scenarios if sc.verdict is not Verdict.GOOD]
    what = "; ".join(scenario_text(sc) for sc in failing) or "no scenario failed"
    if confirmation.confirmed:
        return (f"`{ci.short}` \"{subject}\" ({author}, {ci.date[:10]}) breaks parity: {what}. "
                "Its parent's state is good on a fresh full run, so the change in this commit is the cause.")
    verdicts = ", ".join(f"{r.phase.value if r.phase else ''} {r.commit[:10]} {r.verdict.value}"
                         for r in confirmation.parent.runs + confirmation.culprit.runs)
    return (f"git named `{ci.short}` \"{subject}\", but a fresh re-run does not reproduce the "
            f"verdicts ({verdicts}): the benchmark is flaky or depends on the environment; "
            "treat the culprit as unconfirmed.")


def _abort_reason(last: ScoreRecord | None, output: str) -> str:
    if last and last.verdict is Verdict.ABORT:
        return first_reason(last)
    tail = [line for line in output.strip().splitlines() if line.strip()][-3:]
    return " / ".join(tail) or "git bisect run stopped without a result"


def _finish(findings: RunFindings, config: Config, report_root: Path, handler: HuntHandler,
            crash: CrashFolder) -> BisectResult:
    """The verdict first (to the handler, then results.json), the decoration after: a report
    folder that fills up loses figures and Markdown, never the culprit."""
    findings.reproduce = reproduce_argv(findings.repo, findings.culprit, config)
    findings.seconds = time.monotonic() - findings.started
    result = BisectResult(culprit=findings.culprit, candidates=findings.candidates, confirmed=findings.confirmed,
                          report_dir=None, records=findings.records, walk=findings.walk,
                          conclusion=findings.conclusion, exit_code=findings.exit_code,
                          confirmation=findings.confirmation, repo=findings.repo, reproduce=findings.reproduce)
    handler.finished(result)
    try:
        result.report_dir = new_report_dir(report_root)
        crash.path = result.report_dir
        write_bundle(findings, result.report_dir)
    except OSError as exc:
        raise HarnessAbort(f"cannot write the report under {report_root}: {exc.strerror or exc}"
                           f"{f' ({exc.filename})' if exc.filename else ''}; the verdict above stands "
                           f"(exit {int(findings.exit_code)} had the report been written)",
                           hint="free space there, or pass --report-dir with another folder") from None
    handler.report_written(result.report_dir)
    return result
