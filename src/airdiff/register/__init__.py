"""Co-registration of an AFTER scene onto a BEFORE scene.

Steps: :func:`common_grid` (same CRS and GSD), :func:`register` (global model, sub-pixel
refinement, local tie-point warp, quality), :func:`apply` (resample AFTER onto the BEFORE
grid). :func:`align` chains them and raises :class:`~airdiff.errors.AlignmentError` when the
result cannot be trusted.
"""

from __future__ import annotations

from ..errors import AlignmentError
from ..scene import Scene
from ._register import register, register_sources
from ._resample import (
    after_window,
    apply,
    before_to_after_px,
    check_overlap,
    common_grid,
    window_registration,
)
from .model import LocalWarp, Registration

__all__ = [
    "Registration",
    "LocalWarp",
    "align",
    "apply",
    "before_to_after_px",
    "common_grid",
    "register",
    "register_sources",
    "after_window",
    "check_overlap",
    "window_registration",
]


def align(before: Scene, after: Scene, **register_kw) -> tuple[Scene, Registration]:
    """AFTER resampled onto BEFORE's exact grid, and the registration used.

    Chains :func:`common_grid`, :func:`register` and :func:`apply`.

    Parameters
    ----------
    before, after : Scene
        Any CRS, GSD or pixel frame (see :func:`common_grid`).
    **register_kw
        Keyword options of :func:`register` (``max_offset_m``, ``local``, ...).

    Returns
    -------
    aligned : Scene
        On ``before.grid`` (a pixel-frame AFTER thereby takes BEFORE's georeference).
    registration : Registration

    Raises
    ------
    AlignmentError
        The alignment failed or cannot be trusted; ``exc.registration`` holds the
        :class:`Registration` (for a report).
    NoOverlapError
        Both scenes are georeferenced and do not overlap.
    """
    margin = float(register_kw.get("max_offset_m", 150.0))
    common = common_grid(before, after, margin_m=margin)
    reg = register(before, common, **register_kw)
    if not reg.ok:
        exc = AlignmentError(f"cannot align {after.name or 'AFTER'} to {before.name or 'BEFORE'}: "
                             f"{reg.reason}")
        exc.registration = reg
        raise exc
    return apply(common, reg, before.grid), reg
