"""Pixel-level change magnitude and the masks where change cannot be judged.

:func:`change_map` compares BEFORE with the aligned, radiometrically normalised AFTER.
The magnitude is a *minimum distance in a window*: a pixel of one date is compared with
the range of values in the 3×3 neighbourhood of the other date, band by band, in both
directions. A residual misregistration below about one pixel then moves values within
that range and gives no change, while a new object (whose values are outside anything
nearby in the other date) does.

Clouds and thick haze are bright, grey, smooth and large; their shadows are the cloud
outline displaced on the ground and darker than the other date. Both are masked, with
no data, as *obscured*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .grid import Grid
from .scene import Scene

__all__ = ["ChangeMap", "change_map", "window_distance", "cloud_mask", "saturation"]


@dataclass(frozen=True, eq=False)
class ChangeMap:
    """Per-pixel change between BEFORE and the aligned, normalised AFTER.

    All arrays have shape (rows, cols) of ``grid``.

    Attributes
    ----------
    magnitude : float32
        Change strength, 0 = no change, about 1 = strong change; 0 where not ``judged``.
    nodata : bool
        No data in either date (outside a footprint, fill values).
    cloud : bool
        Cloud or thick haze in either date.
    cloud_shadow : bool
        Shadow cast by a cloud in either date.
    """

    magnitude: np.ndarray
    nodata: np.ndarray
    cloud: np.ndarray
    cloud_shadow: np.ndarray
    grid: Grid

    @property
    def obscured(self) -> np.ndarray:
        """Pixels where change cannot be judged (nodata, cloud, cloud shadow)."""
        return self.nodata | self.cloud | self.cloud_shadow

    @property
    def judged(self) -> np.ndarray:
        return ~self.obscured


# -- magnitude ------------------------------------------------------------------------------
def window_distance(a: np.ndarray, b: np.ndarray, *, size: int = 3) -> np.ndarray:
    """Distance from each pixel of ``a`` to the value range of ``b`` around it.

    Parameters
    ----------
    a, b : ndarray, shape (bands, rows, cols)
        Float images on the same grid.
    size : int
        Window side in pixels (3 tolerates shifts up to about one pixel).

    Returns
    -------
    ndarray, shape (rows, cols), float32
        Root-mean-square over the bands of ``max(0, a - max_win(b), min_win(b) - a)``.

    Examples
    --------
    >>> import numpy as np
    >>> b = np.zeros((1, 5, 5), np.float32); b[0, 2, 2] = 1
    >>> a = np.roll(b, 1, axis=2)
    >>> float(window_distance(a, b).max())
    0.0
    """
    acc = np.zeros(a.shape[1:], dtype=np.float32)
    for k in range(a.shape[0]):
        hi = _square_extreme(b[k], size, np.maximum)
        lo = _square_extreme(b[k], size, np.minimum)
        d = np.maximum(np.maximum(a[k] - hi, lo - a[k]), 0.0)
        acc += d * d
    return np.sqrt(acc / a.shape[0]).astype(np.float32)


def _square_extreme(x: np.ndarray, size: int, op) -> np.ndarray:
    """Maximum (``op=np.maximum``) or minimum of ``x`` over a ``size`` x ``size`` window.

    As ``ndi.maximum_filter`` / ``ndi.minimum_filter`` with ``mode='reflect'`` (bit for bit;
    a test checks it). The 3 x 3 window, the one the change map uses, is taken from shifted
    views, several times faster than ndimage's running filter at that size.
    """
    if size != 3 or min(x.shape) < 2:
        filt = ndi.maximum_filter if op is np.maximum else ndi.minimum_filter
        return filt(x, size=size)
    out = x.copy()
    op(out[1:], x[:-1], out=out[1:])  # each row with the rows above and below it
    op(out[:-1], x[1:], out=out[:-1])
    rows = out.copy()
    op(out[:, 1:], rows[:, :-1], out=out[:, 1:])  # then with the columns either side
    op(out[:, :-1], rows[:, 1:], out=out[:, :-1])
    return out


def _luminance(f: np.ndarray) -> np.ndarray:
    return f[: min(3, f.shape[0])].mean(axis=0)


#: Saturation below which ground is grey (paved, roofs) rather than coloured (grass, soil).
GREY_SATURATION = 0.2


def saturation(f: np.ndarray) -> np.ndarray:
    """Saturation of the visible bands of ``f`` (bands, rows, cols); 0 for fewer than three."""
    if f.shape[0] < 3:
        return np.zeros(f.shape[1:], dtype=np.float32)
    vis = f[:3]
    mx = vis.max(axis=0)
    return (mx - vis.min(axis=0)) / np.maximum(mx, 1e-3)


def _local_std(x: np.ndarray, size: int) -> np.ndarray:
    m = ndi.uniform_filter(x, size)
    m2 = ndi.uniform_filter(x * x, size)
    return np.sqrt(np.maximum(m2 - m * m, 0.0))


# -- clouds ---------------------------------------------------------------------------------
def cloud_mask(
    f: np.ndarray,
    other: np.ndarray,
    *,
    gsd: float,
    valid: np.ndarray,
    min_area_m2: float = 2000.0,
) -> np.ndarray:
    """Cloud and thick haze in the date of ``f`` (bright, grey, smooth, large blobs).

    Parameters
    ----------
    f, other : ndarray, shape (bands, rows, cols)
        This date and the other date, on the same grid and radiometric scale.
    gsd : float
        Metres per pixel.
    valid : ndarray of bool
        Pixels valid in both dates.
    min_area_m2 : float
        Smallest cloud kept (aircraft, even white ones, are smaller than a cloud).

    Returns
    -------
    ndarray of bool, shape (rows, cols)
    """
    return _cloud_mask(f, other, _texture(f, gsd), _texture(other, gsd), gsd=gsd, valid=valid,
                       min_area_m2=min_area_m2)


def _texture(f: np.ndarray, gsd: float) -> np.ndarray:
    """Fine texture of ``f``'s luminance: its local standard deviation over about 6 m."""
    win = max(3, int(round(6.0 / gsd)) | 1)
    return _local_std(ndi.gaussian_filter(_luminance(f), 0.7), win)


def _cloud_mask(f, other, tex, tex_o, *, gsd, valid, min_area_m2):
    """:func:`cloud_mask`, given the :func:`_texture` of both dates (each is used twice)."""
    lum, lum_o = _luminance(f), _luminance(other)
    sat = saturation(f)
    bright_gain = lum - lum_o
    grey = sat < 0.18
    # core: clearly brighter than the other date and smoother, or white and very smooth
    core = grey & valid & (
        ((bright_gain > 0.15) & (lum > 0.7) & (tex < 0.7 * tex_o + 0.005))
        | ((lum > 0.85) & (tex < 0.015))
    )
    # weak: the soft edge of the cloud / haze around the core
    weak = valid & grey & (bright_gain > 0.05) & (tex <= np.maximum(tex_o, 0.03))
    open_r = max(1, int(round(3.0 / gsd)))
    core = _dilate(_erode(core, open_r), open_r)
    lab, n = ndi.label(core)
    if n == 0:
        return np.zeros(lum.shape, dtype=bool)
    areas = ndi.sum_labels(np.ones_like(lum), lab, index=np.arange(1, n + 1)) * gsd * gsd
    keep = np.zeros(n + 1, dtype=bool)
    keep[1:] = areas >= min_area_m2
    # reject thin or very holey shapes (aircraft crosses, long white roofs)
    objs = ndi.find_objects(lab)
    for i, sl in enumerate(objs, start=1):
        if not keep[i]:
            continue
        region = lab[sl] == i
        filled = ndi.binary_fill_holes(region)
        h, w = region.shape
        extent = region.sum() / float(h * w)
        if filled.sum() > 0 and extent < 0.25:
            keep[i] = False
    core = keep[lab]
    if not core.any():
        return core
    grown = _grow(core, weak | core)
    grown = ndi.binary_fill_holes(_erode(_dilate(grown, open_r), open_r))
    # the soft rim: a little margin around the mask
    return _dilate(grown, max(1, int(round(8.0 / gsd)))) & valid


def _grow(seed: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(allowed)
    if n == 0:
        return seed
    hit = np.unique(lab[seed])
    hit = hit[hit > 0]
    keep = np.zeros(n + 1, dtype=bool)
    keep[hit] = True
    return keep[lab] | seed


def _dilate(mask: np.ndarray, r: float) -> np.ndarray:
    """Binary dilation by a disk of radius ``r`` pixels, computed in the mask's bounding box."""
    if r <= 0 or not mask.any():
        return mask.copy()
    pad = int(np.ceil(r)) + 1
    rows, cols = np.nonzero(np.any(mask, axis=1))[0], np.nonzero(np.any(mask, axis=0))[0]
    r0, r1 = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, mask.shape[0])
    c0, c1 = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, mask.shape[1])
    out = np.zeros_like(mask)
    out[r0:r1, c0:c1] = ndi.distance_transform_edt(~mask[r0:r1, c0:c1]) <= r
    return out


def _erode(mask: np.ndarray, r: float) -> np.ndarray:
    """Binary erosion by a disk of radius ``r`` pixels (outside the image counts as set)."""
    if r <= 0 or not mask.any():
        return mask.copy()
    rows, cols = np.nonzero(np.any(mask, axis=1))[0], np.nonzero(np.any(mask, axis=0))[0]
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    sub = np.pad(mask[r0:r1, c0:c1], 1, constant_values=False)
    out = np.zeros_like(mask)
    out[r0:r1, c0:c1] = (ndi.distance_transform_edt(sub) > r)[1:-1, 1:-1]
    return out


def shadow_mask(
    cloud: np.ndarray,
    f: np.ndarray,
    other: np.ndarray,
    *,
    gsd: float,
    valid: np.ndarray,
    max_offset_m: float = 600.0,
) -> np.ndarray:
    """The shadow of ``cloud`` in the date of ``f``: the cloud outline displaced onto darker ground.

    The displacement is found by cross-correlating the cloud mask with the pixels that are
    darker than in the other date; when no displaced copy of the cloud is clearly darker,
    the result is empty.
    """
    if not cloud.any():
        return np.zeros(cloud.shape, dtype=bool)
    lum, lum_o = _luminance(f), _luminance(other)
    ratio = (lum + 0.02) / (lum_o + 0.02)
    # a shadow darkens every surface by about the same factor; a change of season changes
    # only vegetation and soil: each ratio is taken relative to the typical one of its cover
    # (grey and coloured ground in the other date)
    coloured = saturation(other) >= GREY_SATURATION
    for cover in (coloured, ~coloured):
        sel = cover & valid & ~cloud
        if sel.sum() > 100:
            ratio = np.where(cover, ratio / max(float(np.median(ratio[sel])), 1e-3), ratio)
    dark = (ratio < 0.8) & valid & ~cloud
    if dark.sum() * gsd * gsd < 200.0:
        return np.zeros(cloud.shape, dtype=bool)
    # work on a coarse grid (about 4 m pixels)
    step = max(1, int(round(4.0 / gsd)))
    c = _block_mean(cloud.astype(np.float32), step)
    d = _block_mean(dark.astype(np.float32), step)
    rows, cols = c.shape
    shape = (2 * rows, 2 * cols)
    xc = np.fft.irfft2(np.fft.rfft2(d, shape) * np.conj(np.fft.rfft2(c, shape)), shape)
    max_off = int(max_offset_m / (step * gsd))
    rr = np.fft.fftfreq(shape[0], 1.0 / shape[0])[:, None]
    cc = np.fft.fftfreq(shape[1], 1.0 / shape[1])[None, :]
    reach = (np.abs(rr) <= max_off) & (np.abs(cc) <= max_off) & ((rr != 0) | (cc != 0))
    xc = np.where(reach, xc, -np.inf)
    k = np.unravel_index(int(np.argmax(xc)), xc.shape)
    overlap = float(xc[k]) / max(float(c.sum()), 1e-6)
    if overlap < 0.35:
        return np.zeros(cloud.shape, dtype=bool)
    dr = int(rr[k[0], 0]) * step
    dc = int(cc[0, k[1]]) * step
    moved = ndi.shift(cloud, (dr, dc), order=0, mode="constant", cval=False)
    moved = _dilate(moved, max(1, int(round(8.0 / gsd))))
    return moved & valid & ~cloud


def _block_mean(x: np.ndarray, step: int) -> np.ndarray:
    if step == 1:
        return x
    r, c = (x.shape[0] // step) * step, (x.shape[1] // step) * step
    if r == 0 or c == 0:
        return x
    return x[:r, :c].reshape(r // step, step, c // step, step).mean(axis=(1, 3))


# -- the map --------------------------------------------------------------------------------
def change_map(
    before: Scene,
    normalised: Scene,
    *,
    window: int = 3,
    full_scale: float = 0.25,
    cloud_min_area_m2: float = 2000.0,
) -> ChangeMap:
    """Per-pixel change magnitude and obscured masks.

    Parameters
    ----------
    before : Scene
        The reference date.
    normalised : Scene
        AFTER on BEFORE's grid with radiometry matched (:func:`airdiff.radiometry.normalise`).
    window : int
        Window of the minimum-distance comparison, pixels (odd).
    full_scale : float
        Distance (in BEFORE's [0, 1] float scale) that maps to magnitude 1.
    cloud_min_area_m2 : float
        Smallest cloud masked.

    Returns
    -------
    ChangeMap

    Examples
    --------
    >>> import numpy as np
    >>> from airdiff.grid import Grid
    >>> g = Grid.pixel_frame((64, 64), gsd=0.5)
    >>> img = np.random.default_rng(0).random((3, 64, 64)).astype(np.float32)
    >>> b = Scene(img, g)
    >>> after = img.copy(); after[:, 20:30, 20:30] = 1.0
    >>> cm = change_map(b, Scene(after, g))
    >>> bool(cm.magnitude[22:28, 22:28].mean() > 0.5), bool(cm.magnitude[40:, 40:].max() == 0)
    (True, True)
    """
    from .radiometry import match_bands

    fb = before.as_float()
    fa = normalised.pixels.astype(np.float32, copy=False)
    if np.issubdtype(normalised.pixels.dtype, np.integer):
        fa = normalised.as_float()
    fa = match_bands(before, fa)
    fb = np.nan_to_num(fb)
    fa = np.nan_to_num(fa)
    nodata = ~(before.valid & normalised.valid)
    valid = ~nodata
    gsd = before.gsd
    # grow nodata by a pixel: resampled edges are unreliable
    nodata = ndi.binary_dilation(nodata) if nodata.any() else nodata
    tex_a, tex_b = _texture(fa, gsd), _texture(fb, gsd)
    cloud_a = _cloud_mask(fa, fb, tex_a, tex_b, gsd=gsd, valid=valid, min_area_m2=cloud_min_area_m2)
    cloud_b = _cloud_mask(fb, fa, tex_b, tex_a, gsd=gsd, valid=valid, min_area_m2=cloud_min_area_m2)
    del tex_a, tex_b
    shadow = shadow_mask(cloud_a, fa, fb, gsd=gsd, valid=valid) | shadow_mask(
        cloud_b, fb, fa, gsd=gsd, valid=valid
    )
    cloud = cloud_a | cloud_b
    shadow &= ~cloud
    # light smoothing against noise and JPEG blocks, then the windowed distance both ways
    sb = np.stack([ndi.gaussian_filter(x, 0.6) for x in fb])
    sa = np.stack([ndi.gaussian_filter(x, 0.6) for x in fa])
    d = np.maximum(window_distance(sa, sb, size=window), window_distance(sb, sa, size=window))
    mag = np.clip(d / np.float32(full_scale), 0.0, 1.0).astype(np.float32)
    obscured = nodata | cloud | shadow
    mag[obscured] = 0.0
    return ChangeMap(magnitude=mag, nodata=nodata, cloud=cloud, cloud_shadow=shadow, grid=before.grid)
