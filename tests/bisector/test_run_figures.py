"""A run's report has one figure per scenario the culprit fails, the worst first, each with
the reference, parent and culprit panels."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from bisector.api import run_bisect
from bisector.config import ConfigOverrides
from portrepo import Change, make_port_repo

# "centre" sees the middle 8 x 8 pixels, where a half-pixel shift moves most of the light.
CENTRE = ('[tool.bisector.scenarios.centre]\n'
          'args = "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 8 -pixel 0.4"')


@pytest.mark.slow
def test_every_failing_scenario_gets_a_figure_worst_first(tmp_path):
    port = make_port_repo(tmp_path / "port", size=64, extra_toml=CENTRE,
                          history=[Change("docs"), Change("refactor"), Change("regress", how="shift"), Change("docs")])
    result = run_bisect(port.path, port.base, overrides=ConfigOverrides(cache_dir=str(tmp_path / "cache")),
                        report_root=tmp_path / "reports")
    assert result.culprit == port.culprit
    results = json.loads((result.report_dir / "results.json").read_text())
    # The culprit's evidence: a fresh full run of its state in this hunt, with its images.
    last = results["confirmation"]["culprit"]["runs"][-1]
    (evidence,) = [r for r in results["records"] if (r["phase"], r["commit"]) == (last["phase"], last["commit"])]
    by_correlation = sorted((sc for sc in evidence["scenarios"] if sc["verdict"] == "bad"), key=lambda sc: sc["correlation"])
    assert [sc["name"] for sc in by_correlation] == ["centre", "small"]  # both fail; centre worse
    files = {"centre": result.report_dir / "comparison.png", "small": result.report_dir / "comparison-small.png"}
    for name, path in files.items():
        with Image.open(path) as png:
            assert png.text["Title"].startswith(f"scenario {name}: culprit {port.culprit[:10]}")
            panels = [p["name"] for p in json.loads(png.text["Panels"])]
        assert panels[:3] == ["reference", "parent", "culprit"]
    summary = (result.report_dir / "culprit_summary.md").read_text()
    assert summary.index("### Scenario centre") < summary.index("### Scenario small")
    assert "![comparison](comparison.png)" in summary and "![comparison](comparison-small.png)" in summary
