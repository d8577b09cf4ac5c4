"""Footprints on the raster: the pixel window of a geometry and its mask there."""

from __future__ import annotations

import numpy as np


def window(geom, grid, pad_px: int = 2):
    """Pixel window (row slice, col slice) covering ``geom`` and its mask there."""
    from rasterio import features

    minx, miny, maxx, maxy = geom.bounds
    rows, cols = grid.rowcol(np.array([minx, maxx, minx, maxx]), np.array([miny, miny, maxy, maxy]))
    r0 = max(int(np.floor(rows.min())) - pad_px, 0)
    r1 = min(int(np.ceil(rows.max())) + pad_px, grid.height)
    c0 = max(int(np.floor(cols.min())) - pad_px, 0)
    c1 = min(int(np.ceil(cols.max())) + pad_px, grid.width)
    if r1 <= r0 or c1 <= c0:
        return None, None
    win = (slice(r0, r1), slice(c0, c1))
    m = features.geometry_mask([geom], out_shape=(r1 - r0, c1 - c0), transform=window_transform(grid, win),
                               invert=True, all_touched=False)
    return win, m


def window_transform(grid, win):
    """Pixel-to-map transform of a (row slice, col slice) window of ``grid``."""
    return grid.transform @ grid.transform.translation(win[1].start, win[0].start)


def mean_in(arr: np.ndarray, geom, grid) -> float:
    """Mean of ``arr`` inside ``geom``; NaN where it covers no pixel."""
    win, m = window(geom, grid)
    if win is None or not m.any():
        return float("nan")
    return float(arr[win][m].mean())


def median_in(arr: np.ndarray, geom, grid) -> float:
    """Median of ``arr`` inside ``geom``; NaN where it covers no pixel."""
    win, m = window(geom, grid)
    if win is None or not m.any():
        return float("nan")
    return float(np.median(arr[win][m]))


def frac_in(mask: np.ndarray, geom, grid) -> float:
    """Share of ``geom``'s pixels where ``mask`` is True; 1 where it covers none."""
    win, m = window(geom, grid)
    if win is None or not m.any():
        return 1.0
    return float(mask[win][m].mean())
