"""Which commits the score cache already settles: scoring them runs nothing.

`run --jobs K` settles them before each round without taking a worker; `scan --budget`
does not count them against the budget.
"""

from __future__ import annotations

from pathlib import Path

from .. import git
from ..config import Config
from ..records import ScoreRecord
from ..score.scoring import ScoringService


class CachePeek:
    """Which commits have every judged scenario in the score cache (scoring them then runs
    nothing): asked through the scoring service, with the one key it scores under."""

    def __init__(self, config: Config):
        self.config = config

    def settle(self, commits: list[str]) -> list[tuple[str, ScoreRecord]]:
        """(commit, its record read from the cache) for each commit whose scores are all there."""
        hits = self.cached(commits)
        if not hits:
            return []
        with ScoringService(self.config) as service:
            return [(sha, service.score(sha)) for sha in hits]

    def cached(self, commits: list[str]) -> list[str]:
        """The commits of ``commits`` that scoring would read from the cache alone."""
        if not commits or not self.config.reference.pinned_key:
            return []
        paths = list(self.config.paths)
        trees = git.tree_ids_many(Path(self.config.repo), commits, paths)
        with ScoringService(self.config) as service:
            return [sha for sha in commits if service.all_cached(dict(zip(paths, trees[sha])))]
