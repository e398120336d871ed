"""`bisector nightly`: score the branch tip, keep the ledger, hunt a regression on its own.

A night: open the ledger (a damaged one stops us before anything runs), record the night,
score the tip on every judged scenario, record the metrics. A bad tip is hunted from the
last known good commit (``--good``, else the newest good tip in the ledger that is an
ancestor of this one) with `run`; the outcome and the report go into the ledger. The night
ends with ``summary.md`` (for a CI job-summary page), ``nightly.json`` and ``junit.xml``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import git
from ..config import ConfigOverrides, load_config
from ..errors import BisectorError, EndpointError, ExitCode
from ..report.bundle import environment, new_report_dir
from ..report.junit import ERROR, FAILED, PASSED, SKIPPED, Case, write_junit
from ..report.text import scenario_text, shown
from ..score.scoring import ScenarioResult, ScoreRecord, score_commit
from ..score.verdict import Verdict
from ..store.ledger import Ledger, default_path
from .bisect import run_bisect
from .handler import HuntHandler, SilentHandler

# Exit codes of `bisector nightly` (README): what a scheduler acts on.
ALL_GOOD = ExitCode.NIGHT_GOOD
PINNED = ExitCode.REGRESSION_PINNED
NOT_PINNED = ExitCode.REGRESSION_NOT_PINNED    # no known good commit, skips border it, or flaky
UNTESTABLE = ExitCode.TIP_UNTESTABLE
HARNESS = ExitCode.NIGHT_HARNESS
BAD_INPUT = ExitCode.NIGHT_USAGE

OUTCOMES = {ALL_GOOD: "good", PINNED: "pinned", NOT_PINNED: "not_pinned", UNTESTABLE: "untestable",
            HARNESS: "error"}


@dataclass
class NightlyResult:
    night: int
    branch: str
    tip: str
    verdict: Verdict
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

    @property
    def outcome(self) -> str:
        return OUTCOMES[self.exit_code]

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("hunt_report", "out_dir", "ledger"):
            data[key] = str(data[key]) if data[key] else None
        data["verdict"] = self.verdict.value
        data["scenarios"] = [sc.to_dict() for sc in self.scenarios]
        data["exit_code"] = int(self.exit_code)
        data["outcome"] = self.outcome
        return data


def run_nightly(repo: Path, branch: str | None = None, good: str | None = None, *,
                config_file: Path | None = None, overrides: ConfigOverrides | None = None,
                ledger_path: Path | None = None, out_dir: Path | None = None,
                handler: HuntHandler | None = None) -> NightlyResult:
    """One night: score the tip of ``branch`` (default HEAD), record it, hunt when it regressed."""
    handler = handler or SilentHandler()
    started = time.monotonic()
    repo = git.toplevel(Path(repo))
    tip = git.resolve(repo, branch or "HEAD")
    good_sha = git.resolve(repo, good) if good else None
    config = load_config(repo, config_file, overrides)
    name = branch or _branch_name(repo)
    ledger_path = Path(ledger_path) if ledger_path else default_path(repo)

    with Ledger(ledger_path) as ledger:
        out_dir = Path(out_dir) if out_dir else new_report_dir(Path.cwd() / "reports" / "nightly")
        out_dir.mkdir(parents=True, exist_ok=True)
        info = git.commit_info(repo, tip)
        night = ledger.begin(name, tip, info.date)
        handler.progress(f"night {night}: {name} at {tip[:10]} {shown(info.subject)}; ledger {ledger_path}")
        with handler.busy(f"scoring the tip {tip[:10]}"):
            record = score_commit(config, tip)
        ledger.record_tip(night, record.verdict.value, [sc.to_dict() for sc in record.scenarios])
        handler.endpoint_scored("tip", record, info.subject)
        result = NightlyResult(night=night, branch=name, tip=tip, verdict=record.verdict,
                               scenarios=record.scenarios, exit_code=ALL_GOOD, conclusion="",
                               out_dir=out_dir, ledger=ledger_path)
        try:
            _judge_night(result, record, repo, good_sha, ledger, config_file, overrides, out_dir, handler)
        except BisectorError as exc:
            result.exit_code, result.conclusion = HARNESS, f"the hunt failed in the harness: {exc.message}"
        ledger.finish(night, outcome=result.outcome, exit_code=result.exit_code, culprit=result.culprit,
                      report=str(result.hunt_report) if result.hunt_report else None, note=result.conclusion)
    result.seconds = time.monotonic() - started
    write_outputs(result, repo)
    handler.finished(result)
    return result


def _judge_night(result: NightlyResult, record: ScoreRecord, repo: Path, good: str | None, ledger: Ledger,
                 config_file, overrides, out_dir: Path, handler: HuntHandler) -> None:
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
    start = good or _last_known_good(repo, tip, ledger.good_tips(result.branch) or ledger.good_tips())
    if start is None:
        result.exit_code = NOT_PINNED
        result.conclusion = (f"{tip[:10]} regressed ({_reasons(record)}), but no earlier good commit is known: "
                             "the ledger has no good night before it; pass --good with a known-good commit.")
        return
    result.hunted_from = start
    ledger.hunting(result.night, start)
    handler.progress(f"the tip regressed: hunting from the last known good commit {start[:10]}")
    try:
        hunt = run_bisect(repo, start, tip, config_file=config_file, overrides=overrides,
                          report_root=out_dir / "hunt", handler=handler)
    except EndpointError as exc:
        result.exit_code = NOT_PINNED
        result.conclusion = f"{tip[:10]} regressed, but the hunt from {start[:10]} was refused: {exc.message}"
        return
    result.hunt_report = hunt.report_dir
    result.culprit, result.candidates = hunt.culprit, list(hunt.candidates)
    pinned = hunt.culprit is not None and hunt.confirmed is True
    result.exit_code = PINNED if pinned else NOT_PINNED
    result.conclusion = f"{tip[:10]} regressed. {hunt.conclusion}"


def _last_known_good(repo: Path, tip: str, good_tips: list[str]) -> str | None:
    for sha in good_tips:
        if sha != tip and git.is_ancestor(repo, sha, tip):
            return sha
    return None


def _branch_name(repo: Path) -> str:
    return git.git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip() or "HEAD"


def _reasons(record: ScoreRecord) -> str:
    return "; ".join(scenario_text(sc) for sc in record.scenarios if sc.verdict is not Verdict.GOOD)


# -- outputs for CI -----------------------------------------------------------------------------

def write_outputs(result: NightlyResult, repo: Path) -> None:
    out = result.out_dir
    (out / "nightly.json").write_text(json.dumps(dict(result.to_dict(), environment=environment()), indent=2) + "\n")
    (out / "summary.md").write_text(summary_md(result, repo))
    write_junit(out / "junit.xml", "bisector.nightly", junit_cases(result, repo))


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
            text = "\n".join([f"tip {result.tip}", text, _culprit_text(result, repo), result.conclusion]
                             + ([f"report: {result.hunt_report}"] if result.hunt_report else []))
        cases.append(Case(name=sc.name, classname=f"bisector.nightly.{result.branch}", status=status,
                          seconds=sc.seconds, message=scenario_text(sc), text=text))
    return cases


def summary_md(result: NightlyResult, repo: Path) -> str:
    info = git.commit_info(repo, result.tip)
    icon = {"good": "PASS", "pinned": "REGRESSION (pinned)", "not_pinned": "REGRESSION (not pinned)",
            "untestable": "UNTESTABLE", "error": "HARNESS ERROR"}[result.outcome]
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
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")
