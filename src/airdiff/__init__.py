"""airdiff: compare before/after satellite images of an airfield.

Load two scenes, align them to sub-pixel accuracy, find aircraft-level change (burned,
moved, appeared, disappeared, obscured) and produce article-ready figures and GIS data.

>>> import airdiff
>>> cmp = airdiff.compare(airdiff.read_scene("before.tif"),
...                       airdiff.read_scene("after.tif"))     # doctest: +SKIP
>>> cmp.summary                                               # doctest: +SKIP
'2 burned · 11 moved (10 to taxiways, 1 to the runway) · 0 appeared · 0 disappeared'
"""

import logging

from .errors import AirdiffError, AlignmentError, InputError, NoOverlapError, OutputError
from .grid import Grid
from .scene import Scene

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name):
    # lazy access to the heavier pieces keeps `import airdiff` fast
    if name in ("compare", "Options", "Comparison"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "read_scene":
        from .io import read_scene

        return read_scene
    if name == "register":
        import importlib

        return importlib.import_module(".register", __name__)
    raise AttributeError(f"module 'airdiff' has no attribute {name!r}")


__all__ = [
    "AirdiffError",
    "AlignmentError",
    "InputError",
    "NoOverlapError",
    "OutputError",
    "Grid",
    "Scene",
    "compare",
    "read_scene",
    "Options",
    "Comparison",
    "__version__",
]
