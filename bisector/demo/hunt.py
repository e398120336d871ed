"""The demo's hunt: generate the port, build the C twin, bisect a regression, check the answer.

The demo knows where it put each regression, so it can say whether bisector found the
injected commit, which a real hunt cannot.

The engine (api, simkernel, the console) is imported on use: `bisector --help` imports this
package for the demo's defaults and must not pay for a hunt (1.1 s against 0.45 s).
"""

from __future__ import annotations

import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from ..config import ConfigOverrides, default_cache_dir
from ..invocation import program
from ..narrow.narrowing import Narrowing
from ..records import ScoreRecord
from .changes import REGRESSIONS
from .port_history import (
    DEFAULT_SEED,
    DemoError,
    DemoRepo,
    Regression,
    check_request,
    generate,
)

FIRST_REGRESSION = "unit_slip"
# Without --dir the demo's port lives here, replaced by the next demo: the commands it
# prints (reproduce with ..., hunt by hand with ...) keep working until then.
DEMO_FOLDER = "demo"


@dataclass(frozen=True)
class DemoOutcome:
    """What the demo did and whether bisector found the injected commit."""

    repo: DemoRepo
    regression: Regression  # the one that was hunted
    culprit: str | None  # what bisector named (None if it named candidates or nothing)
    candidates: tuple[str, ...]
    found: bool  # bisector named exactly the injected culprit
    report_dir: Path | None
    c_bin: Path
    exit_code: int  # bisector's own exit code for the run
    seconds: float
    scenarios: tuple[str, ...] = ()  # the scenarios bisector judged
    records: tuple[ScoreRecord, ...] = ()  # bisector's score records (endpoints, bisect steps, confirmation)
    narrowing: Narrowing | None = None  # with narrow: the culprit narrowed to its hunks

    @property
    def narrowed_right(self) -> bool:
        """``narrow`` isolated exactly the injected hunk among the culprit's hunks."""
        if self.narrowing is None or not self.narrowing.isolated:
            return False
        breaking = next(spec.breaking for spec in REGRESSIONS if spec.name == self.regression.name)
        (hunk, *more) = self.narrowing.minimal_hunks or [None]
        return hunk is not None and not more and any(breaking in line for line in hunk.body if line.startswith("+"))

    @property
    def user_command(self) -> str:
        """The command a user would type to run the same hunt by hand."""
        argv = [*program(), "run", "--repo", str(self.repo.path), "--good", self.regression.good,
                "--bad", self.regression.bad, "--c-bin", str(self.c_bin)]
        for name in self.scenarios:
            argv += ["--scenario", name]
        return shlex.join(argv)


def run_demo(dir: Path | None = None, commits: int = 1400, size: int = 4096, seed: int = DEFAULT_SEED,
             console: Console | None = None, *, regression: str = FIRST_REGRESSION,
             cache_dir: Path | None = None, scenarios: list[str] | None = None,
             compiled: bool = False, narrow: bool = False) -> DemoOutcome:
    """Generate the port in ``dir``, then hunt one regression; the port and its report stay.

    ``dir``: a new or empty folder (default: ``<cache>/demo/nbport``, replaced by the next
    demo). ``size``: benchmark detector pixels per axis. ``regression``: which injected
    regression's bracket to bisect. ``scenarios``: the scenarios to judge (default: the
    first one that detects the hunted regression, so a cold demo at 4096^2 stays within
    minutes on two cores). ``cache_dir``: bisector's cache (default: the user's).
    ``compiled``: the port wraps its kernel in ``torch.compile`` like real ports (off by
    default: compiling from cold adds minutes to a first demo on two cores). ``narrow``: then
    narrow the culprit to its hunks (`bisector narrow`) and check it names the injected one.
    Raises DemoError for a bad request and BuildError when the C twin cannot be built.
    """
    from simkernel import cref

    from ..api import run_bisect
    from ..cli.console import ConsoleHandler

    console = console or Console(stderr=True, soft_wrap=True)
    started = time.perf_counter()
    _check_regression(regression)
    target = demo_folder(dir, cache_dir)
    # checked before anything is created, so a refused folder is never removed
    check_request(target, commits, size)
    repo = _generate(target, commits, size, seed, console, compiled)
    hunted = _pick(repo, regression)
    with console.status("building the C twin (once per source version)"):
        c_bin = cref.binary()
    console.print(f"reference: C twin {c_bin}")
    judged = tuple(scenarios or hunted.scenarios[:1])
    console.print(f"hunting [bold]{hunted.name}[/bold] between good {hunted.good[:10]} and bad "
                  f"{hunted.bad[:10]}, judging {', '.join(judged)}")
    result = run_bisect(
        repo.path, hunted.good, hunted.bad, report_root=target / "reports" / "bisect", handler=ConsoleHandler(console),
        overrides=ConfigOverrides(c_bin=str(c_bin), cache_dir=cache_dir, scenarios=list(judged)))
    narrowed = None
    if narrow and result.culprit == hunted.culprit:
        from ..narrow.api import narrow_hunted

        narrowed = next(iter(narrow_hunted(result, handler=ConsoleHandler(console))), None)
    outcome = DemoOutcome(
        repo=repo, regression=hunted, culprit=result.culprit, candidates=tuple(result.candidates),
        found=result.culprit == hunted.culprit, report_dir=result.report_dir, c_bin=c_bin,
        exit_code=result.exit_code, seconds=time.perf_counter() - started, scenarios=judged,
        records=tuple(result.records), narrowing=narrowed)
    _print_verdict(outcome, console)
    if narrow:
        _print_narrowing(outcome, console)
    return outcome


def demo_folder(dir: Path | None, cache_dir: Path | None = None) -> Path:
    """``dir``, or the stable folder of the demo's port, emptied of the previous demo's."""
    if dir is not None:
        return Path(dir)
    target = Path(cache_dir or default_cache_dir()) / DEMO_FOLDER / "nbport"
    shutil.rmtree(target, ignore_errors=True)
    return target


def _check_regression(name: str) -> None:
    known = [spec.name for spec in REGRESSIONS]
    if name not in known:
        raise DemoError(f"the demo has no regression named {name!r}", hint=f"choose one of: {', '.join(known)}")


def _generate(target: Path, commits: int, size: int, seed: int, console: Console,
              compiled: bool = False) -> DemoRepo:
    began = time.perf_counter()
    with console.status(f"generating a {commits}-commit port history"):
        repo = generate(target, commits=commits, size=size, seed=seed, compiled=compiled)
    console.print(f"generated [bold]{repo.path}[/bold]: {len(repo.history)} commits, "
                  f"{len(repo.source_commits)} touch src/, in {time.perf_counter() - began:.1f} s")
    for injected in repo.regressions:
        console.print(f"  injected {injected.name}: {injected.culprit[:10]} (fixed in {injected.fix[:10]}) "
                      f"- {injected.description}")
    console.print(f"  import broken in {len(repo.broken_import)} commits from {repo.broken_import[0][:10]}")
    return repo


def _pick(repo: DemoRepo, name: str) -> Regression:
    try:
        return repo.regression(name)
    except KeyError:
        known = ", ".join(r.name for r in repo.regressions)
        raise DemoError(f"the demo has no regression named {name!r}", hint=f"choose one of: {known}") from None


def _print_verdict(outcome: DemoOutcome, console: Console) -> None:
    console.print()
    injected = outcome.regression.culprit
    if outcome.found:
        console.print(f"[green bold]bisector found the injected commit[/green bold] {injected[:10]} "
                      f"({outcome.regression.name}) in {outcome.seconds:.0f} s")
    elif outcome.candidates and injected in outcome.candidates:
        console.print(f"[yellow]bisector narrowed it to {len(outcome.candidates)} candidates, "
                      f"including the injected {injected[:10]}[/yellow]")
    else:
        named = outcome.culprit[:10] if outcome.culprit else "no commit"
        console.print(f"[red bold]bisector named {named}, but the injected commit is {injected[:10]}[/red bold]")
    console.print(f"the port stays at {outcome.repo.path} (a demo without --dir replaces it); "
                  "hunt by hand with:", markup=False)
    console.print(f"  {outcome.user_command}", soft_wrap=True, markup=False)
    console.print("on your own port's checkout:", soft_wrap=True)
    console.print(f"  {shlex.join(program())} run --good <known-good sha> --c-bin /path/to/nanoBragg", markup=False)


def _print_narrowing(outcome: DemoOutcome, console: Console) -> None:
    n = outcome.narrowing
    if n is None:
        console.print("[red bold]nothing was narrowed: the hunt did not name the injected commit[/red bold]")
        return
    places = "; ".join(str(n.places[h.index]) for h in n.minimal_hunks)
    tally = f"{n.scorings} scorings for {len(n.hunks)} hunks, ddmin's worst case {n.bound}"
    if outcome.narrowed_right:
        console.print(f"[green bold]narrow named the injected hunk[/green bold] {places} ({tally})", soft_wrap=True)
    else:
        console.print(f"[red bold]narrow named {places or 'nothing'}, not the injected hunk[/red bold] ({tally})",
                      soft_wrap=True)
