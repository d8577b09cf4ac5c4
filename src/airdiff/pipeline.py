"""Compose the stages: ``compare(before, after) -> Comparison``."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from .change import ChangeMap
from .objects.model import Aeroways, Aircraft, Change
from .register.model import Registration
from .scene import Scene

__all__ = ["Options", "Comparison", "compare"]


@dataclass(frozen=True)
class Options:
    """Options of a comparison (all keyword, all with defaults)."""

    max_offset_m: float = 150.0
    max_rotation_deg: float = 5.0
    max_scale_change: float = 0.06
    local_warp: bool = True
    min_aircraft_m: float = 12.0
    credit: str = ""
    location: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Everything a comparison produced, immutable.

    Attributes
    ----------
    before : Scene
        The BEFORE scene (its grid is the common grid of all outputs).
    after : Scene
        The AFTER scene as loaded.
    aligned : Scene
        AFTER resampled onto ``before.grid`` (native radiometry; ``valid`` False off its footprint).
    normalised : Scene
        ``aligned`` with radiometry matched to BEFORE (float32, same scale as BEFORE).
    registration : Registration
    changemap : ChangeMap
    changes : tuple of Change
        Aircraft-level changes and obscured areas, ids from 1.
    aircraft_before, aircraft_after : tuple of Aircraft
        Aircraft found in each date (AFTER on the BEFORE grid).
    aeroways : Aeroways
    options : Options
    """

    before: Scene
    after: Scene
    aligned: Scene
    normalised: Scene
    registration: Registration
    changemap: ChangeMap
    changes: tuple[Change, ...]
    aircraft_before: tuple[Aircraft, ...] = ()
    aircraft_after: tuple[Aircraft, ...] = ()
    aeroways: Aeroways = field(default_factory=Aeroways)
    options: Options = field(default_factory=Options)

    @property
    def grid(self):
        return self.before.grid

    def counts(self) -> dict[str, int]:
        """Number of changes per class (every class present, zeros included)."""
        from .objects.model import CHANGE_CLASSES

        c = Counter(ch.cls for ch in self.changes)
        return {k: int(c.get(k, 0)) for k in CHANGE_CLASSES}

    @property
    def summary(self) -> str:
        """One quotable line, e.g. ``2 burned · 11 moved (10 to taxiways, 1 to the runway)``."""
        from .objects import summarise

        return summarise(self.changes)


def compare(before: Scene, after: Scene, *, options: Options | None = None, aeroways=None):
    raise NotImplementedError
