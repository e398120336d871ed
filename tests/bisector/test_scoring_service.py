"""The scoring service: one score key for every command, trees that are no commit, and
candidate images kept out of the reference table. Real repositories, real candidate runs."""

from __future__ import annotations

import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from bisector import git
from bisector.cli import main
from bisector.config import ConfigOverrides, load_config
from bisector.hunt.rounds import CachePeek
from bisector.score.reference import pin_reference
from bisector.score.scoring import ScoringService, score_key
from bisector.score.verdict import Verdict
from portrepo import Change, make_port_repo
from repostate import snapshot


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NB_C_BIN", raising=False)


def _with_setup(port, setup: str) -> None:
    """Configure a setup command in the port's (uncommitted) pyproject: not a relevant path,
    so the states keep their keys."""
    path = port.path / "pyproject.toml"
    path.write_text(path.read_text().replace('paths = ["src"]', f'paths = ["src"]\nsetup = "{setup}"', 1))


def _runs_per_state(log: Path) -> Counter:
    """How many fresh exports ran their setup, per state (the checksum of the physics file)."""
    return Counter(log.read_text().splitlines()) if log.exists() else Counter()


def _state(port, commit: str) -> str:
    """The checksum line the setup writes for ``commit``'s physics file (computed independently)."""
    text = subprocess.run(["git", "-C", str(port.path), "show", f"{commit}:src/nbport/physics.py"],
                          capture_output=True, check=True).stdout
    return subprocess.run(["cksum"], input=text, capture_output=True, check=True).stdout.decode().strip()


def _reference_rows(cache_dir: Path) -> int:
    with sqlite3.connect(cache_dir / "cache.sqlite3") as db:
        return db.execute("SELECT COUNT(*) FROM reference_images").fetchone()[0]


@pytest.mark.slow
def test_compare_score_multisection_and_scan_share_one_cache_entry(tmp_path, capsys):
    port = make_port_repo(tmp_path / "port", history=[Change("regress", how="scale")], size=32)
    runs = tmp_path / "runs.log"
    _with_setup(port, f"sh -c 'cksum < src/nbport/physics.py >> {runs}'")
    base, head = _state(port, port.base), _state(port, port.head)
    assert base != head

    # compare measures the commit against the configured reference: that is its score.
    assert main(["compare", "--repo", str(port.path), "--reference", "simkernel", "--scenario", "small",
                 "--candidate", port.head, "--report-dir", str(tmp_path / "cmp")]) == 1
    assert _runs_per_state(runs) == {head: 1}

    # `score` (what every bisect step and scan state runs) finds it: nothing runs.
    assert main(["score", port.head, "--repo", str(port.path)]) == 1
    assert _runs_per_state(runs) == {head: 1}

    # run --jobs K settles cached commits before each round through the same key.
    config = pin_reference(load_config(port.path))
    ((sha, record),) = CachePeek(config).settle([port.base, port.head])
    assert sha == port.head and record.verdict is Verdict.BAD and record.scenarios[0].cached
    assert _runs_per_state(runs) == {head: 1}

    # The scan scores the base afresh and reads the head from the cache (a third head run would
    # mean a key of its own); its confirmation re-runs the head once, fresh, and takes the base's
    # fresh full-size scoring of this scan as the parent's evidence.
    capsys.readouterr()
    assert main(["scan", "--good", port.base, "--bad", port.head, "--repo", str(port.path),
                 "--report-dir", str(tmp_path / "scan")]) == 0
    counts = _runs_per_state(runs)
    assert counts == {base: 1, head: 2}, counts


def test_score_key_is_the_cache_key_of_a_scoring(tmp_path):
    port = make_port_repo(tmp_path / "port", history=[Change("regress", how="scale")], size=16)
    config = load_config(port.path)
    with ScoringService(config) as service:
        state = service.commit(port.head)
        assert state.trees == {"src": git.out(port.path, "rev-parse", f"{port.head}:src").strip()}
        scenario = config.scenarios["small"]
        key = score_key(state.trees, scenario.args, service.reference.key, service.environment)
        assert service.cache.get_score(key) is None
        record = service.score(state)
        payload = service.cache.get_score(key)
    assert record.verdict is Verdict.BAD
    assert payload["status"] == "measured"
    assert payload["metrics"]["sum_ratio"] == pytest.approx(record.scenarios[0].sum_ratio)


def _tree_with(port, commit: str, path: str, text: str) -> str:
    """A tree that no commit has: ``commit``'s tree with ``path`` replaced, written through a
    private index (what `bisector narrow` does with a subset of hunks)."""
    env = {**git.clean_env(), "GIT_INDEX_FILE": str(port.path.parent / "narrow-index")}
    def run(*args, stdin=None):
        return subprocess.run(["git", "-C", str(port.path), *args], input=stdin, env=env,
                              capture_output=True, check=True).stdout.decode().strip()
    run("read-tree", commit)
    blob = run("hash-object", "-w", "--stdin", stdin=text.encode())
    run("update-index", "--cacheinfo", f"100644,{blob},{path}")
    return run("write-tree")


def test_a_tree_that_is_no_commit_is_scored_with_the_same_keys(tmp_path):
    port = make_port_repo(tmp_path / "port", history=[Change("regress", how="scale")], size=16)
    before = snapshot(port.path)
    config = load_config(port.path)
    head_physics = git.out(port.path, "show", f"{port.head}:src/nbport/physics.py")
    with ScoringService(config) as service:
        by_commit = service.score(port.head)
        # The head's own tree: the same state, so the commit's cache entry answers.
        same = service.score(service.tree(git.out(port.path, "rev-parse", f"{port.head}^{{tree}}").strip()))
        # The base with the regressed physics and one more line: a state no commit has.
        tree = _tree_with(port, port.base, "src/nbport/physics.py", head_physics + "\n# narrowed\n")
        new = service.score(service.tree(tree))
        again = service.score(service.tree(tree))
    assert by_commit.verdict is Verdict.BAD and not by_commit.scenarios[0].cached
    assert same.scenarios[0].cached and same.tree_ids == by_commit.tree_ids
    assert same.scenarios[0].sum_ratio == by_commit.scenarios[0].sum_ratio
    assert new.commit == tree and new.tree_ids != by_commit.tree_ids and not new.scenarios[0].cached
    assert new.verdict is Verdict.BAD and new.scenarios[0].sum_ratio == pytest.approx(1.5, rel=1e-4)
    assert again.scenarios[0].cached
    assert snapshot(port.path) == before


@pytest.mark.slow
def test_compare_never_writes_candidate_images_to_the_reference_table(tmp_path):
    port = make_port_repo(tmp_path / "port", history=[Change("regress", how="scale")], size=32)
    cache_dir = tmp_path / "xdg-cache" / "bisector"
    common = ["compare", "--repo", str(port.path), "--scenario", "small"]
    assert main([*common, "--reference", "simkernel", "--candidate", "simkernel",
                 "--report-dir", str(tmp_path / "a")]) == 0
    assert _reference_rows(cache_dir) == 1
    # A commit against the configured reference, and against a saved image (no score then).
    assert main([*common, "--reference", "simkernel", "--candidate", port.head, "--report-dir", str(tmp_path / "b")]) == 1
    (cached_reference,) = (cache_dir / "images").glob("*.npy")
    saved = tmp_path / "ref.npy"
    saved.write_bytes(cached_reference.read_bytes())
    assert main([*common, "--reference", str(saved), "--candidate", port.base, "--report-dir", str(tmp_path / "c")]) == 0
    assert _reference_rows(cache_dir) == 1
