"""Synthetic airfield pairs with exact ground truth.

The project's own source of demo imagery, test data and benchmark cases. A scene is a
small air base (grass and soil, a runway with markings, taxiways with centre lines, a
concrete apron with parking stands, buildings, vehicles) with aircraft of real sizes and
their shadows. Between the two dates aircraft are moved, burned, appear and disappear, and
the AFTER image carries nuisances: another sun and season, gain/gamma/haze, noise, JPEG,
partial cloud with its shadow, moved vehicles and a misregistration (offset, rotation,
scale and a smooth local warp), optionally another GSD and CRS.

Everything is drawn in ground coordinates (the BEFORE CRS, metres), so the truth is exact:
:meth:`Truth.after_px_to_before_px` maps AFTER-file pixels to BEFORE-file pixels.

>>> from airdiff.synth import make_pair
>>> pair = make_pair(seed=1, scenario="random", shape=(400, 400), nuisances="none")
>>> pair.before.shape, pair.after.shape
((400, 400), (400, 400))
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import shapely
from affine import Affine
from scipy import ndimage as ndi
from shapely import affinity
from shapely.geometry import Polygon, box, mapping
from shapely.ops import unary_union

from .grid import Grid
from .scene import Scene

__all__ = [
    "TruthAircraft",
    "TruthChange",
    "Truth",
    "SynthPair",
    "Distortion",
    "make_pair",
    "write_pair",
    "aircraft_outline",
    "AIRCRAFT_KINDS",
]

log = logging.getLogger(__name__)

CREDIT = "Synthetic imagery (airdiff.synth)"
#: (length m, span m, shadow height m) per kind
AIRCRAFT_KINDS = {"large": (47.0, 50.0, 6.0), "medium": (24.0, 29.0, 4.0), "small": (20.0, 14.0, 2.5)}
NUISANCES = frozenset({"sun", "season", "radiometry", "noise", "jpeg", "cloud", "vehicles"})


# --------------------------------------------------------------------------- truth types
@dataclass(frozen=True)
class TruthAircraft:
    id: int
    kind: str
    footprint: Polygon  # BEFORE map coords
    heading_deg: float  # nose direction, clockwise from north (grid up)


@dataclass(frozen=True)
class TruthChange:
    id: int
    cls: str  # 'moved' | 'burned' | 'appeared' | 'disappeared'
    kind: str
    before: Polygon | None
    after: Polygon | None
    surface: str | None = None
    from_surface: str | None = None


@dataclass(frozen=True, eq=False)
class Distortion:
    """True error of the AFTER georeference, in BEFORE map coordinates (metres).

    ``true = centre + scale * R(rotation) @ (nominal - centre) + offset + warp(nominal)``
    where ``nominal`` is where the AFTER file's stated georeference puts a pixel and ``true``
    is where that pixel really is on the ground. Rotation is counter-clockwise in map axes.
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
        dx = self.warp_m * np.sin(k * (x - self.centre[0]) * 0.8 + p[0]) * np.cos(k * (y - self.centre[1]) * 0.6 + p[1])
        dy = self.warp_m * np.cos(k * (x - self.centre[0]) * 0.7 + p[2]) * np.sin(k * (y - self.centre[1]) * 0.9 + p[3])
        return dx, dy

    def forward(self, x, y):
        """Nominal -> true ground coordinates."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        a = np.radians(self.rotation_deg)
        cx, cy = self.centre
        u, v = x - cx, y - cy
        wx, wy = self._warp(x, y)
        xt = cx + self.scale * (np.cos(a) * u - np.sin(a) * v) + self.offset_m[0] + wx
        yt = cy + self.scale * (np.sin(a) * u + np.cos(a) * v) + self.offset_m[1] + wy
        return xt, yt

    def inverse(self, xt, yt, *, iterations: int = 30):
        """True -> nominal ground coordinates (fixed-point on the small warp)."""
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
            if np.allclose(xn, x, atol=1e-10, rtol=0) and np.allclose(yn, y, atol=1e-10, rtol=0):
                x, y = xn, yn
                break
            x, y = xn, yn
        return x, y

    def to_dict(self) -> dict:
        return {"centre": list(self.centre), "offset_m": list(self.offset_m),
                "rotation_deg": self.rotation_deg, "scale": self.scale, "warp_m": self.warp_m,
                "warp_wavelength_m": self.warp_wavelength_m, "warp_phase": list(self.warp_phase)}


@dataclass(frozen=True, eq=False)
class Truth:
    """Exact ground truth of a synthetic pair (geometries in BEFORE map coordinates)."""

    changes: tuple[TruthChange, ...]
    aircraft_before: tuple[TruthAircraft, ...]
    aircraft_after: tuple[TruthAircraft, ...]
    cloud: object  # shapely geometry: cloud + its shadow, both dates
    aeroways: tuple[tuple[str, Polygon], ...]
    vehicles_moved: tuple[Polygon, ...]
    before_grid: Grid
    after_grid: Grid
    distortion: Distortion

    def _after_map_to_before_map(self, x, y):
        if self.after_grid.crs is not None and self.after_grid.crs != self.before_grid.crs:
            from pyproj import Transformer

            tr = Transformer.from_crs(self.after_grid.crs, self.before_grid.crs, always_xy=True)
            x, y = tr.transform(x, y)
        return np.asarray(x, float), np.asarray(y, float)

    def _before_map_to_after_map(self, x, y):
        if self.after_grid.crs is not None and self.after_grid.crs != self.before_grid.crs:
            from pyproj import Transformer

            tr = Transformer.from_crs(self.before_grid.crs, self.after_grid.crs, always_xy=True)
            x, y = tr.transform(x, y)
        return np.asarray(x, float), np.asarray(y, float)

    def after_px_to_before_px(self, cols, rows):
        """AFTER-file pixel corner coords -> BEFORE-file pixel corner coords (exact)."""
        t = self.after_grid.transform
        cols = np.asarray(cols, float)
        rows = np.asarray(rows, float)
        x, y = t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f
        x, y = self._after_map_to_before_map(x, y)
        x, y = self.distortion.forward(x, y)
        r, c = self.before_grid.rowcol(x, y)
        return c, r

    def before_px_to_after_px(self, cols, rows):
        """BEFORE-file pixel corner coords -> AFTER-file pixel corner coords (exact inverse)."""
        x, y = self.before_grid.xy(np.asarray(rows, float), np.asarray(cols, float), offset="ul")
        x, y = self.distortion.inverse(x, y)
        x, y = self._before_map_to_after_map(x, y)
        r, c = self.after_grid.rowcol(x, y)
        return c, r

    def to_dict(self) -> dict:
        def g(geom):
            return None if geom is None else mapping(geom)

        return {
            "crs": self.before_grid.crs.to_string() if self.before_grid.crs else None,
            "frame": "before map coordinates",
            "changes": [{"id": c.id, "cls": c.cls, "kind": c.kind, "before": g(c.before),
                         "after": g(c.after), "surface": c.surface, "from_surface": c.from_surface}
                        for c in self.changes],
            "aircraft_before": [{"id": a.id, "kind": a.kind, "heading_deg": a.heading_deg,
                                 "footprint": g(a.footprint)} for a in self.aircraft_before],
            "aircraft_after": [{"id": a.id, "kind": a.kind, "heading_deg": a.heading_deg,
                                "footprint": g(a.footprint)} for a in self.aircraft_after],
            "cloud": g(self.cloud) if not self.cloud.is_empty else None,
            "aeroways": [{"aeroway": k, "geometry": g(p)} for k, p in self.aeroways],
            "vehicles_moved": [g(p) for p in self.vehicles_moved],
            "distortion": self.distortion.to_dict(),
            "after_grid": {"transform": list(self.after_grid.transform)[:6],
                           "crs": self.after_grid.crs.to_string() if self.after_grid.crs else None,
                           "shape": list(self.after_grid.shape)},
        }


@dataclass(frozen=True, eq=False)
class SynthPair:
    before: Scene
    after: Scene
    truth: Truth


# --------------------------------------------------------------------------- shapes
def aircraft_outline(kind: str) -> Polygon:
    """Top-down silhouette in the aircraft frame: metres, nose towards +y, centred."""
    length, span, _ = AIRCRAFT_KINDS[kind]
    L, S = length / 2, span / 2
    if kind == "large":  # high swept wing, four engines, T-tail (Il-76-like)
        w = 2.4
        fus = Polygon([(0, L), (1.2, L - 1.5), (w, L - 5), (w, -L + 9), (1.0, -L + 1), (0, -L),
                       (-1.0, -L + 1), (-w, -L + 9), (-w, L - 5), (-1.2, L - 1.5)])
        wing = Polygon([(w, 4), (S, -6.5), (S, -9.0), (w, -5.5), (-w, -5.5), (-S, -9.0), (-S, -6.5), (-w, 4)])
        tail = Polygon([(0.5, -L + 6), (8.5, -L + 1.5), (8.5, -L), (0.5, -L + 2), (-0.5, -L + 2),
                        (-8.5, -L), (-8.5, -L + 1.5), (-0.5, -L + 6)])
        engines = [box(x - 0.9, y - 3.2, x + 0.9, y + 3.2) for x, y in
                   ((9.0, 2.0), (15.5, -0.8), (-9.0, 2.0), (-15.5, -0.8))]
        parts = [fus, wing, tail, *engines]
    elif kind == "medium":  # straight wing twin turboprop
        w = 1.5
        fus = Polygon([(0, L), (w, L - 3), (w, -L + 5), (0.4, -L), (-0.4, -L), (-w, -L + 5), (-w, L - 3)])
        wing = Polygon([(w, 3.0), (S, 0.8), (S, -1.0), (w, -1.6), (-w, -1.6), (-S, -1.0), (-S, 0.8), (-w, 3.0)])
        tail = Polygon([(0.4, -L + 4), (5.0, -L + 1.0), (5.0, -L), (-5.0, -L), (-5.0, -L + 1.0), (-0.4, -L + 4)])
        engines = [box(x - 0.7, 1.0, x + 0.7, 6.0) for x in (4.5, -4.5)]
        parts = [fus, wing, tail, *engines]
    else:  # 'small': swept-wing twin-tail fighter
        w = 1.0
        fus = Polygon([(0, L), (0.6, L - 3), (w, L - 7), (1.6, -L + 2), (0.5, -L), (-0.5, -L),
                       (-1.6, -L + 2), (-w, L - 7), (-0.6, L - 3)])
        wing = Polygon([(1.3, 1.5), (S, -4.5), (S, -6.0), (1.5, -5.0), (-1.5, -5.0), (-S, -6.0), (-S, -4.5), (-1.3, 1.5)])
        tail = Polygon([(1.5, -L + 5), (5.0, -L + 1), (5.0, -L), (-5.0, -L), (-5.0, -L + 1), (-1.5, -L + 5)])
        parts = [fus, wing, tail]
    return unary_union(parts)


def _place(shape: Polygon, x: float, y: float, heading_deg: float) -> Polygon:
    """Rotate a nose-up outline to ``heading_deg`` (clockwise from north) and move it to (x, y)."""
    return affinity.translate(affinity.rotate(shape, -heading_deg, origin=(0, 0)), x, y)


# --------------------------------------------------------------------------- layout
@dataclass
class _Plane:
    id: int
    kind: str
    x: float
    y: float
    heading: float
    paint: tuple[float, float, float]
    state: str = "intact"  # 'intact' | 'burned'
    seed: int = 0

    @property
    def footprint(self) -> Polygon:
        return _place(aircraft_outline(self.kind), self.x, self.y, self.heading)


@dataclass
class _World:
    x0: float
    y0: float
    width_m: float
    height_m: float
    runway: Polygon | None
    taxiways: list[Polygon]
    taxi_lines: list  # centre lines (LineString)
    apron: Polygon
    stands: list[tuple[float, float, float]]  # x, y, heading of each stand
    buildings: list[tuple[Polygon, float, tuple[float, float, float]]]  # outline, height m, roof colour
    runway_axis: tuple[float, float, float] | None  # y centre, x start, x end
    taxi_slots: list[tuple[float, float, float, str]] = field(default_factory=list)  # x, y, heading, surface


def _layout(rng, x0, y0, width_m, height_m, *, stand_kind_len: float, n_rows: int) -> _World:
    """Airfield geometry in BEFORE map coordinates (y grows north; (x0, y0) is the top-left)."""
    W, H = width_m, height_m

    def Y(frac):  # fraction from the top -> map y
        return y0 - frac * H

    has_runway = H >= 300
    apron_top, apron_bot = 0.10, (0.52 if has_runway else 0.62)
    apron = box(x0 + 0.08 * W, Y(apron_bot), x0 + 0.92 * W, Y(apron_top))
    taxi_y = Y(apron_bot) - 30.0
    taxiway_main = box(x0 - 50, taxi_y - 11.5, x0 + W + 50, taxi_y + 11.5)
    taxiways = [taxiway_main]
    taxi_lines = [shapely.LineString([(x0 - 50, taxi_y), (x0 + W + 50, taxi_y)])]
    runway = None
    runway_axis = None
    if has_runway:
        ry = min(taxi_y - 140.0, Y(0.80))
        runway = box(x0 - 100, ry - 22.5, x0 + W + 100, ry + 22.5)
        runway_axis = (ry, x0 + 40, x0 + W - 40)
        for fx in (0.2, 0.8):
            cx = x0 + fx * W
            taxiways.append(box(cx - 11.5, ry + 20, cx + 11.5, taxi_y))
            taxi_lines.append(shapely.LineString([(cx, ry + 20), (cx, taxi_y)]))
    for fx in (0.35, 0.65):  # apron links
        cx = x0 + fx * W
        taxiways.append(box(cx - 11.5, taxi_y, cx + 11.5, Y(apron_bot) + 1))
        taxi_lines.append(shapely.LineString([(cx, taxi_y), (cx, Y(apron_bot))]))

    # stands: rows along the apron, noses towards the taxiway (south)
    spacing = stand_kind_len * 1.25 + 6
    ax0, ax1 = x0 + 0.08 * W + spacing / 2 + 5, x0 + 0.92 * W - spacing / 2 - 5
    n_cols = max(1, int((ax1 - ax0) // spacing) + 1)
    row_h = (Y(apron_top) - Y(apron_bot)) / n_rows
    stands = []
    for r in range(n_rows):
        cy = Y(apron_top) - row_h * (r + 0.5)
        for c in range(n_cols):
            stands.append((ax0 + c * spacing, cy, 180.0))

    buildings = []
    for i in range(int(rng.integers(3, 7))):
        bw, bh = rng.uniform(25, 70), rng.uniform(15, 40)
        bx = x0 + rng.uniform(0.05, 0.95) * W
        by = Y(rng.uniform(0.01, 0.06)) if i % 2 == 0 else Y(rng.uniform(0.9, 0.97))
        if has_runway and i % 2 == 1 and by > Y(0.97) + 0 and by < runway_axis[0] + 60:
            by = Y(0.985)
        roof = tuple(np.clip(np.array([0.55, 0.55, 0.58]) + rng.normal(0, 0.08, 3), 0.2, 0.9))
        buildings.append((box(bx - bw / 2, by - bh / 2, bx + bw / 2, by + bh / 2), rng.uniform(5, 12), roof))

    # taxi slots for moved aircraft: along the main taxiway, the links, and the runway
    slots = []
    step = stand_kind_len + 18
    x = x0 + 40
    while x < x0 + W - 40:
        slots.append((x, taxi_y, 90.0 if rng.random() < 0.5 else 270.0, "taxiway"))
        x += step
    return _World(x0, y0, W, H, runway, taxiways, taxi_lines, apron, stands, buildings,
                  runway_axis, slots)


# --------------------------------------------------------------------------- rendering
class _Canvas:
    """One date's image: float32 RGB(+NIR) in reflectance-like units, on its pixel grid."""

    def __init__(self, grid: Grid, to_pixel, ground_xy, bands: int):
        self.grid = grid
        self.to_pixel = to_pixel  # (x, y) BEFORE map -> (col, row) corner coords in this image
        self.X, self.Y = ground_xy  # true BEFORE-map coords of every pixel centre
        self.img = np.zeros((bands, *grid.shape), np.float32)

    def coverage(self, geom, ss: int = 3) -> tuple[np.ndarray, tuple[slice, slice]] | None:
        """Fractional pixel coverage of ``geom`` (supersampled ``ss`` x ``ss``) in its bbox."""
        from skimage.draw import polygon as draw_polygon

        rows, cols = self.grid.shape
        polys = [geom] if geom.geom_type == "Polygon" else [g for g in getattr(geom, "geoms", []) if g.geom_type == "Polygon"]
        parts = []
        for p in polys:
            ext = np.asarray(p.exterior.coords)
            c, r = self.to_pixel(ext[:, 0], ext[:, 1])
            holes = []
            for h in p.interiors:
                hc = np.asarray(h.coords)
                holes.append(self.to_pixel(hc[:, 0], hc[:, 1]))
            parts.append((c, r, holes))
        if not parts:
            return None
        allc = np.concatenate([p[0] for p in parts])
        allr = np.concatenate([p[1] for p in parts])
        c0, c1 = max(int(np.floor(allc.min())) - 1, 0), min(int(np.ceil(allc.max())) + 1, cols)
        r0, r1 = max(int(np.floor(allr.min())) - 1, 0), min(int(np.ceil(allr.max())) + 1, rows)
        if c1 <= c0 or r1 <= r0:
            return None
        hi = np.zeros(((r1 - r0) * ss, (c1 - c0) * ss), bool)
        for c, r, holes in parts:
            rr, cc = draw_polygon((r - r0) * ss - 0.5, (c - c0) * ss - 0.5, hi.shape)
            hi[rr, cc] = True
            for hc, hr in holes:
                rr, cc = draw_polygon((hr - r0) * ss - 0.5, (hc - c0) * ss - 0.5, hi.shape)
                hi[rr, cc] = False
        cov = hi.reshape(r1 - r0, ss, c1 - c0, ss).mean(axis=(1, 3)).astype(np.float32)
        return cov, (slice(r0, r1), slice(c0, c1))

    def paint(self, geom, colour, *, alpha: float = 1.0, texture=None):
        cv = self.coverage(geom)
        if cv is None:
            return
        cov, win = cv
        a = cov * alpha
        col = np.asarray(colour, np.float32)[:, None, None]
        if col.shape[0] < self.img.shape[0]:
            col = np.concatenate([col, col[:1] * 0 + col.mean()])[: self.img.shape[0]]
        if texture is not None:
            col = col * texture[win][None]
        sub = self.img[(slice(None), *win)]
        self.img[(slice(None), *win)] = sub * (1 - a) + col[: sub.shape[0]] * a

    def darken(self, geom, factor: float):
        cv = self.coverage(geom)
        if cv is None:
            return
        cov, win = cv
        self.img[(slice(None), *win)] *= (1 - cov * (1 - factor))[None]


def _noise_field(rng, x0, y0, w, h, cell_m):
    """A smooth random field over the area, sampled later at ground coordinates."""
    ny, nx = int(h / cell_m) + 4, int(w / cell_m) + 4
    return {"grid": ndi.gaussian_filter(rng.standard_normal((ny, nx)), 1.0).astype(np.float32),
            "x0": x0 - 2 * cell_m, "y0": y0 + 2 * cell_m, "cell": cell_m}


def _sample(field_, X, Y):
    g = field_["grid"]
    c = (X - field_["x0"]) / field_["cell"]
    r = (field_["y0"] - Y) / field_["cell"]
    v = ndi.map_coordinates(g, [r.ravel(), c.ravel()], order=1, mode="reflect")
    return (v / (g.std() + 1e-6)).reshape(X.shape).astype(np.float32)


_SEASONS = {
    "summer": {"grass": (0.20, 0.30, 0.12, 0.55), "soil": (0.38, 0.33, 0.25, 0.35)},
    "autumn": {"grass": (0.36, 0.33, 0.20, 0.40), "soil": (0.42, 0.36, 0.27, 0.33)},
    "winter": {"grass": (0.40, 0.38, 0.30, 0.30), "soil": (0.44, 0.40, 0.33, 0.32)},
}
_CONCRETE = (0.62, 0.61, 0.58, 0.40)
_ASPHALT = (0.26, 0.26, 0.27, 0.22)


def _render(world: _World, planes, vehicles, canvas: _Canvas, *, rng_tex, fields, season,
            sun_az, sun_el, cloud=None, burned_extra=None):
    X, Y = canvas.X, canvas.Y
    nb = canvas.img.shape[0]
    s = _SEASONS[season]
    # ground: grass with soil patches, multi-scale texture
    n1, n2, n3 = (_sample(fields[k], X, Y) for k in ("coarse", "mid", "fine"))
    soil = np.clip((n1 - 0.6) * 1.5, 0, 1)
    tex = 1 + 0.10 * n2 + 0.06 * n3
    for b in range(nb):
        canvas.img[b] = ((1 - soil) * s["grass"][b] + soil * s["soil"][b]) * tex
    concrete_tex = (1 + 0.035 * n2 + 0.03 * n3)
    # paved surfaces
    canvas.paint(world.apron, _CONCRETE, texture=concrete_tex)
    for t in world.taxiways:
        canvas.paint(t, _ASPHALT, texture=concrete_tex)
    if world.runway is not None:
        canvas.paint(world.runway, _ASPHALT, texture=concrete_tex)
        ry, xa, xb = world.runway_axis
        white = (0.85, 0.85, 0.85, 0.5)
        x = xa
        while x < xb:  # centre-line dashes
            canvas.paint(box(x, ry - 0.45, x + 30, ry + 0.45), white)
            x += 50
        for side in (-1, 1):  # edge lines
            canvas.paint(box(xa - 60, ry + side * 21.5 - 0.5, xb + 60, ry + side * 21.5 + 0.5), white)
        for k in range(8):  # threshold piano keys at the west end
            yy = ry - 18 + k * 5.0
            canvas.paint(box(xa - 20, yy, xa + 10, yy + 1.8), white)
    yellow = (0.75, 0.62, 0.15, 0.45)
    for ln in world.taxi_lines:
        canvas.paint(ln.buffer(0.4, cap_style="flat"), yellow)
    # slab joints on the apron every 7.5 m
    minx, miny, maxx, maxy = world.apron.bounds
    joint = (0.5, 0.5, 0.48, 0.33)
    for x in np.arange(minx, maxx, 7.5):
        canvas.paint(box(x, miny, x + 0.3, maxy), joint, alpha=0.5)
    for y in np.arange(miny, maxy, 7.5):
        canvas.paint(box(minx, y, maxx, y + 0.3), joint, alpha=0.5)
    # stand markings: lead-in lines
    for sx, sy, _ in world.stands:
        canvas.paint(box(sx - 0.3, sy - 32, sx + 0.3, sy + 22), yellow, alpha=0.8)
        canvas.paint(box(sx - 5, sy + 20, sx + 5, sy + 20.6), yellow, alpha=0.8)
    # shadows: a vector away from the sun, length h / tan(elevation)
    az = np.radians(sun_az)
    unit = (-np.sin(az), -np.cos(az))  # shadow falls opposite the sun azimuth (clockwise from N)
    k = 1.0 / np.tan(np.radians(sun_el))
    for geom, h, roof in world.buildings:
        canvas.darken(affinity.translate(geom, unit[0] * h * k, unit[1] * h * k), 0.45)
        canvas.paint(geom, (*roof, 0.3), texture=1 + 0.02 * n3)
    # burned remains: scorch on the ground under and around the airframe
    for p in planes:
        if p.state == "burned":
            rng = np.random.default_rng(p.seed)
            L = AIRCRAFT_KINDS[p.kind][0]
            blob = shapely.Point(p.x, p.y).buffer(L * 0.62, quad_segs=16)
            pts = np.asarray(blob.exterior.coords)
            jitter = 1 + 0.25 * np.sin(np.linspace(0, 2 * np.pi, len(pts)) * rng.integers(3, 7) + rng.uniform(0, 6))
            pts = np.column_stack([p.x + (pts[:, 0] - p.x) * jitter, p.y + (pts[:, 1] - p.y) * jitter * 0.85])
            canvas.darken(Polygon(pts).buffer(0), 0.35)
            canvas.darken(shapely.Point(p.x, p.y).buffer(L * 0.42), 0.55)
    for geom in vehicles:
        h = 2.5
        canvas.darken(affinity.translate(geom, unit[0] * h * k, unit[1] * h * k), 0.5)
        canvas.paint(geom, (0.30, 0.34, 0.28, 0.3))
    for p in planes:
        L, S, h = AIRCRAFT_KINDS[p.kind]
        if p.state == "intact":
            fp = p.footprint
            canvas.darken(affinity.translate(fp, unit[0] * h * k, unit[1] * h * k), 0.42)
            canvas.paint(fp, (*p.paint, 0.55))
            # fuselage spine catches the light; engines and wing roots are darker
            spine = _place(box(-0.8, -L / 2 + 3, 0.8, L / 2 - 2.5), p.x, p.y, p.heading)
            canvas.paint(spine, tuple(min(1.0, c * 1.12) for c in p.paint) + (0.6,), alpha=0.7)
        else:
            rng = np.random.default_rng(p.seed)
            # remnant: the rear fuselage and wing stubs, charred
            keep = box(-S * rng.uniform(0.2, 0.35), -L / 2 + rng.uniform(0, 6), S * rng.uniform(0.2, 0.35), L / 2 - rng.uniform(6, 14))
            rem = aircraft_outline(p.kind).intersection(keep)
            rem = _place(rem, p.x, p.y, p.heading)
            canvas.paint(rem, (0.10, 0.095, 0.09, 0.08))
            for _ in range(25):  # debris
                dx, dy = rng.normal(0, L * 0.3, 2)
                r = rng.uniform(0.4, 1.2)
                col = (0.06, 0.06, 0.06, 0.05) if rng.random() < 0.7 else (0.55, 0.55, 0.55, 0.3)
                canvas.paint(shapely.Point(p.x + dx, p.y + dy).buffer(r, quad_segs=4), col)
    if cloud is not None:
        alpha, shadow = cloud
        a = alpha(X, Y)
        sh = shadow(X, Y)
        canvas.img *= (1 - 0.55 * sh)[None]
        for b in range(nb):
            canvas.img[b] = canvas.img[b] * (1 - a) + 0.92 * a


def _cloud_fields(rng, centre, radius_m, shift_xy):
    """Soft cloud alpha and its ground shadow as functions of ground (x, y)."""
    cx, cy = centre
    f = _noise_field(rng, cx - 2 * radius_m, cy + 2 * radius_m, 4 * radius_m, 4 * radius_m, radius_m / 6)

    def density(X, Y):
        d = np.hypot(X - cx, Y - cy) / radius_m
        n = _sample(f, X, Y)
        return np.clip((1.15 - d + 0.28 * n) * 3.0, 0, 1).astype(np.float32)

    def shadow(X, Y):
        return density(X - shift_xy[0], Y - shift_xy[1])

    return density, shadow


def _cloud_polygon(density, shadow, world, res=2.0):
    xs = np.arange(world.x0, world.x0 + world.width_m, res)
    ys = np.arange(world.y0, world.y0 - world.height_m, -res)
    X, Y = np.meshgrid(xs, ys)
    m = (density(X, Y) > 0.15) | (shadow(X, Y) > 0.15)
    from skimage.measure import find_contours

    polys = []
    for c in find_contours(np.pad(m, 1).astype(float), 0.5):
        r, cc = c[:, 0] - 1, c[:, 1] - 1
        if len(c) >= 4:
            p = Polygon(np.column_stack([world.x0 + cc * res, world.y0 - r * res])).buffer(0)
            if p.area > 4 * res * res:
                polys.append(p)
    return unary_union(polys) if polys else shapely.GeometryCollection()


# --------------------------------------------------------------------------- scenarios
_MISREG = {
    "none": dict(offset_m=0.0, rotation_deg=0.0, scale=0.0, warp_px=0.0),
    "small": dict(offset_m=3.0, rotation_deg=0.2, scale=0.003, warp_px=0.3),
    "moderate": dict(offset_m=40.0, rotation_deg=2.0, scale=0.02, warp_px=1.0),
    "large": dict(offset_m=100.0, rotation_deg=4.0, scale=0.045, warp_px=1.5),
}


def _distortion(rng, spec, centre, gsd) -> Distortion:
    if isinstance(spec, dict):
        off = spec.get("offset_m", (0.0, 0.0))
        if np.isscalar(off):
            ang = rng.uniform(0, 2 * np.pi)
            off = (off * np.cos(ang), off * np.sin(ang))
        return Distortion(centre=centre, offset_m=tuple(map(float, off)),
                          rotation_deg=float(spec.get("rotation_deg", 0.0)),
                          scale=float(spec.get("scale", 1.0)),
                          warp_m=float(spec.get("warp_px", 0.0)) * gsd,
                          warp_phase=tuple(rng.uniform(0, 2 * np.pi, 4)))
    if spec not in _MISREG:
        raise ValueError(f"misregistration must be one of {sorted(_MISREG)} or a dict, got {spec!r}")
    p = _MISREG[spec]
    mag = rng.uniform(0.5, 1.0) * p["offset_m"]
    ang = rng.uniform(0, 2 * np.pi)
    return Distortion(
        centre=centre,
        offset_m=(float(mag * np.cos(ang)), float(mag * np.sin(ang))),
        rotation_deg=float(rng.uniform(-1, 1) * p["rotation_deg"]),
        scale=float(1 + rng.uniform(-1, 1) * p["scale"]),
        warp_m=float(p["warp_px"] * gsd),
        warp_phase=tuple(rng.uniform(0, 2 * np.pi, 4)),
    )


def _parse_nuisances(n) -> frozenset:
    if n in ("all", None):
        return NUISANCES
    if n == "none":
        return frozenset()
    n = frozenset(n)
    bad = n - NUISANCES
    if bad:
        raise ValueError(f"unknown nuisances {sorted(bad)}; choose from {sorted(NUISANCES)}")
    return n


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
) -> SynthPair:
    """Make a synthetic before/after pair of an air base with exact truth.

    Parameters
    ----------
    seed : int
        Everything random derives from it.
    scenario : {'random', 'strike', 'static'}
        'strike' models a reported case: about 18 large transports on an apron; 2 burn on
        their stands, 11 move onto taxiways (one onto the runway); a cloud in the AFTER image
        covers an unchanged aircraft. 'random' draws the layout, aircraft kinds and 0-4 changes
        of each class. 'static' has no aircraft change at all (only nuisances).
    shape : (rows, cols), optional
        BEFORE size in pixels (default: strike 1800 x 2400, otherwise 1000 x 1000).
    gsd, after_gsd : float
        Ground sample distance (m) of BEFORE and AFTER (AFTER defaults to ``gsd``).
    after_crs : str, optional
        CRS of the AFTER file (default: the BEFORE CRS, a UTM zone).
    misregistration : {'none', 'small', 'moderate', 'large'} or dict
        Error of the AFTER georeference; a dict gives ``offset_m`` (scalar or (dx, dy)),
        ``rotation_deg``, ``scale`` and ``warp_px``.
    nuisances : 'all', 'none' or a set of
        {'sun', 'season', 'radiometry', 'noise', 'jpeg', 'cloud', 'vehicles'}.
    n_aircraft : int, optional
        Parked aircraft in BEFORE (default: from the apron size).
    bands : {1, 3, 4}
        Grey, RGB or RGB + near-infrared.
    dtype : {'uint8', 'uint16'}
    """
    if scenario not in ("random", "strike", "static"):
        raise ValueError(f"scenario must be 'random', 'strike' or 'static', got {scenario!r}")
    if bands not in (1, 3, 4):
        raise ValueError("bands must be 1, 3 or 4")
    rng = np.random.default_rng(seed)
    nz = _parse_nuisances(nuisances)
    if shape is None:
        shape = (1800, 2400) if scenario == "strike" else (1000, 1000)
    rows, cols = shape
    crs = "EPSG:32637"
    x0, y0 = 420_000.0 + rng.integers(0, 20) * 1000.0, 5_390_000.0 + rng.integers(0, 20) * 1000.0
    W, H = cols * gsd, rows * gsd
    before_grid = Grid((rows, cols), Affine(gsd, 0, x0, 0, -gsd, y0), crs)

    # --- layout and aircraft
    if scenario == "strike":
        kinds_pool = ["large"]
        n_rows = 2
    else:
        kinds_pool = list(rng.choice(["large", "medium", "small"], size=rng.integers(1, 3), replace=False))
        n_rows = 2 if H > 500 else 1
    stand_len = max(AIRCRAFT_KINDS[k][1] for k in kinds_pool)
    world = _layout(rng, x0, y0, W, H, stand_kind_len=stand_len, n_rows=n_rows)
    n_stands = len(world.stands)
    if n_aircraft is None:
        n_aircraft = min(n_stands, 18) if scenario == "strike" else (int(rng.integers(max(1, n_stands // 2), n_stands + 1)) if n_stands else 0)
    n_aircraft = min(n_aircraft, n_stands)
    order = rng.permutation(n_stands)
    occupied = sorted(order[:n_aircraft].tolist())
    free = sorted(order[n_aircraft:].tolist())
    paints = [(0.78, 0.79, 0.80), (0.86, 0.86, 0.85), (0.70, 0.72, 0.70), (0.36, 0.40, 0.37), (0.30, 0.32, 0.34)]
    planes_b = []
    for i, si in enumerate(occupied):
        sx, sy, hd = world.stands[si]
        kind = str(rng.choice(kinds_pool))
        paint = paints[int(rng.integers(0, 3))] if scenario == "strike" else paints[int(rng.integers(0, len(paints)))]
        planes_b.append(_Plane(i + 1, kind, sx, sy, hd, paint, seed=int(rng.integers(1 << 30))))

    # --- changes
    idx = list(range(len(planes_b)))
    rng.shuffle(idx)
    if scenario == "strike":
        n_burn, n_move, n_app, n_dis = 2, 11, 0, 0
    elif scenario == "static":
        n_burn = n_move = n_app = n_dis = 0
    else:
        n_burn, n_move, n_dis = (int(rng.integers(0, 5)) for _ in range(3))
        n_app = int(rng.integers(0, 5))
    budget = len(idx)
    n_burn = min(n_burn, budget)
    n_move = min(n_move, budget - n_burn, len(world.taxi_slots) + (1 if world.runway is not None else 0))
    n_dis = min(n_dis, budget - n_burn - n_move)
    # a cloud in the AFTER image over an unchanged parked aircraft (needs one left over)
    want_cloud = "cloud" in nz and scenario != "static"
    reserve_cloud = 1 if want_cloud and budget - n_burn - n_move - n_dis >= 1 else 0
    if want_cloud and not reserve_cloud and n_dis > 0:
        n_dis -= 1
        reserve_cloud = 1
    n_app = min(n_app, len(free))
    burn_ids = idx[:n_burn]
    move_ids = idx[n_burn:n_burn + n_move]
    dis_ids = idx[n_burn + n_move:n_burn + n_move + n_dis]
    static_ids = idx[n_burn + n_move + n_dis:]

    planes_a = []
    changes = []
    cid = 0

    def surface_of(poly):
        if world.runway is not None and world.runway.intersection(poly).area > 0.3 * poly.area:
            return "runway"
        if any(t.intersection(poly).area > 0.3 * poly.area for t in world.taxiways):
            return "taxiway"
        if world.apron.intersection(poly).area > 0.3 * poly.area:
            return "stand"
        return "grass"

    for i in burn_ids:
        p = planes_b[i]
        q = _Plane(p.id, p.kind, p.x, p.y, p.heading, p.paint, state="burned", seed=p.seed)
        planes_a.append(q)
        cid += 1
        changes.append(TruthChange(cid, "burned", p.kind, p.footprint, q.footprint, "stand", "stand"))
    slots = list(world.taxi_slots)
    rng.shuffle(slots)
    on_runway = scenario == "strike" or (world.runway is not None and rng.random() < 0.4)
    for n, i in enumerate(move_ids):
        p = planes_b[i]
        if n == 0 and on_runway and world.runway is not None:
            ry, xa, xb = world.runway_axis
            x, y, hd, surf = rng.uniform(xa + 60, xb - 60), ry, float(rng.choice([90.0, 270.0])), "runway"
        else:
            # keep moved aircraft apart on the taxiway
            while slots:
                x, y, hd, surf = slots.pop()
                cand = _place(aircraft_outline(p.kind), x, y, hd)
                if all(cand.distance(q.footprint) > 4 for q in planes_a if q.state == "intact"):
                    break
            else:
                continue
        q = _Plane(p.id, p.kind, x, y, hd, p.paint, seed=p.seed)
        planes_a.append(q)
        cid += 1
        changes.append(TruthChange(cid, "moved", p.kind, p.footprint, q.footprint,
                                   surface_of(q.footprint), "stand"))
    for i in dis_ids:
        p = planes_b[i]
        cid += 1
        changes.append(TruthChange(cid, "disappeared", p.kind, p.footprint, None, None, "stand"))
    for i in static_ids:
        planes_a.append(planes_b[i])
    for k in range(n_app):
        sx, sy, hd = world.stands[free[k]]
        kind = str(rng.choice(kinds_pool))
        q = _Plane(100 + k, kind, sx, sy, hd, paints[int(rng.integers(0, len(paints)))],
                   seed=int(rng.integers(1 << 30)))
        planes_a.append(q)
        cid += 1
        changes.append(TruthChange(cid, "appeared", kind, None, q.footprint, "stand", None))

    # --- vehicles (some move)
    vehicles_b, vehicles_a, vehicles_moved = [], [], []
    if "vehicles" in nz or scenario == "static":
        minx, miny, maxx, maxy = world.apron.bounds
        for _ in range(int(rng.integers(6, 14))):
            L_, W_ = rng.uniform(4, 10), rng.uniform(2, 3)
            for _try in range(20):
                vx, vy = rng.uniform(minx + 5, maxx - 5), rng.uniform(miny + 5, maxy - 5)
                v = _place(box(-W_ / 2, -L_ / 2, W_ / 2, L_ / 2), vx, vy, float(rng.choice([0.0, 90.0])))
                if all(v.distance(p.footprint) > 3 for p in planes_b + planes_a):
                    break
            else:
                continue
            vehicles_b.append(v)
            if "vehicles" in nz and rng.random() < 0.6:
                w2 = affinity.translate(v, rng.uniform(-30, 30), rng.uniform(-30, 30))
                if all(w2.distance(p.footprint) > 3 for p in planes_b + planes_a) and world.apron.contains(w2):
                    vehicles_a.append(w2)
                    vehicles_moved.append(v)
                    vehicles_moved.append(w2)
                    continue
            vehicles_a.append(v)

    # --- the AFTER sensor
    agsd = after_gsd or gsd
    centre = (x0 + W / 2, y0 - H / 2)
    dist = _distortion(rng, misregistration, centre, gsd)
    a_crs = after_crs or crs
    # nominal AFTER grid: covers the BEFORE area (plus a margin) at its own GSD, in its CRS
    if a_crs != crs:
        from pyproj import Transformer

        tr = Transformer.from_crs(crs, a_crs, always_xy=True)
        cxs, cys = tr.transform([x0, x0 + W, x0 + W, x0], [y0, y0, y0 - H, y0 - H])
        # keep a metric pixel size at the scene (EPSG:3857 stretches by 1/cos(lat))
        k = 1.0
        if "3857" in a_crs:
            from pyproj import Geod  # noqa: F401  (scale from the transform itself)

            xa, ya = tr.transform([centre[0], centre[0] + 100.0], [centre[1], centre[1]])
            k = float(np.hypot(xa[1] - xa[0], ya[1] - ya[0]) / 100.0)
        ax0, ay0 = min(cxs), max(cys)
        span_x, span_y = max(cxs) - min(cxs), max(cys) - min(cys)
        apx = agsd * k
        after_grid = Grid((int(round(span_y / apx)), int(round(span_x / apx))), Affine(apx, 0, ax0, 0, -apx, ay0), a_crs)
    else:
        after_grid = Grid((int(round(H / agsd)), int(round(W / agsd))), Affine(agsd, 0, x0, 0, -agsd, y0), crs)

    truth_geo = Truth((), (), (), shapely.GeometryCollection(), (), (), before_grid, after_grid, dist)

    def before_to_pixel(x, y):
        r, c = before_grid.rowcol(x, y)
        return c, r

    def after_to_pixel(x, y):
        bc, br = before_to_pixel(np.asarray(x, float), np.asarray(y, float))
        return truth_geo.before_px_to_after_px(bc, br)

    br_, bc_ = np.mgrid[0:rows, 0:cols].astype(np.float64)
    bX, bY = before_grid.xy(br_, bc_)
    ar_, ac_ = np.mgrid[0:after_grid.height, 0:after_grid.width].astype(np.float64)
    acol, arow = truth_geo.after_px_to_before_px(ac_ + 0.5, ar_ + 0.5)
    aX, aY = before_grid.xy(arow - 0.5, acol - 0.5)
    del br_, bc_, ar_, ac_, acol, arow

    # --- dates, sun, season
    t_before = datetime(2025, 8, 14, 8, 41, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 200)))
    t_after = t_before + timedelta(days=int(rng.integers(2, 40)), minutes=int(rng.integers(-120, 120)))
    sun_b = (rng.uniform(130, 160), rng.uniform(45, 60))
    sun_a = (rng.uniform(190, 230), rng.uniform(28, 40)) if "sun" in nz else sun_b
    season_b = "summer"
    season_a = "autumn" if "season" in nz else "summer"

    fields = {"coarse": _noise_field(rng, x0 - 300, y0 + 300, W + 600, H + 600, 40.0),
              "mid": _noise_field(rng, x0 - 300, y0 + 300, W + 600, H + 600, 6.0),
              "fine": _noise_field(rng, x0 - 300, y0 + 300, W + 600, H + 600, 1.2)}
    rgbn = 4 if bands == 4 else 3
    cb = _Canvas(before_grid, before_to_pixel, (bX, bY), rgbn)
    _render(world, planes_b, vehicles_b, cb, rng_tex=rng, fields=fields, season=season_b,
            sun_az=sun_b[0], sun_el=sun_b[1])
    cloud_geom = shapely.GeometryCollection()
    cloud = None
    if want_cloud and reserve_cloud and static_ids:
        # the cloud sits on the unchanged aircraft farthest from any change, so that what
        # it hides is "cannot assess", never a change the truth expects to be seen
        changed_geoms = [g for c in changes for g in (c.before, c.after) if g is not None]

        def clearance(i):
            fp = planes_b[i].footprint
            return min((fp.distance(g) for g in changed_geoms), default=1e9)

        best = max(static_ids, key=clearance)
        target = planes_b[best]
        L_t = AIRCRAFT_KINDS[target.kind][0]
        radius = float(np.clip(0.45 * (clearance(best) + L_t), 0.6 * L_t, 1.2 * L_t))
        az = np.radians(sun_a[0])
        shift = (-np.sin(az) * radius * 1.2, -np.cos(az) * radius * 1.2)
        dens, shad = _cloud_fields(rng, (target.x, target.y), radius, shift)
        cloud = (dens, shad)
        cloud_geom = _cloud_polygon(dens, shad, world)
    ca = _Canvas(after_grid, after_to_pixel, (aX, aY), rgbn)
    _render(world, planes_a, vehicles_a, ca, rng_tex=rng, fields=fields, season=season_a,
            sun_az=sun_a[0], sun_el=sun_a[1], cloud=cloud)
    del bX, bY, aX, aY

    # --- sensors: PSF, radiometry, noise, quantisation, JPEG
    def sensor(img, *, after: bool, rng_s):
        img = ndi.gaussian_filter(img, (0, 0.6, 0.6))
        if after and "radiometry" in nz:
            gain = rng_s.uniform(0.85, 1.15) * rng_s.uniform(0.95, 1.05, img.shape[0])[:, None, None]
            gamma = rng_s.uniform(0.85, 1.15)
            haze = rng_s.uniform(0.02, 0.08)
            img = np.clip(img * gain, 0, None) ** gamma * (1 - haze) + haze
        if "noise" in nz:
            img = img + rng_s.normal(0, 0.008, img.shape).astype(np.float32)
        img = np.clip(img, 0, 1)
        if bands == 1:
            img = img[:3].mean(0, keepdims=True)
        top = 255 if dtype == "uint8" else 2047
        out = np.round(img * top).astype(np.uint8 if dtype == "uint8" else np.uint16)
        if "jpeg" in nz and dtype == "uint8" and out.shape[0] in (1, 3):
            import imageio.v3 as iio

            q = int(rng_s.integers(75, 92))
            arr = out[0] if out.shape[0] == 1 else np.moveaxis(out, 0, -1)
            buf = iio.imwrite("<bytes>", arr, extension=".jpg", quality=q)
            dec = iio.imread(buf)
            out = dec[None] if dec.ndim == 2 else np.moveaxis(dec, -1, 0)
        return np.ascontiguousarray(out)

    rs = np.random.default_rng(seed + 7919)
    px_b = sensor(cb.img, after=False, rng_s=rs)
    px_a = sensor(ca.img, after=True, rng_s=rs)
    names = {1: ("gray",), 3: ("red", "green", "blue"), 4: ("red", "green", "blue", "nir")}[bands]
    # AFTER pixels whose true ground position lies off the generated world have no data
    ac, ar = truth_geo.after_px_to_before_px(
        *np.meshgrid(np.arange(after_grid.width) + 0.5, np.arange(after_grid.height) + 0.5))
    valid_a = (ac >= 0) & (ar >= 0) & (ac <= cols) & (ar <= rows)
    px_a = np.where(valid_a[None], px_a, 0).astype(px_b.dtype)

    before = Scene(px_b, before_grid, acquired=t_before, name="before", credit=CREDIT,
                   band_names=names)
    after = Scene(px_a, after_grid, valid=valid_a, acquired=t_after, name="after", credit=CREDIT,
                  band_names=names)
    aeroways = [("apron", world.apron)] + [("taxiway", t) for t in world.taxiways]
    if world.runway is not None:
        aeroways.insert(0, ("runway", world.runway))
    aeroways += [("stand", _place(box(-stand_len * 0.55, -stand_len * 0.55, stand_len * 0.55, stand_len * 0.55), sx, sy, 0))
                 for sx, sy, _ in world.stands]

    def ta(p):
        return TruthAircraft(p.id, p.kind, p.footprint, p.heading)

    truth = Truth(
        changes=tuple(changes),
        aircraft_before=tuple(ta(p) for p in planes_b),
        aircraft_after=tuple(ta(p) for p in planes_a if p.state == "intact"),
        cloud=cloud_geom,
        aeroways=tuple(aeroways),
        vehicles_moved=tuple(vehicles_moved),
        before_grid=before_grid,
        after_grid=after_grid,
        distortion=dist,
    )
    log.debug("synth seed %d: %d changes", seed, len(changes))
    return SynthPair(before, after, truth)


def write_pair(pair: SynthPair, folder, *, prefix: str = "") -> dict[str, Path]:
    """Write ``before.tif``, ``after.tif`` (tiled GeoTIFF, acquisition time in the tags) and
    ``truth.json`` into ``folder`` (created if missing). Returns the paths by role."""
    from .io import write_geotiff, write_text

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for role, s in (("before", pair.before), ("after", pair.after)):
        p = out / f"{prefix}{role}.tif"
        tags = {"ACQUISITION_TIME": s.acquired.isoformat().replace("+00:00", "Z"),
                "TIFFTAG_DATETIME": s.acquired.strftime("%Y:%m:%d %H:%M:%S"),
                "AIRDIFF_CREDIT": s.credit}
        jpeg = s.pixels.dtype == np.uint8 and s.count in (1, 3)
        write_geotiff(p, s.pixels, s.grid, valid=None if s.valid.all() else s.valid, tags=tags,
                      band_names=s.band_names, cog=False,
                      compress="jpeg" if jpeg else "deflate")
        paths[role] = p
    t = out / f"{prefix}truth.json"
    write_text(t, json.dumps(pair.truth.to_dict(), indent=1))
    paths["truth"] = t
    return paths
