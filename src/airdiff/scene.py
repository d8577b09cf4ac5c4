"""An image with its geometry, validity mask, and acquisition time."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from .grid import Grid

__all__ = ["Scene", "SceneSource", "to_utc"]


def to_utc(value: datetime | None) -> datetime | None:
    """Return ``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True, eq=False)
class Scene:
    """Pixels plus where they are, which are valid, and when they were taken.

    Parameters
    ----------
    pixels : ndarray, shape (bands, rows, cols)
        Native values (uint8, uint16 or float). 1, 3 (RGB) or 4 (RGB+NIR) bands.
    grid : Grid
        Georeference of the pixels; ``grid.shape == pixels.shape[1:]``.
    valid : ndarray of bool, shape (rows, cols)
        False where there is no data.
    acquired : datetime or None
        Capture time, timezone-aware UTC.
    name : str
        Short label (file name or "before"/"after").
    credit : str
        Provider credit line, e.g. "Image © Provider"; empty when unknown.
    band_names : tuple of str
        e.g. ("red", "green", "blue", "nir"); may be empty when unknown.
    """

    pixels: np.ndarray
    grid: Grid
    valid: np.ndarray | None = None
    acquired: datetime | None = None
    name: str = ""
    credit: str = ""
    band_names: tuple[str, ...] = ()
    tags: dict = field(default_factory=dict)

    def __post_init__(self):
        px = np.asarray(self.pixels)
        if px.ndim == 2:
            px = px[np.newaxis]
        if px.ndim != 3:
            raise ValueError(f"pixels must be (bands, rows, cols), got shape {px.shape}")
        if px.shape[1:] != tuple(self.grid.shape):
            raise ValueError(f"pixels {px.shape[1:]} do not match grid {self.grid.shape}")
        object.__setattr__(self, "pixels", px)
        if self.valid is None:
            object.__setattr__(self, "valid", np.ones(px.shape[1:], dtype=bool))
        else:
            v = np.asarray(self.valid, dtype=bool)
            if v.shape != px.shape[1:]:
                raise ValueError(f"valid mask {v.shape} does not match pixels {px.shape[1:]}")
            object.__setattr__(self, "valid", v)
        object.__setattr__(self, "acquired", to_utc(self.acquired))

    @property
    def count(self) -> int:
        """Number of bands."""
        return int(self.pixels.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape

    @property
    def gsd(self) -> float:
        return self.grid.gsd

    def band(self, name: str) -> np.ndarray | None:
        """The band called ``name`` ('red', 'nir', ...), or None."""
        if name in self.band_names:
            return self.pixels[self.band_names.index(name)]
        return None

    @property
    def rgb_indices(self) -> tuple[int, int, int]:
        """Band indices to show as red, green, blue."""
        if self.count >= 3:
            names = self.band_names
            if all(n in names for n in ("red", "green", "blue")):
                return names.index("red"), names.index("green"), names.index("blue")
            return 0, 1, 2
        return 0, 0, 0

    def scale_max(self) -> float:
        """Nominal full-scale value of the pixel dtype (255 for uint8, ...)."""
        dt = self.pixels.dtype
        if dt == np.uint8:
            return 255.0
        if np.issubdtype(dt, np.integer):
            # 16-bit products rarely use the full range: use a robust maximum
            v = self.pixels[:, self.valid] if self.valid.any() else self.pixels.reshape(self.count, -1)
            hi = float(np.percentile(v[:, :: max(1, v.shape[1] // 200_000)], 99.9)) if v.size else 1.0
            return max(hi, 1.0)
        return 1.0

    def as_float(self) -> np.ndarray:
        """Pixels as float32 scaled to about [0, 1], shape (bands, rows, cols)."""
        return (self.pixels.astype(np.float32) / np.float32(self.scale_max()))

    def luminance(self) -> np.ndarray:
        """Single-band float32 brightness in about [0, 1], shape (rows, cols).

        Uses the visible bands only (RGB mean, or the single band).
        """
        f = self.as_float()
        if self.count >= 3:
            r, g, b = self.rgb_indices
            return ((f[r] + f[g] + f[b]) / np.float32(3.0)).astype(np.float32)
        return f[0]

    def replace(self, **changes) -> Scene:
        """A copy with some fields changed (dataclasses.replace)."""
        return replace(self, **changes)

    def __repr__(self) -> str:
        when = self.acquired.strftime("%Y-%m-%d %H:%M UTC") if self.acquired else "unknown time"
        crs = self.grid.crs.to_string() if self.grid.crs else "pixel frame"
        return (
            f"Scene({self.name!r}, {self.count}x{self.shape[0]}x{self.shape[1]} "
            f"{self.pixels.dtype}, {self.gsd:.2f} m, {crs}, {when})"
        )


class SceneSource(Protocol):
    """A scene too large for memory, read window by window (see :class:`airdiff.io.RasterSource`).

    ``read`` returns the clipped window of ``grid`` as a :class:`Scene`; with ``factor`` > 1,
    decimated by ``factor`` x ``factor`` block means (float32 in about [0, 1]).
    """

    grid: Grid

    def read(self, row_off: int, col_off: int, height: int, width: int, *, factor: int = 1) -> Scene: ...
