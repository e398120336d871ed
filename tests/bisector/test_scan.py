"""`bisector scan` and `run` on a good tip: real repositories, real scoring, real git."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import pytest

from bisector import git
from bisector.api import run_bisect, scan_history
from bisector.cli import main
from bisector.config import ConfigOverrides
from bisector.errors import EndpointError
from bisector.search.windows import PINNED, RANGE
from bisector.hunt.scan import NO_BAD_STATE, WINDOWS_PINNED
from bisector.report.timeline import figure, scan_plot
from portrepo import Change, distinct_states, make_port_repo, windows
from repostate import snapshot

pytestmark = pytest.mark.slow


D, R = Change("docs"), Change("refactor")

# Three windows and a good tip: a scale slip fixed later; a one-commit half-pixel window
# right after a merge; a second scale slip with an import-broken stretch inside it.
HISTORY = [
    D, R, Change("regress", how="scale"), D, R, Change("fix"), D,
    Change("merge"), D, Change("regress", how="shift"), Change("fix"), D, R,
    Change("regress", how="scale"), R, Change("break_import"), D, Change("unbreak"), R, Change("fix"),
    D, R, D,
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("scan-cache")


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    return make_port_repo(tmp_path_factory.mktemp("scan") / "port", history=HISTORY)


def test_the_history_is_what_the_test_says(port):
    # Independent of bisector: the ground truth the assertions below rely on.
    assert windows(port.states) == [(2, 5), (9, 10), (13, 19)]
    assert port.states[-1].regressed is False


def test_scan_pins_every_window_to_the_injected_commits(port, cache_dir, tmp_path):
    before = snapshot(port.path)
    result = scan_history(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(cache_dir)),
                          report_root=tmp_path / "reports")
    assert snapshot(port.path) == before

    # first-parent walk: the merge commit is a state of its own, its side commit is not walked
    merge = port.shas[7]
    assert merge in result.commits and port.side_commits[0] not in result.commits
    assert len(git.parents(port.path, merge)) == 2

    expected = windows(port.states)
    assert len(result.timeline.windows) == len(expected) == 3
    for window, (start, fix) in zip(result.timeline.windows, expected):
        assert window.start.kind == PINNED and window.start.commits == (port.shas[start],)
        assert window.end.kind == PINNED and window.end.commits == (port.shas[fix],)
        assert result.confirmed(window.start) and result.confirmed(window.end)
    one_commit = result.timeline.windows[1]
    assert result.runs[one_commit.first_bad_run].first == result.runs[one_commit.last_bad_run].last
    # the import-broken stretch lies inside the third window: skipped, not blamed
    broken = port.shas[15]
    assert any(result.runs[i].first == broken for i in result.timeline.untestable)

    assert result.scored_states == result.distinct_states == distinct_states(port)
    assert result.exit_code == WINDOWS_PINNED

    bundle = result.report_dir
    for name in ("timeline.md", "timeline.json", "timeline.png", "env.json", "commands.txt"):
        assert (bundle / name).is_file(), name
    data = json.loads((bundle / "timeline.json").read_text())
    assert [w["first_bad"] for w in data["windows"]] == [port.shas[s] for s, _ in expected]
    assert [w["fix"] for w in data["windows"]] == [port.shas[f] for _, f in expected]
    assert data["windows"][0]["metrics"][0]["sum_ratio"] == pytest.approx(1.5, rel=1e-4)
    md = (bundle / "timeline.md").read_text()
    assert all(port.shas[s][:10] in md for s, _ in expected)
    assert (bundle / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A scan again over the warm cache: test_a_library_call_writes_nothing_to_the_terminal


def test_a_budget_lists_what_it_left(port, tmp_path):
    result = scan_history(port.path, port.base, budget=4,
                          overrides=ConfigOverrides(cache_dir=str(tmp_path / "empty-cache")),
                          report_root=tmp_path / "reports")
    assert result.scored_states == result.fresh_states == 4
    assert result.timeline.unscored or any(
        t.kind != PINNED for w in result.timeline.windows for t in (w.start, w.end) if t)
    assert "unscored" in (result.report_dir / "timeline.md").read_text().lower()
    assert "parity holds" not in result.conclusion and "left unscored by the budget" in result.conclusion
    if result.timeline.unscored:
        plot = scan_plot(result)
        labels = figure(plot).axes[0].get_legend_handles_labels()[1]
        assert plot.unscored and any(label.startswith("unscored") for label in labels)


def test_a_budget_counts_only_new_scorings(port, cache_dir, tmp_path):
    # After the full scan above every state is in the cache: a budget of 2 still sees them all.
    result = scan_history(port.path, port.base, budget=2, overrides=ConfigOverrides(cache_dir=str(cache_dir)),
                          report_root=tmp_path / "reports")
    assert result.fresh_states == 0 and result.scored_states == distinct_states(port)
    assert not result.timeline.unscored
    assert [w.start.commits for w in result.timeline.windows] == [(port.shas[s],) for s, _ in windows(port.states)]
    assert result.exit_code == WINDOWS_PINNED and "unscored" not in result.conclusion


def test_run_on_a_good_tip_goes_on_as_a_scan(port, cache_dir, tmp_path):
    result = run_bisect(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(cache_dir)),
                        report_root=tmp_path / "reports")
    assert result.exit_code == WINDOWS_PINNED and result.scan is not None
    assert result.candidates == [port.shas[s] for s, _ in windows(port.states)]
    assert (result.report_dir / "timeline.md").is_file()


def test_run_with_an_explicit_good_bad_refuses_with_the_scan_hint(port, cache_dir, tmp_path):
    with pytest.raises(EndpointError) as refused:
        run_bisect(port.path, port.base, port.head, overrides=ConfigOverrides(cache_dir=str(cache_dir)),
                   report_root=tmp_path / "reports")
    assert refused.value.exit_code == 3
    assert "bisector scan" in refused.value.hint
    assert f"scores {distinct_states(port)} distinct states" in refused.value.hint


def test_a_range_without_bad_state_has_its_own_exit_code(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    port = make_port_repo(tmp_path / "port", history=[D, R, D, R])
    code = main(["scan", "--repo", str(port.path), "--good", port.base,
                 "--report-dir", str(tmp_path / "reports")])
    assert code == NO_BAD_STATE


def test_untestable_states_never_read_as_parity(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    port = make_port_repo(tmp_path / "port", history=[Change("break_import"), D, R, D])
    code = main(["scan", "--repo", str(port.path), "--good", port.base,
                 "--report-dir", str(tmp_path / "reports")])
    err = capsys.readouterr().err
    assert code == NO_BAD_STATE
    assert "parity holds" not in err
    assert "parity is not established: 2 of 3 distinct states were untestable" in err


def test_paths_that_match_nothing_are_bad_input(port, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    code = main(["scan", "--repo", str(port.path), "--good", port.base, "--paths", "no/such/folder",
                 "--report-dir", str(tmp_path / "reports")])
    err = capsys.readouterr().err
    assert code == 2 and "match no file" in err and "Traceback" not in err
    assert "parity" not in err


def test_skips_at_a_window_edge_are_a_candidate_range(tmp_path, cache_dir):
    port = make_port_repo(tmp_path / "port", history=[R, Change("break_import"), Change("regress"),
                                                       Change("unbreak"), R, Change("fix"), D])
    result = scan_history(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(cache_dir)),
                          report_root=tmp_path / "reports")
    (window,) = result.timeline.windows
    assert window.start.kind == RANGE and port.shas[2] in window.start.commits
    assert port.shas[1] in window.start.commits and window.end.commits == (port.shas[5],)


def test_jobs_with_a_budget_is_refused_clearly(tmp_path, capsys):
    code = main(["scan", "--repo", str(tmp_path), "--good", "HEAD~1", "--jobs", "2", "--budget", "4"])
    assert code == 2 and "--jobs 2" in capsys.readouterr().err


SLOT = re.compile(rb"TMPDIR=\S*bisector-workers-[^/]+/slot-\d+")


def test_run_with_jobs_on_a_good_tip_scans_on_its_workers(port, tmp_path, bisector_cache):
    # Witness from /proc: each item a worker scores runs in a child process of ours whose
    # TMPDIR is the worker's slot folder. The two endpoints make one pair of such children
    # alive at once; a scan on the same two workers makes several more pairs.
    pairs: set[frozenset[int]] = set()
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            items = frozenset(pid for pid in _children(os.getpid()) if _in_worker_slot(pid))
            if len(items) == 2:
                pairs.add(items)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = run_bisect(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(bisector_cache)),
                            report_root=tmp_path / "reports", jobs=2)
    finally:
        stop.set()
        watcher.join()
    assert result.exit_code == WINDOWS_PINNED and result.scan is not None
    # the workers pin the same windows as the ground truth (and as a scan on one process)
    assert [(w.start.commits, w.end.commits) for w in result.scan.timeline.windows] == \
        [((port.shas[start],), (port.shas[fix],)) for start, fix in windows(port.states)]
    assert result.candidates == [port.shas[s] for s, _ in windows(port.states)]
    assert result.scan.scored_states == distinct_states(port)
    assert result.scan.fresh_states == result.scan.scored_states - 2  # the run scored both endpoints first
    assert len(pairs) >= 3, pairs


def _children(root: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_bytes()
        except OSError:
            continue
        if int(text[text.rfind(b")") + 2:].split()[1]) == root:
            found.append(int(stat.parent.name))
    return found


def _in_worker_slot(pid: int) -> bool:
    try:
        return any(SLOT.match(e) for e in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
    except OSError:
        return False


def test_a_library_call_writes_nothing_to_the_terminal(port, cache_dir, tmp_path, capfd):
    # The drivers report through a handler; without one (a library caller) they stay silent.
    # The cache is warm from the scans above: this scan also shows that nothing is scored anew.
    again = scan_history(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(cache_dir)),
                         report_root=tmp_path / "reports")
    assert again.exit_code == WINDOWS_PINNED
    assert capfd.readouterr() == ("", "")
    assert again.scored_states == distinct_states(port) and again.fresh_states == 0
    assert [(w.start.commits, w.end.commits) for w in again.timeline.windows] == \
        [((port.shas[start],), (port.shas[fix],)) for start, fix in windows(port.states)]
