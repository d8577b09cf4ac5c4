"""The only module that opens paths: reading scenes and layers, writing outputs atomically."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning, RasterioError, RasterioIOError

from .errors import InputError, InputFileError, OutputError
from .grid import Grid
from .scene import Scene

__all__ = [
    "read_scene",
    "write_geotiff",
    "write_bytes",
    "write_text",
    "atomic_path",
    "staged_folder",
    "check_writable",
    "read_geojson",
    "parse_time",
    "sha256",
    "open_source",
    "RasterSource",
    "block_writer",
    "write_products",
    "raster_shape",
]

log = logging.getLogger(__name__)

_TIME_TAGS = (
    "ACQUISITION_TIME",
    "ACQUISITIONDATETIME",
    "ACQUISITION_DATETIME",
    "DATETIME",
    "TIFFTAG_DATETIME",
    "DATE_TIME",
    "SENSING_TIME",
)


# -- reading ------------------------------------------------------------------------
def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 or TIFF ('YYYY:MM:DD HH:MM:SS') time; naive values are UTC.

    Examples
    --------
    >>> parse_time("2023:08:31 13:03:00").isoformat()
    '2023-08-31T13:03:00+00:00'
    >>> parse_time("2023-08-31T16:03+03:00").isoformat()
    '2023-08-31T13:03:00+00:00'
    """
    s = str(text).strip()
    if len(s) >= 10 and s[4] == ":" and s[7] == ":":
        s = s[:4] + "-" + s[5:7] + "-" + s[8:]
    s = s.replace("Z", "+00:00")
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        raise InputError(
            f"cannot read time {text!r}; give it as ISO-8601, e.g. 2023-08-31T13:03Z"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def _time_from_tags(tags: dict) -> datetime | None:
    for key in _TIME_TAGS:
        if key in tags and str(tags[key]).strip():
            try:
                return parse_time(tags[key])
            except InputError:
                log.debug("unparseable time tag %s=%r", key, tags[key])
    return None


#: Band names written as, and read from, GDAL colour interpretations.
_COLOUR_INTERP = {"red": ColorInterp.red, "green": ColorInterp.green, "blue": ColorInterp.blue,
                  "gray": ColorInterp.gray}
#: Band descriptions read as near-infrared.
_NIR_ALIASES = ("near-infrared", "near infrared", "nir1")
#: Band descriptions that name an image band.
_SPECTRAL = (*_COLOUR_INTERP, "nir", *_NIR_ALIASES)


def _alpha_bands(ds) -> list[int]:
    """Indexes of the bands that are a transparency mask, not an image band.

    GDAL marks the fourth band of a 4-band byte image as alpha unless told otherwise, so a
    band flagged alpha is data when it is named after a spectral band (RGB + NIR written
    naively), or, unnamed, when it does not look like a mask: under 99 % of a sample of it
    is 0 or full scale (a near-infrared band, not a transparency).
    """
    out = []
    for i in ds.indexes:
        if ds.colorinterp[i - 1] != ColorInterp.alpha:
            continue
        desc = (ds.descriptions[i - 1] or "").strip().lower()
        if desc in _SPECTRAL:
            continue
        if not desc and np.issubdtype(np.dtype(ds.dtypes[i - 1]), np.integer):
            full = np.iinfo(np.dtype(ds.dtypes[i - 1])).max
            sample = ds.read(i, out_shape=(min(ds.height, 256), min(ds.width, 256)))
            if np.mean((sample == 0) | (sample == full)) < 0.99:
                log.info("%s: band %d is flagged alpha but is no mask: read as an image band",
                         ds.name, i)
                continue
        out.append(i)
    return out


def no_alpha(count: int) -> dict:
    """GeoTIFF creation option keeping a fourth band (near-infrared) from being marked alpha."""
    return {"alpha": "UNSPECIFIED"} if count >= 4 else {}


def label_bands(dst, band_names, count: int) -> None:
    """Name the first ``count`` bands of ``dst`` after ``band_names`` and, for 4 bands or more,
    set their colour interpretation: red, green, blue, gray as such, anything else
    (near-infrared) undefined, never alpha."""
    for i, name in enumerate(band_names[:count], start=1):
        dst.set_band_description(i, name)
    if len(band_names) >= count >= 4:
        dst.colorinterp = [_COLOUR_INTERP.get(n, ColorInterp.undefined) for n in band_names[:count]]


def _band_names(ds, keep: list[int]) -> tuple[str, ...]:
    names = []
    ci_map = {ci: name for name, ci in _COLOUR_INTERP.items()}
    for i in keep:
        desc = (ds.descriptions[i - 1] or "").strip().lower()
        ci = ds.colorinterp[i - 1]
        if desc in _COLOUR_INTERP or desc == "nir":
            names.append(desc)
        elif desc in _NIR_ALIASES:
            names.append("nir")
        elif ci in ci_map:
            names.append(ci_map[ci])
        elif len(keep) == 4 and len(names) == 3:
            names.append("nir")
        elif len(keep) >= 3 and len(names) < 3:
            names.append(("red", "green", "blue")[len(names)])
        else:
            names.append(f"band{i}")
    return tuple(names)


def read_scene(
    path,
    *,
    gsd: float | None = None,
    acquired: datetime | str | None = None,
    name: str | None = None,
    credit: str = "",
) -> Scene:
    """Read a raster into a :class:`Scene`.

    Parameters
    ----------
    path : str or Path
        Any GDAL-readable raster with a CRS (GeoTIFF, COG, JP2, ...), or a PNG/JPEG without
        georeference together with ``gsd``.
    gsd : float, optional
        Ground sample distance in metres for a non-georeferenced image (pixel frame).
        Ignored when the file has a CRS.
    acquired : datetime or str, optional
        Capture time; overrides the file's time tags. Naive values are UTC.
    name, credit : str
        Label and provider credit; ``name`` defaults to the file stem.

    Raises
    ------
    InputFileError
        Missing or unreadable file, or not a raster.
    InputError
        No georeference and no ``gsd``; unsupported data type.
    """
    p = _existing(path, _IMAGE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(p) as ds:
                return _read_dataset(ds, p, gsd=gsd, acquired=acquired, name=name, credit=credit)
    except RasterioIOError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "unknown format"
        raise InputFileError(
            f"{p} is not a raster that can be read ({msg}); give a GeoTIFF/COG, "
            "or a PNG/JPEG with --gsd"
        ) from None


def _read_dataset(ds, p: Path, *, gsd, acquired, name, credit) -> Scene:
    georef = ds.crs is not None and not ds.transform.is_identity
    if georef:
        grid = Grid((ds.height, ds.width), ds.transform, ds.crs)
    else:
        if gsd is None:
            raise InputError(
                f"{p.name} has no georeference; pass --gsd METRES (its ground sample "
                "distance) to compare it in the pixel frame"
            )
        if not gsd > 0:
            raise InputError(f"--gsd must be a positive number of metres, got {gsd}")
        grid = Grid.pixel_frame((ds.height, ds.width), float(gsd))
    if gsd is not None and georef:
        log.info("%s is georeferenced; ignoring the given GSD %.3f m", p.name, gsd)

    alpha = _alpha_bands(ds)
    keep = [i for i in ds.indexes if i not in alpha][:4]
    if not keep:
        raise InputError(f"{p.name} has no image bands")
    pixels = ds.read(keep)
    dtype = pixels.dtype
    if dtype not in (np.uint8, np.uint16) and not np.issubdtype(dtype, np.floating):
        if np.issubdtype(dtype, np.integer):
            pixels = np.clip(pixels, 0, 65535).astype(np.uint16)
        else:
            raise InputError(f"{p.name}: unsupported data type {dtype}; convert it to 8/16-bit")

    mask = ds.dataset_mask() > 0
    if alpha:
        mask &= ds.read(alpha[0]) > 0
    if np.issubdtype(pixels.dtype, np.floating):
        mask &= np.all(np.isfinite(pixels), axis=0)
        pixels = np.nan_to_num(pixels, nan=0.0)
    tags = {**ds.tags(), **{k: v for k, v in ds.tags(ns="IMAGE_STRUCTURE").items() if k == "X"}}
    if isinstance(acquired, str):
        acquired = parse_time(acquired)
    when = acquired if acquired is not None else _time_from_tags(tags)
    if when is None:
        log.info("%s carries no acquisition time; pass --before-time/--after-time", p.name)
    credit = credit or tags.get("AIRDIFF_CREDIT", "") or tags.get("COPYRIGHT", "")
    return Scene(
        pixels=pixels,
        grid=grid,
        valid=mask,
        acquired=when,
        name=name or p.stem,
        credit=credit,
        band_names=_band_names(ds, keep),
        tags=dict(tags),
    )


def read_geojson(path) -> dict:
    """Read a GeoJSON file as a dict; one-line errors for missing or malformed files."""
    p = _existing(path, "a GeoJSON file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"{p} is not valid GeoJSON ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict) or data.get("type") not in ("FeatureCollection", "Feature"):
        raise InputFileError(f"{p} is not a GeoJSON Feature or FeatureCollection")
    if data["type"] == "Feature":
        data = {"type": "FeatureCollection", "features": [data]}
    return data


def read_job(path) -> dict:
    """Read a TOML job file (see :func:`airdiff.pipeline.load_job`)."""
    import tomllib

    p = _existing(path, "a TOML job file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputFileError(f"{p} is not a valid TOML job file ({exc})") from None


#: what an image input is, for the one-line errors
_IMAGE = "an image file (GeoTIFF, COG, PNG or JPEG)"


def _existing(path, what: str) -> Path:
    """``path`` as a Path; a one-line :class:`InputFileError` when there is nothing there, or
    a folder where ``what`` (e.g. ``'a GeoJSON file'``) was wanted."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p} does not exist; check the path")
    if p.is_dir():
        raise InputFileError(f"{p} is a folder; give {what}")
    return p


def sha256(path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    import hashlib

    p = _existing(path, _IMAGE)
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


# -- writing ------------------------------------------------------------------------
def check_writable(path) -> Path:
    """Raise :class:`OutputError` unless ``path`` can be created (its folder exists, is writable)."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"cannot write {p}: folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise OutputError(f"cannot write {p}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write {p}: folder {parent} is not writable")
    if p.is_dir():
        raise OutputError(f"cannot write {p}: it is a folder; give a file name")
    return p


@contextlib.contextmanager
def atomic_path(path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the same folder; rename it onto ``path`` on success.

    On any error the temporary file is removed, so ``path`` is either the complete new
    file or untouched.
    """
    p = check_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=suffix or p.suffix, dir=p.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def check_output_folder(folder) -> Path:
    """Raise :class:`OutputError` unless ``folder`` is, or can be created as, a writable folder.

    Cheap, so commands call it before any long computation.
    """
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise OutputError(f"cannot write into {out}: it is a file; give a folder")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot create {out}: {probe} is a file")
    if not os.access(probe, os.W_OK):
        raise OutputError(f"cannot write into {out}: folder {probe} is not writable")
    return out


@contextlib.contextmanager
def staged_folder(folder) -> Iterator[Path]:
    """Stage several outputs in a hidden folder inside ``folder``; move them in on success.

    ``folder`` is created if needed, with its parents. On error nothing of the staged
    outputs is left behind.
    """
    out = check_output_folder(folder)
    if not out.exists():
        try:
            out.mkdir(parents=True)
        except OSError as exc:
            raise OutputError(f"cannot create {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK):
        raise OutputError(f"cannot write into {out}: the folder is not writable")
    stage = Path(tempfile.mkdtemp(prefix=".airdiff-", dir=out))
    try:
        yield stage
        # report.json goes last: its presence marks a complete set of outputs
        for f in sorted(stage.iterdir(), key=lambda f: (f.name == "report.json", f.name)):
            os.replace(f, out / f.name)
    finally:
        import shutil

        shutil.rmtree(stage, ignore_errors=True)


def clear_stale_stages(folder) -> int:
    """Remove staging folders left by a process that died mid-write; returns how many.

    Only for a folder that has a single writer (one batch pair), before it writes again.
    """
    import shutil

    n = 0
    out = Path(folder)
    if out.is_dir():
        for d in out.glob(".airdiff-*"):
            shutil.rmtree(d, ignore_errors=True)
            n += 1
    return n


def write_geotiff(
    path,
    pixels: np.ndarray,
    grid: Grid,
    *,
    valid: np.ndarray | None = None,
    nodata: float | None = None,
    tags: dict | None = None,
    band_names: tuple[str, ...] = (),
    cog: bool = True,
    compress: str = "deflate",
) -> Path:
    """Write a (bands, rows, cols) array on ``grid`` as a (Cloud-Optimized) GeoTIFF, atomically.

    Pixels where ``valid`` is False are set to ``nodata`` (0 when not given) and an internal
    mask is written. A pixel-frame grid is written without CRS, with its pixel transform.
    """
    arr = np.asarray(pixels)
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.shape[1:] != grid.shape:
        raise ValueError(f"pixels {arr.shape[1:]} do not match grid {grid.shape}")
    if valid is not None:
        fill = 0 if nodata is None else nodata
        arr = np.where(valid[np.newaxis], arr, np.asarray(fill, dtype=arr.dtype))
    profile = {
        "count": arr.shape[0],
        "height": grid.height,
        "width": grid.width,
        "dtype": arr.dtype,
        "crs": grid.crs,
        "transform": grid.transform if grid.crs is not None else Affine.identity(),
        "compress": compress,
        **no_alpha(arr.shape[0]),
    }
    if nodata is not None:
        profile["nodata"] = nodata
    if cog:
        profile.update(driver="COG", blocksize=512, overviews="auto", BIGTIFF="IF_SAFER")
    else:
        profile.update(driver="GTiff", tiled=True, blockxsize=256, blockysize=256)
    if compress == "jpeg":
        profile["jpeg_quality"] = 90
        if arr.shape[0] == 3 and arr.dtype == np.uint8:
            profile["photometric"] = "YCBCR"
    with atomic_path(path, suffix=".tif") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            if cog:
                # the COG driver is create-copy only: build in memory, then copy out
                cog_opts = ("blocksize", "overviews", "BIGTIFF", "compress")
                mem_profile = {k: v for k, v in profile.items() if k not in (*cog_opts, "driver")}
                with rasterio.MemoryFile() as mem:
                    with mem.open(driver="GTiff", **mem_profile) as dst:
                        _fill(dst, arr, valid, tags, band_names)
                    with mem.open() as src:
                        rasterio.shutil.copy(src, tmp, driver="COG",
                                             **{k: profile[k] for k in cog_opts})
            else:
                with rasterio.open(tmp, "w", **profile) as dst:
                    _fill(dst, arr, valid, tags, band_names)
    return Path(path)


def _fill(dst, arr, valid, tags, band_names):
    dst.write(arr)
    if valid is not None and dst.nodata is None:
        dst.write_mask(valid.astype(np.uint8) * 255)
    if tags:
        dst.update_tags(**{k: str(v) for k, v in tags.items()})
    label_bands(dst, band_names, arr.shape[0])


import rasterio.shutil  # noqa: E402  (submodule used by write_geotiff)


def write_gpkg(path, layers: list[dict], crs) -> bool:
    """Write vector layers (see :func:`airdiff.export.gpkg_layers`) to a GeoPackage atomically.

    Needs the optional ``pyogrio`` package (``pip install 'airdiff[gis]'``); returns False and
    logs a warning when it is missing.
    """
    try:
        from pyogrio.raw import write as ogr_write
    except ImportError:
        log.warning("GeoPackage skipped: install the optional 'gis' extra (pyogrio)")
        return False
    wkt = crs.to_wkt() if crs is not None else None
    with atomic_path(path, suffix=".gpkg") as tmp:
        tmp.unlink()  # the OGR driver creates the file itself
        for lyr in layers:
            ogr_write(tmp, lyr["geometry"], list(lyr["fields"].values()),
                      fields=list(lyr["fields"].keys()), layer=lyr["layer"], driver="GPKG",
                      crs=wkt, geometry_type=lyr["geometry_type"], append=tmp.exists())
    return True


def write_comparison(
    comparison,
    folder,
    *,
    inputs: dict | None = None,
    preset: str = "web",
    blink_ms: int = 800,
    progress=None,
) -> list[str]:
    """Write every output of a comparison into ``folder``; nothing half-written on failure.

    Files: ``aligned.tif`` and ``change_magnitude.tif`` (COG), ``changes.geojson``,
    ``changes.csv``, ``changes.gpkg`` (with the ``gis`` extra), ``figure.png``,
    ``changemap.png``, ``blink.gif``, ``swipe.html`` and ``report.json``.
    Returns the file names written.
    """
    cmp = comparison
    grid = cmp.grid
    step = progress or (lambda name: None)
    written: list[str] = []
    with staged_folder(folder) as stage:
        a = cmp.aligned
        write_geotiff(stage / "aligned.tif", a.pixels, grid, valid=a.valid,
                      band_names=a.band_names, tags=time_tags(a.acquired))
        written.append("aligned.tif")
        step("aligned.tif")
        write_geotiff(stage / "change_magnitude.tif", cmp.changemap.magnitude.astype("float32"),
                      grid, valid=cmp.changemap.judged, nodata=float("nan"),
                      band_names=("change_magnitude",))
        written.append("change_magnitude.tif")
        step("change_magnitude.tif")
        write_products(cmp, stage, folder, written=written, inputs=inputs, preset=preset,
                       blink_ms=blink_ms, progress=progress)
    return written


def write_products(comparison, stage, folder, *, written: list[str], inputs: dict | None = None,
                   preset: str = "web", blink_ms: int = 800, progress=None,
                   report_extra: dict | None = None, figure_kw: dict | None = None) -> list[str]:
    """Write the vector, figure and report outputs of a comparison into a staging folder.

    The part of :func:`write_comparison` after the rasters (also used by the tiled path,
    which writes its rasters block by block). ``written`` (names already in ``stage``) is
    extended in place; ``report_extra`` replaces top-level keys of the report.
    """
    from . import export, figures

    cmp = comparison
    grid = cmp.grid
    step = progress or (lambda name: None)

    def put(name, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        write_bytes(Path(stage) / name, data)
        written.append(name)
        step(name)

    put("changes.geojson", json.dumps(export.changes_to_geojson(cmp.changes, grid), indent=1))
    put("changes.csv", export.changes_to_csv(cmp.changes, grid))
    if write_gpkg(Path(stage) / "changes.gpkg", export.gpkg_layers(cmp), grid.crs):
        written.append("changes.gpkg")
    step("changes.gpkg")
    fig = figures.compare_figure(cmp, preset=preset, **(figure_kw or {}))
    put("figure.png", figures.render_bytes(fig, fmt="png", preset=preset))
    put("changemap.png", figures.render_bytes(figures.change_map_figure(cmp), fmt="png"))
    put("blink.gif", figures.blink_gif(cmp, duration_ms=blink_ms))
    put("swipe.html", figures.swipe_html(cmp))
    outputs = {name: str(Path(folder) / name) for name in [*written, "report.json"]}
    rep = export.report(cmp, inputs=inputs, outputs=outputs)
    rep.update(report_extra or {})
    put("report.json", json.dumps(rep, indent=2))
    return written


#: Number of files :func:`write_comparison` reports progress for.
COMPARISON_OUTPUTS = 10


def time_tags(acquired) -> dict:
    if acquired is None:
        return {}
    return {"ACQUISITION_TIME": acquired.isoformat().replace("+00:00", "Z"),
            "TIFFTAG_DATETIME": acquired.strftime("%Y:%m:%d %H:%M:%S")}


# -- larger-than-memory reading and writing -----------------------------------------
#: GDAL block cache (MB) while a tiled comparison streams its inputs and outputs.
STREAM_CACHE_MB = 256


def raster_shape(path) -> tuple[int, int, int]:
    """(bands, rows, cols) of a raster, read from its header only."""
    p = _existing(path, _IMAGE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(p) as ds:
                return ds.count, ds.height, ds.width
    except RasterioIOError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "unknown format"
        raise InputFileError(f"{p} is not a raster that can be read ({msg}); give a GeoTIFF/COG, "
                             "or a PNG/JPEG with --gsd") from None


def stream_env():
    """GDAL settings for streaming large rasters: a bounded block cache."""
    from rasterio.env import Env

    return Env(GDAL_CACHEMAX=STREAM_CACHE_MB)


class RasterSource:
    """A raster kept open for windowed and decimated reads (the larger-than-memory path).

    Implements the :class:`airdiff.scene.SceneSource` protocol: :meth:`read` returns a
    :class:`Scene` of one window, at full resolution or decimated by block means. Full
    resolution 8-bit pixels keep their dtype; anything else (other types, decimated reads) is
    returned as float32 divided by one scale (:attr:`scale`) fixed for the whole raster, so
    that windows agree with each other and with :meth:`Scene.as_float`.

    Use :func:`open_source`; close it (or use it as a context manager) when done.
    """

    def __init__(self, path, *, gsd=None, acquired=None, name=None, credit=""):
        p = _existing(path, _IMAGE)
        self.path = p
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._ds = rasterio.open(p)
        except RasterioIOError as exc:
            msg = str(exc).splitlines()[0] if str(exc) else "unknown format"
            raise InputFileError(f"{p} is not a raster that can be read ({msg}); give a GeoTIFF/COG, "
                                 "or a PNG/JPEG with --gsd") from None
        ds = self._ds
        self._warp_to = False
        georef = ds.crs is not None and not ds.transform.is_identity
        if georef:
            self.grid = Grid((ds.height, ds.width), ds.transform, ds.crs)
        else:
            if gsd is None:
                self.close()
                raise InputError(f"{p.name} has no georeference; pass --gsd METRES (its ground sample "
                                 "distance) to compare it in the pixel frame")
            if not gsd > 0:
                self.close()
                raise InputError(f"--gsd must be a positive number of metres, got {gsd}")
            self.grid = Grid.pixel_frame((ds.height, ds.width), float(gsd))
        self.native_grid = self.grid
        alpha = _alpha_bands(ds)
        self._alpha = alpha[0] if alpha else None
        self._keep = [i for i in ds.indexes if i not in alpha][:4]
        if not self._keep:
            self.close()
            raise InputError(f"{p.name} has no image bands")
        dt = np.dtype(ds.dtypes[self._keep[0] - 1])
        if not (dt == np.uint8 or np.issubdtype(dt, np.integer) or np.issubdtype(dt, np.floating)):
            self.close()
            raise InputError(f"{p.name}: unsupported data type {dt}; convert it to 8/16-bit")
        self.dtype = dt
        tags = {**ds.tags(), **{k: v for k, v in ds.tags(ns="IMAGE_STRUCTURE").items() if k == "X"}}
        self.tags = dict(tags)
        if isinstance(acquired, str):
            acquired = parse_time(acquired)
        self.acquired = acquired if acquired is not None else _time_from_tags(tags)
        self.name = name or p.stem
        self.credit = credit or tags.get("AIRDIFF_CREDIT", "") or tags.get("COPYRIGHT", "")
        self.band_names = _band_names(ds, self._keep)
        self.count = len(self._keep)
        self.scale = 255.0 if dt == np.uint8 else self._robust_scale()

    # -- protocol ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape

    def _robust_scale(self) -> float:
        """Full-scale value of non-8-bit data from a decimated sample (as Scene.scale_max)."""
        if np.issubdtype(self.dtype, np.floating):
            return 1.0
        f = max(1, int(np.ceil(max(self.grid.shape) / 1024)))
        s = self._read_raw(0, 0, *self.grid.shape, factor=f, nearest=True)
        px, valid = s
        v = px[:, valid] if valid.any() else px.reshape(px.shape[0], -1)
        return max(float(np.percentile(v, 99.9)), 1.0) if v.size else 1.0

    def _read_raw(self, row_off, col_off, height, width, *, factor=1, nearest=False, native=False):
        """(pixels, valid) of a window; through the target grid unless ``native``."""
        from rasterio.enums import Resampling
        from rasterio.windows import Window

        if self._warp_to and not native:
            g = self.grid.window(row_off, col_off, height, width)
            if factor > 1:
                from affine import Affine as _Affine

                shape = (max(1, height // factor), max(1, width // factor))
                g = Grid(shape, g.transform @ _Affine.scale(width / shape[1], height / shape[0]), g.crs)
            return self._read_warped(g, factor)
        ds = self._ds
        win = Window(col_off, row_off, width, height)
        kw = {}
        if factor > 1:
            kw = {"out_shape": (max(1, height // factor), max(1, width // factor)),
                  "resampling": Resampling.nearest if nearest else Resampling.average}
        if kw:
            px = ds.read(self._keep, window=win, out_shape=(len(self._keep), *kw["out_shape"]),
                         resampling=kw["resampling"], out_dtype="float32")
        else:
            px = ds.read(self._keep, window=win)
        mkw = {"out_shape": kw["out_shape"], "resampling": Resampling.average} if kw else {}
        mask = ds.read_masks(self._keep[0], window=win, **mkw)
        if self._alpha is not None:
            mask = np.minimum(mask, ds.read(self._alpha, window=win, **mkw))
        # a decimated block is valid only when all of it is
        valid = mask >= 255
        if np.issubdtype(px.dtype, np.floating):
            valid &= np.all(np.isfinite(px), axis=0)
            px = np.nan_to_num(px, nan=0.0)
        return px, valid

    def read(self, row_off: int, col_off: int, height: int, width: int, *, factor: int = 1) -> Scene:
        """The window (``row_off``, ``col_off``, ``height``, ``width``) of :attr:`grid` as a Scene.

        The window is clipped to the raster. With ``factor`` > 1 each output pixel is the mean
        of a ``factor`` x ``factor`` block (valid only when the whole block is), and the grid
        is the window's grid with pixels ``factor`` times larger.
        """
        r0, c0 = max(0, int(row_off)), max(0, int(col_off))
        r1 = min(self.grid.height, int(row_off) + int(height))
        c1 = min(self.grid.width, int(col_off) + int(width))
        if r1 <= r0 or c1 <= c0:
            raise ValueError(f"window {row_off, col_off, height, width} is outside the raster")
        f = max(1, int(factor))
        if f > 1:
            r1 = r0 + max(f, (r1 - r0) // f * f)
            c1 = c0 + max(f, (c1 - c0) // f * f)
        px, valid = self._read_raw(r0, c0, r1 - r0, c1 - c0, factor=f)
        if px.dtype != np.uint8 or f > 1:
            px = (px.astype(np.float32) / np.float32(self.scale)).astype(np.float32)
        g = self.grid.window(r0, c0, r1 - r0, c1 - c0)
        if f > 1:
            from affine import Affine as _Affine

            g = Grid(px.shape[1:], g.transform @ _Affine.scale(f, f), g.crs)
        return Scene(pixels=px, grid=g, valid=valid, acquired=self.acquired, name=self.name,
                     credit=self.credit, band_names=self.band_names, tags=dict(self.tags))

    def on_grid(self, grid: Grid) -> RasterSource:
        """Read this raster resampled (bilinear) onto ``grid`` from now on.

        The windowed equivalent of :func:`airdiff.register.common_grid` for georeferenced
        rasters: each window is read from the native raster (with a margin) and reprojected
        in memory; a decimated window is reprojected from a decimated read. Returns ``self``.
        """
        if self.grid.same_as(grid):
            return self
        if grid.crs is None or self.native_grid.crs is None:
            raise InputError("windowed reprojection needs two georeferenced rasters")
        self._warp_to = True
        self.grid = grid
        return self

    def _read_warped(self, tgt: Grid, factor: int):
        """Pixels and validity of the native raster resampled onto ``tgt`` (a window grid)."""
        from rasterio.enums import Resampling
        from rasterio.warp import reproject

        from .grid import _transformer

        nat = self.native_grid
        xs, ys = tgt.outline_xy(9)
        if tgt.crs != nat.crs:
            xs, ys = _transformer(tgt.crs.to_wkt(), nat.crs.to_wkt()).transform(xs, ys)
        rows, cols = nat.rowcol(xs, ys)
        m = 3 * factor + 2  # the kernel's reach, and a curved outline
        r0 = max(int(np.floor(np.min(rows))) - m, 0)
        c0 = max(int(np.floor(np.min(cols))) - m, 0)
        r1 = min(int(np.ceil(np.max(rows))) + m, nat.height)
        c1 = min(int(np.ceil(np.max(cols))) + m, nat.width)
        out = np.zeros((self.count, *tgt.shape), np.float32 if factor > 1 else self.dtype)
        valid = np.zeros(tgt.shape, np.uint8)
        if r1 - r0 < factor or c1 - c0 < factor:
            return out, valid.astype(bool)
        px, v = self._read_raw(r0, c0, r1 - r0, c1 - c0, factor=factor, native=True)
        src_t = nat.window(r0, c0, r1 - r0, c1 - c0).transform
        if factor > 1:
            from affine import Affine as _Affine

            src_t = src_t @ _Affine.scale((c1 - c0) / px.shape[2], (r1 - r0) / px.shape[1])
        kw = dict(src_transform=src_t, src_crs=nat.crs, dst_transform=tgt.transform,
                  dst_crs=tgt.crs)
        reproject(source=np.ascontiguousarray(px), destination=out,
                  resampling=Resampling.bilinear, num_threads=2, **kw)
        reproject(source=v.astype(np.uint8), destination=valid, src_nodata=0, dst_nodata=0,
                  resampling=Resampling.nearest, **kw)
        valid = valid.astype(bool)
        if factor == 1 and not valid.all():
            # as common_grid: a resampling kernel next to no-data mixes in fill values
            from scipy import ndimage as ndi

            valid = ndi.binary_erosion(valid, iterations=1, border_value=1)
        return out, valid

    def close(self) -> None:
        self._ds.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self) -> str:
        return f"RasterSource({str(self.path)!r}, {self.count}x{self.grid.height}x{self.grid.width})"


def open_source(path, *, gsd=None, acquired=None, name=None, credit="") -> RasterSource:
    """Open a raster for windowed reads; see :class:`RasterSource` and :func:`read_scene`."""
    return RasterSource(path, gsd=gsd, acquired=acquired, name=name, credit=credit)


class BlockWriter:
    """Sink for one raster written window by window (see :func:`block_writer`)."""

    def __init__(self, dst, fill, nodata):
        self._dst = dst
        self._fill = fill
        self._nodata = nodata
        self.windows_written = 0

    def write(self, pixels: np.ndarray, row_off: int, col_off: int, *, valid=None) -> None:
        """Write a (bands, rows, cols) block at (``row_off``, ``col_off``)."""
        from rasterio.windows import Window

        arr = np.asarray(pixels)
        if arr.ndim == 2:
            arr = arr[np.newaxis]
        win = Window(col_off, row_off, arr.shape[2], arr.shape[1])
        if valid is not None:
            arr = np.where(valid[np.newaxis], arr, np.asarray(self._fill, dtype=arr.dtype))
        self._dst.write(arr.astype(self._dst.dtypes[0], copy=False), window=win)
        if valid is not None and self._nodata is None:
            self._dst.write_mask(valid.astype(np.uint8) * 255, window=win)
        self.windows_written += 1


def _open_blocks(path, profile: dict, compress: str):
    """The tiled GeoTIFF that :func:`block_writer` fills: it is read once, by the copy to the
    COG, so it is compressed fast (ZSTD level 1) rather than small; with ``compress`` (the
    COG's) where this GDAL has no ZSTD."""
    try:
        return rasterio.open(path, "w", **profile, compress="zstd", zstd_level=1)
    except RasterioError:
        return rasterio.open(path, "w", **profile, compress=compress)


@contextlib.contextmanager
def block_writer(
    path,
    grid: Grid,
    *,
    count: int,
    dtype,
    nodata: float | None = None,
    tags: dict | None = None,
    band_names: tuple[str, ...] = (),
    compress: str = "deflate",
    blocksize: int = 512,
) -> Iterator[BlockWriter]:
    """Write a Cloud-Optimized GeoTIFF window by window, never holding the whole array.

    Yields a :class:`BlockWriter`; blocks go into a tiled GeoTIFF next to ``path``, which
    is copied to a COG (with overviews) when the block closes without error, then renamed
    onto ``path``. On error nothing is left behind. Write every window of the grid (with
    ``valid`` for a mask when ``nodata`` is None).
    """
    from rasterio.env import Env

    p = check_writable(path)
    fd, raw = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".blocks.tif", dir=p.parent)
    os.close(fd)
    raw = Path(raw)
    profile = {
        "driver": "GTiff", "count": count, "height": grid.height, "width": grid.width,
        "dtype": np.dtype(dtype).name, "crs": grid.crs,
        "transform": grid.transform if grid.crs is not None else Affine.identity(),
        "tiled": True, "blockxsize": blocksize, "blockysize": blocksize, "BIGTIFF": "IF_SAFER",
        **no_alpha(count),
    }
    if nodata is not None:
        profile["nodata"] = nodata
    try:
        with Env(GDAL_CACHEMAX=STREAM_CACHE_MB, GDAL_TIFF_INTERNAL_MASK=True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with _open_blocks(raw, profile, compress) as dst:
                    yield BlockWriter(dst, 0 if nodata is None else nodata, nodata)
                    if tags:
                        dst.update_tags(**{k: str(v) for k, v in tags.items()})
                    label_bands(dst, band_names, count)
                with atomic_path(p, suffix=".tif") as tmp:
                    with rasterio.open(raw) as src:
                        rasterio.shutil.copy(src, tmp, driver="COG", blocksize=blocksize,
                                             overviews="auto", BIGTIFF="IF_SAFER", compress=compress)
    finally:
        with contextlib.suppress(OSError):
            raw.unlink()
