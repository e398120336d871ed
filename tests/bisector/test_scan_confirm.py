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
HISTORY = [Change("docs"), Change("refactor"), Change("regress", how="shift"), Change("refactor"),
           Change("fix"), Change("docs")]

SCAN_METRICS = re.compile(r"small: correlation (\S+), sum_ratio (\S+) \((\w+)([^)]*)\)")
SCORE_METRICS = re.compile(r"small\s+corr=(\S+)\s+sum_ratio=(\S+)\s+(\w+)")


def test_scan_reports_full_size_metrics_and_its_reproduce_command_prints_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    port = make_port_repo(tmp_path / "port", history=HISTORY, extra_toml=PROBE)
    culprit = port.shas[2]

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
