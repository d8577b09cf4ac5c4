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


STAGES = ("align", "normalise", "change", "objects")


def compare(
    before: Scene,
    after: Scene,
    *,
    options: Options | None = None,
    aeroways: Aeroways | None = None,
    detector=None,
    external=None,
    changes=None,
    progress=None,
) -> Comparison:
    """Compare two scenes of the same airfield: align, normalise, detect, classify.

    Parameters
    ----------
    before, after : Scene
        Any CRS and GSD; a pixel-frame AFTER takes BEFORE's georeference.
    options : Options, optional
    aeroways : Aeroways, optional
        Airfield surfaces on BEFORE's grid; segmented automatically when not given.
    detector : Detector, optional
        Replaces the built-in aircraft detector.
    external : sequence of Aircraft, optional
        Extra detections (e.g. from another model), merged with the built-in ones.
    changes : sequence of Change, optional
        Known changes (e.g. read from an earlier ``changes.geojson``): detection is skipped.
    progress : callable, optional
        Called as ``progress(stage_name)`` after each of :data:`STAGES`.

    Returns
    -------
    Comparison

    Raises
    ------
    AlignmentError
        The scenes cannot be aligned, or the alignment is not trustworthy.
    NoOverlapError
        The scenes do not cover a common area.
    """
    from . import objects, radiometry
    from .change import change_map
    from .register import align

    opts = options or Options()
    step = progress or (lambda name: None)
    aligned, reg = align(
        before,
        after,
        max_offset_m=opts.max_offset_m,
        max_rotation_deg=opts.max_rotation_deg,
        max_scale_change=opts.max_scale_change,
        local=opts.local_warp,
    )
    step("align")
    normalised = radiometry.normalise(before, aligned)
    step("normalise")
    cm = change_map(before, normalised)
    step("change")
    if changes is not None:
        from .objects.model import Aeroways as _Aeroways

        res = objects.ObjectResult(
            changes=tuple(changes), aircraft_before=(), aircraft_after=(),
            aeroways=aeroways or _Aeroways(),
        )
    else:
        res = objects.find_changes(
            before,
            normalised,
            cm,
            aeroways=aeroways,
            detector=detector,
            external=external,
            min_aircraft_m=opts.min_aircraft_m,
        )
    step("objects")
    return Comparison(
        before=before,
        after=after,
        aligned=aligned,
        normalised=normalised,
        registration=reg,
        changemap=cm,
        changes=tuple(res.changes),
        aircraft_before=tuple(res.aircraft_before),
        aircraft_after=tuple(res.aircraft_after),
        aeroways=res.aeroways,
        options=opts,
    )
