from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from affine import Affine

from airdiff.grid import Grid
from airdiff.scene import Scene


def test_pixel_frame_grid_units_and_bounds():
    g = Grid.pixel_frame((100, 200), gsd=0.5)
    assert not g.is_georeferenced
    assert g.res == (0.5, 0.5)
    assert g.bounds == (0.0, 0.0, 100.0, 50.0)
    assert g.grid_convergence_deg() == 0.0
    with pytest.raises(ValueError, match="pixel frame|longitude"):
        g.to_lonlat([0], [0])


def test_xy_rowcol_round_trip_centre_convention(utm_grid):
    rows = np.array([0, 10.5, 119])
    cols = np.array([0, 33, 159])
    x, y = utm_grid.xy(rows, cols)  # pixel centres
    r, c = utm_grid.rowcol(x, y)  # corner convention
    np.testing.assert_allclose(r, rows + 0.5, atol=1e-9)
    np.testing.assert_allclose(c, cols + 0.5, atol=1e-9)
    assert x[0] == pytest.approx(500_000.25)
    assert y[0] == pytest.approx(5_600_000 - 0.25)


def test_lonlat_round_trip(utm_grid):
    lon, lat = utm_grid.centre_lonlat
    assert 32.9 < lon < 33.1  # zone 36 central meridian is 33°E
    x, y = utm_grid.from_lonlat([lon], [lat])
    assert (float(x[0]), float(y[0])) == pytest.approx(utm_grid.centre_xy, abs=1e-4)


@pytest.mark.parametrize("x0, expect_sign", [(300_000, -1), (700_000, 1)])
def test_grid_convergence_sign_west_and_east_of_meridian(x0, expect_sign):
    # in UTM, true north leans towards the central meridian: east of it, grid north
    # is clockwise of true north, so true north is anticlockwise of up (negative), and vice versa
    g = Grid((100, 100), Affine(1, 0, x0, 0, -1, 5_600_000), "EPSG:32636")
    conv = g.grid_convergence_deg()
    assert 0.5 < abs(conv) < 3.0
    assert np.sign(conv) == -expect_sign


def test_geographic_grid_gsd_in_metres():
    g = Grid((100, 100), Affine(1e-5, 0, 35.0, 0, -1e-5, 33.8), "EPSG:4326")
    # 1e-5 degree is ~1.11 m in y and ~0.92 m in x at 33.8°N
    assert 0.9 < g.gsd < 1.1


def test_scene_validates_shapes_and_time(utm_grid):
    px = np.zeros((3, 120, 160), np.uint8)
    s = Scene(px, utm_grid, acquired=datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=3))))
    assert s.acquired.tzinfo == UTC and s.acquired.hour == 9
    assert s.valid.all() and s.count == 3
    with pytest.raises(ValueError, match="do not match"):
        Scene(np.zeros((3, 10, 10), np.uint8), utm_grid)


def test_luminance_scales_by_dtype(utm_grid):
    s8 = Scene(np.full((3, 120, 160), 255, np.uint8), utm_grid)
    assert s8.luminance().max() == pytest.approx(1.0)
    px16 = np.random.default_rng(0).integers(0, 4000, (1, 120, 160)).astype(np.uint16)
    s16 = Scene(px16, utm_grid)
    lum = s16.luminance()
    assert lum.dtype == np.float32 and 0.9 < np.percentile(lum, 99.95) < 1.1
