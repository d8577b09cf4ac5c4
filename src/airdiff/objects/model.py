"""Result types of the object stage: aircraft, aeroway context and changes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

__all__ = ["Aircraft", "Change", "Aeroways", "CHANGE_CLASSES", "SURFACES"]

#: Classes a :class:`Change` can carry (the CLI/GeoJSON contract).
CHANGE_CLASSES = ("burned", "moved", "appeared", "disappeared", "changed", "obscured")

#: Surface names used for ``surface`` / ``from_surface``.
SURFACES = ("runway", "taxiway", "apron", "stand", "grass", "other")


@dataclass(frozen=True, eq=False)
class Aircraft:
    """One aircraft (or aircraft-like object) seen in one date.

    Geometry is in the map coordinates of the grid it was found on (for the AFTER date:
    the BEFORE grid, after alignment).
    """

    footprint: Polygon
    length_m: float
    span_m: float
    heading_deg: float  # nose direction, degrees clockwise from grid up; nan when unknown
    score: float  # 0..1 how aircraft-like
    size_class: str = "unknown"  # 'large', 'medium', 'small', 'helicopter', 'unknown'
    state: str = "intact"  # 'intact' or 'burned'
    source: str = "builtin"  # detector that produced it
    features: dict = field(default_factory=dict)
    #: the lit airframe alone, where ``footprint`` also takes in pieces joined to it (its
    #: cast shadows); None when the footprint is the airframe
    airframe: Polygon | None = None

    @property
    def placed(self) -> Polygon:
        """Where the aircraft is reported: its airframe, without the shadows found with it."""
        return self.airframe if self.airframe is not None else self.footprint

    @property
    def centroid(self) -> tuple[float, float]:
        c = self.footprint.centroid
        return float(c.x), float(c.y)


@dataclass(frozen=True, eq=False)
class Change:
    """One changed object, the unit an analyst reports.

    ``geometry`` is in BEFORE-grid map coordinates: the AFTER position for moved, appeared
    and burned; the BEFORE position for disappeared; the area for obscured/changed.
    """

    id: int
    cls: str
    score: float
    geometry: BaseGeometry
    from_geometry: BaseGeometry | None = None  # moved: the BEFORE footprint
    surface: str | None = None
    from_surface: str | None = None
    size_class: str | None = None
    length_m: float | None = None
    #: free text; for obscured, what hides the area: 'cloud' (a cloud or its shadow), 'haze'
    #: (an aircraft seen in one date only through haze) or 'no data'
    note: str = ""
    #: moved: how many other vacated stands the aircraft fits as well (look-alike airframes);
    #: 0 when its origin is clear
    from_alternatives: int = 0
    #: the aircraft casts no shadow where the other aircraft of its date cast theirs (a flat
    #: decoy casts none); for moved, in either date
    possible_decoy: bool = False

    def __post_init__(self):
        if self.cls not in CHANGE_CLASSES:
            raise ValueError(f"unknown change class {self.cls!r}; expected one of {CHANGE_CLASSES}")
        object.__setattr__(self, "score", float(np.clip(self.score, 0.0, 1.0)))

    @property
    def centroid(self) -> tuple[float, float]:
        c = self.geometry.centroid
        return float(c.x), float(c.y)

    @property
    def from_centroid(self) -> tuple[float, float] | None:
        if self.from_geometry is None:
            return None
        c = self.from_geometry.centroid
        return float(c.x), float(c.y)

    def displacement(self) -> float | None:
        """Centroid displacement in map units (moved only)."""
        fc = self.from_centroid
        if fc is None:
            return None
        x, y = self.centroid
        return float(np.hypot(x - fc[0], y - fc[1]))

    def replace(self, **kw) -> Change:
        from dataclasses import replace

        return replace(self, **kw)


@dataclass(frozen=True, eq=False)
class Aeroways:
    """Airfield surfaces in BEFORE-grid map coordinates.

    ``features`` is a sequence of (kind, geometry) with kind one of :data:`SURFACES`
    (OpenStreetMap ``aeroway=parking_position`` maps to 'stand'). Lines (taxiway centre
    lines, runway centre lines) should be buffered to areas by whoever builds this.
    """

    features: tuple[tuple[str, BaseGeometry], ...] = ()
    source: str = "none"  # 'geojson', 'segmented', 'none'

    def surface_at(self, geom: BaseGeometry) -> str | None:
        """Surface kind under most of ``geom`` (stands win over aprons, runways over taxiways)."""
        if not self.features:
            return None
        priority = {"stand": 0, "runway": 1, "taxiway": 2, "apron": 3, "grass": 4, "other": 5}
        best, best_key = None, None
        area = geom.area if geom.area > 0 else 1.0
        for kind, g in self.features:
            if not g.intersects(geom):
                continue
            frac = g.intersection(geom).area / area if geom.area > 0 else 1.0
            if frac < 0.25:
                continue
            key = (priority.get(kind, 9), -frac)
            if best_key is None or key < best_key:
                best, best_key = kind, key
        return best
