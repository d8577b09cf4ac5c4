"""Pixel geometry: where each pixel of an array lies on the ground.

A :class:`Grid` is the georeference of a 2-D raster: its shape, the affine
transform from pixel (col, row) to map (x, y), and the CRS. It never holds or
touches pixel values.

A grid without a CRS is in the *pixel frame*: an image with no georeference but a
known ground sample distance (GSD). Its transform is ``Affine(gsd, 0, 0, 0, gsd, 0)``
so map units are metres measured right and *down* from the top-left corner.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from affine import Affine
from rasterio.crs import CRS

__all__ = ["Grid"]


@dataclass(frozen=True)
class Grid:
    """Shape, affine transform and CRS of a raster.

    Parameters
    ----------
    shape : (int, int)
        (rows, cols).
    transform : affine.Affine
        Maps pixel corner coordinates (col, row) to map coordinates (x, y).
        (0, 0) is the top-left corner of the top-left pixel.
    crs : rasterio.crs.CRS or None
        ``None`` means the pixel frame (no georeference, units are metres).

    Examples
    --------
    >>> g = Grid.pixel_frame((100, 200), gsd=0.5)
    >>> g.res
    (0.5, 0.5)
    >>> g.bounds
    (0.0, 0.0, 100.0, 50.0)
    """

    shape: tuple[int, int]
    transform: Affine
    crs: CRS | None = None

    def __post_init__(self):
        rows, cols = (int(v) for v in self.shape)
        object.__setattr__(self, "shape", (rows, cols))
        if rows <= 0 or cols <= 0:
            raise ValueError(f"grid shape must be positive, got {self.shape}")
        if self.crs is not None and not isinstance(self.crs, CRS):
            object.__setattr__(self, "crs", CRS.from_user_input(self.crs))

    # -- construction -------------------------------------------------------
    @classmethod
    def pixel_frame(cls, shape: tuple[int, int], gsd: float) -> Grid:
        """Grid of a non-georeferenced image with ground sample distance ``gsd`` metres."""
        if not gsd > 0:
            raise ValueError(f"gsd must be positive, got {gsd}")
        return cls(shape, Affine(gsd, 0.0, 0.0, 0.0, gsd, 0.0), None)

    # -- properties -----------------------------------------------------------
    @property
    def is_georeferenced(self) -> bool:
        return self.crs is not None

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size (x, y) in map units, both positive."""
        t = self.transform
        return (float(np.hypot(t.a, t.d)), float(np.hypot(t.b, t.e)))

    @property
    def gsd(self) -> float:
        """Mean ground sample distance in metres (map units for projected CRSs)."""
        return float(np.sqrt(self.res[0] * self.res[1])) * self.metres_per_unit

    @cached_property
    def metres_per_unit(self) -> float:
        """Ground metres per map unit at the grid centre (1 in the pixel frame).

        Measured geodesically, so it holds for degrees, UTM's scale factor and Web Mercator's
        stretch alike.
        """
        if self.crs is None:
            return 1.0
        from pyproj import Geod

        x, y = self.centre_xy
        step = max(self.res) * 10
        lon, lat = self.to_lonlat(np.array([x, x + step, x]), np.array([y, y, y + step]))
        geod = Geod(ellps="WGS84")
        dx = geod.inv(lon[0], lat[0], lon[1], lat[1])[2]
        dy = geod.inv(lon[0], lat[0], lon[2], lat[2])[2]
        return float(np.sqrt(dx * dy) / step)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in map units (min/max over the 4 corners)."""
        xs, ys = self.corners().T
        return (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))

    def corners(self) -> np.ndarray:
        """Map (x, y) of the 4 outer corners, shape (4, 2), clockwise from top-left."""
        rows, cols = self.shape
        pts = [(0, 0), (cols, 0), (cols, rows), (0, rows)]
        return np.array([self.transform @ p for p in pts], dtype=float)

    def outline_xy(self, n: int = 9) -> tuple[np.ndarray, np.ndarray]:
        """Map (x, y) of the outer boundary, ``n`` points per side, clockwise from top-left.

        Densified so that the outline stays right after a change of CRS.
        """
        rows, cols = self.shape
        cc = np.concatenate([np.linspace(0, cols, n), np.full(n, cols),
                             np.linspace(cols, 0, n), np.zeros(n)])
        rr = np.concatenate([np.zeros(n), np.linspace(0, rows, n),
                             np.full(n, rows), np.linspace(rows, 0, n)])
        t = self.transform
        return t.a * cc + t.b * rr + t.c, t.d * cc + t.e * rr + t.f

    def footprint(self):
        """The grid's outline as a shapely Polygon in map coordinates."""
        from shapely.geometry import Polygon

        return Polygon(self.corners())

    @property
    def centre_xy(self) -> tuple[float, float]:
        rows, cols = self.shape
        x, y = self.transform @ (cols / 2, rows / 2)
        return float(x), float(y)

    @property
    def centre_lonlat(self) -> tuple[float, float]:
        """(lon, lat) of the grid centre; raises ValueError in the pixel frame."""
        x, y = self.centre_xy
        lon, lat = self.to_lonlat(np.array([x]), np.array([y]))
        return float(lon[0]), float(lat[0])

    # -- coordinate conversion ----------------------------------------------
    def xy(self, rows, cols, offset: str = "center") -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates of pixel (row, col); ``offset`` 'center' or 'ul'."""
        rows = np.asarray(rows, dtype=float)
        cols = np.asarray(cols, dtype=float)
        d = 0.5 if offset == "center" else 0.0
        t = self.transform
        x = t.a * (cols + d) + t.b * (rows + d) + t.c
        y = t.d * (cols + d) + t.e * (rows + d) + t.f
        return x, y

    def rowcol(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Fractional pixel-corner coordinates (row, col) of map points (x, y)."""
        inv = ~self.transform
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        cols = inv.a * x + inv.b * y + inv.c
        rows = inv.d * x + inv.e * y + inv.f
        return rows, cols

    def to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """WGS84 (lon, lat) of map points; ValueError in the pixel frame."""
        if self.crs is None:
            raise ValueError("a pixel-frame grid has no longitude/latitude")

        tr = _transformer(self.crs.to_wkt(), "EPSG:4326")
        lon, lat = tr.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon), np.asarray(lat)

    def from_lonlat(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Map (x, y) of WGS84 points; ValueError in the pixel frame."""
        if self.crs is None:
            raise ValueError("a pixel-frame grid has no longitude/latitude")
        tr = _transformer("EPSG:4326", self.crs.to_wkt())
        x, y = tr.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x), np.asarray(y)

    def grid_convergence_deg(self) -> float:
        """Angle (degrees, clockwise) from grid north (up the image) to true north.

        0 in the pixel frame, where north is unknown and up is assumed.
        """
        if self.crs is None:
            return 0.0
        x, y = self.centre_xy
        lon, lat = self.to_lonlat([x], [y])
        dlat = 0.001
        x2, y2 = self.from_lonlat(lon, lat + dlat)
        r0, c0 = self.rowcol([x], [y])
        r1, c1 = self.rowcol(x2, y2)
        # image "up" is -row; angle of the north vector measured clockwise from up
        return float(np.degrees(np.arctan2(c1[0] - c0[0], -(r1[0] - r0[0]))))

    # -- derived grids --------------------------------------------------------
    def window(self, row_off: int, col_off: int, height: int, width: int) -> Grid:
        """The sub-grid of a pixel window."""
        t = self.transform @ Affine.translation(col_off, row_off)
        return Grid((height, width), t, self.crs)

    def scaled(self, factor: float) -> Grid:
        """Grid covering the same area with pixels ``factor`` times larger."""
        rows, cols = self.shape
        shape = (max(1, int(round(rows / factor))), max(1, int(round(cols / factor))))
        sy = rows / shape[0]
        sx = cols / shape[1]
        return Grid(shape, self.transform @ Affine.scale(sx, sy), self.crs)

    def same_as(self, other: Grid, *, tol: float = 1e-6) -> bool:
        """True when both grids describe exactly the same pixels."""
        if self.shape != other.shape or (self.crs is None) != (other.crs is None):
            return False
        if self.crs is not None and self.crs != other.crs:
            return False
        return self.transform.almost_equals(other.transform, precision=tol)


_TRANSFORMERS: dict = {}


def _transformer(src: str, dst: str):
    from pyproj import Transformer

    key = (src, dst)
    if key not in _TRANSFORMERS:
        _TRANSFORMERS[key] = Transformer.from_crs(src, dst, always_xy=True)
    return _TRANSFORMERS[key]
