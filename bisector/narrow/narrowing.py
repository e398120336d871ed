"""Narrow a commit to the hunks that change parity: ddmin over its hunks, each subset scored.

A subset of hunks is applied to the parent's tree in a private repository
(:mod:`.patched`) and scored exactly like a hunt's commit: ``score_commit``, the same
pinned reference, thresholds and score cache (keyed by the resulting relevant trees), the
probe allowed to convict during the search. A subset that does not apply, does not import
or produces no image is unresolved (git bisect's 125), never a verdict. The 1-minimal set
found is then confirmed by a fresh run of the full scenarios (as a hunt confirms its
culprit) and, when the budget allows, the commit without it is scored (the complement
check): still showing the effect means other hunks cause it too.

A break (parent good, commit bad) is narrowed to the hunks that break parity; a fix
(parent bad, commit good) to the hunks that restore it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import git
from ..config import Config
from ..errors import DiagnosisExit, GitError, HarnessAbort
from ..report.text import first_reason
from ..records import ScoreRecord
from ..score.scoring import score_commit
from ..score.verdict import Verdict
from ..search.ddmin import Outcome, Result, ddmin, worst_case_tests
from . import hunks as hk
from .patched import PatchedParent

ISOLATED = DiagnosisExit.OK        # a 1-minimal set found, confirmed, and (when checked) the only cause
NOT_ISOLATED = DiagnosisExit.FAILS  # interaction over every hunk, complement still shows it, budget, ...

# Scorings of hunk subsets (search, confirmation, complement). ddmin needs at most
# (n^2 + 3n)/2 tests for n hunks: 14 for 4 hunks, 20 for 5; the real culprits this was built
# for have 1 to 4 hunks, and a 4096^2 scoring takes minutes, so 24 bounds a narrowing at
# about an hour there while covering 5 hunks plus confirmation and complement.
DEFAULT_BUDGET = 24

Announce = Callable[[str, ScoreRecord | None], None]


@dataclass(frozen=True)
class Place:
    """Where a hunk sits: ``path:first-last`` on the commit's side (``side`` "new") or, for
    a hunk that only removes lines, on the parent's ("old"), and the enclosing definition."""

    path: str
    side: str
    first: int
    last: int
    function: str | None

    def __str__(self) -> str:
        lines = f"{self.first}" if self.first == self.last else f"{self.first}-{self.last}"
        where = f"{self.path}:{lines}" + (" (removed lines, parent's numbering)" if self.side == "old" else "")
        return where + (f" in {self.function}" if self.function else "")


@dataclass(frozen=True)
class Trial:
    """One scored subset: the hunks (indices), the outcome for ddmin, the record (None when
    the hunks do not apply together) and why it is unresolved."""

    hunks: tuple[int, ...]
    outcome: Outcome
    record: ScoreRecord | None
    reason: str = ""
    purpose: str = "search"  # search, confirm, complement


@dataclass
class Narrowing:
    repo: Path
    commit: str
    parent: str
    granularity: str
    budget: int
    hunks: list[hk.Hunk] = field(default_factory=list)
    places: dict[int, Place] = field(default_factory=dict)
    direction: str | None = None       # "break" or "fix"; None when the commit changes no verdict
    parent_record: ScoreRecord | None = None
    commit_record: ScoreRecord | None = None
    search: Result | None = None
    trials: list[Trial] = field(default_factory=list)
    minimal: tuple[int, ...] = ()
    confirmation: Trial | None = None   # parent + minimal, full scenarios
    complement: Trial | None = None     # commit - minimal
    interaction: bool = False
    isolated: bool = False
    conclusion: str = ""
    exit_code: int = NOT_ISOLATED
    seconds: float = 0.0

    @property
    def scorings(self) -> int:
        return len(self.trials)

    @property
    def bound(self) -> int:
        return worst_case_tests(len(self.hunks))

    @property
    def minimal_hunks(self) -> list[hk.Hunk]:
        return [self.hunks[i] for i in self.minimal]

    @property
    def target(self) -> Verdict:
        return Verdict.GOOD if self.direction == "fix" else Verdict.BAD


def narrow_commit(config: Config, commit: str, *, parent: str | None = None, budget: int = DEFAULT_BUDGET,
                  granularity: str = "hunks", announce: Announce | None = None) -> Narrowing:
    """Narrow ``commit`` against ``parent`` (default: its first parent) with a pinned ``config``.

    Raises GitError for commits that do not exist (or a root commit without --parent),
    HarnessAbort when the harness, not a subset, fails.
    """
    announce = announce or (lambda text, record: None)
    started = time.monotonic()
    result = _narrowed(config, commit, parent, budget, granularity, announce)
    result.seconds = time.monotonic() - started
    return result


def _narrowed(config: Config, commit: str, parent: str | None, budget: int, granularity: str,
              announce: Announce) -> Narrowing:
    repo = Path(config.repo)
    commit = git.resolve(repo, commit)
    parent = git.resolve(repo, parent) if parent else _first_parent(repo, commit)
    result = Narrowing(repo=repo, commit=commit, parent=parent, granularity=granularity, budget=budget)
    result.hunks = _hunks(repo, parent, commit, list(config.paths), granularity)
    result.places = {h.index: _place(repo, parent, commit, h) for h in result.hunks}
    if not result.hunks:
        return _conclude(result, f"{commit[:10]} changes nothing under {', '.join(config.paths)} against "
                                 f"{parent[:10]}: there are no hunks to narrow.")
    result.parent_record = _scored(config, parent, "parent", announce)
    result.commit_record = _scored(config, commit, "commit", announce)
    ends = (result.parent_record.verdict, result.commit_record.verdict)
    if ends == (Verdict.GOOD, Verdict.BAD):
        result.direction = "break"
    elif ends == (Verdict.BAD, Verdict.GOOD):
        result.direction = "fix"
    else:
        return _conclude(result, f"the parent {parent[:10]} is {ends[0].value} and {commit[:10]} is "
                                 f"{ends[1].value}: the commit does not turn one verdict into the other, "
                                 "so there is nothing to narrow.")
    with PatchedParent(repo, parent) as patched:
        _search(config, result, patched, announce)
    return _conclude(result)


def _first_parent(repo: Path, commit: str) -> str:
    parents = git.parents(repo, commit)
    if not parents:
        raise GitError(f"{commit[:10]} is a root commit: it has no parent to narrow against",
                       hint="pass --parent with the commit to compare it with")
    return parents[0]


def _hunks(repo: Path, parent: str, commit: str, paths: list[str], granularity: str) -> list[hk.Hunk]:
    found = hk.parse(git.diff_patch(repo, parent, commit, paths))
    return hk.split_lines(found) if granularity == "lines" else found


def _place(repo: Path, parent: str, commit: str, hunk: hk.Hunk) -> Place:
    if hunk.whole_file:
        return Place(hunk.path, "new", 1, max(hunk.added, 1), None)
    side, first, last = hunk.changed_range()
    if hunk.path.endswith(".py"):  # our own scan: git's guess names any unindented line
        function = hk.enclosing_definition(git.file_lines(repo, commit if side == "new" else parent, hunk.path), first)
    else:
        function = hunk.section or None
    return Place(hunk.path, side, first, last, function)


def _scored(config: Config, commit: str, label: str, announce: Announce) -> ScoreRecord:
    record = score_commit(config, commit, use_probes=False)
    _check_harness(record, label)
    announce(label, record)
    return record


def _check_harness(record: ScoreRecord, label: str) -> None:
    if record.verdict is Verdict.ABORT:
        raise HarnessAbort(f"scoring the {label} failed in the harness, not in the code: {first_reason(record)}")


def _search(config: Config, result: Narrowing, patched: PatchedParent, announce: Announce) -> None:
    private = dataclasses.replace(config, repo=patched.path)
    everything = tuple(h.index for h in result.hunks)

    def trial(indices: tuple[int, ...], purpose: str, use_probes: bool, use_cache: bool = True) -> Trial:
        subset = tuple(result.hunks[i] for i in indices)
        sha, why = patched.commit_of(subset)
        if sha is None:
            made = Trial(indices, Outcome.UNRESOLVED, None, why, purpose)
        else:
            record = score_commit(private, sha, use_probes=use_probes, use_cache=use_cache)
            _check_harness(record, f"hunks {_names(indices)}")
            made = Trial(indices, _outcome(record.verdict, result.target), record,
                         first_reason(record) if record.verdict is Verdict.SKIP else "", purpose)
        result.trials.append(made)
        announce(f"{purpose} {len(result.trials)}: hunks {_names(indices)} -> {made.outcome.value}"
                 + (f" ({made.reason})" if made.reason else ""), made.record)
        return made

    # one scoring stays for the full-size confirmation of what the search finds
    result.search = ddmin(everything, lambda s: trial(s, "search", True).outcome, budget=max(result.budget - 1, 0))
    result.minimal = result.search.found
    result.interaction = len(result.minimal) > 1
    if result.search.exhausted:
        return
    if result.minimal == everything:
        result.confirmation = Trial(everything, Outcome.FAIL, result.commit_record, purpose="confirm")
    else:
        # like a hunt's culprit: one fresh run of the full scenarios, cache or probe aside
        result.confirmation = trial(result.minimal, "confirm", use_probes=False, use_cache=False)
    if result.confirmation.outcome is not Outcome.FAIL or result.scorings >= result.budget:
        return
    rest = tuple(i for i in everything if i not in result.minimal)
    if not rest:
        result.complement = Trial((), Outcome.PASS, result.parent_record, purpose="complement")
    else:
        result.complement = trial(rest, "complement", True)


def _outcome(verdict: Verdict, target: Verdict) -> Outcome:
    if verdict is Verdict.SKIP:
        return Outcome.UNRESOLVED
    return Outcome.FAIL if verdict is target else Outcome.PASS


def _names(indices: tuple[int, ...]) -> str:
    return " ".join(f"#{i + 1}" for i in indices) or "none"


def _conclude(result: Narrowing, reason: str | None = None) -> Narrowing:
    """Set ``isolated``, the exit code and the conclusion a person acts on."""
    if reason is not None:
        result.conclusion, result.exit_code = f"Not narrowed: {reason}", NOT_ISOLATED
        return result
    n, found = len(result.hunks), result.minimal
    effect = "breaks parity" if result.direction == "break" else "restores parity"
    effects = "break parity" if result.direction == "break" else "restore parity"
    effect_again = "breaks parity" if result.direction == "break" else "is good again"
    names = _names(found)
    search = result.search
    problems = []
    if search.exhausted:
        problems.append(f"the budget of {result.budget} scorings ran out before the search ended; "
                        f"the smallest set found that would {effects} is hunks {names}")
    elif len(found) > 1 and len(found) == n:
        problems.append(f"no proper subset of the {n} hunks {effects}: they interact, and only all of them "
                        f"together {effects}")
    if result.confirmation is not None and result.confirmation.outcome is not Outcome.FAIL:
        problems.append(f"hunks {names} do not {effects.split()[0]} parity on the full scenarios "
                        f"({result.confirmation.outcome.value}: {result.confirmation.reason or 'see the metrics'})")
    if result.complement is not None and result.complement.outcome is Outcome.FAIL:
        problems.append(f"the commit without hunks {names} still {effect_again}: "
                        "other hunks cause it too")
    unresolved = len(search.unresolved)
    notes = []
    if result.interaction and not problems:
        notes.append(f"the {len(found)} hunks interact: each is needed, none {effect} alone")
    if unresolved:
        notes.append(f"{unresolved} subset(s) could not be judged (do not apply, import or run) and blamed nothing")
    if result.complement is None and not problems:
        notes.append("the commit without these hunks was not scored (budget)")
    elif result.complement is not None and result.complement.outcome is Outcome.UNRESOLVED:
        notes.append(f"the commit without these hunks cannot be judged ({result.complement.reason})")
    result.isolated = not problems
    result.exit_code = ISOLATED if result.isolated else NOT_ISOLATED
    where = "; ".join(str(result.places[i]) for i in found)
    if result.isolated:
        text = (f"Isolated: hunk{'s' if len(found) > 1 else ''} {names} of {n} ({where}) {effect if len(found) == 1 else effects}"
                f" on {result.parent[:10]}, confirmed by a fresh run of the full scenarios")
        if result.complement is not None and result.complement.outcome is Outcome.PASS:
            text += f"; {result.commit[:10]} without {'them' if len(found) > 1 else 'it'} does not"
        text += "."
    else:
        text = "Not isolated: " + "; ".join(problems) + f". Smallest set found: hunks {names} ({where})."
    if notes:
        text += " Note: " + "; ".join(notes) + "."
    text += (f" {result.scorings} scorings of hunk subsets (ddmin's worst case for {n} hunks: "
             f"{result.bound} tests; budget {result.budget}).")
    result.conclusion = text
    return result
