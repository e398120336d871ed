"""The library surface: what the CLI commands call, and what tests and the demo call directly."""

from __future__ import annotations

import dataclasses
import json
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.text import Text

from . import git
from .config import Config, ConfigOverrides, load_config
from .errors import (BisectorError, ConfigError, EndpointError, ExitCode, GitError, HarnessAbort,
                     InternalError)
from .hunt.bisectlog import parse_bisect_log
from .hunt.confirm import Confirmation, confirm_culprit, pictured_runs
from .hunt.progress import BisectDisplay
from .report.reproduce import reproduce_argv
from .score import procs
from .store.cache import Cache
from .hunt.session import PrivateBisect
from .hunt.step import commit_under_test
from .hunt.walk import GitWalk, walk_range
from .execute import Executor, open_executor
from .execute.task import score_many
from .hunt import rounds
from .hunt.scan import GoodTip, ScanResult, count_states, scan_range
from .report.timeline import print_timeline, write_scan_bundle
from .report.bundle import RunFindings, new_report_dir, write_bundle
from .report.text import first_reason, scenario_text, score_line, shown
from .score.reference import pin_reference, reference_for
from .score.scoring import Phase, ScoreRecord, score_commit
from .score.verdict import Verdict
from .store.events import EventLog, EventType


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

    @property
    def scored_commits(self) -> int:
        return len({r.commit for r in self.records})


@dataclass
class _CrashFolder:
    """Where a crash log goes: the report folder once it exists, else the cache folder."""

    path: Path | None = None


def run_bisect(repo: Path, good: str, bad: str | None = None, *, config_file: Path | None = None,
               overrides: ConfigOverrides | None = None, report_root: Path | None = None,
               keep_worktree: bool = False, console: Console | None = None, jobs: int = 1,
               executor: str | None = None) -> BisectResult:
    """Find the first commit in good..bad whose image misses the thresholds.

    ``jobs`` > 1 scores that many commits per round on ``executor`` (see bisector.execute).

    Raises BisectorError (bad input), EndpointError (good is not good or bad is not bad),
    HarnessAbort/ReferenceFailure (the harness stopped), InternalError (a bug of ours,
    with its traceback in a crash log).
    """
    crash = _CrashFolder()
    try:
        # Images of fresh full runs (good endpoint, confirmations) live here until the report has them.
        with tempfile.TemporaryDirectory(prefix="bisector-images-") as kept, open_executor(executor, jobs) as pool:
            return _run_bisect(repo, good, bad, config_file, overrides, report_root, keep_worktree,
                               console or Console(stderr=True, soft_wrap=True), crash, Path(kept), pool, jobs)
    except BisectorError:
        raise
    except Exception as exc:
        raise InternalError.from_exception(exc, crash.path) from None


def _run_bisect(repo, good, bad, config_file, overrides, report_root, keep_worktree, console,
                crash: _CrashFolder, kept: Path, pool: Executor, jobs: int) -> BisectResult:
    procs.prune_orphans()  # what a run killed with SIGKILL left behind
    repo = git.toplevel(Path(repo))
    good_sha, bad_sha = _endpoints(repo, good, bad)
    config = load_config(repo, config_file, overrides)
    crash.path = config.cache_dir
    scan_root = Path(report_root) if report_root else None
    report_root = _writable_report_root(report_root)
    for notice in config.notices:
        console.print(Text("note:", style="yellow").append(f" {notice}", style=""))
    walk = walk_range(repo, good_sha, bad_sha, list(config.paths))
    console.print(f"range {good_sha[:10]}..{bad_sha[:10]}: {walk.commits} commits, "
                  f"{walk.relevant_commits} touch {', '.join(config.paths)}", markup=False)

    config = _prepare_references(_build_at(config, good_sha), console)
    findings = RunFindings(repo=repo, walk=walk, config=json.loads(config.to_json()))
    try:
        findings.records += _score_endpoints(config, good_sha, bad_sha, console, kept, pool)
    except GoodTip as tip:
        if bad is not None:
            raise tip.refusal(repo, good, bad, count_states(repo, good_sha, bad_sha, list(config.paths)))
        console.print(f"HEAD {bad_sha[:10]} is good again: going on as a scan of "
                      f"{good_sha[:10]}..{bad_sha[:10]} to find every window", markup=False)
        # the scan keeps the run's workers: every state is scored up front on them
        return _as_bisect_result(_scan_and_report(config, good_sha, bad_sha, None, scan_root, console, pool), walk)

    if walk.relevant_commits == 0:
        return _finish(findings.conclude(
            f"No commit in {good_sha[:10]}..{bad_sha[:10]} touches {', '.join(config.paths)}, "
            "yet the endpoints disagree: the cause lies outside the relevant paths "
            "(the environment, or a path missing from `paths`).", ExitCode.NO_CULPRIT),
            config, report_root, console, crash)

    outcome, output = _bisect(repo, config, good_sha, bad_sha, walk, keep_worktree, findings, console,
                              pool, jobs)
    if not outcome.finished:
        steps = findings.in_phase(Phase.BISECT)
        reason = _abort_reason(steps[-1] if steps else None, output)
        return _finish(findings.conclude(
            f"The bisection was aborted by the harness, not by a commit: {reason}", ExitCode.ABORTED),
            config, report_root, console, crash)

    if outcome.culprit is None:
        return _finish(findings.conclude(
            "Skipped (untestable) commits border the culprit: the first bad commit is one of "
            f"{len(outcome.candidates)} candidates listed below; fix the skip cause "
            "(see bisect_log.md) or score them by hand with `bisector score <sha>`.",
            ExitCode.FOUND, candidates=outcome.candidates), config, report_root, console, crash)

    confirmation = _confirm(config, repo, outcome.culprit, findings.records, kept, console)
    findings.records += confirmation.reruns
    findings.confirmation = confirmation.to_dict()
    findings.pictures = _pictures(config, confirmation)
    confirmed = confirmation.confirmed
    conclusion = _culprit_conclusion(repo, outcome.culprit, confirmation)
    return _finish(findings.conclude(conclusion, ExitCode.FOUND if confirmed else ExitCode.NO_CULPRIT,
                                     culprit=outcome.culprit, confirmed=confirmed),
                   config, report_root, console, crash)


def _bisect(repo: Path, config: Config, good_sha: str, bad_sha: str, walk: GitWalk, keep_worktree: bool,
            findings: RunFindings, console: Console, pool: Executor, jobs: int):
    """git bisect run (or, for jobs > 1, multisection rounds) in the private repository;
    its outcome and output, the steps in ``findings``."""
    with PrivateBisect(repo, bad_sha, keep=keep_worktree) as bisect:
        bisect.start(bad_sha, good_sha, list(config.paths))
        if jobs > 1 and rounds.fits(repo, good_sha, bad_sha, console):
            hunt = rounds.run_rounds(bisect, config, pool, jobs, good_sha, bad_sha, console)
            findings.records += hunt.steps
            return hunt.outcome, hunt.abort or ""
        argv = bisect.pinned_scorer(config.to_json())
        events = EventLog(bisect.events_path)
        subjects: dict[str, str] = {}
        with BisectDisplay(console, walk.relevant_commits, subjects, findings.records, config) as display:
            def poll() -> None:
                for event in events.follow():
                    if event.commit and event.commit not in subjects:
                        subjects[event.commit] = git.commit_info(repo, event.commit).subject
                    display.show(event)
            returncode, output = bisect.run(argv, poll, tick=display.tick)
        outcome = parse_bisect_log(bisect.log())
        findings.records += [e.record for e in events.read_all() if e.type is EventType.SCORED and e.record]
        if keep_worktree:
            console.print(f"private bisect repository kept at {bisect.worktree}", markup=False)
    return outcome, output


def scan_history(repo: Path, good: str, bad: str | None = None, *, config_file: Path | None = None,
                 overrides: ConfigOverrides | None = None, report_root: Path | None = None,
                 budget: int | None = None, console: Console | None = None, jobs: int = 1,
                 executor: str | None = None) -> ScanResult:
    """Score every distinct state of good..bad (first parent) and pin every window of broken parity.

    Raises BisectorError (bad input), HarnessAbort/ReferenceFailure (the harness stopped),
    InternalError (a bug of ours, with its traceback in a crash log in the cache folder).
    """
    console = console or Console(stderr=True, soft_wrap=True)
    crash = _CrashFolder()
    try:
        repo = git.toplevel(Path(repo))
        good_sha, bad_sha = _endpoints(repo, good, bad)
        config = load_config(repo, config_file, overrides)
        crash.path = config.cache_dir
        for notice in config.notices:
            console.print(Text("note:", style="yellow").append(f" {notice}", style=""))
        config = _prepare_references(_build_at(config, good_sha), console)
        with open_executor(executor, jobs) as pool:
            return _scan_and_report(config, good_sha, bad_sha, budget, report_root, console, pool)
    except BisectorError:
        raise
    except Exception as exc:
        raise InternalError.from_exception(exc, crash.path) from None


def _scan_and_report(config: Config, good: str, bad: str, budget: int | None, report_root: Path | None,
                     console: Console, pool: Executor | None = None) -> ScanResult:
    root = _writable_report_root(report_root or Path.cwd() / "reports" / "scan")
    result = scan_range(config, good, bad, budget=budget, console=console, executor=pool)
    result.report_dir = write_scan_bundle(result, new_report_dir(root))
    print_timeline(console, result)
    return result


def _as_bisect_result(result: ScanResult, walk: GitWalk) -> BisectResult:
    pinned = [w.start.commits[0] for w in result.pinned_windows()]
    records = list(result.records.values())
    records += [r for c in result.confirmations.values() for r in c.records]
    return BisectResult(culprit=pinned[0] if len(pinned) == 1 else None, candidates=pinned,
                        confirmed=bool(pinned) or None, report_dir=result.report_dir, records=records,
                        walk=walk, conclusion=result.conclusion, exit_code=result.exit_code, scan=result)


def score(repo: Path | None = None, commit: str | None = None, *, config_file: Path | None = None,
          overrides: ConfigOverrides | None = None, use_cache: bool = True,
          use_probes: bool = True) -> tuple[ScoreRecord, Config]:
    """Score one commit (default: BISECT_HEAD during a bisection, else HEAD) of ``repo``.

    The returned record's ``exit_code`` is git bisect's: 0 good, 1 bad, 125 skip, 128 abort.
    ``use_probes=False`` judges every scenario on its full run, as a hunt's confirmation does.
    """
    procs.prune_orphans()
    repo = git.toplevel(Path(repo).resolve() if repo else Path.cwd())
    config = load_config(repo, config_file, overrides)
    sha = git.resolve(repo, commit) if commit else commit_under_test(repo)
    config = dataclasses.replace(config, notices=config.notices + _cache_notice(config)
                                 + _uncommitted_notice(repo, sha, config))
    return score_commit(config, sha, use_cache=use_cache, use_probes=use_probes), config


# -- steps -----------------------------------------------------------------------------------

def _cache_notice(config: Config) -> tuple[str, ...]:
    """Why the cache is read-only or off, said once here; the scoring steps carry on quietly."""
    cache = Cache(config.cache_dir)
    cache.close()
    return (cache.notice,) if cache.notice else ()


def _uncommitted_notice(repo: Path, sha: str, config: Config) -> tuple[str, ...]:
    """Say so when HEAD is scored while the relevant paths have changes that are not in it."""
    if git.try_resolve(repo, "HEAD") != sha:
        return ()
    changed = git.uncommitted(repo, list(config.paths))
    if not changed:
        return ()
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return (f"warning: uncommitted changes in {', '.join(config.paths)} ({shown}) are not scored: "
            f"bisector scores the committed tree of {sha[:10]}; commit them to score them",)


def _endpoints(repo: Path, good: str, bad: str | None) -> tuple[str, str]:
    good_sha = git.resolve(repo, good)
    bad_sha = git.resolve(repo, bad or "HEAD")
    if good_sha == bad_sha:
        raise GitError(f"good and bad are the same commit ({good_sha[:10]})",
                       hint="pass --bad with a later commit, or omit it to use HEAD")
    if not git.is_ancestor(repo, good_sha, bad_sha):
        raise GitError(f"good commit {good} ({good_sha[:10]}) is not an ancestor of bad commit "
                       f"{bad or 'HEAD'} ({bad_sha[:10]})",
                       hint="bisection needs good to come before bad in history; check with "
                            "`git merge-base --is-ancestor GOOD BAD`")
    return good_sha, bad_sha


def _build_at(config: Config, good: str) -> Config:
    """A C reference built from source is built at the good commit unless told otherwise:
    that is the state the user vouches for."""
    spec = config.reference
    if spec.build and not spec.build_commit:
        return dataclasses.replace(config, reference=dataclasses.replace(spec, build_commit=good))
    return config


def _prepare_references(config: Config, console: Console) -> Config:
    """Make every reference image now and pin the reference for the steps.

    A broken reference then stops us before any bisecting, and the scorer processes only
    read cached images made by exactly this reference.
    """
    config = pin_reference(config)
    reference = reference_for(config)
    for notice in _cache_notice(config):
        console.print(Text("note:", style="yellow").append(f" {notice}", style=""))
    for name in _needed_scenarios(config):
        with console.status(f"reference image for scenario {name} ({reference.key[:24]})"):
            reference.image(config.scenarios[name])
    return config


def _needed_scenarios(config: Config) -> list[str]:
    names = list(config.judge)
    names += [config.scenarios[n].probe for n in config.judge if config.scenarios[n].probe]
    return list(dict.fromkeys(names))


def _writable_report_root(report_root: Path | None) -> Path:
    """The folder report bundles go to, checked now: a hunt must not end unable to report."""
    root = (Path(report_root) if report_root else Path.cwd() / "reports" / "bisect").absolute()
    created = [p for p in (root, *root.parents) if not p.exists()]
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write reports to {root}: {exc.strerror or exc}",
                          hint="pass --report-dir with a folder you can write to") from None
    finally:
        for folder in created:  # made again when the report is written; a refused hunt leaves none
            try:
                folder.rmdir()
            except OSError:
                break
    return root


def _score_endpoints(config: Config, good: str, bad: str, console: Console, kept: Path,
                     pool: Executor) -> list[ScoreRecord]:
    """Score both endpoints (at once when the executor has room). A probe may convict the bad
    one, never clear the good one: the good endpoint is judged on the full scenarios (and its
    images kept, as it may be the culprit's parent's evidence)."""
    records = []
    with console.status(f"scoring the endpoints {good[:10]} and {bad[:10]}"):
        scored = score_many(pool, config, [good, bad], keep_images={good: kept / "good"}, full_only={good})
    for (label, sha, wanted), record in zip((("good", good, Verdict.GOOD), ("bad", bad, Verdict.BAD)), scored):
        record = record.in_phase(Phase.ENDPOINT)
        records.append(record)
        console.print(score_line(label, record, git.commit_info(Path(config.repo), sha).subject))
        if record.verdict is Verdict.ABORT:
            raise HarnessAbort(f"scoring the {label} endpoint failed in the harness: {first_reason(record)}")
        if label == "bad" and record.verdict is Verdict.GOOD:
            raise GoodTip(_endpoint_evidence(label, record, wanted))
        if record.verdict is not wanted:
            raise EndpointError(_endpoint_evidence(label, record, wanted), hint=_endpoint_hint(label, record.verdict))
    return records


def _endpoint_evidence(label: str, record: ScoreRecord, wanted: Verdict) -> str:
    lines = [f"the {label} endpoint {record.commit[:10]} is {record.verdict.value}, not {wanted.value}:"]
    lines += [f"  {scenario_text(sc)}" for sc in record.scenarios]
    return "\n".join(lines)


def _endpoint_hint(label: str, verdict: Verdict) -> str:
    if verdict is Verdict.SKIP:
        return f"the {label} commit cannot be tested; pick another {label} commit"
    if label == "good":
        return "the 'good' commit does not match the reference: pick an older known-good commit"
    return ("the 'bad' commit matches the reference (the tip may be good again): "
            "pass --bad with a commit whose image is known to be wrong")


def _confirm(config: Config, repo: Path, culprit: str, records: list[ScoreRecord], kept: Path,
             console: Console) -> Confirmation:
    """Fresh full-scenario evidence on both sides of the culprit (hunt/confirm.py)."""
    def announce(label: str, record: ScoreRecord) -> None:
        console.print(score_line(f"confirm {label}", record, git.commit_info(repo, record.commit).subject))

    with console.status(f"confirming {culprit[:10]} and its parent on the full scenarios"):
        confirmation = confirm_culprit(config, culprit, records, kept / "confirm", announce)
    for side in (confirmation.parent, confirmation.culprit):
        runs = ", ".join(f"{r.phase.value if r.phase else ''} {r.commit[:10]} {r.verdict.value}"
                         for r in side.runs) or "none"
        console.print(f"  {side.label} {side.commit[:10]} confirmed {side.wanted.value} by: {runs}", markup=False)
    return confirmation


def _pictures(config: Config, confirmation: Confirmation) -> dict:
    """Reference, parent, culprit and difference images of the first scenario the culprit fails."""
    import numpy as np

    from .score.candidate import load_kept_image

    parent, culprit = pictured_runs(confirmation)
    failing = next((sc for sc in culprit.scenarios if sc.verdict is Verdict.BAD and sc.image), None)
    if failing is None:
        return {}
    before = next((sc for sc in (parent.scenarios if parent else []) if sc.name == failing.name and sc.image), None)
    reference = reference_for(config).image(config.scenarios[failing.name])
    pictures = {"reference": reference, "culprit": load_kept_image(failing.image)}
    if before:
        pictures["parent"] = load_kept_image(before.image)
    if pictures["culprit"].shape == reference.shape:
        pictures["difference"] = pictures["culprit"].astype(np.float64) - reference
    return pictures


def _culprit_conclusion(repo: Path, culprit: str, confirmation: Confirmation) -> str:
    ci = git.commit_info(repo, culprit)
    subject, author = shown(ci.subject), shown(ci.author)
    if confirmation.same_state:
        return (f"git named `{ci.short}` \"{subject}\", but it changes none of the relevant paths "
                "(its relevant tree equals its parent's): the verdicts differ for a reason outside "
                "the code under test (the environment, a flaky benchmark, or a path missing from "
                "`paths`); treat the culprit as unconfirmed.")
    failing = [sc for sc in confirmation.culprit.runs[-1].scenarios if sc.verdict is not Verdict.GOOD]
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


def _finish(findings: RunFindings, config: Config, report_root: Path, console: Console,
            crash: _CrashFolder) -> BisectResult:
    findings.reproduce = reproduce_argv(findings.repo, findings.culprit, config)
    report_dir = new_report_dir(report_root)
    crash.path = report_dir
    write_bundle(findings, report_dir)
    _print_ending(console, findings, report_dir)
    return BisectResult(culprit=findings.culprit, candidates=findings.candidates, confirmed=findings.confirmed,
                        report_dir=report_dir, records=findings.records, walk=findings.walk,
                        conclusion=findings.conclusion, exit_code=findings.exit_code,
                        confirmation=findings.confirmation)


def _print_ending(console: Console, findings: RunFindings, report_dir: Path) -> None:
    console.print()
    if findings.culprit:
        ci = git.commit_info(findings.repo, findings.culprit)
        line = Text("culprit:", style="bold").append(f" {ci.sha} {shown(ci.subject)} (", style="")
        line.append(*(("confirmed", "green") if findings.confirmed else ("not confirmed", "red")))
        console.print(line.append(")"))
    elif findings.candidates:
        console.print(Text("candidates:", style="bold").append(
            " " + " ".join(c[:10] for c in findings.candidates), style=""))
    console.print(findings.conclusion, markup=False)
    if findings.reproduce:
        # never wrapped: it is meant to be copied and pasted
        console.print(f"reproduce with: {shlex.join(findings.reproduce)}", markup=False, soft_wrap=True)
    console.print(f"report: {report_dir}", markup=False, soft_wrap=True)
