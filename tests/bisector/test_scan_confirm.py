"""One confirmation policy: the scan reports each culprit with full-size numbers, and the
printed reproduce command re-judges it to the same numbers (real repository, real scoring)."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from bisector.cli import main
from portrepo import Change, make_port_repo, scenario_args

pytestmark = pytest.mark.slow

# "tiny" is a 16^2 probe of the 32^2 benchmark: it convicts the half-pixel shift on its own,
# with numbers of its own (a coarser detector sees the shift differently).
PROBE = ('probe = "tiny"\nprobe_margin = 0.99\n\n'
         f'[tool.bisector.scenarios.tiny]\nargs = "{scenario_args(16)}"\n')
# The scan judges the good endpoint, then the tip (convicted by its probe), then the culprit's
# state: no full run was timed warm yet, so the probe rule runs the probe there too.
HISTORY = [Change("docs"), Change("regress", how="shift"), Change("refactor"), Change("docs")]

SCAN_METRICS = re.compile(r"small: correlation (\S+), sum_ratio (\S+) \((\w+)([^)]*)\)")
SCORE_METRICS = re.compile(r"small\s+corr=(\S+)\s+sum_ratio=(\S+)\s+(\w+)")


def test_scan_reports_full_size_metrics_and_its_reproduce_command_prints_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    port = make_port_repo(tmp_path / "port", history=HISTORY, extra_toml=PROBE)
    culprit = port.shas[1]

    code = main(["scan", "--repo", str(port.path), "--good", port.base, "--report-dir", str(tmp_path / "reports")])
    err = capsys.readouterr().err
    assert code == 0, err

    (bundle,) = (tmp_path / "reports").iterdir()
    timeline = json.loads((bundle / "timeline.json").read_text())
    # The search convicted the culprit's state by its probe ...
    (state,) = [s for s in timeline["states"] if s["first"] == culprit]
    (searched,) = state["scenarios"]
    assert searched["via_probe"] is True
    # ... but the window is reported with the full-size run's numbers.
    window = err[err.index("window 1"):]
    corr, ratio, verdict, note = SCAN_METRICS.search(window).groups()
    assert verdict == "bad" and "probe" not in note
    assert float(corr) != pytest.approx(searched["correlation"], abs=1e-6)
    (reported,) = timeline["windows"][0]["metrics"]
    assert reported["via_probe"] is False and f"{reported['correlation']:.6f}" == corr

    reproduce = next(line for line in window.splitlines() if "reproduce with:" in line)
    argv = shlex.split(reproduce.split("reproduce with:", 1)[1])
    assert argv[1:3] == ["score", culprit] and "--full" in argv
    assert main(argv[1:]) == 1  # bad, in git bisect's vocabulary
    again = SCORE_METRICS.search(capsys.readouterr().out)
    assert again.groups() == (corr, ratio, "bad")


# "centre" sees only the middle of the detector, where the edge regression changes nothing.
CENTRE = ('[tool.bisector.scenarios.centre]\n'
          'args = "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 8 -pixel 0.4"')


def test_a_bad_state_stops_at_its_first_bad_scenario_and_the_convicting_one_runs_first(tmp_path, monkeypatch):
    # centre is judged first by the configuration, and the edge regression leaves it good:
    # the first bad state the scan meets runs centre (good), then small (bad); every later
    # bad state runs small alone. Good states run both (small first once it has convicted);
    # the confirmations run both, fresh.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    r = Change("refactor")
    port = make_port_repo(tmp_path / "port", extra_toml=CENTRE, settings='judge = ["centre", "small"]',
                          history=[r, r, Change("regress", how="edge"), r, r, r, Change("fix"), r, r])
    code = main(["scan", "--repo", str(port.path), "--good", port.base, "--report-dir", str(tmp_path / "reports")])
    assert code == 0
    (bundle,) = (tmp_path / "reports").iterdir()
    timeline = json.loads((bundle / "timeline.json").read_text())
    (window,) = timeline["windows"]
    assert (window["first_bad"], window["fix"]) == (port.shas[2], port.shas[6])
    assert window["break"]["confirmed"] and window["fixed"]["confirmed"]

    scorings = timeline["timing"]["scorings"]
    searched = [s for s in scorings if s["phase"] == "scan"]
    ran = [[run["scenario"] for run in s["runs"]] for s in searched]
    bad = [names for names, s in zip(ran, searched) if s["verdict"] == "bad"]
    assert len(searched) == 10 and len(bad) == 4
    assert bad[0] == ["centre", "small"] and bad[1:] == [["small"]] * 3
    assert all(sorted(names) == ["centre", "small"] for names, s in zip(ran, searched) if s["verdict"] == "good")
    (cut,) = [state for state in timeline["states"] if state["first"] == port.shas[4]]
    assert [(sc["name"], sc["verdict"]) for sc in cut["scenarios"]] == [("small", "bad")]

    # The fix's parent is a bad state cut short: still fresh full-size evidence, not re-run;
    # the fix is a good state, judged fresh on every scenario: its own evidence too. The break
    # was cut short (small alone), so it alone is re-run, on every judged scenario: the
    # report has its full metrics.
    confirms = [s for s in scorings if s["phase"] == "confirm"]
    assert [s["commit"] for s in confirms] == [port.shas[2]]
    assert [run["scenario"] for run in confirms[0]["runs"]] == ["centre", "small"]
    assert [(m["name"], m["verdict"]) for m in window["metrics"]] == [("centre", "good"), ("small", "bad")]
    phases = {side: [r["phase"] for r in window[side]["fresh"]] for side in ("break", "fixed")}
    assert phases == {"break": ["scan", "confirm"], "fixed": ["scan", "scan"]}

    # Scanned again through the cache: a bad state's cached bad scenario settles it, nothing
    # of the search runs afresh (only the confirmations do: a cached score is no evidence).
    assert main(["scan", "--repo", str(port.path), "--good", port.base, "--report-dir", str(tmp_path / "again")]) == 0
    (bundle,) = (tmp_path / "again").iterdir()
    scorings = json.loads((bundle / "timeline.json").read_text())["timing"]["scorings"]
    assert all(run["cached"] for s in scorings if s["phase"] == "scan" for run in s["runs"])
