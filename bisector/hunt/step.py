"""The scoring step that `bisector run` hands to `git bisect run`, lean on purpose.

git starts this once per step, so its start-up is bisector's overhead per step: it reads
the configuration that `run` pinned outside the bisected tree and imports no CLI
framework. A step whose state the run already knows (``KnownStates``) and whose score is
cached asks git one question (two more, about 4 ms, while the probe rule would run the probe:
whether its verdict names the culprit) and loads neither GitPython nor package metadata.
``python -m bisector.hunt.step PINNED_CONFIG REPO EVENTS PROBES STATES IMAGES``; exit codes as
`bisector score` (0 good, 1 bad, 125 skip, 128 abort, 130 interrupted).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import git
from ..config import Config
from ..errors import ConfigError, ScoreExit, as_reportable, error_lines, exit_code_of
from ..report.text import record_lines
from ..score import procs
from ..store.events import Event, EventLog, EventType

if TYPE_CHECKING:
    from ..records import ScoreRecord
    from ..score.scoring import State
    from .walk import GitWalk


def commit_under_test(repo: Path) -> str:
    """BISECT_HEAD during a ``--no-checkout`` bisection (git moves it, not HEAD), else HEAD."""
    return git.bisect_head(repo) or git.resolve(repo, "HEAD")


@dataclass(frozen=True)
class KnownStates:
    """What `bisector run` knows, before its bisection starts, of the states git may pick:
    the relevant trees of each commit of the range, and the scoring environment (its steps
    run with the run's interpreter and packages, so theirs is the same)."""

    environment: dict[str, Any] | None = None
    trees: dict[str, dict[str, str | None]] = field(default_factory=dict)  # sha -> path -> object id

    @classmethod
    def of(cls, walk: "GitWalk", environment: dict[str, Any]) -> "KnownStates":
        """The trees ``walk`` read for each of its commits, by path, with ``environment``."""
        return cls(environment, {sha: dict(zip(walk.paths, ids)) for sha, ids in walk.trees.items()})

    def to_json(self) -> str:
        return json.dumps({"environment": self.environment, "trees": self.trees})

    @classmethod
    def read(cls, path: Path) -> "KnownStates":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the pinned states {path}: {exc}")
        return cls(environment=data.get("environment"), trees=data.get("trees") or {})

    def state(self, config: Config, sha: str) -> "State | None":
        """The state of ``sha`` as the scoring service would find it, or None when not known."""
        from ..score.scoring import State  # imported on use, as the engine below (run_step)

        trees = self.trees.get(sha)
        if trees is None or list(trees) != list(config.paths):
            return None
        return State(sha, sha, Path(config.repo), trees)

    def decides_the_culprit(self, repo: Path, sha: str, paths: list[str]) -> bool:
        """Whether the verdict of ``sha`` names the culprit of the bisection running in
        ``repo`` (:func:`probing.decisive`); False while a state it needs is unknown."""
        from .probing import decisive  # on use, as run_step imports the probe rule

        bad, suspects = git.bisect_suspects(repo, paths)
        states = [self.trees.get(commit) for commit in [sha, bad, *suspects]]
        if None in states:
            return False
        tested, bad_state, *suspected = (tuple(trees.items()) for trees in states)
        return decisive(tested, bad_state, suspected)


def load_pinned(path: Path) -> Config:
    try:
        return Config.from_json(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the pinned configuration {path}: {exc}")


def owner_gone() -> bool:
    """True when the `bisector run` that started this bisection has died (SIGKILL): its
    orphaned `git bisect run` must stop here rather than go on scoring for no one."""
    marker = os.environ.get(procs.MARKER, "")
    return marker.endswith(":bisect") and not procs.owner_alive(marker.rpartition(":")[0])


def run_step(pinned: Path, repo: Path, events: Path, probes: Path, states: Path, images: Path) -> int:
    # On use: a step whose owner is gone stops before loading the scoring engine.
    from ..records import Phase
    from ..score.scoring import ScoringService
    from .probing import ProbeLedger

    if owner_gone():
        print("bisector: the bisector run that started this bisection is gone; stopping", file=sys.stderr)
        return ScoreExit.ABORT

    config = load_pinned(pinned)
    known = KnownStates.read(states)
    sha = commit_under_test(repo)
    log = EventLog(events)
    ledger = ProbeLedger.read(probes)  # the endpoints', then every earlier step's evidence:
    earlier = [event.record for event in log.read_all() if event.type is EventType.SCORED and event.record]
    for step in earlier:
        ledger.observe(step)
    log.append(Event(EventType.STEP_START, sha))
    with ScoringService(config, known.environment) as service:
        use_probes = ledger.pays() and not known.decides_the_culprit(repo, sha, list(config.paths))
        record = service.score(known.state(config, sha) or sha, log=log.append, use_probes=use_probes,
                               keep_images=images / sha).in_phase(Phase.BISECT)
    log.append(Event(EventType.SCORED, sha, record=record))
    drop_superseded_images(images, record, earlier)
    print("\n".join(record_lines(record)), flush=True)
    return record.exit_code


def drop_superseded_images(images: Path, record: ScoreRecord, earlier: list[ScoreRecord]) -> None:
    """Keep the images of the latest good and the latest bad step only.

    git picks each step between the last good and the first bad commit so far, so an earlier
    step with the same verdict is farther from the culprit than this one: its images (up to
    64 MB per scenario at 4096^2) will not picture the culprit or its parent.
    """
    if record.verdict.value not in ("good", "bad"):
        return
    for step in earlier:
        if step.verdict is record.verdict and step.commit != record.commit:
            shutil.rmtree(images / step.commit, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # `bisector run` stops a step with SIGTERM: as an exception it unwinds through the
    # candidate runner, which then kills the candidate's process group (no orphans).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if len(argv) != 6:
            raise ConfigError("usage: python -m bisector.hunt.step PINNED_CONFIG REPO EVENTS PROBES STATES IMAGES")
        return run_step(*map(Path, argv))
    except KeyboardInterrupt as exc:
        return exit_code_of(exc, ScoreExit)
    except BaseException as exc:  # noqa: BLE001 - anything else must abort, never read as "bad"
        print("\n".join(error_lines(as_reportable(exc))), file=sys.stderr)
        return exit_code_of(exc, ScoreExit)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt()


if __name__ == "__main__":
    sys.exit(main())
