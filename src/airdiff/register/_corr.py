"""Image features, windows and phase correlation used by the registration steps.

Conventions: arrays are (row, col); a *shift* ``s = (ds_row, ds_col)`` between a reference
and a moving image means ``reference(x) ~ moving(x - s)`` (scikit-image's convention: shift
the moving image by ``s`` to register it with the reference).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import ndimage as ndi

__all__ = [
    "Peak",
    "block_mean",
    "feature_image",
    "hann2d",
    "phase_correlate",
    "phase_correlate_many",
    "prepare",
    "tukey2d",
]

_WORKERS = 2


def tukey1d(n: int, alpha: float) -> np.ndarray:
    """Tukey (tapered cosine) window of length ``n``; ``alpha`` is the tapered fraction."""
    if n < 2 or alpha <= 0:
        return np.ones(n, np.float32)
    x = np.arange(n, dtype=np.float64) / (n - 1)
    w = np.ones(n)
    edge = alpha / 2
    lo = x < edge
    hi = x > 1 - edge
    w[lo] = 0.5 * (1 + np.cos(np.pi * (x[lo] / edge - 1)))
    w[hi] = 0.5 * (1 + np.cos(np.pi * ((x[hi] - 1) / edge + 1)))
    return w.astype(np.float32)


def tukey2d(shape: tuple[int, int], alpha: float = 0.25) -> np.ndarray:
    """Separable 2-D Tukey window, float32, shape ``shape``."""
    return np.outer(tukey1d(shape[0], alpha), tukey1d(shape[1], alpha))


def hann2d(shape: tuple[int, int]) -> np.ndarray:
    """Separable 2-D Hann window, float32, shape ``shape``."""
    return np.outer(np.hanning(shape[0]), np.hanning(shape[1])).astype(np.float32)


def block_mean(img: np.ndarray, valid: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Downsample by an integer ``factor`` with block means (partial edge blocks dropped).

    Pixel-corner coordinates scale exactly: a corner ``x`` at full resolution is ``x / factor``.

    Returns
    -------
    img_f : ndarray float32, shape (rows // factor, cols // factor)
    valid_f : ndarray of bool, same shape; True where the whole block was valid.
    """
    if factor == 1:
        return img.astype(np.float32, copy=False), valid
    r = img.shape[0] // factor
    c = img.shape[1] // factor
    sub = img[: r * factor, : c * factor].astype(np.float32, copy=False)
    out = sub.reshape(r, factor, c, factor).mean(axis=(1, 3), dtype=np.float32)
    v = valid[: r * factor, : c * factor].reshape(r, factor, c, factor).all(axis=(1, 3))
    return out, v


def feature_image(lum: np.ndarray, usable: np.ndarray, *, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Gradient magnitude of the smoothed brightness, zero outside the usable area.

    The gradient magnitude does not depend on the sign of a contrast, nor on an offset,
    so it is much more alike across dates, seasons and sensors than the brightness itself.

    Parameters
    ----------
    lum : ndarray, shape (rows, cols)
        Brightness, about 0..1.
    usable : ndarray of bool, shape (rows, cols)
        Pixels with data and not saturated (cloud-like).
    sigma : float
        Gaussian scale of the derivative, pixels.

    Returns
    -------
    feat : ndarray float32, shape (rows, cols)
        Zero outside ``inner``.
    inner : ndarray of bool, shape (rows, cols)
        ``usable`` eroded so that no feature value sees a no-data edge.
    """
    lum = lum.astype(np.float32, copy=False)
    if not usable.all():
        fill = np.float32(lum[usable].mean()) if usable.any() else np.float32(0)
        lum = np.where(usable, lum, fill)
        inner = ndi.binary_erosion(usable, iterations=int(np.ceil(3 * sigma)) + 1, border_value=1)
    else:
        inner = usable
    feat = ndi.gaussian_gradient_magnitude(lum, sigma, output=np.float32)
    if not inner.all():
        feat[~inner] = 0
    return feat, inner


def prepare(feat: np.ndarray, weight: np.ndarray, window: np.ndarray | None) -> np.ndarray:
    """Zero-mean (over ``weight > 0``) feature times ``weight`` times ``window``, float32.

    ``feat`` and ``weight`` may be stacks (..., rows, cols): each image is prepared alone.
    """
    w = weight.astype(np.float32, copy=False)
    axes = (-2, -1)
    sw = w.sum(axis=axes, dtype=np.float64, keepdims=True)
    mean = (feat * w).sum(axis=axes, dtype=np.float64, keepdims=True) / np.where(sw > 0, sw, 1.0)
    out = (feat - mean.astype(np.float32)) * w
    if window is not None:
        out *= window
    return out.astype(np.float32, copy=False)


@dataclass(frozen=True)
class Peak:
    """A correlation peak.

    shift_rc : (row, col) shift, see the module's convention.
    height : normalised correlation at the peak (phase correlation: 0..1).
    ratio : peak height over the highest value away from the peak (>= 1; ~1 for noise).
    """

    shift_rc: np.ndarray
    height: float
    ratio: float


def _signed(idx: np.ndarray, n: int) -> np.ndarray:
    return np.where(idx > n // 2, idx - n, idx)


def phase_correlate(ref: np.ndarray, mov: np.ndarray, **options) -> Peak:
    """Phase correlation of two equally shaped, already windowed images.

    ``ref`` and ``mov`` have shape (rows, cols); ``options`` are those of
    :func:`phase_correlate_many`. Returns the :class:`Peak`, ``ref(x) ~ mov(x - peak.shift_rc)``.
    """
    shifts, heights, ratios = phase_correlate_many(ref[None], mov[None], **options)
    return Peak(shifts[0], float(heights[0]), float(ratios[0]))


def phase_correlate_many(
    ref: np.ndarray,
    mov: np.ndarray,
    *,
    max_shift: float | tuple[float, float] | None = None,
    shift_bounds: tuple[tuple[float, float], tuple[float, float]] | None = None,
    upsample: int = 1,
    low_cut: float = 0.0,
    high_cut: float = 0.4,
    exclude: int = 3,
    workers: int = _WORKERS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phase correlation of a stack of window pairs at once.

    One call does the work of n pairs without n rounds of Python, and its FFTs spread over
    ``workers`` threads.

    Parameters
    ----------
    ref, mov : ndarray float32, shape (n, rows, cols)
        Zero-mean, windowed images. Pad them beforehand when large shifts must not wrap.
    max_shift : float or (float, float), optional
        Only peaks with ``|shift| <= max_shift`` per axis (row, col) are considered.
    shift_bounds : ((row_lo, row_hi), (col_lo, col_hi)), optional
        Alternative to ``max_shift``: an asymmetric range of allowed shifts.
    upsample : int
        Sub-pixel refinement by matrix-multiply DFT on a grid of 1/upsample pixel around
        the integer peak, then a parabolic fit; 1 means a parabolic fit on the integer grid.
    low_cut, high_cut : float
        Gaussian band-pass on the cross-power spectrum, cycles per pixel.
    exclude : int
        Half-size of the neighbourhood of the peak ignored when looking for the runner-up.
    workers : int
        Threads of each FFT.

    Returns
    -------
    shifts : ndarray, shape (n, 2)
        (row, col) shifts: ``ref(x) ~ mov(x - shift)``.
    heights : ndarray, shape (n,)
        Normalised correlation at each peak (0..1).
    ratios : ndarray, shape (n,)
        Peak height over the highest value away from the peak. A pair without a positive
        peak has shift 0, height 0 and ratio 1.
    """
    n, *shape = ref.shape
    shape = tuple(shape)
    axes = (-2, -1)
    fa = sfft.rfft2(ref, axes=axes, workers=workers)
    fb = sfft.rfft2(mov, axes=axes, workers=workers)
    cross = fa * np.conj(fb)
    del fa, fb
    mag = np.abs(cross)
    floor = np.maximum(mag.max(axis=axes, keepdims=True) * np.float32(1e-6), np.finfo(np.float32).tiny)
    wgt, gain = _band_pass(shape, high_cut, low_cut)
    # whiten and band-pass in one real factor (a complex division costs 4x a product)
    cross *= wgt / np.maximum(mag, floor)
    del mag
    corr = sfft.irfft2(cross, s=shape, axes=axes, workers=workers) * gain

    rows, cols = _signed_axes(shape)
    row_ok = col_ok = None
    if shift_bounds is not None:
        (r0, r1), (c0, c1) = shift_bounds
        row_ok, col_ok = (rows >= r0) & (rows <= r1), (cols >= c0) & (cols <= c1)
    elif max_shift is not None:
        mr, mc = (max_shift, max_shift) if np.isscalar(max_shift) else max_shift
        row_ok, col_ok = np.abs(rows) <= mr, np.abs(cols) <= mc
    # the allowed shifts are a product of rows and columns: search only that block
    ri = np.arange(shape[0]) if row_ok is None else np.flatnonzero(row_ok)
    ci = np.arange(shape[1]) if col_ok is None else np.flatnonzero(col_ok)
    search = corr if row_ok is None else corr[:, ri[:, None], ci[None, :]]
    idx = np.arange(n)
    if search.shape[1] == 0 or search.shape[2] == 0:
        pr = pc = np.zeros(n, np.intp)
        height = np.zeros(n)
        other = np.full(n, -np.inf)
    else:
        sr, sc = np.divmod(np.argmax(search.reshape(n, -1), axis=1), search.shape[2])
        pr, pc = ri[sr], ci[sc]
        height = corr[idx, pr, pc].astype(np.float64)
        # runner-up away from the peak (circular neighbourhood)
        dr = np.abs(_signed((ri[None, :] - pr[:, None]) % shape[0], shape[0])) <= exclude
        dc = np.abs(_signed((ci[None, :] - pc[:, None]) % shape[1], shape[1])) <= exclude
        other = np.where(dr[:, :, None] & dc[:, None, :], -np.inf, search).reshape(n, -1).max(axis=1)
    second = np.where(np.isfinite(other), other, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(second > 0, height / np.where(second > 0, second, 1.0), np.inf)

    base = np.column_stack([rows[pr], cols[pc]]).astype(np.float64)
    if upsample <= 1:
        shift = base + _parabolic_at(corr, pr, pc, wrap=True)
    else:
        shift = _refine_dft(cross, shape, base, upsample)
    bad = ~np.isfinite(height) | (height <= 0)
    shift[bad] = 0.0
    height[bad] = 0.0
    ratio[bad] = 1.0
    return shift, height, ratio


@functools.lru_cache(maxsize=16)
def _band_pass(shape: tuple[int, int], high_cut: float, low_cut: float) -> tuple[np.ndarray, np.float32]:
    """Gaussian band-pass on an rfft2 half spectrum, and the gain that makes a perfect match 1."""
    fr = sfft.fftfreq(shape[0]).astype(np.float32)
    fc = sfft.rfftfreq(shape[1]).astype(np.float32)
    f2 = fr[:, None] ** 2 + fc[None, :] ** 2
    wgt = np.exp(-f2 / np.float32(high_cut**2))
    if low_cut > 0:
        wgt *= 1 - np.exp(-f2 / np.float32(low_cut**2))
    # the half spectrum stands for the full one: inner columns count twice
    norm = 2 * float(wgt.sum()) - float(wgt[:, 0].sum()) - (float(wgt[:, -1].sum()) if shape[1] % 2 == 0 else 0.0)
    wgt.flags.writeable = False
    return wgt, np.float32(shape[0] * shape[1] / max(norm, 1e-12))


@functools.lru_cache(maxsize=16)
def _signed_axes(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Signed shifts of the rows and columns of a correlation surface of ``shape``."""
    out = tuple(_signed(np.arange(n), n) for n in shape)
    for a in out:
        a.flags.writeable = False
    return out


def _parabolic_at(surf: np.ndarray, i: np.ndarray, j: np.ndarray, *, wrap: bool = False) -> np.ndarray:
    """Parabolic sub-sample offsets (n, 2) of the maxima at (``i``, ``j``) of a stack of
    surfaces (n, m0, m1). With ``wrap`` the surfaces are periodic (a correlation surface);
    without, an axis whose peak is on the border keeps 0."""
    k = np.arange(len(surf))
    m0, m1 = surf.shape[1:]
    out = np.zeros((len(surf), 2))
    c = surf[k, i, j]
    for axis, (idx, m) in enumerate(((i, m0), (j, m1))):
        if wrap:
            inner = np.ones(len(surf), bool)
            lo, hi = (idx - 1) % m, (idx + 1) % m
        else:
            inner = (idx > 0) & (idx < m - 1)
            lo = np.where(inner, idx - 1, idx)
            hi = np.where(inner, idx + 1, idx)
        a = surf[k, lo, j] if axis == 0 else surf[k, i, lo]
        b = surf[k, hi, j] if axis == 0 else surf[k, i, hi]
        den = a - 2 * c + b
        ok = inner & (den < 0)
        out[ok, axis] = np.clip(0.5 * (a - b)[ok] / den[ok], -0.5, 0.5)
    return out


def _refine_dft(half: np.ndarray, shape: tuple[int, int], base: np.ndarray, up: int) -> np.ndarray:
    """Sub-pixel peaks by evaluating the inverse DFTs on a fine grid around ``base``.

    ``half`` (n, rows, cols // 2 + 1) rfft2 half spectra of surfaces of ``shape``, ``base``
    (n, 2) integer peaks; returns (n, 2). A real surface is the real part of the sum over the
    half spectrum with its inner columns counted twice (Hermitian symmetry), so the full
    spectrum is never built.
    """
    n = half.shape[0]
    n0, n1 = shape
    n_half = int(np.ceil(0.75 * up))  # the true peak is within 0.5 px of the integer one
    offs = np.arange(-n_half, n_half + 1, dtype=np.float64) / up
    fr = sfft.fftfreq(n0)
    fc = sfft.rfftfreq(n1)
    twice = np.full(len(fc), 2.0)
    twice[0] = 1.0
    if n1 % 2 == 0:
        twice[-1] = 1.0
    # exp(2 pi i (base + off) f) = exp(2 pi i base f) exp(2 pi i off f): one small table of
    # exponentials shared by all windows, times a phase per window
    tab_r = np.exp(2j * np.pi * offs[:, None] * fr[None, :]).astype(np.complex64)  # (m, rows)
    tab_c = (twice[:, None] * np.exp(2j * np.pi * fc[:, None] * offs[None, :])).astype(np.complex64)
    er = np.exp(2j * np.pi * base[:, :1] * fr[None, :]).astype(np.complex64)[:, None, :] * tab_r
    ec = np.exp(2j * np.pi * base[:, 1:] * fc[None, :]).astype(np.complex64)[:, :, None] * tab_c
    fine = ((er @ half) @ ec).real
    m = fine.shape[1]
    i, j = np.divmod(np.argmax(fine.reshape(n, -1), axis=1), m)
    sub = _parabolic_at(fine, i, j)
    return base + (offs[np.column_stack([i, j])] + sub / up)
