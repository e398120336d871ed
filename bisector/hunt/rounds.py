"""`run --jobs K`: rounds of K concurrent scores in the private repository's bisect.

search/bisection.py chooses each round's commits; the executor scores them at once;
every verdict is then told to git (``git bisect good/bad/skip``) in an order that keeps
git's own narrowing equal to ours (skips, goods, then bads newest first, because git
keeps only the last bad it was told), so ``git bisect log`` stays the record, and the
outcome is read from it as for a one-at-a-time bisection. Commits whose scores are all
in the cache are settled before each round without taking a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import git
from ..config import Config
from ..execute.base import Executor
from ..execute.task import score_as_completed
from ..report.text import first_reason
from ..records import Phase, ScoreRecord
from ..score.verdict import Verdict
from .handler import HuntHandler
from .peek import CachePeek
from .probing import ProbeLedger
from .bisectlog import BisectOutcome, parse_bisect_log
from ..search.bisection import expected_rounds, least_satisfying, untested, window
from .session import PrivateBisect


@dataclass
class RoundsResult:
    steps: list[ScoreRecord] = field(default_factory=list)   # phase BISECT, with their round
    rounds: int = 0
    outcome: BisectOutcome = field(default_factory=BisectOutcome)
    abort: str | None = None                           # why the harness stopped the hunt
    notes: list[str] = field(default_factory=list)


def fits(repo: Path, good: str, bad: str, handler: HuntHandler) -> bool:
    """Evenly spaced probes need a line of commits: merges in the range bisect one at a time."""
    if git.has_merges(repo, good, bad):
        handler.notice("the range holds merge commits: bisecting one commit at a time "
                       "(--jobs applies to the endpoints and the confirmation)")
        return False
    return True


class _Aborted(Exception):
    """The harness failed on a commit: the search stops, the hunt reports why."""


def run_rounds(bisect: PrivateBisect, config: Config, executor: Executor, jobs: int,
               good: str, bad: str, handler: HuntHandler, probes: ProbeLedger | None = None) -> RoundsResult:
    """The pure search (search/bisection.py) drives; this supplies its scorer and tells git.
    ``probes``: the evidence so far (the endpoints'); each round runs the probes only while they pay."""
    probes = probes or ProbeLedger()
    repo = Path(config.repo)
    commits = list(reversed(git.rev_list(repo, good, bad, list(config.paths))))
    index = {sha: i for i, sha in enumerate(commits)}
    known = {len(commits) - 1: Verdict.BAD} if commits and commits[-1] == bad else {}  # scored as the endpoint
    verdicts: list[Verdict | None] = [known.get(i) for i in range(len(commits))]  # what git has been told
    result = RoundsResult()
    subjects = {sha: git.commit_info(repo, sha).subject for sha in commits}
    peek = CachePeek(config)

    def take(pairs, label: str) -> dict[int, Verdict]:
        told: dict[int, Verdict] = {}
        for sha, record in pairs:
            probes.observe(record)
            _take(result, record, verdicts, index[sha], handler, subjects[sha], label, told)
            if record.verdict is Verdict.ABORT:
                result.abort = first_reason(record)
                raise _Aborted
        _tell_git(bisect, commits, verdicts, told, result)
        return told

    def settle(untested_states: list[int]) -> dict[int, Verdict]:
        return take(peek.settle([commits[i] for i in untested_states]), "cached")

    def score_round(batch: list[int]) -> dict[int, Verdict]:
        result.rounds += 1
        left = expected_rounds(len(untested(verdicts)), jobs)
        with handler.busy(f"round {result.rounds} (about {left} left): scoring {len(batch)} commits "
                            f"on {jobs} workers"):
            shas = [commits[i] for i in batch]
            full_only = () if probes.pays() else shas
            return take(score_as_completed(executor, config, shas, full_only=full_only), f"r{result.rounds}")

    try:
        least_satisfying(len(commits), score_round, jobs, known=known, settle=settle)
    except _Aborted:
        return result
    result.outcome = parse_bisect_log(bisect.log())  # git's log stays the record
    for note in result.notes:
        handler.notice(note)
    return result


def _take(result: RoundsResult, record: ScoreRecord, verdicts, i: int, handler: HuntHandler,
          subject: str, label: str, told: dict[int, Verdict]) -> None:
    record = replace(record.in_phase(Phase.BISECT), round=result.rounds)
    result.steps.append(record)
    handler.step_scored(label, record, subject)
    if record.verdict is not Verdict.ABORT:
        verdicts[i] = told[i] = record.verdict


def _tell_git(bisect: PrivateBisect, commits: list[str], verdicts, told: dict[int, Verdict],
              result: RoundsResult) -> None:
    hi = window(verdicts).hi
    skips = sorted(i for i, v in told.items() if v is Verdict.SKIP)
    goods = sorted(i for i, v in told.items() if v is Verdict.GOOD and i < hi)
    bads = sorted((i for i, v in told.items() if v is Verdict.BAD), reverse=True)
    if skips:
        bisect.mark("skip", [commits[i] for i in skips])
    if goods:
        bisect.mark("good", [commits[i] for i in goods])
    for i in bads:  # git keeps the last bad it hears: the oldest one goes last
        bisect.mark("bad", [commits[i]])
    for i in sorted(i for i, v in told.items() if v is Verdict.GOOD and i > hi):
        result.notes.append(f"{commits[i][:10]} scored good after the bad {commits[hi][:10]}: the history "
                            "is not monotonic there; git was not told (it would refuse the pair)")
