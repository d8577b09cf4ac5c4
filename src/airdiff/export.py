"""GIS and provenance outputs: GeoJSON (RFC 7946), CSV, GeoPackage, report JSON.

Functions here build documents in memory (dicts, strings, bytes); :mod:`airdiff.io`
writes them. The GeoPackage writer is the exception only in that it needs a path for
the OGR driver: it writes through :func:`airdiff.io.atomic_path`.
"""

from __future__ import annotations

import csv
import io as _io
import logging
import platform
from datetime import UTC, datetime

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from .grid import Grid
from .objects.model import CHANGE_CLASSES, Change

__all__ = [
    "changes_to_geojson",
    "changes_from_geojson",
    "changes_to_csv",
    "gpkg_layers",
    "aeroways_from_geojson",
    "report",
]

log = logging.getLogger(__name__)

_DECIMALS_LONLAT = 7
_DECIMALS_PX = 2


def _map_xy(geom: BaseGeometry, f) -> BaseGeometry:
    """Apply ``f(x, y) -> (x', y')`` (vectorised) to every coordinate of ``geom``."""

    def g(coords):
        x, y = f(coords[:, 0], coords[:, 1])
        return np.column_stack([np.asarray(x, float), np.asarray(y, float)])

    return shapely.transform(geom, g)


def _to_output_frame(geom: BaseGeometry, grid: Grid) -> BaseGeometry:
    """Map geometry (grid map coords) -> lon/lat, or BEFORE pixel (col, row) in the pixel frame."""
    if grid.crs is None:
        return _map_xy(geom, lambda x, y: grid.rowcol(x, y)[::-1])
    return _map_xy(geom, grid.to_lonlat)


def _from_output_frame(geom: BaseGeometry, grid: Grid, pixel: bool) -> BaseGeometry:
    if pixel or grid.crs is None:
        t = grid.transform
        return _map_xy(geom, lambda c, r: (t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f))
    return _map_xy(geom, grid.from_lonlat)


def _rfc7946(geom: BaseGeometry, decimals: int) -> dict:
    """GeoJSON geometry with rounded coordinates and counter-clockwise exteriors (RFC 7946 §3.1.6)."""
    from shapely.geometry.polygon import orient

    if decimals:
        geom = shapely.set_precision(geom, 10.0**-decimals)  # may re-orient rings: orient last
    if geom.geom_type == "Polygon":
        geom = orient(geom, 1.0)
    elif geom.geom_type == "MultiPolygon":
        geom = shapely.MultiPolygon([orient(g, 1.0) for g in geom.geoms])
    return mapping(geom)


def changes_to_geojson(changes, grid: Grid, *, extra: dict | None = None) -> dict:
    """FeatureCollection of changes per the CLI contract.

    Georeferenced grids give WGS84 lon/lat (RFC 7946). Pixel-frame grids give BEFORE pixel
    coordinates (x = column, y = row, origin at the top-left corner) and a top-level
    ``"frame": "pixel"`` member. ``area_m2`` and ``displacement_m`` are in metres either way.
    """
    pixel = grid.crs is None
    dec = _DECIMALS_PX if pixel else _DECIMALS_LONLAT
    mpu = grid.metres_per_unit
    feats = []
    for ch in changes:
        g = _to_output_frame(ch.geometry, grid)
        props = {
            "id": int(ch.id),
            "class": ch.cls,
            "score": round(float(ch.score), 3),
            "area_m2": round(float(ch.geometry.area) * mpu * mpu, 1),
        }
        if ch.from_geometry is not None:
            fc = _to_output_frame(ch.from_geometry.centroid, grid)
            props["from"] = [round(fc.x, dec), round(fc.y, dec)]
            d = ch.displacement()
            props["displacement_m"] = round(float(d) * mpu, 2) if d is not None else None
            props["from_alternatives"] = int(ch.from_alternatives)
        if ch.surface is not None:
            props["surface"] = ch.surface
        if ch.from_surface is not None:
            props["from_surface"] = ch.from_surface
        if ch.size_class:
            props["size_class"] = ch.size_class
        if ch.length_m is not None and np.isfinite(ch.length_m):
            props["length_m"] = round(float(ch.length_m), 1)
        if ch.note:
            props["note"] = ch.note
        if ch.possible_decoy:
            props["possible_decoy"] = True
        feats.append({"type": "Feature", "id": int(ch.id), "geometry": _rfc7946(g, dec),
                      "properties": props})
    fc = {"type": "FeatureCollection"}
    if pixel:
        fc["frame"] = "pixel"
    fc["features"] = feats
    if extra:
        fc.update(extra)
    return fc


def changes_from_geojson(data: dict, grid: Grid) -> list[Change]:
    """Changes back from a GeoJSON dict written by :func:`changes_to_geojson` (or by hand)."""
    pixel = data.get("frame") == "pixel"
    if pixel and grid.crs is not None:
        log.info("pixel-frame changes are read in the BEFORE image's pixel coordinates")
    out = []
    for i, f in enumerate(data.get("features", []), start=1):
        props = f.get("properties") or {}
        cls = props.get("class", "changed")
        if cls not in CHANGE_CLASSES:
            cls = "changed"
        geom = _from_output_frame(shape(f["geometry"]), grid, pixel)
        from_geom = None
        if "from" in props and props["from"] is not None:
            from shapely.geometry import Point

            fp = _from_output_frame(Point(*props["from"]), grid, pixel)
            # a moved object's old footprint: same shape, translated to the old centroid
            c = geom.centroid
            from_geom = shapely.affinity.translate(geom, fp.x - c.x, fp.y - c.y)
        out.append(Change(
            id=int(props.get("id", i)), cls=cls, score=float(props.get("score", 1.0)),
            geometry=geom, from_geometry=from_geom, surface=props.get("surface"),
            from_surface=props.get("from_surface"), size_class=props.get("size_class"),
            length_m=props.get("length_m"), note=props.get("note", ""),
            from_alternatives=int(props.get("from_alternatives") or 0),
            possible_decoy=bool(props.get("possible_decoy", False)),
        ))
    return out


_CSV_FIELDS = ["id", "class", "score", "x", "y", "lon", "lat", "area_m2", "surface",
               "from_x", "from_y", "from_surface", "displacement_m", "size_class", "length_m",
               "from_alternatives", "note", "possible_decoy"]


def changes_to_csv(changes, grid: Grid) -> str:
    """One row per change: centroid in map units (and lon/lat when georeferenced)."""
    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=_CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    mpu = grid.metres_per_unit
    for ch in changes:
        x, y = ch.centroid
        row = {"id": ch.id, "class": ch.cls, "score": round(ch.score, 3),
               "x": round(x, 3), "y": round(y, 3),
               "area_m2": round(ch.geometry.area * mpu * mpu, 1),
               "surface": ch.surface or "", "from_surface": ch.from_surface or "",
               "size_class": ch.size_class or "",
               "length_m": "" if ch.length_m is None else round(ch.length_m, 1),
               "note": ch.note, "possible_decoy": int(ch.possible_decoy)}
        if grid.crs is not None:
            lon, lat = grid.to_lonlat([x], [y])
            row["lon"], row["lat"] = round(float(lon[0]), 7), round(float(lat[0]), 7)
        fc = ch.from_centroid
        if fc is not None:
            row["from_x"], row["from_y"] = round(fc[0], 3), round(fc[1], 3)
            row["displacement_m"] = round(ch.displacement() * mpu, 2)
            row["from_alternatives"] = int(ch.from_alternatives)
        w.writerow(row)
    return buf.getvalue()


def gpkg_layers(comparison) -> list[dict]:
    """Vector layers for a GeoPackage, in the native CRS of the BEFORE grid.

    Returns a list of dicts with ``layer``, ``geometry`` (WKB array), ``fields`` (name ->
    array) and ``geometry_type``: ``changes`` and ``obscured`` (MultiPolygon) and
    ``tie_points`` (Point, with residual and inlier flag).
    """
    grid = comparison.grid
    mpu = grid.metres_per_unit
    reg = comparison.registration
    layers = []
    for name, items in (("changes", [c for c in comparison.changes if c.cls != "obscured"]),
                        ("obscured", [c for c in comparison.changes if c.cls == "obscured"])):
        layers.append({
            "layer": name,
            "geometry_type": "MultiPolygon",
            "geometry": np.array([shapely.to_wkb(_multi(c.geometry)) for c in items], dtype=object),
            "fields": {
                "change_id": np.array([c.id for c in items], dtype=np.int32),
                "class": np.array([c.cls for c in items], dtype=object),
                "score": np.array([c.score for c in items], dtype=np.float64),
                "surface": np.array([c.surface or "" for c in items], dtype=object),
                "from_surface": np.array([c.from_surface or "" for c in items], dtype=object),
                "displacement_m": np.array([(c.displacement() or 0.0) * mpu for c in items],
                                           dtype=np.float64),
                "from_alternatives": np.array([c.from_alternatives for c in items], dtype=np.int32),
                "note": np.array([c.note for c in items], dtype=object),
                "possible_decoy": np.array([c.possible_decoy for c in items], dtype=np.int32),
            },
        })
    tp = np.asarray(reg.tie_points).reshape(-1, 4)
    n = len(tp)
    pts = [shapely.to_wkb(shapely.Point(*(grid.transform @ (bc, br)))) for bc, br, _, _ in tp]
    res = reg.residuals_px if len(reg.residuals_px) == n else np.full(n, np.nan)
    inl = reg.inliers if len(reg.inliers) == n else np.zeros(n, bool)
    layers.append({
        "layer": "tie_points",
        "geometry_type": "Point",
        "geometry": np.array(pts, dtype=object),
        "fields": {"residual_px": np.asarray(res, dtype=np.float64),
                   "inlier": np.asarray(inl, dtype=np.int32)},
    })
    return layers


def _multi(g: BaseGeometry) -> BaseGeometry:
    if g.geom_type == "Polygon":
        return shapely.MultiPolygon([g])
    if g.geom_type == "MultiPolygon":
        return g
    polys = [p for p in getattr(g, "geoms", []) if p.geom_type == "Polygon"]
    return shapely.MultiPolygon(polys) if polys else shapely.MultiPolygon([g.buffer(0.5)])


def versions() -> dict:
    """The versions of Python and of the libraries whose numerics shape the results.

    A result can move by an object between releases of these (a resampling kernel, a rank
    filter's rounding), and between machines: numpy picks its vectorised math by the CPU's
    instruction set (``numpy-simd``, the highest one in use), whose last bits differ. So the
    report and the benchmarks record them.
    """
    import matplotlib
    import rasterio
    import scipy
    import skimage

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "scikit-image": skimage.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
        "shapely": shapely.__version__,
        "numpy-simd": _numpy_simd(),
    }


def numpy_dispatch_targets() -> list[str] | None:
    """The instruction sets numpy dispatches its vectorised loops to on this CPU, lowest
    first (``[]``: its baseline only; None: a numpy whose layout this does not know)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        try:  # numpy 1.x
            from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
        except ImportError:
            return None
    return [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]


def _numpy_simd() -> str:
    """The highest instruction set numpy dispatches its vectorised loops to here."""
    found = numpy_dispatch_targets()
    if found is None:
        return "unknown"
    return found[-1] if found else "baseline"


def report(comparison, *, inputs: dict | None = None, outputs: dict | None = None) -> dict:
    """Provenance and results as a JSON-ready dict.

    ``inputs`` maps role ('before', 'after') to {'path': ..., 'sha256': ...} (io computes them).
    """
    from . import __version__

    def scene_info(s):
        return {
            "name": s.name,
            "acquired": s.acquired.isoformat().replace("+00:00", "Z") if s.acquired else None,
            "shape": [s.count, *s.shape],
            "dtype": str(s.pixels.dtype),
            "gsd_m": round(s.gsd, 4),
            "crs": s.grid.crs.to_string() if s.grid.crs else None,
            "credit": s.credit,
        }

    cmp = comparison
    judged = cmp.changemap.judged
    return {
        "airdiff": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "versions": versions(),
        "inputs": inputs or {},
        "before": scene_info(cmp.before),
        "after": scene_info(cmp.after),
        "options": cmp.options.to_dict(),
        "registration": cmp.registration.to_dict(),
        "change": {
            "judged_fraction": round(float(judged.mean()), 4),
            "cloud_fraction": round(float(cmp.changemap.cloud.mean()), 4),
            "nodata_fraction": round(float(cmp.changemap.nodata.mean()), 4),
        },
        "aeroways": cmp.aeroways.source,
        "aircraft": {"before": len(cmp.aircraft_before), "after": len(cmp.aircraft_after)},
        # changes whose aircraft cast no shadow where the others cast theirs
        "possible_decoys": cmp.possible_decoys,
        "counts": cmp.counts(),
        "summary": cmp.summary,
        "outputs": outputs or {},
    }


#: Default widths (m) used to turn OSM aeroway lines into areas.
AEROWAY_WIDTH_M = {"runway": 45.0, "taxiway": 23.0, "apron": 0.0, "stand": 0.0}
_OSM_KIND = {"runway": "runway", "taxiway": "taxiway", "taxilane": "taxiway", "apron": "apron",
             "parking_position": "stand", "stand": "stand", "holding_position": None}


def aeroways_from_geojson(data: dict, grid: Grid):
    """Build :class:`~airdiff.objects.model.Aeroways` from OpenStreetMap-tagged GeoJSON.

    Features need an ``aeroway`` property (runway, taxiway, taxilane, apron,
    parking_position). Lines are buffered to areas by their ``width`` tag (metres) or a
    typical width; points (stands) by 25 m. Coordinates are lon/lat, or BEFORE pixel
    coordinates when the collection has ``"frame": "pixel"``.
    """
    from .objects.model import Aeroways

    pixel = data.get("frame") == "pixel" or grid.crs is None
    mpu = grid.metres_per_unit
    feats = []
    for f in data.get("features", []):
        props = f.get("properties") or {}
        kind = _OSM_KIND.get(str(props.get("aeroway", "")).lower())
        if kind is None or not f.get("geometry"):
            continue
        g = _from_output_frame(shape(f["geometry"]), grid, pixel)
        if g.geom_type in ("LineString", "MultiLineString"):
            try:
                width = float(props.get("width", AEROWAY_WIDTH_M.get(kind) or 20.0))
            except (TypeError, ValueError):
                width = AEROWAY_WIDTH_M.get(kind) or 20.0
            g = g.buffer(width / 2.0 / mpu, cap_style="flat")
        elif g.geom_type in ("Point", "MultiPoint"):
            g = g.buffer(25.0 / mpu)
        if not g.is_valid:
            g = g.buffer(0)
        if g.is_empty:
            continue
        feats.append((kind, g))
    return Aeroways(features=tuple(feats), source="geojson")
