"""What lies between the good and the bad commit: counts that say how hard the hunt is."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import git


@dataclass(frozen=True)
class GitWalk:
    good: str
    bad: str
    commits: int               # in good..bad
    relevant_commits: int      # of those, touching the relevant paths
    distinct_states: int       # distinct relevant trees among good, bad and the relevant commits
    paths: tuple[str, ...]
    # sha -> the object id of each path, for good, bad and the relevant commits (not reported)
    trees: dict[str, tuple[str | None, ...]] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "trees"}


def walk_range(repo: Path, good: str, bad: str, paths: list[str]) -> GitWalk:
    every = git.rev_list(repo, good, bad)
    relevant = git.rev_list(repo, good, bad, paths)
    states = git.tree_ids_many(repo, [good, bad, *relevant], paths)
    return GitWalk(good=good, bad=bad, commits=len(every), relevant_commits=len(relevant),
                   distinct_states=len(set(states.values())), paths=tuple(paths), trees=states)
