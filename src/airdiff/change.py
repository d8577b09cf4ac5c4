"""Pixel-level change magnitude and the masks where change cannot be judged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grid import Grid

__all__ = ["ChangeMap"]


@dataclass(frozen=True, eq=False)
class ChangeMap:
    """Per-pixel change between BEFORE and the aligned, normalised AFTER.

    All arrays have shape (rows, cols) of ``grid``.

    Attributes
    ----------
    magnitude : float32
        Change strength, 0 = no change, about 1 = strong change; 0 where not ``judged``.
    nodata : bool
        No data in either date (outside a footprint, fill values).
    cloud : bool
        Cloud or thick haze in either date.
    cloud_shadow : bool
        Shadow cast by a cloud in either date.
    """

    magnitude: np.ndarray
    nodata: np.ndarray
    cloud: np.ndarray
    cloud_shadow: np.ndarray
    grid: Grid

    @property
    def obscured(self) -> np.ndarray:
        """Pixels where change cannot be judged (nodata, cloud, cloud shadow)."""
        return self.nodata | self.cloud | self.cloud_shadow

    @property
    def judged(self) -> np.ndarray:
        return ~self.obscured
