"""Shared fixtures: tiny real GeoTIFFs in tmp_path."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from airdiff.grid import Grid
from airdiff.scene import Scene

SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL = SHARED / "imagery-real"


def textured(shape=(120, 160), bands=3, seed=0, dtype=np.uint8) -> np.ndarray:
    """Smooth random texture with some edges, (bands, rows, cols)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    base = gaussian_filter(rng.random(shape), 3) * 4 + gaussian_filter(rng.random(shape), 1)
    base = (base - base.min()) / (base.max() - base.min())
    out = np.stack([base * (0.8 + 0.1 * b) for b in range(bands)])
    top = 255 if dtype == np.uint8 else 4000
    return (out * top).astype(dtype)


@pytest.fixture
def utm_grid() -> Grid:
    return Grid((120, 160), Affine(0.5, 0, 500_000, 0, -0.5, 5_600_000), "EPSG:32636")


@pytest.fixture
def scene(utm_grid) -> Scene:
    return Scene(textured(), utm_grid, acquired=datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
                 name="before")
