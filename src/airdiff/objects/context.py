"""Airfield context without a map: paved surfaces segmented from the BEFORE image.

Paved surfaces are grey (low saturation), unlike grass and soil, and mostly smooth at the
scale of a few metres (slab joints, markings and rubber make runways and taxiways textured
in places; without colour, smoothness is all there is). Their shape tells them apart:

- the **runway** is the longest straight grey band at least about 30 m wide (typically
  45–60 m, shoulders included) and 400 m long, or half the scene's shorter side where that
  is less (a scene often shows only part of it: at 0.3 m, 2000 px span 600 m). It is
  looked for first, with whatever joins it (taxiway junctions widen it), and cut out by
  its own width;
- the **apron** is a large compact grey area, off the runway, where a disk of about 60 m fits;
- **taxiways** are the other paved strips joined to the runway or an apron (typically
  15–25 m wide).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage as ndi
from shapely.geometry import MultiPolygon, shape
from shapely.ops import unary_union

from ..change import saturation
from ..scene import Scene
from .model import Aeroways

__all__ = ["segment_aeroways", "paved_mask"]

log = logging.getLogger(__name__)

_CELL_M = 2.0  # working resolution
_APRON_MIN_M2 = 8000.0  # a few stands of large transports
_RUNWAY_MIN_M = 400.0  # the shortest runway strip seen in a scene (a crop may cut it)


def _coarse(scene: Scene) -> tuple[np.ndarray, int]:
    f = np.nan_to_num(scene.as_float())
    step = max(1, int(round(_CELL_M / scene.gsd)))
    r, c = (f.shape[1] // step) * step, (f.shape[2] // step) * step
    g = f[:, :r, :c].reshape(f.shape[0], r // step, step, c // step, step).mean(axis=(2, 4))
    return g, step


def _grey_smooth(scene: Scene, *, by_brightness: bool = True):
    """Coarse (~2 m) masks of grey (unsaturated) and smooth cells, and of valid cells
    (eroded by one cell: a cell at the data's edge is not valid); and the step.

    Without colour, "grey" is the brighter class of brightness (``by_brightness``) or, for
    a mask that must not miss a dark asphalt surface, every smooth cell.
    """
    g, step = _coarse(scene)
    valid = ndi.binary_erosion(scene.valid[: g.shape[1] * step: step, : g.shape[2] * step: step])
    vis = g[: min(3, g.shape[0])]
    lum = vis.mean(axis=0)
    cell = step * scene.gsd
    win = max(3, int(round(8.0 / cell)) | 1)
    m = ndi.uniform_filter(lum, win)
    tex = np.sqrt(np.maximum(ndi.uniform_filter(lum * lum, win) - m * m, 0))
    smooth = tex < max(0.04, float(np.percentile(tex[valid], 35)) if valid.any() else 0.04)
    if vis.shape[0] >= 3:
        grey = ndi.uniform_filter(saturation(vis), win) < 0.14
    else:
        # no colour: smoothness alone took grass for pavement and the whole scene for apron
        grey = _bright_class(m, valid) if valid.any() and by_brightness else smooth
    return grey & valid, smooth & valid, valid, step


def _bright_class(lum: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Cells in the brighter of two classes of brightness (Otsu's threshold): without colour,
    the concrete of aprons and runways against grass and soil.

    A dark asphalt surface falls with the grass, and in a scene that is nearly all pavement
    the split falls within it; an aeroway layer settles both.
    """
    from skimage.filters import threshold_otsu

    return lum > threshold_otsu(lum[valid])


def paved_mask(scene: Scene) -> tuple[np.ndarray, int]:
    """Paved surfaces on a coarse (~2 m) grid.

    Without colour, every smooth cell: the search for aircraft keeps to this mask, and
    brightness alone would leave out a dark asphalt apron and whatever stands on it.

    Returns
    -------
    mask : ndarray of bool, shape (rows // step, cols // step)
    step : int
        Pixels of ``scene`` per coarse cell.
    """
    grey, smooth, _, step = _grey_smooth(scene, by_brightness=False)
    return _paved(grey, smooth), step


def _paved(grey: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    return ndi.binary_opening(ndi.binary_closing(grey & smooth, iterations=2), iterations=2)


def _open_disk(mask: np.ndarray, r_cells: float) -> np.ndarray:
    """Opening by a disk (via distance transforms)."""
    if r_cells <= 0 or not mask.any():
        return mask
    er = ndi.distance_transform_edt(np.pad(mask, 1)) [1:-1, 1:-1] > r_cells
    return ndi.distance_transform_edt(~er) <= r_cells


def _close_disk(mask: np.ndarray, r_cells: float) -> np.ndarray:
    """Closing by a disk (via distance transforms)."""
    if r_cells <= 0 or not mask.any():
        return mask
    pad = int(np.ceil(r_cells)) + 1
    m = np.pad(mask, pad, mode="edge")
    di = ndi.distance_transform_edt(~m) <= r_cells
    cl = ndi.distance_transform_edt(di) > r_cells
    return cl[pad:-pad, pad:-pad] | mask


def _oriented_dims(mask: np.ndarray, cell: float) -> tuple[float, float]:
    """Length and mean width (m) of a strip along its principal axis."""
    rr, cc = np.nonzero(mask)
    if rr.size < 3:
        return float(rr.size) * cell, cell
    xy = np.column_stack([cc, rr]).astype(float)
    xy -= xy.mean(axis=0)
    _, v = np.linalg.eigh(np.cov(xy.T))
    p = xy @ v[:, 1]
    length = (np.percentile(p, 99.5) - np.percentile(p, 0.5) + 1) * cell
    width = rr.size * cell * cell / max(length, cell)
    return float(length), float(width)


def _polygons(mask: np.ndarray, transform, min_area: float):
    from rasterio import features

    polys = [shape(g) for g, v in features.shapes(mask.astype(np.uint8), mask=mask, transform=transform) if v]
    polys = [p.simplify(2.0).buffer(0) for p in polys if p.area >= min_area]
    return [p for p in polys if not p.is_empty]


def _runway(grey: np.ndarray, cell: float, min_len: float, edge: np.ndarray) -> np.ndarray:
    """The runway in a coarse grey mask: the longest straight band at least ~30 m wide and
    over five times as long, at least ``min_len`` metres; or, where there is none, a band
    running out of the scene (``edge``: the cells at the border of the valid data) across
    at least half its width, over 2.5 times as long as wide: the runway's end, its
    threshold and blast pad in view, the rest cut off (an apron is compact, and cut by the
    scene's edge it is seldom that long). Empty when there is neither."""
    wide = _open_disk(_close_disk(grey, 10.0 / cell), 15.0 / cell)
    lab, n = ndi.label(wide)
    best, best_len = None, (0, 0.0)
    for i, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is None:
            continue
        band, length, width, steady = _straight_band(lab[sl] == i, cell)
        if steady < 0.8:
            log.debug("strip %s: %.0f x %.0f m, not a band (%.2f)", sl, length, width, steady)
            continue
        elong = length / max(width, 1.0)
        cut = elong > 2.5 and np.count_nonzero(band & edge[sl]) * cell >= 0.5 * width
        log.debug("strip %s: %.0f x %.0f m%s", sl, length, width, ", cut by the edge" if cut else "")
        rank = (2 if elong > 5 else 1 if cut else 0, length)
        if length >= min_len and rank[0] and rank > best_len:
            best, best_len = (sl, band), rank
    runway = np.zeros_like(grey)
    if best is not None:
        sl, band = best
        runway[sl] = band
        runway = ndi.binary_dilation(runway, iterations=2) & grey
    return runway


def _straight_band(part: np.ndarray, cell: float, *, slice_m: float = 10.0):
    """The straight band of constant width that runs through a mask, what joins it aside.

    The band's width is the median of the mask's widths across its long axis, taken in
    ``slice_m`` slices along it, and its centre line a straight fit to the slices' centres
    where they are no wider than that: a taxiway junction or an apron joined to a runway
    widens a few slices, not most of them. The axis is found again from the band alone.

    Returns
    -------
    band : ndarray of bool, like ``part``
    length, width : float
        The band's length along its axis and its width (m).
    steady : float
        The share of the band's slices, one width in from either end, at least 0.8 of its
        width: near 1 for a runway, low for a line drawn through a sprawl of paved blocks.
    """
    rr, cc = np.nonzero(part)
    band = part.copy()
    if rr.size < 10:
        return band, float(rr.size) * cell, cell, 0.0
    xy = np.column_stack([cc, rr]).astype(float)
    sel = np.ones(rr.size, bool)
    width = cell
    step = max(slice_m / cell, 1.0)  # cells per slice
    for _ in range(2):
        centre = xy[sel].mean(axis=0)
        _, v = np.linalg.eigh(np.cov((xy[sel] - centre).T))
        p = (xy - centre) @ v[:, 1]
        q = (xy - centre) @ v[:, 0]
        b = np.floor((p - p[sel].min()) / step).astype(int)
        ok = sel & (b >= 0)
        nb = int(b[ok].max()) + 1
        count = np.bincount(b[ok], minlength=nb)
        qsum = np.bincount(b[ok], weights=q[ok], minlength=nb)
        have = count > 0
        widths = count[have] / step * cell  # mean width of each slice (m)
        width = float(np.median(widths))
        fit = have.copy()
        fit[have] = widths <= 1.2 * width
        mid = (np.arange(nb) + 0.5) * step + p[sel].min()
        qc = qsum[fit] / count[fit]
        a1, a0 = np.polyfit(mid[fit], qc, 1) if fit.sum() >= 2 else (0.0, float(qc.mean()))
        sel = np.abs(q - (a0 + a1 * p)) <= 0.5 * width / cell + 1.5
    band[:] = False
    band[rr[sel], cc[sel]] = True
    ps = p[sel]
    if ps.size < 10:
        return band, 0.0, width, 0.0
    length = float((np.percentile(ps, 99.5) - np.percentile(ps, 0.5) + 1) * cell)
    # how steadily the band keeps its width: the share of its slices at least 0.8 of it,
    # one width in from either end (where the scene's edge may cut it at a slant)
    count = np.bincount(np.floor((ps - ps.min()) / step).astype(int))
    end = int(np.ceil(width / cell / step))  # slices in one width
    inner = count[end: max(count.size - end, 0)]
    widths = (inner if inner.size >= 3 else count) / step * cell
    steady = float(np.mean(widths >= 0.8 * width))
    return band, length, width, steady


def segment_aeroways(scene: Scene) -> Aeroways:
    """Runway, taxiways and aprons found in one scene (usually BEFORE).

    Parameters
    ----------
    scene : Scene

    Returns
    -------
    Aeroways
        ``source='segmented'``; features ('runway' | 'taxiway' | 'apron', Polygon) in
        ``scene.grid`` map coordinates. Empty when nothing paved is found.
    """
    grey, smooth, valid, step = _grey_smooth(scene)
    paved = _paved(grey, smooth)
    if not paved.any():
        return Aeroways((), source="segmented")
    cell = step * scene.gsd
    transform = scene.grid.transform @ scene.grid.transform.scale(step, step)
    unit2 = (scene.grid.res[0] * scene.grid.res[1]) * step * step  # map units² per cell
    paved = _close_disk(paved, 6.0 / cell)  # painted lines and aircraft make small holes
    # grey cells, smooth or not: slab joints, markings and rubber make runways textured, and
    # the aircraft parked on an apron are grey or white too
    grey = _close_disk(grey, 6.0 / cell)
    # the runway first: a straight grey band at least ~30 m wide, found with whatever joins
    # it (a taxiway junction's widening, an apron built against it, a blast pad) and cut
    # out of it by its width, so those neither break it up nor pass for aprons
    min_len = min(_RUNWAY_MIN_M, 0.5 * min(paved.shape) * cell)  # a scene may show only part of it
    # where the valid data ends: the scene's edge, or no-data (two cells in)
    edge = ndi.binary_dilation(~valid, border_value=1)
    runway = _runway(grey, cell, min_len, edge)
    # aprons: large compact paved areas, where a disk of about 60 m fits
    apron = _open_disk(grey & ~ndi.binary_dilation(runway, iterations=2), 30.0 / cell)
    apron = ndi.binary_fill_holes(_close_disk(apron, 30.0 / cell))
    lab, n = ndi.label(apron)
    for i, sl in enumerate(ndi.find_objects(lab), start=1):
        part = lab[sl] == i
        length, width = _oriented_dims(part, cell)
        if part.sum() * cell * cell < _APRON_MIN_M2 or length / max(width, 1.0) > 4.0:
            apron[sl][part] = False  # too small, or a strip (a wide runway)
    if not runway.any():
        # none stood out as a band of its own: the longest strip left beside the aprons
        runway = _runway(grey & ~ndi.binary_dilation(apron, iterations=2), cell, min_len, edge)
    apron &= ndi.binary_fill_holes(grey)  # no grass in its concave corners
    hub = apron | runway
    # taxiways: the other paved strips. Centre lines and wear make them textured in places,
    # so where a runway or an apron is found they are the grey strips joined to one (grey
    # roofs and yards stand alone); otherwise the smooth grey ones
    taxi = (grey if hub.any() else paved) & ~ndi.binary_dilation(apron, iterations=1) & ~runway
    taxi = _open_disk(taxi, 5.0 / cell)
    if hub.any():
        taxi = ndi.binary_propagation(ndi.binary_dilation(hub, iterations=3) & taxi, mask=taxi)
    feats = []
    for kind, m, min_area_m2 in (("runway", runway, 5000.0), ("apron", apron, _APRON_MIN_M2),
                                 ("taxiway", taxi, 1500.0)):
        for p in _polygons(m, transform, min_area_m2 / (cell * cell) * unit2):
            feats.append((kind, p))
    log.debug("segmented aeroways: %s", [k for k, _ in feats])
    return Aeroways(tuple(feats), source="segmented")


def union_of(aeroways: Aeroways, kinds=("runway", "taxiway", "apron", "stand")):
    """Union of the features of the given kinds (empty geometry when none)."""
    geoms = [g for k, g in aeroways.features if k in kinds]
    if not geoms:
        return MultiPolygon()
    return unary_union(geoms)
