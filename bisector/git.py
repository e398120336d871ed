"""The only module that touches git: GitPython's object API for history, git's commands for the rest.

Commits, trees, tree ids per path, diffs and logs are read through GitPython's objects
(one ``git cat-file`` process per repository opened). What GitPython has no object API
for (rev-parse of any revision git understands, git bisect, git archive, fast-import,
worktrees) runs as git's own commands through GitPython, or through subprocess where a
process group is needed (``git bisect run``) or GitPython's import is the cost (the
git-bisect step's one question, :func:`bisect_head`).

Text from commits is data: messages, names and paths are decoded with replacement, so a
commit written in another encoding, or with invalid bytes, is shown, never a crash.

Every git runs in a clean environment: variables such as GIT_DIR or GIT_INDEX_FILE that a
hook or ``git bisect run`` may have set would otherwise redirect our commands to the
user's own repository state.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import functools
import os
import posixpath
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import GitError

if TYPE_CHECKING:  # GitPython costs ~0.15 s to import: commands that need no git never load it
    import git as gitpython

# Kept from the caller's environment: they say how to reach remotes or who we are,
# never which repository, index or work tree to operate on.
_KEEP = {"GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS", "GIT_CONFIG_NOSYSTEM",
         "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
         "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"}

_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")

# Hooks of the user's repository must not run inside anything we create.
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


def decoded(data: bytes | str | None) -> str:
    """Text from git as str: invalid bytes become U+FFFD instead of an exception."""
    if data is None:
        return ""
    if isinstance(data, str):  # GitPython keeps undecodable bytes as surrogates
        try:
            data = data.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            data = data.encode("utf-8", "replace")
    return data.decode("utf-8", "replace")


# --- GitPython in a clean environment ---------------------------------------------------

_environ_lock = threading.RLock()


@contextlib.contextmanager
def _repository_env_hidden() -> Iterator[None]:
    """Hide GIT_DIR and friends from os.environ while GitPython works.

    GitPython reads them when it opens a repository and copies os.environ into every git
    it starts, with no way to drop a variable; this is the one place they can be removed.
    """
    with _environ_lock:
        hidden = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("GIT_") and k not in _KEEP}
        try:
            yield
        finally:
            os.environ.update(hidden)


@functools.cache
def _gitpython():
    """GitPython and a Repo class whose git commands run in the clean environment."""
    import git as gitpython  # on first use: commands that need no git never pay for it

    class CleanGit(gitpython.Git):
        def __init__(self, working_dir=None):
            super().__init__(None)
            # GitPython expands $VARS and ~ in a working dir given as text: a repository at
            # ".../$REL_SUB/port" would run git in another folder. Paths are data here.
            self._working_dir = os.path.abspath(os.fspath(working_dir)) if working_dir is not None else None

        def execute(self, command, *args, **kwargs):
            with _repository_env_hidden():
                return super().execute(command, *args, **kwargs)

    class CleanRepo(gitpython.Repo):
        GitCommandWrapperType = CleanGit

    return gitpython, CleanRepo


def _repo_object(path: Path, **kwargs) -> "gitpython.Repo":
    """GitPython's Repo of ``path`` taken literally: an absolute path (no ``~`` to expand)
    and no expansion of variables."""
    gitpython, clean_repo = _gitpython()
    with _repository_env_hidden():
        return clean_repo(os.path.abspath(os.fspath(path)), expand_vars=False, **kwargs)


# Recently used repositories, most recent last; a few at most, so a long-lived process
# (a test session, a library user) does not collect idle git processes.
_open_repos: collections.OrderedDict[str, "gitpython.Repo"] = collections.OrderedDict()
_MAX_OPEN = 4


@contextlib.contextmanager
def _open(path: Path) -> Iterator["gitpython.Repo"]:
    """The GitPython Repo of ``path``, opened once per process.

    Reusing it keeps its ``git cat-file`` processes: a scoring step asks a handful of
    questions about one repository, and a process per question was most of its git time.
    """
    key = str(Path(path).absolute())
    repo = _open_repos.get(key)
    if repo is None:
        gitpython, _ = _gitpython()
        try:
            repo = _repo_object(path)
        except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError):
            raise GitError(f"{Path(path).resolve()} is not a git repository") from None
        repo.git.update_environment(GIT_TERMINAL_PROMPT="0")  # never wait for a password
        if not _open_repos:
            atexit.register(close_all)
        _open_repos[key] = repo
        while len(_open_repos) > _MAX_OPEN:
            _open_repos.popitem(last=False)[1].close()
    _open_repos.move_to_end(key)
    yield repo


def close(path: Path) -> None:
    """End the git processes kept for ``path`` (before the repository is deleted)."""
    repo = _open_repos.pop(str(Path(path).absolute()), None)
    if repo is not None:
        repo.close()


def close_all() -> None:
    for key in list(_open_repos):
        _open_repos.pop(key).close()


def _run(repo: "gitpython.Repo", *args: str, check: bool = True, stdin: bytes | None = None) -> tuple[int, str, str]:
    """``git args`` in ``repo`` through GitPython: (status, stdout, stderr), decoded with replacement."""
    with contextlib.ExitStack() as stack:
        source = None
        if stdin is not None:  # git reads a real file: no pipe to keep fed while it writes
            source = stack.enter_context(tempfile.TemporaryFile())
            source.write(stdin)
            source.seek(0)
        status, out, err = repo.git.execute(["git", *_SAFE_CONFIG, *args], istream=source,
                                            with_extended_output=True, with_exceptions=False,
                                            stdout_as_string=False)
    out, err = decoded(out), decoded(err)
    if check and status != 0:
        raise GitError(f"git {' '.join(args)} failed in {repo.working_dir or repo.git_dir}: "
                       f"{err.strip() or 'no message'}")
    return status, out, err


def git(repo: Path, *args: str, stdin: bytes | None = None, check: bool = True) -> str:
    """Run ``git args`` in ``repo``; its output, decoded with replacement. GitError when it fails."""
    with _open(repo) as r:
        return _run(r, *args, stdin=stdin, check=check)[1]


def out(repo: Path, *args: str) -> str:
    return git(repo, *args).strip()


def version() -> str:
    """``git --version`` of the git that GitPython runs."""
    _, clean_repo = _gitpython()
    return ".".join(str(part) for part in clean_repo.GitCommandWrapperType().version_info)


# --- names and history ------------------------------------------------------------------

def toplevel(path: Path) -> Path:
    """The top of the work tree containing ``path``; GitError saying what is wrong otherwise."""
    path = Path(path)
    if not path.exists():
        raise GitError(f"{path.resolve()} does not exist", hint="pass --repo with your port's checkout")
    gitpython, _ = _gitpython()
    try:
        repo = _repo_object(path, search_parent_directories=True)
    except gitpython.InvalidGitRepositoryError:
        raise GitError(f"{path.resolve()} is not inside a git repository",
                       hint="run bisector from your port's checkout, or pass --repo PATH") from None
    try:
        if repo.bare or not repo.working_tree_dir:
            raise GitError(f"{path.resolve()} is a bare repository",
                           hint="pass --repo with a checkout of your port")
        return Path(repo.working_tree_dir)
    finally:
        repo.close()


def try_resolve(repo: Path, rev: str) -> str | None:
    """Full sha of the commit ``rev`` names (any spelling git accepts), or None."""
    if rev.startswith("-"):
        return None
    with _open(repo) as r:
        if _FULL_SHA.fullmatch(rev) and rev.strip("0"):  # a sha needs no rev-parse: ask the object database
            try:
                return r.commit(rev).hexsha
            except (ValueError, LookupError):
                return None
        status, sha, _ = _run(r, "rev-parse", "--verify", "--quiet", "--end-of-options",
                              f"{rev}^{{commit}}", check=False)
    return sha.strip() or None if status == 0 else None


def bisect_head(repo: Path) -> str | None:
    """The commit a ``--no-checkout`` bisection in ``repo`` has git test (BISECT_HEAD), or None.

    A plain git process, not GitPython: the git-bisect step needs only this answer from git
    when its state's trees are known, and importing GitPython would cost it more than the rest.
    """
    return _plain(repo, "rev-parse", "--verify", "--quiet", "BISECT_HEAD^{commit}") or None


def bisect_suspects(repo: Path, paths: list[str]) -> tuple[str | None, list[str]]:
    """The bad commit of the bisection running in ``repo`` and the commits it still suspects:
    reachable from the bad one and from no good one, and touching ``paths`` (the ones git
    bisect picks from). Plain git processes, as :func:`bisect_head`."""
    bad = _plain(repo, "rev-parse", "--verify", "--quiet", "refs/bisect/bad^{commit}")
    suspects = _plain(repo, "rev-list", "refs/bisect/bad", "--not", "--glob=refs/bisect/good-*", "--", *paths)
    return bad or None, suspects.split()


def _plain(repo: Path, *args: str) -> str:
    """What a git process prints, stripped; empty when it fails."""
    done = subprocess.run(["git", *_SAFE_CONFIG, *args], cwd=repo, env=clean_env(), capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def resolve(repo: Path, rev: str) -> str:
    """Full sha of the commit named by ``rev``."""
    sha = try_resolve(repo, rev)
    if sha is None:
        raise GitError(f"unknown commit {rev!r} in {repo}", hint="check the spelling with `git log --oneline`")
    return sha


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    """Whether ``ancestor`` comes before (or is) ``descendant``; GitError when git cannot tell
    (a commit that no longer exists: ask ``try_resolve`` first where that may happen)."""
    with _open(repo) as r:
        status, _, err = _run(r, "merge-base", "--is-ancestor", ancestor, descendant, check=False)
    if status not in (0, 1):
        raise GitError(f"cannot tell whether {ancestor[:10]} comes before {descendant[:10]} in {repo}: "
                       f"{err.strip() or 'no message'}")
    return status == 0


def rev_list(repo: Path, good: str, bad: str, paths: list[str] | None = None) -> list[str]:
    """Commits in good..bad, newest first, optionally only those touching ``paths``."""
    with _open(repo) as r:
        return [c.hexsha for c in r.iter_commits(f"{good}..{bad}", paths=list(paths or []))]


def parents(repo: Path, commit: str) -> list[str]:
    with _open(repo) as r:
        return [p.hexsha for p in r.commit(commit).parents]


@dataclass(frozen=True)
class CommitInfo:
    """What a person reads about a commit; text decoded with replacement, not yet escaped."""

    sha: str
    short: str
    subject: str
    author: str
    date: str  # ISO 8601, committer date


def commit_info(repo: Path, commit: str) -> CommitInfo:
    with _open(repo) as r:
        return _info(r.commit(commit))


def commit_infos(repo: Path, commits: list[str]) -> dict[str, CommitInfo]:
    """``commit_info`` for many commits through one repository handle."""
    with _open(repo) as r:
        return {c: _info(r.commit(c)) for c in dict.fromkeys(commits)}


def _info(c) -> CommitInfo:
    message, author = _text_of(c)
    return CommitInfo(sha=c.hexsha, short=c.hexsha[:10], subject=subject_of(message), author=author,
                      date=c.committed_datetime.isoformat())


def _text_of(c) -> tuple[str, str]:
    """The message and ``name <email>`` of commit ``c``, decoded as its header declares.

    GitPython reads every message as UTF-8 (its check for the ``encoding`` header never
    matches), so a commit written in Latin-1 would lose its accents; the raw object is
    read here instead, and an encoding no codec knows falls back to UTF-8.
    """
    headers, _, message = c.repo.odb.stream(c.binsha).read().partition(b"\n\n")
    fields = dict(line.split(b" ", 1) for line in headers.splitlines() if b" " in line and line[:1] != b" ")
    encoding = fields.get(b"encoding", b"utf-8").decode("ascii", "replace").strip()
    author = fields.get(b"author", b"").rsplit(b" ", 2)[0]
    try:
        return message.decode(encoding, "replace"), author.decode(encoding, "replace")
    except LookupError:
        return decoded(message), decoded(author)


def subject_of(message: str) -> str:
    """The subject as git prints it (%s): the first paragraph on one line."""
    paragraph = message.strip().split("\n\n", 1)[0] if message.strip() else ""
    return " ".join(line.strip() for line in paragraph.splitlines())


def changed_files(repo: Path, commit: str) -> list[str]:
    """Paths the commit changes against its first parent (both names of a renamed file)."""
    with _open(repo) as r:
        diffs = _diffs(r.commit(commit))
        return sorted({decoded(p) for d in diffs for p in (d.a_rawpath, d.b_rawpath) if p})


def diffstat(repo: Path, commit: str) -> str:
    """Lines ``path | +added -removed`` against the first parent, then a total."""
    with _open(repo) as r:
        stats = r.commit(commit).stats
    files = sorted((decoded(path), counts["insertions"], counts["deletions"])
                   for path, counts in stats.files.items())
    if not files:
        return ""
    width = max(len(path) for path, _, _ in files)
    lines = [f" {path:<{width}} | +{added} -{removed}" for path, added, removed in files]
    lines.append(f" {len(files)} file{'s' if len(files) != 1 else ''} changed, "
                 f"{stats.total['insertions']} insertions(+), {stats.total['deletions']} deletions(-)")
    return "\n".join(lines)


def _diffs(c) -> list:
    """GitPython's diffs from the first parent to ``c`` (from nothing for a root commit)."""
    from git import NULL_TREE  # GitPython is loaded on first use (see _gitpython)

    return list(c.diff(c.parents[0], R=True) if c.parents else c.diff(NULL_TREE))


# --- trees --------------------------------------------------------------------------------

def _root_tree(r, rev: str):
    """The root tree of ``rev``: a commit's tree, or ``rev`` itself when it names a tree."""
    obj = r.rev_parse(rev)
    if obj.type != "tree":
        return r.commit(rev).tree
    # A tree found by id has no path, which walking into it needs: give it the root's.
    return type(obj)(r, obj.binsha, mode=0o040000, path="")


def _tree_id(root, path: str) -> str | None:
    rel = posixpath.normpath(path.strip("/")) if path.strip("/") else "."
    if rel == ".":
        return root.hexsha
    try:
        return (root / rel).hexsha
    except KeyError:
        return None


def tree_ids(repo: Path, rev: str, paths: list[str]) -> dict[str, str | None]:
    """The object id of each path at ``rev`` (a commit, or a tree object) (None where it
    does not exist).

    Together these define a relevant state: two commits (or trees) with equal ids build
    and run the same code, so they share one cached score.
    """
    with _open(repo) as r:
        root = _root_tree(r, rev)
        return {p: _tree_id(root, p) for p in paths}


def tree_ids_many(repo: Path, commits: list[str], paths: list[str]) -> dict[str, tuple[str | None, ...]]:
    """``tree_ids`` for many commits through one repository handle (one git process)."""
    with _open(repo) as r:
        return {sha: tuple(_tree_id(r.commit(sha).tree, p) for p in paths) for sha in commits}


def export(repo: Path, rev: str, paths: list[str], dest: Path) -> list[str]:
    """Write the files under ``paths`` at ``rev`` (a commit, or a tree object) into ``dest``;
    return the paths present.

    Uses ``git archive`` so that no index, HEAD or work tree is touched: a clean,
    sparse materialisation of exactly the committed content. A symbolic link is written
    as the commit holds it, wherever it points (``src/rootlink -> /`` is data, not an
    escape): a git tree never has a file below a link, so nothing is written through one.
    """
    dest.mkdir(parents=True, exist_ok=True)
    with _open(repo) as r:
        root = _root_tree(r, rev)
        present = [p for p in paths if _tree_id(root, p)]
        if not present:
            return present
        # Spooled to disk past 64 MiB: a large tree must not be held in memory.
        with tempfile.SpooledTemporaryFile(max_size=64 << 20) as archive:
            r.archive(archive, root.hexsha, path=present, format="tar")
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                tar.extractall(dest, filter="tar") if hasattr(tarfile, "tar_filter") else tar.extractall(dest)
    return present


def create_from_fast_import(dest: Path, stream: bytes, marks: Path, branch: str = "main") -> None:
    """A new repository in ``dest`` holding the history of a ``git fast-import`` stream,
    with ``branch`` checked out; the marks (mark -> sha) are written to ``marks``."""
    dest.mkdir(parents=True, exist_ok=True)
    _init(dest, "--quiet", f"--initial-branch={branch}")
    with _open(dest) as r:
        _run(r, "fast-import", "--quiet", f"--export-marks={marks}", stdin=stream)
        _run(r, "reset", "--quiet", "--hard", branch)


# --- the private repository a bisection runs in, and git bisect -------------------------

def init_private(repo: Path, path: Path, commit: str) -> None:
    """A repository at ``path`` that sees ``repo``'s commits, HEAD detached at ``commit``,
    nothing checked out.

    It borrows the user's objects (objects/info/alternates) and nothing else: bisect
    state (refs/bisect, BISECT_HEAD, BISECT_LOG) lives there, the user's refs and worktree
    list are never involved, and no hook of the user's can run (git does not honour
    core.hooksPath in every command, so hooks are avoided by having none).
    """
    with _open(repo) as user:
        common = Path(user.common_dir).resolve()
        _, object_format, _ = _run(user, "rev-parse", "--show-object-format", check=False)
    path.mkdir(parents=True, exist_ok=True)
    # No template: a user's init.templateDir may bring hooks along.
    _init(path, "--quiet", "--template=", f"--object-format={object_format.strip() or 'sha1'}")
    info = path / ".git" / "objects" / "info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "alternates").write_text(f"{common / 'objects'}\n")
    if (common / "shallow").is_file():  # a shallow clone's grafts, or parents would be missing
        shutil.copyfile(common / "shallow", path / ".git" / "shallow")
    with _open(path) as private:
        _run(private, "update-ref", "--no-deref", "HEAD", commit)


def _init(path: Path, *options: str) -> None:
    """``git init options`` in the existing folder ``path``."""
    _, clean_repo = _gitpython()
    status, _, err = clean_repo.GitCommandWrapperType(path).execute(
        ["git", "init", *options, "."], with_extended_output=True, with_exceptions=False,
        stdout_as_string=False)
    if status != 0:
        raise GitError(f"cannot create a repository in {path}: {decoded(err).strip()}")


def checkout_private(repo: Path, path: Path, commit: str) -> None:
    """``commit`` checked out at ``path`` from a private repository (see ``init_private``) that borrows
    ``repo``'s objects, to build the C reference in: nothing is registered in ``repo``, so
    a build killed with SIGKILL leaves no stale worktree there, and no hook of the user's runs."""
    init_private(repo, path, commit)
    with _open(path) as private:
        _run(private, "checkout", "--quiet", "--force", "--detach", commit)


def uncommitted(repo: Path, paths: list[str]) -> list[str]:
    """Files under ``paths`` that differ from HEAD in the work tree or index (untracked too).

    ``--no-optional-locks``: a plain status may rewrite the user's index to refresh it.
    """
    lines = git(repo, "--no-optional-locks", "status", "--porcelain", "--", *paths).splitlines()
    return [line[3:] for line in lines if line.strip()]


def bisect_start(bisect_repo: Path, bad: str, good: str, paths: list[str]) -> str:
    """Start a --no-checkout bisect: git moves BISECT_HEAD, the scorer exports what it needs."""
    return git(bisect_repo, "bisect", "start", "--no-checkout", bad, good, "--", *paths)


def start_bisect_run(bisect_repo: Path, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start ``git bisect run argv`` in a new process group (output on one pipe).

    Its own group lets the caller stop git and every scorer it started together, without
    signalling itself; the verdicts are read from ``bisect_log`` afterwards.
    """
    return subprocess.Popen(["git", *_SAFE_CONFIG, "-C", str(bisect_repo), "bisect", "run", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=clean_env(env),
                            start_new_session=True)


def bisect_log(bisect_repo: Path) -> str:
    return git(bisect_repo, "bisect", "log", check=False)


def bisect_reset(bisect_repo: Path) -> None:
    git(bisect_repo, "bisect", "reset", check=False)


# --- multisection (run --jobs) ----------------------------------------------------------

def bisect_mark(bisect_repo: Path, term: str, commits: list[str]) -> None:
    """Tell the private bisect ``git bisect good|bad|skip COMMITS`` (bad takes one commit)."""
    with _open(bisect_repo) as r:
        status, stdout, stderr = _run(r, "bisect", term, *commits, check=False)
    # git exits non-zero, without an error, when only skipped commits border the culprit.
    if status != 0 and "only 'skip'ped commits left" not in stdout:
        raise GitError(f"git bisect {term} failed in {bisect_repo}: "
                       f"{(stderr or stdout).strip() or 'no message'}")


def has_merges(repo: Path, good: str, bad: str) -> bool:
    return bool(out(repo, "rev-list", "--merges", "-n", "1", f"{good}..{bad}"))


def first_parent_commits(repo: Path, good: str, bad: str) -> list[str]:
    """``good`` and the first-parent commits of good..bad, oldest first: the mainline history."""
    return [good, *out(repo, "rev-list", "--first-parent", "--reverse", f"{good}..{bad}").split()]


def common_dir(repo: Path) -> Path:
    """The repository's git directory shared by all its worktrees (``.git`` of the main checkout)."""
    path = Path(out(repo, "rev-parse", "--git-common-dir"))
    return path if path.is_absolute() else (Path(repo) / path).resolve()


# --- narrowing a commit to hunks (bisector narrow) ----------------------------------------

def diff_patch(repo: Path, parent: str, commit: str, paths: list[str]) -> str:
    """The patch from ``parent`` to ``commit`` on ``paths``, as ``git apply`` takes it back:
    binary changes included, renames as a deletion and an addition, no colour or external
    diff driver of the user's."""
    return git(repo, "diff", "--binary", "--no-renames", "--no-color", "--no-ext-diff",
               "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/", "-U3", parent, commit,
               "--", *paths)


def file_lines(repo: Path, commit: str, path: str) -> list[str]:
    """The lines of ``path`` at ``commit`` (decoded with replacement); [] when it is absent."""
    with _open(repo) as r:
        try:
            blob = r.commit(commit).tree / path
        except KeyError:
            return []
        return decoded(blob.data_stream.read()).splitlines()


def apply_to_tree(private: Path, base: str, patch: str) -> tuple[str | None, str]:
    """(tree id, "") of ``base``'s tree with ``patch`` applied, or (None, why) when it does
    not apply. Works in the index of ``private``, a repository of ours (``init_private``):
    the user's index and work tree are never involved."""
    with _open(private) as r:
        _run(r, "read-tree", base)
        if patch:
            status, _, err = _run(r, "apply", "--cached", "--whitespace=nowarn", "-", check=False,
                                  stdin=patch.encode("utf-8", "surrogateescape"))
            if status != 0:
                return None, " ".join(err.strip().splitlines()[-2:]) or "git apply failed"
        return _run(r, "write-tree")[1].strip(), ""


def commit_tree(private: Path, tree: str, parent: str, message: str) -> str:
    """A commit of ``tree`` on ``parent`` in ``private`` (no ref points at it)."""
    with _open(private) as r:
        return _run(r, "-c", "user.name=bisector", "-c", "user.email=bisector@localhost",
                    "commit-tree", tree, "-p", parent, "-m", message)[1].strip()
