"""Resampling: AFTER onto a common grid (CRS + GSD), and AFTER through a registration."""

from __future__ import annotations

import logging

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject
from scipy import ndimage as ndi

from ..errors import NoOverlapError
from ..grid import Grid
from ..scene import Scene
from ._fit import before_to_after
from .model import Registration

__all__ = ["common_grid", "check_overlap", "apply", "window_registration", "after_window"]

log = logging.getLogger(__name__)

# any projected CRS works as a stand-in for the pixel frame: source and destination share it
_FRAME_CRS = CRS.from_epsg(3857)


def _lonlat_extent(grid: Grid) -> str:
    lon, lat = grid.to_lonlat(*grid.outline_xy(9))

    def fmt(v, pos, neg):
        return f"{abs(v):.4f}°{pos if v >= 0 else neg}"

    return (f"{fmt(lon.min(), 'E', 'W')}–{fmt(lon.max(), 'E', 'W')}, "
            f"{fmt(lat.min(), 'N', 'S')}–{fmt(lat.max(), 'N', 'S')}")


def _footprint_in(grid: Grid, crs: CRS):
    """Outline of ``grid`` (densified) in ``crs`` as a shapely Polygon."""
    from shapely.geometry import Polygon

    from ..grid import _transformer

    x, y = grid.outline_xy(17)
    if grid.crs != crs:
        x, y = _transformer(grid.crs.to_wkt(), crs.to_wkt()).transform(x, y)
    return Polygon(np.column_stack([x, y]))


def _reproject_scene(after: Scene, src_transform, src_crs, dst_grid_shape, dst_transform, dst_crs,
                     resampling: Resampling) -> tuple[np.ndarray, np.ndarray]:
    bands = after.pixels
    dtype = bands.dtype
    if dtype == np.bool_ or dtype == np.int8:
        bands = bands.astype(np.uint8)
        dtype = bands.dtype
    out = np.zeros((after.count, *dst_grid_shape), dtype)
    reproject(
        source=np.ascontiguousarray(bands),
        destination=out,
        src_transform=src_transform,
        src_crs=src_crs,
        dst_transform=dst_transform,
        dst_crs=dst_crs,
        resampling=resampling,
        num_threads=2,
    )
    valid = np.zeros(dst_grid_shape, np.uint8)
    reproject(
        source=after.valid.astype(np.uint8),
        destination=valid,
        src_transform=src_transform,
        src_crs=src_crs,
        dst_transform=dst_transform,
        dst_crs=dst_crs,
        src_nodata=0,
        dst_nodata=0,
        resampling=Resampling.nearest,
    )
    valid = valid.astype(bool)
    # a resampling kernel next to no-data mixes in fill values: drop that rim
    valid = ndi.binary_erosion(valid, iterations=1, border_value=1)
    if not valid.all():
        out[:, ~valid] = 0
    return out, valid


def check_overlap(before: Grid, after: Grid, *, margin_m: float = 150.0,
                  names: tuple[str, str] = ("BEFORE", "AFTER")) -> None:
    """Raise :class:`~airdiff.errors.NoOverlapError` when two georeferenced grids miss each
    other by more than ``margin_m``."""
    fa = _footprint_in(after, before.crs)
    fb = _footprint_in(before, before.crs)
    if not fa.buffer(margin_m / before.metres_per_unit).intersects(fb):
        raise NoOverlapError(
            f"{names[1]} and {names[0]} do not overlap ({names[1]} covers {_lonlat_extent(after)}; "
            f"{names[0]} covers {_lonlat_extent(before)}); check that both show the same airfield"
        )


def common_grid(before: Scene, after: Scene, *, margin_m: float = 150.0,
                resampling: Resampling = Resampling.bilinear) -> Scene:
    """AFTER resampled to BEFORE's CRS and ground sample distance.

    Parameters
    ----------
    before, after : Scene
    margin_m : float, keyword-only
        Georeferenced footprints may miss each other by this much (an error of the
        georeference) before :class:`~airdiff.errors.NoOverlapError` is raised.
    resampling : rasterio.enums.Resampling, keyword-only
        Kernel for the bands; the validity mask always uses nearest.

    Returns
    -------
    Scene
        - both georeferenced: AFTER on BEFORE's exact grid (same shape, transform, CRS);
          pixels off AFTER's footprint are invalid.
        - AFTER in the pixel frame (or BEFORE in the pixel frame): AFTER rescaled to
          BEFORE's GSD, in the pixel frame, keeping its own extent.

    Raises
    ------
    NoOverlapError
        Both are georeferenced and their footprints are more than ``margin_m`` apart.

    Examples
    --------
    >>> import numpy as np
    >>> from airdiff.grid import Grid
    >>> from airdiff.scene import Scene
    >>> b = Scene(np.zeros((1, 40, 40), np.uint8), Grid.pixel_frame((40, 40), gsd=0.5))
    >>> a = Scene(np.zeros((1, 20, 20), np.uint8), Grid.pixel_frame((20, 20), gsd=1.0))
    >>> common_grid(b, a).grid.shape
    (40, 40)
    """
    bg, ag = before.grid, after.grid
    if bg.is_georeferenced and ag.is_georeferenced:
        if ag.same_as(bg):
            return after
        check_overlap(bg, ag, margin_m=margin_m, names=(before.name or "BEFORE", after.name or "AFTER"))
        pixels, valid = _reproject_scene(after, ag.transform, ag.crs, bg.shape, bg.transform,
                                         bg.crs, resampling)
        if not valid.any():
            log.warning("AFTER has no valid pixel on BEFORE's grid (footprints only touch)")
        return after.replace(pixels=pixels, grid=bg, valid=valid)

    # at least one side in the pixel frame: rescale AFTER's own pixel grid to BEFORE's GSD
    gb, ga = bg.gsd, ag.gsd
    if abs(ga / gb - 1) < 1e-9 and not ag.is_georeferenced:
        return after
    rows, cols = ag.shape
    shape = (max(1, int(round(rows * ga / gb))), max(1, int(round(cols * ga / gb))))
    src_t = Affine.scale(ga)
    dst_t = Affine.scale(gb)
    resamp = resampling
    if ga / gb < 0.75 and resampling in (Resampling.bilinear, Resampling.cubic):
        resamp = Resampling.average  # strong downsampling: avoid aliasing
    pixels, valid = _reproject_scene(after, src_t, _FRAME_CRS, shape, dst_t, _FRAME_CRS, resamp)
    return after.replace(pixels=pixels, grid=Grid.pixel_frame(shape, gb), valid=valid)


def before_to_after_px(registration: Registration, cols, rows) -> tuple[np.ndarray, np.ndarray]:
    """AFTER (common grid) corner coordinates of BEFORE corner coordinates (model + warp)."""
    return before_to_after(np.linalg.inv(registration.matrix), registration.warp, cols, rows)


def window_registration(registration: Registration, before_rc: tuple[int, int],
                        after_rc: tuple[int, int]) -> Registration:
    """The same registration between a BEFORE window and an AFTER window.

    Parameters
    ----------
    registration : Registration
        Between the whole scenes.
    before_rc, after_rc : (int, int)
        (row, col) offsets of the windows' top-left pixels in their scenes.

    Returns
    -------
    Registration
        Mapping window pixels to window pixels (matrix and warp nodes shifted), for
        :func:`apply` on a window.

    Examples
    --------
    >>> import numpy as np
    >>> reg = Registration(np.array([[1.0, 0, 2.5], [0, 1, -1], [0, 0, 1]]), ok=True, confidence=1)
    >>> w = window_registration(reg, (100, 200), (90, 195))
    >>> before_to_after_px(w, [10.0], [20.0])  # doctest: +NORMALIZE_WHITESPACE
    (array([12.5]), array([31.]))
    """
    from dataclasses import replace

    br, bc = before_rc
    ar, ac = after_rc
    t_b = np.array([[1.0, 0, -bc], [0, 1, -br], [0, 0, 1]])
    t_a = np.array([[1.0, 0, ac], [0, 1, ar], [0, 0, 1]])
    warp = registration.warp
    if warp is not None:
        warp = replace(warp, node_rows=warp.node_rows - br, node_cols=warp.node_cols - bc)
    return replace(registration, matrix=t_b @ registration.matrix @ t_a, warp=warp)


def after_window(registration: Registration, row_off: int, col_off: int, height: int, width: int,
                 after_shape: tuple[int, int], *, margin: int = 16) -> tuple[int, int, int, int] | None:
    """The AFTER pixel window (row_off, col_off, height, width) a BEFORE window maps into.

    Sampled on the window's outline and inside (the warp is smooth), grown by ``margin``
    pixels and clipped to ``after_shape``; None when it misses AFTER.
    """
    n = 9
    rr = row_off + np.linspace(0, height, n)
    cc = col_off + np.linspace(0, width, n)
    ac, ar = before_to_after(np.linalg.inv(registration.matrix), registration.warp, cc, rr, grid=True)
    r0 = int(np.floor(ar.min())) - margin
    r1 = int(np.ceil(ar.max())) + margin
    c0 = int(np.floor(ac.min())) - margin
    c1 = int(np.ceil(ac.max())) + margin
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1, after_shape[0]), min(c1, after_shape[1])
    if r1 <= r0 or c1 <= c0:
        return None
    return r0, c0, r1 - r0, c1 - c0


def apply(after: Scene, registration: Registration, grid: Grid, *, order: int = 3,
          block_rows: int = 512) -> Scene:
    """Resample AFTER (on its common grid) onto BEFORE's grid through a registration.

    Parameters
    ----------
    after : Scene
        The output of :func:`common_grid`.
    registration : Registration
        Maps AFTER pixels to BEFORE pixels.
    grid : Grid
        BEFORE's grid (the registration's BEFORE pixel frame).
    order : int, keyword-only
        Spline order of the interpolation: 1 (bilinear) or 3 (cubic, clipped to the
        input range).
    block_rows : int, keyword-only
        Rows resampled at once; bounds the memory used.

    Returns
    -------
    Scene
        On ``grid``, AFTER's dtype, bands, time, name and credit; ``valid`` is False where
        the sample falls outside AFTER's valid area (eroded by one pixel).

    Examples
    --------
    >>> import numpy as np
    >>> from airdiff.grid import Grid
    >>> from airdiff.scene import Scene
    >>> from airdiff.register import Registration
    >>> g = Grid.pixel_frame((8, 8), gsd=1.0)
    >>> a = Scene(np.arange(64, dtype=np.uint8).reshape(1, 8, 8), g)
    >>> m = np.array([[1.0, 0, 1], [0, 1, 0], [0, 0, 1]])  # AFTER col c is BEFORE col c + 1
    >>> out = apply(a, Registration(m, ok=True, confidence=1.0), g, order=1)
    >>> int(out.pixels[0, 0, 3]), bool(out.valid[0, 0])
    (2, False)
    """
    if order not in (0, 1, 3):
        raise ValueError(f"order must be 0, 1 or 3, got {order}")
    rows_out, cols_out = grid.shape
    src = after.pixels
    dtype = src.dtype
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        lo, hi = float(info.min), float(info.max)
    else:
        lo, hi = -np.inf, np.inf
    out = np.zeros((after.count, rows_out, cols_out), dtype)
    valid_out = np.zeros((rows_out, cols_out), bool)
    # no-data edges inside AFTER are eroded; its outer border is handled by ``inside``
    vmask = ndi.binary_erosion(after.valid, iterations=1, border_value=1)
    ar_n, ac_n = after.shape
    margin = 8 if order == 3 else 2
    cc = np.arange(cols_out, dtype=np.float64) + 0.5
    g = np.linalg.inv(registration.matrix)
    for r0 in range(0, rows_out, block_rows):
        r1 = min(rows_out, r0 + block_rows)
        rr = np.arange(r0, r1, dtype=np.float64) + 0.5
        ac, ar = before_to_after(g, registration.warp, cc, rr, grid=True)
        ic = ac - 0.5  # AFTER pixel-index coordinates
        ir = ar - 0.5
        del ac, ar
        ii = np.rint(ir).astype(np.int64)
        jj = np.rint(ic).astype(np.int64)
        inside = (ii >= 0) & (ii < ar_n) & (jj >= 0) & (jj < ac_n)
        v = np.zeros(inside.shape, bool)
        v[inside] = vmask[ii[inside], jj[inside]]
        if not v.any():
            continue
        valid_out[r0:r1] = v
        # the AFTER sub-array these rows need
        sr0 = int(max(0, np.floor(ir[v].min()) - margin))
        sr1 = int(min(ar_n, np.ceil(ir[v].max()) + margin + 1))
        sc0 = int(max(0, np.floor(ic[v].min()) - margin))
        sc1 = int(min(ac_n, np.ceil(ic[v].max()) + margin + 1))
        coords = np.stack([ir - sr0, ic - sc0])
        for b in range(after.count):
            sub = src[b, sr0:sr1, sc0:sc1].astype(np.float32)
            val = ndi.map_coordinates(sub, coords, order=order, mode="nearest", output=np.float32)
            if order == 3:
                np.clip(val, lo, hi, out=val)
            if np.issubdtype(dtype, np.integer):
                val = np.rint(val)
            val[~v] = 0
            out[b, r0:r1] = val.astype(dtype)
    return Scene(
        pixels=out,
        grid=grid,
        valid=valid_out,
        acquired=after.acquired,
        name=after.name,
        credit=after.credit,
        band_names=after.band_names,
        tags=dict(after.tags),
    )
