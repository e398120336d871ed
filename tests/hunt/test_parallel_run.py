"""`run --jobs K`: the same culprit as one-at-a-time bisection in fewer rounds, and git's log agrees."""

from __future__ import annotations

import io

import pytest

from bisector.api import run_bisect
from bisector.cli.console import ConsoleHandler
from bisector.config import ConfigOverrides, load_config
from bisector.execute import open_executor
from bisector.hunt.rounds import run_rounds
from bisector.hunt.session import PrivateBisect
from bisector.score.reference import pin_reference
from bisector.records import Phase
from rich.console import Console
from bisector.hunt.bisectlog import parse_bisect_log
from bisector.search.bisection import expected_rounds
from portrepo import Change, make_port_repo
from repostate import snapshot

# 15 relevant commits, the regression at index 9: binary search needs 4 rounds, 3 probes need 2.
HISTORY = [Change("refactor")] * 9 + [Change("regress")] + [Change("refactor")] * 4 + [Change("docs")]


def _rounds(result) -> int:
    """Multisection rounds, or the steps of one-at-a-time bisection."""
    steps = [r for r in result.records if r.phase is Phase.BISECT]
    if any(r.round is not None for r in steps):
        return max(r.round for r in steps)
    return len(steps)


def _run(port, cache, tmp_path, **kw):
    return run_bisect(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(cache)),
                      report_root=tmp_path / "reports", **kw)


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    return make_port_repo(tmp_path_factory.mktemp("port") / "port", history=HISTORY)


@pytest.fixture(scope="module")
def sequential(port, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seq")
    return _run(port, tmp / "cache", tmp)


@pytest.mark.slow
def test_processes_find_the_sequential_culprit_in_fewer_rounds(port, sequential, tmp_path):
    before = snapshot(port.path)
    result = _run(port, tmp_path / "cache", tmp_path, jobs=3, executor="processes")
    assert sequential.culprit == result.culprit == port.culprit and result.confirmed
    assert _rounds(result) <= expected_rounds(14, 3) == 2
    assert _rounds(result) < _rounds(sequential) <= expected_rounds(14, 1) == 4
    # Again on the same cache: every commit the first run scored is settled without a round.
    again = _run(port, tmp_path / "cache", tmp_path, jobs=3, executor="processes")
    assert again.culprit == port.culprit and _rounds(again) == 0
    assert all(sc.cached for r in again.records if r.phase is Phase.BISECT for sc in r.scenarios)
    assert snapshot(port.path) == before


@pytest.mark.slow
def test_every_verdict_is_told_to_git_and_its_log_names_the_culprit(port, tmp_path):
    config = pin_reference(load_config(port.path, None, ConfigOverrides(cache_dir=str(tmp_path / "cache"))))
    console = Console(file=io.StringIO())
    with open_executor("processes", 2) as pool, PrivateBisect(port.path, port.head) as bisect:
        bisect.start(port.head, port.base, list(config.paths))
        hunt = run_rounds(bisect, config, pool, 2, port.base, port.head, ConsoleHandler(console))
        log = parse_bisect_log(bisect.log())
    steps = {r.commit: r.verdict.value for r in hunt.steps}
    assert {sha: v for sha, v in log.verdicts.items() if sha in steps} == steps
    assert set(steps) <= set(log.verdicts)
    assert log.culprit == hunt.outcome.culprit == port.culprit
    assert hunt.rounds <= expected_rounds(14, 2)


@pytest.mark.slow
def test_a_real_dask_local_cluster_finds_the_same_culprit(port, sequential, tmp_path):
    pytest.importorskip("distributed")
    result = _run(port, tmp_path / "cache", tmp_path, jobs=2, executor="dask-local")
    assert result.culprit == sequential.culprit and result.confirmed
    assert _rounds(result) <= expected_rounds(14, 2) == 3
    assert _rounds(result) <= _rounds(sequential)


@pytest.mark.slow
def test_skips_bordering_the_culprit_give_the_candidates(tmp_path):
    history = [Change("docs"), Change("refactor"), Change("break_import"), Change("regress"),
               Change("unbreak"), Change("refactor"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history)
    result = _run(port, tmp_path / "cache", tmp_path, jobs=2)
    assert result.culprit is None
    assert port.shas[2] in result.candidates and port.shas[3] in result.candidates
