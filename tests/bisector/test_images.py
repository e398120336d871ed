"""Display reduction of detector images: single-pixel extremes survive, signs are kept."""

from __future__ import annotations

import numpy as np
import pytest

from bisector.report.images import reduce_for_display


def test_large_images_are_reduced_keeping_single_pixel_peaks():
    img = np.zeros((2047, 1001))
    img[2046, 1000] = 5.0   # a lone peak in the last, partial block
    img[10, 500] = -3.0     # a negative difference keeps its sign
    img[11, 501] = 1.0      # same block: the larger magnitude wins
    small = reduce_for_display(img, max_side=1024)
    assert small.shape == (1024, 501)  # factor 2, padded up
    assert small[1023, 500] == 5.0 and small[5, 250] == -3.0
    assert np.count_nonzero(small) == 2
    # Intensities keep each block's maximum: the negative value gives way to 0 beside it.
    assert reduce_for_display(img, max_side=1024, signed=False)[5, 250] == 1.0


def test_small_images_stay_as_they_are_and_non_finite_values_become_zero():
    img = np.array([[1.0, np.nan], [np.inf, -2.0]])
    assert reduce_for_display(img).tolist() == [[1.0, 0.0], [0.0, -2.0]]
    with pytest.raises(ValueError, match="2-D"):
        reduce_for_display(np.zeros(4))
