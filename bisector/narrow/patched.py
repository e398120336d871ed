"""Subsets of a commit's hunks applied to its parent, as commits of a private repository.

The repository lives in an owned scratch folder and borrows the user's objects
(``git.init_private``); each subset becomes the parent's tree with the subset's patch
applied in that repository's own index, then a commit of that tree. Scoring such a
commit with ``config.repo`` pointed at the private repository is scoring the tree: the
score cache is keyed by the relevant tree ids, so the empty subset shares the parent's
cached scores and the full subset the culprit's. Nothing is written to the user's
repository, index or work tree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import git
from ..score import procs
from . import hunks as hk


class PatchedParent:
    """``with PatchedParent(repo, parent) as p: p.commit_of(subset)``."""

    def __init__(self, repo: Path, parent: str):
        self.repo = Path(repo)
        self.parent = parent
        self.scratch: Path | None = None
        self.path: Path | None = None
        self._made: dict[frozenset[int], tuple[str | None, str]] = {}

    def __enter__(self) -> "PatchedParent":
        self.scratch = procs.owned_tempdir("bisector-narrow-")
        self.path = self.scratch / "repo"
        git.init_private(self.repo, self.path, self.parent)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.path is not None:
            git.close(self.path)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def commit_of(self, subset: tuple[hk.Hunk, ...]) -> tuple[str | None, str]:
        """(commit, "") of the parent with exactly ``subset`` applied, or (None, why) when
        the hunks do not apply together."""
        key = frozenset(h.index for h in subset)
        if key not in self._made:
            tree, why = git.apply_to_tree(self.path, self.parent, hk.patch(subset))
            if tree is None:
                self._made[key] = (None, f"the hunks do not apply: {why}")
            else:
                names = ", ".join(f"#{h.index + 1}" for h in sorted(subset, key=lambda h: h.index)) or "none"
                self._made[key] = (git.commit_tree(self.path, tree, self.parent,
                                                   f"bisector narrow: parent + hunks {names}"), "")
        return self._made[key]
