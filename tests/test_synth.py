"""The synthetic generator's truth must be exact: everything else is measured against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import rasterio
from rasterio.features import geometry_mask
from scipy.ndimage import map_coordinates

from airdiff.export import numpy_dispatch_targets
from airdiff.synth import AIRCRAFT_KINDS, aircraft_outline, make_pair, true_transfer, write_pair


@pytest.fixture(scope="module")
def pair():
    return make_pair(seed=5, scenario="random", shape=(600, 600), misregistration="moderate",
                     nuisances={"noise", "radiometry", "sun"})


@pytest.fixture(scope="module")
def strike():
    return make_pair(seed=0, scenario="strike", shape=(900, 1200), gsd=1.0, nuisances={"cloud"},
                     misregistration="none")


def _inside(geom, grid):
    return ~geometry_mask([geom], grid.shape, grid.transform)


def test_deterministic_per_seed():
    a = make_pair(seed=9, shape=(300, 400), nuisances="none")
    b = make_pair(seed=9, shape=(300, 400), nuisances="none")
    np.testing.assert_array_equal(a.before.pixels, b.before.pixels)
    np.testing.assert_array_equal(a.after.pixels, b.after.pixels)
    assert a.truth.to_dict() == b.truth.to_dict()
    c = make_pair(seed=10, shape=(300, 400), nuisances="none")
    assert not np.array_equal(a.before.pixels, c.before.pixels)


_SAME_EVERYWHERE = """
import hashlib, sys
from airdiff.synth import make_pair
p = make_pair(seed=1, scenario="strike", shape=(500, 700), gsd=1.0)
sys.stdout.write(hashlib.sha256(p.before.pixels.tobytes() + p.after.pixels.tobytes()).hexdigest())
"""


def test_same_pixels_on_every_instruction_set():
    # numpy's vectorised math differs in its last bits from one instruction set to another;
    # the pair must not. Made here with numpy's best loops and again with all but its
    # lowest dispatched set turned off (a strike scene at 1 m: cloud, scorch, runway rubber,
    # every nuisance). Before the generator took its powers and angles in float64, over a
    # hundred band values of this pair (117 of 2.1 million) differed by a level between
    # AVX-512 and AVX2.
    targets = numpy_dispatch_targets() or []
    if len(targets) < 2:
        pytest.skip("numpy runs its loops on one instruction set only on this machine")
    runs = []
    for off in ("", " ".join(targets[1:])):
        env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": off}
        done = subprocess.run([sys.executable, "-c", _SAME_EVERYWHERE], env=env, capture_output=True,
                              text=True, check=True)
        runs.append(done.stdout)
    assert len(runs[0]) == 64 and runs[0] == runs[1]


@pytest.mark.parametrize("kind", sorted(AIRCRAFT_KINDS))
def test_aircraft_have_real_sizes(kind):
    length, span, _ = AIRCRAFT_KINDS[kind]
    minx, miny, maxx, maxy = aircraft_outline(kind).bounds
    assert maxy - miny == pytest.approx(length, abs=0.01)
    assert maxx - minx == pytest.approx(span, abs=0.01)
    # a plan shape, not a box: swept wings and a slim fuselage fill well under half of it
    assert 0.2 < aircraft_outline(kind).area / (length * span) < 0.5


def test_mapping_is_an_exact_inverse(pair):
    rng = np.random.default_rng(0)
    c, r = rng.uniform(0, 600, 200), rng.uniform(0, 600, 200)
    bc, br = pair.truth.after_px_to_before_px(c, r)
    c2, r2 = pair.truth.before_px_to_after_px(bc, br)
    assert np.max(np.hypot(c2 - c, r2 - r)) < 1e-6
    # the misregistration is real: tens of pixels
    assert np.median(np.hypot(bc - c, br - r)) > 10


@pytest.mark.parametrize("extra", [
    {"after_crs": "EPSG:32636"},
    {"after_crs": "EPSG:3857", "after_gsd": 0.6},
    {"misregistration": {"offset_m": (30.0, -12.0), "rotation_deg": 3.0, "scale": 1.03, "warp_px": 1.5}},
])
def test_mapping_is_exact_across_crs_gsd_and_explicit_distortions(extra):
    kw = {"misregistration": "large", **extra}
    p = make_pair(seed=1, shape=(240, 240), nuisances="none", **kw)
    rng = np.random.default_rng(1)
    rows, cols = p.after.shape
    c, r = rng.uniform(0, cols, 300), rng.uniform(0, rows, 300)
    c2, r2 = p.truth.before_px_to_after_px(*p.truth.after_px_to_before_px(c, r))
    assert np.max(np.hypot(c2 - c, r2 - r)) < 1e-6
    if isinstance(kw["misregistration"], dict):
        d = p.truth.distortion
        assert d.offset_m == (30.0, -12.0) and d.rotation_deg == 3.0 and d.scale == 1.03
        assert d.warp_m == pytest.approx(1.5 * 0.5)


def _aligned_after(p):
    """AFTER luminance resampled onto the BEFORE grid through the truth mapping."""
    rows, cols = p.before.shape
    rr, cc = np.mgrid[0:rows, 0:cols].astype(float)
    ac, ar = p.truth.before_px_to_after_px(cc + 0.5, rr + 0.5)
    return map_coordinates(p.after.luminance(), [ar - 0.5, ac - 0.5], order=1, cval=np.nan)


@pytest.mark.parametrize("extra", [{}, {"after_crs": "EPSG:3857", "after_gsd": 0.6}])
def test_rendering_agrees_with_the_mapping_to_a_fraction_of_a_pixel(extra):
    # no nuisances: the same ground must look the same in both images, wherever the truth
    # mapping says it is; a sub-pixel registration of the two must find no residual shift
    from skimage.registration import phase_cross_correlation

    p = make_pair(seed=3, shape=(320, 320), misregistration="moderate", nuisances="none", **extra)
    b = p.before.luminance()
    a = _aligned_after(p)
    win = (slice(60, 260), slice(60, 260))
    assert np.isfinite(a[win]).all()
    shift, _, _ = phase_cross_correlation(b[win], a[win], upsample_factor=50)
    assert np.hypot(*shift) < 0.2
    # and the same test detects a deliberate 1-pixel error in the mapping
    wrong = np.roll(a, 1, axis=1)
    shift, _, _ = phase_cross_correlation(b[win], wrong[win], upsample_factor=50)
    assert abs(np.hypot(*shift) - 1) < 0.2


def test_rendering_agrees_with_the_mapping():
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
        inside = _inside(ac.footprint, grid)
        ring = _inside(ac.footprint.buffer(6).difference(ac.footprint.buffer(3)), grid)
        # paint differs from the concrete around it (bright or dark)
        assert abs(lum_b[inside].mean() - lum_b[ring].mean()) > 0.05
    lum_a = pair.after.luminance()
    for ch in pair.truth.changes:
        if ch.cls == "burned":
            c, r = pair.truth.before_px_to_after_px(*grid.rowcol(*ch.after.centroid.coords[0])[::-1])
            assert lum_a[int(r), int(c)] < 0.25


def test_burned_footprints_are_dark_and_vacated_stands_are_concrete():
    p = make_pair(seed=7, shape=(500, 500), misregistration="none", nuisances="none")
    classes = Counter(c.cls for c in p.truth.changes)
    assert classes  # this seed plants changes
    g = p.before.grid
    lb, la = p.before.luminance(), p.after.luminance()  # same grid: misregistration 'none'
    for ch in p.truth.changes:
        if ch.cls == "burned":
            m = _inside(ch.after, g)
            assert la[m].mean() < 0.3 and la[m].mean() < lb[m].mean() - 0.1
        if ch.cls in ("moved", "disappeared"):
            core = _inside(ch.before.buffer(-1.0), g)
            # the aircraft has gone: what is left looks like the apron, not like paint
            assert np.std(la[core]) < np.std(lb[core])


def test_strike_scenario_counts(strike):
    p = strike
    n = Counter(c.cls for c in p.truth.changes)
    assert n == {"moved": 11, "burned": 2}
    assert len(p.truth.aircraft_before) == 18
    assert len(p.truth.aircraft_after) == 16
    assert sum(c.surface == "runway" for c in p.truth.changes) == 1
    assert not p.truth.cloud.is_empty
    # the cloud hides an unchanged parked aircraft, not a changed one
    changed = [c.before for c in p.truth.changes] + [c.after for c in p.truth.changes]
    assert not any(p.truth.cloud.intersects(g) for g in changed if g is not None)
    assert any(p.truth.cloud.contains(a.footprint) for a in p.truth.aircraft_after)


def test_moved_aircraft_sit_on_the_surface_the_truth_names(strike):
    surfaces = {}
    for kind, poly in strike.truth.aeroways:
        surfaces[kind] = poly if kind not in surfaces else surfaces[kind].union(poly)
    for ch in strike.truth.changes:
        if ch.cls == "moved":
            fp = ch.after
            assert fp.intersection(surfaces[ch.surface]).area > 0.25 * fp.area
            assert ch.before.intersects(surfaces["stand"])
            assert ch.before.centroid.distance(fp.centroid) > 40


def test_cloud_is_bright_and_opaque_in_after(strike):
    p = strike
    hidden = [a for a in p.truth.aircraft_after if p.truth.cloud.contains(a.footprint)]
    m = _inside(hidden[0].footprint, p.before.grid)
    lum = p.after.luminance()
    assert lum[m].mean() > 0.8 and lum[m].std() < 0.1


def test_static_scenario_has_no_changes():
    p = make_pair(seed=4, scenario="static", shape=(400, 400))
    assert p.truth.changes == ()
    assert [a.footprint.wkt for a in p.truth.aircraft_before] == [a.footprint.wkt for a in p.truth.aircraft_after]


def test_bands_and_dtypes():
    p = make_pair(seed=6, shape=(200, 200), bands=4, dtype="uint16", nuisances="none")
    assert p.before.band_names == ("red", "green", "blue", "nir")
    assert p.before.pixels.dtype == np.uint16 and p.before.pixels.max() <= 2047
    red, nir = p.before.band("red").astype(float), p.before.band("nir").astype(float)
    grass = (nir > 1.4 * red)
    assert grass.mean() > 0.2  # vegetation is bright in the near infrared


def test_write_pair_round_trip(tmp_path):
    p = make_pair(seed=2, shape=(300, 300), after_crs="EPSG:3857", after_gsd=0.6)
    paths = write_pair(p, tmp_path)
    with rasterio.open(paths["after"]) as ds:
        assert ds.crs.to_epsg() == 3857
        assert ds.tags()["ACQUISITION_TIME"].endswith("Z")
        assert ds.block_shapes[0] == (256, 256)
        assert ds.compression.name.upper() == "JPEG"
        assert ds.transform.almost_equals(p.after.grid.transform)
    with rasterio.open(paths["before"]) as ds:
        assert ds.tags()["TIFFTAG_DATETIME"] == p.before.acquired.strftime("%Y:%m:%d %H:%M:%S")
    from airdiff.io import read_scene

    s = read_scene(paths["before"])
    assert s.acquired == p.before.acquired and s.grid.same_as(p.before.grid)
    assert abs(read_scene(paths["after"]).gsd - 0.6) < 0.01
    truth = json.loads(paths["truth"].read_text())
    assert len(truth["changes"]) == len(p.truth.changes)
    assert truth["distortion"]["scale"] == p.truth.distortion.scale
    assert truth["after_grid"]["crs"] == "EPSG:3857"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_true_transfer_inverts_the_after_sensor(seed):
    # AFTER differs from BEFORE only by its sensor (gain, gamma, band balance, haze) here, so
    # the exact transfer must give BEFORE back to the 8-bit rounding of both images
    p = make_pair(seed=seed, scenario="static", shape=(300, 300), misregistration="none",
                  nuisances={"radiometry"})
    fa, fb = p.after.as_float(), p.before.as_float()
    ok = p.after.valid & p.before.valid & (fa.max(axis=0) < 0.98)  # a clipped value has no inverse
    assert np.median(np.abs(fa - fb)[:, ok]) > 0.01  # the sensors do differ
    err = np.abs(true_transfer(p.truth.meta, fa) - fb)[:, ok]
    assert err.max() <= 1.5 / 255
