"""Compose the stages: ``compare(before, after) -> Comparison``."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from .change import ChangeMap
from .objects.model import Aeroways, Aircraft, Change
from .register.model import Registration
from .scene import Scene

__all__ = ["Options", "Comparison", "compare", "compare_files", "FilesResult"]


@dataclass(frozen=True)
class Options:
    """Options of a comparison (all keyword, all with defaults)."""

    max_offset_m: float = 150.0
    max_rotation_deg: float = 5.0
    max_scale_change: float = 0.06
    local_warp: bool = True
    min_aircraft_m: float = 12.0
    credit: str = ""
    location: str = ""
    #: scenes larger than this (megapixels, either date) are compared tile by tile
    #: by :func:`compare_files` (see :mod:`airdiff.tiled`). Held whole, with its two dates
    #: on two threads, an 8 Mpx pair peaked at 2.1 GB and took longer than tile by tile
    #: (1.3 GB; benchmarks/results/scale.md)
    tiled_above_mpx: float = 6.0
    tile_px: int = 2048
    tile_overlap_m: float = 120.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Everything a comparison produced, immutable.

    Attributes
    ----------
    before : Scene
        The BEFORE scene (its grid is the common grid of all outputs).
    after : Scene
        The AFTER scene as loaded.
    aligned : Scene
        AFTER resampled onto ``before.grid`` (native radiometry; ``valid`` False off its footprint).
    normalised : Scene
        ``aligned`` with radiometry matched to BEFORE (float32, same scale as BEFORE).
    registration : Registration
    changemap : ChangeMap
    changes : tuple of Change
        Aircraft-level changes and obscured areas, ids from 1.
    aircraft_before, aircraft_after : tuple of Aircraft
        Aircraft found in each date (AFTER on the BEFORE grid).
    aeroways : Aeroways
    options : Options
    shadow_azimuth_deg : (float or None, float or None)
        Where the found aircraft's shadows fall in BEFORE and in AFTER, degrees clockwise
        from the grid's up (the sun's azimuth plus 180); None where they do not agree. A
        rough estimate, not a measurement: off by a median 9 deg on the benchmark scenes,
        but by up to 153 deg where shadows are a few pixels long (1 m pixels, a high sun),
        and unreliable where what is found is no aircraft (``benchmarks/results/decoys.md``).
        No flag depends on it.
    """

    before: Scene
    after: Scene
    aligned: Scene
    normalised: Scene
    registration: Registration
    changemap: ChangeMap
    changes: tuple[Change, ...]
    aircraft_before: tuple[Aircraft, ...] = ()
    aircraft_after: tuple[Aircraft, ...] = ()
    aeroways: Aeroways = field(default_factory=Aeroways)
    options: Options = field(default_factory=Options)
    shadow_azimuth_deg: tuple[float | None, float | None] = (None, None)

    @property
    def grid(self):
        return self.before.grid

    def counts(self) -> dict[str, int]:
        """Number of changes per class (every class present, zeros included)."""
        from .objects.model import CHANGE_CLASSES

        c = Counter(ch.cls for ch in self.changes)
        return {k: int(c.get(k, 0)) for k in CHANGE_CLASSES}

    @property
    def possible_decoys(self) -> int:
        """Number of changes flagged ``possible_decoy``."""
        return sum(1 for ch in self.changes if ch.possible_decoy)

    @property
    def summary(self) -> str:
        """One quotable line, e.g. ``2 burned · 11 moved (10 to taxiways, 1 to the runway)``."""
        from .objects import summarise

        return summarise(self.changes)


STAGES = ("align", "normalise", "change", "objects")


def compare(
    before: Scene,
    after: Scene,
    *,
    options: Options | None = None,
    aeroways: Aeroways | None = None,
    detector=None,
    external=None,
    changes=None,
    progress=None,
) -> Comparison:
    """Compare two scenes of the same airfield: align, normalise, detect, classify.

    Parameters
    ----------
    before, after : Scene
        Any CRS and GSD; a pixel-frame AFTER takes BEFORE's georeference.
    options : Options, optional
    aeroways : Aeroways, optional
        Airfield surfaces on BEFORE's grid; segmented automatically when not given.
    detector : Detector, optional
        Replaces the built-in aircraft detector.
    external : sequence of Aircraft, optional
        Extra detections (e.g. from another model), merged with the built-in ones.
    changes : sequence of Change, optional
        Known changes (e.g. read from an earlier ``changes.geojson``): detection is skipped.
    progress : callable, optional
        Called as ``progress(stage_name)`` after each of :data:`STAGES`.

    Returns
    -------
    Comparison

    Raises
    ------
    AlignmentError
        The scenes cannot be aligned, or the alignment is not trustworthy.
    NoOverlapError
        The scenes do not cover a common area.
    """
    from . import objects, radiometry
    from .change import change_map
    from .register import align

    opts = options or Options()
    step = progress or (lambda name: None)
    aligned, reg = align(
        before,
        after,
        max_offset_m=opts.max_offset_m,
        max_rotation_deg=opts.max_rotation_deg,
        max_scale_change=opts.max_scale_change,
        local=opts.local_warp,
    )
    step("align")
    normalised = radiometry.normalise(before, aligned)
    step("normalise")
    cm = change_map(before, normalised)
    step("change")
    if changes is not None:
        from .objects.model import Aeroways as _Aeroways

        res = objects.ObjectResult(
            changes=tuple(changes), aircraft_before=(), aircraft_after=(),
            aeroways=aeroways or _Aeroways(),
        )
    else:
        res = objects.find_changes(
            before,
            normalised,
            cm,
            aeroways=aeroways,
            detector=detector,
            external=external,
            min_aircraft_m=opts.min_aircraft_m,
        )
    step("objects")
    return Comparison(
        before=before,
        after=after,
        aligned=aligned,
        normalised=normalised,
        registration=reg,
        changemap=cm,
        changes=tuple(res.changes),
        aircraft_before=tuple(res.aircraft_before),
        aircraft_after=tuple(res.aircraft_after),
        aeroways=res.aeroways,
        options=opts,
        shadow_azimuth_deg=res.shadow_azimuth_deg,
    )


# -- files: in memory or tile by tile --------------------------------------------------
@dataclass(frozen=True)
class FilesResult:
    """What :func:`compare_files` wrote; ``possible_decoys`` counts the changes so flagged."""

    summary: str
    counts: dict
    written: tuple[str, ...]
    tiled: bool
    megapixels: float
    possible_decoys: int = 0


def _scene_info(src) -> dict:
    return {
        "name": src.name,
        "acquired": src.acquired.isoformat().replace("+00:00", "Z") if src.acquired else None,
        "shape": [src.count, *src.grid.shape],
        "dtype": str(src.dtype),
        "gsd_m": round(src.grid.gsd, 4),
        "crs": src.grid.crs.to_string() if src.grid.crs else None,
        "credit": src.credit,
    }


def compare_files(
    before,
    after,
    outdir,
    *,
    options: Options | None = None,
    gsd: float | None = None,
    before_gsd: float | None = None,
    after_gsd: float | None = None,
    before_time=None,
    after_time=None,
    credit: str = "",
    aeroways_path=None,
    inputs: dict | None = None,
    preset: str = "web",
    blink_ms: int = 800,
    preview_px: int = 2400,
    progress=None,
) -> FilesResult:
    """Compare two image files and write every output into ``outdir``.

    Scenes up to ``options.tiled_above_mpx`` megapixels are read whole and compared with
    :func:`compare`; larger ones are compared tile by tile (:func:`airdiff.tiled.compare_tiled`)
    with memory bounded by the tile size, not the scene size. Both write the same files
    (see :func:`airdiff.io.write_comparison`); for a tiled comparison the figures and their
    companions are drawn from decimated reads (at most ``preview_px`` on a side) and the
    report has a ``tiling`` entry.

    Parameters
    ----------
    before, after : str or Path
    outdir : str or Path
        Created if missing; nothing half-written on failure.
    options : Options, optional
    gsd, before_gsd, after_gsd, before_time, after_time, credit
        As :func:`airdiff.io.read_scene`.
    aeroways_path : str or Path, optional
        GeoJSON with OpenStreetMap aeroway tags.
    inputs : dict, optional
        Provenance of the inputs for the report (path and sha256 by role).
    progress : callable, optional
        Called as ``progress(what, done, total)``: ``what`` is 'comparing' (stages, or tiles
        when tiled) or 'writing'.

    Raises
    ------
    AlignmentError, NoOverlapError, InputError, OutputError
    """
    from . import io

    opts = options or Options()
    step = progress or (lambda what, done, total: None)
    io.check_output_folder(outdir)
    bg, ag = before_gsd or gsd, after_gsd or gsd
    _, hb, wb = io.raster_shape(before)
    _, ha, wa = io.raster_shape(after)
    mpx = max(hb * wb, ha * wa) / 1e6
    if mpx > opts.tiled_above_mpx:
        return _compare_files_tiled(before, after, outdir, opts=opts, bg=bg, ag=ag,
                                    before_time=before_time, after_time=after_time, credit=credit,
                                    aeroways_path=aeroways_path, inputs=inputs, preset=preset,
                                    blink_ms=blink_ms, preview_px=preview_px, step=step)
    from .export import aeroways_from_geojson

    b = io.read_scene(before, gsd=bg, acquired=before_time, name="before", credit=credit)
    a = io.read_scene(after, gsd=ag, acquired=after_time, name="after", credit=credit)
    aw = aeroways_from_geojson(io.read_geojson(aeroways_path), b.grid) if aeroways_path else None
    done = []

    def stage(name):
        done.append(name)
        step("comparing", len(done), len(STAGES))

    cmp = compare(b, a, options=opts, aeroways=aw, progress=stage)
    wrote = []

    def put(name):
        wrote.append(name)
        step("writing", len(wrote), io.COMPARISON_OUTPUTS)

    written = io.write_comparison(cmp, outdir, inputs=inputs, preset=preset, blink_ms=blink_ms,
                                  progress=put)
    return FilesResult(cmp.summary, cmp.counts(), tuple(written), False,
                       b.grid.height * b.grid.width / 1e6, cmp.possible_decoys)


def _compare_files_tiled(before, after, outdir, *, opts, bg, ag, before_time, after_time, credit,
                         aeroways_path, inputs, preset, blink_ms, preview_px, step) -> FilesResult:
    import math

    from . import io, tiled
    from .export import aeroways_from_geojson
    from .register import check_overlap

    with io.stream_env(), \
            io.open_source(before, gsd=bg, acquired=before_time, name="before", credit=credit) as bs, \
            io.open_source(after, gsd=ag, acquired=after_time, name="after", credit=credit) as as_:
        if bs.grid.is_georeferenced and as_.grid.is_georeferenced:
            check_overlap(bs.grid, as_.grid, margin_m=opts.max_offset_m, names=("before", "after"))
            as_.on_grid(bs.grid)
        elif abs(as_.grid.gsd / bs.grid.gsd - 1) > 1e-6:
            from .errors import InputError

            raise InputError(
                f"a tiled comparison of images without georeference needs the same GSD "
                f"(before {bs.grid.gsd:.3f} m, after {as_.grid.gsd:.3f} m); resample one of them, "
                "or raise the tiling threshold")
        aw = aeroways_from_geojson(io.read_geojson(aeroways_path), bs.grid) if aeroways_path else None
        grid = bs.grid
        written = ["aligned.tif", "change_magnitude.tif"]
        with io.staged_folder(outdir) as stage:
            out_dtype = as_.dtype if np.issubdtype(as_.dtype, np.integer) else np.float32
            with io.block_writer(stage / "aligned.tif", grid, count=as_.count, dtype=out_dtype,
                                 tags=io.time_tags(as_.acquired), band_names=as_.band_names) as w_al, \
                    io.block_writer(stage / "change_magnitude.tif", grid, count=1, dtype="float32",
                                    nodata=float("nan"), band_names=("change_magnitude",)) as w_mag:
                res = tiled.compare_tiled(bs, as_, options=opts, aeroways=aw, aligned_sink=w_al,
                                          magnitude_sink=w_mag,
                                          progress=lambda d, n: step("comparing", d, n))
            step("writing", 2, io.COMPARISON_OUTPUTS)
            f = max(1, math.ceil(max(grid.shape) / preview_px))
            h, w = grid.height // f * f, grid.width // f * f
            # on one scale with the insets, which are read at full resolution
            b_prev = tiled.read_scaled(bs, 0, 0, h, w, factor=f)
            with io.open_source(stage / "change_magnitude.tif", name="change") as m_src:
                m_prev = m_src.read(0, 0, h, w, factor=f)
            with io.open_source(stage / "aligned.tif", name=as_.name, acquired=as_.acquired,
                                credit=as_.credit) as al_src:
                a_prev = tiled.read_scaled(al_src, 0, 0, h, w, factor=f)
                cmp = tiled.preview_comparison(res, b_prev, a_prev, a_prev, m_prev, options=opts)
                extra = {"before": _scene_info(bs), "after": _scene_info(as_),
                         "change": {k + "_fraction": round(v, 4) for k, v in res.fractions.items()},
                         "tiling": {**res.tiling(), "preview_factor": f}}
                reader = tiled.inset_reader({"before": bs, "after": al_src}, grid)
                io.write_products(cmp, stage, outdir, written=written, inputs=inputs,
                                  preset=preset, blink_ms=blink_ms, report_extra=extra,
                                  figure_kw={"inset_reader": reader},
                                  progress=lambda name: step("writing", len(written),
                                                             io.COMPARISON_OUTPUTS))
    return FilesResult(cmp.summary, cmp.counts(), tuple(written), True, grid.height * grid.width / 1e6,
                       cmp.possible_decoys)


# -- batch jobs ------------------------------------------------------------------------
#: Keys a pair (or the job's [defaults]) may set besides before/after/name.
PAIR_KEYS = {
    "before", "after", "name", "gsd", "before_gsd", "after_gsd", "before_time", "after_time",
    "aeroways", "credit", "location", "max_offset_m", "local_warp", "min_aircraft_m",
    "tiled_above_mpx", "tile_px", "tile_overlap_m",
}


@dataclass(frozen=True)
class PairJob:
    """One pair of a batch job, with every path resolved."""

    name: str
    before: str
    after: str
    outdir: str
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PairResult:
    """What happened to one pair of a batch job."""

    name: str
    status: str  # 'ok', 'failed', 'skipped' (already done)
    seconds: float = 0.0
    summary: str = ""
    error: str = ""
    counts: dict = field(default_factory=dict)
    megapixels: float = 0.0
    outdir: str = ""
    possible_decoys: int = 0


def load_job(data: dict, *, base_dir=".") -> list[PairJob]:
    """Validate a parsed job file and return its pairs.

    The job format (TOML)::

        [defaults]            # optional: any pair key, plus `outdir`
        outdir = "results"
        credit = "Image © Provider"

        [[pair]]
        name = "base-a"       # optional: the output sub-folder (default: the BEFORE stem)
        before = "a/before.tif"
        after = "a/after.tif"
        max_offset_m = 300    # per-pair settings override the defaults

    Relative paths are relative to ``base_dir`` (the job file's folder).
    """
    from pathlib import Path

    from .errors import InputError

    base = Path(base_dir)
    defaults = dict(data.get("defaults", {}))
    outdir = base / defaults.pop("outdir", "airdiff-results")
    pairs = data.get("pair") or data.get("pairs")
    if not isinstance(pairs, list) or not pairs:
        raise InputError("the job file lists no pairs; add [[pair]] tables with before/after paths")
    unknown = set(defaults) - PAIR_KEYS
    if unknown:
        raise InputError(f"unknown [defaults] key(s) {sorted(unknown)}; allowed: {sorted(PAIR_KEYS)}")
    jobs, names = [], set()
    for i, p in enumerate(pairs, start=1):
        if not isinstance(p, dict) or "before" not in p or "after" not in p:
            raise InputError(f"pair {i} of the job needs both 'before' and 'after' paths")
        unknown = set(p) - PAIR_KEYS
        if unknown:
            raise InputError(f"pair {i}: unknown key(s) {sorted(unknown)}; allowed: {sorted(PAIR_KEYS)}")
        s = {**defaults, **p}
        name = str(s.pop("name", Path(s["before"]).stem))
        if name in names:
            raise InputError(f"pair {i}: the name {name!r} is used twice; give each pair a unique name")
        names.add(name)
        before, after = (str(base / s.pop(k)) for k in ("before", "after"))
        if "aeroways" in s:
            s["aeroways"] = str(base / s["aeroways"])
        jobs.append(PairJob(name=name, before=before, after=after,
                            outdir=str(outdir / name), settings=s))
    return jobs


def is_done(job: PairJob) -> bool:
    """True when the pair's outputs are complete (its report is written last)."""
    from pathlib import Path

    return (Path(job.outdir) / "report.json").exists()


def run_pair(job: PairJob) -> PairResult:
    """Compare one pair and write its outputs; never raises for a bad pair.

    The error of a failed pair is recorded in the result (and in ``error.txt`` in its folder).
    """
    import logging
    import time
    from pathlib import Path

    from . import io

    if is_done(job):
        return PairResult(job.name, "skipped", outdir=job.outdir)
    t0 = time.perf_counter()
    s = dict(job.settings)
    try:
        Path(job.outdir).parent.mkdir(parents=True, exist_ok=True)
        if io.clear_stale_stages(job.outdir):
            logging.getLogger(__name__).info("pair %s: removed an interrupted run's files", job.name)
        known = {f for f in Options.__dataclass_fields__}
        opts = Options(**{k: v for k, v in s.items() if k in known})
        for p in (job.before, job.after):
            io.raster_shape(p)  # a missing or unreadable input: its one-line message
        inputs = {role: {"path": p, "sha256": io.sha256(p)}
                  for role, p in (("before", job.before), ("after", job.after))}
        res = compare_files(job.before, job.after, job.outdir, options=opts, gsd=s.get("gsd"),
                            before_gsd=s.get("before_gsd"), after_gsd=s.get("after_gsd"),
                            before_time=s.get("before_time"), after_time=s.get("after_time"),
                            credit=s.get("credit", ""), aeroways_path=s.get("aeroways"),
                            inputs=inputs)
        err = Path(job.outdir) / "error.txt"
        if err.exists():
            err.unlink()
        return PairResult(job.name, "ok", time.perf_counter() - t0, summary=res.summary,
                          counts=res.counts, megapixels=res.megapixels, outdir=job.outdir,
                          possible_decoys=res.possible_decoys)
    except Exception as exc:  # noqa: BLE001 - one bad pair must not stop a batch
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        logging.getLogger(__name__).warning("pair %s failed: %s", job.name, msg)
        try:
            Path(job.outdir).mkdir(parents=True, exist_ok=True)
            io.write_text(Path(job.outdir) / "error.txt", msg + "\n")
        except OSError:
            pass
        return PairResult(job.name, "failed", time.perf_counter() - t0, error=msg, outdir=job.outdir)


def _finished_result(job: PairJob) -> PairResult:
    """The result of a pair whose outputs are complete, read back from its report."""
    import json
    from pathlib import Path

    rep = json.loads((Path(job.outdir) / "report.json").read_text())
    shape = rep.get("before", {}).get("shape", [0, 0, 0])
    return PairResult(job.name, "ok", summary=rep.get("summary", ""), counts=rep.get("counts", {}),
                      megapixels=shape[-2] * shape[-1] / 1e6, outdir=job.outdir,
                      possible_decoys=int(rep.get("possible_decoys", 0)))


def run_batch(jobs, *, client=None, progress=None) -> list[PairResult]:
    """Run many pairs, serially or on a ``dask.distributed`` client.

    Pairs already done are skipped, so an interrupted job resumes where it stopped. On a
    cluster each pair is one task with retries, so a pair whose worker dies is run again
    elsewhere; a pair that fails on bad input is recorded and does not stop the others.

    Parameters
    ----------
    jobs : sequence of PairJob
    client : distributed.Client, optional
        Run on this cluster; serial in this process when None.
    progress : callable, optional
        Called with each :class:`PairResult` as it completes.
    """
    step = progress or (lambda r: None)
    results: dict[str, PairResult] = {}
    todo = []
    for j in jobs:
        if is_done(j):
            results[j.name] = PairResult(j.name, "skipped", outdir=j.outdir)
            step(results[j.name])
        else:
            todo.append(j)
    if client is None:
        for j in todo:
            results[j.name] = run_pair(j)
            step(results[j.name])
    else:
        from distributed import as_completed

        futures = {client.submit(run_pair, j, key=f"airdiff-pair-{j.name}", pure=False,
                                 retries=3): j for j in todo}
        for fut in as_completed(futures):
            j = futures[fut]
            try:
                r = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker crash after all retries
                r = PairResult(j.name, "failed", error=f"{type(exc).__name__}: {exc}",
                               outdir=j.outdir)
            if r.status == "skipped":
                # not done when the batch began: a worker finished it and died before it
                # could report, and the retry found its outputs complete
                r = _finished_result(j)
            results[j.name] = r
            step(r)
    return [results[j.name] for j in jobs]


def results_table(results) -> str:
    """CSV text of batch results, one row per pair."""
    import csv
    import io as _io

    from .objects.model import CHANGE_CLASSES

    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    # possible_decoys last: columns scripts already read keep their places
    w.writerow(["name", "status", "seconds", "megapixels", *CHANGE_CLASSES, "summary", "error", "outdir",
                "possible_decoys"])
    for r in results:
        w.writerow([r.name, r.status, round(r.seconds, 2), round(r.megapixels, 3),
                    *(r.counts.get(k, "") for k in CHANGE_CLASSES), r.summary, r.error, r.outdir,
                    r.possible_decoys if r.status == "ok" else ""])
    return buf.getvalue()
