"""The private bisect: a repository beside the checkout, a pinned scorer, and cleanup."""

import subprocess
import sys
from pathlib import Path

from bisector import git
from bisector.config import ConfigOverrides, load_config
from bisector.hunt.session import PrivateBisect
from bisector.hunt.probing import ProbeLedger
from bisector.hunt.step import KnownStates
from bisector.hunt.walk import walk_range
from bisector.score.scoring import ScoringService, environment_key
from portrepo import Change, make_port_repo
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
        argv = bisect.pinned_scorer('{"pinned": true}', ProbeLedger().to_json(), '{"trees": {}}', tmp_path / "images")
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


def test_a_step_on_a_known_cached_state_scores_it_without_gitpython_or_package_metadata(tmp_path, bisector_cache):
    port = make_port_repo(tmp_path / "port", history=[Change("refactor"), Change("docs"), Change("regress"),
                                                      Change("merge")])
    config = load_config(port.path, overrides=ConfigOverrides(cache_dir=str(bisector_cache)))
    walk = walk_range(port.path, port.base, port.head, list(config.paths))
    known = KnownStates.of(walk, environment_key(config))  # what the run pins for its steps
    with ScoringService(config) as service:
        # The run's knowledge of every walked commit is what the service finds itself: same keys.
        assert {sha: known.state(config, sha).trees for sha in walk.trees} == \
            {sha: service.commit(sha).trees for sha in walk.trees}
        assert known.environment == service.environment
        verdicts = {sha: service.score(sha).verdict.value for sha in walk.trees}  # all cached now
    with PrivateBisect(port.path, port.head) as bisect:
        bisect.start(port.head, port.base, list(config.paths))
        argv = bisect.pinned_scorer(config.to_json(), ProbeLedger().to_json(), known.to_json(), tmp_path / "images")
        step = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], env=git.clean_env(bisect.scorer_env()),
                              cwd=bisect.worktree, capture_output=True, text=True, timeout=120)
        under_test = git.bisect_head(bisect.worktree)
    assert step.returncode == {"good": 0, "bad": 1}[verdicts[under_test]], step.stderr[-2000:]
    assert f"{under_test[:12]}: {verdicts[under_test]}" in step.stdout
    loaded = {line.rsplit("|", 1)[1].strip() for line in step.stderr.splitlines() if line.startswith("import time:")}
    assert "bisector.score.scoring" in loaded  # the step did score, from the cache
    assert not {"git", "numpy", "importlib.metadata"} & loaded


def test_a_step_keeps_the_images_of_the_latest_good_and_bad_steps_only(tmp_path):
    from bisector.hunt.confirm import pictures_the_state
    from bisector.hunt.step import drop_superseded_images
    from bisector.records import ScenarioResult, ScoreRecord
    from bisector.score.verdict import Verdict

    config = load_config(make_port_repo(tmp_path / "port", history=[Change("docs")]).path)
    images = tmp_path / "images"

    def step(sha: str, verdict: Verdict) -> ScoreRecord:
        (images / sha).mkdir(parents=True)
        image = images / sha / "small.npy"
        image.write_bytes(b"kept")
        return ScoreRecord(sha, {}, verdict, [ScenarioResult(name, verdict, "", image=str(image))
                                             for name in config.judge])

    earlier = [step("g1", Verdict.GOOD), step("b1", Verdict.BAD), step("s1", Verdict.SKIP)]
    assert all(pictures_the_state(r, config) for r in earlier[:2])
    latest = step("g2", Verdict.GOOD)
    drop_superseded_images(images, latest, earlier)
    assert sorted(p.name for p in images.iterdir()) == ["b1", "g2", "s1"]
    # A record whose images were dropped is evidence no more for the report: the culprit is re-run.
    assert not pictures_the_state(earlier[0], config) and pictures_the_state(latest, config)
    drop_superseded_images(images, step("s2", Verdict.SKIP), earlier + [latest])
    assert sorted(p.name for p in images.iterdir()) == ["b1", "g2", "s1", "s2"]
