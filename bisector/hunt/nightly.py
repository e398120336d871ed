"""`bisector nightly`: score the branch tip, keep the ledger, hunt a regression on its own.

A night: check the inputs (commits, ``--good`` before the tip, the output folder, the ledger)
before anything runs, record the night, score the tip on every judged scenario, record the
metrics. A bad tip is hunted from the last known good commit (``--good``, else the newest
good night in the ledger whose tip is still an ancestor of this one) with `run`; the outcome
and the report go into the ledger. Whatever happens once the night is recorded, it ends with
``nightly.json``, ``junit.xml`` and ``summary.md`` and its outcome in the ledger.

History is rewritten (force-push, rebase, ``git gc``): a good night whose commit is gone or
no longer an ancestor of the tip is passed over, and said so; when no good night is left,
the night asks for ``--good`` (bad input) instead of guessing.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import git
from ..config import Config, ConfigOverrides, load_config
from ..errors import BisectorError, EndpointError, GitError, HarnessAbort, NightlyExit, as_reportable, exit_code_of
from ..report.bundle import environment, new_report_dir
from ..report.junit import ERROR, FAILED, PASSED, SKIPPED, Case, write_junit
from ..report.text import scenario_text, shown
from ..records import ScenarioResult, ScoreRecord
from ..report.writable import writable_folder
from ..score.scoring import score_commit
from ..score.verdict import Verdict
from ..store.ledger import Ledger, Night, default_path
from .known import recall
from .bisect import run_bisect
from .handler import HuntHandler, SilentHandler

# Exit codes of `bisector nightly` (README, docs/nightly.md): what a scheduler acts on.
ALL_GOOD = NightlyExit.ALL_GOOD
PINNED = NightlyExit.PINNED
NOT_PINNED = NightlyExit.NOT_PINNED    # no known good commit, skips border it, or flaky
UNTESTABLE = NightlyExit.TIP_UNTESTABLE
HARNESS = NightlyExit.HARNESS
BAD_INPUT = NightlyExit.BAD_INPUT
BUG = NightlyExit.BUG
KNOWN = NightlyExit.KNOWN              # still bad from a pinned regression; nothing new

OUTCOMES = {ALL_GOOD: "good", PINNED: "pinned", NOT_PINNED: "not_pinned", UNTESTABLE: "untestable",
            HARNESS: "error", BAD_INPUT: "bad_input", BUG: "error", KNOWN: "known"}


@dataclass
class NightlyResult:
    night: int
    branch: str
    tip: str
    verdict: Verdict | None          # None: the night ended before the tip was scored
    scenarios: list[ScenarioResult]
    exit_code: int
    conclusion: str
    hunted_from: str | None = None
    culprit: str | None = None
    candidates: list[str] = field(default_factory=list)
    hunt_report: Path | None = None
    out_dir: Path | None = None
    ledger: Path | None = None
    seconds: float = 0.0
    known: str | None = None          # the pinned regression the tip is still bad from
    newly_bad: list[str] = field(default_factory=list)   # scenarios gone bad on top of it
    ledger_error: str | None = None   # the ledger could not record the outcome (the outputs have it)

    @property
    def outcome(self) -> str:
        return OUTCOMES[self.exit_code]

    @property
    def new(self) -> bool:
        """A regression not reported on an earlier night: what a scheduler opens an issue for."""
        return self.exit_code in (PINNED, NOT_PINNED)

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("hunt_report", "out_dir", "ledger"):
            data[key] = str(data[key]) if data[key] else None
        data["verdict"] = self.verdict.value if self.verdict else None
        data["scenarios"] = [sc.to_dict() for sc in self.scenarios]
        data["exit_code"] = int(self.exit_code)
        data["outcome"] = self.outcome
        data["new"] = self.new
        return data


def run_nightly(repo: Path, branch: str | None = None, good: str | None = None, *,
                config_file: Path | None = None, overrides: ConfigOverrides | None = None,
                ledger_path: Path | None = None, out_dir: Path | None = None,
                report_root: Path | None = None, handler: HuntHandler | None = None) -> NightlyResult:
    """One night: score the tip of ``branch`` (default HEAD), record it, hunt when it regressed.

    The outputs go to ``out_dir`` itself, else to a new time-stamped folder under ``report_root``.
    Raises BisectorError for bad input and an unusable ledger, before the night is recorded;
    after that every failure is the night's outcome (its exit code in the result)."""
    handler = handler or SilentHandler()
    started = time.monotonic()
    repo = git.toplevel(Path(repo))
    tip = git.resolve(repo, branch or "HEAD")
    good_sha = _good_before(repo, good, tip, branch) if good else None
    config = load_config(repo, config_file, overrides)
    name = branch or _branch_name(repo)
    ledger_path = Path(ledger_path) if ledger_path else default_path(repo)
    out_root = writable_folder(Path(out_dir) if out_dir else Path(report_root) if report_root
                               else Path.cwd() / "reports" / "nightly", "--out" if out_dir else "--report-dir")

    with Ledger(ledger_path) as ledger:
        out_dir = out_root if out_dir else new_report_dir(out_root)
        out_dir.mkdir(parents=True, exist_ok=True)
        info = git.commit_info(repo, tip)
        night = ledger.begin(name, tip, info.date)
        handler.progress(f"night {night}: {name} at {tip[:10]} {shown(info.subject)}; ledger {ledger_path}")
        result = NightlyResult(night=night, branch=name, tip=tip, verdict=None, scenarios=[],
                               exit_code=ALL_GOOD, conclusion="", out_dir=out_dir, ledger=ledger_path)
        try:
            record = _score_tip(result, config, ledger, info.subject, handler)
            _judge_night(result, record, repo, good_sha, ledger, config, config_file, overrides, out_dir,
                         handler)
        except Exception as exc:  # the night still ends with its outputs and its outcome recorded
            error = as_reportable(exc, out_dir)
            result.exit_code = exit_code_of(error, NightlyExit)
            result.conclusion = f"the night failed: {error.message}" + (f" ({error.hint})" if error.hint else "")
        _record_outcome(ledger, result, handler)
    result.seconds = time.monotonic() - started
    handler.finished(result)
    try:
        write_outputs(result, repo)
    except OSError as exc:
        raise HarnessAbort(f"cannot write the night's outputs to {out_dir}: {exc.strerror or exc}; the night's "
                           f"outcome ({result.outcome}, exit {int(result.exit_code)}) is in the ledger {ledger_path}",
                           hint="free space there (or pass --out with another folder)") from None
    handler.progress(f"nightly outputs: {out_dir} (nightly.json, junit.xml, summary.md)")
    return result


def _record_outcome(ledger: Ledger, result: NightlyResult, handler: HuntHandler) -> None:
    """The night's outcome into the ledger. A ledger that fails here (disk full, I/O error)
    must not cost the night's outputs: they carry the outcome, and the next night meets the
    ledger's trouble where it begins."""
    try:
        ledger.finish(result.night, outcome=result.outcome, exit_code=result.exit_code, culprit=result.culprit,
                      report=str(result.hunt_report) if result.hunt_report else None, note=result.conclusion)
    except BisectorError as exc:
        result.ledger_error = exc.message + (f" ({exc.hint})" if exc.hint else "")
        handler.notice(f"the night's outcome is not in the ledger: {result.ledger_error}; "
                       "its outputs below still have it")


def _score_tip(result: NightlyResult, config, ledger: Ledger, subject: str, handler: HuntHandler) -> ScoreRecord:
    with handler.busy(f"scoring the tip {result.tip[:10]}"):
        record = score_commit(config, result.tip)
    ledger.record_tip(result.night, record.verdict.value, [sc.to_dict() for sc in record.scenarios])
    handler.endpoint_scored("tip", record, subject)
    result.verdict, result.scenarios = record.verdict, record.scenarios
    return record


def _good_before(repo: Path, good: str, tip: str, branch: str | None) -> str:
    """``--good`` as a sha, refused unless it comes before the tip (a hunt needs good before bad)."""
    sha = git.resolve(repo, good)
    if not git.is_ancestor(repo, sha, tip):
        raise GitError(f"--good {good} ({sha[:10]}) is not an ancestor of the tip {branch or 'HEAD'} ({tip[:10]})",
                       hint="pass --good with a commit in the tip's history; check with "
                            "`git merge-base --is-ancestor GOOD TIP`")
    return sha


def _judge_night(result: NightlyResult, record: ScoreRecord, repo: Path, good: str | None, ledger: Ledger,
                 config: Config, config_file, overrides, out_dir: Path, handler: HuntHandler) -> None:
    verdict = record.verdict
    tip = result.tip
    if verdict is Verdict.GOOD:
        result.conclusion = f"{tip[:10]} is good on every judged scenario."
        return
    if verdict is Verdict.SKIP:
        result.exit_code = UNTESTABLE
        result.conclusion = f"{tip[:10]} cannot be tested: {_reasons(record)}"
        return
    if verdict is Verdict.ABORT:
        result.exit_code = HARNESS
        result.conclusion = f"scoring {tip[:10]} failed in the harness: {_reasons(record) or record.error}"
        return
    known = None if good else recall(ledger, result.night, result.branch, repo, tip, record.scenarios,
                                     config.thresholds)
    if known is not None:
        result.known, result.newly_bad = known.describe(), list(known.newly_bad)
    if known is not None and not known.newly_bad:
        result.culprit = known.culprit if known.nothing_new else None
        result.exit_code, result.conclusion = known.verdict(tip)
        return
    if known is not None:  # a new regression on top of the known one: hunted on its own scenarios
        good, overrides = known.hunt_from, known.narrowed(overrides)
        handler.progress(f"{', '.join(known.newly_bad)} newly bad on top of a known regression "
                         f"({known.describe()})")
    start, passed_over = good, []
    if start is None:
        mine = ledger.good_nights(result.branch)
        others = [n for n in ledger.good_nights() if n.branch != result.branch]
        start, passed_over = _last_known_good(repo, tip, mine + others)
    rewritten = _rewritten(passed_over)
    if start is None and passed_over:
        result.exit_code = BAD_INPUT
        result.conclusion = (f"{tip[:10]} regressed ({_reasons(record)}), but {rewritten}, and no earlier good "
                             "night is left to hunt from: pass --good with a known-good commit of the current history.")
        return
    if start is None:
        result.exit_code = NOT_PINNED
        result.conclusion = (f"{tip[:10]} regressed ({_reasons(record)}), but no earlier good commit is known: "
                             "the ledger has no good night before it; pass --good with a known-good commit.")
        return
    if passed_over:
        handler.notice(f"{rewritten}; hunting from the newest good night still in it")
    result.hunted_from = start
    ledger.hunting(result.night, start)
    handler.progress(f"the tip regressed: hunting from the last known good commit {start[:10]}")
    note = f" Note: {rewritten}." if passed_over else ""
    try:
        hunt = run_bisect(repo, start, tip, config_file=config_file, overrides=overrides,
                          report_root=out_dir / "hunt", handler=handler)
    except EndpointError as exc:
        result.exit_code = NOT_PINNED
        result.conclusion = f"{tip[:10]} regressed, but the hunt from {start[:10]} was refused: {exc.message}{note}"
        return
    result.hunt_report = hunt.report_dir
    result.culprit, result.candidates = hunt.culprit, list(hunt.candidates)
    pinned = hunt.culprit is not None and hunt.confirmed is True
    result.exit_code = PINNED if pinned else NOT_PINNED
    result.conclusion = f"{tip[:10]} regressed. {hunt.conclusion}{note}"


def _last_known_good(repo: Path, tip: str, good_nights: list[Night]) -> tuple[str | None, list[Night]]:
    """The newest good night's tip that is an ancestor of ``tip``, and the newer good nights
    passed over because history was rewritten (their commit is gone, or off this history)."""
    passed_over = []
    for night in good_nights:
        if night.tip == tip:
            continue
        if git.try_resolve(repo, night.tip) is None or not git.is_ancestor(repo, night.tip, tip):
            passed_over.append(night)
            continue
        return night.tip, passed_over
    return None, passed_over


def _rewritten(nights: list[Night]) -> str:
    if not nights:
        return ""
    named = ", ".join(f"night {n.id} ({n.tip[:10]})" for n in nights[:3]) + (" and more" if len(nights) > 3 else "")
    return (f"history was rewritten: the good {'night' if len(nights) == 1 else 'nights'} {named} "
            f"{'is' if len(nights) == 1 else 'are'} no longer in the tip's history "
            "(a force-push or rebase, and git gc)")


def _branch_name(repo: Path) -> str:
    return git.git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip() or "HEAD"


def _reasons(record: ScoreRecord) -> str:
    return "; ".join(scenario_text(sc) for sc in record.scenarios if sc.verdict is not Verdict.GOOD)


# -- outputs for CI -----------------------------------------------------------------------------

def write_outputs(result: NightlyResult, repo: Path) -> None:
    """The machine-read outputs first (a full disk loses the Markdown, not the verdict)."""
    out = result.out_dir
    (out / "nightly.json").write_text(json.dumps(dict(result.to_dict(), environment=environment()), indent=2) + "\n")
    write_junit(out / "junit.xml", "bisector.nightly", junit_cases(result, repo))
    (out / "summary.md").write_text(summary_md(result, repo))


def _culprit_text(result: NightlyResult, repo: Path) -> str:
    if result.culprit:
        ci = git.commit_info(repo, result.culprit)
        return f"culprit {ci.sha} \"{shown(ci.subject)}\" ({shown(ci.author)}, {ci.date[:10]})"
    if result.candidates:
        return "culprit: one of " + " ".join(c[:10] for c in result.candidates)
    return "culprit: not pinned"


def junit_cases(result: NightlyResult, repo: Path) -> list[Case]:
    cases = []
    for sc in result.scenarios:
        status = {Verdict.GOOD: PASSED, Verdict.BAD: FAILED, Verdict.SKIP: SKIPPED}.get(sc.verdict, ERROR)
        text = scenario_text(sc)
        if status == FAILED:
            text = "\n".join([f"tip {result.tip}", text, _novelty(result, sc.name), _culprit_text(result, repo),
                              result.conclusion]
                             + ([f"report: {result.hunt_report}"] if result.hunt_report else []))
        properties = {"new": str(_new_in(result, sc.name)).lower()} if status == FAILED else {}
        cases.append(Case(name=sc.name, classname=f"bisector.nightly.{result.branch}", status=status,
                          seconds=sc.seconds, message=scenario_text(sc), text=text, properties=properties))
    if result.exit_code in (BAD_INPUT, HARNESS, BUG) and result.verdict is not Verdict.ABORT:
        # The night itself failed (not a scenario): one case says why, or the dashboard shows green.
        cases.append(Case(name="night", classname=f"bisector.nightly.{result.branch}", status=ERROR,
                          message=result.conclusion.splitlines()[0] if result.conclusion else result.outcome,
                          text=result.conclusion))
    return cases


def _new_in(result: NightlyResult, scenario: str) -> bool:
    """Whether this scenario's failure is news (on top of a known regression, only the newly bad)."""
    return result.new and (not result.known or scenario in result.newly_bad or not result.newly_bad)


def _novelty(result: NightlyResult, scenario: str) -> str:
    if _new_in(result, scenario):
        return "new regression"
    return f"known regression: {result.known}" if result.known else "known regression"


def summary_md(result: NightlyResult, repo: Path) -> str:
    info = git.commit_info(repo, result.tip)
    icon = {"good": "PASS", "pinned": "REGRESSION (pinned)", "not_pinned": "REGRESSION (not pinned)",
            "untestable": "UNTESTABLE", "error": "HARNESS ERROR", "bad_input": "BAD INPUT",
            "known": "KNOWN REGRESSION (unfixed)"}[result.outcome]
    lines = [f"# bisector nightly: {result.branch} - {icon}", "",
             f"Tip `{info.short}` {_md(shown(info.subject))} ({info.date[:10]}), night {result.night}, "
             f"{result.seconds:.0f} s.", "",
             "| scenario | verdict | correlation | sum ratio |", "|---|---|---|---|"]
    for sc in result.scenarios:
        corr = f"{sc.correlation:.6f}" if sc.correlation is not None else "-"
        ratio = f"{sc.sum_ratio:.6f}" if sc.sum_ratio is not None else "-"
        lines.append(f"| {sc.name} | {sc.verdict.value} | {corr} | {ratio} |")
    lines += ["", _md(result.conclusion), ""]
    if result.hunted_from:
        lines += [f"- Hunted from the last known good commit `{result.hunted_from[:10]}`",
                  f"- {_md(_culprit_text(result, repo))}"]
    if result.hunt_report:
        lines.append(f"- Report: `{result.hunt_report}`")
    if result.ledger_error:
        lines.append(f"- Not recorded in the ledger: {_md(result.ledger_error)}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")
