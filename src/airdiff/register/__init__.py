"""Co-registration of an AFTER scene onto a BEFORE scene.

Steps: :func:`common_grid` (same CRS and GSD), :func:`register` (global model, sub-pixel
refinement, local tie-point warp, quality), :func:`apply` (resample AFTER onto the BEFORE
grid). :func:`align` chains them and raises :class:`~airdiff.errors.AlignmentError` when the
result cannot be trusted.
"""

from .model import LocalWarp, Registration

__all__ = ["Registration", "LocalWarp"]
