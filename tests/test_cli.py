"""The command-line contract, end to end through real files (click's CliRunner)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import shape

from airdiff.cli import cli
from airdiff.grid import Grid
from airdiff.io import sha256, write_geotiff
from tests.conftest import textured


@pytest.fixture(scope="module")
def demo_pair(tmp_path_factory):
    """A small synthetic strike pair on disk, with its truth."""
    from airdiff.synth import make_pair, write_pair

    folder = tmp_path_factory.mktemp("pair")
    pair = make_pair(seed=3, scenario="random", shape=(700, 800), misregistration="moderate",
                     nuisances="all")
    paths = write_pair(pair, folder)
    return paths, pair


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(res, code, match):
    assert res.exit_code == code, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("airdiff: error: ") and match in lines[0]
    assert "Traceback" not in res.output


def test_info_json(tmp_path, scene):
    p = write_geotiff(tmp_path / "a.tif", scene.pixels, scene.grid,
                      tags={"ACQUISITION_TIME": "2024-05-01T09:30:00Z"})
    res = run("info", p, "--json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["crs"] == "EPSG:32636" and d["gsd_m"] == pytest.approx(0.5, abs=1e-3) and d["bands"] == 3
    assert d["acquired"] == "2024-05-01T09:30:00Z"


def test_missing_file(tmp_path):
    assert_one_line_error(run("info", tmp_path / "nope.tif"), 1, "does not exist")


@pytest.mark.parametrize("command", ["align", "compare", "detect"])
@pytest.mark.parametrize("missing", ["before", "after"])
def test_missing_input_of_a_comparison(tmp_path, scene, command, missing):
    # a bad input path is the user's to fix, not an internal error, whichever side it is on
    p = write_geotiff(tmp_path / "a.tif", scene.pixels, scene.grid)
    gone = tmp_path / "nope.tif"
    args = (gone, p) if missing == "before" else (p, gone)
    out = tmp_path / ("o.tif" if command == "align" else "out")
    assert_one_line_error(run(command, *args, "-o", out), 1, "nope.tif does not exist")
    assert not out.exists()
    # a folder is no image either
    folder = tmp_path / "folder"
    folder.mkdir()
    args = (folder, p) if missing == "before" else (p, folder)
    assert_one_line_error(run(command, *args, "-o", out), 1, "folder is a folder; give an image file")
    assert not out.exists()


def test_not_a_raster(tmp_path):
    p = tmp_path / "notes.tif"
    p.write_text("hello")
    assert_one_line_error(run("align", p, p, "-o", tmp_path / "o.tif"), 1, "not a raster")
    assert not (tmp_path / "o.tif").exists()


def test_png_without_gsd_says_what_to_do(tmp_path):
    import imageio.v3 as iio

    p = tmp_path / "shot.png"
    iio.imwrite(p, np.moveaxis(textured((40, 40)), 0, -1))
    assert_one_line_error(run("info", p), 1, "--gsd")


def test_no_overlap(tmp_path):
    g1 = Grid((120, 160), Affine(0.5, 0, 500_000, 0, -0.5, 5_600_000), "EPSG:32636")
    g2 = Grid((120, 160), Affine(0.5, 0, 530_000, 0, -0.5, 5_650_000), "EPSG:32636")
    a = write_geotiff(tmp_path / "a.tif", textured(), g1)
    b = write_geotiff(tmp_path / "b.tif", textured(seed=1), g2)
    res = run("align", a, b, "-o", tmp_path / "o.tif")
    assert_one_line_error(res, 1, "do not overlap")
    assert not (tmp_path / "o.tif").exists()


def test_unwritable_output(tmp_path, scene):
    p = write_geotiff(tmp_path / "a.tif", scene.pixels, scene.grid)
    res = run("align", p, p, "-o", tmp_path / "no" / "such" / "o.tif")
    assert_one_line_error(res, 1, "does not exist")


def test_bad_figure_extension(tmp_path, scene):
    p = write_geotiff(tmp_path / "a.tif", scene.pixels, scene.grid)
    assert_one_line_error(run("figure", p, p, "-o", tmp_path / "f.jpg"), 1, ".png, .pdf or .svg")


def test_unrelated_images_refused_without_output(tmp_path):
    g = Grid((400, 400), Affine(0.5, 0, 500_000, 0, -0.5, 5_600_000), "EPSG:32636")
    a = write_geotiff(tmp_path / "a.tif", textured((400, 400), seed=1), g)
    b = write_geotiff(tmp_path / "b.tif", textured((400, 400), seed=2), g)
    out, rep = tmp_path / "o.tif", tmp_path / "r.json"
    res = run("align", a, b, "-o", out, "--report", rep)
    assert res.exit_code == 3, res.output
    assert "airdiff: error:" in res.output and "Traceback" not in res.output
    assert not out.exists()
    assert json.loads(rep.read_text())["registration"]["status"] == "failed"


def test_align_writes_after_on_before_grid(demo_pair, tmp_path):
    paths, pair = demo_pair
    before_sum = sha256(paths["before"]), sha256(paths["after"])
    out, rep = tmp_path / "aligned.tif", tmp_path / "report.json"
    res = run("align", paths["before"], paths["after"], "-o", out, "--report", rep)
    assert res.exit_code == 0, res.output
    with rasterio.open(paths["before"]) as b, rasterio.open(out) as a:
        assert (a.width, a.height, a.count) == (b.width, b.height, b.count)
        assert a.crs == b.crs and a.transform.almost_equals(b.transform)
    r = json.loads(rep.read_text())["registration"]
    assert r["status"] == "ok" and r["confidence"] > 0.5
    assert (sha256(paths["before"]), sha256(paths["after"])) == before_sum  # inputs untouched


def test_compare_writes_everything(demo_pair, tmp_path):
    paths, pair = demo_pair
    out = tmp_path / "out"
    res = run("-q", "compare", paths["before"], paths["after"], "-o", out, "--credit", "Test credit")
    assert res.exit_code == 0, res.output
    names = {f.name for f in out.iterdir()}
    assert {"aligned.tif", "changes.geojson", "changes.csv", "changes.gpkg", "figure.png",
            "changemap.png", "report.json", "blink.gif", "swipe.html",
            "change_magnitude.tif"} <= names
    assert not [n for n in names if n.startswith(".")]  # no staging left behind
    fc = json.loads((out / "changes.geojson").read_text())
    assert fc["type"] == "FeatureCollection" and "frame" not in fc
    for f in fc["features"]:
        p = f["properties"]
        assert p["class"] in {"moved", "burned", "appeared", "disappeared", "changed", "obscured"}
        assert 0 <= p["score"] <= 1 and p["area_m2"] > 0
        if p["class"] == "moved":
            assert len(p["from"]) == 2 and p["displacement_m"] > 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["registration"]["status"] == "ok"
    assert rep["inputs"]["before"]["sha256"] == sha256(paths["before"])
    assert rep["summary"] in res.stdout
    # what the numbers were computed with, the CPU's vectorised math included
    assert rep["versions"]["numpy"] == np.__version__
    assert rep["versions"]["numpy-simd"] not in ("", None)


def test_compare_says_when_a_change_may_be_a_decoy(tmp_path):
    """A flat decoy that appeared: the change is flagged in the GeoJSON and the report, and the
    command says so on stderr (stdout keeps the summary alone)."""
    from airdiff.synth import make_pair, write_pair

    paths = write_pair(make_pair(seed=1, scenario="static", gsd=0.5, decoys=1), tmp_path / "pair")
    out = tmp_path / "out"
    res = run("-q", "compare", paths["before"], paths["after"], "-o", out)
    assert res.exit_code == 0, res.output
    flagged = [f["properties"] for f in json.loads((out / "changes.geojson").read_text())["features"]
               if f["properties"].get("possible_decoy")]
    assert [p["class"] for p in flagged] == ["appeared"]
    rep = json.loads((out / "report.json").read_text())
    assert rep["possible_decoys"] == 1
    assert res.stdout.strip() == rep["summary"]
    assert "1 change flagged as possible decoy " in res.stderr


def test_compare_finds_the_truth(demo_pair, tmp_path):
    paths, pair = demo_pair
    out = tmp_path / "changes.geojson"
    res = run("-q", "detect", paths["before"], paths["after"], "-o", out)
    assert res.exit_code == 0, res.output
    feats = [f for f in json.loads(out.read_text())["features"]
             if f["properties"]["class"] != "obscured"]
    assert sorted(f["properties"]["class"] for f in feats) == sorted(c.cls for c in pair.truth.changes)
    grid = pair.before.grid
    for c in pair.truth.changes:  # each truth change has a same-class prediction within 10 m
        g = c.after if c.after is not None else c.before
        lon, lat = grid.to_lonlat([g.centroid.x], [g.centroid.y])
        near = []
        for f in feats:
            if f["properties"]["class"] != c.cls:
                continue
            cen = shape(f["geometry"]).centroid  # lon/lat; fine at this scale
            x, y = grid.from_lonlat([cen.x], [cen.y])
            near.append(float(np.hypot(x[0] - g.centroid.x, y[0] - g.centroid.y)))
        assert near and min(near) < 10.0, (c.cls, lon, lat)


def test_pixel_frame_pair_gives_pixel_geojson(demo_pair, tmp_path):
    import imageio.v3 as iio

    paths, pair = demo_pair
    pngs = []
    for role in ("before", "after"):
        with rasterio.open(paths[role]) as ds:
            arr = ds.read()
        p = tmp_path / f"{role}.png"
        iio.imwrite(p, np.moveaxis(arr, 0, -1))
        pngs.append(p)
    gsd = pair.before.gsd
    out = tmp_path / "c.geojson"
    res = run("detect", *pngs, "--gsd", gsd, "--after-gsd", pair.after.gsd, "-o", out)
    assert res.exit_code == 0, res.output
    fc = json.loads(out.read_text())
    assert fc["frame"] == "pixel"
    for f in fc["features"]:
        xs = np.array(f["geometry"]["coordinates"][0])[:, 0] if f["geometry"]["type"] == "Polygon" else None
        if xs is not None:
            assert xs.min() >= -5 and xs.max() <= pair.before.shape[1] + 5


def test_rio_plugin_runs_the_same_commands(tmp_path, scene):
    from rasterio.rio.main import main_group

    p = write_geotiff(tmp_path / "a.tif", scene.pixels, scene.grid)
    res = CliRunner().invoke(main_group, ["airdiff", "info", str(p), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["width"] == 160
    res = CliRunner().invoke(main_group, ["airdiff", "info", str(tmp_path / "missing.tif")])
    assert res.exit_code == 1 and "does not exist" in res.output and "Traceback" not in res.output


def test_false_colour_figure(tmp_path, demo_pair):
    """``figure --false-colour`` draws 4-band imagery in near-infrared, red, green; on 3-band
    imagery it stops at once with one line, before the comparison, and writes nothing.
    ``--hedged`` words the key as analysts do."""
    from airdiff.synth import make_pair, write_pair

    paths, _ = demo_pair
    out = tmp_path / "f.png"
    res = run("figure", paths["before"], paths["after"], "-o", out, "--false-colour")
    assert_one_line_error(res, 1, "near-infrared")
    assert not out.exists()
    pair = make_pair(seed=5, scenario="random", shape=(400, 500), gsd=1.0, bands=4,
                     misregistration="none", nuisances="none")
    four = write_pair(pair, tmp_path / "four")
    res = run("figure", four["before"], four["after"], "-o", out, "--false-colour")
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # as vector text, with the key in analysts' wording
    svg = tmp_path / "f.svg"
    res = run("figure", four["before"], four["after"], "-o", svg, "--false-colour", "--hedged")
    assert res.exit_code == 0, res.output
    text = svg.read_text()
    assert "false colour (NIR, red, green)" in text and "likely moved" in text and "appear burned" in text
