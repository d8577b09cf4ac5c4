"""Synthetic airfield image pairs with exact ground truth.

The project's own source of demo imagery, test data and benchmark cases. A scene is an
air base: grass and soil, a runway with markings, taxiways with yellow centre lines, a
concrete apron of slabs with painted parking stands, buildings, trees and vehicles. Aircraft
of real sizes (``large`` Il-76-like transports, ``medium`` twin turboprops, ``small``
fighters) are drawn from plan-view parts (fuselage, swept wings, engines, tailplane, fins)
with 3-D shading, and each part casts its own shadow from its own height.

Between the two dates aircraft move (onto a taxiway or the runway), burn on their stands
(charred remnants, scorch, debris), appear and disappear. Nuisances can be switched on one
by one: another sun, another season, gain/gamma/haze, sensor noise, JPEG artefacts,
partial cloud with its ground shadow, moved vehicles. The AFTER georeference is wrong by a
known :class:`Distortion` (offset, rotation, scale and a smooth local warp), and the AFTER
file may have another GSD and another CRS.

How the truth stays exact: the world is defined in ground coordinates (the BEFORE CRS,
metres) and drawn once per date on a fine ground-aligned canvas. Every output pixel is then
sampled at its *true* ground position, for AFTER through the same function that
:meth:`Truth.after_px_to_before_px` evaluates. Geometries in :class:`Truth` are in BEFORE
map coordinates.

The same seed gives the same pixels on every instruction set (with the same versions of
numpy, scipy, Pillow and rasterio): the rasters are drawn in float32,
but exponentials, logarithms, powers and angles over whole rasters are taken in float64
(numpy's float32 loops for them differ in their last bits from one instruction set to
another, e.g. AVX2 and AVX-512, enough to move a pixel by a level now and then).

>>> from airdiff.synth import make_pair
>>> pair = make_pair(seed=1, scenario="random", shape=(400, 400), nuisances="none")
>>> pair.before.shape, pair.after.shape
((400, 400), (400, 400))
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import shapely
from affine import Affine
from scipy import ndimage as ndi
from scipy import sparse
from shapely import affinity
from shapely.geometry import LineString, MultiPoint, Point, Polygon, box, mapping
from shapely.ops import unary_union

from .errors import InputError
from .grid import Grid
from .scene import Scene

__all__ = [
    "TruthAircraft",
    "TruthChange",
    "Truth",
    "SynthPair",
    "Distortion",
    "make_pair",
    "true_transfer",
    "paved_pixels",
    "write_pair",
    "aircraft_outline",
    "AIRCRAFT_KINDS",
    "NUISANCES",
    "SCENARIOS",
]

log = logging.getLogger(__name__)

CREDIT = "Synthetic imagery (airdiff.synth)"
#: (length m, span m, typical shadow-casting height m) per kind
AIRCRAFT_KINDS = {"large": (47.0, 50.0, 6.0), "medium": (24.0, 29.0, 4.0), "small": (20.0, 14.0, 2.5)}
#: Nuisances that can be switched on one by one.
NUISANCES = frozenset({"sun", "season", "radiometry", "noise", "jpeg", "cloud", "vehicles"})
SCENARIOS = ("random", "strike", "static")
#: BEFORE CRS and the (fictitious) site: UTM zone 37N, rural central Anatolia.
_CRS = "EPSG:32637"
_SITE_LONLAT = (36.62, 39.21)
_SKY = 0.27  # diffuse (sky) share of the illumination: what lights a shadow


# =========================================================================== truth types
@dataclass(frozen=True)
class TruthAircraft:
    """One aircraft in one date.

    Attributes
    ----------
    id : int
        Stable across dates for the same airframe.
    kind : {'large', 'medium', 'small'}
    footprint : shapely Polygon
        Plan-view outline in BEFORE map coordinates (true ground position).
    heading_deg : float
        Nose direction, degrees clockwise from grid north (up).
    """

    id: int
    kind: str
    footprint: Polygon
    heading_deg: float


@dataclass(frozen=True)
class TruthChange:
    """One planted change; geometries in BEFORE map coordinates (true ground positions).

    ``before`` is None for 'appeared', ``after`` None for 'disappeared'. For 'burned' both
    are the intact outline at the stand (the remnants lie inside it).
    """

    id: int
    cls: str  # 'moved' | 'burned' | 'appeared' | 'disappeared'
    kind: str
    before: Polygon | None
    after: Polygon | None
    surface: str | None = None  # where it is in AFTER ('runway', 'taxiway', 'stand', ...)
    from_surface: str | None = None  # where it was in BEFORE


@dataclass(frozen=True, eq=False)
class Distortion:
    """True error of the AFTER georeference, in BEFORE map coordinates (metres).

    ``true = centre + scale * R(rotation) @ (nominal - centre) + offset + warp(nominal)``
    where ``nominal`` is where the AFTER file's stated georeference (converted to the BEFORE
    CRS) puts a point and ``true`` is where that point really is on the ground. Rotation is
    counter-clockwise in map axes; ``warp`` is smooth with amplitude ``warp_m`` metres.
    """

    centre: tuple[float, float]
    offset_m: tuple[float, float] = (0.0, 0.0)
    rotation_deg: float = 0.0
    scale: float = 1.0
    warp_m: float = 0.0
    warp_wavelength_m: float = 400.0
    warp_phase: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def _warp(self, x, y):
        if self.warp_m == 0:
            return 0.0 * x, 0.0 * y
        k = 2 * np.pi / self.warp_wavelength_m
        p = self.warp_phase
        u, v = x - self.centre[0], y - self.centre[1]
        dx = self.warp_m * np.sin(k * u * 0.8 + p[0]) * np.cos(k * v * 0.6 + p[1])
        dy = self.warp_m * np.cos(k * u * 0.7 + p[2]) * np.sin(k * v * 0.9 + p[3])
        return dx, dy

    def forward(self, x, y):
        """Nominal -> true ground coordinates (closed form)."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        a = np.radians(self.rotation_deg)
        cx, cy = self.centre
        u, v = x - cx, y - cy
        wx, wy = self._warp(x, y)
        xt = cx + self.scale * (np.cos(a) * u - np.sin(a) * v) + self.offset_m[0] + wx
        yt = cy + self.scale * (np.sin(a) * u + np.cos(a) * v) + self.offset_m[1] + wy
        return xt, yt

    def inverse(self, xt, yt, *, iterations: int = 60):
        """True -> nominal ground coordinates (fixed point; the warp is a small contraction)."""
        xt = np.asarray(xt, dtype=float)
        yt = np.asarray(yt, dtype=float)
        a = np.radians(self.rotation_deg)
        cx, cy = self.centre
        x, y = xt.copy(), yt.copy()
        for _ in range(iterations):
            wx, wy = self._warp(x, y)
            u = (xt - self.offset_m[0] - wx - cx) / self.scale
            v = (yt - self.offset_m[1] - wy - cy) / self.scale
            xn = cx + np.cos(a) * u + np.sin(a) * v
            yn = cy - np.sin(a) * u + np.cos(a) * v
            done = np.all(np.abs(xn - x) < 1e-10) and np.all(np.abs(yn - y) < 1e-10)
            x, y = xn, yn
            if done:
                break
        return x, y

    def to_dict(self) -> dict:
        return {"centre": [float(v) for v in self.centre],
                "offset_m": [float(v) for v in self.offset_m],
                "rotation_deg": float(self.rotation_deg), "scale": float(self.scale),
                "warp_m": float(self.warp_m), "warp_wavelength_m": float(self.warp_wavelength_m),
                "warp_phase": [float(v) for v in self.warp_phase],
                "model": "true = centre + scale*R(rotation_ccw)@(nominal-centre) + offset + warp(nominal)"}


def _transformer(src, dst):
    from pyproj import Transformer

    key = (str(src), str(dst))
    if key not in _TRANSFORMERS:
        _TRANSFORMERS[key] = Transformer.from_crs(src, dst, always_xy=True)
    return _TRANSFORMERS[key]


_TRANSFORMERS: dict = {}


@dataclass(frozen=True, eq=False)
class Truth:
    """Exact ground truth of a synthetic pair.

    Every geometry is in BEFORE map coordinates and gives the true ground position (not
    where the misregistered AFTER file says it is).

    Attributes
    ----------
    changes : tuple of TruthChange
    aircraft_before, aircraft_after : tuple of TruthAircraft
        Intact aircraft seen in each date (burned remnants are not in ``aircraft_after``).
    cloud : shapely geometry
        Cloud and its ground shadow, union over both dates; empty when there is none.
    aeroways : tuple of (kind, Polygon)
        kind in {'runway', 'taxiway', 'apron', 'stand'}.
    vehicles_moved : tuple of Polygon
        BEFORE and AFTER outlines of the vehicles that moved.
    decoys : tuple of TruthAircraft
        Flat aircraft-shaped decoys painted on stands in AFTER (``make_pair(decoys=...)``):
        no aircraft, so in no change and in neither date's aircraft. They cast no shadow.
    craters : tuple of Polygon
        Craters made on open pavement between the dates (``make_pair(craters=...)``), each
        with its ring of spoil and soot: changes that are no aircraft's.
    before_grid, after_grid : Grid
        The files' stated georeference.
    distortion : Distortion
        How wrong the AFTER georeference is.
    meta : dict
        Sun, season, times and other parameters of each date (JSON-able).
    """

    changes: tuple[TruthChange, ...]
    aircraft_before: tuple[TruthAircraft, ...]
    aircraft_after: tuple[TruthAircraft, ...]
    cloud: object
    aeroways: tuple[tuple[str, Polygon], ...]
    vehicles_moved: tuple[Polygon, ...]
    before_grid: Grid
    after_grid: Grid
    distortion: Distortion
    meta: dict = field(default_factory=dict)
    decoys: tuple[TruthAircraft, ...] = ()
    craters: tuple[Polygon, ...] = ()

    def _crs_differs(self) -> bool:
        a, b = self.after_grid.crs, self.before_grid.crs
        return a is not None and b is not None and a != b

    def after_map_to_true(self, x, y):
        """AFTER-file map coords (its CRS) -> true ground position in BEFORE map coords."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        if self._crs_differs():
            x, y = _transformer(self.after_grid.crs.to_wkt(), self.before_grid.crs.to_wkt()).transform(x, y)
        return self.distortion.forward(np.asarray(x, float), np.asarray(y, float))

    def after_px_to_before_px(self, cols, rows):
        """AFTER-file pixel corner coords -> BEFORE-file pixel corner coords (exact).

        (0, 0) is the top-left corner of the top-left pixel; a pixel centre is (c + 0.5,
        r + 0.5). Includes the CRS change, the global distortion and the local warp.
        """
        t = self.after_grid.transform
        cols = np.asarray(cols, float)
        rows = np.asarray(rows, float)
        x, y = t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f
        x, y = self.after_map_to_true(x, y)
        r, c = self.before_grid.rowcol(x, y)
        return c, r

    def before_px_to_after_px(self, cols, rows):
        """BEFORE-file pixel corner coords -> AFTER-file pixel corner coords (exact inverse)."""
        x, y = self.before_grid.xy(np.asarray(rows, float), np.asarray(cols, float), offset="ul")
        x, y = self.distortion.inverse(x, y)
        if self._crs_differs():
            x, y = _transformer(self.before_grid.crs.to_wkt(), self.after_grid.crs.to_wkt()).transform(x, y)
        r, c = self.after_grid.rowcol(np.asarray(x, float), np.asarray(y, float))
        return c, r

    def to_dict(self) -> dict:
        """JSON-able dict: GeoJSON-like geometries in BEFORE map coords, plus the distortion."""

        def g(geom):
            if geom is None or geom.is_empty:
                return None
            return json.loads(json.dumps(mapping(shapely.set_precision(geom, 0.001))))

        def grid(gr: Grid):
            return {"shape": list(gr.shape), "transform": [float(v) for v in list(gr.transform)[:6]],
                    "crs": gr.crs.to_string() if gr.crs else None}

        def ac(a):
            return {"id": a.id, "kind": a.kind, "heading_deg": round(float(a.heading_deg), 3),
                    "footprint": g(a.footprint)}

        return {
            "crs": self.before_grid.crs.to_string() if self.before_grid.crs else None,
            "frame": "before map coordinates",
            "changes": [{"id": c.id, "cls": c.cls, "kind": c.kind, "before": g(c.before),
                         "after": g(c.after), "surface": c.surface, "from_surface": c.from_surface}
                        for c in self.changes],
            "aircraft_before": [ac(a) for a in self.aircraft_before],
            "aircraft_after": [ac(a) for a in self.aircraft_after],
            "cloud": g(self.cloud),
            "aeroways": [{"aeroway": k, "geometry": g(p)} for k, p in self.aeroways],
            "vehicles_moved": [g(p) for p in self.vehicles_moved],
            "decoys": [ac(a) for a in self.decoys],
            "craters": [g(p) for p in self.craters],
            "distortion": self.distortion.to_dict(),
            "before_grid": grid(self.before_grid),
            "after_grid": grid(self.after_grid),
            "meta": self.meta,
        }


@dataclass(frozen=True, eq=False)
class SynthPair:
    """A synthetic BEFORE/AFTER pair and its exact truth."""

    before: Scene
    after: Scene
    truth: Truth


# =========================================================================== geometry helpers
def _ccw(xy) -> np.ndarray:
    """(n, 2) ring without the closing vertex, counter-clockwise in map axes."""
    xy = np.asarray(xy, dtype=float)
    if len(xy) > 1 and np.allclose(xy[0], xy[-1], rtol=0.0, atol=1e-9):
        xy = xy[:-1]
    x, y = xy[:, 0], xy[:, 1]
    area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
    return xy[::-1].copy() if area < 0 else xy


def _hull(points) -> np.ndarray:
    return _ccw(np.asarray(MultiPoint(np.asarray(points)).convex_hull.exterior.coords))


def _ellipse(ca, cb, la, lb, n=14) -> np.ndarray:
    """Ellipse in body coords (a, b) with full lengths la (along) x lb (across)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([ca + 0.5 * la * np.cos(t), cb + 0.5 * lb * np.sin(t)])


def _fuselage(a_nose, a_tail, width, nose_len, taper_from, tail_w, n=7) -> np.ndarray:
    """Convex plan outline: elliptic nose cap, parallel body, straight taper to the tail."""
    t = np.linspace(0, np.pi / 2, n)
    base = a_nose - nose_len
    right = [(base + nose_len * np.cos(tt), 0.5 * width * np.sin(tt)) for tt in t]
    right += [(taper_from, 0.5 * width), (a_tail, 0.5 * tail_w)]
    left = [(a, -b) for a, b in reversed(right) if b > 0]
    return np.array(right + left)


def _wing(a_le_root, b_root, semi, sweep_deg, c_root, c_tip, side=1) -> np.ndarray:
    a_tip = a_le_root - (semi - b_root) * np.tan(np.radians(sweep_deg))
    return np.array([(a_le_root, side * b_root), (a_tip, side * semi),
                     (a_tip - c_tip, side * semi), (a_le_root - c_root, side * b_root)])


@dataclass
class _BodyPart:
    """A convex piece of an object in its body frame (a forward, b right; metres)."""

    ab: np.ndarray
    z: tuple[float, float]
    role: str  # fuselage | wing | engine | tail | fin | detail | prop
    colour: float | tuple = 1.0  # multiplier of the paint, or an absolute RGBN colour
    cyl: tuple | None = None  # (b0, radius): cylinder along a at across-offset b0
    footprint: bool = True
    shadow: bool = True
    alpha: float = 1.0


def _kind_parts(kind: str) -> list[_BodyPart]:
    """Plan-view parts of an aircraft kind, scaled to its exact length and span, nose +a."""
    P = _BodyPart
    dark = (0.07, 0.075, 0.08, 0.07)
    parts: list[_BodyPart] = []
    if kind == "large":  # Il-76-like: high swept wing, 4 engines in pods, T-tail
        parts.append(P(_fuselage(23.5, -23.5, 4.8, 5.5, -11.0, 1.3), (1.0, 5.9), "fuselage", cyl=(0.0, 2.4)))
        for s in (1, -1):
            for bc in (7.6, 13.4):
                a_le = 5.0 - (bc - 2.2) * np.tan(np.radians(25))
                parts.append(P(_ellipse(a_le + 0.9, s * bc, 6.2, 2.0), (3.6, 5.6), "engine", 0.9, cyl=(s * bc, 1.0)))
                parts.append(P(_ellipse(a_le + 3.8, s * bc, 0.5, 1.3, 8), (0, 0), "detail", dark, footprint=False, shadow=False))
        for s in (1, -1):
            parts.append(P(_wing(5.0, 2.2, 25.25, 25, 8.8, 3.2, s), (5.4, 6.1), "wing", 0.97))
            parts.append(P(_wing(-2.9, 2.2, 24.0, 25, 0.9, 0.6, s), (0, 0), "detail", 0.86, footprint=False, shadow=False))
        parts.append(P(np.array([(-12.0, 0.35), (-22.8, 0.35), (-22.8, -0.35), (-12.0, -0.35)]), (5.9, 14.5), "fin", 0.95))
        for s in (1, -1):
            parts.append(P(_wing(-17.0, 0.3, 8.7, 30, 4.6, 2.1, s), (13.9, 14.6), "tail", 0.97))
        parts.append(P(np.array([(20.6, 1.55), (19.4, 1.75), (19.4, -1.75), (20.6, -1.55)]), (0, 0), "detail", dark, footprint=False, shadow=False))
        parts.append(P(_ellipse(22.7, 0.0, 1.4, 1.3, 10), (0, 0), "detail", (0.15, 0.17, 0.19, 0.12), footprint=False, shadow=False))
    elif kind == "medium":  # An-26-like: high straight wing, two turboprops, conventional tail
        parts.append(P(_fuselage(11.9, -11.9, 2.9, 2.8, -4.5, 0.8), (0.8, 3.8), "fuselage", cyl=(0.0, 1.45)))
        for s in (1, -1):
            parts.append(P(_ellipse(1.2, s * 4.3, 7.0, 1.5), (2.6, 4.4), "engine", 0.92, cyl=(s * 4.3, 0.75)))
        for s in (1, -1):
            parts.append(P(_wing(2.6, 1.3, 14.6, 6, 3.6, 1.5, s), (3.8, 4.2), "wing", 0.97))
            parts.append(P(_wing(-0.6, 1.3, 13.6, 6, 0.5, 0.35, s), (0, 0), "detail", 0.85, footprint=False, shadow=False))
            parts.append(P(np.array([(4.85, s * 4.3 + 1.9), (4.6, s * 4.3 + 1.9), (4.6, s * 4.3 - 1.9), (4.85, s * 4.3 - 1.9)]), (0, 0), "prop", dark, footprint=False, shadow=False, alpha=0.55))
        for s in (1, -1):
            parts.append(P(_wing(-8.1, 0.4, 4.95, 12, 2.8, 1.4, s), (3.4, 3.9), "tail", 0.97))
        parts.append(P(np.array([(-5.0, 0.28), (-11.6, 0.28), (-11.6, -0.28), (-5.0, -0.28)]), (3.8, 8.6), "fin", 0.95))
        parts.append(P(np.array([(10.2, 0.95), (9.4, 1.2), (9.4, -1.2), (10.2, -0.95)]), (0, 0), "detail", dark, footprint=False, shadow=False))
    else:  # small: twin-engine, twin-fin fighter (Su-27-like, cropped delta with LERX)
        for s in (1, -1):
            parts.append(P(_wing(1.0, 2.0, 7.0, 42, 7.0, 1.4, s), (1.8, 2.1), "wing", 0.97))
            parts.append(P(np.array([(5.5, s * 0.7), (1.0, s * 2.3), (-1.0, s * 2.3), (-1.0, s * 0.7)]), (1.8, 2.1), "wing", 0.97))
            parts.append(P(_wing(-7.0, 2.0, 5.0, 42, 3.0, 1.0, s), (1.9, 2.2), "tail", 0.97))
        parts.append(P(np.array([(3.0, -0.9), (3.0, 0.9), (1.0, 2.2), (-8.3, 2.2), (-10.0, 1.7),
                                 (-10.0, -1.7), (-8.3, -2.2), (1.0, -2.2)]), (1.0, 2.8), "fuselage", cyl=(0.0, 3.0)))
        parts.append(P(_fuselage(10.0, 1.5, 1.5, 4.5, 1.5, 1.5), (1.4, 2.9), "fuselage", cyl=(0.0, 0.75)))
        for s in (1, -1):
            parts.append(P(np.array([(-5.0, s * 1.65), (-10.0, s * 1.65), (-10.0, s * 2.15), (-5.0, s * 2.15)]), (2.8, 5.9), "fin", 0.92))
            parts.append(P(_ellipse(-9.9, s * 0.95, 0.7, 1.1, 8), (0, 0), "detail", dark, footprint=False, shadow=False))
        parts.append(P(_ellipse(5.3, 0.0, 2.6, 0.85, 12), (0, 0), "detail", (0.10, 0.12, 0.14, 0.10), footprint=False, shadow=False))
    # scale to the exact length and span, centre the bounding box
    length, span, _ = AIRCRAFT_KINDS[kind]
    allp = np.concatenate([p.ab for p in parts if p.footprint])
    amin, amax = allp[:, 0].min(), allp[:, 0].max()
    bmax = np.abs(allp[:, 1]).max()
    ka, kb = length / (amax - amin), span / (2 * bmax)
    ac = 0.5 * (amin + amax)
    for p in parts:
        p.ab = np.column_stack([(p.ab[:, 0] - ac) * ka, p.ab[:, 1] * kb])
        if p.cyl is not None:
            p.cyl = (p.cyl[0] * kb, p.cyl[1] * kb)
    return parts


_PARTS_CACHE: dict[str, list[_BodyPart]] = {}


def _parts_of(kind: str) -> list[_BodyPart]:
    if kind not in _PARTS_CACHE:
        _PARTS_CACHE[kind] = _kind_parts(kind)
    return _PARTS_CACHE[kind]


def _body_to_map(ab, x, y, heading_deg) -> np.ndarray:
    h = np.radians(heading_deg)
    f = np.array([np.sin(h), np.cos(h)])
    r = np.array([np.cos(h), -np.sin(h)])
    return np.array([x, y]) + ab[:, :1] * f + ab[:, 1:2] * r


def aircraft_outline(kind: str) -> Polygon:
    """Plan-view outline of an aircraft kind: metres, nose towards +y, bounding box centred.

    Its bounding box is exactly ``AIRCRAFT_KINDS[kind]`` length (y) by span (x).
    """
    if kind not in AIRCRAFT_KINDS:
        raise InputError(f"unknown aircraft kind {kind!r}; choose from {sorted(AIRCRAFT_KINDS)}")
    polys = [Polygon(np.column_stack([p.ab[:, 1], p.ab[:, 0]])) for p in _parts_of(kind) if p.footprint]
    out = unary_union(polys)
    if out.geom_type != "Polygon":
        out = out.buffer(0.05, join_style="mitre").buffer(-0.05, join_style="mitre")
        if out.geom_type != "Polygon":
            out = max(out.geoms, key=lambda g: g.area)
    return out


def _place(shape: Polygon, x: float, y: float, heading_deg: float) -> Polygon:
    """Rotate a nose-up outline to ``heading_deg`` (clockwise from north) and move it to (x, y)."""
    return affinity.translate(affinity.rotate(shape, -heading_deg, origin=(0, 0)), x, y)


# =========================================================================== canvas & drawing
@dataclass(frozen=True)
class _CG:
    """A north-up canvas in BEFORE map coordinates: top-left (x0, y0), square pixels ``res`` m."""

    x0: float
    y0: float
    res: float
    h: int
    w: int

    @property
    def affine(self) -> Affine:
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y0)

    def window(self, xmin, ymin, xmax, ymax):
        """Slices and pixel-centre coordinates (float64) of the canvas part under a bbox."""
        j0 = max(int(math.floor((xmin - self.x0) / self.res)) - 1, 0)
        j1 = min(int(math.ceil((xmax - self.x0) / self.res)) + 1, self.w)
        i0 = max(int(math.floor((self.y0 - ymax) / self.res)) - 1, 0)
        i1 = min(int(math.ceil((self.y0 - ymin) / self.res)) + 1, self.h)
        if j1 <= j0 or i1 <= i0:
            return None
        px = self.x0 + (np.arange(j0, j1) + 0.5) * self.res
        py = self.y0 - (np.arange(i0, i1) + 0.5) * self.res
        return (slice(i0, i1), slice(j0, j1)), px, py


def _convex_cov(px, py, xy, res) -> np.ndarray:
    """Anti-aliased coverage (0..1) of a convex CCW polygon at pixel centres px (w,), py (h,)."""
    d = None
    n = len(xy)
    for k in range(n):
        x1, y1 = xy[k]
        x2, y2 = xy[(k + 1) % n]
        ex, ey = x2 - x1, y2 - y1
        ln = math.hypot(ex, ey)
        if ln < 1e-9:
            continue
        nx, ny = ey / ln, -ex / ln  # outward normal of a CCW ring
        s = ((px - x1) * nx).astype(np.float32)[None, :] + ((py - y1) * ny).astype(np.float32)[:, None]
        d = s if d is None else np.maximum(d, s, out=d)
    return np.clip(0.5 - d / np.float32(res), 0.0, 1.0)


@dataclass
class _Part:
    """A convex piece of an object, ready to draw: map coords, colour, shape for shading."""

    xy: np.ndarray  # (n, 2) CCW, map coords
    colour: np.ndarray  # (C,) reflectance
    z: tuple[float, float] = (0.0, 0.0)  # bottom/top height (m) for the cast shadow
    normal: tuple[float, float, float] = (0.0, 0.0, 1.0)
    cyl: tuple | None = None  # (ox, oy, ux, uy, radius): axis point, unit vector across
    sphere: tuple | None = None  # (ox, oy, radius)
    alpha: float = 1.0
    grain: float = 0.0
    shadow: bool = True


def _sun_vector(az_deg, el_deg) -> np.ndarray:
    a, e = np.radians(az_deg), np.radians(el_deg)
    return np.array([np.sin(a) * np.cos(e), np.cos(a) * np.cos(e), np.sin(e)])


def _draw_parts(canvas, cg: _CG, parts, sun, grain=None):
    """Paint parts in order with Lambert shading (sky + sun), normalised to flat ground."""
    s = sun
    ef = _SKY + s[2]
    for p in parts:
        x0, y0 = p.xy.min(0)
        x1, y1 = p.xy.max(0)
        win = cg.window(x0, y0, x1, y1)
        if win is None:
            continue
        sl, px, py = win
        a = _convex_cov(px, py, p.xy, cg.res)
        if p.alpha != 1.0:
            a *= np.float32(p.alpha)
        if p.cyl is not None:
            ox, oy, ux, uy, rad = p.cyl
            b = (((px - ox) * ux / rad).astype(np.float32)[None, :]
                 + ((py - oy) * uy / rad).astype(np.float32)[:, None])
            b = np.clip(b, -0.97, 0.97)
            ndl = b * np.float32(ux * s[0] + uy * s[1]) + np.sqrt(1 - b * b) * np.float32(s[2])
            shade = (_SKY + np.maximum(ndl, 0)) / ef
        elif p.sphere is not None:
            ox, oy, rad = p.sphere
            dx = ((px - ox) / rad).astype(np.float32)[None, :]
            dy = ((py - oy) / rad).astype(np.float32)[:, None]
            rr = np.clip(dx * dx + dy * dy, 0, 0.95)
            ndl = dx * np.float32(s[0]) + dy * np.float32(s[1]) + np.sqrt(1 - rr) * np.float32(s[2])
            shade = (_SKY + np.maximum(ndl, 0)) / ef
        else:
            shade = np.float32((_SKY + max(float(np.dot(p.normal, s)), 0.0)) / ef)
        if p.grain and grain is not None:
            shade = shade * (1 + np.float32(p.grain) * grain[sl])
        for c in range(canvas.shape[0]):
            sub = canvas[c][sl]
            sub += a * (np.float32(p.colour[c]) * shade - sub)


def _draw_shadows(canvas, cg: _CG, objects, sun):
    """Darken the ground under each object's cast shadow (parts swept from z0 to z1)."""
    az = math.atan2(sun[0], sun[1])
    el = math.asin(min(1.0, sun[2]))
    d = -np.array([math.sin(az), math.cos(az)]) / math.tan(el)
    ef = _SKY + sun[2]
    k = (1 - _SKY / ef) * np.array([1.0, 0.97, 0.90, 1.0], np.float32)
    for parts in objects:
        hulls = [_hull(np.concatenate([p.xy + d * p.z[0], p.xy + d * p.z[1]]))
                 for p in parts if p.shadow and p.z[1] > 0]
        if not hulls:
            continue
        allp = np.concatenate(hulls)
        win = cg.window(*allp.min(0), *allp.max(0))
        if win is None:
            continue
        sl, px, py = win
        cov = None
        for h in hulls:
            c_ = _convex_cov(px, py, h, cg.res)
            cov = c_ if cov is None else np.maximum(cov, c_, out=cov)
        for c in range(canvas.shape[0]):
            canvas[c][sl] *= 1 - k[min(c, 3)] * cov


# =========================================================================== noise
def _bspline_matrix(n_out: int, cell: float, phase: float):
    """Sparse (n_out, n_in) cubic B-spline interpolation from a lattice of spacing ``cell`` px."""
    t = (np.arange(n_out) + 0.5) / cell + phase
    i = np.floor(t).astype(np.int64)
    f = (t - i).astype(np.float32)
    f2, f3, g = f * f, f * f * f, 1 - f
    w = np.stack([g * g * g / 6, (3 * f3 - 6 * f2 + 4) / 6, (-3 * f3 + 3 * f2 + 3 * f + 1) / 6, f3 / 6], 1)
    i = i - i.min()
    cols = (i[:, None] + np.arange(4)[None, :]).ravel()
    rows = np.repeat(np.arange(n_out), 4)
    return sparse.csr_matrix((w.ravel(), (rows, cols)), shape=(n_out, int(cols.max()) + 1))


def _noise(rng, shape, cell_px: float) -> np.ndarray:
    """Smooth random field, about N(0, 1), feature size ``cell_px`` pixels (float32)."""
    h, w = shape
    cell_px = max(float(cell_px), 1.0)
    my = _bspline_matrix(h, cell_px, rng.uniform(0, 1))
    mx = _bspline_matrix(w, cell_px, rng.uniform(0, 1))
    g = rng.standard_normal((my.shape[1], mx.shape[1])).astype(np.float32)
    out = np.ascontiguousarray((mx @ (my @ g).T).T, dtype=np.float32)
    sd = float(out[:: max(1, h // 97), :: max(1, w // 97)].std())
    out /= np.float32(sd if sd > 0 else 1.0)
    return out


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _rasterize(cg: _CG, geoms) -> np.ndarray:
    from rasterio.features import rasterize

    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros((cg.h, cg.w), np.float32)
    m = rasterize([(g, 1) for g in geoms], out_shape=(cg.h, cg.w), transform=cg.affine,
                  fill=0, dtype="uint8")
    return m.astype(np.float32)


# =========================================================================== layout
def _rounded_path(points, radius: float, n: int = 10) -> LineString:
    """Polyline with its corners replaced by smooth fillets (quadratic Bezier)."""
    pts = [np.asarray(p, float) for p in points]
    out = [pts[0]]
    for k in range(1, len(pts) - 1):
        p0, p1, p2 = pts[k - 1], pts[k], pts[k + 1]
        d1 = (p1 - p0) / np.linalg.norm(p1 - p0)
        d2 = (p2 - p1) / np.linalg.norm(p2 - p1)
        t = min(radius, 0.45 * np.linalg.norm(p1 - p0), 0.45 * np.linalg.norm(p2 - p1))
        a, c = p1 - d1 * t, p1 + d2 * t
        s = np.linspace(0, 1, n)[:, None]
        out.extend((1 - s) ** 2 * a + 2 * s * (1 - s) * p1 + s * s * c)
    out.append(pts[-1])
    return LineString(out)


@dataclass
class _Stand:
    x: float
    y: float
    heading: float  # nose, map degrees clockwise from north
    poly: Polygon  # stand box, map coords
    row: int
    col: int


@dataclass
class _Layout:
    theta: float  # frame rotation (deg, counter-clockwise): u axis = (cos, sin)
    ox: float
    oy: float
    runway: Polygon | None
    runway_v: float
    runway_u0: float
    taxiways: list  # Polygons (map)
    apron: Polygon
    stands: list
    roads: list
    buildings: list  # dicts
    trees: list  # (x, y, radius, height)
    tracks: list  # Polygons
    slots: list  # (x, y, heading, surface)
    paint_white: list = field(default_factory=list)
    paint_yellow: list = field(default_factory=list)
    paint_red: list = field(default_factory=list)
    asphalt: list = field(default_factory=list)  # shoulders, blast pads
    runway_concrete: bool = True
    rubber: tuple | None = None  # (u0, u1, v, sigma) frame
    stains: list = field(default_factory=list)  # (x, y, r, alpha)

    def to_map(self, geom):
        c, s = math.cos(math.radians(self.theta)), math.sin(math.radians(self.theta))
        return affinity.affine_transform(geom, [c, -s, s, c, self.ox, self.oy])

    def xy(self, u, v):
        c, s = math.cos(math.radians(self.theta)), math.sin(math.radians(self.theta))
        return self.ox + u * c - v * s, self.oy + u * s + v * c

    def heading(self, frame_heading):
        return (frame_heading - self.theta) % 360.0


def _layout(rng, *, scenario, W, H, cx, cy, kinds) -> _Layout:
    """Air-base geometry. Built in an airfield frame (u along the runway, v across, metres),
    rotated by a small angle and centred on the scene, then returned in map coordinates."""
    Lmax = max(AIRCRAFT_KINDS[k][0] for k in kinds)
    Smax = max(AIRCRAFT_KINDS[k][1] for k in kinds)
    strike = scenario == "strike"
    if strike:
        theta = float(rng.uniform(3, 6) * rng.choice([-1, 1]))
    else:
        lim = min(12.0, math.degrees(math.atan(0.12 * H / W)) if W > 0 else 0)
        theta = float(rng.uniform(-lim, lim))
    ox, oy = cx + rng.uniform(-0.03, 0.03) * W, cy
    Ld, pitch = Lmax + 10.0, Smax + 9.0
    lane = max(0.85 * Smax, 24.0)
    rw = 45.0 if strike else float(rng.choice([30.0, 45.0, 60.0]))
    tw = 21.0 if strike else float(rng.uniform(16, 23))
    gap = 110.0 if strike else float(np.clip(0.15 * H, 45, 110))
    link = 35.0 if strike else float(np.clip(0.06 * H, 15, 35))
    rows = 2 if strike or H >= 2 * Ld + lane + 260 else 1
    depth = 8 + rows * Ld + lane + 8
    v_t = rw / 2 + gap
    v_a0 = v_t + tw / 2 + link
    v_a1 = v_a0 + depth
    total = v_a1 + rw / 2
    if strike:
        s = -H / 2 + 0.13 * H
    elif total + 40 <= H:
        s = -H / 2 + rw / 2 + max(8.0, 0.3 * (H - total - 40))
    else:
        s = H / 2 - 10 - v_a1
    v_r, v_t, v_a0, v_a1 = s, v_t + s, v_a0 + s, v_a1 + s

    n_per_row = 9 if strike else int(np.clip((0.8 * W - 2 * (tw + 14)) // pitch, 1, 8))
    uc = float(rng.uniform(-60, 60) if strike else rng.uniform(-0.05, 0.05) * W)
    half = n_per_row * pitch / 2
    u_a0, u_a1 = uc - half - (tw + 14), uc + half + (tw + 14)
    big = 4000.0
    lay = _Layout(theta, ox, oy, None, v_r, -big, [], None, [], [], [], [], [], [])
    to_map = lay.to_map

    # -- runway, shoulders, blast pad, markings
    has_threshold = strike or rng.random() < 0.5
    u_th = (-W / 2 + float(rng.uniform(60, 110))) if has_threshold else -big
    lay.runway_u0 = u_th
    lay.runway_concrete = strike or rng.random() < 0.5
    lay.runway = to_map(box(u_th, v_r - rw / 2, big, v_r + rw / 2))
    lay.asphalt.append(to_map(box(u_th - (60 if has_threshold else 0), v_r - rw / 2 - 7.5, big, v_r + rw / 2 + 7.5)))
    white, yellow = lay.paint_white, lay.paint_yellow
    for side in (-1, 1):
        white.append(to_map(box(u_th, v_r + side * (rw / 2 - 1.4) - 0.45, big, v_r + side * (rw / 2 - 1.4) + 0.45)))
    u = u_th + 60
    while u < u_th + 2 * W + 200:
        white.append(to_map(box(u, v_r - 0.45, u + 30, v_r + 0.45)))
        u += 50
    if has_threshold:
        nb = {30.0: 8, 45.0: 12, 60.0: 16}.get(rw, 12)
        step = (rw - 6) / nb
        for k in range(nb):
            vv = v_r - rw / 2 + 3 + k * step + (1.8 if k >= nb // 2 else 0.0) - 0.9
            white.append(to_map(box(u_th + 6, vv, u_th + 36, vv + 1.8)))
        white.append(to_map(box(u_th + 1, v_r - rw / 2 + 1, u_th + 2.8, v_r + rw / 2 - 1)))
        for side in (-1, 1):  # aiming points, touchdown zone bars
            vv = v_r + side * (rw / 4 + 4.5)
            white.append(to_map(box(u_th + 300, vv - 4.5, u_th + 345, vv + 4.5)))
            for k in range(3):
                vb = v_r + side * (rw / 4 - 3.0 + 2.8 * k)
                white.append(to_map(box(u_th + 150, vb - 0.9, u_th + 172.5, vb + 0.9)))
        for k in range(4):  # blast-pad chevrons
            uu = u_th - 12 - 13 * k
            for side in (-1, 1):
                yellow.append(to_map(LineString([(uu, v_r), (uu - 10, v_r + side * (rw / 2 - 2))]).buffer(0.6, cap_style="flat")))
        lay.rubber = (u_th + 180, u_th + 950, v_r, 0.12 * rw)

    # -- taxiways: parallel, runway links, apron links, all with filleted corners
    paths = [(LineString([(-big, v_t), (big, v_t)]), "taxiway")]
    ul = [u for u in (u_th + 40 if has_threshold else None, uc - 0.5 * W * 0.55, uc + 0.5 * W * 0.6)
          if u is not None]
    ul = sorted(set(round(u, 1) for u in ul))
    for k, u in enumerate(ul):
        if has_threshold and k == 0:
            pts = [(u - 40, v_r), (u, v_r), (u, v_t), (u + 60, v_t)]
        else:
            dirn = 1 if k % 2 else -1
            pts = [(u - 70 * dirn, v_r), (u, v_r + 10), (u, v_t - 5), (u + 60 * dirn, v_t)]
        paths.append((_rounded_path(pts, 35.0), "taxiway"))
    v_lane = v_a0 + 8 + Ld + lane / 2 if rows == 2 else v_a0 + 8 + lane / 2
    link_u = (u_a0 + tw / 2 + 5, u_a1 - tw / 2 - 5)
    for k, u in enumerate(link_u):
        dirn = 1 if k == 0 else -1
        paths.append((_rounded_path([(u - 50 * dirn, v_t), (u, v_t), (u, v_lane), (u + 60 * dirn, v_lane)], 22.0), "apron_link"))
    for line, _kind in paths:
        lay.taxiways.append(to_map(line.buffer(tw / 2, cap_style="flat", join_style="round")))
        yellow.append(to_map(line.buffer(0.23, cap_style="flat")))
    for u in ul:  # holding position markings near the runway
        vv = v_r + rw / 2 + 7.5 + 40
        for j in range(2):
            yellow.append(to_map(box(u - tw / 2 + 1, vv + 0.9 * j, u + tw / 2 - 1, vv + 0.9 * j + 0.3)))

    # -- apron: chamfered slab area, taxilane, stands
    ch = 12.0
    lay.apron = to_map(Polygon([(u_a0 + ch, v_a0), (u_a1 - ch, v_a0), (u_a1, v_a0 + ch), (u_a1, v_a1 - ch),
                                (u_a1 - ch, v_a1), (u_a0 + ch, v_a1), (u_a0, v_a1 - ch), (u_a0, v_a0 + ch)]))
    yellow.append(to_map(LineString([(link_u[0], v_lane), (link_u[1], v_lane)]).buffer(0.23)))
    row_specs = []
    if rows == 2:
        row_specs.append((v_a0 + 8 + Ld / 2, 0.0))  # below the lane, nose up (+v)
    row_specs.append((v_lane + lane / 2 + Ld / 2, 180.0))  # above the lane, nose down
    for r, (vs, fh) in enumerate(row_specs):
        dirn = 1 if fh == 0.0 else -1
        for c in range(n_per_row):
            us = uc - half + pitch * (c + 0.5)
            x, y = lay.xy(us, vs)
            poly = to_map(box(us - pitch / 2, vs - Ld / 2, us + pitch / 2, vs + Ld / 2))
            lay.stands.append(_Stand(x, y, lay.heading(fh), poly, r, c))
            nose = vs + dirn * (Lmax / 2)
            yellow.append(to_map(LineString([(us, v_lane), (us, vs - dirn * Ld * 0.3)]).buffer(0.23)))
            yellow.append(to_map(box(us - 3, nose - 0.25 + dirn * 0.5, us + 3, nose + 0.25 + dirn * 0.5)))
            for side in (-1, 1):  # stand boundary lines (red) and the stand box corner (white)
                ub = us + side * pitch / 2
                far = vs - dirn * Ld / 2
                lay.paint_red.append(to_map(LineString([(ub, far), (ub, vs + dirn * Ld * 0.35)]).buffer(0.18)))
            lay.paint_white.append(to_map(LineString([(us - pitch / 2, vs - dirn * Ld / 2), (us + pitch / 2, vs - dirn * Ld / 2)]).buffer(0.15)))
            for _ in range(int(rng.integers(1, 4))):  # oil and fuel stains
                sx, sy = lay.xy(us + rng.normal(0, Smax * 0.18), vs + rng.normal(0, Lmax * 0.12))
                lay.stains.append((sx, sy, float(rng.uniform(0.8, 3.0)), float(rng.uniform(0.15, 0.4))))

    # -- moved-aircraft slots: along taxiway centre lines and the runway
    step = Lmax + 14
    u = -W / 2 - 100
    while u < W / 2 + 100:
        x, y = lay.xy(u, v_t)
        lay.slots.append((x, y, lay.heading(float(rng.choice([90.0, 270.0]))), "taxiway"))
        u += step
    for u in ul:
        x, y = lay.xy(u, 0.5 * (v_r + rw / 2 + v_t))
        lay.slots.append((x, y, lay.heading(float(rng.choice([0.0, 180.0]))), "taxiway"))
    u = u_th + 120 if has_threshold else -W / 2
    while u < W / 2 + 100:
        x, y = lay.xy(u, v_r)
        lay.slots.append((x, y, lay.heading(float(rng.choice([90.0, 270.0]))), "runway"))
        u += step

    # -- service road, buildings, trees, dirt tracks
    v_road = v_a1 + 16
    road = _rounded_path([(-big, v_road), (u_a1 - 30, v_road), (u_a1 - 30, v_a1 - 2)], 12.0)
    lay.roads.append(to_map(road.buffer(3.5, cap_style="flat", join_style="round")))
    band0, band1 = v_road + 12, min(v_road + 12 + 170, H / 2 + 60)
    u = -W / 2 - 40
    while u < W / 2 + 40 and band1 - band0 > 14:
        kind = str(rng.choice(["hangar", "office", "shed", "tanks", "gable"], p=[0.25, 0.3, 0.2, 0.1, 0.15]))
        if kind == "hangar" and band1 - band0 > 50:
            bw, bd, h = rng.uniform(40, 70), rng.uniform(32, 46), rng.uniform(10, 16)
        elif kind == "tanks":
            bw, bd, h = rng.uniform(25, 40), rng.uniform(14, 20), rng.uniform(7, 11)
        else:
            bw, bd, h = rng.uniform(12, 38), rng.uniform(9, 22), rng.uniform(4, 10)
            kind = "office" if kind == "hangar" else kind
        bd = min(bd, band1 - band0 - 4)
        v0 = band0 + rng.uniform(0, max(0.0, band1 - band0 - bd - 4))
        lay.buildings.append({"kind": kind, "u": u + bw / 2, "v": v0 + bd / 2, "w": bw, "d": bd, "h": h,
                              "seed": int(rng.integers(1 << 30))})
        spur = LineString([(u + bw / 2, v_road), (u + bw / 2, v0)])
        if v0 - v_road > 8 and rng.random() < 0.6:
            lay.roads.append(to_map(spur.buffer(2.5, cap_style="flat")))
        u += bw + rng.uniform(10, 45)
    occupied = [to_map(box(b["u"] - b["w"] / 2 - 4, b["v"] - b["d"] / 2 - 4, b["u"] + b["w"] / 2 + 4, b["v"] + b["d"] / 2 + 4))
                for b in lay.buildings]
    paved = unary_union([lay.apron, *lay.taxiways, *lay.roads, lay.asphalt[0]]).buffer(6)
    blocked = unary_union([paved, *occupied])
    n_trees = int(rng.integers(10, 40) * max(0.3, W * H / 1.0e6))
    for _ in range(n_trees * 3):
        if len(lay.trees) >= n_trees:
            break
        if rng.random() < 0.7:  # clumps near buildings
            uu, vv = rng.uniform(-W / 2, W / 2), rng.uniform(band0, band1 + 40)
        else:
            uu, vv = rng.uniform(-W / 2 - 20, W / 2 + 20), rng.uniform(-H / 2 - 20, H / 2 + 20)
        for _k in range(int(rng.integers(1, 6))):
            x, y = lay.xy(uu + rng.normal(0, 6), vv + rng.normal(0, 6))
            r = float(rng.uniform(1.8, 4.2))
            if not blocked.intersects(Point(x, y).buffer(r)):
                lay.trees.append((x, y, r, float(rng.uniform(5, 13))))
    for _ in range(int(rng.integers(1, 4))):
        vv = float(rng.uniform(-H / 2, H / 2))
        pts = [(uu, vv + rng.normal(0, 15)) for uu in np.linspace(-W / 2 - 80, W / 2 + 80, 7)]
        lay.tracks.append(to_map(_rounded_path(pts, 40.0).buffer(1.3)))
    return lay


# =========================================================================== objects
_PAINTS = {
    "large": [((0.80, 0.81, 0.82), 0.45), ((0.70, 0.72, 0.73), 0.25), ((0.52, 0.55, 0.57), 0.18),
              ((0.33, 0.35, 0.36), 0.12)],
    "medium": [((0.78, 0.79, 0.80), 0.4), ((0.55, 0.58, 0.60), 0.3), ((0.36, 0.40, 0.31), 0.3)],
    "small": [((0.55, 0.60, 0.64), 0.45), ((0.45, 0.47, 0.49), 0.35), ((0.30, 0.32, 0.34), 0.2)],
}


#: A decoy's paint: a white silhouette, as painted on concrete to be seen from above.
_DECOY_PAINT = (0.93, 0.93, 0.92)


def _paint(rng, kind) -> tuple:
    cols, p = zip(*_PAINTS[kind], strict=True)
    c = np.asarray(cols[int(rng.choice(len(cols), p=np.asarray(p) / sum(p)))])
    return tuple(np.clip(c * rng.uniform(0.96, 1.04), 0, 1))


def _rgbn(rgb, nir=None) -> np.ndarray:
    rgb = np.asarray(rgb, float)
    return np.append(rgb, 0.9 * rgb.mean() if nir is None else nir).astype(np.float32)


def _aircraft_parts(kind, x, y, heading, paint, *, flat: bool = False) -> list[_Part]:
    """An aircraft's parts; ``flat``: a decoy painted or printed on the ground (no relief, no shadow)."""
    h = math.radians(heading)
    r = np.array([math.cos(h), -math.sin(h)])
    col = _rgbn(paint)
    out = []
    for bp in _parts_of(kind):
        xy = _ccw(_body_to_map(bp.ab, x, y, heading))
        c = np.asarray(bp.colour, np.float32) if isinstance(bp.colour, tuple) else col * np.float32(bp.colour)
        if flat:
            out.append(_Part(xy, c, (0.0, 0.0), alpha=bp.alpha, grain=0.03, shadow=False))
            continue
        cyl = None
        if bp.cyl is not None:
            o = np.array([x, y]) + bp.cyl[0] * r
            cyl = (o[0], o[1], r[0], r[1], bp.cyl[1])
        out.append(_Part(xy, c, bp.z, cyl=cyl, alpha=bp.alpha, grain=0.03, shadow=bp.shadow))
    return out


def _clip_ab(ab, keep: Polygon):
    g = Polygon(ab).intersection(keep)
    if g.is_empty or g.geom_type != "Polygon" or g.area < 0.3:
        return None
    return np.asarray(g.exterior.coords)[:-1]


def _burned_parts(kind, x, y, heading, rng) -> tuple[list[_Part], dict]:
    """Charred remnants of an aircraft on its stand, and the scorch under it."""
    length, span, _ = AIRCRAFT_KINDS[kind]
    char = lambda v: _rgbn((v, v * 0.97, v * 0.95), v * 0.8)  # noqa: E731
    ash = _rgbn((0.40, 0.39, 0.37), 0.33)
    parts: list[_Part] = []
    half = length / 2

    def add(ab, colour, z, alpha=1.0, shadow=True):
        parts.append(_Part(_ccw(_body_to_map(ab, x, y, heading)), colour, z, alpha=alpha, shadow=shadow, grain=0.15))

    body = [bp for bp in _parts_of(kind) if bp.role == "fuselage"]
    wings = [bp for bp in _parts_of(kind) if bp.role == "wing"]
    # the ash outline of the collapsed cabin and wing roots, then the pieces that survive
    mid = 0.5 * length * float(rng.uniform(0.25, 0.4))  # the wing centre section burns blackest
    for bp in body:
        for keep in (box(-span, -half - 1, span, -mid), box(-span, mid, span, half + 1)):
            ab = _clip_ab(bp.ab, keep)
            if ab is not None:
                add(ab, ash, (0, 0), alpha=float(rng.uniform(0.3, 0.5)), shadow=False)
    tail_keep = box(-span, -half - 1, span, -half + rng.uniform(0.22, 0.36) * length)
    for bp in _parts_of(kind):
        if bp.role in ("fuselage", "fin", "tail"):
            ab = _clip_ab(bp.ab, tail_keep)
            if ab is None or (bp.role == "tail" and rng.random() < 0.35):
                continue
            top = bp.z[1] * (0.8 if bp.role != "fuselage" else 0.55)
            add(ab, char(float(rng.uniform(0.09, 0.16))), (0.2, top))
    if rng.random() < 0.5:  # the nose section
        nose_keep = box(-span, half - rng.uniform(0.12, 0.2) * length, span, half + 1)
        for bp in body:
            ab = _clip_ab(bp.ab, nose_keep)
            if ab is not None:
                add(ab, char(0.12), (0.2, bp.z[1] * 0.5))
    fracs = sorted([rng.uniform(0.35, 0.6), rng.uniform(0.7, 1.05)])
    if rng.random() < 0.5:
        fracs = fracs[::-1]
    for side, fr in zip((1, -1), fracs, strict=True):
        if fr >= 1.0:
            continue
        keep = box(-length, fr * span / 2, length, span) if side > 0 else box(-length, -span, length, -fr * span / 2)
        for bp in wings:
            ab = _clip_ab(bp.ab, keep)
            if ab is not None:
                add(ab, char(float(rng.uniform(0.1, 0.22))), (0.3, 1.2))
    for bp in _parts_of(kind):  # engines survive as dark lumps
        if bp.role == "engine" and rng.random() < 0.75:
            ca, cb = bp.ab.mean(0)
            add(_ellipse(ca, cb, 0.7 * np.ptp(bp.ab[:, 0]), 0.8 * np.ptp(bp.ab[:, 1]), 10), char(0.06), (0.0, 1.2))
    # debris: charred and metal fragments strewn around
    for _ in range(int(rng.integers(30, 80))):
        ca, cb = rng.normal(0, 0.3 * length), rng.normal(0, 0.3 * span)
        sz = rng.uniform(0.3, 1.4)
        ang = rng.uniform(0, np.pi)
        tri = np.array([[ca + sz * math.cos(ang + t), cb + sz * math.sin(ang + t) * rng.uniform(0.4, 1)]
                        for t in (0, 2.1, 4.0)])
        u_ = rng.random()
        c = char(float(rng.uniform(0.04, 0.12))) if u_ < 0.7 else (ash if u_ < 0.9 else _rgbn((0.62, 0.63, 0.64)))
        add(tri, c, (0, 0), shadow=False)
    scorch = {"x": x, "y": y, "heading": heading, "ra": 0.46 * length + 4, "rb": 0.42 * span + 3,
              "harm": [(k, float(rng.uniform(0.04, 0.14)), float(rng.uniform(0, 2 * np.pi))) for k in range(2, 8)],
              "seed": int(rng.integers(1 << 30))}
    return parts, scorch


def _crater_parts(x, y, r, rng) -> tuple[list[_Part], dict]:
    """A crater of radius ``r`` m on pavement: the dark pit, broken slabs and spoil thrown
    around it, and soot on the ground out to about 1.6 r."""
    parts: list[_Part] = []
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    wob = 1 + 0.08 * rng.standard_normal(t.size)
    pit = np.column_stack([x + r * wob * np.cos(t), y + r * wob * np.sin(t)])
    earth = np.asarray(rng.uniform(0.22, 0.32) * np.array([1.0, 0.93, 0.85]), np.float32)
    parts.append(_Part(_ccw(pit), _rgbn(tuple(earth), 0.3), (0.0, 0.0), alpha=1.0, shadow=False, grain=0.2))
    core = np.column_stack([x + 0.55 * r * np.cos(t), y + 0.55 * r * np.sin(t)])
    parts.append(_Part(_ccw(core), _rgbn(tuple(0.5 * earth), 0.15), (0.0, 0.0), alpha=0.8, shadow=False, grain=0.2))
    for _ in range(int(rng.integers(25, 60))):  # slab fragments and clods of spoil
        ang, dist = rng.uniform(0, 2 * np.pi), r * rng.uniform(0.9, 1.7)
        cx_, cy_ = x + dist * math.cos(ang), y + dist * math.sin(ang)
        sz = rng.uniform(0.4, 1.6)
        tri = np.array([[cx_ + sz * math.cos(ang + a), cy_ + sz * math.sin(ang + a)] for a in (0, 2.1, 4.0)])
        c = _rgbn((0.62, 0.62, 0.6)) if rng.random() < 0.4 else _rgbn(tuple(earth * rng.uniform(0.8, 1.3)))
        parts.append(_Part(_ccw(tri), c, (0.0, 0.0), shadow=False, grain=0.15))
    scorch = {"x": x, "y": y, "heading": float(rng.uniform(0, 360)), "ra": 1.6 * r, "rb": 1.5 * r,
              "harm": [(k, float(rng.uniform(0.03, 0.1)), float(rng.uniform(0, 2 * np.pi))) for k in range(2, 6)],
              "seed": int(rng.integers(1 << 30))}
    return parts, scorch


def _draw_scorch(canvas, cg: _CG, sc):
    """Blacken the ground under a burned aircraft: irregular soot, darkest at the core."""
    ra, rb = sc["ra"], sc["rb"]
    R = max(ra, rb) * 1.5
    win = cg.window(sc["x"] - R, sc["y"] - R, sc["x"] + R, sc["y"] + R)
    if win is None:
        return
    sl, px, py = win
    h = math.radians(sc["heading"])
    dx = (px - sc["x"]).astype(np.float64)[None, :]
    dy = (py - sc["y"]).astype(np.float64)[:, None]
    a = dx * math.sin(h) + dy * math.cos(h)
    b = dx * math.cos(h) - dy * math.sin(h)
    ang = np.arctan2(a / ra, b / rb)  # float64 throughout: see the module's notes
    rho = np.hypot(a / ra, b / rb)
    rr = (1 + sum(amp * np.cos(k * ang + ph) for k, amp, ph in sc["harm"])).astype(np.float32)
    rho = rho.astype(np.float32)
    del a, b, ang
    rng = np.random.default_rng(sc["seed"])
    n = _noise(rng, rho.shape, 2.0 / cg.res) * 0.6 + _noise(rng, rho.shape, 0.7 / cg.res) * 0.4
    t = (rr - rho) / 0.45 + 0.25 * n
    alpha = _smoothstep(t) * np.float32(0.9)
    core = _smoothstep((0.55 - rho) / 0.4 + 0.2 * n)
    dark = 1 - alpha * (0.75 + 0.2 * core)
    tint = np.array([1.0, 0.96, 0.9, 0.8], np.float32)
    for c in range(canvas.shape[0]):
        canvas[c][sl] *= 1 - (1 - dark) * tint[min(c, 3)]


def _building_parts(b, lay: _Layout, rng_seed: int) -> list[_Part]:
    rng = np.random.default_rng(rng_seed)
    th = lay.theta
    kind, bw, bd, h = b["kind"], b["w"], b["d"], b["h"]
    cx, cy = lay.xy(b["u"], b["v"])
    rot = math.radians(th)
    U = np.array([math.cos(rot), math.sin(rot)])
    V = np.array([-math.sin(rot), math.cos(rot)])

    def rect(u0, v0, u1, v1):
        pts = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
        return _ccw(np.array([[cx, cy] + pu * U + pv * V for pu, pv in pts]))

    roofs = [(0.62, 0.63, 0.62), (0.48, 0.50, 0.50), (0.30, 0.31, 0.32), (0.55, 0.40, 0.33),
             (0.45, 0.52, 0.47), (0.70, 0.70, 0.68)]
    roof = _rgbn(roofs[int(rng.integers(0, len(roofs)))])
    parts = []
    if kind == "hangar":  # barrel roof: cylinder across the short side
        o = np.array([cx, cy])
        parts.append(_Part(rect(-bw / 2, -bd / 2, bw / 2, bd / 2), roof, (0, h),
                           cyl=(o[0], o[1], V[0], V[1], bd / 2 * 1.15), grain=0.03))
        for k in range(1, int(bw // 6)):
            uu = -bw / 2 + 6 * k
            parts.append(_Part(rect(uu - 0.12, -bd / 2, uu + 0.12, bd / 2), roof * 0.85, (0, 0), shadow=False))
    elif kind == "gable":
        tilt = math.radians(28)
        for side in (-1, 1):
            n = np.array([*(side * math.sin(tilt) * V), math.cos(tilt)])
            parts.append(_Part(rect(-bw / 2, 0 if side > 0 else -bd / 2, bw / 2, bd / 2 if side > 0 else 0),
                               roof, (0, h), normal=tuple(n), grain=0.04))
    elif kind == "tanks":
        n = max(1, int(bw // 12))
        for k in range(n):
            r_ = min(bd, bw / n) * 0.42
            c = np.array([cx, cy]) + U * (-bw / 2 + (k + 0.5) * bw / n)
            t = np.linspace(0, 2 * np.pi, 20, endpoint=False)
            xy = np.column_stack([c[0] + r_ * np.cos(t), c[1] + r_ * np.sin(t)])
            parts.append(_Part(_ccw(xy), _rgbn((0.74, 0.74, 0.72)), (0, h), sphere=(c[0], c[1], r_ * 2.2)))
    else:  # flat roof with a parapet and rooftop plant
        parts.append(_Part(rect(-bw / 2, -bd / 2, bw / 2, bd / 2), roof * 1.08, (0, h), grain=0.03))
        parts.append(_Part(rect(-bw / 2 + 0.7, -bd / 2 + 0.7, bw / 2 - 0.7, bd / 2 - 0.7), roof, (0, 0), shadow=False, grain=0.05))
        for _ in range(int(rng.integers(0, 4))):
            uu, vv = rng.uniform(-bw / 2 + 2, bw / 2 - 3), rng.uniform(-bd / 2 + 2, bd / 2 - 3)
            s1, s2 = rng.uniform(0.8, 2.5), rng.uniform(0.8, 2.0)
            parts.append(_Part(rect(uu, vv, uu + s1, vv + s2), _rgbn((0.66, 0.67, 0.68)), (0, 0), shadow=False))
    return parts


def _tree_parts(t, season) -> list[_Part]:
    x, y, r, h = t
    ang = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    xy = np.column_stack([x + r * np.cos(ang), y + r * np.sin(ang)])
    col = _rgbn((0.08, 0.13, 0.06), 0.55) if season == "green" else _rgbn((0.26, 0.20, 0.10), 0.38)
    return [_Part(_ccw(xy), col, (h - 1.6 * r, h), sphere=(x, y, r * 1.05), grain=0.12)]


_VEHICLE_COLOURS = [(0.78, 0.79, 0.80), (0.80, 0.65, 0.15), (0.28, 0.31, 0.22), (0.22, 0.23, 0.24),
                    (0.55, 0.16, 0.12), (0.20, 0.30, 0.50), (0.60, 0.62, 0.58)]


def _vehicle_poly(x, y, heading, length, width) -> Polygon:
    return _place(box(-width / 2, -length / 2, width / 2, length / 2), x, y, heading)


def _vehicle_parts(v) -> list[_Part]:
    x, y, hd, ln, wd, ci, ht = v
    col = _rgbn(_VEHICLE_COLOURS[ci])
    body = np.array([(-ln / 2, -wd / 2), (ln * 0.25, -wd / 2), (ln * 0.25, wd / 2), (-ln / 2, wd / 2)])
    cab = np.array([(ln * 0.28, -wd / 2), (ln / 2, -wd / 2 + 0.1), (ln / 2, wd / 2 - 0.1), (ln * 0.28, wd / 2)])
    hr = math.radians(hd)
    r = np.array([math.cos(hr), -math.sin(hr)])
    return [_Part(_ccw(_body_to_map(body, x, y, hd)), col, (0.4, ht), cyl=(x, y, r[0], r[1], wd * 0.9) if ln > 8 else None),
            _Part(_ccw(_body_to_map(cab, x, y, hd)), col * 0.8, (0.4, ht * 0.9), normal=(0, 0, 1))]


# =========================================================================== cloud
@dataclass
class _Cloud:
    x: float
    y: float
    rx: float
    ry: float
    rot: float
    harm: list
    soft: float
    dx: float  # shadow offset on the ground (m)
    dy: float
    date: str  # 'before' | 'after'
    seed: int

    def radius(self, ang):
        return 1 + sum(a * np.cos(k * ang + p) for k, a, p in self.harm)

    def polygon(self, shift=(0.0, 0.0)) -> Polygon:
        ang = np.linspace(0, 2 * np.pi, 720, endpoint=False)
        rho = self.radius(ang)
        p, q = rho * np.cos(ang) * self.rx, rho * np.sin(ang) * self.ry
        c, s = math.cos(self.rot), math.sin(self.rot)
        xs = self.x + shift[0] + p * c - q * s
        ys = self.y + shift[1] + p * s + q * c
        return Polygon(np.column_stack([xs, ys])).buffer(0.5)

    def outline(self):
        return unary_union([self.polygon(), self.polygon((self.dx, self.dy))])

    def alpha(self, px, py, noise=None):
        c, s = math.cos(self.rot), math.sin(self.rot)
        dx = (px - self.x).astype(np.float64)[None, :]
        dy = (py - self.y).astype(np.float64)[:, None]
        p = (dx * c + dy * s) / self.rx
        q = (-dx * s + dy * c) / self.ry
        rho = np.hypot(p, q)  # float64 throughout: see the module's notes
        t = ((self.radius(np.arctan2(q, p)) - rho) / self.soft).astype(np.float32)
        if noise is not None:  # a ragged, billowy edge; the core stays opaque
            t = np.where(t > 0, t + 0.5 * np.clip(noise, -1, 1) - 0.25, 0)
        return _smoothstep(t).astype(np.float32)


def _draw_cloud(canvas, cg: _CG, cl: _Cloud, sun):
    rng = np.random.default_rng(cl.seed)
    R = max(cl.rx, cl.ry) * 1.6
    # the shadow first, then the cloud itself
    for shadow in (True, False):
        ox, oy = (cl.dx, cl.dy) if shadow else (0.0, 0.0)
        win = cg.window(cl.x + ox - R, cl.y + oy - R, cl.x + ox + R, cl.y + oy + R)
        if win is None:
            continue
        sl, px, py = win
        shape = (len(py), len(px))
        nrng = np.random.default_rng(cl.seed + 1)  # same billows for the cloud and its shadow
        billow = _noise(nrng, shape, 14.0 / cg.res) * 0.7 + _noise(nrng, shape, 4.0 / cg.res) * 0.3
        a = cl.alpha(px - ox, py - oy, billow)
        if shadow:
            for c in range(canvas.shape[0]):
                canvas[c][sl] *= 1 - 0.62 * a
        else:
            sx, sy = sun[0], sun[1]
            nrm = math.hypot(sx, sy) or 1.0
            g = (((px - cl.x) * sx / nrm).astype(np.float32)[None, :]
                 + ((py - cl.y) * sy / nrm).astype(np.float32)[:, None]) / np.float32(R)
            shade = (0.9 + 0.1 * np.clip(g, -1, 1) + 0.06 * np.clip(billow, -2, 2)).astype(np.float32)
            col = np.array([0.95, 0.955, 0.97, 0.9], np.float32)
            for c in range(canvas.shape[0]):
                sub = canvas[c][sl]
                sub += a * (col[min(c, 3)] * shade - sub)
    del rng


# =========================================================================== world rendering
_SEASON = {  # display reflectance (R, G, B, NIR)
    "green": {"lush": (0.12, 0.17, 0.08, 0.56), "grass": (0.20, 0.24, 0.13, 0.48),
              "straw": (0.36, 0.34, 0.22, 0.36), "soil": (0.40, 0.34, 0.27, 0.33)},
    "brown": {"lush": (0.27, 0.25, 0.17, 0.33), "grass": (0.38, 0.34, 0.25, 0.35),
              "straw": (0.47, 0.42, 0.31, 0.38), "soil": (0.43, 0.37, 0.29, 0.34)},
}
_CONCRETE_APRON = (0.60, 0.59, 0.56, 0.50)
_CONCRETE_TAXI = (0.54, 0.535, 0.51, 0.46)
_CONCRETE_RWY = (0.57, 0.565, 0.54, 0.48)
_ASPHALT = (0.25, 0.25, 0.26, 0.23)
_ASPHALT_OLD = (0.33, 0.33, 0.33, 0.30)
_WHITE = (0.86, 0.86, 0.85, 0.78)
_YELLOW = (0.82, 0.66, 0.20, 0.66)
_RED = (0.62, 0.20, 0.16, 0.45)


def _static_layers(cg: _CG, lay: _Layout, rng, C: int) -> dict:
    """Everything that does not change between dates: ground noise, paved surfaces, paint."""
    H, W = cg.h, cg.w
    m = 1.0 / cg.res  # canvas px per metre
    lush = (0.55 * _noise(rng, (H, W), 160 * m) + 0.5 * _noise(rng, (H, W), 40 * m)
            + 0.4 * _noise(rng, (H, W), 11 * m) + 0.3 * _noise(rng, (H, W), 3 * m))
    dry = _smoothstep((0.8 * _noise(rng, (H, W), 70 * m) + 0.4 * _noise(rng, (H, W), 14 * m) - 0.8) / 0.8)
    soil = _smoothstep((0.7 * _noise(rng, (H, W), 28 * m) + 0.45 * _noise(rng, (H, W), 6 * m) - 1.3) / 0.5)
    grain = rng.standard_normal((H, W), dtype=np.float32)
    grain = ndi.gaussian_filter(grain, 0.7) * np.float32(2.0)
    weather = 0.6 * _noise(rng, (H, W), 30 * m) + 0.4 * _noise(rng, (H, W), 7 * m)

    # airfield-frame coordinates of every canvas pixel, for slabs and runway rubber
    cth, sth = math.cos(math.radians(lay.theta)), math.sin(math.radians(lay.theta))
    xs = (cg.x0 + (np.arange(W) + 0.5) * cg.res - lay.ox).astype(np.float32)[None, :]
    ys = (cg.y0 - (np.arange(H) + 0.5) * cg.res - lay.oy).astype(np.float32)[:, None]
    u = xs * np.float32(cth) + ys * np.float32(sth)
    v = -xs * np.float32(sth) + ys * np.float32(cth)
    slab = 7.5
    iu, iv = np.floor(u / slab).astype(np.int32), np.floor(v / slab).astype(np.int32)
    hsh = ((iu * 73856093) ^ (iv * 19349663)) & 0xFFFF
    tex_con = (1 + 0.05 * (hsh.astype(np.float32) / 32768.0 - 1.0) + 0.05 * weather + 0.025 * grain)
    joint = ((u - iu * slab) < 0.32) | ((v - iv * slab) < 0.32)
    tex_con -= 0.2 * joint
    del iu, iv, hsh, joint
    rub = None
    if lay.rubber is not None:  # tyre rubber along the runway centre line, touchdown zone
        u0, u1, vr, sig = lay.rubber
        rub = _smoothstep((u - u0) / 80.0) * _smoothstep((u1 - u) / 200.0)
        rub *= np.exp(-0.5 * ((v.astype(np.float64) - vr) / sig) ** 2).astype(np.float32) * np.clip(0.7 + 0.3 * weather, 0, 1.2)
    del u, v
    tex_asp = 1 + 0.07 * weather + 0.05 * grain

    paved = np.zeros((C, H, W), np.float32)
    alpha = np.zeros((H, W), np.float32)

    def put(geoms, colour, tex):
        msk = _rasterize(cg, geoms)
        for c in range(C):
            paved[c] += msk * (np.float32(colour[c]) * tex - paved[c])
        np.maximum(alpha, msk, out=alpha)

    put(lay.asphalt, _ASPHALT_OLD, tex_asp)
    put(lay.roads, _ASPHALT, tex_asp)
    put(lay.taxiways, _CONCRETE_TAXI, tex_con)
    put([lay.runway], _CONCRETE_RWY if lay.runway_concrete else _ASPHALT, tex_con if lay.runway_concrete else tex_asp)
    put([lay.apron], _CONCRETE_APRON, tex_con)
    del tex_con, tex_asp
    if rub is not None:
        for c in range(C):
            paved[c] *= 1 - 0.55 * rub
        del rub
    stains = []
    for x, y, r, a in lay.stains:
        t = np.linspace(0, 2 * np.pi, 10, endpoint=False)
        xy = np.column_stack([x + r * np.cos(t) * rng.uniform(0.6, 1.4), y + r * np.sin(t)])
        stains.append(_Part(_ccw(_hull(xy)), _rgbn((0.2, 0.2, 0.2)), alpha=a, shadow=False))
    _draw_parts(paved, cg, stains, np.array([0.0, 0.0, 1.0]))
    wear = np.clip(0.85 + 0.25 * weather, 0.5, 1.0)
    for geoms, colour in ((lay.paint_yellow, _YELLOW), (lay.paint_white, _WHITE), (lay.paint_red, _RED)):
        msk = _rasterize(cg, geoms) * wear
        for c in range(C):
            paved[c] += msk * (np.float32(colour[c]) * (1 + 0.03 * grain) - paved[c])
    # worn, sandy verges along the pavement and dirt tracks across the grass
    f = 4
    hh, ww = H // f * f, W // f * f
    small = alpha[:hh, :ww].reshape(hh // f, f, ww // f, f).mean((1, 3))
    halo = ndi.gaussian_filter(small, 2.5 / (cg.res * f))
    halo = ndi.zoom(halo, (H / small.shape[0], W / small.shape[1]), order=1)[:H, :W]
    if halo.shape != (H, W):
        halo = np.pad(halo, ((0, H - halo.shape[0]), (0, W - halo.shape[1])), mode="edge")
    halo = np.clip(2.0 * halo * (1 - alpha), 0, 1) * np.clip(0.6 + 0.4 * weather, 0, 1)
    np.maximum(soil, 0.75 * halo, out=soil)
    np.maximum(soil, 0.8 * _rasterize(cg, lay.tracks), out=soil)
    return {"lush": lush, "dry": dry, "soil": soil, "grain": grain, "paved": paved, "alpha": alpha}


def _render_world(cg: _CG, st: dict, lay: _Layout, date: dict, C: int) -> np.ndarray:
    """One date on the ground canvas, in radiance normalised to sunlit flat ground."""
    pal = _SEASON[date["season"]]
    H, W = cg.h, cg.w
    canvas = np.empty((C, H, W), np.float32)
    t_lush = np.clip(0.5 + 0.32 * st["lush"], 0, 1)
    for c in range(C):
        g = np.float32(pal["grass"][c]) + (np.float32(pal["lush"][c] - pal["grass"][c])) * t_lush
        g += st["dry"] * (np.float32(pal["straw"][c]) - g)
        g += st["soil"] * (np.float32(pal["soil"][c]) - g)
        g *= 1 + 0.07 * st["grain"]
        g += st["alpha"] * (st["paved"][c] - g)
        canvas[c] = g
    del t_lush
    sun = date["sun_vec"]
    for sc in date["scorch"]:
        _draw_scorch(canvas, cg, sc)
    objects = date["objects"]
    _draw_shadows(canvas, cg, objects, sun)
    for parts in objects:
        _draw_parts(canvas, cg, parts, sun, st["grain"])
    for cl in date["clouds"]:
        _draw_cloud(canvas, cg, cl, sun)
    return canvas


def _sample(canvas, cg: _CG, X, Y, sigma_px: float):
    """Values of the (blurred) canvas at ground points X, Y (bilinear); and where defined."""
    ii = (cg.y0 - Y) / cg.res - 0.5
    jj = (X - cg.x0) / cg.res - 0.5
    valid = (ii >= 0) & (jj >= 0) & (ii <= cg.h - 1) & (jj <= cg.w - 1)
    coords = np.stack([ii, jj])
    out = np.empty((canvas.shape[0], *X.shape), np.float32)
    for c in range(canvas.shape[0]):
        blurred = ndi.gaussian_filter(canvas[c], sigma_px, truncate=3.0) if sigma_px > 0.05 else canvas[c]
        out[c] = ndi.map_coordinates(blurred, coords, order=1, mode="nearest")
    return out, valid


#: Colour of the haze veil per band (R, G, B, NIR).
_HAZE_TINT = (0.86, 0.9, 1.0, 0.8)


def true_transfer(meta: dict, pixels: np.ndarray) -> np.ndarray:
    """AFTER float pixels ``(bands, ...)`` in BEFORE's radiometry, exactly as the pair was made.

    Inverts AFTER's gain, gamma, band balance and haze and applies BEFORE's (``meta`` is
    ``Truth.meta``). Noise and JPEG are not inverted, and a change of season is a change of
    the ground, not of the sensor: grass is expected to differ. The reference for
    radiometric normalisation (:mod:`airdiff.radiometry`) on grey, paved surfaces. Bands
    as made (three or four); a one-band pair is the mean of the visible bands and is not
    covered.

    Raises
    ------
    ValueError
        ``meta`` predates the record of each date's band balance.
    """
    a, b = meta["after"], meta["before"]
    if "balance" not in a or "balance" not in b:
        raise ValueError("this truth does not record the band balance of each date; make the pair again")
    out = np.empty(pixels.shape, np.float32)
    for c in range(pixels.shape[0]):
        k = min(c, 3)
        d = (pixels[c].astype(np.float64) - a["haze"] * _HAZE_TINT[k]) / ((1 - a["haze"]) * a["gain"] * a["balance"][k])
        d = np.clip(d, 0, 1) ** (1.0 / a["gamma"])
        out[c] = (d ** b["gamma"] * b["gain"] * b["balance"][k]) * (1 - b["haze"]) + b["haze"] * _HAZE_TINT[k]
    return out


def paved_pixels(truth: Truth, aligned) -> np.ndarray:
    """Where :func:`true_transfer` is the reference for an AFTER on BEFORE's grid.

    ``aligned`` is a :class:`~airdiff.scene.Scene` on ``truth``'s BEFORE grid. True on the
    runway, taxiways and aprons, outside the planted cloud, where ``aligned`` is valid and
    no band is clipped (a clipped value has no inverse).
    """
    from rasterio import features

    g = aligned.grid
    paved = features.geometry_mask([geom for kind, geom in truth.aeroways if kind in ("runway", "taxiway", "apron")],
                                   out_shape=g.shape, transform=g.transform, invert=True)
    if truth.cloud is not None and not truth.cloud.is_empty:
        paved &= ~features.geometry_mask([truth.cloud], out_shape=g.shape, transform=g.transform, invert=True)
    return paved & aligned.valid & (np.nan_to_num(aligned.as_float()).max(axis=0) < 0.98)


def _sensor(img, valid, date: dict, *, bands: int, dtype: str, rng) -> np.ndarray:
    """Display stretch, radiometric differences, noise, quantisation and JPEG."""
    # float64: a power of every pixel (see the module's notes)
    d = np.clip(img.astype(np.float64) / 0.92, 0, None) ** 0.78
    gain, gamma, bal, haze = date["gain"], date["gamma"], date["balance"], date["haze"]
    for c in range(d.shape[0]):
        d[c] = np.clip(d[c], 0, 1) ** gamma * (gain * bal[min(c, 3)])
        d[c] = d[c] * (1 - haze) + haze * _HAZE_TINT[min(c, 3)]
    if date["noise"] > 0:
        d += (date["noise"] * (0.4 + np.sqrt(np.clip(d, 0, 1)))
              * rng.standard_normal(d.shape, dtype=np.float32))
    d = np.clip(d, 0, 1)
    if bands == 1:
        d = d[:3].mean(0, keepdims=True)
    top = 255.0 if dtype == "uint8" else 2047.0
    out = np.round(d * top).astype(np.uint8 if dtype == "uint8" else np.uint16)
    if date["jpeg"] and dtype == "uint8":
        out = _jpeg(out, date["jpeg"])
    out[:, ~valid] = 0
    return np.ascontiguousarray(out)


def _jpeg(px, quality: int) -> np.ndarray:
    from io import BytesIO

    from PIL import Image

    def rt(arr):
        buf = BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        return np.asarray(Image.open(buf))

    out = px.copy()
    if px.shape[0] >= 3:
        out[:3] = np.moveaxis(rt(np.ascontiguousarray(np.moveaxis(px[:3], 0, -1))), -1, 0)
        for c in range(3, px.shape[0]):
            out[c] = rt(px[c])
    else:
        out[0] = rt(px[0])
    return out


# =========================================================================== parameters
_MISREG = {  # offset (m, magnitude range), rotation (deg), scale (relative), warp (px)
    "none": ((0.0, 0.0), 0.0, 0.0, 0.0),
    "small": ((0.5, 2.0), 0.15, 0.002, 0.3),
    "moderate": ((10.0, 40.0), 2.0, 0.02, 1.2),
    "large": ((60.0, 100.0), 4.5, 0.045, 1.5),
}


def _distortion(rng, spec, centre, gsd_m: float, extent_m: float) -> Distortion:
    wl = float(max(250.0, rng.uniform(0.8, 1.6) * extent_m))
    phase = tuple(float(v) for v in rng.uniform(0, 2 * np.pi, 4))
    if isinstance(spec, dict):
        unknown = set(spec) - {"offset_m", "rotation_deg", "scale", "warp_px"}
        if unknown:
            raise InputError(f"unknown misregistration keys {sorted(unknown)}; use offset_m, "
                             "rotation_deg, scale, warp_px")
        off = spec.get("offset_m", (0.0, 0.0))
        if np.isscalar(off):
            ang = rng.uniform(0, 2 * np.pi)
            off = (off * np.cos(ang), off * np.sin(ang))
        return Distortion(centre=centre, offset_m=(float(off[0]), float(off[1])),
                          rotation_deg=float(spec.get("rotation_deg", 0.0)),
                          scale=float(spec.get("scale", 1.0)),
                          warp_m=float(spec.get("warp_px", 0.0)) * gsd_m,
                          warp_wavelength_m=wl, warp_phase=phase)
    if spec not in _MISREG:
        raise InputError(f"misregistration must be one of {sorted(_MISREG)} or a dict, got {spec!r}")
    (o0, o1), rot, sc, warp = _MISREG[spec]
    mag, ang = rng.uniform(o0, o1), rng.uniform(0, 2 * np.pi)
    rsign, ssign = rng.choice([-1, 1]), rng.choice([-1, 1])
    return Distortion(
        centre=centre,
        offset_m=(float(mag * np.cos(ang)), float(mag * np.sin(ang))),
        rotation_deg=float(rsign * rng.uniform(0.3, 1.0) * rot),
        scale=float(1 + ssign * rng.uniform(0.3, 1.0) * sc),
        warp_m=float(rng.uniform(0.6, 1.0) * warp * gsd_m),
        warp_wavelength_m=wl, warp_phase=phase)


def _parse_nuisances(n) -> frozenset:
    if n is None or n == "all":
        return NUISANCES
    if n == "none":
        return frozenset()
    if isinstance(n, str):
        n = {n}
    n = frozenset(n)
    bad = n - NUISANCES
    if bad:
        raise InputError(f"unknown nuisances {sorted(bad)}; choose from {sorted(NUISANCES)}")
    return n


def _sun_position(t: datetime, lon: float, lat: float) -> tuple[float, float]:
    """Approximate solar (azimuth clockwise from north, elevation) in degrees."""
    doy = t.timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2 * math.pi * (doy - 81) / 365.0)
    hour = t.hour + t.minute / 60 + lon / 15.0
    ha = math.radians(15 * (hour - 12))
    phi = math.radians(lat)
    el = math.asin(math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha))
    az = math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi))
    return (math.degrees(az) + 180.0) % 360.0, math.degrees(el)


def _after_grid(before: Grid, after_gsd: float, after_crs) -> Grid:
    """The AFTER file's stated grid: the BEFORE area at its own GSD (ground metres), in its CRS."""
    b_crs = before.crs
    if after_crs is None or Grid(before.shape, before.transform, after_crs).crs == b_crs:
        rows, cols = before.shape
        W, H = cols * before.res[0], rows * before.res[1]
        t = before.transform
        return Grid((int(round(H / after_gsd)), int(round(W / after_gsd))),
                    Affine(after_gsd, 0, t.c, 0, -after_gsd, t.f), b_crs)
    a_crs = Grid(before.shape, before.transform, after_crs).crs
    tr = _transformer(b_crs.to_wkt(), a_crs.to_wkt())
    fp = before.footprint().segmentize(before.res[0] * 20)
    xs, ys = tr.transform(*np.asarray(fp.exterior.coords).T)
    cx, cy = before.centre_xy
    (x0, x1), (y0, y1) = tr.transform([cx - 50, cx + 50], [cy, cy])
    k = math.hypot(x1 - x0, y1 - y0) / 100.0  # CRS units per ground metre
    p = after_gsd * k
    left, top = math.floor(min(xs) / p) * p, math.ceil(max(ys) / p) * p
    cols = int(math.ceil((max(xs) - left) / p))
    rows = int(math.ceil((top - min(ys)) / p))
    return Grid((rows, cols), Affine(p, 0, left, 0, -p, top), a_crs)


# =========================================================================== planning
@dataclass
class _Plane:
    id: int
    kind: str
    x: float
    y: float
    heading: float
    paint: tuple

    @property
    def footprint(self) -> Polygon:
        return _place(aircraft_outline(self.kind), self.x, self.y, self.heading)


def _dates(rng, nz) -> tuple[dict, dict]:
    lon, lat = _SITE_LONLAT
    day0 = datetime(2024, 4, 25, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 140)))
    hb = float(rng.uniform(7.0, 8.6))
    t_b = day0 + timedelta(hours=hb)
    if "sun" in nz:
        ha = float(rng.uniform(5.2, 6.3)) if rng.random() < 0.5 else float(rng.uniform(10.3, 11.8))
    else:
        ha = hb + float(rng.uniform(-0.15, 0.15))
    t_a = day0 + timedelta(days=int(rng.integers(2, 9)), hours=ha)
    t_b, t_a = (t.replace(microsecond=0) for t in (t_b, t_a))
    sun_b = _sun_position(t_b, lon, lat)
    sun_a = _sun_position(t_a, lon, lat) if "sun" in nz else sun_b
    flip = rng.random() < 0.3
    seasons = ("brown", "green") if flip else ("green", "brown")
    out = []
    for k, (t, sun) in enumerate(((t_b, sun_b), (t_a, sun_a))):
        after = k == 1
        radiom = after and "radiometry" in nz
        out.append({
            "acquired": t, "sun": (round(sun[0], 3), round(sun[1], 3)), "sun_vec": _sun_vector(*sun),
            "season": seasons[k] if "season" in nz else "green",
            "gain": float(rng.uniform(0.85, 1.15)) if radiom else 1.0,
            "gamma": float(rng.uniform(0.82, 1.2)) if radiom else 1.0,
            "balance": tuple(float(v) for v in (1 + rng.uniform(-0.05, 0.05, 4))) if radiom else (1.0,) * 4,
            "haze": float(rng.uniform(0.02, 0.09)) if radiom else 0.0,
            "noise": 0.011 if "noise" in nz else 0.0,
            "jpeg": int(rng.integers(75, 91)) if "jpeg" in nz else 0,
            "scorch": [], "objects": [], "clouds": [],
        })
    return out[0], out[1]


def _new_cloud(rng, x, y, radius, date, sun) -> _Cloud:
    harm = [(k, float(rng.uniform(0.02, 0.05)), float(rng.uniform(0, 2 * np.pi))) for k in range(2, 7)]
    return _Cloud(x, y, radius * rng.uniform(0.95, 1.15), radius * rng.uniform(0.85, 1.0),
                  float(rng.uniform(0, np.pi)), harm, 0.3, 0.0, 0.0, date, int(rng.integers(1 << 30)))


def _with_shadow(cl: _Cloud, sun, length) -> _Cloud:
    az = math.radians(sun[0])
    return _Cloud(cl.x, cl.y, cl.rx, cl.ry, cl.rot, cl.harm, cl.soft,
                  -math.sin(az) * length, -math.cos(az) * length, cl.date, cl.seed)


def make_pair(
    seed: int = 0,
    *,
    scenario: str = "random",
    shape: tuple[int, int] | None = None,
    gsd: float = 0.5,
    after_gsd: float | None = None,
    after_crs: str | None = None,
    misregistration: str | dict = "moderate",
    nuisances: str | set = "all",
    n_aircraft: int | None = None,
    bands: int = 3,
    dtype: str = "uint8",
    decoys: int = 0,
    craters: int = 0,
) -> SynthPair:
    """Make a synthetic BEFORE/AFTER pair of an air base, with its exact truth.

    Parameters
    ----------
    seed : int
        Everything random derives from it; the layout does not depend on the nuisances.
    scenario : {'random', 'strike', 'static'}
        'strike' models a reported case: 18 large transports on an apron; between the dates
        2 burn on their stands and 11 are moved off their stands onto taxiways, one of them
        onto the runway; with the 'cloud' nuisance a cloud in AFTER hides an unchanged
        parked aircraft. 'random' draws the layout, the aircraft kinds and 0-4 changes of
        each class (moved, burned, appeared, disappeared). 'static' has no aircraft change.
    shape : (rows, cols), optional
        BEFORE size in pixels. Default: strike 1.2 x 0.9 km (1800 x 2400 at 0.5 m),
        otherwise 1000 x 1000 pixels.
    gsd : float
        BEFORE ground sample distance, metres.
    after_gsd : float, optional
        AFTER ground sample distance in ground metres (default ``gsd``).
    after_crs : str, optional
        CRS of the AFTER file, e.g. 'EPSG:32636' (the next UTM zone) or 'EPSG:3857'.
        Default: the BEFORE CRS (EPSG:32637).
    misregistration : {'none', 'small', 'moderate', 'large'} or dict
        Error of the AFTER georeference (see :class:`Distortion`): 'small' is a few pixels,
        'moderate' 10-40 m, up to 2 deg and 2 %, with a warp of about 1 px, 'large' 60-100 m,
        up to 4.5 deg and 4.5 %. A dict gives ``offset_m`` ((dx, dy) or a length in a random
        direction), ``rotation_deg``, ``scale`` (a factor, 1 = none) and ``warp_px``.
    nuisances : 'all', 'none' or a set of str
        Any of {'sun', 'season', 'radiometry', 'noise', 'jpeg', 'cloud', 'vehicles'}.
    n_aircraft : int, optional
        Aircraft parked in BEFORE (default: strike 18, otherwise drawn from the stands).
    bands : {1, 3, 4}
        Grey, RGB, or RGB + near-infrared.
    dtype : {'uint8', 'uint16'}
        uint16 holds 11-bit values (0-2047) and gets no JPEG artefacts.
    decoys : int
        Flat decoys (an aircraft's outline painted white, no relief, no shadow) put on stands left
        free in AFTER; in :attr:`Truth.decoys`, in no change. The rest of the pair is the
        same as without them.
    craters : int
        Craters (a pit 8-18 m across, its spoil and soot) made in AFTER on open pavement,
        clear of aircraft, vehicles and decoys; in :attr:`Truth.craters`, in no aircraft
        change. The rest of the pair is the same as without them.

    Returns
    -------
    SynthPair
        ``before`` and ``after`` :class:`~airdiff.scene.Scene` and the :class:`Truth`.

    Examples
    --------
    >>> p = make_pair(seed=3, shape=(300, 300), nuisances="none", misregistration="none")
    >>> p.before.pixels.shape, p.before.pixels.dtype.name
    ((3, 300, 300), 'uint8')
    """
    if scenario not in SCENARIOS:
        raise InputError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    if bands not in (1, 3, 4):
        raise InputError(f"bands must be 1, 3 or 4, got {bands}")
    if dtype not in ("uint8", "uint16"):
        raise InputError(f"dtype must be 'uint8' or 'uint16', got {dtype!r}")
    if not gsd > 0 or (after_gsd is not None and not after_gsd > 0):
        raise InputError("gsd and after_gsd must be positive numbers of metres")
    nz = _parse_nuisances(nuisances)

    def sub(k):
        return np.random.default_rng([int(seed), k])

    if shape is None:
        shape = (int(round(900 / gsd)), int(round(1200 / gsd))) if scenario == "strike" else (1000, 1000)
    rows, cols = (int(v) for v in shape)
    W, H = cols * gsd, rows * gsd
    C = 4 if bands == 4 else 3

    # -- grids and the true misregistration
    r0 = sub(0)
    from pyproj import Transformer

    ex, ey = Transformer.from_crs("EPSG:4326", _CRS, always_xy=True).transform(*_SITE_LONLAT)
    x0 = math.floor((ex + r0.integers(-8, 9) * 1000 - W / 2) / gsd) * gsd
    y0 = math.floor((ey + r0.integers(-8, 9) * 1000 + H / 2) / gsd) * gsd
    before_grid = Grid((rows, cols), Affine(gsd, 0, x0, 0, -gsd, y0), _CRS)
    agsd = float(after_gsd or gsd)
    after_grid = _after_grid(before_grid, agsd, after_crs)
    cx, cy = x0 + W / 2, y0 - H / 2
    dist = _distortion(sub(5), misregistration, (cx, cy), agsd, max(W, H))
    empty = shapely.GeometryCollection()
    probe = Truth((), (), (), empty, (), (), before_grid, after_grid, dist)
    ar, ac = after_grid.shape
    edge = np.concatenate([np.column_stack([np.linspace(0, ac, 41), np.zeros(41)]),
                           np.column_stack([np.full(41, ac), np.linspace(0, ar, 41)]),
                           np.column_stack([np.linspace(ac, 0, 41), np.full(41, ar)]),
                           np.column_stack([np.zeros(41), np.linspace(ar, 0, 41)])])
    t = after_grid.transform
    tx, ty = probe.after_map_to_true(t.a * edge[:, 0] + t.c, t.e * edge[:, 1] + t.f)
    after_true = Polygon(np.column_stack([tx, ty])).buffer(0)
    before_fp = before_grid.footprint()
    safe = before_fp.intersection(after_true).buffer(-6.0)

    # -- layout and aircraft kinds
    rl = sub(1)
    if scenario == "strike":
        pool = ["large"]
    else:
        fits = [k for k in AIRCRAFT_KINDS
                if AIRCRAFT_KINDS[k][0] * 2.2 + 40 <= 0.9 * H and AIRCRAFT_KINDS[k][1] + 80 <= 0.9 * W]
        fits = fits or ["small"]
        pool = [str(k) for k in rl.choice(fits, size=int(rl.integers(1, len(fits) + 1)), replace=False)]
    lay = _layout(rl, scenario=scenario, W=W, H=H, cx=cx, cy=cy, kinds=pool)
    kmax = max(pool, key=lambda k: AIRCRAFT_KINDS[k][1] * AIRCRAFT_KINDS[k][0])
    usable = [i for i, s in enumerate(lay.stands)
              if safe.contains(_place(aircraft_outline(kmax), s.x, s.y, s.heading))]

    ra = sub(2)
    if scenario == "strike":
        n = 18 if n_aircraft is None else int(n_aircraft)
        n = min(n, len(usable))
        if n < 15:
            raise InputError(f"the strike scenario needs at least 15 aircraft on stands, this scene "
                             f"fits {n}; use the default shape (1.2 x 0.9 km) and n_aircraft >= 15")
        occupied = sorted(usable[:n])
    else:
        if n_aircraft is None:
            n = int(ra.integers(max(1, math.ceil(0.4 * len(usable))), len(usable) + 1)) if usable else 0
        else:
            n = int(n_aircraft)
            if n > len(usable):
                log.warning("only %d stands fit the scene; placing %d aircraft, not %d", len(usable), len(usable), n)
                n = len(usable)
        occupied = sorted(int(i) for i in ra.choice(usable, size=n, replace=False)) if n else []
    planes_b = []
    for i, si in enumerate(occupied):
        s = lay.stands[si]
        kind = str(ra.choice(pool))
        planes_b.append(_Plane(i + 1, kind, s.x, s.y, s.heading, _paint(ra, kind)))
    free_stands = [i for i in usable if i not in occupied]

    date_b, date_a = _dates(sub(4), nz)
    rc = sub(6)
    clouds: list[_Cloud] = []
    protected: set[int] = set()
    if scenario == "strike" and "cloud" in nz:
        ends = [k for k, si in enumerate(occupied)
                if lay.stands[si].col in (0, max(s.col for s in lay.stands))]
        rc.shuffle(ends)
        best = None
        for k in ends:
            tgt = planes_b[k]
            near = sorted(range(len(planes_b)), key=lambda j: math.hypot(planes_b[j].x - tgt.x, planes_b[j].y - tgt.y))
            prot = set(near[: 1 + min(2, len(planes_b) - 13 - 1)])
            others = unary_union([planes_b[j].footprint.buffer(4) for j in range(len(planes_b)) if j not in prot])
            cl = _new_cloud(rc, tgt.x + rc.normal(0, 2), tgt.y + rc.normal(0, 2),
                            0.5 * max(AIRCRAFT_KINDS[tgt.kind][:2]) / 0.4, "after", date_a["sun"])
            if cl.polygon().intersects(others):
                continue
            for f in (1.1, 1.4, 1.8, 2.3, 3.0, 3.8):
                c2 = _with_shadow(cl, date_a["sun"], f * cl.rx)
                if not c2.outline().intersects(others):
                    best = (c2, prot)
                    break
            if best:
                break
        if best is None:
            log.warning("no place for a cloud that hides only unchanged aircraft; strike without cloud")
        else:
            clouds.append(best[0])
            protected = best[1]

    # -- changes
    order = [k for k in ra.permutation(len(planes_b)).tolist() if k not in protected]
    if scenario == "strike":
        nb_, nm_, nd_, na_ = 2, 11, 0, 0
    elif scenario == "static":
        nb_ = nm_ = nd_ = na_ = 0
    else:
        nb_, nm_, nd_, na_ = (int(v) for v in ra.integers(0, 5, size=4))
        nb_ = min(nb_, len(order))
        nm_ = min(nm_, len(order) - nb_)
        nd_ = min(nd_, len(order) - nb_ - nm_)
        na_ = min(na_, len(free_stands))
        if nb_ + nm_ + nd_ + na_ == 0 and (order or free_stands):
            if order:
                nm_ = 1
            else:
                na_ = 1
    burn_k, move_k, dis_k = order[:nb_], order[nb_:nb_ + nm_], order[nb_ + nm_:nb_ + nm_ + nd_]
    changes: list[TruthChange] = []
    planes_a: list[_Plane] = []
    burned: list[_Plane] = []
    changed_k = set(burn_k) | set(move_k) | set(dis_k)
    for k, p in enumerate(planes_b):
        if k not in changed_k:
            planes_a.append(p)
    for k in burn_k:
        burned.append(planes_b[k])
    appeared = []
    appeared_on = set()
    for j in ra.permutation(len(free_stands))[:na_].tolist():
        appeared_on.add(free_stands[j])
        s = lay.stands[free_stands[j]]
        kind = str(ra.choice(pool))
        q = _Plane(100 + len(appeared) + 1, kind, s.x, s.y, s.heading, _paint(ra, kind))
        appeared.append(q)
        planes_a.append(q)
    blocked = [p.footprint.buffer(6) for p in planes_b + appeared]
    blocked += [_place(aircraft_outline(p.kind), p.x, p.y, p.heading).buffer(6) for p in burned]
    for cl in clouds:
        blocked.append(cl.outline().buffer(6))
    for b in lay.buildings:
        blocked.append(lay.to_map(box(b["u"] - b["w"] / 2, b["v"] - b["d"] / 2, b["u"] + b["w"] / 2, b["v"] + b["d"] / 2)).buffer(4))
    blocked_u = unary_union(blocked) if blocked else empty
    runway_first = scenario == "strike" or ra.random() < 0.35
    slots = [lay.slots[i] for i in ra.permutation(len(lay.slots)).tolist()]
    moved = []
    for n_, k in enumerate(move_k):
        p = planes_b[k]
        want = "runway" if (n_ == 0 and runway_first) else "taxiway"
        dest = None
        for si, (sx, sy, sh, surf) in enumerate(slots):
            if surf != want:
                continue
            fp = _place(aircraft_outline(p.kind), sx, sy, sh)
            if safe.contains(fp) and not fp.intersects(blocked_u):
                dest = (sx, sy, sh, surf)
                slots.pop(si)
                blocked_u = blocked_u.union(fp.buffer(8))
                break
        if dest is None:
            log.info("no free taxiway slot for aircraft %d; it stays on its stand", p.id)
            planes_a.append(p)
            continue
        q = _Plane(p.id, p.kind, dest[0], dest[1], dest[2], p.paint)
        planes_a.append(q)
        moved.append((p, q, dest[3]))
    cid = 0
    for p in burned:
        cid += 1
        changes.append(TruthChange(cid, "burned", p.kind, p.footprint, p.footprint, "stand", "stand"))
    for p, q, surf in moved:
        cid += 1
        changes.append(TruthChange(cid, "moved", p.kind, p.footprint, q.footprint, surf, "stand"))
    for k in dis_k:
        p = planes_b[k]
        cid += 1
        changes.append(TruthChange(cid, "disappeared", p.kind, p.footprint, None, "stand", "stand"))
    for q in appeared:
        cid += 1
        changes.append(TruthChange(cid, "appeared", q.kind, None, q.footprint, "stand", None))

    # -- vehicles
    rv = sub(7)
    avoid = unary_union([p.footprint.buffer(3) for p in planes_b + planes_a + burned]
                        + [b_.buffer(0) for b_ in blocked[len(planes_b) + len(appeared) + len(burned):]])
    regions = [lay.apron] + lay.roads
    n_veh = int(rv.integers(14, 24)) if scenario == "strike" else int(max(2, W * H / 18000 * rv.uniform(0.6, 1.4)))
    vehicles_b, vehicles_a, vehicles_moved = [], [], []
    taken = []

    def new_vehicle():
        for _ in range(40):
            reg = regions[0] if rv.random() < 0.7 else regions[int(rv.integers(0, len(regions)))]
            bx0, by0, bx1, by1 = reg.bounds
            x, y = rv.uniform(bx0, bx1), rv.uniform(by0, by1)
            typ = int(rv.integers(0, 4))
            ln, wd, ht = [(4.5, 1.9, 1.5), (6.0, 2.2, 2.5), (8.5, 2.5, 3.2), (10.0, 2.5, 3.0)][typ]
            hd = (lay.heading(float(rv.choice([0, 90, 180, 270]))) + rv.normal(0, 3)) % 360
            poly = _vehicle_poly(x, y, hd, ln, wd)
            if not reg.contains(poly) or poly.intersects(avoid) or not before_fp.contains(poly):
                continue
            if any(poly.distance(t_) < 1.5 for t_ in taken):
                continue
            taken.append(poly)
            ci = int(rv.integers(0, len(_VEHICLE_COLOURS)))
            return (x, y, hd, ln, wd, ci, ht), poly
        return None

    for _ in range(n_veh):
        v = new_vehicle()
        if v is None:
            continue
        vehicles_b.append(v[0])
        if "vehicles" in nz and rv.random() < 0.45:
            w_ = new_vehicle()
            if w_ is not None:
                w_ = ((*w_[0][:3], *v[0][3:]), _vehicle_poly(*w_[0][:3], v[0][3], v[0][4]))
                vehicles_a.append(w_[0])
                vehicles_moved += [v[1], w_[1]]
                continue
        vehicles_a.append(v[0])

    # -- decoys: on stands still free in AFTER, clear of everything drawn there
    decoy_planes = []
    if decoys:
        rdc = sub(10)
        clear = unary_union([g.buffer(3) for g in [q.footprint for q in planes_a] + taken]
                            + [_place(aircraft_outline(p.kind), p.x, p.y, p.heading).buffer(3) for p in burned])
        for si in rdc.permutation([i for i in free_stands if i not in appeared_on]).tolist():
            if len(decoy_planes) == int(decoys):
                break
            st_ = lay.stands[int(si)]
            kind = str(rdc.choice(pool))
            q = _Plane(200 + len(decoy_planes) + 1, kind, st_.x, st_.y, st_.heading,
                       tuple(np.clip(np.asarray(_DECOY_PAINT) * rdc.uniform(0.96, 1.04), 0, 1)))
            if not q.footprint.intersects(clear):
                decoy_planes.append(q)
                clear = clear.union(q.footprint.buffer(3))
        if len(decoy_planes) < decoys:
            log.warning("only %d of %d decoys fit on free stands", len(decoy_planes), decoys)

    # -- craters: on open pavement seen in both dates, clear of everything drawn in AFTER
    crater_list = []
    if craters:
        rcr = sub(11)
        clear = unary_union([g.buffer(6) for g in [q.footprint for q in planes_b + planes_a + decoy_planes] + taken]
                            + [_place(aircraft_outline(p.kind), p.x, p.y, p.heading).buffer(10) for p in burned])
        pavement = unary_union([lay.apron, *lay.taxiways]).intersection(safe)
        bx0, by0, bx1, by1 = pavement.bounds if not pavement.is_empty else (0, 0, 0, 0)
        for _ in range(400 * int(craters)):
            if len(crater_list) == int(craters) or pavement.is_empty:
                break
            x, y, r = rcr.uniform(bx0, bx1), rcr.uniform(by0, by1), rcr.uniform(4.0, 9.0)
            outline = Point(x, y).buffer(1.7 * r, 24)
            if pavement.contains(outline) and not outline.intersects(clear):
                crater_list.append((x, y, r, int(rcr.integers(1 << 30))))
                clear = clear.union(outline.buffer(15))
        if len(crater_list) < craters:
            log.warning("only %d of %d craters fit on open pavement", len(crater_list), craters)

    # -- random / static clouds
    if "cloud" in nz and scenario != "strike" and rc.random() < 0.75:
        date = "after" if rc.random() < 0.65 else "before"
        sun = (date_a if date == "after" else date_b)["sun"]
        changed = unary_union([g.buffer(6) for c in changes for g in (c.before, c.after) if g is not None])
        rmax = max(15.0, 0.22 * min(W, H))
        for _ in range(40):
            if planes_a and rc.random() < 0.6:
                p = planes_a[int(rc.integers(0, len(planes_a)))]
                x, y = p.x, p.y
            else:
                x, y = rc.uniform(x0, x0 + W), rc.uniform(y0 - H, y0)
            cl = _new_cloud(rc, x, y, rc.uniform(0.5, 1.0) * rmax, date, sun)
            cl = _with_shadow(cl, sun, rc.uniform(1.1, 2.5) * cl.rx)
            if scenario == "static" or not cl.outline().intersects(changed):
                clouds.append(cl)
                break

    # -- draw both dates on the ground canvas and sample the two images
    xs, ys = [before_fp.bounds[0], before_fp.bounds[2], *after_true.bounds[0::2]], [before_fp.bounds[1], before_fp.bounds[3], *after_true.bounds[1::2]]
    res = max(min(gsd, agsd) / 2, 0.2)
    area = (max(xs) - min(xs) + 16) * (max(ys) - min(ys) + 16)
    res = max(res, math.sqrt(area / 30e6))
    cx0 = x0 - math.ceil((x0 - min(xs) + 8) / res) * res
    cy0 = y0 + math.ceil((max(ys) + 8 - y0) / res) * res
    cg = _CG(cx0, cy0, res, int(math.ceil((cy0 - min(ys) + 8) / res)), int(math.ceil((max(xs) + 8 - cx0) / res)))
    st = _static_layers(cg, lay, sub(3), C)
    buildings = [_building_parts(b, lay, b["seed"]) for b in lay.buildings]
    rd = sub(8)
    for date, planes, vehicles in ((date_b, planes_b, vehicles_b), (date_a, planes_a, vehicles_a)):
        objs = list(buildings) + [_tree_parts(t_, date["season"]) for t_ in lay.trees]
        objs += [_vehicle_parts(v) for v in vehicles]
        objs += [_aircraft_parts(p.kind, p.x, p.y, p.heading, p.paint) for p in planes]
        date["objects"] = objs
    date_a["objects"] += [_aircraft_parts(q.kind, q.x, q.y, q.heading, q.paint, flat=True) for q in decoy_planes]
    for x, y, r, cseed in crater_list:
        parts, scorch = _crater_parts(x, y, r, np.random.default_rng(cseed))
        date_a["objects"].append(parts)
        date_a["scorch"].append(scorch)
    for p in burned:
        parts, scorch = _burned_parts(p.kind, p.x, p.y, p.heading, rd)
        date_a["objects"].append(parts)
        date_a["scorch"].append(scorch)
    for cl in clouds:
        (date_a if cl.date == "after" else date_b)["clouds"].append(cl)

    rs = sub(9)
    images = []
    for date, grid in ((date_b, before_grid), (date_a, after_grid)):
        canvas = _render_world(cg, st, lay, date, C)
        rr, cc = np.mgrid[0:grid.height, 0:grid.width].astype(np.float64)
        if grid is before_grid:
            X, Y = before_grid.xy(rr, cc)
        else:
            tt = grid.transform
            X, Y = probe.after_map_to_true(tt.a * (cc + 0.5) + tt.c, tt.e * (rr + 0.5) + tt.f)
        del rr, cc
        img, valid = _sample(canvas, cg, X, Y, 0.4 * grid.gsd / res)
        del canvas, X, Y
        images.append((_sensor(img, valid, date, bands=bands, dtype=dtype, rng=rs), valid))
    del st

    names = {1: ("gray",), 3: ("red", "green", "blue"), 4: ("red", "green", "blue", "nir")}[bands]

    def scene(k, date, grid):
        px, valid = images[k]
        tags = {"SUN_AZIMUTH": f"{date['sun'][0]:.2f}", "SUN_ELEVATION": f"{date['sun'][1]:.2f}"}
        return Scene(px, grid, valid=valid, acquired=date["acquired"], name=("before", "after")[k],
                     credit=CREDIT, band_names=names, tags=tags)

    clip = box(cg.x0, cg.y0 - cg.h * cg.res, cg.x0 + cg.w * cg.res, cg.y0)
    aeroways = [("runway", lay.runway.intersection(clip))]
    aeroways += [("taxiway", t_.intersection(clip)) for t_ in lay.taxiways]
    aeroways += [("apron", lay.apron)] + [("stand", s.poly) for s in lay.stands]
    aeroways = [(k, g) for k, g in aeroways if not g.is_empty and g.geom_type == "Polygon"]

    def meta_of(d):
        return {"acquired": d["acquired"].isoformat().replace("+00:00", "Z"),
                "sun_azimuth_deg": d["sun"][0], "sun_elevation_deg": d["sun"][1], "season": d["season"],
                "gain": d["gain"], "gamma": d["gamma"], "balance": list(d["balance"]), "haze": d["haze"],
                "jpeg_quality": d["jpeg"],
                "clouds": len(d["clouds"])}

    meta = {"seed": int(seed), "scenario": scenario, "gsd": gsd, "after_gsd": agsd,
            "misregistration": misregistration if isinstance(misregistration, str) else "custom",
            "nuisances": sorted(nz), "site_lonlat": list(_SITE_LONLAT),
            "before": meta_of(date_b), "after": meta_of(date_a)}
    truth = Truth(
        changes=tuple(changes),
        aircraft_before=tuple(TruthAircraft(p.id, p.kind, p.footprint, float(p.heading)) for p in planes_b),
        aircraft_after=tuple(TruthAircraft(p.id, p.kind, p.footprint, float(p.heading))
                             for p in sorted(planes_a, key=lambda p: p.id)),
        cloud=unary_union([cl.outline() for cl in clouds]) if clouds else empty,
        aeroways=tuple(aeroways),
        vehicles_moved=tuple(vehicles_moved),
        before_grid=before_grid,
        after_grid=after_grid,
        distortion=dist,
        meta=meta,
        decoys=tuple(TruthAircraft(q.id, q.kind, q.footprint, float(q.heading)) for q in decoy_planes),
        craters=tuple(Point(x, y).buffer(1.7 * r, 24) for x, y, r, _ in crater_list),
    )
    log.debug("synth seed %d (%s): %d aircraft, %d changes", seed, scenario, len(planes_b), len(changes))
    return SynthPair(scene(0, date_b, before_grid), scene(1, date_a, after_grid), truth)


def write_pair(pair: SynthPair, folder, *, prefix: str = "", compress: str = "auto") -> dict[str, Path]:
    """Write ``before.tif``, ``after.tif`` and ``truth.json`` into ``folder``.

    GeoTIFFs are tiled (256 x 256). ``compress='auto'`` uses JPEG (YCbCr, quality 90) for
    3-band 8-bit images and DEFLATE otherwise; 'jpeg' or 'deflate' force one. The
    acquisition time goes into ``TIFFTAG_DATETIME`` ('YYYY:MM:DD HH:MM:SS') and
    ``ACQUISITION_TIME`` (ISO 8601, UTC); pixels without data are 0 and masked out by an
    internal mask. Each file is written atomically. Returns the paths by role.
    """
    import rasterio

    from .io import atomic_path, label_bands, no_alpha, write_text

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for role, s in (("before", pair.before), ("after", pair.after)):
        p = out / f"{prefix}{role}.tif"
        jpeg = compress == "jpeg" or (compress == "auto" and s.pixels.dtype == np.uint8 and s.count == 3)
        profile = {"driver": "GTiff", "width": s.grid.width, "height": s.grid.height, "count": s.count,
                   "dtype": s.pixels.dtype.name, "crs": s.grid.crs, "transform": s.grid.transform,
                   "tiled": True, "blockxsize": 256, "blockysize": 256, **no_alpha(s.count)}
        if jpeg:
            profile.update(compress="JPEG", jpeg_quality=90)
            if s.count == 3:
                profile["photometric"] = "YCBCR"
        else:
            profile.update(compress="DEFLATE", predictor=2)
        px = np.where(s.valid[None], s.pixels, 0).astype(s.pixels.dtype)
        with atomic_path(p, suffix=".tif") as tmp:
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(px)
                if not s.valid.all():
                    dst.write_mask(s.valid.astype(np.uint8) * 255)
                dst.update_tags(ACQUISITION_TIME=s.acquired.isoformat().replace("+00:00", "Z"),
                                TIFFTAG_DATETIME=s.acquired.strftime("%Y:%m:%d %H:%M:%S"),
                                AIRDIFF_CREDIT=s.credit, **s.tags)
                label_bands(dst, s.band_names, s.count)
        paths[role] = p
    t = out / f"{prefix}truth.json"
    write_text(t, json.dumps(pair.truth.to_dict(), indent=1))
    paths["truth"] = t
    return paths
