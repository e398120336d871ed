"""Everything of a user's repository that bisector promises never to touch, as one value."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path


def _git(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env=env).stdout


def snapshot(repo: Path) -> dict:
    gitdir = Path(_git(repo, "rev-parse", "--absolute-git-dir").strip())
    index = gitdir / "index"
    bisect_log = gitdir / "BISECT_LOG"
    return {
        "head": _git(repo, "rev-parse", "HEAD"),
        "branch": _git(repo, "symbolic-ref", "-q", "HEAD"),
        "index": hashlib.sha256(index.read_bytes()).hexdigest() if index.exists() else None,
        "status": _git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored"),
        "stash": _git(repo, "stash", "list"),
        "branches": _git(repo, "for-each-ref", "refs/heads", "refs/tags"),
        "bisect_refs": _git(repo, "for-each-ref", "refs/bisect"),
        "bisect_log": bisect_log.read_text() if bisect_log.exists() else None,
        "worktrees": _git(repo, "worktree", "list", "--porcelain"),
    }
