"""Co-registration: recover known transforms, refuse what cannot be trusted, resample."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from scipy import ndimage as ndi

from airdiff.errors import AlignmentError, NoOverlapError
from airdiff.grid import Grid
from airdiff.register import (
    Registration,
    align,
    apply,
    before_to_after_px,
    common_grid,
    register,
)
from airdiff.scene import Scene

GSD = 0.5
UTM36 = "EPSG:32636"


# --- synthetic scenes ---------------------------------------------------------------------


def airfield_texture(shape, seed=0) -> np.ndarray:
    """Grass-like smooth noise with paved rectangles and straight markings, float32 0..1."""
    rng = np.random.default_rng(seed)
    img = ndi.gaussian_filter(rng.random(shape), 6) * 4 + ndi.gaussian_filter(rng.random(shape), 1.2)
    img = (img - img.min()) / np.ptp(img) * 0.5 + 0.1
    rows, cols = shape
    for _ in range(int(rows * cols / 4000)):  # aprons, buildings, aircraft-sized blobs
        r, c = rng.integers(0, rows - 8), rng.integers(0, cols - 8)
        h, w = rng.integers(4, 50, 2)
        img[r:r + h, c:c + w] = rng.uniform(0.15, 0.85)
    for _ in range(6):  # taxiway/runway-like lines
        r = rng.integers(0, rows)
        img[r:r + rng.integers(2, 12), :] = rng.uniform(0.6, 0.9)
        c = rng.integers(0, cols)
        img[:, c:c + rng.integers(2, 8)] = rng.uniform(0.6, 0.9)
    img = ndi.gaussian_filter(img, 0.7)
    return np.clip(img, 0, 1).astype(np.float32)


def affine_about_centre(shape, *, shift_xy=(0.0, 0.0), rot_deg=0.0, scale=1.0) -> np.ndarray:
    """3x3 AFTER (col, row) -> BEFORE (col, row), rotation/scale about the image centre."""
    c = np.array([shape[1] / 2, shape[0] / 2])
    t = np.radians(rot_deg)
    lin = scale * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    m = np.eye(3)
    m[:2, :2] = lin
    m[:2, 2] = c - lin @ c + np.asarray(shift_xy, float)
    return m


def sine_warp(amplitude, shape):
    """Smooth displacement field (AFTER px -> extra BEFORE px), a function of AFTER corners."""
    rows, cols = shape

    def f(cc, rr):
        dc = amplitude * np.sin(2 * np.pi * rr / rows * 0.8) * np.cos(2 * np.pi * cc / cols * 0.6)
        dr = amplitude * np.cos(2 * np.pi * cc / cols * 0.7) * np.sin(2 * np.pi * rr / rows * 0.5 + 1)
        return dc, dr

    return f


def after_to_before(m, warp, cc, rr):
    bc = m[0, 0] * cc + m[0, 1] * rr + m[0, 2]
    br = m[1, 0] * cc + m[1, 1] * rr + m[1, 2]
    if warp is not None:
        dc, dr = warp(cc, rr)
        bc, br = bc + dc, br + dr
    return bc, br


def render_after(before_img, m, warp=None, shape=None):
    """AFTER image with after(y) = before(T(y)), T = m (+ warp); and its valid mask."""
    shape = shape or before_img.shape
    rr, cc = np.mgrid[: shape[0], : shape[1]].astype(np.float64) + 0.5
    bc, br = after_to_before(m, warp, cc, rr)
    out = ndi.map_coordinates(before_img, [br - 0.5, bc - 0.5], order=3, mode="constant", cval=0.0)
    inside = (bc >= 0) & (br >= 0) & (bc <= before_img.shape[1]) & (br <= before_img.shape[0])
    return np.clip(out, 0, 1).astype(np.float32), inside


def truth_before_to_after(m, warp, bc, br, n_iter=30):
    """Invert T = m (+ warp) at BEFORE corners by fixed-point iteration."""
    g = np.linalg.inv(m)
    ac = g[0, 0] * bc + g[0, 1] * br + g[0, 2]
    ar = g[1, 0] * bc + g[1, 1] * br + g[1, 2]
    if warp is None:
        return ac, ar
    for _ in range(n_iter):
        tc, tr = after_to_before(m, warp, ac, ar)
        ec, er = bc - tc, br - tr
        ac = ac + g[0, 0] * ec + g[0, 1] * er
        ar = ar + g[1, 0] * ec + g[1, 1] * er
    return ac, ar


def eval_points(shape, n=15, margin=0.12):
    r = np.linspace(shape[0] * margin, shape[0] * (1 - margin), n)
    c = np.linspace(shape[1] * margin, shape[1] * (1 - margin), n)
    cc, rr = np.meshgrid(c, r)
    return cc.ravel() + 0.5, rr.ravel() + 0.5


def mapping_error(reg: Registration, m, warp, shape, valid_after=None) -> np.ndarray:
    """Distances (px) between the estimated and true AFTER positions of BEFORE points."""
    bc, br = eval_points(shape)
    tc, tr = truth_before_to_after(m, warp, bc, br)
    keep = (tc > 0) & (tr > 0) & (tc < shape[1]) & (tr < shape[0])
    ec, er = before_to_after_px(reg, bc, br)
    return np.hypot(ec - tc, er - tr)[keep]


def scene(img, grid=None, valid=None, name=""):
    grid = grid or Grid.pixel_frame(img.shape[-2:], GSD)
    px = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    return Scene(px, grid, valid=valid, name=name)


def utm_grid(shape, gsd=GSD, x0=500_000.0, y0=5_600_000.0, crs=UTM36):
    return Grid(shape, Affine(gsd, 0, x0, 0, -gsd, y0), crs)


# --- recovery of known transforms ------------------------------------------------------------

SHAPE = (512, 512)

CASES = {
    "subpixel": dict(shift_xy=(0.37, -0.81)),
    "small": dict(shift_xy=(-6.5, 3.25)),
    "large +100 m": dict(shift_xy=(200.0, -150.4)),
    "large -100 m": dict(shift_xy=(-140.6, 199.7)),
    "rot +1": dict(shift_xy=(4.0, -2.0), rot_deg=1.0),
    "rot -2.5": dict(shift_xy=(-3.0, 7.0), rot_deg=-2.5),
    "rot +5": dict(shift_xy=(10.0, 5.0), rot_deg=5.0),
    "rot -5": dict(shift_xy=(0.0, 0.0), rot_deg=-5.0),
    "scale +5%": dict(shift_xy=(2.0, 1.0), scale=1.05),
    "scale -5%": dict(shift_xy=(-1.0, 3.0), scale=0.95),
    "combined": dict(shift_xy=(55.3, -38.9), rot_deg=-3.2, scale=1.03),
}


@pytest.fixture(scope="module")
def texture():
    return airfield_texture(SHAPE, seed=1)


@pytest.mark.parametrize("case", list(CASES))
def test_recovers_affine(texture, case):
    m = affine_about_centre(SHAPE, **CASES[case])
    a_img, inside = render_after(texture, m)
    reg = register(scene(texture), scene(a_img, valid=inside), local=False)
    assert reg.ok, reg.reason
    err = mapping_error(reg, m, None, SHAPE)
    assert err.size > 50
    assert np.median(err) < 0.1
    assert err.max() < 0.5
    assert reg.confidence > 0.8
    assert reg.gsd_m == pytest.approx(GSD)


def test_recovers_affine_plus_local_warp(texture):
    m = affine_about_centre(SHAPE, shift_xy=(20.4, -11.7), rot_deg=1.5, scale=0.98)
    warp = sine_warp(1.5, SHAPE)
    a_img, inside = render_after(texture, m, warp)
    with_warp = register(scene(texture), scene(a_img, valid=inside), local=True)
    without = register(scene(texture), scene(a_img, valid=inside), local=False)
    assert with_warp.ok, with_warp.reason
    assert with_warp.warp is not None
    err = mapping_error(with_warp, m, warp, SHAPE)
    err0 = mapping_error(without, m, warp, SHAPE)
    assert np.median(err) < 0.15
    assert err.max() < 0.6
    assert np.median(err) < 0.5 * np.median(err0)


def test_mapping_on_a_grid_equals_the_mapping_of_its_points():
    from airdiff.register import LocalWarp
    from airdiff.register._fit import before_to_after, warp_at, warp_on_grid

    rng = np.random.default_rng(4)
    warp = LocalWarp(node_rows=np.array([0.0, 40.0, 130.0, 199.0]), node_cols=np.array([0.0, 90.0, 249.0]),
                     d_col=rng.normal(0, 1, (4, 3)), d_row=rng.normal(0, 1, (4, 3)))
    g = np.array([[0.99, 0.03, 12.5], [-0.02, 1.01, -7.25], [0, 0, 1]])
    # inside the nodes, on them, and beyond them on every side (linear extrapolation)
    cols = np.array([-30.0, 0.0, 17.3, 90.0, 200.0, 249.0, 300.0])
    rows = np.array([-5.0, 0.0, 39.9, 40.0, 133.0, 199.0, 260.0])
    cc, rr = np.meshgrid(cols, rows)
    for got, want in zip(warp_on_grid(warp, cols, rows), warp_at(warp, cc, rr), strict=True):
        assert got.shape == (len(rows), len(cols))
        np.testing.assert_allclose(got, want, atol=1e-12)
    for w in (warp, None):
        on_grid = before_to_after(g, w, cols, rows, grid=True)
        points = before_to_after(g, w, cc, rr)
        for got, want in zip(on_grid, points, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-9)
    # a node value moves the mapping at that node by exactly that much
    ac, _ = before_to_after(np.eye(3), warp, [90.5], [40.5])
    assert ac[0] == pytest.approx(90.5 + warp.d_col[1, 1])


def test_window_stack_correlation_recovers_each_shift():
    from airdiff.register._corr import hann2d, phase_correlate, phase_correlate_many, prepare

    rng = np.random.default_rng(7)
    base = ndi.gaussian_filter(rng.random((160, 160)), 2.0)
    # the sub-pixel residuals a last round sees, and two large shifts (the fixed window then
    # cuts different content at its edges: a bias of several hundredths of a pixel)
    truth = [(0.25, -0.5), (-1.3, 0.8), (0.0, 0.45), (0.9, 1.1), (-6.3, 2.8), (4.9, 5.1)]
    win = hann2d((96, 96))
    ref = np.stack([prepare(base[32:128, 32:128].astype(np.float32), win, None)] * len(truth))
    # content moved by +s appears at x + s in the moving image: ref(x) ~ mov(x - (-s))
    mov = np.stack([prepare(ndi.shift(base, s, order=3)[32:128, 32:128].astype(np.float32), win, None)
                    for s in truth])
    shifts, heights, ratios = phase_correlate_many(ref, mov, max_shift=24, upsample=20, workers=1)
    np.testing.assert_allclose(shifts[:4], -np.array(truth[:4]), atol=0.03)
    np.testing.assert_allclose(shifts[4:], -np.array(truth[4:]), atol=0.1)
    assert (heights > 0.3).all() and (ratios > 3).all()
    for i in range(len(truth)):  # the one-pair form gives the same peak
        pk = phase_correlate(ref[i], mov[i], max_shift=24, upsample=20, workers=1)
        np.testing.assert_allclose(pk.shift_rc, shifts[i], atol=1e-4)
    # unrelated content has no clear peak; an empty window has none at all
    noise = prepare(rng.normal(size=(96, 96)).astype(np.float32), win, None)
    zero = np.zeros((96, 96), np.float32)
    _, h, r = phase_correlate_many(np.stack([ref[0], zero]), np.stack([noise, zero]), upsample=20)
    assert r[0] < 1.5 and h[1] == 0 and r[1] == 1


def test_no_warp_when_affine_suffices(texture):
    m = affine_about_centre(SHAPE, shift_xy=(3.3, 1.1), rot_deg=0.7)
    a_img, inside = render_after(texture, m)
    reg = register(scene(texture), scene(a_img, valid=inside), local=True)
    assert reg.ok and reg.warp is None


def test_radiometric_change_and_noise(texture):
    """Different gain, gamma, haze and noise between the dates."""
    m = affine_about_centre(SHAPE, shift_xy=(-33.2, 17.6), rot_deg=2.0)
    a_img, inside = render_after(texture, m)
    rng = np.random.default_rng(3)
    a_img = 0.15 + 0.7 * a_img**1.6 + rng.normal(0, 0.02, a_img.shape).astype(np.float32)
    reg = register(scene(texture), scene(a_img, valid=inside), local=False)
    assert reg.ok, reg.reason
    err = mapping_error(reg, m, None, SHAPE)
    assert np.median(err) < 0.1 and err.max() < 0.5


# --- refusals ------------------------------------------------------------------------------------


def test_unrelated_images_refused(texture):
    other = airfield_texture(SHAPE, seed=7)
    reg = register(scene(texture), scene(other))
    assert not reg.ok
    assert reg.reason
    assert reg.confidence < 0.5


def test_featureless_refused(texture):
    flat = np.full(SHAPE, 0.4, np.float32)
    reg = register(scene(texture), scene(flat))
    assert not reg.ok and "featureless" in reg.reason
    reg = register(scene(flat), scene(texture))
    assert not reg.ok and "featureless" in reg.reason


def test_noise_only_refused(texture):
    noise = np.random.default_rng(5).random(SHAPE).astype(np.float32)
    reg = register(scene(texture), scene(noise))
    assert not reg.ok


def test_mostly_cloud_refused(texture):
    m = affine_about_centre(SHAPE, shift_xy=(5.0, 2.0))
    a_img, inside = render_after(texture, m)
    cloud = np.ones(SHAPE, bool)
    cloud[300:462, 40:202] = False  # 90 % of the scene is saturated white
    a_img[cloud] = 1.0
    reg = register(scene(texture), scene(a_img, valid=inside))
    assert not reg.ok
    assert "cloud" in reg.reason


def test_offset_beyond_limit_refused(texture):
    m = affine_about_centre(SHAPE, shift_xy=(60.0, 0.0))  # 30 m
    a_img, inside = render_after(texture, m)
    g = utm_grid(SHAPE)
    reg = register(scene(texture, g), scene(a_img, g, valid=inside), max_offset_m=10.0)
    assert not reg.ok


@pytest.mark.parametrize("seed", range(8))
def test_never_ok_when_wrong(seed):
    """Random transforms and nuisances: a claimed success is always within 1 px."""
    rng = np.random.default_rng(100 + seed)
    shape = (384, 384)
    img = airfield_texture(shape, seed=seed)
    m = affine_about_centre(shape, shift_xy=rng.uniform(-60, 60, 2), rot_deg=rng.uniform(-5, 5),
                            scale=rng.uniform(0.95, 1.05))
    a_img, inside = render_after(img, m)
    # nuisances: gamma, noise, partial cloud, and for odd seeds an unrelated AFTER
    a_img = a_img ** rng.uniform(0.6, 1.6) + rng.normal(0, rng.uniform(0, 0.06), shape)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    cy, cx = rng.uniform(0, shape[0], 2)
    a_img[np.hypot(yy - cy, xx - cx) < rng.uniform(0, 0.5) * shape[0]] = 1.0
    related = seed % 2 == 0
    if not related:
        a_img = airfield_texture(shape, seed=seed + 50)
    reg = register(scene(img), scene(np.clip(a_img, 0, 1).astype(np.float32), valid=inside))
    if not related:
        assert not reg.ok
    elif reg.ok:
        assert mapping_error(reg, m, None, shape).max() <= 1.0


# --- common grid ----------------------------------------------------------------------------------


def _big_scene(shape=(700, 700), seed=2):
    """A texture on a UTM 36N grid larger than the BEFORE tests use."""
    img = airfield_texture(shape, seed=seed)
    return scene(img, utm_grid(shape, x0=499_900.0, y0=5_600_100.0), name="big")


@pytest.mark.parametrize("dst_crs, gsd", [("EPSG:32637", 0.7), ("EPSG:3857", 0.45)])
def test_common_grid_other_crs_and_gsd(dst_crs, gsd):
    from rasterio.warp import reproject, transform_bounds

    big = _big_scene()
    left, bottom, right, top = transform_bounds(big.grid.crs, dst_crs, *big.grid.bounds)
    w, h = int((right - left) / gsd), int((top - bottom) / gsd)
    t = Affine(gsd, 0, left, 0, -gsd, top)
    px = np.zeros((1, h, w), np.uint8)
    valid = np.zeros((h, w), np.uint8)
    reproject(big.pixels, px, src_transform=big.grid.transform, src_crs=big.grid.crs,
              dst_transform=t, dst_crs=dst_crs, resampling=1)
    reproject(np.ones(big.shape, np.uint8), valid, src_transform=big.grid.transform,
              src_crs=big.grid.crs, dst_transform=t, dst_crs=dst_crs, src_nodata=0, dst_nodata=0)
    after = Scene(px, Grid((h, w), t, dst_crs), valid=valid.astype(bool), name="after")
    # BEFORE: a 400 x 400 window inside the big scene
    before = Scene(big.pixels[:, 150:550, 120:520], big.grid.window(150, 120, 400, 400), name="b")
    common = common_grid(before, after)
    assert common.grid.same_as(before.grid)
    assert common.valid.mean() > 0.95
    reg = register(before, common, local=False)
    assert reg.ok, reg.reason
    # the georeference was right: the model is the identity to well under a pixel
    assert np.hypot(*reg.shift_xy_px) < 0.15
    assert abs(reg.rotation_deg) < 0.02 and abs(reg.scale - 1) < 5e-4


def test_common_grid_no_overlap_names_extents():
    big = _big_scene(shape=(100, 100))
    far = scene(airfield_texture((100, 100)), utm_grid((100, 100), x0=560_000.0))
    with pytest.raises(NoOverlapError, match=r"°E.*°E.*same airfield"):
        common_grid(big, far)


def test_common_grid_pixel_frame_rescales():
    before = _big_scene(shape=(300, 300))
    a = scene(airfield_texture((200, 240)), Grid.pixel_frame((200, 240), 0.75))
    out = common_grid(before, a)
    assert out.grid.crs is None
    assert out.grid.shape == (300, 360)  # 0.75 m -> 0.5 m (UTM scale factor: 0.5002 m)
    assert out.gsd == pytest.approx(before.gsd)


def test_pixel_frame_after_with_unknown_offset_takes_georeference():
    """A PNG-like AFTER at another GSD, cropped far from BEFORE's origin, aligned to BEFORE."""
    big_img = airfield_texture((900, 900), seed=4)
    before_img = big_img[:600, :600]
    b_grid = utm_grid((600, 600))
    before = scene(before_img, b_grid, name="before")
    off_rc = (230, 170)  # AFTER's top-left in BEFORE pixels (BEFORE 0.5 m)
    crop = big_img[off_rc[0]:off_rc[0] + 600, off_rc[1]:off_rc[1] + 600]
    # AFTER at 0.6 m: zoom by 0.5/0.6
    zoom = GSD / 0.6
    a_img = ndi.zoom(crop, zoom, order=3, grid_mode=True, mode="grid-mirror")
    after = scene(a_img, Grid.pixel_frame(a_img.shape, 0.6), name="after")
    aligned, reg = align(before, after)
    assert reg.ok, reg.reason
    # AFTER (common, 0.5 m) corner y -> BEFORE corner y + offset
    m = np.eye(3)
    m[:2, 2] = off_rc[::-1]
    err = mapping_error(reg, m, None, (600, 600))
    assert np.median(err) < 0.15 and err.max() < 0.5
    assert aligned.grid.same_as(b_grid) and aligned.grid.crs is not None
    v = aligned.valid
    assert 0.3 < v.mean() < 0.7
    diff = np.abs(aligned.pixels[0].astype(float) - before.pixels[0])[v]
    assert np.median(diff) < 4


# --- apply / align --------------------------------------------------------------------------------


def test_apply_resamples_onto_before_grid(texture):
    m = affine_about_centre(SHAPE, shift_xy=(12.3, -7.9), rot_deg=1.2)
    a_img, inside = render_after(texture, m)
    g = utm_grid(SHAPE)
    before = scene(texture, g)
    after = scene(a_img, g, valid=inside).replace(name="after", band_names=("pan",))
    reg = register(before, after)
    out = apply(after, reg, g)
    assert out.grid is g and out.pixels.dtype == np.uint8
    assert out.name == "after" and out.band_names == ("pan",)
    v = out.valid
    assert 0.9 < v.mean() < 1.0
    diff = np.abs(out.pixels[0].astype(float) - before.pixels[0])[v]
    assert np.median(diff) < 3 and np.percentile(diff, 99) < 20
    bilinear = apply(after, reg, g, order=1, block_rows=37)  # several blocks
    assert (bilinear.valid == v).all()


def test_align_raises_with_registration(texture):
    g = utm_grid(SHAPE)
    with pytest.raises(AlignmentError) as info:
        align(scene(texture, g), scene(airfield_texture(SHAPE, seed=9), g))
    reg = info.value.registration
    assert isinstance(reg, Registration) and not reg.ok
    assert reg.to_dict()["status"] == "failed"


def test_warp_cross_validation_equals_refitting_without_each_block():
    """The held-out residuals of the warp's smoother are those of refitting without the block."""
    from airdiff.register._fit import _basis, _laplacian, _Smoother

    rng = np.random.default_rng(3)
    n, (gr, gc) = 150, (6, 7)
    pts = rng.uniform(0, 300, (n, 2))
    b = _basis(np.linspace(0, 299, gr), np.linspace(0, 299, gc), pts[:, 1], pts[:, 0])
    sw = np.sqrt(rng.uniform(0.2, 1.5, n))[:, None]
    res = np.column_stack([np.sin(pts[:, 0] / 60), np.cos(pts[:, 1] / 80)]) + rng.normal(0, 0.1, (n, 2))
    lap = _laplacian(gr, gc)
    ltl, ridge = lap.T @ lap, 1e-3
    bw, rw = b * sw, res * sw
    fit = _Smoother(bw, rw, ltl, ridge)
    fold = (pts[:, 0] // 100).astype(int) * 3 + (pts[:, 1] // 100).astype(int)
    folds = [np.flatnonzero(fold == k) for k in np.unique(fold)]
    for lam in (0.03, 1.0, 300.0):
        full = np.linalg.solve(bw.T @ bw + lam * ltl + ridge * np.eye(gr * gc), bw.T @ rw)
        np.testing.assert_allclose(fit.nodes(lam), full, atol=1e-8)
        held = fit.held_out(lam, folds)
        for idx in folds:
            keep = np.setdiff1d(np.arange(n), idx)
            a = bw[keep]
            sol = np.linalg.solve(a.T @ a + lam * ltl + ridge * np.eye(gr * gc), a.T @ rw[keep])
            np.testing.assert_allclose(held[idx], rw[idx] - bw[idx] @ sol, atol=1e-8)


def test_robust_warp_discounts_tie_points_with_gross_errors():
    """A tenth of the tie points off by 0.6 px (content that changed) barely moves the warp."""
    from airdiff.register._fit import fit_warp, warp_at

    rng = np.random.default_rng(11)
    shape = (600, 600)
    pts = rng.uniform(20, 580, (300, 2))

    def field(p):
        return np.column_stack([0.8 * np.sin(p[:, 0] / 150) * np.cos(p[:, 1] / 200),
                                0.6 * np.cos(p[:, 0] / 180 + 1) * np.sin(p[:, 1] / 170)])

    res = field(pts) + rng.normal(0, 0.04, pts.shape)
    bad = rng.random(len(pts)) < 0.1
    ang = rng.uniform(0, 2 * np.pi, bad.sum())
    res[bad] += 0.6 * np.column_stack([np.cos(ang), np.sin(ang)])
    grid = np.stack(np.meshgrid(np.linspace(50, 550, 11), np.linspace(50, 550, 11)), -1).reshape(-1, 2)
    err = {}
    for robust in (False, True):
        warp, _ = fit_warp(pts, res, shape, n_nodes=(10, 10), robust=robust)
        assert warp is not None
        got = np.column_stack(warp_at(warp, grid[:, 0], grid[:, 1]))
        err[robust] = float(np.mean(np.hypot(*(got - field(grid)).T)))
    assert err[True] < 0.7 * err[False]
    assert err[True] < 0.03
