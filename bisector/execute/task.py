"""The unit of work of every executor in a hunt: score this commit with this pinned config.

``score_task`` runs wherever the executor puts it (this process, a worker process, a
Dask worker) and returns the typed ScoreRecord. ``score_many`` fans a list of commits
out and hands back one record per commit, turning an item that failed even after its
retry into a SKIP record that carries the reason, so a lost worker costs one untestable
commit, never the hunt.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..records import ScenarioResult, ScoreRecord
from ..score.scoring import score_commit
from ..score.verdict import Verdict
from .base import Executor, Outcome

# Per item, beyond the scorer's own candidate timeouts: export, setup, start-up and metrics.
_OVERHEAD_S = 120.0


@dataclass(frozen=True)
class ScoreTask:
    config_json: str          # the pinned configuration (Config.to_json)
    commit: str
    use_cache: bool = True
    keep_images: str | None = None
    use_probes: bool = True
    until_bad: tuple[str, ...] | None = None


def score_task(task: ScoreTask) -> ScoreRecord:
    config = Config.from_json(task.config_json)
    keep = Path(task.keep_images) if task.keep_images else None
    return score_commit(config, task.commit, use_cache=task.use_cache, use_probes=task.use_probes,
                        keep_images=keep, until_bad=task.until_bad)


def task_timeout(config: Config) -> float:
    """Long enough for a setup plus every judged scenario and its probe at the candidate timeout."""
    runs = 1 + sum(1 + bool(config.scenarios[name].probe) for name in config.judge)
    return runs * config.timeout_s + _OVERHEAD_S


def failed_record(config: Config, commit: str, reason: str) -> ScoreRecord:
    """SKIP with the reason on every judged scenario: the commit could not be measured."""
    why = f"worker failed twice: {reason}"
    return ScoreRecord(commit=commit, tree_ids={}, verdict=Verdict.SKIP, error=why,
                       scenarios=[ScenarioResult(name, Verdict.SKIP, why) for name in config.judge])


def score_as_completed(executor: Executor, config: Config, commits: list[str], *, use_cache: bool = True,
                       keep_images: dict[str, Path] | None = None,
                       full_only: Collection[str] = (),
                       until_bad: Sequence[str] | None = None) -> Iterator[tuple[str, ScoreRecord]]:
    """(commit as given, its record) per commit, as each completes; commits in ``full_only``
    are judged on their full scenarios (no probe may decide them); ``until_bad``: see
    ``score_commit``."""
    pinned = config.to_json()
    keep = keep_images or {}
    order = tuple(until_bad) if until_bad else None
    tasks = [ScoreTask(pinned, sha, use_cache, str(keep[sha]) if sha in keep else None, sha not in full_only,
                       order) for sha in commits]
    for outcome in executor.map(score_task, tasks, timeout_s=task_timeout(config)):
        yield outcome.item.commit, _record(config, outcome)


def score_many(executor: Executor, config: Config, commits: list[str], **kw) -> list[ScoreRecord]:
    """One record per commit, in the order of ``commits``."""
    by_commit = dict(score_as_completed(executor, config, commits, **kw))
    return [by_commit[sha] for sha in commits]


def _record(config: Config, outcome: Outcome) -> ScoreRecord:
    task: ScoreTask = outcome.item
    if outcome.ok:
        return outcome.value
    return failed_record(config, task.commit, outcome.error or "unknown failure")
