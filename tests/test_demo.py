"""The demo pair in imagery/demo, compared through the CLI as the README does, against its truth.

The pair is the model case: two transports burned on their stands, eleven moved onto
taxiways (one onto the runway), part of the base under cloud in AFTER. The truth file is
the generator's exact record of what it planted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import Polygon, shape
from shapely.ops import unary_union

from airdiff.cli import cli
from airdiff.io import read_scene

DEMO = Path(__file__).resolve().parents[1] / "imagery" / "demo"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    res = CliRunner().invoke(cli, ["-q", "compare", str(DEMO / "before.tif"), str(DEMO / "after.tif"),
                                   "-o", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    truth = json.loads((DEMO / "truth.json").read_text())
    grid = read_scene(DEMO / "before.tif").grid
    feats = json.loads((out / "changes.geojson").read_text())["features"]
    for f in feats:  # lon/lat to the truth's map coordinates
        cen = shape(f["geometry"]).centroid
        x, y = grid.from_lonlat([cen.x], [cen.y])
        f["xy"] = (float(x[0]), float(y[0]))
        if "from" in f["properties"]:
            x, y = grid.from_lonlat([f["properties"]["from"][0]], [f["properties"]["from"][1]])
            f["from_xy"] = (float(x[0]), float(y[0]))
    return json.loads((out / "report.json").read_text()), feats, truth, grid


def test_demo_reports_the_model_case(demo):
    report, _, _, _ = demo
    assert report["summary"].startswith(
        "2 burned · 11 moved (10 to taxiways, 1 to the runway) · 0 appeared · 0 disappeared")


def test_every_burned_and_moved_aircraft_is_placed(demo):
    _, feats, truth, _ = demo
    for c in truth["changes"]:
        t = shape(c["after"]).centroid
        same = [f for f in feats if f["properties"]["class"] == c["cls"]]
        d = min(np.hypot(f["xy"][0] - t.x, f["xy"][1] - t.y) for f in same)
        # an outline that takes in the aircraft's shadow is centred a few metres off its airframe
        assert d <= 10.0, (c["id"], c["cls"], d)


def test_every_move_starts_from_a_vacated_stand(demo):
    _, feats, truth, _ = demo
    vacated = [shape(c["before"]).centroid for c in truth["changes"] if c["cls"] == "moved"]
    for f in feats:
        if f["properties"]["class"] == "moved":
            # identical transports are interchangeable: the origin is one of the stands left
            fx, fy = f["from_xy"]
            assert min(np.hypot(fx - v.x, fy - v.y) for v in vacated) <= 10.0, f["properties"]


def test_cloud_is_obscured_and_hides_no_change(demo):
    _, feats, truth, grid = demo
    xs, ys = shape(truth["cloud"]).exterior.xy
    lon, lat = grid.to_lonlat(np.asarray(xs), np.asarray(ys))
    cloud = Polygon(zip(lon, lat, strict=True))  # the changes are in lon/lat
    obscured = unary_union([shape(f["geometry"]) for f in feats if f["properties"]["class"] == "obscured"])
    assert cloud.intersection(obscured).area >= 0.8 * cloud.area
    for f in feats:
        if f["properties"]["class"] != "obscured":
            assert not cloud.contains(shape(f["geometry"]).centroid), f["properties"]
