"""The private bisect: a repository beside the checkout, a pinned scorer, and cleanup."""

import subprocess
import sys
from pathlib import Path

from bisector import git
from bisector.hunt.session import PrivateBisect
from bisector.hunt.probing import ProbeLedger
from repostate import snapshot


def _repo(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["config", "user.name", "t"], ["config", "user.email", "t@example.com"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    (repo / "f").write_text("x\n")
    subprocess.run(["git", "-C", str(repo), "add", "f"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "one"], check=True)
    return repo, git.resolve(repo, "HEAD")


def test_git_runs_the_pinned_copy_of_bisector_and_cleanup_removes_everything(tmp_path):
    repo, head = _repo(tmp_path)
    before = snapshot(repo)
    with PrivateBisect(repo, head) as bisect:
        argv = bisect.pinned_scorer('{"pinned": true}', ProbeLedger().to_json())
        assert argv[1:3] == ["-m", "bisector.hunt.step"]
        assert Path(argv[3]).read_text() == '{"pinned": true}'
        where = subprocess.run([sys.executable, "-c", "import bisector; print(bisector.__file__)"],
                               env=git.clean_env(bisect.scorer_env()), capture_output=True, text=True,
                               cwd=bisect.worktree).stdout.strip()
        assert Path(where).resolve().is_relative_to(bisect.state.resolve())
        assert not (bisect.state / "pinned" / "bisector" / "demo").exists()  # the demo is not needed
        # The private repository borrows the user's objects but is no worktree of theirs.
        assert git.resolve(bisect.worktree, head) == head
        assert str(bisect.worktree.resolve()) not in git.out(repo, "worktree", "list", "--porcelain")
        assert snapshot(repo) == before
        assert not bisect.worktree.resolve().is_relative_to(repo.resolve())
        state = bisect.state
    assert not state.exists()
    assert snapshot(repo) == before
