"""`bisector verify`: every configured scenario, and the port's own tests, at one commit.

Everything runs in one private checkout of the commit, made by the scoring service: the
whole committed tree exported (git archive) into an owned scratch folder outside the user's
checkout, removed afterwards, and pruned by the next bisector if this one is killed. No
worktree of the user's repository is made, so neither its worktree list nor its hooks are
involved. The scenarios are measured and judged by the service (configured command,
reference, thresholds; full runs, no probe), then each pytest selector runs with the same
Python and environment. Nothing is read from the score cache: verifying a fix means running
it (the fresh scores are stored, under the one score key).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import git
from ..config import Config, ConfigOverrides, load_config
from ..errors import BisectorError
from ..files import atomic_write
from ..records import ScenarioResult
from ..report.bundle import new_report_dir
from ..report.writable import report_folder
from ..report.text import last_line
from ..score import procs
from ..score.candidate import Workspace, process_env
from ..score.scoring import ScoringService
from ..score.verdict import Verdict

# Exit codes of `bisector verify` (README): 0 every check passes, 1 one fails,
# 2 bad input, 4 the reference failed.
ALL_PASS = 0
SOME_FAIL = 1
PYTEST_USAGE_ERROR = 4   # pytest's own codes: a path or test that does not exist,
PYTEST_NO_TESTS = 5      # or a selector that matches nothing


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
    report_root = report_folder(report_root, "verify")
    result = VerifyResult(commit=sha, subject=git.commit_info(repo, sha).subject)
    with ScoringService(config) as service:
        with service.session(service.commit(sha), read_cache=False, export_all=True) as session:
            ws = session.workspace() if pytest else None
            for selector in pytest:  # a selector that selects nothing is a typo: say so before scoring
                _check_selector(config, ws, selector, sha)
            for name in names:
                scored = session.judged(config.scenarios[name], use_probes=False)
                result.checks.append(_scenario_check(scored, session.setup_failure))
            for selector in pytest:
                result.checks.append(_pytest_check(config, ws, selector, session.setup_failure))
    result.report_dir = new_report_dir(report_root)
    atomic_write(result.report_dir / "verify.md", ("\n".join(table_lines(result)) + "\n").encode())
    atomic_write(result.report_dir / "verify.json", (json.dumps(result.to_dict(), indent=2) + "\n").encode())
    return result


def _scenario_names(config: Config, chosen: list[str] | None) -> list[str]:
    if chosen:
        return list(config.judge)  # load_config validated them into judge
    return list(config.scenarios)


def _scenario_check(scored: ScenarioResult, setup_failure: str | None) -> Check:
    # A broken reference raised ReferenceFailure in the service already: verify stops (exit 4).
    if scored.measured:
        detail = scored.reason
    elif setup_failure:
        detail = f"setup failed: {last_line(setup_failure)}"
    else:
        detail = last_line(scored.reason)
    return Check("scenario", scored.name, scored.verdict is Verdict.GOOD, scored.verdict.value, detail,
                 scored.seconds)


def _pytest_check(config: Config, ws: Workspace, selector: str, setup_failure: str | None) -> Check:
    if setup_failure:
        return Check("pytest", selector, False, "fail", f"setup failed: {last_line(setup_failure)}")
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", selector]
    proc = procs.run(argv, cwd=ws.worktree, log_dir=ws.logs, label="pytest", timeout_s=config.timeout_s,
                     env=process_env(config, ws))
    if proc.timed_out:
        return Check("pytest", selector, False, "fail", f"timed out after {config.timeout_s:g} s", proc.seconds)
    if proc.returncode == 0:
        return Check("pytest", selector, True, "pass", _summary_line(proc.output_tail), proc.seconds)
    return Check("pytest", selector, False, "fail",
                 f"exit {proc.returncode}: {_summary_line(proc.output_tail)}", proc.seconds)


def _check_selector(config: Config, ws: Workspace, selector: str, sha: str) -> None:
    """BisectorError (bad input, exit 2) when ``selector`` collects no test at ``sha``; a
    collection that fails for the port's own reasons (an import error) is the check's to report."""
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", selector]
    proc = procs.run(argv, cwd=ws.worktree, log_dir=ws.logs, label="pytest-collect", timeout_s=config.timeout_s,
                     env=process_env(config, ws))
    if not proc.timed_out and proc.returncode in (PYTEST_USAGE_ERROR, PYTEST_NO_TESTS):
        said = _summary_line(proc.output_tail)
        raise BisectorError(f"--pytest {selector} selects no test at {sha[:10]} (pytest: {said})",
                            hint="name a test file or test of the port, relative to its root, "
                                 "e.g. tests/test_geometry.py::test_pix0")


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
