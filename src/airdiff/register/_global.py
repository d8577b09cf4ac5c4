"""Global model on a coarse pyramid level: rotation/scale (Fourier–Mellin) and translation."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import ndimage as ndi

from ._corr import Peak, phase_correlate, tukey1d

log = logging.getLogger(__name__)


def linear_part(rot_deg: float, scale: float) -> np.ndarray:
    """2x2 matrix acting on (col, row): rotation by ``rot_deg`` (col axis towards row axis)."""
    t = np.radians(rot_deg)
    return scale * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def _highpass(n: int) -> np.ndarray:
    f = np.fft.fftshift(np.fft.fftfreq(n))
    x = np.cos(np.pi * f)[:, None] * np.cos(np.pi * f)[None, :]
    return ((1 - x) * (2 - x)).astype(np.float32)


def _log_polar_spectrum(img: np.ndarray, n: int, n_ang: int, n_rad: int, r_min: float,
                        r_max: float) -> np.ndarray:
    spec = np.abs(np.fft.fftshift(sfft.fft2(img, s=(n, n), workers=2))).astype(np.float32)
    spec *= _highpass(n)
    theta = np.arange(n_ang) * (np.pi / n_ang)
    rho = r_min * np.exp(np.arange(n_rad) * (np.log(r_max / r_min) / n_rad))
    c = n // 2
    rr = c - rho[None, :] * np.sin(theta)[:, None]
    cc = c + rho[None, :] * np.cos(theta)[:, None]
    lp = ndi.map_coordinates(spec, [rr, cc], order=1, mode="constant", cval=0.0, output=np.float32)
    return lp


def fourier_mellin(pb: np.ndarray, pa: np.ndarray, *, max_rot_deg: float,
                   max_scale_change: float) -> tuple[float, float, Peak]:
    """Rotation and scale of AFTER relative to BEFORE from their amplitude spectra.

    ``pb``, ``pa`` are prepared (zero-mean, windowed) feature images, any shapes.
    Returns (rot_deg, scale, peak) with BEFORE ~ rot/scale applied to AFTER
    (see :func:`linear_part`).
    """
    n = int(2 ** np.ceil(np.log2(max(*pb.shape, *pa.shape))))
    n_ang, n_rad = 360, 256
    r_min, r_max = max(2.0, 0.02 * n), 0.45 * n
    lb = _log_polar_spectrum(pb, n, n_ang, n_rad, r_min, r_max)
    la = _log_polar_spectrum(pa, n, n_ang, n_rad, r_min, r_max)
    w = tukey1d(n_rad, 0.5)[None, :]
    lb = (lb - lb.mean()) * w
    la = (la - la.mean()) * w
    d_log = np.log(r_max / r_min) / n_rad
    max_rb = max_rot_deg / (180.0 / n_ang) + 2
    max_sb = np.log(1 + max_scale_change) / d_log + 2
    peak = phase_correlate(lb, la, max_shift=(max_rb, max_sb), upsample=10, high_cut=0.5)
    # ref(x) = mov(x - s): the BEFORE spectrum is the AFTER one rotated by s_row bins
    rot = -peak.shift_rc[0] * (180.0 / n_ang)
    # BEFORE = scale * AFTER: AFTER's features are 1/scale larger, its spectrum scale larger
    scale = float(np.exp(-peak.shift_rc[1] * d_log))
    return float(rot), scale, peak


def warp_linear(img: np.ndarray, lin: np.ndarray, centre_cr: np.ndarray, out_shape) -> np.ndarray:
    """Resample ``img`` so that ``out(x) = img(lin^-1 (x - c) + c)``; corner coords (col, row)."""
    inv = np.linalg.inv(lin)
    # in (row, col) index coordinates: index = corner - 0.5
    m_rc = inv[::-1, ::-1]
    c_rc = centre_cr[::-1] - 0.5
    offset = c_rc - m_rc @ c_rc
    return ndi.affine_transform(img, m_rc, offset=offset, output_shape=out_shape, order=1,
                                mode="constant", cval=0.0, output=np.float32)


def _half(img: np.ndarray) -> np.ndarray:
    r, c = img.shape[0] // 2, img.shape[1] // 2
    return img[: 2 * r, : 2 * c].reshape(r, 2, c, 2).mean(axis=(1, 3), dtype=np.float32)


@dataclass(frozen=True)
class GlobalResult:
    matrix: np.ndarray  # 3x3, AFTER corner (col,row) -> BEFORE corner, at the coarse level
    peak: Peak
    rot_deg: float
    scale: float
    fm_peak: Peak | None


def _translation(pb, pa_w, *, shared: bool, max_off: float, min_overlap: float) -> Peak:
    hb, wb = pb.shape
    ha, wa = pa_w.shape
    if shared:
        m = int(np.ceil(max_off)) + 4
        shape = (sfft.next_fast_len(max(hb, ha) + m), sfft.next_fast_len(max(wb, wa) + m))
        bounds = None
        max_shift = max_off + 2
    else:
        shape = (sfft.next_fast_len(hb + ha), sfft.next_fast_len(wb + wa))
        ovr = min_overlap * min(hb, ha)
        ovc = min_overlap * min(wb, wa)
        bounds = ((ovr - ha, hb - ovr), (ovc - wa, wb - ovc))
        max_shift = None
    cb = np.zeros(shape, np.float32)
    ca = np.zeros(shape, np.float32)
    cb[:hb, :wb] = pb
    ca[:ha, :wa] = pa_w
    return phase_correlate(cb, ca, max_shift=max_shift, shift_bounds=bounds, upsample=1,
                           low_cut=0.01, high_cut=0.35, exclude=3)


def global_model(pb: np.ndarray, pa: np.ndarray, *, shared: bool, max_off: float,
                 max_rot_deg: float, max_scale_change: float,
                 min_overlap: float = 0.25) -> GlobalResult:
    """Best rotation/scale/translation at the coarse level.

    Parameters
    ----------
    pb, pa : ndarray float32
        Prepared BEFORE and AFTER feature images (coarse level).
    shared : bool
        Both share a georeferenced frame: translations are limited to ``max_off`` pixels.
        Otherwise any translation leaving ``min_overlap`` of the smaller side is searched.
    """
    try:
        rot_fm, scale_fm, fm_peak = fourier_mellin(pb, pa, max_rot_deg=max_rot_deg,
                                                   max_scale_change=max_scale_change)
    except (ValueError, FloatingPointError):  # degenerate spectra
        rot_fm, scale_fm, fm_peak = 0.0, 1.0, None
    cands = [(0.0, 1.0)]
    if fm_peak is not None and fm_peak.height > 0:
        rot_fm = float(np.clip(rot_fm, -max_rot_deg, max_rot_deg))
        scale_fm = float(np.clip(scale_fm, 1 - max_scale_change, 1 + max_scale_change))
        if abs(rot_fm) > 0.05 or abs(scale_fm - 1) > 0.002:
            cands.append((rot_fm, scale_fm))
    centre = np.array([pa.shape[1] / 2.0, pa.shape[0] / 2.0])

    def trial(rot, scale):
        lin = linear_part(rot, scale)
        pa_w = warp_linear(pa, lin, centre, pa.shape)
        return _translation(pb, pa_w, shared=shared, max_off=max_off, min_overlap=min_overlap)

    results = [(trial(r, s), r, s) for r, s in cands]
    best = max(results, key=lambda t: t[0].height)
    if best[0].ratio < 3.0 and (max_rot_deg > 0.5 or max_scale_change > 0.01):
        # Fourier–Mellin unsure: search a grid of rotations and scales at half resolution
        hb = _half(pb)
        ha = _half(pa)
        hc = np.array([ha.shape[1] / 2.0, ha.shape[0] / 2.0])
        n_r = int(np.ceil(2 * max_rot_deg / 1.5)) + 1
        n_s = int(np.ceil(2 * max_scale_change / 0.03)) + 1
        grid = []
        for r in np.linspace(-max_rot_deg, max_rot_deg, max(n_r, 1)):
            for s in np.linspace(1 - max_scale_change, 1 + max_scale_change, max(n_s, 1)):
                pa_w = warp_linear(ha, linear_part(r, s), hc, ha.shape)
                pk = _translation(hb, pa_w, shared=shared, max_off=max_off / 2,
                                  min_overlap=min_overlap)
                grid.append((pk.height, float(r), float(s)))
        grid.sort(reverse=True)
        for _, r, s in grid[:2]:
            results.append((trial(r, s), r, s))
        best = max(results, key=lambda t: t[0].height)
    peak, rot, scale = best
    lin = linear_part(rot, scale)
    t = centre + peak.shift_rc[::-1] - lin @ centre
    m = np.eye(3)
    m[:2, :2] = lin
    m[:2, 2] = t
    log.debug("global: rot %.3f scale %.4f shift %s peak %.3f ratio %.2f (FM %.3f, %.4f)",
              rot, scale, peak.shift_rc, peak.height, peak.ratio, rot_fm, scale_fm)
    return GlobalResult(m, peak, rot, scale, fm_peak)
