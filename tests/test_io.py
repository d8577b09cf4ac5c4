import os
from datetime import UTC, datetime

import numpy as np
import pytest
import rasterio
from affine import Affine

from airdiff.errors import InputError, InputFileError, OutputError
from airdiff.grid import Grid
from airdiff.io import (
    atomic_path,
    parse_time,
    read_scene,
    staged_folder,
    write_bytes,
    write_geotiff,
)
from tests.conftest import textured


def test_geotiff_round_trip_keeps_grid_time_bands_and_mask(tmp_path, scene):
    valid = np.ones(scene.shape, bool)
    valid[:10] = False
    path = write_geotiff(tmp_path / "s.tif", scene.pixels, scene.grid, valid=valid,
                         band_names=("red", "green", "blue"),
                         tags={"ACQUISITION_TIME": "2024-05-01T09:30:00Z"})
    with rasterio.open(path) as ds:
        assert ds.driver == "GTiff" and ds.profile["tiled"]
        assert ds.crs.to_epsg() == 32636
    s = read_scene(path)
    assert s.grid.same_as(scene.grid)
    assert s.acquired == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert s.band_names == ("red", "green", "blue")
    assert not s.valid[:10].any() and s.valid[10:].all()
    np.testing.assert_array_equal(s.pixels[:, 10:], scene.pixels[:, 10:])


def test_a_near_infrared_fourth_byte_band_is_data_not_alpha(tmp_path, scene):
    """GDAL marks the fourth band of a 4-band byte GeoTIFF as alpha unless told otherwise.
    airdiff writes RGB + NIR with it unmarked, reads a naively written one (flagged alpha,
    named 'nir', or unnamed but no mask) as four bands, and still takes a true alpha band for
    the mask."""
    from rasterio.enums import ColorInterp

    from airdiff.io import RasterSource

    nir = (255 - scene.pixels[0]).astype(np.uint8)
    rgbn = np.concatenate([scene.pixels, nir[None]])
    names = ("red", "green", "blue", "nir")
    for cog in (True, False):
        path = write_geotiff(tmp_path / f"w{cog}.tif", rgbn, scene.grid, band_names=names, cog=cog)
        with rasterio.open(path) as ds:
            assert ds.colorinterp[3] != ColorInterp.alpha
        s = read_scene(path)
        assert s.band_names == names and s.valid.all()
        np.testing.assert_array_equal(s.pixels[3], nir)
    profile = dict(driver="GTiff", count=4, dtype="uint8", height=scene.shape[0], width=scene.shape[1],
                   crs=scene.grid.crs, transform=scene.grid.transform)
    naive = tmp_path / "naive.tif"
    with rasterio.open(naive, "w", **profile) as dst:
        dst.write(rgbn)
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)
    with rasterio.open(naive) as ds:
        assert ds.colorinterp[3] == ColorInterp.alpha  # what GDAL does by default
    s = read_scene(naive)
    assert s.band_names == names and s.valid.all()
    np.testing.assert_array_equal(s.pixels[3], nir)
    assert RasterSource(naive).count == 4
    # and unnamed: a band of many values is no transparency mask
    unnamed = tmp_path / "unnamed.tif"
    with rasterio.open(unnamed, "w", **profile) as dst:
        dst.write(rgbn)
    s = read_scene(unnamed)
    assert s.count == 4 and s.band_names[3] == "nir" and s.valid.all()
    # a true alpha band (no name, 0 where transparent) is the mask
    alpha = np.full(scene.shape, 255, np.uint8)
    alpha[:10] = 0
    rgba = tmp_path / "rgba.tif"
    with rasterio.open(rgba, "w", **profile) as dst:
        dst.write(np.concatenate([scene.pixels, alpha[None]]))
    s = read_scene(rgba)
    assert s.count == 3 and not s.valid[:10].any() and s.valid[10:].all()


def test_png_needs_gsd_and_then_reads_in_pixel_frame(tmp_path):
    import imageio.v3 as iio

    p = tmp_path / "shot.png"
    iio.imwrite(p, np.moveaxis(textured((50, 70)), 0, -1))
    with pytest.raises(InputError, match="--gsd"):
        read_scene(p)
    s = read_scene(p, gsd=0.4, acquired="2024-01-02T03:04Z")
    assert s.grid.crs is None and s.gsd == pytest.approx(0.4) and s.shape == (50, 70)
    assert s.acquired.hour == 3


@pytest.mark.parametrize("content, match", [
    (None, "does not exist"),
    (b"this is not an image", "not a raster"),
])
def test_bad_inputs_raise_one_line_actionable(tmp_path, content, match):
    p = tmp_path / "x.tif"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(InputFileError, match=match) as ei:
        read_scene(p)
    assert "\n" not in str(ei.value)


def test_parse_time_formats():
    assert parse_time("2023:08:31 13:03:00") == datetime(2023, 8, 31, 13, 3, tzinfo=UTC)
    assert parse_time("2023-08-31T16:03:00+03:00").hour == 13
    with pytest.raises(InputError, match="ISO-8601"):
        parse_time("last tuesday")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["out.bin"]


def test_unwritable_output_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        write_bytes(tmp_path / "missing" / "f.json", b"{}")


def test_staged_folder_moves_all_or_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError), staged_folder(out) as st:
        (st / "a.txt").write_text("a")
        raise ValueError("boom")
    assert list(out.iterdir()) == []
    with staged_folder(out) as st:
        (st / "a.txt").write_text("a")
    assert [f.name for f in out.iterdir()] == ["a.txt"]


def test_cog_output_is_cloud_optimized(tmp_path):
    g = Grid((600, 700), Affine(0.5, 0, 500_000, 0, -0.5, 5_600_000), "EPSG:32636")
    arr = textured((600, 700), bands=1).astype(np.float32)
    path = write_geotiff(tmp_path / "m.tif", arr, g, nodata=float("nan"))
    with rasterio.open(path) as ds:
        assert ds.profile["blockxsize"] == 512 and ds.overviews(1)
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_output_folder_is_created_with_parents_or_refused_early(tmp_path):
    from airdiff.io import check_output_folder

    out = tmp_path / "a" / "b"
    with staged_folder(out) as st:
        (st / "x.txt").write_text("x")
    assert (out / "x.txt").read_text() == "x"
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="is a file"):
        check_output_folder(tmp_path / "file" / "sub")


def test_outputs_get_the_usual_file_mode(tmp_path):
    old = os.umask(0o022)
    try:
        p = write_bytes(tmp_path / "f.json", b"{}")
    finally:
        os.umask(old)
    assert (p.stat().st_mode & 0o777) == 0o644
