"""Which commits the score cache already settles: scoring them runs nothing.

`run --jobs K` settles them before each round without taking a worker; `scan --budget`
does not count them against the budget.
"""

from __future__ import annotations

from pathlib import Path

from .. import git
from ..config import Config
from ..score.scoring import ScoreRecord, environment_key, score_commit
from ..store.cache import Cache


class CachePeek:
    """Which commits have every judged scenario in the score cache (scoring them then runs nothing).

    It asks the cache with the key score/scoring.py writes (relevant trees, scenario args,
    pinned reference key, environment); a key that stops matching only costs speed.
    """

    def __init__(self, config: Config):
        self.config = config
        self.environment = environment_key(config)

    def settle(self, commits: list[str]) -> list[tuple[str, ScoreRecord]]:
        """(commit, its record read from the cache) for each commit whose scores are all there."""
        return [(sha, score_commit(self.config, sha)) for sha in self.cached(commits)]

    def cached(self, commits: list[str]) -> list[str]:
        """The commits of ``commits`` that scoring would read from the cache alone."""
        if not commits or not self.config.reference.pinned_key:
            return []
        paths = list(self.config.paths)
        trees = git.tree_ids_many(Path(self.config.repo), commits, paths)
        cache = Cache(self.config.cache_dir)
        try:
            return [sha for sha in commits if self._cached(cache, dict(zip(paths, trees[sha])))]
        finally:
            cache.close()

    def _cached(self, cache: Cache, trees: dict) -> bool:
        for name in self.config.judge:
            parts = {"trees": trees, "args": list(self.config.scenarios[name].args),
                     "reference": self.config.reference.pinned_key, "environment": self.environment}
            if cache.get_score(parts) is None:
                return False
        return True
