"""Report figures: the panels they declare exist and are drawn; scales and zoom are chosen right."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from bisector.report import figures
from bisector.report.figures import Panel, comparison_figure, largest_disagreement

GOLDEN = "tests/data/golden/01_base.npy"


def _panels(path):
    with Image.open(path) as png:
        return json.loads(png.text["Panels"]), png.size, np.asarray(png.convert("RGB"))


def test_run_style_figure_has_titled_panels_colour_bars_and_zoom(tmp_path):
    ref = np.load(GOLDEN).astype(np.float64)
    culprit = ref * 1.5
    culprit[100:104, 20:24] += 5000.0  # the largest disagreement, far from the brightest spot
    info = comparison_figure(tmp_path / "fig.png", [Panel("reference", "reference (C)", ref),
                                                    Panel("parent", "parent 1234567890", ref),
                                                    Panel("culprit", "culprit abcdef1234", culprit)],
                             title="scenario small: culprit abcdef1234 vs reference",
                             caption=["correlation 0.9", "sum ratio 1.5"], difference_of=("culprit", "reference"))
    panels, size, pixels = _panels(info.path)
    assert [p["name"] for p in panels] == ["reference", "parent", "culprit", "intensity_colorbar", "difference",
                                           "zoom_reference", "zoom_candidate", "zoom_difference",
                                           "difference_colorbar"]
    assert size == info.size == (int(round((figures.PANEL_INCHES * 4 + 0.9) * figures.DPI)), size[1])
    for p in panels:
        left, top, right, bottom = p["box"]
        crop = pixels[top:bottom, left:right].reshape(-1, 3)
        assert len(np.unique(crop, axis=0)) > 8, p["name"]
    assert info.log_scale  # Bragg spots over a weak background span decades
    z = info.zoom
    assert z.slow0 <= 100 and 104 <= z.slow1 and z.fast0 <= 20 and 24 <= z.fast1
    # One scale for all three: the parent looks like the reference, the culprit (x1.5)
    # brighter. Each panel scaled on its own would make all three look alike.
    light = {name: float(pixels[top:bottom, left:right].mean())
             for name, (left, top, right, bottom) in ((p["name"], p["box"]) for p in panels)}
    assert light["parent"] == pytest.approx(light["reference"], rel=0.01)
    assert light["culprit"] > 1.03 * light["reference"]
    with Image.open(info.path) as png:
        assert png.text["Title"] == "scenario small: culprit abcdef1234 vs reference"


def test_linear_scale_when_the_range_is_small(tmp_path):
    img = np.linspace(1.0, 2.0, 64 * 64).reshape(64, 64)
    info = comparison_figure(tmp_path / "lin.png", [Panel("reference", "r", img), Panel("candidate", "c", img)],
                             title="t", caption=["c"], difference_of=("candidate", "reference"))
    assert not info.log_scale and info.zoom is None  # identical images: nothing to zoom on


def test_shapes_that_differ_draw_no_difference(tmp_path):
    info = comparison_figure(tmp_path / "x.png", [Panel("reference", "r", np.ones((8, 8))),
                                                  Panel("candidate", "c", np.ones((4, 4)))],
                             title="t", caption=["c"], difference_of=("candidate", "reference"))
    assert [p["name"] for p in info.panels] == ["reference", "candidate", "intensity_colorbar"]


def test_zoom_finds_a_single_pixel_in_a_big_image():
    diff = np.zeros((1000, 700))
    diff[917, 3] = -5.0
    z = largest_disagreement(diff)
    assert z.slow0 <= 917 < z.slow1 and z.fast0 <= 3 < z.fast1
    assert z.slow1 <= 1000 and z.fast1 <= 700 and z.slow1 - z.slow0 == 87


def test_a_parent_without_an_image_says_why_instead_of_staying_empty(tmp_path):
    ref = np.load(GOLDEN).astype(np.float64)
    note = "no image kept: the parent's state was judged good by bisect run(s) of this hunt, not re-run"
    info = comparison_figure(tmp_path / "fig.png", [Panel("reference", "reference (C)", ref),
                                                    Panel("parent", "parent 1234567890", None, note=note),
                                                    Panel("culprit", "culprit abcdef1234", ref * 1.5)],
                             title="t", caption=["c"], difference_of=("culprit", "reference"))
    panels, _, pixels = _panels(info.path)
    boxes = {p["name"]: p["box"] for p in panels}
    assert list(boxes)[:3] == ["reference", "parent", "culprit"]
    left, top, right, bottom = boxes["parent"]
    parent = pixels[top:bottom, left:right].reshape(-1, 3)
    # text on white, not an image: mostly white, yet something is written there
    white = np.all(parent > 240, axis=1).mean()
    assert 0.8 < white < 1.0
    left, top, right, bottom = boxes["culprit"]
    assert np.all(pixels[top:bottom, left:right].reshape(-1, 3) > 240, axis=1).mean() < 0.5
