"""``register``: global model, tie-point refinement, local warp and quality."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .._threads import both, ordered_map
from ..scene import Scene
from ._corr import block_mean, feature_image, hann2d, phase_correlate_many, prepare, tukey2d
from ._fit import apply_affine, before_to_after, fit_warp, ransac_affine, robust_affine, warp_at
from ._global import global_model
from .model import LocalWarp, Registration

log = logging.getLogger(__name__)

#: brightness (0..1) at and above which a pixel counts as saturated / cloud-like
SATURATED = 0.98
#: coarsest level of the pyramid has at most this many pixels along its longer side
GLOBAL_SIZE = 512
#: Gaussian scale (pixels) of the gradient features; >1 damps aliased fine detail
FEATURE_SIGMA = 1.5
#: below this many inlier tie points a model is not trusted
MIN_INLIERS = 8


@dataclass
class _Level:
    factor: int
    feat_b: np.ndarray
    inner_b: np.ndarray
    feat_a: np.ndarray
    inner_a: np.ndarray

    @property
    def shape_b(self) -> tuple[int, int]:
        return self.feat_b.shape

    @property
    def shape_a(self) -> tuple[int, int]:
        return self.feat_a.shape

    def win_b(self, r0: int, c0: int, h: int, w: int):
        """(feature, inner) of a BEFORE window at this level."""
        return self.feat_b[r0:r0 + h, c0:c0 + w], self.inner_b[r0:r0 + h, c0:c0 + w]

    def win_a(self, r0: int, c0: int, h: int, w: int):
        return self.feat_a[r0:r0 + h, c0:c0 + w], self.inner_a[r0:r0 + h, c0:c0 + w]


#: Level pixels read around a window of a lazy level, so that features see no window edge.
_PAD = 16


class _LazyLevel:
    """A pyramid level read window by window from two scene sources (never whole).

    Each window is read at full resolution with a margin, turned into brightness and the
    usable mask exactly as for a whole scene, block-averaged by ``factor`` and converted
    into features; so a window equals the same window of the in-memory level.
    """

    def __init__(self, factor: int, before_src, after_src):
        self.factor = factor
        self._src = {"b": before_src, "a": after_src}
        self._shape = {k: (v.grid.height // factor, v.grid.width // factor) for k, v in self._src.items()}

    @property
    def shape_b(self) -> tuple[int, int]:
        return self._shape["b"]

    @property
    def shape_a(self) -> tuple[int, int]:
        return self._shape["a"]

    def _win(self, key: str, r0: int, c0: int, h: int, w: int):
        f = self.factor
        rows, cols = self._shape[key]
        pr0, pc0 = max(0, r0 - _PAD), max(0, c0 - _PAD)
        pr1, pc1 = min(rows, r0 + h + _PAD), min(cols, c0 + w + _PAD)
        scene = self._src[key].read(pr0 * f, pc0 * f, (pr1 - pr0) * f, (pc1 - pc0) * f)
        lum = scene.luminance()
        usable, _ = _usable(scene, lum)
        lum, usable = block_mean(lum, usable, f)
        feat, inner = feature_image(lum, usable, sigma=FEATURE_SIGMA)
        sl = (slice(r0 - pr0, r0 - pr0 + h), slice(c0 - pc0, c0 - pc0 + w))
        return feat[sl], inner[sl]

    def win_b(self, r0, c0, h, w):
        return self._win("b", r0, c0, h, w)

    def win_a(self, r0, c0, h, w):
        return self._win("a", r0, c0, h, w)


def _failed(reason: str, gsd: float, matrix=None, method: str = "", **kw) -> Registration:
    log.info("registration failed: %s", reason)
    return Registration(
        matrix=np.eye(3) if matrix is None else matrix,
        ok=False,
        confidence=kw.pop("confidence", 0.0),
        reason=reason,
        method=method,
        gsd_m=gsd,
        **kw,
    )


def _usable(scene: Scene, lum: np.ndarray) -> tuple[np.ndarray, float]:
    """Valid and not saturated; and the saturated fraction of the valid area."""
    sat = lum >= SATURATED
    if sat.any():
        sat = ndi.binary_dilation(sat, iterations=2)
    usable = scene.valid & ~sat
    n_valid = int(scene.valid.sum())
    frac = float((scene.valid & sat).sum() / n_valid) if n_valid else 1.0
    return usable, frac


def _pyramid(lum: np.ndarray, usable: np.ndarray, factors: list[int]):
    """{factor: (lum_f, usable_f)} by repeated 2x2 block means."""
    out = {1: (lum, usable)}
    cur, cu, f = lum, usable, 1
    while f < max(factors):
        cur, cu = block_mean(cur, cu, 2)
        f *= 2
        out[f] = (cur, cu)
    return out


def _pyramid_factors(shape_b, shape_a) -> list[int]:
    """Decimation factors, coarsest first down to 1: the coarsest fits GLOBAL_SIZE, while
    the smaller image keeps at least 128 px there."""
    big = max(*shape_b, *shape_a)
    small = min(*shape_b, *shape_a)
    top = 1
    while big / top > GLOBAL_SIZE and small / (2 * top) >= 64:
        top *= 2
    factors = [top]
    while factors[-1] > 1:
        factors.append(factors[-1] // 2)
    return factors


def _taper(inner: np.ndarray) -> np.ndarray:
    t = ndi.gaussian_filter(inner.astype(np.float32), 2.0)
    t *= inner
    return t


def _scaled(m: np.ndarray, f: float) -> np.ndarray:
    """Matrix in full-resolution corner coordinates from one at level ``f`` (x_full = f x_f)."""
    s = np.diag([f, f, 1.0])
    return s @ m @ np.linalg.inv(s)


#: windows per side in the tie-point rounds before the last: they only refine the model (and
#: a first warp) for the next round, and 7 x 7 do that as well as 12 x 12: on the
#: registration benchmark the final error is no worse (median 0.064 px against 0.067, p95
#: 0.120 against 0.136), in 0.7x the time
_EARLY_ROUND_N = 7
#: windows per side in the last round, at most (fewer on small scenes: see _WINDOW_STEP).
#: The warp is fitted to these points, and their errors are mostly independent (content
#: that changed, noise, JPEG), so more of them average more out: on the registration
#: benchmark's 30 pairs, 24 x 24 windows (0.35 window apart) instead of 16 x 16 (0.6 apart)
#: give median / p95 0.053 / 0.092 px against 0.061 / 0.101, and 0.044 / 0.071 against
#: 0.049 / 0.091 on 30 pairs of six other seeds
_FINAL_ROUND_N = 24
#: nearest spacing of tie-point windows, as a fraction of their side
_WINDOW_STEP = 0.35
#: side of the full-resolution tie-point windows (64 on scenes under 640 px). A window
#: measures the mean shift of its content, so a smaller one places it more exactly where a
#: distortion varies; on the registration benchmark's quick run (seeds 0-2) 96 px windows
#: (16 x 16 in the last round) give median / p95 0.050 / 0.101 px against 0.064 / 0.121
#: with 128 px (12 x 12), in the same time. At 64 or 80 px the NAIP pair (10 m against 3 m)
#: is refused.
_WINDOW_PX = 96
#: tie-point windows correlated together (a stack per thread)
_STACK = 48


def _window_centres(shape: tuple[int, int], w: int, max_n: int = 12) -> np.ndarray:
    """Top-left corners (row, col) of a regular grid of ``w`` windows over ``shape``."""
    rows, cols = shape
    if rows < w or cols < w:
        return np.zeros((0, 2), int)
    nr = int(min(max_n, max(1, np.floor((rows - w) / (_WINDOW_STEP * w)) + 1)))
    nc = int(min(max_n, max(1, np.floor((cols - w) / (_WINDOW_STEP * w)) + 1)))
    r0 = np.linspace(0, rows - w, nr).round().astype(int)
    c0 = np.linspace(0, cols - w, nc).round().astype(int)
    rr, cc = np.meshgrid(r0, c0, indexing="ij")
    return np.column_stack([rr.ravel(), cc.ravel()])


def _inner_at(inner: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """True where bilinear sampling of ``inner`` at (row, col) ``coords`` touches inner pixels only."""
    # a pixel whose 2 x 2 block from it down and right is all inner
    block = inner[:-1, :-1] & inner[1:, :-1] & inner[:-1, 1:] & inner[1:, 1:]
    r0 = np.floor(coords[0]).astype(np.intp)
    c0 = np.floor(coords[1]).astype(np.intp)
    ok = (r0 >= 0) & (c0 >= 0) & (r0 < block.shape[0]) & (c0 < block.shape[1])
    return ok & block[np.where(ok, r0, 0), np.where(ok, c0, 0)]


def _sample_after(coords: np.ndarray, feat: np.ndarray, inner: np.ndarray,
                  order: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """AFTER features (spline ``order``) and inner mask at (row, col) ``coords`` of the arrays given."""
    fa = ndi.map_coordinates(feat, coords, order=order, mode="constant", cval=0.0, output=np.float32)
    return fa, _inner_at(inner, coords)


def _after_span(ir: np.ndarray, ic: np.ndarray, ha: int, wa: int) -> tuple[int, int, int, int]:
    """AFTER rows and columns (r0, r1, c0, c1) that spline sampling at index coords ``ir, ic``
    needs, with the cubic spline's margin, clipped to AFTER's ``ha`` x ``wa`` (empty if outside)."""
    r0, r1 = (int(np.clip(v, 0, ha)) for v in (np.floor(ir.min()) - 4, np.ceil(ir.max()) + 5))
    c0, c1 = (int(np.clip(v, 0, wa)) for v in (np.floor(ic.min()) - 4, np.ceil(ic.max()) + 5))
    return r0, r1, c0, c1


def _after_on_before(lev: _Level, g: np.ndarray, warp: LocalWarp | None, order: int,
                     block_rows: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """AFTER's features and inner mask of a level resampled onto BEFORE's grid of that level."""
    f = lev.factor
    hb, wb = lev.shape_b
    ha, wa = lev.shape_a
    cols = (np.arange(wb) + 0.5) * f

    def block(r0):
        rows = (np.arange(r0, min(hb, r0 + block_rows)) + 0.5) * f
        ac, ar = before_to_after(g, warp, cols, rows, grid=True)
        ir, ic = ar / f - 0.5, ac / f - 0.5
        sr0, sr1, sc0, sc1 = _after_span(ir, ic, ha, wa)
        if sr1 - sr0 < 2 or sc1 - sc0 < 2:
            z = np.zeros(ir.shape, np.float32)
            return z, z > 0
        coords = np.stack([ir - sr0, ic - sc0])
        return _sample_after(coords, lev.feat_a[sr0:sr1, sc0:sc1], lev.inner_a[sr0:sr1, sc0:sc1], order)

    parts = list(ordered_map(block, range(0, hb, block_rows)))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


@dataclass
class _Ties:
    before: np.ndarray  # (n, 2) full-res corner (col, row)
    after: np.ndarray  # (n, 2)
    height: np.ndarray
    ratio: np.ndarray
    tried: int  # windows with enough texture and overlap

    @staticmethod
    def none() -> _Ties:
        return _Ties(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), np.zeros(0), 0)


def _match_level(lev: _Level, g: np.ndarray, warp: LocalWarp | None, *, w: int,
                 upsample: int, tex_min: float, max_n: int = 12, order: int = 3) -> _Ties:
    """Tie points at one level: BEFORE windows against AFTER windows resampled through G + warp.

    AFTER is resampled with splines of ``order``; rounds that only prepare the model for the
    next one use bilinear (1): the next round measures what is left.

    Windows are read on the calling thread (a lazy level reads files), then resampled and
    correlated on :func:`airdiff._threads.threads` threads, in stacks of ``_STACK``; the
    result does not depend on the number of threads.
    """
    f = lev.factor
    hb, wbb = lev.shape_b
    ha, wa = lev.shape_a
    han = hann2d((w, w))
    centres = np.arange(w) + 0.5
    corners = _window_centres((hb, wbb), w, max_n)
    # overlapping windows that together cover the level more than once: resample all of
    # AFTER once instead of window by window (a level held in memory only)
    whole = isinstance(lev, _Level) and len(corners) * w * w > 1.5 * hb * wbb
    if whole:
        on_b, on_b_inner = _after_on_before(lev, g, warp, order)

    def windows():
        for r0, c0 in corners:
            fb, mb = lev.win_b(r0, c0, w, w)
            if mb.mean() < 0.7:
                continue
            if whole:
                win = (slice(r0, r0 + w), slice(c0, c0 + w))
                yield r0, c0, fb, mb, on_b[win], on_b_inner[win], None
                continue
            # BEFORE window pixel centres -> AFTER level-f pixel index coordinates
            ac, ar = before_to_after(g, warp, (c0 + centres) * f, (r0 + centres) * f, grid=True)
            ic = ac / f - 0.5
            ir = ar / f - 0.5
            sr0, sr1, sc0, sc1 = _after_span(ir, ic, ha, wa)
            if sr1 - sr0 < 8 or sc1 - sc0 < 8:
                continue
            coords = np.stack([ir - sr0, ic - sc0])
            yield r0, c0, fb, mb, None, None, (coords, *lev.win_a(sr0, sc0, sr1 - sr0, sc1 - sc0))

    def sampled(item):
        r0, c0, fb, mb, fa, ma, source = item
        if source is not None:
            fa, ma = _sample_after(*source, order=order)
        return (c0 + w / 2.0, r0 + w / 2.0), fb, mb, fa, ma

    # (nothing left to resample when AFTER was resampled whole)
    got = [sampled(it) for it in windows()] if whole else list(ordered_map(sampled, windows()))
    if not got:
        return _Ties.none()

    def correlated(chunk):
        p, fb, mb, fa, ma = (np.array(v) for v in zip(*chunk, strict=True))
        m = mb & ma
        n_m = np.maximum(m.sum(axis=(1, 2)), 1)

        def spread(x):  # standard deviation over each window's mask
            xm = np.where(m, x, np.float32(0))
            mean = xm.sum(axis=(1, 2), dtype=np.float64) / n_m
            var = (xm * xm).sum(axis=(1, 2), dtype=np.float64) / n_m - mean**2
            return np.sqrt(np.maximum(var, 0.0))

        keep = (m.sum(axis=(1, 2)) >= 0.7 * w * w) & (spread(fb) >= tex_min) & (spread(fa) >= tex_min)
        p, m, fb, fa = p[keep], m[keep], fb[keep], fa[keep]
        if not len(p):
            return p, np.zeros((0, 2)), np.zeros(0), np.zeros(0)
        wgt = han * m
        return (p, *phase_correlate_many(prepare(fb, wgt, None), prepare(fa, wgt, None),
                                         max_shift=w / 4, upsample=upsample, high_cut=0.35,
                                         workers=1))

    # windows correlated in stacks small enough to stay in cache, a stack per thread
    parts = list(ordered_map(correlated, (got[i:i + _STACK] for i in range(0, len(got), _STACK))))
    del got
    p, shifts, heights, ratios = (np.concatenate(v) for v in zip(*parts, strict=True))
    if not len(p):
        return _Ties.none()
    hit = heights > 0
    q = (p - shifts[:, ::-1])[hit] * f
    qa = before_to_after(g, warp, q[:, 0], q[:, 1])
    return _Ties(p[hit] * f, np.column_stack(qa), heights[hit], ratios[hit], len(p))


def _predicted_std(src: np.ndarray, sigma: float, pts: np.ndarray) -> np.ndarray:
    """Standard error (pixels, per axis) of an affine LSQ fit at ``pts``."""
    a = np.column_stack([src, np.ones(len(src))])
    try:
        cov = np.linalg.inv(a.T @ a)
    except np.linalg.LinAlgError:
        return np.full(len(pts), np.inf)
    q = np.column_stack([pts, np.ones(len(pts))])
    return sigma * np.sqrt(np.einsum("ij,jk,ik->i", q, cov, q))


def _register_impl(
    before: Scene,
    after: Scene,
    *,
    max_offset_m: float = 150.0,
    max_rotation_deg: float = 5.0,
    max_scale_change: float = 0.06,
    local: bool = True,
    min_confidence: float = 0.5,
) -> Registration:
    """Find how AFTER maps onto BEFORE, and whether that can be trusted.

    Steps: (1) a global rotation/scale (Fourier–Mellin on gradient-magnitude spectra, checked
    against a small grid when unsure) and translation (masked, windowed phase correlation) on
    a coarse pyramid level; (2) tie-point windows matched by phase correlation at finer
    levels, sub-pixel at full resolution (upsampled DFT), RANSAC then trimmed least squares
    for an affine model; (3) optionally a smooth local warp from the inlier residuals, kept
    only when it lowers the cross-validated residual; (4) quality and failure checks.

    Parameters
    ----------
    before : Scene
        Reference scene.
    after : Scene
        The output of :func:`common_grid`: same CRS and GSD as ``before`` (same grid when both
        are georeferenced; its own extent in the pixel frame).
    max_offset_m : float, keyword-only
        Largest displacement searched, metres at the BEFORE centre, when both scenes are
        georeferenced. In the pixel frame the offset is unknown and any offset that leaves a
        quarter of the smaller image overlapping is searched.
    max_rotation_deg : float, keyword-only
        Largest rotation searched and accepted, degrees.
    max_scale_change : float, keyword-only
        Largest relative scale difference searched and accepted (0.06 = 6 %).
    local : bool, keyword-only
        Try a smooth local warp on top of the affine model.
    min_confidence : float, keyword-only
        ``ok`` needs at least this confidence.

    Returns
    -------
    Registration
        ``matrix`` maps AFTER pixel (col, row) to BEFORE pixel (col, row), pixel-corner
        convention. Never raises for a failed alignment: ``ok`` is False and ``reason`` says
        why.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> from airdiff.grid import Grid
    >>> from airdiff.scene import Scene
    >>> rng = np.random.default_rng(0)
    >>> img = ndi.gaussian_filter(rng.random((400, 400)), 2).astype(np.float32)
    >>> g = Grid.pixel_frame((400, 400), gsd=0.5)
    >>> moved = ndi.shift(img, (3.25, -7.5), order=3, mode="nearest")  # content moves +3.25 rows
    >>> reg = register(Scene(img, g), Scene(moved, g), local=False)
    >>> reg.ok, bool(np.allclose(reg.shift_xy_px, (7.5, -3.25), atol=0.05))
    (True, True)
    """
    t_start = time.perf_counter()
    gsd = before.grid.gsd
    ga = after.grid.gsd
    if abs(ga / gsd - 1) > 0.01:
        return _failed(f"AFTER's GSD ({ga:.3f} m) differs from BEFORE's ({gsd:.3f} m); "
                       "resample it with common_grid(before, after) first", gsd)
    shared = before.grid.is_georeferenced and after.grid.is_georeferenced
    if shared and before.grid.shape != after.grid.shape:
        return _failed("AFTER is not on BEFORE's grid; pass common_grid(before, after) as AFTER",
                       gsd)

    factors = _pyramid_factors(before.shape, after.shape)

    def one_date(scene):
        # brightness, the usable (valid, unsaturated) pixels and features at every level
        lum = scene.luminance()
        usable, sat = _usable(scene, lum)
        pyr = _pyramid(lum, usable, factors)
        del lum
        return usable, sat, {f: feature_image(*pyr[f], sigma=FEATURE_SIGMA) for f in factors}

    (usable_b, sat_b, feats_b), (usable_a, sat_a, feats_a) = both(lambda: one_date(before),
                                                                  lambda: one_date(after))
    method = "gradient phase correlation"
    for label, sc, sat, us in (("BEFORE", before, sat_b, usable_b), ("AFTER", after, sat_a, usable_a)):
        if not sc.valid.any():
            return _failed(f"{label} has no valid pixel", gsd, method=method)
        if sat > 0.75:
            return _failed(f"{100 * sat:.0f} % of {label} is saturated or cloud; "
                           "choose a clearer image of this date", gsd, method=method)
        if us.sum() < 64 * 64:
            return _failed(f"{label} has too few clear pixels to align", gsd, method=method)
    levels = {f: _Level(f, *feats_b[f], *feats_a[f]) for f in factors}
    del feats_b, feats_a

    def after_valid_at(ii, jj):
        return after.valid[ii, jj]

    return _solve(levels, factors, before_shape=before.shape, after_shape=after.shape,
                  after_valid_at=after_valid_at, gsd=gsd, shared=shared, t_start=t_start,
                  max_offset_m=max_offset_m, max_rotation_deg=max_rotation_deg,
                  max_scale_change=max_scale_change, local=local, min_confidence=min_confidence)


def _solve(levels, factors, *, before_shape, after_shape, after_valid_at, gsd, shared, t_start,
           max_offset_m, max_rotation_deg, max_scale_change, local, min_confidence) -> Registration:
    """Global model, tie-point rounds, warp and quality on a built pyramid.

    ``levels`` maps each factor of ``factors`` (coarsest first) to a level with window
    access; the finest level held whole in memory checks the texture.
    """
    method = "gradient phase correlation"
    top = factors[0]
    fine = min(f for f in factors if isinstance(levels[f], _Level))
    lv = levels[fine]
    # texture: featureless scenes cannot be aligned
    tex_b = float(np.median(lv.feat_b[lv.inner_b])) if lv.inner_b.any() else 0.0
    tex_a = float(np.median(lv.feat_a[lv.inner_a])) if lv.inner_a.any() else 0.0
    tex_min = 1e-4
    if max(tex_b, float(lv.feat_b.max())) < tex_min * 10 or tex_b < tex_min:
        return _failed("BEFORE is featureless (no texture or edges to match)", gsd, method=method)
    if max(tex_a, float(lv.feat_a.max())) < tex_min * 10 or tex_a < tex_min:
        return _failed("AFTER is featureless (no texture or edges to match)", gsd, method=method)

    # --- global model at the coarsest level ------------------------------------------------
    lt = levels[top]
    pb = prepare(lt.feat_b, _taper(lt.inner_b), tukey2d(lt.feat_b.shape, 0.2))
    pa = prepare(lt.feat_a, _taper(lt.inner_a), tukey2d(lt.feat_a.shape, 0.2))
    max_off_c = max_offset_m / gsd / top
    glob = global_model(pb, pa, shared=shared, max_off=max_off_c, max_rot_deg=max_rotation_deg,
                        max_scale_change=max_scale_change)
    del pb, pa
    m_full = _scaled(glob.matrix, top)
    g = np.linalg.inv(m_full)  # BEFORE -> AFTER
    log.info("global (level 1/%d): shift %s px, rot %.3f°, scale %.4f, peak %.3f ratio %.2f",
             top, np.round(m_full[:2, 2], 2), glob.rot_deg, glob.scale, glob.peak.height,
             glob.peak.ratio)
    # A flat correlation surface ends it here; a weak but present peak (small or low-texture
    # scenes) goes on to the tie points, whose consensus must then carry the confidence.
    if glob.peak.ratio < 1.15:
        return _failed("no consistent match between the images (they may show different "
                       "places, or changed too much); check that both show the same airfield",
                       gsd, matrix=m_full, method=method)

    # --- tie points, coarse to fine -------------------------------------------------------
    small = min(*before_shape, *after_shape)
    w_full = _WINDOW_PX if small >= 640 else 64
    rounds = [f for f in factors[1:]] + [1, 1] if top > 1 else [1, 1, 1]
    warp: LocalWarp | None = None
    ties = None
    inl = np.zeros(0, bool)
    res = np.zeros(0)
    warp_info: dict = {}
    for k, f in enumerate(rounds):
        lev = levels[f]
        w = w_full if f == 1 else 64
        if min(lev.shape_b) < w or min(lev.shape_a) < w:
            continue
        last = k == len(rounds) - 1
        ties = _match_level(lev, g, warp, w=w, upsample=20 if last else 4, order=3 if last else 1,
                            tex_min=tex_min, max_n=_FINAL_ROUND_N if last else _EARLY_ROUND_N)
        good = (ties.ratio >= 1.8) & (ties.height >= 0.03)
        src, dst = ties.before, ties.after
        log.debug("round %d level %d: %d windows, %d matched, %d good", k, f, ties.tried,
                  len(src), good.sum())
        if good.sum() < MIN_INLIERS:
            return _failed(f"too few reliable tie points ({int(good.sum())} of {ties.tried} "
                           "windows matched); the images may be too different (season, cloud, "
                           "resolution) or not of the same place", gsd, matrix=np.linalg.inv(g),
                           method=method, tie_points=np.column_stack([src, dst]) if len(src) else
                           np.zeros((0, 4)))
        offs = None
        if warp is not None:
            offs = np.column_stack(warp_at(warp, src[:, 0] - 0.5, src[:, 1] - 0.5))
        if k == 0:
            cand = good & ransac_affine(src, dst if offs is None else dst - offs,
                                        threshold=max(2.0 * f, 1.5))
        else:
            d = dst if offs is None else dst - offs
            pre = np.hypot(*(apply_affine(g, src) - d).T)
            cand = good & (pre <= max(3.0 * f, 1.5, 4 * 1.4826 * np.median(pre[good])))
        if cand.sum() < 3:
            return _failed("tie points do not agree on one model", gsd, matrix=np.linalg.inv(g),
                           method=method)
        g, inl, res = robust_affine(src, dst, inliers=cand, min_threshold=max(0.75 * f, 0.5),
                                    offsets=offs)
        inl &= good
        if local and f == 1 and k >= len(rounds) - 2 and inl.sum() >= 16:
            # local warp from the affine residuals of the inliers (BEFORE pixel-index coords),
            # each weighted by its peak height: on the benchmark, windows of higher peaks err
            # less (median) but not by the square of the height, and the strongest have the
            # heaviest tails (edges that changed: the warp's robust pass takes those)
            d_aff = dst - apply_affine(g, src)
            nodes = tuple(int(np.clip(round(n / 64) + 1, 4, 12)) for n in before_shape)
            new_warp, warp_info = fit_warp(src[inl] - 0.5, d_aff[inl], before_shape,
                                           n_nodes=nodes, weights=ties.height[inl])
            log.debug("local warp: %s", warp_info)
            if new_warp is not None:
                offs = np.column_stack(warp_at(new_warp, src[:, 0] - 0.5, src[:, 1] - 0.5))
                g, inl2, res = robust_affine(src, dst, inliers=inl, min_threshold=0.5,
                                             offsets=offs)
                inl = inl2 & good
            warp = new_warp
        elif warp is not None:
            res = np.hypot(*(apply_affine(g, src) + offs - dst).T)

    matrix = np.linalg.inv(g)
    method = method + (" + local warp" if warp is not None else "")
    scale_px = float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))
    res_b = res * scale_px
    tie_pts = np.column_stack([ties.before, ties.after])

    # --- quality -------------------------------------------------------------------------
    n_in = int(inl.sum())
    r_in = res_b[inl]
    rmse = float(np.sqrt(np.mean(r_in**2))) if n_in else np.inf
    frac = n_in / max(ties.tried, 1)
    # spread: standard error of the fitted model over the BEFORE area
    hb, wb = before_shape
    ev = np.array([[c, r] for c in np.linspace(0.1, 0.9, 5) * wb for r in np.linspace(0.1, 0.9, 5) * hb])
    # evaluate only where AFTER has data
    ac, ar = before_to_after(g, warp, ev[:, 0], ev[:, 1])
    ii = np.clip((ar - 0.5).round().astype(int), -1, after_shape[0])
    jj = np.clip((ac - 0.5).round().astype(int), -1, after_shape[1])
    inside = (ii >= 0) & (jj >= 0) & (ii < after_shape[0]) & (jj < after_shape[1])
    keep = inside.copy()
    keep[inside] = after_valid_at(ii[inside], jj[inside])
    ev = ev[keep] if keep.sum() >= 4 else ev
    sigma = max(rmse, 0.05)
    pstd = _predicted_std(ties.before[inl], sigma, ev) if n_in >= 3 else np.array([np.inf])
    pred = float(np.max(pstd))
    rot = float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
    sv = np.linalg.svd(matrix[:2, :2], compute_uv=False)
    cb = np.array([wb / 2.0, hb / 2.0])
    centre_after = apply_affine(g, cb[None])[0]
    offset_px = float(np.hypot(*(centre_after - cb)))
    peak_ratio = float(glob.peak.ratio)

    c_n = 1 - np.exp(-n_in / 12.0)
    c_frac = float(np.clip((frac - 0.15) / 0.35, 0, 1))
    c_rmse = float(np.exp(-((rmse / 0.6) ** 2)))
    c_pred = float(np.exp(-((pred / 0.25) ** 2)))
    c_peak = float(np.clip((peak_ratio - 1.5) / 2.0, 0, 1))
    # A weak global peak (small or repetitive scenes) is resolved when most tie windows,
    # matched independently, agree on one model: a periodic alias (one apron slab off) would
    # leave the non-periodic windows (grass, buildings) unmatched and the inlier fraction low.
    c_consensus = float(np.clip((frac - 0.6) / 0.25, 0, 1)) * (1 - np.exp(-n_in / 30.0))
    c_peak = max(c_peak, c_consensus)
    confidence = float(np.clip(c_n * c_frac * c_rmse * c_pred * c_peak, 0, 1)) ** 0.5
    log.info("register: %d/%d inliers, rmse %.3f px, predicted std %.3f px, peak ratio %.2f, "
             "confidence %.2f, %.2f s", n_in, ties.tried, rmse, pred, peak_ratio, confidence,
             time.perf_counter() - t_start)

    reason = ""
    if n_in < MIN_INLIERS:
        reason = (f"too few consistent tie points ({n_in}); the images may be too different "
                  "or mostly cloud")
    elif abs(rot) > max_rotation_deg + 0.05:
        reason = (f"rotation {rot:.2f}° is beyond the allowed {max_rotation_deg}°; raise "
                  "max_rotation_deg if this is expected")
    elif sv.max() > 1 + max_scale_change + 0.005 or sv.min() < 1 - max_scale_change - 0.005:
        reason = (f"scale change {sv.min():.3f}–{sv.max():.3f} is beyond the allowed "
                  f"±{max_scale_change:.0%}; check the GSD of the inputs")
    elif shared and offset_px * gsd > max_offset_m * 1.02 + gsd:
        reason = (f"offset {offset_px * gsd:.0f} m is beyond the allowed {max_offset_m:.0f} m; "
                  "raise max_offset_m if the georeference is that poor")
    elif rmse > 0.7:
        reason = (f"tie points disagree by {rmse:.2f} px RMS after fitting; the scenes may be "
                  "distorted beyond a smooth warp (terrain, different viewing angle)")
    elif pred > 0.35:
        reason = ("tie points cover too little of the scene to fix the model everywhere (cloud or "
                  "no-data over most of it); use a clearer image")
    elif confidence < min_confidence:
        reason = (f"confidence {confidence:.2f} is below {min_confidence}; the alignment "
                  "cannot be trusted")
    return Registration(
        matrix=matrix,
        ok=not reason,
        confidence=confidence,
        reason=reason,
        tie_points=tie_pts,
        residuals_px=res_b,
        inliers=inl,
        warp=warp,
        method=method,
        gsd_m=gsd,
    )



@functools.wraps(_register_impl)
def register(before: Scene, after: Scene, **options) -> Registration:
    # BLAS is kept to one thread while registering: the many small matrix products stall
    # with threaded OpenBLAS on a busy machine (measured 2-5x slower on 2 shared cores).
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _register_impl(before, after, **options)


def _register_sources_impl(before_src, after_src, *, max_offset_m: float = 150.0,
                           max_rotation_deg: float = 5.0, max_scale_change: float = 0.06,
                           local: bool = True, min_confidence: float = 0.5,
                           max_level_px: float = 16e6) -> Registration:
    t_start = time.perf_counter()
    bg, ag = before_src.grid, after_src.grid
    gsd = bg.gsd
    if abs(ag.gsd / gsd - 1) > 0.01:
        return _failed(f"AFTER's GSD ({ag.gsd:.3f} m) differs from BEFORE's ({gsd:.3f} m); "
                       "read it on BEFORE's grid first", gsd)
    shared = bg.is_georeferenced and ag.is_georeferenced
    if shared and bg.shape != ag.shape:
        return _failed("AFTER is not on BEFORE's grid; read it on BEFORE's grid first", gsd)
    factors = _pyramid_factors(bg.shape, ag.shape)
    top = factors[0]
    # the finest level held whole: no larger than max_level_px (decimated reads of the files)
    held = top
    for f in factors:
        if max(bg.height * bg.width, ag.height * ag.width) / (f * f) <= max_level_px:
            held = f
    method = "gradient phase correlation"
    pyr = {}
    valid_held = None
    for label, src in (("BEFORE", before_src), ("AFTER", after_src)):
        g = src.grid
        sc = src.read(0, 0, g.height // held * held, g.width // held * held, factor=held)
        lum = sc.luminance()
        usable, sat = _usable(sc, lum)
        if not sc.valid.any():
            return _failed(f"{label} has no valid pixel", gsd, method=method)
        if sat > 0.75:
            return _failed(f"{100 * sat:.0f} % of {label} is saturated or cloud; "
                           "choose a clearer image of this date", gsd, method=method)
        if usable.sum() * held * held < 64 * 64:
            return _failed(f"{label} has too few clear pixels to align", gsd, method=method)
        pyr[label] = _pyramid(lum, usable, [f // held for f in factors if f >= held])
        if label == "AFTER":
            valid_held = sc.valid
        del sc, lum, usable
    levels: dict = {}
    for f in factors:
        if f >= held:
            fb, ib = feature_image(*pyr["BEFORE"][f // held], sigma=FEATURE_SIGMA)
            fa, ia = feature_image(*pyr["AFTER"][f // held], sigma=FEATURE_SIGMA)
            levels[f] = _Level(f, fb, ib, fa, ia)
        else:
            levels[f] = _LazyLevel(f, before_src, after_src)
    del pyr
    log.info("register (windowed): levels %s, held whole from 1/%d", factors, held)

    def after_valid_at(ii, jj):
        r = np.clip(ii // held, 0, valid_held.shape[0] - 1)
        c = np.clip(jj // held, 0, valid_held.shape[1] - 1)
        return valid_held[r, c]

    return _solve(levels, factors, before_shape=bg.shape, after_shape=ag.shape,
                  after_valid_at=after_valid_at, gsd=gsd, shared=shared, t_start=t_start,
                  max_offset_m=max_offset_m, max_rotation_deg=max_rotation_deg,
                  max_scale_change=max_scale_change, local=local, min_confidence=min_confidence)


def register_sources(before_src, after_src, **options) -> Registration:
    """:func:`register` for scenes larger than memory, read window by window.

    The same steps and the same tie-point windows as :func:`register`, on the same pyramid:
    levels up to ``max_level_px`` pixels are built from decimated (block-mean) reads of
    the whole scenes; finer levels, full resolution included, are read window by window
    around each tie point. Memory therefore does not grow with the scene size.

    Parameters
    ----------
    before_src, after_src : SceneSource
        Objects with a ``grid`` and ``read(row_off, col_off, height, width, *, factor=1)``
        returning a :class:`~airdiff.scene.Scene` (e.g. :class:`airdiff.io.RasterSource`).
        When both are georeferenced, AFTER must be read on BEFORE's grid
        (:meth:`airdiff.io.RasterSource.on_grid`).
    **options
        Those of :func:`register`, and ``max_level_px`` (default 16e6): the largest
        pyramid level held whole.

    Returns
    -------
    Registration
        As :func:`register`; never raises for a failed alignment.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _register_sources_impl(before_src, after_src, **options)
