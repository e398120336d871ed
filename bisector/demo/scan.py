"""The demo's scan: generate the port, then find all three injected windows without brackets.

This is the question a user with only a known-good commit asks (`bisector run --good G` on a
tip that is good again); the demo knows the answer and checks it.

The engine (api, simkernel, the console) is imported on use: `bisector --help` imports this
package for the demo's defaults and must not pay for a hunt (1.1 s against 0.45 s).
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from ..config import ConfigOverrides
from ..search.windows import PINNED
from ..hunt.scan import ScanResult
from ..invocation import program
from .port_history import DEFAULT_SEED, DemoRepo, Regression, check_request
from .hunt import _generate

REPORTS_WHEN_NOT_KEPT = Path(tempfile.gettempdir()) / "bisector-demo-reports"


@dataclass(frozen=True)
class WindowCheck:
    regression: Regression
    found: bool            # a window starts at its culprit and ends at its fix, both pinned
    confirmed: bool        # both transitions confirmed on fresh full-size runs


@dataclass(frozen=True)
class DemoScanOutcome:
    repo: DemoRepo
    scan: ScanResult
    checks: tuple[WindowCheck, ...]
    seconds: float
    kept: bool

    @property
    def user_command(self) -> str:
        """The command a user would type to scan the port by hand, judging as the demo did."""
        return shlex.join([*program(), "scan", "--repo", str(self.repo.path), "--good", self.repo.first_good[:10],
                           *self.scan.judge_options])

    @property
    def found_all(self) -> bool:
        return all(c.found and c.confirmed for c in self.checks) and len(self.scan.timeline.windows) == len(self.checks)


def run_demo_scan(dir: Path | None = None, commits: int = 1400, size: int = 4096, seed: int = DEFAULT_SEED,
                  keep: bool = False, console: Console | None = None, *, cache_dir: Path | None = None,
                  scenarios: list[str] | None = None) -> DemoScanOutcome:
    """Generate the port in ``dir`` (a temp folder by default) and scan it from the port's
    first good commit to the tip on every scenario (default), checking the injected windows."""
    from simkernel import cref

    from ..api import scan_history
    from ..cli.console import ConsoleHandler

    console = console or Console(stderr=True, soft_wrap=True)
    started = time.perf_counter()
    if dir is not None:
        check_request(Path(dir), commits, size)
    root = Path(dir) if dir is not None else Path(tempfile.mkdtemp(prefix="bisector-demo-"))
    target = root if dir is not None else root / "nbport"
    try:
        repo = _generate(target, commits, size, seed, console)
        with console.status("building the C twin (once per source version)"):
            c_bin = cref.binary()
        console.print(f"reference: C twin {c_bin}")
        console.print(f"scanning from the first good commit {repo.first_good[:10]} to the tip {repo.tip[:10]}")
        report_root = target / "reports" / "scan" if keep else REPORTS_WHEN_NOT_KEPT
        result = scan_history(repo.path, repo.first_good, repo.tip, report_root=report_root, handler=ConsoleHandler(console),
                              overrides=ConfigOverrides(c_bin=str(c_bin), cache_dir=cache_dir,
                                                        scenarios=list(scenarios) if scenarios else None))
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    outcome = DemoScanOutcome(repo=repo, scan=result, checks=tuple(_check(result, r) for r in repo.regressions),
                              seconds=time.perf_counter() - started, kept=keep)
    _print_checks(outcome, console)
    return outcome


def _check(result: ScanResult, regression: Regression) -> WindowCheck:
    for w in result.timeline.windows:
        if (w.start and w.start.kind == PINNED and w.start.commits[0] == regression.culprit
                and w.end and w.end.kind == PINNED and w.end.commits[0] == regression.fix):
            return WindowCheck(regression, True, bool(result.confirmed(w.start) and result.confirmed(w.end)))
    return WindowCheck(regression, False, False)


def _print_checks(outcome: DemoScanOutcome, console: Console) -> None:
    console.print()
    for c in outcome.checks:
        r = c.regression
        if c.found:
            mark = "[green]found[/green]" + ("" if c.confirmed else " [red](not confirmed)[/red]")
        else:
            mark = "[red bold]MISSED[/red bold]"
        console.print(f"  {r.name}: injected {r.culprit[:10]}, fixed in {r.fix[:10]}: {mark}")
    found = sum(c.found for c in outcome.checks)
    colour = "green" if outcome.found_all else "red"
    console.print(f"[{colour} bold]scan found {found} of {len(outcome.checks)} injected windows[/{colour} bold] "
                  f"({len(outcome.scan.timeline.windows)} windows in all) in {outcome.seconds:.0f} s")
    if outcome.kept:
        console.print(f"the port stays at {outcome.repo.path}; scan it by hand with:")
        console.print(f"  {outcome.user_command}", soft_wrap=True, markup=False)
