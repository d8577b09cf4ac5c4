"""Radiometric normalisation recovers known gain, offset and gamma on invariant pixels."""

from __future__ import annotations

import numpy as np
import pytest

from airdiff.errors import InputError
from airdiff.grid import Grid
from airdiff.radiometry import fit_transfer, match_bands, normalise
from airdiff.scene import Scene
from tests.conftest import textured


def _pair(gain, offset, gamma, *, bands=3, dtype=np.uint8, change=True, cloud=True):
    g = Grid.pixel_frame((200, 240), gsd=0.5)
    b = textured((200, 240), bands=bands, seed=3)
    fb = b.astype(np.float32) / 255.0
    fa = np.clip(gain * fb**gamma + offset, 0, 1)
    invariant = np.ones((200, 240), bool)
    if change:  # a new dark object and a bright one: not invariant
        fa[:, 40:70, 30:90] = 0.02
        fa[:, 120:140, 150:200] = 1.0
        invariant[40:70, 30:90] = invariant[120:140, 150:200] = False
    if cloud:
        fa[:, 150:200, 0:60] = 1.0
        invariant[150:200, 0:60] = False
    top = 255 if dtype == np.uint8 else 4095
    after = Scene((fa * top).round().astype(dtype), g)
    return Scene(b, g), after, fb, invariant


@pytest.mark.parametrize(
    "gain, offset, gamma",
    [(1.0, 0.0, 1.0), (0.8, 0.05, 1.0), (1.15, -0.03, 0.85), (0.9, 0.08, 1.2)],
)
def test_recovers_gain_offset_gamma_on_invariant_pixels(gain, offset, gamma):
    before, after, fb, inv = _pair(gain, offset, gamma)
    out = normalise(before, after)
    assert out.pixels.dtype == np.float32 and out.grid is after.grid
    err = np.abs(out.pixels - fb)[:, inv]
    assert np.median(err) < 0.006  # well under one 8-bit level of BEFORE... in [0, 1] units
    assert np.percentile(err, 99) < 0.03


def test_sixteen_bit_four_band():
    before, after, fb, inv = _pair(0.9, 0.04, 1.1, bands=4, dtype=np.uint16)
    out = normalise(before, after)
    assert out.count == 4
    assert np.median(np.abs(out.pixels - fb)[:, inv]) < 0.006


def test_changed_pixels_stay_changed():
    before, after, fb, _ = _pair(0.8, 0.05, 1.0)
    out = normalise(before, after)
    # the inserted dark object must not be pulled back towards BEFORE
    assert np.abs(out.pixels[:, 40:70, 30:90] - fb[:, 40:70, 30:90]).mean() > 0.2


@pytest.mark.parametrize(("gain", "offset"), [(0.8, 0.05), (1.1, -0.02)])
def test_an_object_lighter_than_any_ground_keeps_its_contrast(gain, offset):
    # asphalt and concrete, each one flat grey with sensor noise; in AFTER a light airframe
    # stands on the concrete, lighter than anything both dates share. Within one flat
    # surface the dates' noise does not correlate, so the fit is flat there; carried past
    # the concrete with that slope, the airframe came out as concrete (0.71 for 0.88).
    # (An object lighter than all else over several per cent of the scene is still fitted
    # as invariant: the first, quantile fit pairs it with the concrete's lightest pixels.)
    rng = np.random.default_rng(7)
    g = Grid.pixel_frame((200, 240), gsd=0.5)
    ground = np.where(np.arange(240) < 90, 0.33, 0.70)[np.newaxis, :].repeat(200, axis=0)
    fb = np.clip(ground + rng.normal(0, 0.012, ground.shape), 0, 1)
    truth = ground.copy()
    truth[100:110, 150:170] = 0.88  # 0.4 % of the scene (a transport in a 1 km² scene is 0.1 %)
    fa = np.clip(gain * (truth + rng.normal(0, 0.012, ground.shape)) + offset, 0, 1)

    def grey8(x):
        return np.repeat((x * 255).round().astype(np.uint8)[np.newaxis], 3, axis=0)

    out = normalise(Scene(grey8(fb), g), Scene(grey8(fa), g))
    got = float(np.median(out.pixels[:, 100:110, 150:170]))
    assert abs(got - 0.88) < 0.04
    # and the ground is still matched
    assert abs(float(np.median(out.pixels[:, :, 100:140])) - 0.70) < 0.01
    assert abs(float(np.median(out.pixels[:, :, :80])) - 0.33) < 0.01


def test_band_layouts_are_matched():
    g = Grid.pixel_frame((20, 20), gsd=1.0)
    before = Scene(np.zeros((4, 20, 20), np.uint8), g)
    assert match_bands(before, np.ones((3, 20, 20), np.float32)).shape == (4, 20, 20)
    grey = Scene(np.zeros((1, 20, 20), np.uint8), g)
    assert match_bands(grey, np.ones((3, 20, 20), np.float32)).shape == (1, 20, 20)
    rgb = Scene(np.zeros((3, 20, 20), np.uint8), g)
    assert match_bands(rgb, np.ones((1, 20, 20), np.float32)).shape == (3, 20, 20)


def test_fit_transfer_is_monotone():
    rng = np.random.default_rng(0)
    b = rng.random((1, 80, 80)).astype(np.float32)
    a = b**1.3 * 0.7 + 0.1
    a[0, :20] = rng.random((20, 80))  # a quarter of the pixels changed at random
    t = fit_transfer(b, a, mask=np.ones((80, 80), bool))
    assert np.all(np.diff(t.knots_before[0]) >= -1e-6)
    x = np.linspace(0.1, 0.8, 50, dtype=np.float32)[None, :, None]
    assert np.abs(t.apply(x) - ((x - 0.1) / 0.7) ** (1 / 1.3)).max() < 0.05


def test_grid_mismatch_is_an_input_error():
    before = Scene(np.zeros((1, 20, 20), np.uint8), Grid.pixel_frame((20, 20), gsd=1.0))
    after = Scene(np.zeros((1, 10, 10), np.uint8), Grid.pixel_frame((10, 10), gsd=1.0))
    with pytest.raises(InputError, match="align"):
        normalise(before, after)


def _paved_error(seed: int, nuisances: set) -> float:
    """Mean error of the fitted transfer against the generator's exact one on paved ground."""
    from airdiff.radiometry import fit_scene_transfer
    from airdiff.synth import make_pair, paved_pixels, true_transfer

    p = make_pair(seed=seed, scenario="random", shape=(600, 600), misregistration="none", nuisances=nuisances)
    sel = paved_pixels(p.truth, p.after) & p.before.valid
    x = p.after.as_float()[:, sel][:, None, :]
    return float(np.abs(fit_scene_transfer(p.before, p.after).apply(x) - true_transfer(p.truth.meta, x)).mean())


@pytest.mark.parametrize("seed", [1, 3, 4])
def test_recovers_another_sensor_on_paved_ground(seed):
    # gain, gamma, band balance and haze, with noise and JPEG: within one 8-bit level
    assert _paved_error(seed, {"radiometry", "noise", "jpeg"}) <= 1 / 255


@pytest.mark.parametrize("seed", [1, 3, 4])
def test_recovers_another_sensor_on_paved_ground_across_seasons(seed):
    # grass turned brown (or green) between the dates: a fit on all pixels is off by 3-6
    # levels here (grey shadows come out green); the grey pixels carry the sensor's change
    assert _paved_error(seed, {"radiometry", "season"}) <= 1 / 255
