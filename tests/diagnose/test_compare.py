"""compare on real images (C twin, simkernel, a generated port) and on injected errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from bisector.cli import main
from bisector.diagnose import imagestats
from bisector.diagnose.compare import compare_images
from portrepo import Change, make_port_repo, scenario_args
from repostate import snapshot

SIZE = 48


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NB_C_BIN", raising=False)


@pytest.fixture(scope="module")
def c_image(c_twin, tmp_path_factory) -> np.ndarray:
    """A real C-twin image of the benchmark physics on SIZE x SIZE pixels."""
    from simkernel.cref import run

    out = tmp_path_factory.mktemp("c") / "ref.bin"
    run([*scenario_args(SIZE).split(), "-floatfile", str(out)], cwd=out.parent)
    return np.fromfile(out, dtype="<f4").reshape(SIZE, SIZE).astype(np.float64)


def _summary(report_root):
    (folder,) = list(report_root.iterdir())
    return folder, json.loads((folder / "summary.json").read_text())


def test_c_against_simkernel_agree_and_the_report_is_complete(tmp_path, c_twin, capsys):
    code = main(["compare", "--ref", "c", "--candidate", "simkernel", "--c-bin", str(c_twin),
                 "--roi", "4", "19", "8", "27", "--report-dir", str(tmp_path / "reports"), "--",
                 *scenario_args(SIZE).split()])
    assert code == 0, capsys.readouterr()
    folder, summary = _summary(tmp_path / "reports")
    assert summary["correlation"] > 0.9999 and abs(summary["sum_ratio"] - 1) < 1e-4
    assert summary["rmse"] < 1e-3 * summary["max_abs_diff"] + 1e-3
    assert summary["roi"]["shape"] == [20, 16] and summary["roi"]["verdict"] == "good"
    assert summary["peaks"]["matched"] == summary["peaks"]["reference_peaks"] >= 4
    assert len(summary["radial"]) == imagestats.RINGS
    md = (folder / "summary.md").read_text()
    assert "![comparison](comparison.png)" in md and "![comparison](roi.png)" in md
    peaks = summary["peaks"]  # the counts in words a person reads once: matched of the reference's
    assert (f"{peaks['matched']} of the reference's {peaks['reference_peaks']} brightest peaks" in md
            and "in the candidate)" not in md)
    for name in ("comparison.png", "roi.png"):
        _check_figure(folder / name, ["reference", "candidate", "intensity_colorbar", "difference",
                                      "zoom_reference", "zoom_candidate", "zoom_difference",
                                      "difference_colorbar"])


def _check_figure(path, names):
    """The PNG has the panels it declares, each drawn (not blank), inside the image."""
    with Image.open(path) as png:
        panels = json.loads(png.text["Panels"])
        width, height = png.size
        pixels = np.asarray(png.convert("RGB"))
    assert [p["name"] for p in panels] == names
    assert 1000 <= width <= 2000 and 500 <= height <= 1200
    for p in panels:
        left, top, right, bottom = p["box"]
        assert 0 <= left < right <= width and 0 <= top < bottom <= height, p
        crop = pixels[top:bottom, left:right].reshape(-1, 3)
        assert len(np.unique(crop, axis=0)) > 8, f"panel {p['name']} is blank"


def test_edge_only_error_shows_high_centre_and_low_edge_correlation(tmp_path, c_image):
    rng = np.random.default_rng(7)
    s0, s1, f0, f1 = imagestats.centre_box(c_image.shape)
    edge = np.ones(c_image.shape, dtype=bool)
    edge[s0:s1, f0:f1] = False
    candidate = c_image.copy()
    candidate[edge] = rng.permutation(c_image[edge])  # same photons, wrong places
    ref_path, cand_path = tmp_path / "ref.npy", tmp_path / "cand.npy"
    np.save(ref_path, c_image)
    np.save(cand_path, candidate)

    code = main(["compare", "--ref", str(ref_path), "--candidate", str(cand_path),
                 "--report-dir", str(tmp_path / "reports"), "--", *scenario_args(SIZE).split()])
    assert code == 1
    folder, summary = _summary(tmp_path / "reports")
    regions = summary["regions"]
    assert regions["centre_correlation"] == pytest.approx(1.0, abs=1e-12)
    assert regions["edge_correlation"] < 0.5
    assert summary["sum_ratio"] == pytest.approx(1.0)
    inner, outer = summary["radial"][0], summary["radial"][-1]
    assert inner["relative_error"] == 0.0 and outer["relative_error"] > 0.2
    assert "The centre agrees better than the edges" in (folder / "summary.md").read_text()


def test_peak_matching_measures_a_known_shift():
    yy, xx = np.mgrid[:64, :64]
    spots = [(10, 12), (30, 40), (50, 20), (20, 55)]

    def image(shift):
        return sum(np.exp(-((yy - s) ** 2 + (xx - f - shift) ** 2) / 4.0) * (i + 1)
                   for i, (s, f) in enumerate(spots))

    match = imagestats.match_peaks(image(0.0), image(0.5), n=4, radius=2.0)
    assert match.matched == 4
    # A Gaussian fit through three samples recovers the 0.5 px shift of Gaussian spots exactly.
    assert match.mean_distance == pytest.approx(0.5, abs=1e-6) and match.max_distance == pytest.approx(0.5, abs=1e-6)
    far = imagestats.match_peaks(image(0.0), image(5.0), n=4, radius=2.0)
    assert far.matched == 0 and far.mean_distance is None


def test_radial_profile_against_hand_computed_rings():
    ref = np.ones((4, 4))
    cand = ref.copy()
    cand[0, 0] = 3.0  # a corner pixel, in the outermost ring
    rings = imagestats.radial_profile(ref, cand, rings=2)
    # Centre (1.5, 1.5); corner radius 2.1213; ring edge 1.0607: the middle 4 pixels are inner.
    assert [r.pixels for r in rings] == [4, 12]
    assert rings[0].relative_error == 0.0 and rings[1].relative_error == pytest.approx(2.0 / 12)


def test_mismatched_sizes_are_bad_input(tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.ones((32, 32)))
    np.save(tmp_path / "b.npy", np.ones((16, 16)))
    code = main(["compare", "--ref", str(tmp_path / "a.npy"), "--candidate", str(tmp_path / "b.npy"),
                 "--report-dir", str(tmp_path / "r"), "--", *scenario_args(32).split()])
    err = capsys.readouterr().err
    assert code == 2 and "differ in size" in err and "(32, 32)" in err and "Traceback" not in err
    with pytest.raises(Exception, match="differ in size"):
        compare_images(np.ones((2, 2)), np.ones((3, 3)))


@pytest.mark.parametrize("argv, message", [
    (["--ref", "nonsense"], "is not 'c', 'simkernel'"),
    (["--ref", "missing.npy"], "does not exist"),
    (["--ref", "simkernel", "--candidate", "simkernel", "--roi", "0", "99", "0", "5"], "does not fit"),
    (["--ref", "simkernel", "--candidate", "simkernel", "--", "-floatfile", "x"], "must not contain -floatfile"),
])
def test_bad_arguments_are_one_line_messages(tmp_path, capsys, argv, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tail = [] if "--" in argv else ["--", *scenario_args(16).split()]
    assert main(["compare", *argv, "--report-dir", str(tmp_path / "r"), *tail]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.slow
def test_a_regressed_commit_against_simkernel(tmp_path, capsys):
    port = make_port_repo(tmp_path / "port", history=[Change("docs"), Change("regress", how="scale")], size=32)
    before = snapshot(port.path)
    args = ["compare", "--repo", str(port.path), "--ref", "simkernel", "--scenario", "small",
            "--report-dir", str(tmp_path / "reports")]
    assert main(args) == 1
    _, summary = _summary(tmp_path / "reports")
    assert summary["sum_ratio"] == pytest.approx(1.5, rel=1e-4)
    assert summary["candidate"]["value"] == port.head
    assert main([*args[:-2], "--candidate", port.base, "--report-dir", str(tmp_path / "base")]) == 0
    assert snapshot(port.path) == before
