import csv
import io

import numpy as np
import pytest
import shapely
from affine import Affine
from shapely.geometry import Polygon, box

from airdiff.export import (
    aeroways_from_geojson,
    changes_from_geojson,
    changes_to_csv,
    changes_to_geojson,
)
from airdiff.grid import Grid
from airdiff.objects.model import Change

GRID = Grid((2000, 2000), Affine(0.5, 0, 500_000, 0, -0.5, 5_600_000), "EPSG:32636")


def changes():
    a = box(500_100, 5_599_500, 500_147, 5_599_550)  # 47 x 50 m
    moved_to = shapely.affinity.translate(a, 200, -100)
    return [
        Change(1, "burned", 0.9, a, size_class="large"),
        Change(2, "moved", 0.8, moved_to, from_geometry=a, surface="runway", from_surface="stand",
               from_alternatives=2, note="came from one of 3 stands"),
        Change(3, "obscured", 1.0, box(500_500, 5_599_200, 500_700, 5_599_400)),
    ]


def test_geojson_follows_contract_and_rfc7946():
    fc = changes_to_geojson(changes(), GRID)
    assert fc["type"] == "FeatureCollection" and "frame" not in fc
    f_burn, f_move, f_obs = fc["features"]
    assert f_burn["properties"]["class"] == "burned"
    assert f_burn["properties"]["area_m2"] == pytest.approx(47 * 50, rel=1e-3)
    lon, lat = GRID.to_lonlat([500_123.5], [5_599_525])
    ring = np.array(f_burn["geometry"]["coordinates"][0])[:-1]  # drop the closing vertex
    assert ring[:, 0].mean() == pytest.approx(float(lon[0]), abs=1e-5)
    assert ring[:, 1].mean() == pytest.approx(float(lat[0]), abs=1e-5)
    # counter-clockwise exterior ring (RFC 7946 3.1.6)
    assert Polygon(ring).exterior.is_ccw
    p = f_move["properties"]
    # map units of UTM are scaled by the projection's scale factor: metres are ground metres
    assert p["displacement_m"] == pytest.approx(np.hypot(200, 100) * GRID.metres_per_unit, abs=0.01)
    assert 1.0003 < GRID.metres_per_unit < 1.0005  # 1 / 0.9996 on the central meridian
    assert p["surface"] == "runway" and p["from_surface"] == "stand"
    flon, flat = GRID.to_lonlat([500_123.5], [5_599_525])
    assert p["from"] == pytest.approx([float(flon[0]), float(flat[0])], abs=1e-6)
    assert f_obs["properties"]["class"] == "obscured"


def test_geojson_round_trip():
    back = changes_from_geojson(changes_to_geojson(changes(), GRID), GRID)
    for a, b in zip(changes(), back, strict=True):
        assert a.cls == b.cls
        assert a.geometry.symmetric_difference(b.geometry).area < 0.01 * a.geometry.area
    assert back[1].from_geometry.centroid.distance(changes()[1].from_geometry.centroid) < 0.05
    assert back[1].from_alternatives == 2 and back[1].note == "came from one of 3 stands"
    assert back[0].from_alternatives == 0


def test_csv_says_how_sure_a_moved_origin_is():
    rows = list(csv.DictReader(io.StringIO(changes_to_csv(changes(), GRID))))
    assert rows[1]["from_alternatives"] == "2" and rows[1]["note"] == "came from one of 3 stands"
    assert rows[0]["from_alternatives"] == ""  # not a move


def test_pixel_frame_geojson_uses_before_pixels():
    g = Grid.pixel_frame((400, 600), gsd=0.5)
    ch = [Change(1, "appeared", 0.7, box(10, 20, 30, 40))]  # metres right/down
    fc = changes_to_geojson(ch, g)
    assert fc["frame"] == "pixel"
    ring = np.array(fc["features"][0]["geometry"]["coordinates"][0])
    assert ring[:, 0].min() == pytest.approx(20) and ring[:, 0].max() == pytest.approx(60)
    assert ring[:, 1].min() == pytest.approx(40) and ring[:, 1].max() == pytest.approx(80)
    assert fc["features"][0]["properties"]["area_m2"] == pytest.approx(400)


def test_csv_rows():
    rows = list(csv.DictReader(io.StringIO(changes_to_csv(changes(), GRID))))
    assert [r["class"] for r in rows] == ["burned", "moved", "obscured"]
    assert float(rows[1]["displacement_m"]) == pytest.approx(np.hypot(200, 100) * GRID.metres_per_unit, abs=0.01)
    assert 32 < float(rows[0]["lon"]) < 34


def test_aeroways_from_osm_geojson():
    x0, y0 = 500_000, 5_599_000
    lon, lat = GRID.to_lonlat([x0, x0 + 800, x0 + 100], [y0, y0, y0 + 100])
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"aeroway": "runway", "width": "50"},
         "geometry": {"type": "LineString", "coordinates": [[lon[0], lat[0]], [lon[1], lat[1]]]}},
        {"type": "Feature", "properties": {"aeroway": "parking_position"},
         "geometry": {"type": "Point", "coordinates": [lon[2], lat[2]]}},
        {"type": "Feature", "properties": {"building": "hangar"},
         "geometry": {"type": "Point", "coordinates": [lon[2], lat[2]]}},
    ]}
    aw = aeroways_from_geojson(data, GRID)
    kinds = [k for k, _ in aw.features]
    assert kinds == ["runway", "stand"]
    runway = aw.features[0][1]
    assert runway.area == pytest.approx(800 * 50, rel=0.01)
    plane_on_runway = box(x0 + 300, y0 - 10, x0 + 347, y0 + 10)
    assert aw.surface_at(plane_on_runway) == "runway"
