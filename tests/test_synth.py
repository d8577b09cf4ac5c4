"""The synthetic generator's truth must be exact: everything else is measured against it."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import rasterio

from airdiff.synth import AIRCRAFT_KINDS, aircraft_outline, make_pair, write_pair


@pytest.fixture(scope="module")
def pair():
    return make_pair(seed=5, scenario="random", shape=(600, 600), misregistration="moderate",
                     nuisances={"noise", "radiometry", "sun"})


def test_deterministic_per_seed():
    a = make_pair(seed=9, shape=(300, 400), nuisances="none")
    b = make_pair(seed=9, shape=(300, 400), nuisances="none")
    np.testing.assert_array_equal(a.before.pixels, b.before.pixels)
    np.testing.assert_array_equal(a.after.pixels, b.after.pixels)
    c = make_pair(seed=10, shape=(300, 400), nuisances="none")
    assert not np.array_equal(a.before.pixels, c.before.pixels)


@pytest.mark.parametrize("kind", sorted(AIRCRAFT_KINDS))
def test_aircraft_have_real_sizes(kind):
    length, span, _ = AIRCRAFT_KINDS[kind]
    minx, miny, maxx, maxy = aircraft_outline(kind).bounds
    assert maxy - miny == pytest.approx(length, abs=0.01)
    assert maxx - minx == pytest.approx(span, abs=0.01)


def test_mapping_is_an_exact_inverse(pair):
    rng = np.random.default_rng(0)
    c, r = rng.uniform(0, 600, 200), rng.uniform(0, 600, 200)
    bc, br = pair.truth.after_px_to_before_px(c, r)
    c2, r2 = pair.truth.before_px_to_after_px(bc, br)
    assert np.max(np.hypot(c2 - c, r2 - r)) < 1e-6
    # the misregistration is real: tens of pixels
    assert np.median(np.hypot(bc - c, br - r)) > 10


def test_rendering_agrees_with_the_mapping():
    # no nuisances and no JPEG: the same ground point must look the same in both images
    from scipy.ndimage import map_coordinates

    p = make_pair(seed=3, shape=(500, 500), misregistration="moderate", nuisances="none")
    b = p.before.luminance()
    a = p.after.luminance()
    rr, cc = np.mgrid[60:440:4, 60:440:4].astype(float)
    ac, ar = p.truth.before_px_to_after_px(cc + 0.5, rr + 0.5)
    ok = (ac > 2) & (ar > 2) & (ac < 498) & (ar < 498)
    sampled = map_coordinates(a, [ar[ok] - 0.5, ac[ok] - 0.5], order=1)
    truth_err = np.abs(sampled - b[rr[ok].astype(int), cc[ok].astype(int)])
    # a 1-pixel error in the mapping would give a much larger difference on this texture
    shifted = map_coordinates(a, [ar[ok] - 0.5, ac[ok] + 0.5], order=1)
    wrong_err = np.abs(shifted - b[rr[ok].astype(int), cc[ok].astype(int)])
    assert np.median(truth_err) < 0.35 * np.median(wrong_err)


def test_truth_geometry_is_where_the_pixels_are(pair):
    lum_b = pair.before.luminance()
    grid = pair.before.grid
    for ac in pair.truth.aircraft_before[:5]:
        from rasterio.features import geometry_mask

        inside = ~geometry_mask([ac.footprint], grid.shape, grid.transform)
        ring = ~geometry_mask([ac.footprint.buffer(6).difference(ac.footprint.buffer(3))],
                              grid.shape, grid.transform)
        # paint differs from the concrete around it (bright or dark)
        assert abs(lum_b[inside].mean() - lum_b[ring].mean()) > 0.05
    lum_a = pair.after.luminance()
    for ch in pair.truth.changes:
        if ch.cls == "burned":
            c, r = pair.truth.before_px_to_after_px(*grid.rowcol(*ch.after.centroid.coords[0])[::-1])
            assert lum_a[int(r), int(c)] < 0.25


def test_strike_scenario_counts():
    p = make_pair(seed=0, scenario="strike", shape=(900, 1200), gsd=1.0, nuisances={"cloud"},
                  misregistration="none")
    n = Counter(c.cls for c in p.truth.changes)
    assert n == {"moved": 11, "burned": 2}
    assert sum(c.surface == "runway" for c in p.truth.changes) == 1
    assert not p.truth.cloud.is_empty
    # the cloud hides an unchanged parked aircraft, not a changed one
    changed = [c.before for c in p.truth.changes] + [c.after for c in p.truth.changes]
    assert not any(p.truth.cloud.intersects(g) for g in changed if g is not None)
    assert any(p.truth.cloud.intersects(a.footprint) for a in p.truth.aircraft_after)


def test_static_scenario_has_no_changes():
    p = make_pair(seed=4, scenario="static", shape=(400, 400))
    assert p.truth.changes == ()


def test_write_pair_round_trip(tmp_path):
    p = make_pair(seed=2, shape=(300, 300), after_crs="EPSG:3857", after_gsd=0.6)
    paths = write_pair(p, tmp_path)
    with rasterio.open(paths["after"]) as ds:
        assert ds.crs.to_epsg() == 3857
        assert ds.tags()["ACQUISITION_TIME"].endswith("Z")
    from airdiff.io import read_scene

    s = read_scene(paths["before"])
    assert s.acquired == p.before.acquired and s.grid.same_as(p.before.grid)
    assert abs(read_scene(paths["after"]).gsd - 0.6) < 0.01
