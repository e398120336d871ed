"""`bisector run` end to end: real repositories, real git bisect, real candidate runs."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

from bisector.api import run_bisect
from bisector.config import ConfigOverrides, load_config
from bisector.errors import EndpointError, ReferenceFailure
from portrepo import Change, make_port_repo
from repostate import snapshot
from warmcache import warm_cache_dir


def _history(n_docs_between: int = 3) -> list[Change]:
    """Docs-heavy history: a few refactors, then a scale regression that stays to HEAD."""
    changes: list[Change] = []
    for block in ("refactor", "refactor", "refactor", "regress", "refactor", "refactor"):
        changes += [Change("docs")] * n_docs_between
        changes.append(Change(block, how="scale"))
    return changes + [Change("docs")] * n_docs_between


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory, warm_references):
    """The module's bisector cache: its hunts share scores, as a user's successive hunts do."""
    with warm_cache_dir(tmp_path_factory.mktemp("bisector-cache"), warm_references) as folder:
        yield folder


def _overrides(cache_dir, **kw) -> ConfigOverrides:
    return ConfigOverrides(cache_dir=str(cache_dir), **kw)


@pytest.fixture(scope="module")
def found(tmp_path_factory, cache_dir):
    """One hunt through the docs-heavy history, asserted by the next four tests."""
    tmp = tmp_path_factory.mktemp("found")
    port = make_port_repo(tmp / "port", history=_history())
    before = snapshot(port.path)
    result = run_bisect(port.path, port.base, overrides=_overrides(cache_dir), report_root=tmp / "reports")
    return port, before, result, tmp


def test_run_finds_the_injected_culprit_with_few_scores(found):
    port, before, result, _ = found
    assert result.culprit == port.culprit
    assert result.confirmed is True and result.exit_code == 0
    relevant = sum(1 for c in _history() if c.kind != "docs")
    assert result.walk.relevant_commits == relevant
    assert result.scored_commits <= math.ceil(math.log2(relevant)) + 3
    assert snapshot(port.path) == before


def test_the_report_bundle_names_the_culprit_and_its_change(found):
    port, _, result, tmp = found
    bundle = result.report_dir
    assert bundle.parent == tmp / "reports"
    for name in ("git_walk.md", "bisect_log.md", "culprit_summary.md", "commands.txt",
                 "env.json", "results.json", "comparison.png"):
        assert (bundle / name).is_file(), name
    summary = (bundle / "culprit_summary.md").read_text()
    assert port.culprit in summary and "src/nbport/physics.py" in summary and "nbport.physics" in summary
    assert "![comparison](comparison.png)" in summary
    assert json.loads((bundle / "results.json").read_text())["culprit"] == port.culprit


def test_results_json_times_each_scoring_and_the_hunt_outside_scoring(found):
    _, _, result, _ = found
    timing = json.loads((result.report_dir / "results.json").read_text())["timing"]
    assert [(s["commit"], s["phase"], s["seconds"]) for s in timing["scorings"]] == [
        (r.commit, r.phase.value, r.seconds) for r in result.records]
    assert all(s["seconds"] > 0 for s in timing["scorings"])
    assert timing["scoring_seconds"] == pytest.approx(sum(r.seconds for r in result.records))
    # One scoring at a time: the hunt's wall time holds every scoring and some overhead.
    assert timing["seconds"] > timing["scoring_seconds"] > 0
    assert timing["outside_scoring_seconds"] == pytest.approx(timing["seconds"] - timing["scoring_seconds"])


def test_nothing_is_rerun_when_both_sides_were_scored_fresh_in_full_with_their_images(found):
    port, _, result, _ = found
    summary = (result.report_dir / "culprit_summary.md").read_text()
    results = json.loads((result.report_dir / "results.json").read_text())
    # With a cold score cache and no probe, every scoring of this hunt ran fresh on the full
    # scenarios and kept its images: the runs that found the culprit and its parent are
    # their evidence, and the report names them.
    assert not [r for r in results["records"] if r["phase"] == "confirm"]
    sides = results["confirmation"]
    assert sides["confirmed"]
    assert [r["verdict"] for r in sides["parent"]["runs"]] == ["good"]
    assert {r["verdict"] for r in sides["culprit"]["runs"]} == {"bad"}
    for side in ("parent", "culprit"):
        assert {r["phase"] for r in sides[side]["runs"]} <= {"endpoint", "bisect"}
    assert "parent `" in summary and "run of `" in summary
    (evidence,) = [r for r in results["records"] if r["commit"] == port.culprit]
    assert evidence["phase"] == "bisect" and not any(sc["cached"] for sc in evidence["scenarios"])
    # The scale regression multiplies the image by 1.5: the sum ratio says exactly that,
    # in the results, the conclusion and the caption of the figure drawn from the step's image.
    assert evidence["scenarios"][0]["sum_ratio"] == pytest.approx(1.5, rel=1e-4)
    assert "sum_ratio 1.5" in result.conclusion
    with Image.open(result.report_dir / "comparison.png") as png:
        caption = png.text["Description"].splitlines()
    assert caption[0].startswith(f"culprit {port.culprit[:10]}: correlation ") and "sum ratio 1.5" in caption[0]
    assert caption[1].startswith("parent ") and caption[1].endswith("(good)")


def test_reproduce_command_gives_the_same_verdict(found, xdg_cache, bisector_cli):
    port, _, result, _ = found
    argv = (result.report_dir / "commands.txt").read_text().split()
    assert Path(argv[0]).name == "bisector" and argv[1] == "score" and port.culprit in argv
    proc = bisector_cli(*argv[1:])  # a cache of its own: no score of the hunt is reused
    assert proc.returncode == 1, proc.stdout + proc.stderr


def test_skips_bordering_the_culprit_give_a_candidate_range(tmp_path, cache_dir):
    history = [Change("docs"), Change("refactor"), Change("break_import"), Change("regress"),
               Change("unbreak"), Change("refactor"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history)
    result = run_bisect(port.path, port.base, overrides=_overrides(cache_dir),
                        report_root=tmp_path / "reports")
    assert result.culprit is None
    # The regression and the import fix are untestable or inseparable from the break.
    assert port.shas[3] in result.candidates
    assert port.shas[2] in result.candidates
    assert "candidates" in (result.report_dir / "culprit_summary.md").read_text().lower()


def test_refuses_a_bad_endpoint_that_is_good_with_evidence(tmp_path, cache_dir):
    history = [Change("refactor"), Change("regress"), Change("docs"), Change("fix"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history)
    before = snapshot(port.path)
    # An explicit --bad that is good is refused; without --bad, run goes on as a scan (test_scan.py).
    with pytest.raises(EndpointError) as err:
        run_bisect(port.path, port.base, port.head, overrides=_overrides(cache_dir), report_root=tmp_path / "r")
    assert "bad endpoint" in err.value.message and "correlation" in err.value.message
    assert err.value.exit_code == 3 and "bisector scan" in err.value.hint
    assert snapshot(port.path) == before


def test_tip_good_again_bisects_an_inner_window(tmp_path, cache_dir):
    history = [Change("docs"), Change("refactor"), Change("regress", how="shift"), Change("docs"),
               Change("refactor"), Change("fix"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history)
    result = run_bisect(port.path, port.base, bad=port.shas[4], overrides=_overrides(cache_dir),
                        report_root=tmp_path / "reports")
    assert result.culprit == port.shas[2] and result.confirmed


def test_cheap_probe_judges_clearly_bad_commits_and_the_report_says_so(tmp_path, cache_dir):
    from portrepo import scenario_args

    probe = ('probe = "tiny"\nprobe_margin = 0.99\n\n'
             f'[tool.bisector.scenarios.tiny]\nargs = "{scenario_args(16)}"\n')
    history = [Change("docs"), Change("refactor"), Change("refactor"), Change("regress", how="shift"),
               Change("refactor"), Change("refactor"), Change("docs")]
    port = make_port_repo(tmp_path / "port", history=history, extra_toml=probe)
    result = run_bisect(port.path, port.base, overrides=_overrides(cache_dir),
                        report_root=tmp_path / "reports")
    assert result.culprit == port.culprit and result.confirmed
    by_phase = {}
    for r in result.records:
        for sc in r.scenarios:
            by_phase.setdefault(r.phase.value, []).append(sc)
    # The bad endpoint is judged by the probe alone; a probe never judges a commit good.
    assert any(sc.via_probe for sc in by_phase["endpoint"])
    assert all(sc.verdict.value == "bad" for phase in by_phase.values() for sc in phase if sc.via_probe)
    assert not any(sc.via_probe for sc in by_phase["confirm"])  # confirmation is full evidence
    assert "(probe)" in (result.report_dir / "bisect_log.md").read_text()


def test_a_c_reference_built_from_source_is_built_at_the_good_commit(tmp_path, cache_dir, c_twin):
    # The "build" copies the C twin only in a tree whose notes are still at revision 0,
    # which holds at the good root commit and nowhere later: building at HEAD would fail.
    script = ("import pathlib, shutil, sys; "
              "sys.exit('not the good commit') if 'Revision 0 ' not in pathlib.Path('docs/notes.md').read_text() "
              f"else shutil.copy({str(c_twin)!r}, 'nanoBragg')")
    build = f'build = {json.dumps(" ".join([sys.executable, "-c", json.dumps(script)]))}\n'
    port = make_port_repo(tmp_path / "port", history=_history(1), reference="c")
    pyproject = (port.path / "pyproject.toml").read_text().replace('kind = "c"\n', 'kind = "c"\n' + build)
    config = tmp_path / "bisector.toml"
    config.write_text(pyproject)
    result = run_bisect(port.path, port.base, config_file=config, overrides=_overrides(cache_dir),
                        report_root=tmp_path / "reports")
    assert result.culprit == port.culprit and result.confirmed
    assert result.records[0].reference.startswith("c-")


_SHORT = [Change("refactor"), Change("regress"), Change("docs")]


def _stamping_reference(tmp_path: Path, c_twin: Path, *, first_sleep_s: float, exit_status: int | None = None) -> Path:
    """A C reference that notes when each of its runs starts and ends; its first run takes
    ``first_sleep_s`` longer; with ``exit_status`` it fails instead of running the twin."""
    stamps, slept = tmp_path / "reference-stamps", tmp_path / "reference-slept"
    run = f'"{c_twin}" "$@"' if exit_status is None else f"echo 'no beam' >&2; (exit {exit_status})"
    script = tmp_path / "nanoBragg"
    script.write_text(f"""#!/bin/sh
echo "start $(date +%s.%N)" >> "{stamps}"
[ -e "{slept}" ] || {{ touch "{slept}"; sleep {first_sleep_s}; }}
{run}; status=$?
echo "end $(date +%s.%N)" >> "{stamps}"
exit $status
""")
    script.chmod(0o755)
    return script


def _stamps(path: Path, kind: str) -> list[float]:
    return [float(t) for k, t in (line.split() for line in path.read_text().splitlines()) if k == kind]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="references are made alongside only with cores to spare")
def test_a_cold_reference_is_made_while_the_first_candidate_runs(tmp_path, c_twin):
    reference = _stamping_reference(tmp_path, c_twin, first_sleep_s=3)
    setups = tmp_path / "setup-stamps"
    setup = f"sh -c 'echo start $(date +%s.%N) >> {setups}'"
    port = make_port_repo(tmp_path / "port", history=_SHORT, reference="c", c_bin=reference,
                          settings=f"setup = {json.dumps(setup)}\n")
    result = run_bisect(port.path, port.base, overrides=_overrides(tmp_path / "cache"), report_root=tmp_path / "r")
    assert result.culprit == port.culprit and result.confirmed
    # The good endpoint's candidate (its setup first) started before the first reference
    # image was made: they ran at the same time. Each image was made once, then cached.
    first_reference_end = _stamps(tmp_path / "reference-stamps", "end")[0]
    assert min(_stamps(setups, "start")) < first_reference_end
    config = load_config(port.path)
    needed = set(config.judge) | {config.scenarios[name].probe for name in config.judge} - {None}
    assert len(_stamps(tmp_path / "reference-stamps", "start")) == len(needed)


def test_a_broken_reference_stops_the_hunt_as_a_reference_failure_even_while_made_alongside(tmp_path, c_twin):
    reference = _stamping_reference(tmp_path, c_twin, first_sleep_s=1, exit_status=3)
    port = make_port_repo(tmp_path / "port", history=_SHORT, reference="c", c_bin=reference)
    before = snapshot(port.path)
    with pytest.raises(ReferenceFailure, match="failed with exit status 3") as info:
        run_bisect(port.path, port.base, overrides=_overrides(tmp_path / "cache"), report_root=tmp_path / "r")
    assert "no beam" in str(info.value)
    assert snapshot(port.path) == before
