"""Aircraft candidates in one date: the built-in detector and the :class:`Detector` protocol.

The built-in detector looks for compact objects that differ from their local background
(brighter *or* darker paint, or another colour), removes their cast shadow (much darker
than the background, grey, on the side away from the sun), and keeps those whose size
and shape fit an aircraft at the scene's GSD:

- longest dimension between ``min_aircraft_m`` (vehicles, equipment are smaller) and
  about 85 m (the largest transports with their wings);
- a cross-like outline: a wing span and a length both well above a vehicle's width, and a
  low *solidity* (area / convex-hull area); buildings are solid rectangles.

Where shadows and grass crowd a narrow taxiway, the local background can settle below
the concrete, which then stands out as if it were an object and joins aircraft parked
nose to tail into one blob. Patches that match the median ground of their kind around them
(grey pavement, or grass and soil) are therefore ground whatever the background says.

A light grey airframe on light concrete can stand out less than its own shadow. A shadow
too thin or small to be an aircraft is therefore grown into the faint, grey object next to
it that casts it (:func:`_grow_from_shadows`); what that finds is added where nothing else
was found, joined with the other shadows the same airframe casts (a transport's fuselage and
each wing cast their own), and changes nothing else that was found.

An object's score weighs its contrast, its shape and its size. A faint airframe, paint close
to the concrete's, scores low on contrast, but it stands off the ground and casts a shadow
of its own shape beside it, which a stain or a patch of new concrete does not: where the
object, moved towards its shadow, falls mostly on cast shadow (:func:`cast_shadow_share`), that
counts as much as a clear contrast, for lit objects seen on their own and well over a
vehicle's size: 15 m long, or 9 m across, as wide as no vehicle is (a fighter found short,
its nose or tail lost, keeps its wings). A vehicle casts a shadow too; beside a dark object,
or one found together with what was taken for its shadow, more shadow is no evidence of its
own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from scipy import ndimage as ndi
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.ops import unary_union

from ..change import saturation
from ..scene import Scene
from .model import Aircraft

__all__ = ["Detector", "BuiltinDetector", "detect_aircraft", "size_class_of", "background", "contrast_map",
           "cell_px", "shadow_pixels"]

log = logging.getLogger(__name__)

#: A pixel darker than this fraction of its local background may be a cast shadow (or dark paint).
SHADOW_DARK = 0.62
#: Saturation below which a dark pixel or object is grey like a cast shadow (sky light on concrete).
SHADOW_SAT = 0.25


def cell_px(gsd: float) -> int:
    """Pixels per side of the detector's working cell, about 1 m (the background and ground maps)."""
    return max(1, int(round(1.0 / gsd)))


def shadow_pixels(lum: np.ndarray, lum_bg: np.ndarray, sat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dark, shadow): pixels much darker than their local background, and those of them grey
    like a cast shadow. ``lum``, ``lum_bg``: visible-band means of the pixels and of their
    :func:`background`; ``sat``: their saturation."""
    dark = lum < SHADOW_DARK * lum_bg
    return dark, dark & (sat < SHADOW_SAT)


@runtime_checkable
class Detector(Protocol):
    """Anything that finds aircraft in one scene.

    ``mask`` (bool, shape (rows, cols)) is True where the detector may look (valid, not
    obscured); ``None`` means everywhere. Footprints are in ``scene.grid`` map coordinates.
    """

    def __call__(self, scene: Scene, *, mask: np.ndarray | None = None) -> Sequence[Aircraft]: ...


def size_class_of(length_m: float, span_m: float) -> str:
    """'large' (≥ 35 m), 'medium' (22–35 m), 'small' (fighters, 12–22 m) from the largest dimension."""
    d = max(length_m, span_m)
    if d >= 35.0:
        return "large"
    if d >= 22.0:
        return "medium"
    if d >= 12.0:
        return "small"
    return "unknown"


def _float(scene: Scene) -> np.ndarray:
    f = scene.as_float()
    return np.nan_to_num(f, copy=False)


def _block_mean(x: np.ndarray, step: int) -> np.ndarray:
    r, c = x.shape
    rp, cp = -(-r // step) * step, -(-c // step) * step
    xp = np.pad(x, ((0, rp - r), (0, cp - c)), mode="edge")
    return xp.reshape(rp // step, step, cp // step, step).mean(axis=(1, 3))


def _to_full(g: np.ndarray, step: int, shape: tuple[int, int]) -> np.ndarray:
    """A grid of ``step``-pixel cells (:func:`_block_mean`) back at full resolution ``shape``."""
    if step == 1:
        return g
    g = ndi.zoom(g, step, order=1, mode="nearest", grid_mode=True)[: shape[0], : shape[1]]
    if g.shape != shape:
        g = np.pad(g, ((0, shape[0] - g.shape[0]), (0, shape[1] - g.shape[1])), mode="edge")
    return g


def background(f: np.ndarray, *, gsd: float, width_m: float = 12.0) -> np.ndarray:
    """Local background per band: objects narrower than ``width_m`` removed.

    A grey opening then a grey closing with a disk of diameter ``width_m``: bright and
    dark structures narrower than that (fuselages, wings, their shadows, vehicles) are
    replaced by their surroundings, while wider surfaces (taxiways, runways, aprons)
    stay.

    Parameters
    ----------
    f : ndarray, shape (bands, rows, cols)
    gsd : float
        Metres per pixel.
    width_m : float
        Widest structure treated as an object.

    Returns
    -------
    ndarray, shape (bands, rows, cols), float32
    """
    # work at about 1 m: a disk (not a square, which a rotated strip narrower than its
    # diagonal does not hold) is then cheap enough
    step = cell_px(gsd)
    cell = step * gsd
    r = max(1.0, 0.5 * width_m / cell)
    out = np.empty(f.shape, np.float32)
    rows, cols = f.shape[1:]
    for k in range(f.shape[0]):
        g = _block_mean(f[k], step) if step > 1 else f[k]
        # opening removes narrow bright objects, the closing then narrow dark ones (shadows)
        g = _disk_extreme(_disk_extreme(g, r, np.minimum), r, np.maximum)
        g = _disk_extreme(_disk_extreme(g, r, np.maximum), r, np.minimum)
        out[k] = _to_full(g, step, (rows, cols))
    return out


def _disk_extreme(g: np.ndarray, r: float, op) -> np.ndarray:
    """Minimum (``op=np.minimum``) or maximum of ``g`` over the disk x² + y² ≤ r² + 1/4.

    The same as ``ndi.minimum_filter`` / ``ndi.maximum_filter`` with that disk as footprint
    and ``mode='reflect'`` (bit for bit; a test checks it), but several times faster for
    r ≈ 6: the disk is a stack of horizontal runs, each a 1-D running extreme (cost
    independent of its length), shifted by its row and combined.
    """
    ri = int(np.ceil(r))
    run = {dy: 2 * int(np.floor(np.sqrt(r * r + 0.25 - dy * dy))) + 1
           for dy in range(-ri, ri + 1) if dy * dy <= r * r + 0.25}
    filt = ndi.minimum_filter1d if op is np.minimum else ndi.maximum_filter1d
    rows = {w: np.pad(filt(g, w, axis=1, mode="reflect"), ((ri, ri), (0, 0)), mode="symmetric")
            for w in set(run.values())}
    n = g.shape[0]
    out = None
    for dy, w in run.items():
        shifted = rows[w][ri + dy : ri + dy + n]
        out = shifted.copy() if out is None else op(out, shifted, out=out)
    return out


def _disk_opening(mask: np.ndarray, radius_m: float, gsd: float) -> np.ndarray:
    """``ndi.binary_opening(mask, structure=disk)``, bit for bit (a test checks it), with the disk
    x² + y² ≤ r² of radius r = :func:`_disk_px` pixels.

    Erosion then dilation by the disk, each as a :func:`_disk_extreme` of the mask as bytes:
    its cost does not grow with the disk's area as ndimage's does (several times faster for a
    radius of a few pixels). The mask is padded with False, as ndimage erodes at the border.
    """
    r = _disk_px(radius_m, gsd)
    m = np.pad(mask, r).view(np.uint8)
    m = _disk_extreme(_disk_extreme(m, r, np.minimum), r, np.maximum)
    return m[r:-r, r:-r].view(bool)


def _smoothed(f: np.ndarray, gsd: float) -> np.ndarray:
    # fine texture (slab joints, grass, noise) would otherwise ride on the morphological envelope
    sigma = max(0.5, 0.75 / gsd)
    return np.stack([ndi.gaussian_filter(b, sigma) for b in f])


def contrast_map(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Colour distance of each pixel to its local :func:`background`, and that background.

    High on objects narrower than about 12 m (aircraft, their shadows, vehicles, markings),
    low on open ground. Compare it between dates to tell whether an object is present.

    Returns
    -------
    dist : ndarray, shape (rows, cols), float32
    bg : ndarray, shape (bands, rows, cols), float32
    """
    _, _, bg, dist = planes(scene)
    return dist, bg


def planes(scene: Scene):
    """The layers the detector works on: ``(pixels, smoothed, background, distance)``.

    ``pixels`` is the scene as float (NaN as 0), ``smoothed`` it without fine texture,
    ``background`` its :func:`background` and ``distance`` the
    colour distance of ``smoothed`` to it (:func:`contrast_map`). Computed once and handed
    to :func:`detect_aircraft` where both the detector and the contrast map are needed.
    """
    f = _float(scene)
    fs = _smoothed(f, scene.gsd)
    bg = background(fs, gsd=scene.gsd)
    acc = np.zeros(fs.shape[1:], np.float32)
    for a, b in zip(fs, bg, strict=True):  # band by band: no stack of differences held
        d = a - b
        d *= d
        acc += d
    acc /= fs.shape[0]
    return f, fs, bg, np.sqrt(acc, out=acc)


def mask_to_polygon(mask: np.ndarray, transform) -> Polygon | None:
    """Outline (no holes) of the largest piece of a boolean ``mask``, in map coordinates."""
    from rasterio import features

    polys = [shape(g) for g, v in features.shapes(mask.astype(np.uint8), mask=mask, transform=transform) if v]
    if not polys:
        return None
    g = unary_union(polys)
    if isinstance(g, MultiPolygon):
        g = max(g.geoms, key=lambda p: p.area)
    return Polygon(g.exterior)


def _axes(rr: np.ndarray, cc: np.ndarray, gsd: float):
    """Extents (m) along the principal axes and the major axis angle (deg clockwise from up)."""
    y = rr.astype(float) - rr.mean()
    x = cc.astype(float) - cc.mean()
    cov = np.cov(np.vstack([x, y]))
    w, v = np.linalg.eigh(cov)
    major = v[:, 1]
    minor = v[:, 0]
    p1 = x * major[0] + y * major[1]
    p2 = x * minor[0] + y * minor[1]
    e1 = (np.percentile(p1, 99.5) - np.percentile(p1, 0.5) + 1) * gsd
    e2 = (np.percentile(p2, 99.5) - np.percentile(p2, 0.5) + 1) * gsd
    # angle of the major axis, clockwise from image up (-row)
    ang = float(np.degrees(np.arctan2(major[0], -major[1]))) % 180.0
    return e1, e2, ang, float(w[1] / max(w[0], 1e-9))


def detect_aircraft(
    scene: Scene,
    *,
    mask: np.ndarray | None = None,
    min_aircraft_m: float = 12.0,
    max_aircraft_m: float = 85.0,
    contrast: float = 0.09,
    layers: tuple | None = None,
) -> list[Aircraft]:
    """Find aircraft-like objects in one scene.

    Parameters
    ----------
    scene : Scene
        Any band count, 8/16-bit or float.
    mask : ndarray of bool, optional
        True where to look (e.g. valid, not cloud, on or near paved surfaces).
    min_aircraft_m : float
        Objects whose largest dimension is below this are vehicles or equipment.
    max_aircraft_m : float
        Objects whose largest dimension is above this are not one aircraft.
    contrast : float
        Colour distance to the local background (in [0, 1] units) that marks an object.
    layers : tuple, optional
        Precomputed :func:`planes` of the scene.

    Returns
    -------
    list of Aircraft
        Footprints (shadows removed) in ``scene.grid`` map coordinates.
    """
    gsd = scene.gsd
    f, fs, bg, dist = layers if layers is not None else planes(scene)
    nb = f.shape[0]
    vis = slice(0, min(3, nb))
    lum = f[vis].mean(axis=0)
    lum_bg = bg[vis].mean(axis=0)
    sm = dist
    strong = sm > 2 * contrast
    weak = sm > contrast
    if mask is not None:
        weak &= mask
        strong &= mask
    # shadow pixels: much darker than the background and grey
    sat = saturation(f)
    dark, shadowish = shadow_pixels(lum, lum_bg, sat)
    # Where shadows and grass crowd a taxiway, the background settles below the concrete and
    # the concrete itself stands out. Patches at least 6 m across that are as close as ``low``
    # to the ground of their kind around them (concrete, grass) are ground, whatever the
    # background says; narrower ones may be an airframe painted close to the ground's colour.
    low = 0.45 * contrast
    grey = saturation(fs) < 0.25
    ground_dist = _ground_distance(fs, gsd, grey)
    ground = _disk_opening(~shadowish & (ground_dist < low), 3.0, gsd)
    weak &= ~ground
    strong &= ~ground
    # where an airframe's colour is read: it stands out strongly, is not ground and not in
    # shadow (on grass a shadow is dark green, not grey)
    airframe = strong & (ground_dist >= low) & ~dark
    # cut thin links (painted lines, joints) so objects do not chain along them
    weak = _disk_opening(weak, 0.8, gsd)

    min_px = (0.25 * min_aircraft_m * min_aircraft_m * 0.25) / (gsd * gsd)
    # where a shadow beside an object says it stands off the ground (no-data is no shadow)
    cast_on = shadowish if mask is None else shadowish & mask

    def aircraft_in(whole: np.ndarray, box: tuple[int, int, int, int], *, dark_object: bool,
                    with_shadow: bool) -> list[Aircraft]:
        """The aircraft-like pieces of ``whole``, the mask of one component in window ``box``."""
        r0, r1, c0, c1 = box
        transform = scene.grid.transform
        got: list[Aircraft] = []
        for body in _split_touching(whole, gsd=gsd, max_aircraft_m=max_aircraft_m):
            rr, cc = np.nonzero(body)
            if rr.size < min_px:
                continue
            e1, e2, ang, elong = _axes(rr, cc, gsd)
            if e1 < min_aircraft_m or e1 > max_aircraft_m:
                log.debug('reject %s at %s: e1=%.1f e2=%.1f', 'size', (r0, c0), e1, e2)
                continue
            if e2 < 0.35 * min_aircraft_m:
                log.debug('reject %s at %s: e1=%.1f e2=%.1f', 'thin', (r0, c0), e1, e2)
                continue  # a thin strip (marking, edge)
            hull_area = _hull_area(rr, cc)
            solidity = rr.size / max(hull_area, 1.0)
            area_m2 = rr.size * gsd * gsd
            box_fill = area_m2 / (e1 * e2)
            if solidity > 0.86 and box_fill > 0.8:
                log.debug('reject solid at %s', (r0, c0))
                continue  # a building or container: solid rectangle
            fp = mask_to_polygon(body, transform @ transform.translation(c0, r0))
            if fp is None or fp.is_empty:
                continue
            sub = (slice(r0, r1), slice(c0, c1))
            obj_lum = float(lum[sub][body].mean())
            obj_bg = float(lum_bg[sub][body].mean())
            obj_sat = float(sat[sub][body].mean())
            obj_dist = float(dist[sub][body].mean())
            # score: contrast (or, for a faint airframe, the shadow it casts beside it),
            # aircraft-like solidity (crosses are 0.3-0.7) and size
            # (a vehicle casts a shadow too: only for objects well over a vehicle's size; looked
            # for only where the contrast alone is not full evidence, and only beside a lit
            # object seen on its own: beside a dark one, or one found with what was taken for
            # its shadow, more shadow says nothing the object's own pixels did not)
            s_contrast = float(np.clip(obj_dist / (3 * contrast), 0, 1))
            cast = float("nan")
            # well over a vehicle's size: long, or as wide as no vehicle is (a fighter's wings)
            sized = e1 <= _FULL_SIZE_M[1] and (e1 >= _FULL_SIZE_M[0] or e2 >= _SPAN_M)
            if sized and s_contrast < 1.0 and not dark_object and not with_shadow:
                cast = cast_shadow_share(rr + r0, cc + c0, cast_on, gsd)
                s_contrast = max(s_contrast, float(np.clip(cast / CAST_FULL, 0, 1)))
            s_shape = float(np.clip(1.0 - abs(solidity - 0.5) / 0.45, 0, 1))
            s_size = 1.0 if sized else 0.6
            score = 0.45 * s_contrast + 0.35 * s_shape + 0.2 * s_size
            heading = ang if elong > 1.6 else float("nan")
            feats = {
                "lum": obj_lum,
                "bg_lum": obj_bg,
                "sat": obj_sat,
                "contrast": obj_dist,
                "solidity": float(solidity),
                "area_m2": float(area_m2),
                "cast_shadow": cast,
                "dark": dark_object,
                # found with what was taken for its shadow (dark paint)
                "with_shadow": with_shadow,
                "mean_rgb": _paint(f[:, sub[0], sub[1]], body, airframe[sub]),
            }
            length, span = e1, e2
            got.append(
                Aircraft(
                    footprint=fp,
                    length_m=float(length),
                    span_m=float(span),
                    heading_deg=heading,
                    score=float(score),
                    size_class=size_class_of(length, span),
                    state="intact",
                    source="builtin",
                    features=feats,
                )
            )
        return got

    def candidates(weak_mask: np.ndarray, grown: np.ndarray | None = None) -> list[Aircraft]:
        lab, n = ndi.label(weak_mask)
        if n == 0:
            return []
        # keep weak components that contain strong pixels (hysteresis)
        has_strong = np.zeros(n + 1, bool)
        has_strong[np.unique(lab[strong])] = True
        has_strong[0] = False
        counts = np.bincount(lab.ravel(), minlength=n + 1)
        ok = has_strong & (counts >= min_px)
        if grown is not None:  # only what growing the shadows changed
            touched = np.zeros(n + 1, bool)
            touched[np.unique(lab[grown])] = True
            ok &= touched
        out: list[Aircraft] = []
        objs = ndi.find_objects(lab)
        pad = 2
        for i, sl in enumerate(objs, start=1):
            if sl is None or not ok[i]:
                continue
            r0 = max(sl[0].start - pad, 0)
            r1 = min(sl[0].stop + pad, lab.shape[0])
            c0 = max(sl[1].start - pad, 0)
            c1 = min(sl[1].stop + pad, lab.shape[1])
            ext_m = max(r1 - r0, c1 - c0) * gsd
            if ext_m > 2.5 * max_aircraft_m:
                continue
            comp = lab[r0:r1, c0:c1] == i
            shad = comp & shadowish[r0:r1, c0:c1]
            body = comp & ~shad
            body = ndi.binary_opening(body)
            dark_object = body.sum() < 0.3 * comp.sum()
            if dark_object:
                body = comp
            bl, bn = ndi.label(body)
            if bn == 0:
                continue
            if bn > 1:
                sizes = np.bincount(bl.ravel())
                sizes[0] = 0
                # keep the pieces that are large relative to the biggest (an aircraft is one piece)
                keep = sizes >= 0.15 * sizes.max()
                body = keep[bl]
            whole = ndi.binary_closing(body, iterations=1) | body
            box = (r0, r1, c0, c1)
            got = aircraft_in(whole, box, dark_object=bool(dark_object), with_shadow=False)
            if not got and not dark_object:
                # dark paint is as dark as a shadow: where the lit part alone is no aircraft,
                # the object with what was taken for its shadow may be one
                got = aircraft_in(ndi.binary_closing(comp, iterations=1) | comp, box, dark_object=False,
                                  with_shadow=True)
            out += got
        return out

    k = 1.0 / scene.grid.metres_per_unit
    found = _merge_pieces(candidates(weak), gap_m=6.0 * k, max_aircraft_m=max_aircraft_m, k=k)
    # a grey airframe that stood out less than its own shadow: found from the shadow, and
    # only added where nothing was found (what was found stays as it is)
    grown = _grow_from_shadows(weak, strong, shadowish, grey & (ground_dist > low), mask, gsd=gsd,
                               min_aircraft_m=min_aircraft_m)
    if grown.any():
        extra = _merge_pieces(candidates(weak | grown, grown), gap_m=6.0 * k, max_aircraft_m=max_aircraft_m,
                              k=k)
        extra = [x for x in extra
                 if not any(x.footprint.intersection(a.footprint).area > 0.3 * min(x.footprint.area, a.footprint.area)
                            for a in found)]
        if extra:
            # a faint airframe found from one shadow and the other shadows it casts are one
            # aircraft; what stood out on its own stays as it was found
            lit = [a for a in found if not a.features.get("dark")]
            shadows = [a for a in found if a.features.get("dark")]
            found = lit + _merge_pieces(shadows + extra, gap_m=6.0 * k, max_aircraft_m=max_aircraft_m, k=k)
    out = found
    log.debug("builtin detector: %d candidates in %s", len(out), scene.name)
    return out


#: Lengths (m) of the objects whose size alone says aircraft (well over a vehicle's, under
#: the largest transport's).
_FULL_SIZE_M = (15.0, 70.0)
#: Width (m) over which a shorter object is as wide as no vehicle is: a fighter's wingspan
#: (10-15 m), where a truck is under 3 m wide and its shadow adds a few metres.
_SPAN_M = 9.0
#: Share of an object's outline, moved towards its shadow, that falls on cast shadow for the
#: shadow alone to count as full evidence that the object stands off the ground.
CAST_FULL = 0.3
#: Ground distances (m) and directions at which :func:`cast_shadow_share` looks for the shadow.
_CAST_REACH_M = (1.5, 3.0, 5.0, 8.0, 12.0)
_CAST_DIRECTIONS = 16


def cast_shadow_share(rr: np.ndarray, cc: np.ndarray, shadowish: np.ndarray, gsd: float) -> float:
    """How much of an object's outline, moved towards where its shadow would fall, is cast shadow.

    An object standing off the ground (an airframe, however close its paint is to the
    concrete) casts a shadow of its own shape beside it; a stain or a patch of new concrete
    casts none. The object (pixels ``rr``, ``cc``) is moved by each of
    ``_CAST_DIRECTIONS`` directions and ``_CAST_REACH_M`` distances, and the share of the
    moved pixels that fall off the object and on ``shadowish`` is taken where it is largest
    (0 to 1). The sun's direction is not needed: the largest share is its direction.
    """
    by_direction = shadow_by_direction(rr, cc, shadowish, gsd)
    return float(np.nanmax(by_direction)) if np.isfinite(by_direction).any() else 0.0


def shadow_by_direction(rr: np.ndarray, cc: np.ndarray, shadowish: np.ndarray, gsd: float,
                        judged: np.ndarray | None = None) -> np.ndarray:
    """:func:`cast_shadow_share` towards each of ``_CAST_DIRECTIONS`` directions.

    Direction ``i`` moves the object by ``(sin t, cos t)`` (rows, columns) with
    ``t = 2 pi i / _CAST_DIRECTIONS``; its share is the largest over the ``_CAST_REACH_M``
    distances. Only moved pixels on the scene and, where ``judged`` is given, on judged
    pixels count (cloud and no data are neither shadow nor its absence); a direction
    with fewer than 10 of them is NaN.
    """
    return direction_means(rr, cc, shadowish, gsd, judged, reduce=np.fmax)


def direction_means(rr: np.ndarray, cc: np.ndarray, values: np.ndarray, gsd: float,
                    judged: np.ndarray | None = None, *, reduce=np.fmax) -> np.ndarray:
    """Mean of ``values`` under an object moved off itself, towards each direction.

    The object (pixels ``rr``, ``cc``) is moved as in :func:`shadow_by_direction`; per
    direction, the means over its ``_CAST_REACH_M`` distances are combined by ``reduce``
    (``np.fmax``: the largest, ``np.fmin``: the smallest). Of a boolean map, the mean is
    the share of True.
    """
    rows, cols = values.shape
    steps = [[(int(round(np.sin(t) * d / gsd)), int(round(np.cos(t) * d / gsd))) for d in _CAST_REACH_M]
             for t in np.arange(_CAST_DIRECTIONS) * (2 * np.pi / _CAST_DIRECTIONS)]
    p = max(max(abs(dr), abs(dc)) for shifts in steps for dr, dc in shifts)
    # the object's bounding box, and the scene around it padded by the farthest shift: the
    # object, the shadow and the scene's own extent (pixels moved off it do not count)
    r0, c0 = int(rr.min()), int(cc.min())
    h, w = int(rr.max()) - r0 + 1, int(cc.max()) - c0 + 1
    body = np.zeros((h + 2 * p, w + 2 * p), bool)
    body[rr - r0 + p, cc - c0 + p] = True
    inside = np.zeros_like(body)
    there = np.zeros(body.shape, values.dtype)
    wr0, wr1, wc0, wc1 = max(r0 - p, 0), min(r0 + h + p, rows), max(c0 - p, 0), min(c0 + w + p, cols)
    win = (slice(wr0 - r0 + p, wr1 - r0 + p), slice(wc0 - c0 + p, wc1 - c0 + p))
    inside[win] = True if judged is None else judged[wr0:wr1, wc0:wc1]
    there[win] = values[wr0:wr1, wc0:wc1]
    own = body[p : p + h, p : p + w]
    mean = {}
    for dr, dc in {s for shifts in steps for s in shifts}:  # near reaches round to the same shift
        moved = (slice(p + dr, p + dr + h), slice(p + dc, p + dc + w))
        off = own & inside[moved] & ~body[moved]
        n = int(np.count_nonzero(off))
        if n < 10:
            mean[dr, dc] = np.nan
        elif there.dtype == bool:
            mean[dr, dc] = np.count_nonzero(off & there[moved]) / n
        else:
            mean[dr, dc] = float(there[moved][off].mean())
    return np.array([reduce.reduce([mean[s] for s in shifts]) for shifts in steps])


def _disk_px(radius_m: float, gsd: float) -> int:
    """Radius in whole pixels (at least one) of a disk of ``radius_m`` at ``gsd`` metres per pixel."""
    return max(1, int(round(radius_m / gsd)))


def _ground_distance(fs: np.ndarray, gsd: float, is_grey: np.ndarray, *, width_m: float = 30.0,
                     grey: float = 0.25):
    """Colour distance of each pixel to the median ground of its kind within ``width_m``.

    Grey pixels (paved surfaces, aircraft, shadows) are compared with the median of the grey
    pixels around them, the others (grass, soil) with the median of the others, so the ground
    next to an apron's edge is still concrete and the verge next to it still grass. Worked at
    about 1 m; the medians vary over tens of metres, so each 1 m cell's value serves the
    pixels in it. ``is_grey`` is the full-resolution mask of grey pixels (saturation < ``grey``).
    """
    from skimage.filters import rank
    from skimage.morphology import disk

    step = cell_px(gsd)
    r = _disk_px(0.5 * width_m, step * gsd)
    fp = disk(r)
    rows, cols = fs.shape[1:]
    coarse = np.stack([_block_mean(b, step) if step > 1 else b for b in fs])
    paved = saturation(coarse) < grey
    acc = np.zeros((rows, cols), np.float32)
    for k in range(fs.shape[0]):
        q = np.clip(coarse[k] * 255 + 0.5, 0, 255).astype(np.uint8)
        m_grey = _repeat_to(rank.median(q, fp, mask=paved), step, (rows, cols)).astype(np.float32) / 255
        m_other = _repeat_to(rank.median(q, fp, mask=~paved), step, (rows, cols)).astype(np.float32) / 255
        acc += (fs[k] - np.where(is_grey, m_grey, m_other)) ** 2
    out = np.sqrt(acc / fs.shape[0])
    # a coloured object on pavement is its own neighbourhood's only colour: only where grass
    # or soil make up most of the ground around does their median mean anything
    out[~is_grey & ~_repeat_to(_mostly(~paved, r), step, (rows, cols))] = np.inf
    return out


def _mostly(mask: np.ndarray, r: int) -> np.ndarray:
    """Where ``mask`` covers at least half the disk of radius ``r`` cells around (disk cells
    off the grid not counted): as ``skimage.filters.rank.mean(mask * 255, disk(r)) >= 128``,
    bit for bit (a test checks it), from running sums along the disk's rows."""
    rows, cols = mask.shape
    # cumulative sums along each row of the mask and of the grid's own cells, from r cells
    # before the row's start (zeros) to r cells past its end (the row's total)
    cs = np.zeros((2, rows, cols + 1 + 2 * r), np.int32)
    np.cumsum(mask, axis=1, out=cs[0, :, r + 1 : r + 1 + cols])
    cs[1, :, r + 1 : r + 1 + cols] = np.arange(1, cols + 1)
    cs[:, :, r + 1 + cols :] = cs[:, :, r + cols : r + 1 + cols]
    acc = np.zeros((2, rows, cols), np.int32)
    for dy in range(-min(r, rows - 1), min(r, rows - 1) + 1):
        h = int(np.sqrt(r * r - dy * dy))
        # each row's sums over the 2h + 1 cells around each cell
        run = cs[:, :, r + h + 1 : r + h + 1 + cols] - cs[:, :, r - h : r - h + cols]
        if dy >= 0:
            acc[:, : rows - dy] += run[:, dy:]
        else:
            acc[:, -dy:] += run[:, : rows + dy]
    n, pop = acc
    # rank.mean's byte: floor(255 * n / pop) >= 128
    return 255 * n.astype(np.int64) >= 128 * pop.astype(np.int64)


def _repeat_to(g: np.ndarray, step: int, shape: tuple[int, int]) -> np.ndarray:
    """A grid of ``step``-pixel cells back at full resolution ``shape``, each cell's value repeated."""
    if step > 1:
        g = np.repeat(np.repeat(g, step, axis=0), step, axis=1)
    return g[: shape[0], : shape[1]]


def _grow_from_shadows(weak, strong, shadowish, faint, mask, *, gsd, min_aircraft_m, reach_m=20.0):
    """The pixels ``weak`` gains by growing cast shadows into the faint airframe casting them.

    A light grey airframe on light concrete stands out less than its own shadow, so the
    detector sees only the shadow: a sliver too thin or small to be an aircraft. From each
    such shadow, ``weak`` grows into the ``faint`` pixels within ``reach_m``: grey pixels
    that differ, if faintly, from the grey ground around them (grass and soil at an apron's
    edge are not grey and never count). Shadows that could be an aircraft on their
    own (a dark airframe, a transport's shadow) are left as they are.
    """
    none = np.zeros_like(weak)
    lab, n = ndi.label(weak)
    if n == 0:
        return none
    cnt = np.bincount(lab.ravel(), minlength=n + 1)
    sh = np.bincount(lab[shadowish].ravel(), minlength=n + 1)
    st = np.zeros(n + 1, bool)
    st[np.unique(lab[strong])] = True
    seed_id = st & (sh >= 0.25 * cnt)
    seed_id[0] = False
    for i, sl in enumerate(ndi.find_objects(lab), start=1):
        if not seed_id[i] or sl is None:
            continue
        rr, cc = np.nonzero(lab[sl] == i)
        if rr.size < 3:
            seed_id[i] = False
            continue
        e1, e2, _, _ = _axes(rr, cc, gsd)
        if e1 >= min_aircraft_m and e2 >= 0.5 * min_aircraft_m:
            seed_id[i] = False  # aircraft-sized on its own
    seeds = seed_id[lab]
    if not seeds.any():
        return none
    if mask is not None:
        faint = faint & mask
    faint = _disk_opening(faint, 1.2, gsd)
    near = _within(lab, seed_id, reach_m / gsd)
    grown = ndi.binary_propagation(seeds, mask=(faint & near) | seeds) & ~weak
    # what grows must not bridge a shadow to other objects (a vehicle, a marking, another
    # aircraft): a one-pixel gap keeps them apart
    grown &= ~ndi.binary_dilation(weak & ~seeds)
    return grown


def _within(lab: np.ndarray, chosen: np.ndarray, r: float) -> np.ndarray:
    """Pixels within ``r`` pixels (Euclidean) of the components of ``lab`` that ``chosen`` marks.

    As ``ndi.distance_transform_edt(~chosen[lab]) <= r``, but each component's distance is
    taken in a window reaching ``r`` around it: a few small components in a large tile cost
    their windows, not the tile (many cost the tile once).
    """
    pad = int(np.ceil(r)) + 1
    wins = [(i, tuple(slice(max(s.start - pad, 0), min(s.stop + pad, n)) for s, n in zip(sl, lab.shape, strict=True)))
            for i, sl in enumerate(ndi.find_objects(lab), start=1) if sl is not None and chosen[i]]
    if sum(lab[w].size for _, w in wins) > lab.size // 2:
        return ndi.distance_transform_edt(~chosen[lab]) <= r
    out = np.zeros(lab.shape, bool)
    for i, w in wins:
        out[w] |= ndi.distance_transform_edt(lab[w] != i) <= r
    return out


def _merge_pieces(found: list[Aircraft], *, gap_m: float, max_aircraft_m: float, k: float) -> list[Aircraft]:
    """Join detections that are pieces of one aircraft (split by paint, shadow or markings)."""
    if len(found) < 2:
        return found
    n = len(found)
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cand = []
    for i in range(n):
        for j in range(i + 1, n):
            if found[i].footprint.dwithin(found[j].footprint, gap_m):
                cand.append((found[i].footprint.distance(found[j].footprint), i, j))
    # closest pieces first; a group may only grow while its union still fits one aircraft
    # (checked on the whole group: joining pairwise-fitting pieces can chain a row of aircraft)
    geoms = {i: found[i].footprint for i in range(n)}
    for _d, i, j in sorted(cand):
        ri, rj = root(i), root(j)
        if ri == rj:
            continue
        u = geoms[ri].union(geoms[rj])
        if rect_dims(u)[0] / k <= max_aircraft_m * 0.75:
            parent[rj] = ri
            geoms[ri] = u
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        if len(members) == 1:
            out.append(found[members[0]])
            continue
        parts = [found[i] for i in members]
        geom = unary_union([p.footprint.buffer(gap_m) for p in parts]).buffer(-gap_m)
        if isinstance(geom, MultiPolygon) or geom.is_empty:
            geom = unary_union([p.footprint for p in parts]).convex_hull
        d1, d2 = rect_dims(geom)
        # the airframe, not its shadow, says what the aircraft looks like
        best = max(parts, key=lambda p: (not p.features.get("dark"), p.footprint.area))
        # and where it is: the lit airframe alone when it is about as long as the whole (the
        # other pieces are its shadows), all pieces when it is only a part of the aircraft
        airframe = None
        if not best.features.get("dark") and rect_dims(best.footprint)[0] >= 0.75 * d1:
            airframe = best.placed
        out.append(Aircraft(footprint=Polygon(geom.exterior), length_m=d1 / k, span_m=d2 / k,
                            heading_deg=best.heading_deg, score=max(p.score for p in parts),
                            size_class=size_class_of(d1 / k, d2 / k), state=best.state,
                            source=best.source, features=dict(best.features), airframe=airframe))
    return out


def rect_dims(geom) -> tuple[float, float]:
    """Long and short sides of the minimum rotated rectangle of ``geom`` (its map units)."""
    r = geom.minimum_rotated_rectangle
    xy = np.asarray(r.exterior.coords)
    if len(xy) < 4:
        return 0.0, 0.0
    e = sorted([float(np.hypot(*(xy[1] - xy[0]))), float(np.hypot(*(xy[2] - xy[1])))], reverse=True)
    return e[0], e[1]


def _split_touching(body: np.ndarray, *, gsd: float, max_aircraft_m: float) -> list[np.ndarray]:
    """Split a blob of aircraft parked wingtip to wingtip (joined by thin parts) into pieces."""
    rr, cc = np.nonzero(body)
    if rr.size == 0:
        return []
    if max(np.ptp(rr), np.ptp(cc)) * gsd <= 0.7 * max_aircraft_m:
        return [body]
    from skimage.segmentation import watershed

    dist = ndi.distance_transform_edt(body)
    # fuselages and wing roots, not wingtips: relative to the thickest part of the blob
    thr = max(1.2 / gsd, 0.5 * float(dist.max()))
    cores, n = ndi.label(dist > thr)
    if n < 2:
        return [body]
    sizes = np.bincount(cores.ravel())
    sizes[0] = 0
    keep = sizes >= 0.1 * sizes.max()
    keep[0] = False
    ids = np.cumsum(keep) * keep
    markers = ids[cores]
    if markers.max() < 2:
        return [body]
    ws = watershed(-dist, markers, mask=body)
    return [ws == j for j in range(1, int(ws.max()) + 1)]


def _paint(f: np.ndarray, body: np.ndarray, own: np.ndarray) -> tuple[float, ...]:
    """Median colour of the object's interior (edges mix with the ground).

    ``own`` marks the airframe's own pixels (not its shadow, not ground taken in with it);
    a dark remnant or a faint airframe with too few of them is measured whole.
    """
    inner = ndi.binary_erosion(body)
    if inner.sum() < 10:
        inner = body
    if (inner & own).sum() >= max(10, 0.2 * inner.sum()):
        inner = inner & own
    return tuple(float(x) for x in np.median(f[:, inner], axis=1))


def _hull_area(rr: np.ndarray, cc: np.ndarray) -> float:
    from scipy.spatial import ConvexHull, QhullError

    pts = np.column_stack([cc, rr]).astype(float)
    # pixel corners so thin objects have an area
    pts = np.concatenate([pts + d for d in ((0, 0), (1, 0), (0, 1), (1, 1))])
    try:
        return float(ConvexHull(pts).volume)
    except (QhullError, ValueError):
        return float(rr.size)


class BuiltinDetector:
    """The built-in detector as a :class:`Detector` (options fixed at construction)."""

    def __init__(self, *, min_aircraft_m: float = 12.0, contrast: float = 0.09):
        self.min_aircraft_m = min_aircraft_m
        self.contrast = contrast

    def __call__(self, scene: Scene, *, mask: np.ndarray | None = None) -> list[Aircraft]:
        return detect_aircraft(scene, mask=mask, min_aircraft_m=self.min_aircraft_m,
                               contrast=self.contrast)
