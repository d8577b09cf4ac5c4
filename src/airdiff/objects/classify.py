"""Cross-date matching of aircraft and classification into aircraft-level changes.

Steps of :func:`find_changes`:

1. aircraft candidates in each date (the built-in detector, a user :class:`Detector`, and/or
   external detections), dropped where the change map says the area cannot be judged;
2. **burned**: a BEFORE aircraft whose spot is, in AFTER, a dark, grey remnant with scorch
   around it;
3. **same place**: BEFORE and AFTER aircraft paired one-to-one by position and size
   (Hungarian assignment); a pair is unchanged and reported as nothing;
4. the rest must show real pixel change (so a detector miss in one date is not a change):
   BEFORE aircraft that vanished and AFTER aircraft that are new; of them, those round and
   flat (:func:`roundness`, no shadow beside them) are no aircraft but **changed**: a crater
   blown in the pavement, or filled in; on one band, where the surfaces were segmented by
   brightness alone, so are those (and burns) off every surface found: grass and soil that
   changed with the season pass for objects there;
5. **moved**: vanished and new aircraft paired by size, shape and paint (Hungarian
   assignment); the remainder are **disappeared** and **appeared**;
6. **obscured**: cloud, cloud shadow and no-data areas.

A change whose aircraft casts no shadow where the other aircraft of its date cast theirs is
flagged ``possible_decoy`` (:mod:`airdiff.objects.decoys`); the flag changes no class.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linear_sum_assignment
from shapely.geometry import shape

from .._threads import both
from ..change import ChangeMap, saturation
from ..scene import Scene
from ._raster import frac_in as _frac_in
from ._raster import mean_in as _mean_in
from ._raster import median_in as _median_in
from ._raster import window as _window
from ._raster import window_transform as _window_transform
from .context import segment_aeroways
from .decoys import possible_decoys
from .detect import (
    CAST_FULL,
    SHADOW_DARK,
    SHADOW_SAT,
    Detector,
    cast_shadow_share,
    detect_aircraft,
    planes,
    rect_dims,
    shadow_pixels,
)
from .model import Aeroways, Aircraft, Change

__all__ = ["ObjectResult", "find_changes", "summarise", "obscured_areas", "moved_pairs", "origin_note", "roundness"]

log = logging.getLogger(__name__)

_AIRCRAFT_CLASSES = ("burned", "moved", "appeared", "disappeared")
#: How far from its cast shadow an aircraft can be (m): a wing's length for the largest.
_SHADOW_REACH_M = 8.0
#: How far around an aircraft (m) the ground is compared between dates to tell haze
#: (:func:`_veiled`), and so the area reported obscured by it.
_HAZE_REACH_M = 20.0
#: An object is absent from the other date when it stands out there less than this fraction
#: of how it stands out in its own. Aircraft that truly came or went keep at most about a
#: quarter (markings, neighbours' shadows); a shadow that lengthened with the sun, or a
#: vehicle shifted by a few metres, keeps 0.4-0.6 (benchmark scenes).
_GONE_RATIO = 0.35
#: Contrast to the local background (:func:`contrast_map`) at which a pixel is part of an
#: object: the built-in detector's default.
_STANDS_OUT = 0.09
#: An object standing out this much (1.5 x :data:`_STANDS_OUT`) is clearly there.
_CLEAR = 1.5 * _STANDS_OUT
#: Darkening of the ground just around an aircraft (2-8 m out) from which it counts as
#: scorch. Around intact aircraft it darkens by at most 0.11 (shadows that moved with the
#: sun, benchmark development scenes); around burned ones mostly by 0.13-0.30.
_SCORCH = 0.12
#: An object that stands out less than this in the other date is absent there, whatever
#: the correlation of the two dates' pixels says (a third of :data:`_STANDS_OUT`).
_ABSENT = _STANDS_OUT / 3
#: A faint airframe whose outline casts under this share of the shadow it cast in its own
#: date beside it in the other date, and stands out under ``_FAINTER`` of what it did (or
#: changed the full magnitude), is not there (its shadow went with it).
_CAST_GONE = 0.1
_FAINTER = 0.6
#: The share of its outline's cast shadow beside it (:func:`cast_shadow_share`) from which
#: an object is judged by its shadow too: half of what the detector counts as full evidence
#: (a faint airframe whose shadow was only part of why it was found still casts one).
_CAST_SOME = 0.5 * CAST_FULL
#: Correlation of an object's own pixels between dates above which they are one airframe.
_ALIKE = 0.4
#: Share of an aircraft-sized object of the other date, neither come nor gone, that an
#: outline taking it in mostly holds: something is still there. On the development scenes
#: the departures and arrivals reported held at most 0.09 of one such object; three false
#: ones held 0.64-1.0 (a departure and an arrival on pieces of a transport that stayed, a
#: departure on a burned transport whose remnants were found in AFTER).
_HELD = 0.5
#: An outline that overlaps itself this much (intersection over union) when turned by 45, 90
#: and 135 degrees about its centre is round, not an aircraft's. Aircraft found on the
#: development scenes overlap themselves 0.30 (median) and at most 0.66 (3 of 248 at 0.6 or
#: more: fighters blurred at 0.5-0.7 m); craters blown in the pavement 0.58 (11 of 26 at 0.6
#: or more; at 0.5-1.0 m the detector often finds only part of one, a half-moon). Such an object is
#: taken for a crater only where it casts under :data:`_CAST_SOME` of shadow beside it: the
#: craters called round cast 0.00-0.10, the two true aircraft changes found as round (on
#: held-out scenes) 0.20 and 0.28.
_ROUND = 0.6


def _paint_lum(a: Aircraft) -> float:
    """Luminance of an aircraft's paint (its airframe's median colour)."""
    rgb = a.features.get("mean_rgb")
    return float(np.mean(rgb[:3])) if rgb else float(a.features.get("lum", 0.0))


@dataclass(frozen=True, eq=False)
class ObjectResult:
    """What the object stage found.

    Attributes
    ----------
    changes : tuple of Change
        Aircraft-level changes then obscured areas, ids from 1.
    aircraft_before, aircraft_after : tuple of Aircraft
        Aircraft found in each date (judged areas only), BEFORE-grid map coordinates.
    aeroways : Aeroways
        The context used (given, or segmented from BEFORE).
    shadow_azimuth_deg : (float or None, float or None)
        Where shadows fall in BEFORE and in AFTER, degrees clockwise from the grid's up, as
        the aircraft cast them (:func:`~airdiff.objects.decoys.possible_decoys`); None where
        they do not agree. A rough estimate (see :class:`airdiff.pipeline.Comparison`).
    """

    changes: tuple[Change, ...]
    aircraft_before: tuple[Aircraft, ...]
    aircraft_after: tuple[Aircraft, ...]
    aeroways: Aeroways
    shadow_azimuth_deg: tuple[float | None, float | None] = (None, None)


def _dims(a: Aircraft) -> tuple[float, float]:
    return max(a.length_m, a.span_m), min(a.length_m, a.span_m)


def _to_map_units(grid) -> float:
    """Map units per metre."""
    return 1.0 / grid.metres_per_unit


# -- obscured areas --------------------------------------------------------------------------
def obscured_areas(cm: ChangeMap, *, min_area_m2: float = 500.0, simplify_m: float = 2.0):
    """Polygons of the areas that cannot be judged, with what hides them.

    Returns
    -------
    list of (geometry, note)
        ``note`` is 'cloud' (cloud or its shadow) or 'no data'.
    """
    from rasterio import features
    from scipy import ndimage as ndi

    grid = cm.grid
    gsd = grid.gsd
    out = []
    k = _to_map_units(grid)
    cloud = cm.cloud | cm.cloud_shadow
    for mask, note in ((cloud, "cloud"), (cm.nodata & ~cloud, "no data")):
        if not mask.any():
            continue
        # join nearby pieces (a cloud and its shadow), close small gaps
        m = ndi.binary_closing(mask, iterations=max(1, int(round(3.0 / gsd))))
        m |= mask
        polys = [shape(g) for g, v in features.shapes(m.astype(np.uint8), mask=m, transform=grid.transform) if v]
        min_area = min_area_m2 * k * k
        for p in polys:
            if p.area < min_area:
                continue
            q = p.simplify(simplify_m * k).buffer(0)
            if not q.is_empty:
                out.append((q, note))
    return out


# -- burned ----------------------------------------------------------------------------------
def _ring(geom, inner_m: float, outer_m: float, k: float):
    """The ground between ``inner_m`` and ``outer_m`` metres around ``geom`` (``k``: map units per metre)."""
    return geom.buffer(outer_m * k).difference(geom.buffer(inner_m * k))


def _ground_before(b: Aircraft, before_lum, grid, k) -> float:
    """Mean BEFORE luminance of the ground around an aircraft (a ring 4-14 m out)."""
    ring = _ring(b.footprint, 4.0, 14.0, k)
    return _mean_in(before_lum, ring, grid)


def _darkened(m, after_lum, before_lum, before_contrast, lit, *, stands_out: float = _STANDS_OUT) -> float:
    """0..1: how much darker the pixels of ``m`` that stood out in BEFORE are in AFTER.

    ``m`` and the arrays are one window of the scene. ``lit`` marks the pixels not in cast
    shadow in BEFORE: the lit footprint as a whole counts too.
    """
    core = m & (before_contrast > stands_out)
    if core.sum() < 0.2 * m.sum():
        core = m
    parts = [core]
    if (m & lit).sum() >= 0.3 * m.sum():
        parts.append(m & lit)
    out = 0.0
    for p in parts:
        lb = float(before_lum[p].mean())
        la = float(after_lum[p].mean())
        if lb > 0:
            # calibrated on synthetic scenes (benchmark seeds 0-11, checked on 12-19): charred
            # airframes darken by 0.3-0.8, intact ones under another sun and season by up to 0.25
            out = max(out, float(np.clip((1.0 - la / lb - 0.25) / 0.1, 0, 1)))
    return out


def _burned_score(b: Aircraft, ground: float, after_lum, after_chroma, before_lum, before_contrast, magnitude,
                  grid, k, lit_b) -> float:
    """0..1: how much the BEFORE aircraft's spot looks burned in AFTER.

    Judged from the AFTER pixels inside the BEFORE footprint directly (no AFTER detection
    needed): a charred remnant is much darker than the ground around it was in BEFORE
    (``ground``, :func:`_ground_before`; the AFTER ground around it is scorched too), grey,
    and the spot changed strongly.
    """
    spot = b.footprint.buffer(-0.5 * k)
    if spot.is_empty or spot.area < 0.3 * b.footprint.area:
        spot = b.footprint
    win, m = _window(spot, grid)
    if win is None or not m.any():
        return 0.0
    la = float(after_lum[win][m].mean())
    mag = float(magnitude[win][m].mean())
    chroma = float(after_chroma[win][m].mean())
    if not (np.isfinite(la) and np.isfinite(ground) and np.isfinite(mag)) or ground <= 0:
        return 0.0
    darkness = 1.0 - la / ground
    s_dark = np.clip((darkness - 0.25) / 0.2, 0, 1)
    # charring darkens the airframe: one already dark (camouflage) that is still there is not
    # a remnant, though its footprint darkens where its shadow now falls on lit ground
    # unless the ground right around it is scorched: an airframe painted dark darkens little
    # when it chars, but the fire blackens the concrete next to it
    charred = _darkened(m, after_lum[win], before_lum[win], before_contrast[win], lit_b[win])
    ring = _ring(b.footprint, 2.0, 8.0, k)
    ra, rb = _mean_in(after_lum, ring, grid), _mean_in(before_lum, ring, grid)
    if np.isfinite(ra) and np.isfinite(rb) and rb > 0:
        charred = max(charred, float(np.clip((1.0 - ra / rb - _SCORCH) / 0.06, 0, 1)))
    s_dark *= charred
    s_change = np.clip((mag - 0.15) / 0.15, 0, 1)
    s_grey = 1.0 if not np.isfinite(chroma) else float(np.clip((0.2 - chroma) / 0.08, 0, 1))
    return float(s_dark * s_change * s_grey)


def _burned_site(b: Aircraft, ground: float, after_lum, after_chroma, before_lum, grid, k):
    """The charred remnant and scorch in AFTER at a burned aircraft's BEFORE footprint.

    The BEFORE detection of a grey airframe on grey concrete can be only a piece of it (its
    tail, or its shadow); the remnant is dark and grey and stands out, so it places the
    burned aircraft better. ``ground``: :func:`_ground_before`. Returns a Polygon, or None
    when there is no remnant of at least a third of the footprint's area.
    """
    from rasterio import features
    from scipy import ndimage as ndi

    from .detect import mask_to_polygon

    reach = max(0.6 * _dims(b)[0], 30.0) * k  # the detection may be a piece of a transport
    win, m = _window(b.footprint.buffer(reach), grid)
    if win is None or not np.isfinite(ground) or ground <= 0:
        return None
    # dark and grey in AFTER where it was not dark in BEFORE (asphalt, shadows stay out)
    dark = 0.45 * ground
    char = m & (after_lum[win] < dark) & (after_chroma[win] < 0.15) & (before_lum[win] >= dark)
    px_m = grid.gsd
    r = max(1, int(round(1.0 / px_m)))
    char = ndi.binary_closing(ndi.binary_opening(char, iterations=r), iterations=r) & m
    t = _window_transform(grid, win)
    fp = features.geometry_mask([b.footprint], out_shape=char.shape, transform=t, invert=True)
    site = ndi.binary_propagation(fp & char, mask=char)  # the remnant's parts at the footprint
    if site.sum() * px_m * px_m < (b.footprint.area / (k * k)) / 3.0:
        return None
    return mask_to_polygon(site, t)


def _veiled(a: Aircraft, here_lum, there_lum, grid, k) -> bool:
    """The ground around ``a`` lost over half its fine detail in the other date.

    Haze or thin cloud that the cloud mask let through washes out an aircraft there together
    with the slab joints and markings around it: it cannot be told gone (benchmark scenes:
    rings around true departures and arrivals keep 0.6 or more of their detail, around
    aircraft under thin cloud 0.3-0.55).
    """
    from scipy import ndimage as ndi

    win, m = _window(_ring(a.footprint, 4.0, _HAZE_REACH_M, k), grid, pad_px=6)
    if win is None or not m.any():
        return False

    def detail(lum):  # mean distance of the ring's pixels to a 2 px blur of them
        x = lum[win]
        return float(np.abs(x - ndi.gaussian_filter(x, 2.0))[m].mean())

    return detail(there_lum) < 0.5 * detail(here_lum)


def _split(items: Sequence, test) -> tuple[list, list]:
    """``items`` for which ``test`` is false, and those for which it is true."""
    flags = [bool(test(x)) for x in items]
    return ([x for x, f in zip(items, flags, strict=True) if not f],
            [x for x, f in zip(items, flags, strict=True) if f])


def _hazy_areas(veiled: Sequence[Aircraft], obscured: Sequence, k: float) -> list:
    """Areas around aircraft seen in one date only through haze, one polygon per patch.

    Each is the ground within 20 m of the aircraft's hull (:func:`_veiled` judged the ground
    within 20 m of its outline); one lying mostly in an area already reported obscured
    (cloud, no data) is left to that area.
    """
    from shapely.ops import unary_union

    if not veiled:
        return []
    # around the outline's hull: a rounded patch reads better on a figure than wing-shaped lobes
    u = unary_union([a.footprint.convex_hull.buffer(_HAZE_REACH_M * k) for a in veiled])
    hidden = unary_union(list(obscured)) if obscured else None
    out = []
    for g in sorted(getattr(u, "geoms", [u]), key=lambda g: -g.area):
        if hidden is not None and g.intersection(hidden).area > 0.5 * g.area:
            continue
        out.append(g)
    return out


def roundness(geom) -> float:
    """How much ``geom`` overlaps itself (intersection over union) turned by 45, 90 and 135
    degrees about its centre, the least of the three: 1 for a disk, about 0.3 for an
    aircraft's cross."""
    from shapely import affinity

    if geom.is_empty or geom.area <= 0:
        return 0.0
    c = geom.centroid
    out = 1.0
    for ang in (45.0, 90.0, 135.0):
        t = affinity.rotate(geom, ang, origin=c)
        out = min(out, geom.intersection(t).area / geom.union(t).area)
    return float(out)


def _cast_share(win, m: np.ndarray, cast: np.ndarray, gsd: float) -> float:
    """:func:`~airdiff.objects.detect.cast_shadow_share` of the pixels ``m`` of window ``win``
    (from :func:`~airdiff.objects._raster.window`) on the cast-shadow map ``cast``."""
    rr, cc = np.nonzero(m)
    return cast_shadow_share(rr + win[0].start, cc + win[1].start, cast, gsd)


def _charred(a: Aircraft, after_lum, after_chroma, before_lum, grid, k) -> bool:
    """An AFTER candidate that is a dark, grey remnant on scorched ground (not an aircraft)."""
    ring = _ring(a.footprint, 2.0, 10.0, k)
    la = _mean_in(after_lum, a.footprint, grid)
    ra = _mean_in(after_lum, ring, grid)
    rb = _mean_in(before_lum, ring, grid)
    chroma = _mean_in(after_chroma, a.footprint, grid)
    if not (np.isfinite(la) and np.isfinite(ra) and np.isfinite(rb)) or rb <= 0:
        return False
    scorched = ra < 0.8 * rb
    return bool(la < 0.45 * rb and chroma < 0.12 and scorched)


# -- matching --------------------------------------------------------------------------------
def _same_place(before: Sequence[Aircraft], after: Sequence[Aircraft], k: float):
    """One-to-one pairs (i, j) of aircraft at the same place with a similar size."""
    if not before or not after:
        return []
    big = 1e6
    cost = np.full((len(before), len(after)), big)
    for i, b in enumerate(before):
        bx, by = b.centroid
        db = _dims(b)
        for j, a in enumerate(after):
            ax, ay = a.centroid
            d = np.hypot(ax - bx, ay - by) / k
            gate = max(6.0, 0.3 * max(db[0], _dims(a)[0]))
            if d > gate:
                continue
            inter = b.footprint.intersection(a.footprint).area
            iou = inter / max(b.footprint.union(a.footprint).area, 1e-9)
            da = _dims(a)
            size = abs(np.log(db[0] / da[0]))
            if size > 0.45 or iou < 0.15:
                continue
            cost[i, j] = d / gate + size + (1 - iou)
    r, c = linear_sum_assignment(cost)
    return [(i, j) for i, j in zip(r, c, strict=True) if cost[i, j] < big]


#: Weight of the paint (mean colour, 0-1) against the size (log ratio) in telling which of
#: several look-alike departures a moved aircraft is. Airframes of one type and livery still
#: differ in shade, and the paint one airframe shows in two dates differs less than theirs
#: (benchmark moves: median 0.016 against 0.062), while the size the detector measures does
#: not tell them apart at all (one airframe's two sizes differ as much as two airframes').
_PAINT_WEIGHT = 10.0
#: two origins whose matching costs differ by less than this cannot be told apart: about 0.03
#: in mean paint (0-1), what one airframe's paint varies by between two dates (90 % of them)
_ORIGIN_MARGIN = 0.3
#: The most two footprints of different size classes may differ in size (the log-ratio term
#: of :func:`moved_pairs`) and still be one airframe. One airframe measured in two dates, on
#: its stand and off it, differed by up to 0.39 (the development strike scene's moves),
#: so a transport found 34 m long on its stand (medium) and 44 m on a taxiway (large) is one.
_SIZE_ACROSS_CLASSES = 0.4
#: surfaces where aircraft park: a new aircraft on them is an arrival, not a move's destination
PARKING = ("stand", "apron")


def moved_pairs(vanished: Sequence[Aircraft], new: Sequence[Aircraft], new_surface, k: float, *,
                parking: Sequence[str] = PARKING, from_surface=None):
    """Pairs (i, j) of a vanished BEFORE aircraft and a new AFTER aircraft of the same type.

    Shared by the in-memory and the tiled object stages, so both pair moves alike.

    Parameters
    ----------
    vanished, new : sequence of Aircraft
        BEFORE aircraft no longer there, and AFTER aircraft not there before.
    new_surface : sequence of str
        The surface (``'stand'``, ``'apron'``, ``'taxiway'``, ...) each new aircraft is on.
        One on a ``parking`` surface is never paired: the images cannot tell an aircraft
        moved from one stand to another from one that left and another that arrived, and of
        aircraft of one type, the closest vanished one would be named as its origin on no
        evidence. It is reported appeared.
    k : float
        Map units per metre.
    parking : sequence of str
        Surfaces a move cannot end on (default :data:`PARKING`); ``()`` pairs look-alikes
        wherever they are.
    from_surface : sequence of str or None, optional
        The surface each vanished aircraft was on, given where the airfield's surfaces are
        known. A pair with neither end on a known surface is then never made: aircraft move
        on the airfield's pavement, and two objects off it (the shadows along two buildings'
        walls, which change with the sun) are no move.

    Returns
    -------
    pairs : list of (i, j)
    cost : dict
        How unlike the two of each pair are, in size and paint (under 0.6), for its score.
    rivals : dict
        For each pair, how many *other* vanished aircraft would match the new one about as
        well (within ``_ORIGIN_MARGIN``): identical aircraft whose origins the images cannot
        tell apart.
    """
    if not vanished or not new:
        return [], {}, {}
    big = 1e6
    cost = np.full((len(vanished), len(new)), big)
    unlike = {}

    def dims(a):
        # of the airframe where the footprint also took in its shadows or a marking
        if a.airframe is None:
            return _dims(a)
        d1, d2 = rect_dims(a.airframe)
        return max(d1, d2) / k, max(min(d1, d2) / k, 1.0)

    dims_new = [dims(a) for a in new]
    for i, b in enumerate(vanished):
        db = dims(b)
        cb = np.asarray(b.features.get("mean_rgb", ()), float)
        for j, a in enumerate(new):
            if new_surface[j] in parking:
                continue
            if from_surface is not None and from_surface[i] is None and new_surface[j] is None:
                continue
            da = dims_new[j]
            # the smaller dimension counts less: a light airframe's wings on light concrete
            # are often lost, leaving its fuselage and shadow, of full length but narrow
            size = abs(np.log(db[0] / da[0])) + 0.25 * abs(np.log(db[1] / da[1]))
            if size > 0.5 or b.size_class != a.size_class and size > _SIZE_ACROSS_CLASSES:
                continue
            ca = np.asarray(a.features.get("mean_rgb", ()), float)
            paint = float(np.abs(cb - ca).mean()) if cb.size and cb.size == ca.size else 0.0
            if paint > 0.2:
                continue
            if size + 3.0 * paint >= 0.6:
                continue
            unlike[i, j] = size + 3.0 * paint
            # identical aircraft: the assignment with the least total travel breaks the tie
            dist_m = np.hypot(*np.subtract(a.centroid, b.centroid)) / k
            cost[i, j] = size + _PAINT_WEIGHT * paint + 1e-4 * dist_m
    r, c = linear_sum_assignment(cost)
    pairs = [(i, j) for i, j in zip(r, c, strict=True) if cost[i, j] < big]
    rivals = {(i, j): int(np.sum(cost[:, j] < cost[i, j] + _ORIGIN_MARGIN)) - 1 for i, j in pairs}
    return pairs, {p: float(unlike[p]) for p in pairs}, rivals


def lookalike_notes(vanished: Sequence[Aircraft], new: Sequence[Aircraft], new_surface, k: float):
    """Notes for departures and arrivals that look alike: one may have moved to the other.

    An arrival on a stand is never called a move (:func:`moved_pairs`), but where an
    aircraft like it left, the analyst should hear of it, without it being claimed.

    Returns
    -------
    list of (i, j, note_vanished, note_new)
        A vanished and a new aircraft that look alike, and the note each gets.
    """
    alike, _, _ = moved_pairs(vanished, new, new_surface, k, parking=())
    out = []
    for i, j in alike:
        d = vanished[i].placed.centroid.distance(new[j].placed.centroid) / k
        out.append((i, j, f"an aircraft like it arrived {d:.0f} m away: it may have moved there",
                    f"an aircraft like it left {d:.0f} m away: it may have moved here"))
    return out


def origin_note(rivals: int) -> str:
    """What to say of a moved aircraft's origin when ``rivals`` others fit it as well."""
    if rivals <= 0:
        return ""
    return (f"came from one of {rivals + 1} stands whose aircraft look alike; the stand shown "
            "is the closest match, not a certainty")


def _merge_external(builtin: list[Aircraft], external: Sequence[Aircraft], date: str) -> list[Aircraft]:
    out = list(builtin)
    for e in external:
        d = e.features.get("date") if e.features else None
        if d not in (None, date):
            continue
        # an external detection replaces the built-in ones it overlaps
        out = [a for a in out if a.footprint.intersection(e.footprint).area < 0.3 * min(a.footprint.area, e.footprint.area)]
        out.append(e)
    return out


def _near_paved(before: Scene, aeroways: Aeroways, *, margin_m: float = 8.0) -> np.ndarray | None:
    """Pixels on or within ``margin_m`` of paved surfaces (None: no usable context).

    From the BEFORE paved mask with the holes aircraft make closed (a disk wider than
    half the largest span), united with the aeroways, given or segmented: the paved mask
    asks for smooth ground too, and at 1 m a taxiway narrower than about 20 m is smooth only
    along its middle, too thin to survive; the segmented taxiways keep it.
    """
    from rasterio import features
    from scipy import ndimage as ndi

    from .context import _close_disk, paved_mask

    grid = before.grid
    k = _to_map_units(grid)
    paved, step = paved_mask(before)
    cell = step * before.gsd
    paved = ndi.binary_fill_holes(_close_disk(paved, 30.0 / cell))
    paved = ndi.binary_dilation(paved, iterations=max(1, int(round(margin_m / cell))))
    m = np.zeros((grid.height, grid.width), bool)
    up = np.repeat(np.repeat(paved, step, axis=0), step, axis=1)
    m[: up.shape[0], : up.shape[1]] = up[: grid.height, : grid.width]
    geoms = [g.buffer(margin_m * k) for kind, g in aeroways.features
             if kind in ("runway", "taxiway", "apron", "stand")]
    if geoms:
        m |= features.geometry_mask(geoms, out_shape=(grid.height, grid.width), transform=grid.transform,
                                    invert=True)
    if m.mean() < 0.02:
        return None
    return m


# -- the stage -------------------------------------------------------------------------------
def find_changes(
    before: Scene,
    normalised: Scene,
    cm: ChangeMap,
    *,
    aeroways: Aeroways | None = None,
    detector: Detector | None = None,
    external: Sequence[Aircraft] | None = None,
    min_aircraft_m: float = 12.0,
    min_change: float = 0.2,
    obscured_min_area_m2: float = 500.0,
    min_score: float = 0.72,
) -> ObjectResult:
    """Aircraft-level changes between BEFORE and the aligned, normalised AFTER.

    Parameters
    ----------
    before : Scene
    normalised : Scene
        AFTER on BEFORE's grid, radiometry matched (:func:`airdiff.radiometry.normalise`).
    cm : ChangeMap
        From :func:`airdiff.change.change_map`.
    aeroways : Aeroways, optional
        Airfield surfaces on BEFORE's grid; segmented from BEFORE when not given.
    detector : Detector, optional
        Replaces the built-in detector (called once per date with ``mask`` = judged pixels).
    external : sequence of Aircraft, optional
        Extra detections. One with ``features['date']`` 'before' or 'after' is used in that
        date only, one without in both; each replaces the detections it overlaps.
    min_aircraft_m : float
        Objects whose largest dimension is smaller are never aircraft (vehicles, equipment).
    min_change : float
        Mean change magnitude over a footprint needed to call an aircraft vanished or new.
    obscured_min_area_m2 : float
        Smallest obscured area reported.
    min_score : float
        Detection score an unpaired aircraft needs to be reported appeared or disappeared.

    Returns
    -------
    ObjectResult
    """
    grid = before.grid
    k = _to_map_units(grid)  # map units per metre
    if aeroways is None:
        aeroways = segment_aeroways(before)
    judged = cm.judged
    # without colour, the surfaces were told by brightness alone: off them lie grass and soil
    # that changed with the season (and a dark asphalt surface, which cannot be told from them)
    colourless = aeroways.source == "segmented" and bool(aeroways.features) and before.count < 3
    # BEFORE is searched wherever it has data: an aircraft whose spot the AFTER cloud hides
    # can still be the origin of a move (never a disappearance)
    mask_b = ~cm.nodata & before.valid
    mask_a = judged & normalised.valid

    # per date: its pixels, how much each stands out from its local background (an object is
    # present in a date where its footprint stands out there), that background, and the
    # built-in detector's aircraft; the two dates are independent, so side by side
    def one_date(scene, mask):
        layers = planes(scene)
        pixels, _, bg, contrast = layers
        found = (detect_aircraft(scene, mask=mask, min_aircraft_m=min_aircraft_m, layers=layers)
                 if detector is None else None)
        return pixels, contrast, bg, found

    (fb, pres_b, bg_b, found_b), (fa, pres_a, bg_a, found_a) = both(lambda: one_date(before, mask_b),
                                                                    lambda: one_date(normalised, mask_a))
    if detector is not None:
        # a caller's detector is never called from two threads at once
        found_b = list(detector(before, mask=mask_b))
        found_a = list(detector(normalised, mask=mask_a))
    if external:
        found_b = _merge_external(found_b, external, "before")
        found_a = _merge_external(found_a, external, "after")
    obscured = cm.obscured

    def big_enough(a: Aircraft) -> bool:
        if a.source != "builtin":
            return max(a.length_m, a.span_m) >= min_aircraft_m
        # vehicles (and their shadows), marking fragments: too small or too thin
        d1, d2 = _dims(a)
        area_m2 = a.footprint.area / (k * k)
        return d1 >= min_aircraft_m and d2 >= 0.5 * min_aircraft_m and area_m2 >= 0.4 * min_aircraft_m ** 2

    def hidden(a: Aircraft) -> bool:
        # a piece of an aircraft the cloud half hides cannot be judged either
        return _frac_in(obscured, a.footprint.buffer(10.0 * k), grid) >= 0.05

    near_paved = _near_paved(before, aeroways)
    if near_paved is not None:
        # aircraft stand on paved surfaces: soil patches, hedges and roofs off them are not
        found_b = [a for a in found_b if _frac_in(near_paved, a.footprint, grid) >= 0.5]
        found_a = [a for a in found_a if _frac_in(near_paved, a.footprint, grid) >= 0.5]

    ac_b_all = [a for a in found_b if big_enough(a)]
    ac_b = [a for a in ac_b_all if not hidden(a)]
    ac_b_hidden = [a for a in ac_b_all if hidden(a)]
    ac_a = [a for a in found_a if big_enough(a) and not hidden(a)]

    vis = slice(0, min(3, fb.shape[0]))
    lum_a = fa[vis].mean(axis=0)
    lum_b = fb[vis].mean(axis=0)
    if fa.shape[0] >= 3:
        mx = fa[vis].max(axis=0)
        sat_a = mx - fa[vis].min(axis=0)  # chroma: stable for dark pixels, unlike saturation
    else:
        sat_a = np.zeros_like(lum_a)

    # what stood out in BEFORE other than cast shadows: an airframe's own pixels, which char
    # (a shadow is dark already; an airframe found with its shadows is judged on itself)
    lum_bg_b, lum_bg_a = bg_b[vis].mean(axis=0), bg_a[vis].mean(axis=0)
    dark_b, shadow_b = shadow_pixels(lum_b, lum_bg_b, saturation(fb))
    dark_a, shadow_a = shadow_pixels(lum_a, lum_bg_a, saturation(fa))
    # aircraft casting no shadow where the others of their date cast theirs: possible decoys
    check_b = possible_decoys(ac_b_all, lum_b, dark_b, mask_b, grid)
    check_a = possible_decoys(ac_a, lum_a, dark_a, mask_a, grid)
    decoy = {id(a) for a, f in zip(ac_b_all, check_b.flagged, strict=True) if f}
    decoy |= {id(a) for a, f in zip(ac_a, check_a.flagged, strict=True) if f}
    # where each date may show a cast shadow (a cloud's shadow, no data are none)
    cast_b, cast_a = shadow_b & mask_b, shadow_a & mask_a
    airframe_b = np.where(shadow_b, 0.0, pres_b)
    lit_b = ~shadow_b
    changes: list[dict] = []
    # 2. burned on its stand
    burned_idx = set()
    sites = []
    # an airframe still standing out in AFTER, lit, where one stood is no remnant: what
    # darkened there is its own shadow, moved with the sun. It stands out as much as any
    # object present does; a faint patch of concrete amid scorch, found whole, is no airframe
    lit_a = [a for a in ac_a if not a.features.get("dark")
             and a.features.get("lum", 0.0) >= SHADOW_DARK * a.features.get("bg_lum", 0.0)
             and a.features.get("contrast", 1.0) >= _STANDS_OUT]
    for i, b in sorted(enumerate(ac_b), key=lambda ib: -ib[1].score):
        ground = _ground_before(b, lum_b, grid, k)
        s = _burned_score(b, ground, lum_a, sat_a, lum_b, airframe_b, cm.magnitude, grid, k, lit_b)
        if s < 0.5:
            continue
        # (an airframe of about its size, its paint not dark against the ground as it was: a
        # charred remnant stands out against the scorch around it, and so does bare concrete
        # between patches of scorch, in pieces)
        if any(_dims(a)[0] >= 0.6 * _dims(b)[0]
               and a.footprint.intersection(b.footprint).area > 0.3 * b.footprint.area
               and _paint_lum(a) >= SHADOW_DARK * ground for a in lit_a):
            continue
        burned_idx.add(i)
        site = _burned_site(b, ground, lum_a, sat_a, lum_b, grid, k) or b.footprint
        if any(site.intersection(o).area > 0.3 * min(site.area, o.area) for o in sites):
            continue  # another piece (a tail, a shadow) of an aircraft already reported
        sites.append(site)
        surface = aeroways.surface_at(b.footprint)
        if colourless and surface is None:
            changes.append(dict(cls="changed", score=s, geometry=site, length_m=max(b.length_m, b.span_m),
                                note=OFF_PAVING_BURNED_NOTE))
            continue
        changes.append(dict(cls="burned", score=s, geometry=site, size_class=b.size_class,
                            length_m=max(b.length_m, b.span_m), surface=surface, from_surface=surface,
                            **decoy_note(id(b) in decoy)))
    # burned remnants are neither new aircraft nor where one moved to
    zone = [ac_b[i].footprint.buffer(0.4 * max(_dims(ac_b[i])[0], 20.0) * k) for i in burned_idx]
    zone += [g.buffer(4.0 * k) for g in sites]
    # (mostly inside: an aircraft parked on the next stand only touches the zone)
    ac_a_rest = [a for a in ac_a if not any(z.intersection(a.footprint).area > 0.5 * a.footprint.area for z in zone)
                 and not _charred(a, lum_a, sat_a, lum_b, grid, k)]
    ac_b_rest = [b for i, b in enumerate(ac_b) if i not in burned_idx]

    # 3. same place
    pairs = _same_place(ac_b_rest, ac_a_rest, k)
    used_b = {i for i, _ in pairs}
    used_a = {j for _, j in pairs}

    # 4. real change only: changed pixels, and the object stands out in one date only
    # cast shadows change with the sun: judge an object on its lit pixels, those in deep
    # shadow in neither date
    lit = (lum_b >= 0.45 * lum_bg_b) & (lum_a >= 0.45 * lum_bg_a)

    def gone(a: Aircraft, here: np.ndarray, there: np.ndarray, cast_there: np.ndarray) -> bool:
        win, m = _window(a.footprint, grid)
        if win is None or not m.any():
            return False
        body = m & lit[win]
        shadowed = body.sum() < 0.3 * m.sum()
        if shadowed:
            # mostly deep shadow in one date or dark paint: a shadow that moved with the sun is
            # no aircraft change; only a clear one counts
            body = m
            need = 1.5 * min_change
        else:
            need = min_change
        ph, pt = float(here[win][body].mean()), float(there[win][body].mean())
        # a light airframe on light concrete hardly changes the pixels it covers; a lit one
        # that stands out clearly in its date and hardly at all in the other came or went
        clear = not shadowed and ph >= _CLEAR and pt < ph / 3
        mag = float(np.median(cm.magnitude[win][body]))
        # the same airframe in both dates (lit parts alike) is no change, however faint it is
        # in one of them
        own = body & (here[win] > _STANDS_OUT)
        if own.sum() >= 0.3 * body.sum():
            # the ground an outline took in is the same in both dates: only the object's own
            # pixels say whether it is still there
            body = own
        x, y = lum_b[win][body], lum_a[win][body]
        sx, sy = float(x.std()), float(y.std())
        ncc = float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy)) if sx > 1e-6 and sy > 1e-6 else 0.0
        # a faint airframe casts a shadow beside it (part of why it was found); where nothing
        # beside its outline is cast shadow in the other date, and it stands out less there,
        # it is not there. A light airframe on light concrete hardly stands out in either date
        # (what lies under it, a centre line, a joint, stands out about as much): there, its
        # pixels changing the full magnitude stand for its fading
        cast_here = float(a.features.get("cast_shadow", float("nan")))
        cast = float("nan")
        shadow_left = False
        if not shadowed and not clear and cast_here >= _CAST_SOME and pt < ph:
            cast = _cast_share(win, m, cast_there, before.gsd)
            shadow_left = (cast < _CAST_GONE * cast_here and (pt < _FAINTER * ph or mag >= need)
                           and mag >= 0.5 * need and ncc < _ALIKE)
        log.debug("gone? at %s: lit %.2f mag %.2f here %.3f there %.3f ncc %.2f cast shadow %.2f here %.2f there",
                  a.centroid, body.sum() / m.sum(), mag, ph, pt, ncc, cast_here, cast)
        if shadow_left:
            return True
        if mag < need and not clear:
            return False
        return pt < _GONE_RATIO * ph and (ncc < _ALIKE or pt < _ABSENT)

    vanished = [b for i, b in enumerate(ac_b_rest) if i not in used_b and gone(b, pres_b, pres_a, cast_a)]
    new = [a for j, a in enumerate(ac_a_rest) if j not in used_a and gone(a, pres_a, pres_b, cast_b)]
    came_or_went = {id(a) for a in vanished + new}
    # pieces and shadows of an aircraft that stayed belong to it, not to a change
    stayed = [ac_b_rest[i].footprint.union(ac_a_rest[j].footprint).buffer(8.0 * k) for i, j in pairs]

    def near_stayed(a: Aircraft) -> bool:
        area = a.footprint.area
        return any(z.intersection(a.footprint).area > 0.3 * area for z in stayed)

    vanished = [b for b in vanished if not near_stayed(b)]
    new = [a for a in new if not near_stayed(a)]
    # seen in one date only through haze: cannot be judged (reported as such in 6.)
    vanished, veiled_b = _split(vanished, lambda b: _veiled(b, lum_b, lum_a, grid, k))
    new, veiled_a = _split(new, lambda a: _veiled(a, lum_a, lum_b, grid, k))

    def piece_of(a: Aircraft, others: Sequence[Aircraft]) -> bool:
        # a much smaller object against a changed aircraft is a piece of it (its shadow, a
        # wing split off), not a second aircraft
        reach = _SHADOW_REACH_M * k
        return any(o is not a and _dims(o)[0] >= 1.5 * _dims(a)[0]
                   and o.footprint.buffer(reach).intersection(a.footprint).area > 0.3 * a.footprint.area
                   for o in others)

    vanished = [b for b in vanished if not piece_of(b, vanished)]
    new = [a for a in new if not piece_of(a, new)]

    def only_shadow(a: Aircraft, found: Sequence[Aircraft]) -> bool:
        # a dark object is a cast shadow when a lit aircraft of the same date lies within a
        # wing's length (that aircraft carries any change), or when it is grey like a shadow
        # (its caster, a grey airframe on grey concrete, is not seen): a shadow that changed
        # with the sun is no aircraft change on its own. An object found with what looked
        # like its shadow may be dark paint or a cast shadow with a little of its caster: a
        # shadow only beside a larger lit aircraft
        if a.features.get("with_shadow"):
            larger = 1.5
        elif not a.features.get("dark"):
            return False
        elif float(a.features.get("sat", 1.0)) < SHADOW_SAT:
            return True
        else:
            larger = 0.0
        reach = a.footprint.buffer(_SHADOW_REACH_M * k)
        return any(not b.features.get("dark") and b is not a and _dims(b)[0] >= larger * _dims(a)[0]
                   and reach.intersects(b.footprint) for b in found)

    vanished = [b for b in vanished if not only_shadow(b, ac_b_all)]
    new = [a for a in new if not only_shadow(a, ac_a)]
    # an object that came or went, round and flat (no shadow of its own beside it), is no
    # aircraft: a crater blown in the pavement (or filled in): a change worth a look
    def flat_round(a: Aircraft, cast: np.ndarray) -> bool:
        if roundness(a.footprint) < _ROUND:
            return False
        win, m = _window(a.footprint, grid)
        return win is not None and _cast_share(win, m, cast, before.gsd) < _CAST_SOME

    vanished, round_b = _split(vanished, lambda b: flat_round(b, cast_b))
    new, round_a = _split(new, lambda a: flat_round(a, cast_a))
    # an aircraft-sized object of the other date that neither came nor went, lying mostly
    # inside the outline, says something is still there (a piece of an aircraft that stayed,
    # its wing and shadow found apart from it in one date; the remnants of one that burned,
    # its burn missed): a change worth a look, not a departure or an arrival
    steady_b = [b for b in ac_b_rest if id(b) not in came_or_went]
    steady_a = [a for a in ac_a_rest if id(a) not in came_or_went]

    def holds(a: Aircraft, others: Sequence[Aircraft]) -> bool:
        return any(o.footprint.intersection(a.footprint).area > _HELD * o.footprint.area for o in others)

    vanished, held_b = _split(vanished, lambda b: holds(b, steady_a))
    new, held_a = _split(new, lambda a: holds(a, steady_b))
    veiled = [b for b in veiled_b if b.score >= min_score and not only_shadow(b, ac_b_all)]
    veiled += [a for a in veiled_a if a.score >= min_score and not only_shadow(a, ac_a)]

    def on_surfaces(found: list[Aircraft]):
        # each object's surface; an object that came or went off every surface found, where
        # the surfaces were told by brightness alone, is a change worth a look, never an
        # aircraft's arrival, departure or move: (kept, their surfaces, set aside)
        surface = [aeroways.surface_at(a.footprint) for a in found]
        off = [colourless and s is None for s in surface]
        return ([a for a, o in zip(found, off, strict=True) if not o],
                [s for s, o in zip(surface, off, strict=True) if not o],
                [a for a, o in zip(found, off, strict=True) if o])

    new, new_surface, off_a = on_surfaces(new)
    vanished, old_surface, off_b = on_surfaces(vanished)
    # 5. moved (on the airfield's pavement, where its surfaces are known)
    known = bool(aeroways.features)
    mpairs, mcost, mrivals = moved_pairs(vanished, new, new_surface, k,
                                         from_surface=old_surface if known else None)
    mv_b = {i for i, _ in mpairs}
    mv_a = {j for _, j in mpairs}
    moves = [(vanished[i], old_surface[i], new[j], j, mcost[(i, j)], 1.0, mrivals[(i, j)]) for i, j in mpairs]
    # new aircraft left over may come from a stand the AFTER cloud hides (lower score)
    left = [j for j in range(len(new)) if j not in mv_a]
    if left and ac_b_hidden:
        hidden_surface = [aeroways.surface_at(b.footprint) for b in ac_b_hidden]
        hp, hcost, hrivals = moved_pairs(ac_b_hidden, [new[j] for j in left], [new_surface[j] for j in left], k,
                                         from_surface=hidden_surface if known else None)
        for i, jj in hp:
            moves.append((ac_b_hidden[i], hidden_surface[i], new[left[jj]], left[jj], hcost[(i, jj)], 0.7,
                          hrivals[(i, jj)]))
            mv_a.add(left[jj])
    for b, b_surface, a, j, cost, factor, rivals in moves:
        score = float(np.clip(factor * 0.5 * (a.score + b.score) * (1.0 - 0.5 * cost), 0, 1))
        note = "" if factor == 1.0 else "came from a stand hidden by cloud in AFTER"
        flag = decoy_note(id(a) in decoy or id(b) in decoy, note, origin_note(rivals))
        changes.append(dict(cls="moved", score=score, geometry=a.placed,
                            from_geometry=b.placed,
                            surface=new_surface[j], from_surface=b_surface,
                            size_class=a.size_class, length_m=max(a.length_m, a.span_m),
                            from_alternatives=int(rivals), **flag))
    # an arrival on a stand may be an aircraft moved there from another stand: say so where
    # one like it left, without claiming it
    left_b = [i for i in range(len(vanished)) if i not in mv_b and vanished[i].score >= min_score]
    left_a = [j for j in range(len(new)) if j not in mv_a and new[j].score >= min_score]
    alike = lookalike_notes([vanished[i] for i in left_b], [new[j] for j in left_a],
                            [new_surface[j] for j in left_a], k)
    notes_b = {i: note for i, _, note, _ in alike}
    notes_a = {j: note for _, j, _, note in alike}
    for n, i in enumerate(left_b):
        b = vanished[i]
        changes.append(dict(cls="disappeared", score=b.score, geometry=b.placed,
                            from_surface=old_surface[i], size_class=b.size_class,
                            length_m=max(b.length_m, b.span_m), **decoy_note(id(b) in decoy, notes_b.get(n, ""))))
    for n, j in enumerate(left_a):
        a = new[j]
        changes.append(dict(cls="appeared", score=a.score, geometry=a.placed, surface=new_surface[j],
                            size_class=a.size_class, length_m=max(a.length_m, a.span_m),
                            **decoy_note(id(a) in decoy, notes_a.get(n, ""))))
    for a, note in [(a, ROUND_NEW_NOTE) for a in round_a] + [(b, ROUND_GONE_NOTE) for b in round_b]:
        mag = _median_in(cm.magnitude, a.footprint, grid)
        changes.append(dict(cls="changed", score=float(np.clip(np.nan_to_num(mag), 0.0, 1.0)), geometry=a.footprint,
                            surface=aeroways.surface_at(a.footprint), length_m=max(a.length_m, a.span_m),
                            note=note))
    for a, note in ([(a, OFF_PAVING_NEW_NOTE) for a in off_a] + [(b, OFF_PAVING_GONE_NOTE) for b in off_b]
                    + [(a, HELD_NEW_NOTE) for a in held_a] + [(b, HELD_GONE_NOTE) for b in held_b]):
        if a.score >= min_score:
            changes.append(dict(cls="changed", score=a.score, geometry=a.placed,
                                length_m=max(a.length_m, a.span_m), note=note))
    order = {c: n for n, c in enumerate(_AIRCRAFT_CLASSES)}
    changes.sort(key=lambda c: (order.get(c["cls"], 9), -c["score"]))
    # 6. obscured
    areas = obscured_areas(cm, min_area_m2=obscured_min_area_m2)
    areas += [(g, "haze") for g in _hazy_areas(veiled, [g for g, _ in areas], k)]
    for geom, note in areas:
        changes.append(dict(cls="obscured", score=1.0, geometry=geom, note=note))
    out = tuple(Change(id=n, **c) for n, c in enumerate(changes, start=1))
    log.info("objects: %s", summarise(out))
    return ObjectResult(changes=out, aircraft_before=_flagged(ac_b_all, decoy), aircraft_after=_flagged(ac_a, decoy),
                        aeroways=aeroways, shadow_azimuth_deg=(check_b.azimuth_deg, check_a.azimuth_deg))


#: What a ``changed`` object's note says: round (:func:`roundness`) and casting no shadow.
ROUND_NEW_NOTE = "new round, flat object, not an aircraft: a crater or other damage?"
ROUND_GONE_NOTE = "round, flat object gone since BEFORE, not an aircraft: a crater filled in?"

#: What a ``changed`` object's note says where, on one band, it lies off every surface found
#: (:func:`airdiff.objects.context.segment_aeroways` tells them by brightness alone there).
_OFF_PAVING = ("off the paved surfaces found; without colour, grass and soil cannot be told from "
               "dark paving: not called an aircraft")
OFF_PAVING_NEW_NOTE = "new aircraft-like object " + _OFF_PAVING
OFF_PAVING_GONE_NOTE = "aircraft-like object gone " + _OFF_PAVING
OFF_PAVING_BURNED_NOTE = "darkened like a burned aircraft " + _OFF_PAVING
#: the notes of objects that would have been arrivals or departures (kept by score alike)
OFF_PAVING_NOTES = (OFF_PAVING_NEW_NOTE, OFF_PAVING_GONE_NOTE)

#: What a ``changed`` object's note says where an aircraft-sized object of the other date,
#: neither come nor gone, lies mostly inside it (``_HELD``).
HELD_NEW_NOTE = ("aircraft-like object new since BEFORE, where an aircraft-sized object stood in "
                 "BEFORE too: not called an arrival")
HELD_GONE_NOTE = ("aircraft-like object gone since BEFORE, where an aircraft-sized object stands in "
                  "AFTER: not called a departure")

#: What a change's note says of an aircraft flagged by :func:`possible_decoys`.
DECOY_NOTE = "casts no shadow where the other aircraft cast theirs: may be a decoy"


def decoy_note(flagged: bool, *notes: str) -> dict:
    """A change's ``note`` (and ``possible_decoy``): the notes given, and the decoy's when flagged."""
    out = {"note": "; ".join(n for n in (*notes, DECOY_NOTE if flagged else "") if n)}
    if flagged:
        out["possible_decoy"] = True
    return out


def _flagged(found: Sequence[Aircraft], decoy: set[int]) -> tuple[Aircraft, ...]:
    """``found``, those in ``decoy`` with ``features['possible_decoy']`` set."""
    return tuple(replace(a, features={**a.features, "possible_decoy": True}) if id(a) in decoy else a
                 for a in found)


# -- summary ---------------------------------------------------------------------------------
_TO = {
    "runway": ("to the runway", "to the runway"),
    "taxiway": ("to a taxiway", "to taxiways"),
    "stand": ("to another stand", "to other stands"),
    "apron": ("to the apron", "to the apron"),
    "grass": ("onto grass", "onto grass"),
}


def summarise(changes: Sequence[Change]) -> str:
    """One quotable line of counts.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> from airdiff.objects.model import Change
    >>> cs = [Change(1, "burned", 0.9, box(0, 0, 1, 1)),
    ...       Change(2, "moved", 0.9, box(0, 0, 1, 1), surface="runway"),
    ...       Change(3, "obscured", 1.0, box(0, 0, 9, 9), note="cloud")]
    >>> summarise(cs)
    '1 burned · 1 moved (1 to the runway) · 0 appeared · 0 disappeared · 1 area cannot be assessed (cloud)'
    """
    c = Counter(ch.cls for ch in changes)
    parts = []
    for cls in _AIRCRAFT_CLASSES:
        text = f"{c.get(cls, 0)} {cls}"
        if cls == "moved" and c.get("moved", 0):
            where = Counter(ch.surface for ch in changes if ch.cls == "moved")
            bits = []
            for surf in ("taxiway", "runway", "stand", "apron", "grass"):
                n = where.pop(surf, 0)
                if n:
                    bits.append(f"{n} {_TO[surf][0 if n == 1 else 1]}")
            rest = sum(where.values())
            if rest:
                bits.append(f"{rest} elsewhere")
            text += f" ({', '.join(bits)})"
        parts.append(text)
    if c.get("changed", 0):
        parts.append(f"{c['changed']} other change{'s' if c['changed'] != 1 else ''}")
    n_obs = c.get("obscured", 0)
    if n_obs:
        why = sorted({ch.note or "cloud" for ch in changes if ch.cls == "obscured"})
        parts.append(f"{n_obs} area{'s' if n_obs != 1 else ''} cannot be assessed ({', '.join(why)})")
    return " · ".join(parts)
