"""The library surface: what the CLI commands call, and what tests and the demo call directly."""

from __future__ import annotations

import dataclasses
import json
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from . import git
from .hunt.bisectlog import parse_bisect_log
from .config import Config, ConfigOverrides, load_config
from .errors import BisectorError, EndpointError, GitError
from .store.events import EventLog
from .hunt.progress import BisectDisplay, format_score_line
from .score.reference import pin_reference, reference_for
from .report.bundle import RunFindings, new_report_dir, scenario_text, write_bundle
from .score.scoring import ScoreRecord, score_commit
from .hunt.session import PrivateBisect
from .hunt.step import commit_under_test
from .score.verdict import Verdict
from .hunt.walk import GitWalk, walk_range
from .execute import Executor, open_executor
from .execute.scoring import score_many
from .hunt import rounds

# Exit codes of `bisector run` (documented in the README).
FOUND = 0
NOT_CONFIRMED = 1
ENDPOINTS_REFUSED = 3
BISECT_ABORTED = 4


@dataclass
class BisectResult:
    culprit: str | None
    candidates: list[str]
    confirmed: bool | None
    report_dir: Path | None
    records: list[dict]
    walk: GitWalk
    conclusion: str
    exit_code: int

    @property
    def scored_commits(self) -> int:
        return len({r["commit"] for r in self.records})


def run_bisect(repo: Path, good: str, bad: str | None = None, *, config_file: Path | None = None,
               overrides: ConfigOverrides | None = None, report_root: Path | None = None,
               keep_worktree: bool = False, console: Console | None = None, jobs: int = 1,
               executor: str | None = None) -> BisectResult:
    """Find the first commit in good..bad whose image misses the thresholds.

    ``jobs`` > 1 scores that many commits per round on ``executor`` (see bisector.execute).
    Raises BisectorError (bad input), EndpointError (good is not good or bad is not bad).
    """
    with open_executor(executor, jobs) as pool:
        return _run_bisect(repo, good, bad, config_file, overrides, report_root, keep_worktree,
                           console, pool, jobs)


def _run_bisect(repo, good, bad, config_file, overrides, report_root, keep_worktree, console,
                pool: Executor, jobs: int) -> BisectResult:
    console = console or Console(stderr=True, soft_wrap=True)
    repo = git.toplevel(Path(repo))
    good_sha, bad_sha = _endpoints(repo, good, bad)
    config = load_config(repo, config_file, overrides)
    for notice in config.notices:
        console.print(f"[yellow]note:[/yellow] {escape(notice)}")
    walk = walk_range(repo, good_sha, bad_sha, list(config.paths))
    console.print(f"range {good_sha[:10]}..{bad_sha[:10]}: {walk.commits} commits, "
                  f"{walk.relevant_commits} touch {', '.join(config.paths)}")

    config = _prepare_references(_build_at(config, good_sha), console)
    records = _score_endpoints(config, good_sha, bad_sha, console, pool)
    report_root = Path(report_root) if report_root else Path.cwd() / "reports" / "bisect"

    if walk.relevant_commits == 0:
        conclusion = (f"No commit in {good_sha[:10]}..{bad_sha[:10]} touches {', '.join(config.paths)}, "
                      "yet the endpoints disagree: the cause lies outside the relevant paths "
                      "(the environment, or a path missing from `paths`).")
        return _finish(repo, walk, records, None, [], None, conclusion, config, report_root,
                       NOT_CONFIRMED, console, {})

    with PrivateBisect(repo, bad_sha, keep=keep_worktree) as bisect:
        bisect.start(bad_sha, good_sha, list(config.paths))
        if jobs > 1 and rounds.fits(repo, good_sha, bad_sha, console):
            hunt = rounds.run_rounds(bisect, config, pool, jobs, good_sha, bad_sha, console)
            steps, outcome, output = hunt.steps, hunt.outcome, hunt.abort or ""
        else:
            steps, outcome, output = _bisect_run(bisect, config, repo, walk, console)
        if keep_worktree:
            console.print(f"worktree kept at {bisect.worktree}", markup=False)
    records += steps

    if not outcome.finished:
        last = steps[-1] if steps else None
        reason = _abort_reason(last, output)
        conclusion = f"The bisection was aborted by the harness, not by a commit: {reason}"
        return _finish(repo, walk, records, None, [], None, conclusion, config, report_root,
                       BISECT_ABORTED, console, {})

    if outcome.culprit is None:
        conclusion = ("Skipped (untestable) commits border the culprit: the first bad commit is one of "
                      f"{len(outcome.candidates)} candidates listed below; fix the skip cause "
                      "(see bisect_log.md) or score them by hand with `bisector score <sha>`.")
        return _finish(repo, walk, records, None, outcome.candidates, None, conclusion, config,
                       report_root, FOUND, console, {})

    confirm, pictures = _confirm(config, repo, outcome.culprit, console, pool)
    records += confirm
    same_state = confirm[0].get("tree_ids") == confirm[1].get("tree_ids")
    confirmed = [r["verdict"] for r in confirm] == ["good", "bad"] and not same_state
    conclusion = _culprit_conclusion(repo, outcome.culprit, confirm, confirmed, same_state)
    return _finish(repo, walk, records, outcome.culprit, [outcome.culprit], confirmed, conclusion,
                   config, report_root, FOUND if confirmed else NOT_CONFIRMED, console, pictures)


def score(repo: Path | None = None, commit: str | None = None, *, config_file: Path | None = None,
          overrides: ConfigOverrides | None = None, use_cache: bool = True) -> tuple[ScoreRecord, Config]:
    """Score one commit (default: BISECT_HEAD during a bisection, else HEAD) of ``repo``.

    The returned record's ``exit_code`` is git bisect's: 0 good, 1 bad, 125 skip, 128 abort.
    """
    repo = git.toplevel(Path(repo).resolve() if repo else Path.cwd())
    config = load_config(repo, config_file, overrides)
    sha = git.resolve(repo, commit) if commit else commit_under_test(repo)
    return score_commit(config, sha, use_cache=use_cache), config


# -- steps -----------------------------------------------------------------------------------

def _bisect_run(bisect: PrivateBisect, config: Config, repo: Path, walk: GitWalk, console: Console):
    """One commit at a time: ``git bisect run`` with the pinned scorer; (steps, outcome, output)."""
    argv = bisect.pinned_scorer(config.to_json())
    events = EventLog(bisect.events_path)
    subjects = {}
    with BisectDisplay(console, walk.relevant_commits, subjects) as display:
        def poll() -> None:
            for event in events.follow():
                sha = event.get("commit", "")
                if sha and sha not in subjects:
                    subjects[sha] = git.commit_info(repo, sha).subject
                display.show(event)
        returncode, output = bisect.run(argv, poll)
    outcome = parse_bisect_log(bisect.log())
    steps = [dict(e["record"], phase="bisect") for e in events.read_all() if e.get("type") == "scored"]
    return steps, outcome, output


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
    for name in _needed_scenarios(config):
        with console.status(f"reference image for scenario {name} ({reference.key[:24]})"):
            reference.image(config.scenarios[name])
    return config


def _needed_scenarios(config: Config) -> list[str]:
    names = list(config.judge)
    names += [config.scenarios[n].probe for n in config.judge if config.scenarios[n].probe]
    return list(dict.fromkeys(names))


def _score_endpoints(config: Config, good: str, bad: str, console: Console, pool: Executor) -> list[dict]:
    records = []
    with console.status(f"scoring the endpoints {good[:10]} and {bad[:10]}"):
        scored = score_many(pool, config, [good, bad])
    for (label, sha, wanted), record in zip((("good", good, Verdict.GOOD), ("bad", bad, Verdict.BAD)), scored):
        data = dict(record.to_dict(), phase="endpoint")
        records.append(data)
        console.print(format_score_line(label, data, git.commit_info(Path(config.repo), sha).subject))
        if record.verdict is Verdict.ABORT:
            raise BisectorError(f"scoring the {label} endpoint failed in the harness: "
                                f"{_first_reason(data)}", exit_code=BISECT_ABORTED)
        if record.verdict is not wanted:
            raise EndpointError(_endpoint_evidence(label, sha, data, wanted), exit_code=ENDPOINTS_REFUSED,
                                hint=_endpoint_hint(label, record.verdict))
    return records


def _endpoint_evidence(label: str, sha: str, data: dict, wanted: Verdict) -> str:
    lines = [f"the {label} endpoint {sha[:10]} is {data['verdict']}, not {wanted.value}:"]
    lines += [f"  {scenario_text(sc)}" for sc in data.get("scenarios", [])]
    return "\n".join(lines)


def _endpoint_hint(label: str, verdict: Verdict) -> str:
    if verdict is Verdict.SKIP:
        return f"the {label} commit cannot be tested; pick another {label} commit"
    if label == "good":
        return "the 'good' commit does not match the reference: pick an older known-good commit"
    return ("the 'bad' commit matches the reference (the tip may be good again): "
            "pass --bad with a commit whose image is known to be wrong")


def _confirm(config: Config, repo: Path, culprit: str, console: Console, pool: Executor):
    """Re-run the culprit's parent and the culprit without the cache: both verdicts must hold."""
    parent = git.parents(repo, culprit)[0]
    records, pictures = [], {}
    with tempfile.TemporaryDirectory(prefix="bisector-confirm-") as tmp:
        with console.status(f"confirming: fresh re-runs of the parent {parent[:10]} and culprit {culprit[:10]}"):
            scored = score_many(pool, config, [parent, culprit], use_cache=False,
                                keep_images={parent: Path(tmp) / "parent", culprit: Path(tmp) / "culprit"})
        for (label, sha), record in zip((("parent", parent), ("culprit", culprit)), scored):
            data = dict(record.to_dict(), phase="confirm")
            records.append(data)
            console.print(format_score_line(f"confirm {label}", data, git.commit_info(repo, sha).subject))
        pictures = _pictures(config, records)
    return records, pictures


def _pictures(config: Config, records: list[dict]) -> dict:
    """Reference, parent, culprit and difference images of the first scenario the culprit fails."""
    import numpy as np

    from .score.candidate import load_kept_image

    parent, culprit = records
    failing = next((sc for sc in culprit["scenarios"] if sc["verdict"] == "bad" and sc.get("image")), None)
    if failing is None:
        return {}
    before = next((sc for sc in parent["scenarios"] if sc["name"] == failing["name"] and sc.get("image")), None)
    reference = reference_for(config).image(config.scenarios[failing["name"]])
    pictures = {"reference": reference, "culprit": load_kept_image(failing["image"])}
    if before:
        pictures["parent"] = load_kept_image(before["image"])
    if pictures["culprit"].shape == reference.shape:
        pictures["difference"] = pictures["culprit"].astype(np.float64) - reference
    return pictures


def _culprit_conclusion(repo: Path, culprit: str, confirm: list[dict], confirmed: bool,
                        same_state: bool) -> str:
    ci = git.commit_info(repo, culprit)
    if same_state:
        return (f"git named `{ci.short}` \"{ci.subject}\", but it changes none of the relevant paths "
                "(its relevant tree equals its parent's): the verdicts differ for a reason outside "
                "the code under test (the environment, a flaky benchmark, or a path missing from "
                "`paths`); treat the culprit as unconfirmed.")
    failing = [sc for sc in confirm[1]["scenarios"] if sc["verdict"] != "good"]
    what = "; ".join(scenario_text(sc) for sc in failing) or "no scenario failed"
    if confirmed:
        return (f"`{ci.short}` \"{ci.subject}\" ({ci.author}, {ci.date[:10]}) breaks parity: {what}. "
                "Its parent is good on a fresh re-run, so the change in this commit is the cause.")
    verdicts = ", ".join(f"{r['commit'][:10]} {r['verdict']}" for r in confirm)
    return (f"git named `{ci.short}` \"{ci.subject}\", but a fresh re-run does not reproduce the "
            f"verdicts ({verdicts}): the benchmark is flaky or depends on the environment; "
            "treat the culprit as unconfirmed.")


def _abort_reason(last: dict | None, output: str) -> str:
    if last and last.get("verdict") == "abort":
        return _first_reason(last)
    tail = [line for line in output.strip().splitlines() if line.strip()][-3:]
    return " / ".join(tail) or "git bisect run stopped without a result"


def _first_reason(record: dict) -> str:
    for sc in record.get("scenarios", []):
        if sc.get("reason"):
            return _first_line(sc["reason"])
    return _first_line(record.get("error") or record.get("reason")) or record.get("verdict", "")


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _reproduce_argv(repo: Path, commit: str | None, config: Config) -> list[str]:
    if not commit:
        return []
    argv = ["bisector", "score", commit, "--repo", str(repo), "--no-cache"]
    for name in config.judge:
        argv += ["--scenario", name]
    if config.reference.kind == "c" and config.reference.c_bin:
        argv += ["--c-bin", str(config.reference.c_bin)]
    return argv


def _finish(repo, walk, records, culprit, candidates, confirmed, conclusion, config, report_root,
            exit_code, console, pictures) -> BisectResult:
    findings = RunFindings(repo=repo, walk=walk, records=records, culprit=culprit, candidates=candidates,
                           conclusion=conclusion, confirmed=confirmed,
                           reproduce=_reproduce_argv(repo, culprit, config),
                           config=_config_dict(config), pictures=pictures)
    report_dir = write_bundle(findings, new_report_dir(report_root))
    _print_ending(console, findings, report_dir)
    return BisectResult(culprit=culprit, candidates=candidates, confirmed=confirmed, report_dir=report_dir,
                        records=records, walk=walk, conclusion=conclusion, exit_code=exit_code)


def _config_dict(config: Config) -> dict:
    return json.loads(config.to_json())


def _print_ending(console: Console, findings: RunFindings, report_dir: Path) -> None:
    console.print()
    if findings.culprit:
        ci = git.commit_info(findings.repo, findings.culprit)
        mark = "[green]confirmed[/green]" if findings.confirmed else "[red]not confirmed[/red]"
        console.print(f"[bold]culprit:[/bold] {ci.sha} {escape(ci.subject)} ({mark})")
    elif findings.candidates:
        console.print(f"[bold]candidates:[/bold] {' '.join(c[:10] for c in findings.candidates)}")
    console.print(findings.conclusion, markup=False)
    if findings.reproduce:
        console.print(f"reproduce with: {shlex.join(findings.reproduce)}", markup=False)
    console.print(f"report: {report_dir}", markup=False)
