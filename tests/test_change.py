"""Change magnitude tolerates sub-pixel misregistration; clouds and no data are masked."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from airdiff.change import change_map, window_distance
from airdiff.grid import Grid
from airdiff.scene import Scene
from tests.conftest import textured


def _scene(px, gsd=0.5, valid=None):
    return Scene(px, Grid.pixel_frame(px.shape[1:], gsd=gsd), valid=valid)


def test_half_pixel_shift_is_not_change_but_a_new_object_is():
    img = textured((160, 200), bands=3, seed=5).astype(np.float32) / 255.0
    shifted = ndi.shift(img, (0, 0.5, 0.5), order=1, mode="nearest")
    shifted[:, 60:80, 90:130] = 0.95  # a new bright object, 10 m x 20 m
    cm = change_map(_scene(img), _scene(shifted))
    inner = (slice(2, -2), slice(2, -2))
    background = cm.magnitude[inner].copy()
    background[58:82, 88:132] = 0
    assert np.percentile(background, 99) < 0.1
    assert cm.magnitude[63:77, 93:127].mean() > 0.6


def test_window_distance_is_zero_for_one_pixel_shift():
    rng = np.random.default_rng(2)
    b = rng.random((2, 40, 40)).astype(np.float32)
    a = np.roll(b, 1, axis=1)
    assert window_distance(a[:, 2:-2, 2:-2], b[:, 2:-2, 2:-2]).max() < 0.35  # edges of the crop
    assert window_distance(a, b)[3:-3, 3:-3].max() == 0.0


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (2, 2), (3, 7), (50, 41)])
@pytest.mark.parametrize("size", [3, 5])
def test_square_extremes_equal_ndimage_filters(shape, size):
    from airdiff.change import _square_extreme

    x = np.random.default_rng(shape[1] * 10 + size).random(shape).astype(np.float32)
    np.testing.assert_array_equal(_square_extreme(x, size, np.maximum), ndi.maximum_filter(x, size=size))
    np.testing.assert_array_equal(_square_extreme(x, size, np.minimum), ndi.minimum_filter(x, size=size))


def test_nodata_in_either_date_is_obscured():
    img = textured((80, 80), bands=3, seed=1)
    valid = np.ones((80, 80), bool)
    valid[:, :20] = False
    cm = change_map(_scene(img), _scene(img.astype(np.float32) / 255.0, valid=valid))
    assert cm.nodata[:, :20].all() and not cm.nodata[:, 30:].any()
    assert (cm.magnitude[cm.nodata] == 0).all()


def test_cloud_and_its_shadow_are_masked():
    rng = np.random.default_rng(4)
    img = textured((400, 400), bands=3, seed=2).astype(np.float32) / 255.0 * 0.6
    after = img.copy()
    yy, xx = np.mgrid[0:400, 0:400]
    d = np.hypot(yy - 120, xx - 130) + 15 * ndi.gaussian_filter(rng.standard_normal((400, 400)), 8) * 8
    alpha = np.clip((70 - d) / 10, 0, 1).astype(np.float32)
    shadow = np.roll(np.roll(alpha, 120, axis=0), 100, axis=1)
    after *= (1 - 0.55 * shadow)[None]
    after = after * (1 - alpha) + 0.92 * alpha
    cm = change_map(_scene(img), _scene(after))
    core = alpha > 0.5
    assert cm.cloud[core].mean() > 0.95
    assert cm.cloud_shadow[shadow > 0.5].mean() > 0.8
    # away from both, nothing is masked
    far = (alpha == 0) & (shadow == 0)
    far = ndi.binary_erosion(far, iterations=30)
    assert cm.obscured[far].mean() < 0.01
    assert cm.magnitude[core].max() == 0
