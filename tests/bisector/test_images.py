"""PNG renderings: levels at known points, colours of signed differences, a real PNG file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bisector.report.images import difference_rgb, intensity_rgb, save_png


def test_intensity_levels_are_log_scaled():
    img = np.array([[0.0, 1.0, 1000.0, -5.0, np.nan]])
    grey = intensity_rgb(img)[0, :, 0]
    # floor = 1000 * 1e-3 = 1: level = 255 * log(1 + v) / log(1001).
    assert list(grey) == [0, round(255 * np.log(2) / np.log(1001)), 255, 0, 0]


def test_difference_colours():
    rgb = difference_rgb(np.array([[2.0, -2.0, 0.0, 1.0]]))
    assert rgb[0, 0].tolist() == [255, 0, 0]
    assert rgb[0, 1].tolist() == [0, 0, 255]
    assert rgb[0, 2].tolist() == [255, 255, 255]
    assert rgb[0, 3].tolist() == [255, 128, 128]


def test_save_png_round_trip(tmp_path):
    img = np.zeros((3, 5))
    img[1, 4] = 7.0
    path = save_png(tmp_path / "a.png", img)
    with Image.open(path) as png:
        assert png.size == (5, 3)
        assert np.asarray(png)[1, 4].tolist() == [255, 255, 255]
    with pytest.raises(ValueError, match="2-D"):
        save_png(tmp_path / "b.png", np.zeros(4))


def test_large_images_are_reduced_keeping_single_pixel_peaks(tmp_path):
    import numpy as np
    from PIL import Image

    from bisector.report.images import reduce_for_display, save_png

    img = np.zeros((2047, 1001))
    img[2046, 1000] = 5.0   # a lone peak in the last, partial block
    img[10, 500] = -3.0     # a negative difference keeps its sign
    img[11, 501] = 1.0      # same block: the larger magnitude wins
    small = reduce_for_display(img, max_side=1024)
    assert small.shape == (1024, 501)  # factor 2, padded up
    assert small[1023, 500] == 5.0 and small[5, 250] == -3.0
    assert np.count_nonzero(small) == 2
    with Image.open(save_png(tmp_path / "big.png", img)) as png:
        assert max(png.size) <= 1024
