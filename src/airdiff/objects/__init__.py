"""Aircraft in each date, matched across dates, classified into changes.

Public entry points: :func:`find_changes` (the pipeline's object stage), :func:`summarise`,
the :class:`Detector` protocol with the built-in :func:`detect_aircraft`, and
:func:`segment_aeroways` for airfield context without a map, and :func:`possible_decoys`
(aircraft that cast no shadow where the others do; :func:`check_shadows` runs it on one
scene for footprints from any detector).
"""

from .classify import ObjectResult, find_changes, obscured_areas, summarise
from .context import segment_aeroways
from .decoys import ShadowCheck, check_shadows, possible_decoys
from .detect import BuiltinDetector, Detector, detect_aircraft, size_class_of
from .model import CHANGE_CLASSES, SURFACES, Aeroways, Aircraft, Change

__all__ = [
    "Aeroways",
    "Aircraft",
    "BuiltinDetector",
    "CHANGE_CLASSES",
    "Change",
    "Detector",
    "ObjectResult",
    "SURFACES",
    "ShadowCheck",
    "check_shadows",
    "detect_aircraft",
    "find_changes",
    "obscured_areas",
    "possible_decoys",
    "segment_aeroways",
    "size_class_of",
    "summarise",
]
