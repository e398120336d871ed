"""Small functions around the git command line; the only module that runs git.

Every call runs ``git`` from an argument list (never a shell) in a clean environment:
variables such as GIT_DIR or GIT_INDEX_FILE that a hook or ``git bisect run`` may have
set would otherwise redirect our commands to the user's own repository state.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import GitError

# Kept from the caller's environment: they say how to reach remotes or who we are,
# never which repository, index or work tree to operate on.
_KEEP = {"GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS", "GIT_CONFIG_NOSYSTEM",
         "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
         "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"}

# Hooks of the user's repository must not run inside our private worktree.
_SAFE_CONFIG = ["-c", "core.hooksPath=/dev/null", "-c", "advice.detachedHead=false"]


def without_repository_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` less the GIT_* variables that would point git at some other repository."""
    return {k: v for k, v in environ.items() if not k.startswith("GIT_") or k in _KEEP}


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = without_repository_env(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def git(repo: Path, *args: str, check: bool = True, stdin: bytes | None = None,
        text: bool = True) -> subprocess.CompletedProcess:
    """Run ``git -C repo args...``; raise GitError naming the command when it fails."""
    proc = subprocess.run(
        ["git", *_SAFE_CONFIG, "-C", str(repo), *args],
        input=stdin if not text or stdin is None else stdin.decode(),
        capture_output=True, text=text, env=clean_env(),
    )
    if check and proc.returncode != 0:
        err = proc.stderr if text else proc.stderr.decode(errors="replace")
        raise GitError(f"git {' '.join(args)} failed in {repo}: {err.strip() or 'no message'}")
    return proc


def out(repo: Path, *args: str) -> str:
    return git(repo, *args).stdout.strip()


def toplevel(path: Path) -> Path:
    proc = git(path, "rev-parse", "--show-toplevel", check=False)
    if proc.returncode != 0:
        raise GitError(f"{Path(path).resolve()} is not inside a git repository",
                       hint="run bisector from your port's checkout, or pass --repo PATH")
    return Path(proc.stdout.strip())


def resolve(repo: Path, rev: str) -> str:
    """Full sha of the commit named by ``rev``."""
    proc = git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise GitError(f"unknown commit {rev!r} in {repo}",
                       hint="check the spelling with `git log --oneline`")
    return proc.stdout.strip()


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    return git(repo, "merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode == 0


def rev_list(repo: Path, good: str, bad: str, paths: list[str] | None = None) -> list[str]:
    """Commits in good..bad, newest first, optionally only those touching ``paths``."""
    args = ["rev-list", f"{good}..{bad}"]
    if paths:
        args += ["--", *paths]
    return out(repo, *args).split()


def tree_ids(repo: Path, commit: str, paths: list[str]) -> dict[str, str | None]:
    """The object id of each path at ``commit`` (None where it does not exist).

    Together these define the commit's relevant state: two commits with equal ids
    build and run the same code, so they share one cached score.
    """
    ids: dict[str, str | None] = {}
    for p in paths:
        proc = git(repo, "rev-parse", "--verify", "--quiet", f"{commit}:{p}", check=False)
        ids[p] = proc.stdout.strip() if proc.returncode == 0 else None
    return ids


def export(repo: Path, commit: str, paths: list[str], dest: Path) -> list[str]:
    """Write the files under ``paths`` at ``commit`` into ``dest``; return the paths present.

    Uses ``git archive`` so that no index, HEAD or work tree is touched: a clean,
    sparse materialisation of exactly the committed content.
    """
    present = [p for p, oid in tree_ids(repo, commit, paths).items() if oid]
    dest.mkdir(parents=True, exist_ok=True)
    if not present:
        return present
    proc = git(repo, "archive", "--format=tar", commit, "--", *present, text=False)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(dest, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(dest)
    return present


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    short: str
    subject: str
    author: str
    date: str  # ISO 8601, committer date


def commit_info(repo: Path, commit: str) -> CommitInfo:
    fields = out(repo, "show", "-s", "--format=%H%x00%h%x00%s%x00%an <%ae>%x00%cI", commit).split("\0")
    return CommitInfo(*fields)


def changed_files(repo: Path, commit: str) -> list[str]:
    return out(repo, "diff-tree", "--no-commit-id", "-r", "--name-only", "--root", commit).splitlines()


def diffstat(repo: Path, commit: str) -> str:
    return git(repo, "show", "--stat", "--format=", commit).stdout.strip("\n")


def parents(repo: Path, commit: str) -> list[str]:
    return out(repo, "rev-list", "--parents", "-n", "1", commit).split()[1:]


# --- private worktrees and git bisect -------------------------------------------------

def add_worktree(repo: Path, path: Path, commit: str) -> None:
    """A detached worktree with nothing checked out: bisect state lives there, not in the user's."""
    git(repo, "worktree", "add", "--no-checkout", "--detach", str(path), commit)


def remove_worktree(repo: Path, path: Path) -> None:
    git(repo, "worktree", "remove", "--force", str(path), check=False)
    git(repo, "worktree", "prune", check=False)


def worktree_paths(repo: Path) -> list[Path]:
    lines = out(repo, "worktree", "list", "--porcelain").splitlines()
    return [Path(line.split(" ", 1)[1]) for line in lines if line.startswith("worktree ")]


def bisect_start(worktree: Path, bad: str, good: str, paths: list[str]) -> str:
    """Start a --no-checkout bisect: git moves BISECT_HEAD, the scorer exports what it needs."""
    return git(worktree, "bisect", "start", "--no-checkout", bad, good, "--", *paths).stdout


def start_bisect_run(worktree: Path, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start ``git bisect run argv`` in a new process group (output on one pipe).

    Its own group lets the caller stop git and every scorer it started together, without
    signalling itself; the verdicts are read from ``bisect_log`` afterwards.
    """
    return subprocess.Popen(["git", *_SAFE_CONFIG, "-C", str(worktree), "bisect", "run", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=clean_env(env),
                            start_new_session=True)


def bisect_log(worktree: Path) -> str:
    return git(worktree, "bisect", "log", check=False).stdout


def bisect_reset(worktree: Path) -> None:
    git(worktree, "bisect", "reset", check=False)


def tree_ids_many(repo: Path, commits: list[str], paths: list[str]) -> dict[str, tuple[str | None, ...]]:
    """``tree_ids`` for many commits in one ``git cat-file`` process (one per commit is slow)."""
    queries = [f"{c}:{p}" for c in commits for p in paths]
    if not queries:
        return {c: () for c in commits}
    lines = git(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                stdin="\n".join(queries).encode() + b"\n").stdout.splitlines()
    ids = [None if line.endswith("missing") else line.split()[0] for line in lines]
    return {c: tuple(ids[i * len(paths):(i + 1) * len(paths)]) for i, c in enumerate(commits)}


# --- helpers for scoring (appended) ----------------------------------------------------

def add_checkout_worktree(repo: Path, path: Path, commit: str) -> None:
    """A detached worktree with ``commit`` checked out (to build the C reference in)."""
    git(repo, "worktree", "add", "--detach", str(path), commit)


def try_resolve(repo: Path, rev: str) -> str | None:
    """Full sha of ``rev``, or None when it does not name a commit (e.g. no BISECT_HEAD)."""
    proc = git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


# --- multisection (run --jobs) ----------------------------------------------------------

def bisect_mark(worktree: Path, term: str, commits: list[str]) -> None:
    """Tell the private bisect ``git bisect good|bad|skip COMMITS`` (bad takes one commit)."""
    proc = git(worktree, "bisect", term, *commits, check=False)
    # git exits non-zero, without an error, when only skipped commits border the culprit.
    if proc.returncode != 0 and "only 'skip'ped commits left" not in proc.stdout:
        raise GitError(f"git bisect {term} failed in {worktree}: "
                       f"{(proc.stderr or proc.stdout).strip() or 'no message'}")


def has_merges(repo: Path, good: str, bad: str) -> bool:
    return bool(out(repo, "rev-list", "--merges", "-n", "1", f"{good}..{bad}"))
