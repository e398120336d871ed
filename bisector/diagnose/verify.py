"""`bisector verify`: every configured scenario, and the port's own tests, at one commit.

Everything runs in one private checkout of the commit: the whole committed tree exported
(git archive) into a temporary folder outside the user's checkout, removed afterwards
whatever happens. No worktree of the user's repository is made, so neither its worktree
list nor its hooks are involved. The scenarios run with the configured command, then each
pytest selector with the same Python and environment. Nothing is read from the score cache:
verifying a fix means running it.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import git
from ..config import Config, ConfigOverrides, load_config
from ..errors import ReferenceFailure
from ..report.bundle import new_report_dir
from ..report.text import last_line
from ..score import procs
from ..score.candidate import Workspace, process_env, run_candidate, run_setup
from ..score.metrics import compare, judge
from ..score.reference import Reference, detector_shape, reference_for
from ..files import atomic_write

# Exit codes of `bisector verify` (README): 0 every check passes, 1 one fails,
# 2 bad input, 4 the reference failed.
ALL_PASS = 0
SOME_FAIL = 1
PYTEST_NO_TESTS = 5


@dataclass
class Check:
    """One row of the table: a scenario (verdict good/bad/skip) or a pytest selector (pass/fail)."""

    kind: str
    name: str
    passed: bool
    status: str
    detail: str
    seconds: float = 0.0


@dataclass
class VerifyResult:
    commit: str
    subject: str
    checks: list[Check] = field(default_factory=list)
    report_dir: Path | None = None

    @property
    def exit_code(self) -> int:
        return ALL_PASS if self.checks and all(c.passed for c in self.checks) else SOME_FAIL

    def to_dict(self) -> dict:
        return {"commit": self.commit, "subject": self.subject, "passed": self.exit_code == ALL_PASS,
                "checks": [asdict(c) for c in self.checks]}


def run_verify(repo: Path | None = None, commit: str | None = None, *, pytest: list[str] | tuple[str, ...] = (),
               scenarios: list[str] | None = None, config_file: Path | None = None,
               overrides: ConfigOverrides | None = None, report_root: Path | None = None) -> VerifyResult:
    """Score every configured scenario (or ``scenarios``) at ``commit`` (default HEAD) and run
    the ``pytest`` selectors, all in one private checkout; write verify.md and verify.json."""
    repo = git.toplevel(Path(repo).resolve() if repo else Path.cwd())
    config = load_config(repo, config_file, overrides)
    sha = git.resolve(repo, commit or "HEAD")
    names = _scenario_names(config, scenarios)
    result = VerifyResult(commit=sha, subject=git.commit_info(repo, sha).subject)
    reference = reference_for(config)
    scratch = Path(tempfile.mkdtemp(prefix="bisector-verify-"))
    ws = Workspace(worktree=scratch / "worktree", tmp=scratch / "tmp", outputs=scratch / "out",
                   logs=scratch / "logs")
    try:
        for folder in (ws.worktree, ws.tmp, ws.outputs, ws.logs):
            folder.mkdir(parents=True)
        git.export(repo, sha, ["."], ws.worktree)  # "." is the whole tree
        setup_failure = run_setup(config, ws)
        for name in names:
            result.checks.append(_scenario_check(config, reference, ws, name, setup_failure))
        for selector in pytest:
            result.checks.append(_pytest_check(config, ws, selector))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.report_dir = new_report_dir(Path(report_root) if report_root else Path.cwd() / "reports" / "verify")
    atomic_write(result.report_dir / "verify.md", ("\n".join(table_lines(result)) + "\n").encode())
    atomic_write(result.report_dir / "verify.json", (json.dumps(result.to_dict(), indent=2) + "\n").encode())
    return result


def _scenario_names(config: Config, chosen: list[str] | None) -> list[str]:
    if chosen:
        return list(config.judge)  # load_config validated them into judge
    return list(config.scenarios)


def _scenario_check(config: Config, reference: Reference, ws: Workspace, name: str,
                    setup_failure: str | None) -> Check:
    scenario = config.scenarios[name]
    start = time.monotonic()
    # The reference first: a broken reference must stop verify, not fail the commit.
    ref_image = reference.image(scenario)
    if setup_failure:
        return Check("scenario", name, False, "skip", f"setup failed: {last_line(setup_failure)}")
    run = run_candidate(config, ws, scenario, detector_shape(scenario.args))
    if run.status != "ok":
        return Check("scenario", name, False, "skip", last_line(run.reason), time.monotonic() - start)
    metrics = compare(run.image, ref_image)
    verdict, reason = judge(metrics, config.thresholds)
    if metrics.reference_problem:
        raise ReferenceFailure(f"scenario {name!r}: {reason}")
    return Check("scenario", name, verdict.value == "good", verdict.value, reason, time.monotonic() - start)


def _pytest_check(config: Config, ws: Workspace, selector: str) -> Check:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", selector]
    proc = procs.run(argv, cwd=ws.worktree, log_dir=ws.logs, label="pytest", timeout_s=config.timeout_s,
                     env=process_env(config, ws))
    if proc.timed_out:
        return Check("pytest", selector, False, "fail", f"timed out after {config.timeout_s:g} s", proc.seconds)
    if proc.returncode == 0:
        return Check("pytest", selector, True, "pass", _summary_line(proc.output_tail), proc.seconds)
    if proc.returncode == PYTEST_NO_TESTS:
        return Check("pytest", selector, False, "fail", "no tests collected: check the selector", proc.seconds)
    return Check("pytest", selector, False, "fail",
                 f"exit {proc.returncode}: {_summary_line(proc.output_tail)}", proc.seconds)


def _summary_line(tail: str) -> str:
    """pytest's last line ("3 passed in 0.1s", "1 failed, 2 passed ..."), or the error."""
    return last_line(tail.replace("=", " ")) or "no output"


def table_lines(result: VerifyResult) -> list[str]:
    verdict = "PASS" if result.exit_code == ALL_PASS else "FAIL"
    lines = [f"# Verify `{result.commit[:10]}` {result.subject}: {verdict}", "",
             "| check | name | result | detail | seconds |", "|---|---|---|---|---|"]
    for c in result.checks:
        mark = ("pass" if c.passed else "FAIL") + f" ({c.status})"
        lines.append(f"| {c.kind} | {_md(c.name)} | {mark} | {_md(c.detail)} | {c.seconds:.1f} |")
    return lines


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
