"""Relative radiometric normalisation of the AFTER date to the BEFORE date.

Two images of the same place taken on different dates, or by different sensors, differ
in gain, offset and tone curve (gamma, stretch), band by band. :func:`normalise` maps
the aligned AFTER scene onto BEFORE's radiometry with a monotone per-band transfer
function fitted on *pseudo-invariant* pixels: pixels that are valid in both dates, not
cloud-like, grey in both (paved ground, roofs, aircraft; vegetation changes colour with
the season), and whose values agree after a first, global fit. Changed objects, clouds,
seasons and nodata therefore do not pull the fit.

The transfer function is a binned median regression (``before`` as a function of
``after``) made monotone, so it recovers a gain and offset as well as a gamma curve.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .change import GREY_SATURATION, saturation
from .errors import InputError
from .scene import Scene

__all__ = ["normalise", "fit_transfer", "fit_scene_transfer", "Transfer", "match_bands"]

log = logging.getLogger(__name__)

#: Pixels sampled at most for fitting (a regular subsample of large scenes).
_MAX_SAMPLES = 400_000
#: Share of the usable pixels that must be grey for the fit to use grey pixels only.
GREY_MIN_SHARE = 0.05


@dataclass(frozen=True)
class Transfer:
    """A monotone per-band transfer function ``before ≈ f(after)``.

    Attributes
    ----------
    knots_after, knots_before : ndarray, shape (bands, n)
        Piecewise-linear knots; values outside the knots are extrapolated linearly
        with the slope over the last few knots at each end (:func:`_end_slopes`).
    n_invariant : int
        Number of pixels the fit used.
    """

    knots_after: np.ndarray
    knots_before: np.ndarray
    n_invariant: int

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """Map float pixels ``(bands, rows, cols)`` through the transfer function."""
        out = np.empty(pixels.shape, dtype=np.float32)
        for k in range(pixels.shape[0]):
            out[k] = _interp_extrap(pixels[k], self.knots_after[k], self.knots_before[k])
        return out


def _end_slopes(xp: np.ndarray, fp: np.ndarray) -> tuple[float, float]:
    """Slopes with which :func:`_interp_extrap` carries the transfer past its first and last knots.

    Each is the slope over the last few knots at that end, unless that is under half the
    chord from the end knot to the nearest knot a quarter of the knots' span away: then the
    chord's. The knots are quantiles, so they crowd into the commonest surface (concrete)
    where it ends the range, and within one flat surface the median of BEFORE against AFTER
    is flat (the two dates' noise does not correlate); carried past the knots with that
    slope, anything beyond (a light airframe new on the concrete, lighter than all else)
    would come out as the concrete itself. A tone curve's own slope does not fall to half
    its chord within the last quarter of its span (gamma 0.5 to 2).
    """
    n = min(4, len(xp) - 1)  # a wider baseline than the last two knots
    reach = 0.25 * float(xp[-1] - xp[0])
    i = int(np.searchsorted(xp, xp[0] + reach, side="left"))
    j = int(np.searchsorted(xp, xp[-1] - reach, side="right")) - 1
    i, j = min(max(i, 1), len(xp) - 1), max(min(j, len(xp) - 2), 0)
    slopes = []
    for near, far in (((fp[n] - fp[0]) / max(xp[n] - xp[0], 1e-6), (fp[i] - fp[0]) / max(xp[i] - xp[0], 1e-6)),
                      ((fp[-1] - fp[-1 - n]) / max(xp[-1] - xp[-1 - n], 1e-6),
                       (fp[-1] - fp[j]) / max(xp[-1] - xp[j], 1e-6))):
        slopes.append(float(np.clip(near if near >= 0.5 * far else far, 0.1, 10.0)))
    return slopes[0], slopes[1]


def _interp_extrap(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    y = np.interp(x, xp, fp).astype(np.float32)
    if len(xp) >= 2:
        lo_slope, hi_slope = _end_slopes(xp, fp)
        lo = x < xp[0]
        hi = x > xp[-1]
        y[lo] = fp[0] + lo_slope * (x[lo] - xp[0])
        y[hi] = fp[-1] + hi_slope * (x[hi] - xp[-1])
    return y


def match_bands(before: Scene, after_pixels: np.ndarray) -> np.ndarray:
    """Give float AFTER pixels the band layout of BEFORE.

    Parameters
    ----------
    before : Scene
        Provides the band count (and names) to match.
    after_pixels : ndarray, shape (bands_a, rows, cols)

    Returns
    -------
    ndarray, shape (before.count, rows, cols)
        Bands in BEFORE's order: a missing NIR band is the mean of the visible bands,
        a single BEFORE band takes the visible mean, a single AFTER band is repeated.
    """
    nb, na = before.count, after_pixels.shape[0]
    if na == nb:
        return after_pixels
    vis = after_pixels[: min(3, na)].mean(axis=0)
    if nb == 1:
        return vis[np.newaxis]
    if na == 1:
        return np.repeat(after_pixels, nb, axis=0)
    bands = [after_pixels[k] if k < na else vis for k in range(nb)]
    return np.stack(bands)


def _cloudlike(f: np.ndarray) -> np.ndarray:
    """Very bright, grey pixels (cloud, haze, saturation), shape (rows, cols)."""
    vis = f[: min(3, f.shape[0])]
    lum = vis.mean(axis=0)
    sat = (vis.max(axis=0) - vis.min(axis=0)) / np.maximum(vis.max(axis=0), 1e-3)
    return (lum > 0.97) | ((lum > np.percentile(lum, 99.5)) & (sat < 0.08))


def fit_transfer(
    before: np.ndarray,
    after: np.ndarray,
    *,
    mask: np.ndarray,
    n_bins: int = 48,
    invariant_fraction: float = 0.5,
    iterations: int = 2,
) -> Transfer:
    """Fit a monotone per-band transfer ``before ≈ f(after)`` on invariant pixels.

    Parameters
    ----------
    before, after : ndarray, shape (bands, rows, cols)
        Float pixels on the same grid, same band layout.
    mask : ndarray of bool, shape (rows, cols)
        Pixels that may be used (valid in both, not cloud).
    n_bins : int
        Quantile bins of the AFTER values per band.
    invariant_fraction : float
        Quantile of the residual taken as typical; pixels within three times it are invariant.
    iterations : int
        Refits on the invariant pixels after the first fit (quantile matching of all pixels).

    Returns
    -------
    Transfer

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> b = rng.random((1, 50, 50)).astype(np.float32)
    >>> t = fit_transfer(b, 0.5 * b + 0.1, mask=np.ones((50, 50), bool))
    >>> float(np.abs(t.apply(0.5 * b + 0.1) - b).max()) < 0.02
    True
    """
    idx = np.flatnonzero(mask.ravel())
    if idx.size < 50:
        raise InputError(
            "too few pixels are valid in both dates to match their radiometry; "
            "check that the scenes overlap and are not all cloud"
        )
    step = max(1, idx.size // _MAX_SAMPLES)
    idx = idx[::step]
    nb = before.shape[0]
    b = before.reshape(nb, -1)[:, idx].astype(np.float64)
    a = after.reshape(nb, -1)[:, idx].astype(np.float64)
    # first fit: quantile matching of all common pixels (monotone, no outlier can flip it)
    qs = np.linspace(0.0, 1.0, n_bins + 1)
    knots_a = [np.quantile(a[k], qs) for k in range(nb)]
    knots_b = [np.quantile(b[k], qs) for k in range(nb)]
    knots_a, knots_b = zip(*(_strictly_increasing(x, y) for x, y in zip(knots_a, knots_b, strict=True)), strict=True)
    keep = np.ones(idx.size, dtype=bool)
    for _ in range(iterations):
        resid = np.zeros(idx.size)
        for k in range(nb):
            pred = np.interp(a[k], knots_a[k], knots_b[k])
            resid += (pred - b[k]) ** 2
        # squared residual: within (3 x the typical residual)^2, with a floor of one 8-bit level;
        # a fraction alone would keep only the mid-tones when the residual grows with brightness
        thr = max(9.0 * float(np.quantile(resid, invariant_fraction)), nb * (1.5 / 255.0) ** 2)
        keep = resid <= thr
        knots_a, knots_b = [], []
        for k in range(nb):
            ka, kb = _binned_monotone(a[k, keep], b[k, keep], n_bins)
            knots_a.append(ka)
            knots_b.append(kb)
    n = max(len(v) for v in knots_a)
    ka_arr = np.stack([np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(v)), v) for v in knots_a])
    kb_arr = np.stack([np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(v)), v) for v in knots_b])
    return Transfer(ka_arr.astype(np.float32), kb_arr.astype(np.float32), int(keep.sum()))


def _binned_monotone(a: np.ndarray, b: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Median of ``b`` in quantile bins of ``a``, made non-decreasing."""
    qs = np.unique(np.quantile(a, np.linspace(0, 1, n_bins + 1)))
    if qs.size < 3:
        # (nearly) constant band: offset only
        return np.array([a.min() - 1.0, a.min() + 1.0]), np.array([np.median(b) - 1.0, np.median(b) + 1.0])
    which = np.clip(np.searchsorted(qs, a, side="right") - 1, 0, qs.size - 2)
    xs, ys, ws = [], [], []
    min_count = max(5, int(0.3 * a.size / n_bins))  # a thin bin is a few outliers
    for i in range(qs.size - 1):
        sel = which == i
        if sel.sum() < min_count:
            continue
        xs.append(np.median(a[sel]))
        ys.append(np.median(b[sel]))
        ws.append(sel.sum())
    xs_arr = np.asarray(xs)
    ys_arr = _isotonic(np.asarray(ys), np.asarray(ws, float))
    if xs_arr.size < 2:
        return np.array([xs_arr[0], xs_arr[0] + 1.0]), np.array([ys_arr[0], ys_arr[0] + 1.0])
    return _strictly_increasing(xs_arr, ys_arr)


def _strictly_increasing(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    good = np.concatenate([[True], np.diff(x) > 1e-9])
    x, y = np.asarray(x)[good], np.asarray(y)[good]
    if x.size < 2:
        return np.array([x[0], x[0] + 1.0]), np.array([y[0], y[0] + 1.0])
    return x, y


def _isotonic(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted non-decreasing least-squares fit (pool adjacent violators)."""
    vals, wts, lens = [], [], []
    for yi, wi in zip(y, w, strict=True):
        vals.append(float(yi))
        wts.append(float(wi))
        lens.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            v2, w2, l2 = vals.pop(), wts.pop(), lens.pop()
            v1, w1, l1 = vals.pop(), wts.pop(), lens.pop()
            vals.append((v1 * w1 + v2 * w2) / (w1 + w2))
            wts.append(w1 + w2)
            lens.append(l1 + l2)
    return np.repeat(vals, lens)


def fit_scene_transfer(before: Scene, aligned: Scene, *, invariant_fraction: float = 0.5) -> Transfer:
    """Fit the transfer ``before ≈ f(aligned)`` on the pixels :func:`normalise` would use.

    Valid in both dates, finite, not cloud-like, and, in colour scenes, grey in both dates
    (:data:`airdiff.change.GREY_SATURATION`) when at least :data:`GREY_MIN_SHARE` of them are: concrete,
    asphalt, roofs and aircraft are what the dates share. Grass and soil change colour with
    the season; a fit they dominate tints every grey surface (green to brown grass makes
    grey shadows green), and airframes and their remnants are judged on grey surfaces.
    The scenes may be a sample (e.g. windows of a scene too large for memory) on the same
    grid.

    Raises
    ------
    InputError
        Too few pixels are valid in both dates.
    """
    fb = before.as_float()
    fa = match_bands(before, aligned.as_float())
    mask = before.valid & aligned.valid
    mask &= np.isfinite(fa).all(axis=0) & np.isfinite(fb).all(axis=0)
    mask &= ~_cloudlike(fb) & ~_cloudlike(fa)
    if fb.shape[0] >= 3:
        grey = mask & (saturation(fb) < GREY_SATURATION) & (saturation(fa) < GREY_SATURATION)
        if grey.sum() >= GREY_MIN_SHARE * max(int(mask.sum()), 1):
            mask = grey
    return fit_transfer(fb, fa, mask=mask, invariant_fraction=invariant_fraction)


def normalise(before: Scene, aligned: Scene, *, invariant_fraction: float = 0.5,
              transfer: Transfer | None = None) -> Scene:
    """Match the radiometry of the aligned AFTER scene to BEFORE.

    Parameters
    ----------
    before : Scene
        The reference date.
    aligned : Scene
        The AFTER scene on BEFORE's grid (``aligned.grid`` same as ``before.grid``).
    invariant_fraction : float
        Quantile of the first fit's residual taken as typical (see :func:`fit_transfer`).
    transfer : Transfer, optional
        Use this transfer instead of fitting one (e.g. fitted once on a whole-scene sample,
        so that the tiles of a large scene agree; see :func:`fit_scene_transfer`).

    Returns
    -------
    Scene
        float32 pixels with BEFORE's band layout, scaled like ``before.as_float()``
        (about [0, 1]); ``valid`` is AFTER's; other metadata from ``aligned``.

    Raises
    ------
    InputError
        The grids differ, or too few pixels are valid in both dates.

    Examples
    --------
    >>> import numpy as np
    >>> from airdiff.grid import Grid
    >>> g = Grid.pixel_frame((40, 40), gsd=0.5)
    >>> rng = np.random.default_rng(1)
    >>> b = Scene((rng.random((1, 40, 40)) * 200).astype(np.uint8), g)
    >>> a = Scene((b.pixels * 0.8 + 20).astype(np.uint8), g)
    >>> n = normalise(b, a)
    >>> bool(np.abs(n.pixels - b.as_float()).mean() < 0.01)
    True
    """
    if aligned.grid.shape != before.grid.shape:
        raise InputError(
            f"the AFTER scene ({aligned.grid.shape}) is not on BEFORE's grid ({before.grid.shape}); "
            "align it first (airdiff.register.align)"
        )
    if transfer is None:
        transfer = fit_scene_transfer(before, aligned, invariant_fraction=invariant_fraction)
    fa = match_bands(before, aligned.as_float())
    out = transfer.apply(np.nan_to_num(fa))
    out[:, ~aligned.valid] = 0.0
    log.debug("radiometry fitted on %d invariant pixels", transfer.n_invariant)
    tags = dict(aligned.tags)
    tags["radiometry"] = "monotone per-band transfer on invariant pixels"
    return aligned.replace(pixels=out, band_names=before.band_names or aligned.band_names, tags=tags)
