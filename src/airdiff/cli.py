"""The ``airdiff`` command line: a thin shell over :mod:`airdiff.pipeline` and the modules.

Exit codes: 0 success; 1 bad input or output (one line on stderr); 2 usage error;
3 alignment impossible or untrustworthy; 4 some pairs of a batch job failed;
70 internal error.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

import click

from . import __version__
from .cli_options import figure_options, output_option, pair_options
from .errors import AirdiffError, AlignmentError, InputError
from .io import time_tags
from .pipeline import STAGES, Options

log = logging.getLogger("airdiff")

EXIT_INPUT = 1
EXIT_ALIGN = 3
EXIT_INTERNAL = 70


class _OneLineError(click.ClickException):
    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None):
        click.echo(f"airdiff: error: {self.format_message()}", err=True)


def _errors(f):
    """Turn every error into one actionable line and a non-zero exit (no traceback)."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            return f(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except AlignmentError as exc:
            raise _OneLineError(str(exc), EXIT_ALIGN) from None
        except AirdiffError as exc:
            raise _OneLineError(str(exc), EXIT_INPUT) from None
        except MemoryError:
            raise _OneLineError("out of memory; try a smaller area or the batch runner "
                                "with fewer workers", EXIT_INPUT) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence of the CLI
            if (ctx.find_root().obj or {}).get("debug"):
                raise
            msg = str(exc).splitlines()[0] if str(exc) else ""
            raise _OneLineError(
                f"internal error ({type(exc).__name__}: {msg}); rerun with --debug for the "
                "traceback and report it", EXIT_INTERNAL) from None

    return wrapper


@click.group(name="airdiff", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="airdiff")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors; no progress bar.")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks of internal errors.")
@click.pass_context
def cli(ctx, verbose, quiet, debug):
    """Compare before/after satellite images of an airfield."""
    from ._threads import one_heap

    one_heap()  # bounded memory with tiles worked on two threads
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="airdiff: %(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("airdiff").setLevel(level)
    ctx.obj = {"quiet": quiet, "debug": debug}


# -- helpers -------------------------------------------------------------------------
def _load_pair(before, after, gsd, before_gsd, after_gsd, before_time, after_time, credit=""):
    from .io import read_scene

    b = read_scene(before, gsd=before_gsd or gsd, acquired=before_time, name="before", credit=credit)
    a = read_scene(after, gsd=after_gsd or gsd, acquired=after_time, name="after", credit=credit)
    return b, a


def _progress(ctx, total: int, desc: str):
    from tqdm.auto import tqdm

    quiet = (ctx.find_root().obj or {}).get("quiet", False)
    return tqdm(total=total, desc=desc, unit="step", disable=True if quiet else None,
                file=sys.stderr, leave=False)


def _options(max_offset_m, no_local, credit="", location=""):
    from .pipeline import Options

    return Options(max_offset_m=max_offset_m, local_warp=not no_local, credit=credit,
                   location=location)


def _run_compare(ctx, before, after, opts, *, aeroways_path=None, changes_path=None):
    from . import pipeline
    from .export import aeroways_from_geojson, changes_from_geojson
    from .io import read_geojson

    aeroways = None
    if aeroways_path:
        aeroways = aeroways_from_geojson(read_geojson(aeroways_path), before.grid)
    changes = None
    if changes_path:
        changes = changes_from_geojson(read_geojson(changes_path), before.grid)
    with _progress(ctx, len(pipeline.STAGES), "comparing") as bar:
        def step(name):
            bar.set_postfix_str(name)
            bar.update(1)

        return pipeline.compare(before, after, options=opts, aeroways=aeroways,
                                changes=changes, progress=step)


def _inputs(before, after):
    from .io import sha256

    return {role: {"path": str(p), "sha256": sha256(p)} for role, p in (("before", before), ("after", after))}


def _preset_for(path: str, preset: str | None) -> tuple[str, str]:
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in ("png", "pdf", "svg"):
        raise InputError(f"cannot write a figure as .{ext or '(none)'}; use .png, .pdf or .svg")
    return ext, preset or ("web" if ext == "png" else "print")


# -- commands ------------------------------------------------------------------------
@cli.command()
@click.argument("image", type=click.Path(path_type=str))
@click.option("--gsd", type=float, help="GSD in metres, for an image without georeference.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_errors
def info(image, gsd, as_json):
    """Describe IMAGE: size, bands, CRS, GSD, footprint and capture time."""
    from .io import read_scene

    s = read_scene(image, gsd=gsd)
    g = s.grid
    d = {
        "path": image,
        "bands": s.count,
        "band_names": list(s.band_names),
        "dtype": str(s.pixels.dtype),
        "height": g.height,
        "width": g.width,
        "crs": g.crs.to_string() if g.crs else None,
        "gsd_m": round(g.gsd, 4),
        "bounds": [round(v, 3) for v in g.bounds],
        "acquired": s.acquired.isoformat().replace("+00:00", "Z") if s.acquired else None,
        "valid_fraction": round(float(s.valid.mean()), 4),
    }
    if g.crs is not None:
        lon, lat = g.centre_lonlat
        d["centre_lonlat"] = [round(lon, 6), round(lat, 6)]
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    click.echo(f"{image}")
    click.echo(f"  size      {g.width} x {g.height} px, {s.count} band(s) {d['dtype']} {tuple(s.band_names)}")
    click.echo(f"  frame     {d['crs'] or 'pixel frame (no georeference)'}, GSD {g.gsd:.3f} m")
    if "centre_lonlat" in d:
        click.echo(f"  centre    {d['centre_lonlat'][0]:.6f}, {d['centre_lonlat'][1]:.6f} (lon, lat)")
    click.echo(f"  acquired  {d['acquired'] or 'unknown'}")
    click.echo(f"  valid     {100 * d['valid_fraction']:.1f} %")


@cli.command()
@pair_options
@output_option("Aligned AFTER image (GeoTIFF on BEFORE's grid).")
@click.option("--report", type=click.Path(path_type=str), help="Registration report (JSON).")
@click.pass_context
@_errors
def align(ctx, before, after, gsd, before_gsd, after_gsd, before_time, after_time,
          max_offset_m, no_local, output, report):
    """Resample AFTER onto BEFORE's exact grid; refuse when it cannot be trusted."""
    from .io import check_writable, write_geotiff, write_text
    from .register import align as do_align

    check_writable(output)
    if report:
        check_writable(report)
    b, a = _load_pair(before, after, gsd, before_gsd, after_gsd, before_time, after_time)
    with _progress(ctx, 1, "aligning") as bar:
        try:
            aligned, reg = do_align(b, a, max_offset_m=max_offset_m, local=not no_local)
        except AlignmentError as exc:
            reg = getattr(exc, "registration", None)
            if report and reg is not None:
                write_text(report, json.dumps({"inputs": _inputs(before, after),
                                               "registration": reg.to_dict()}, indent=2))
            raise
        bar.update(1)
    write_geotiff(output, aligned.pixels, b.grid, valid=aligned.valid,
                  band_names=aligned.band_names, tags=time_tags(aligned.acquired))
    if report:
        write_text(report, json.dumps({"inputs": _inputs(before, after),
                                       "registration": reg.to_dict()}, indent=2))
    r = reg.to_dict()
    click.echo(f"aligned: shift {r['model']['shift_xy_px']} px, rotation {r['model']['rotation_deg']:.3f}°, "
               f"scale {r['model']['scale']:.5f}, rmse {r['residuals_px']['rmse']} px, "
               f"confidence {r['confidence']:.2f} -> {output}", err=True)


@cli.command()
@pair_options
@output_option("Changes as GeoJSON (RFC 7946, lon/lat).")
@click.option("--aeroways", type=click.Path(path_type=str),
              help="GeoJSON with OpenStreetMap aeroway tags (runway, taxiway, apron, parking_position).")
@click.pass_context
@_errors
def detect(ctx, before, after, gsd, before_gsd, after_gsd, before_time, after_time,
           max_offset_m, no_local, output, aeroways):
    """Find aircraft-level changes between BEFORE and AFTER."""
    from .export import changes_to_geojson
    from .io import check_writable, write_text

    check_writable(output)
    b, a = _load_pair(before, after, gsd, before_gsd, after_gsd, before_time, after_time)
    cmp = _run_compare(ctx, b, a, _options(max_offset_m, no_local), aeroways_path=aeroways)
    write_text(output, json.dumps(changes_to_geojson(cmp.changes, cmp.grid), indent=1))
    click.echo(cmp.summary)


@cli.command()
@pair_options
@output_option("Figure file: .png (web), .pdf or .svg (print).")
@click.option("--changes", type=click.Path(path_type=str),
              help="Draw these changes (GeoJSON from 'airdiff detect') instead of detecting.")
@figure_options
@click.option("--false-colour", is_flag=True,
              help="Show near-infrared, red, green as red, green, blue (4-band imagery): "
                   "vegetation red, burn scars dark.")
@click.option("--hedged", is_flag=True,
              help='Key in analysts\' wording: "appear burned", "likely moved".')
@click.pass_context
@_errors
def figure(ctx, before, after, gsd, before_gsd, after_gsd, before_time, after_time,
           max_offset_m, no_local, output, changes, credit, location, preset, false_colour, hedged):
    """Draw the annotated BEFORE | AFTER figure."""
    from .figures import compare_figure, false_colour_bands, render_bytes
    from .io import check_writable, write_bytes

    check_writable(output)
    fmt, preset = _preset_for(output, preset)
    b, a = _load_pair(before, after, gsd, before_gsd, after_gsd, before_time, after_time, credit)
    if false_colour:  # before the comparison, not after minutes of it
        false_colour_bands(b)
        false_colour_bands(a)
    cmp = _run_compare(ctx, b, a, _options(max_offset_m, no_local, credit, location),
                       changes_path=changes)
    fig = compare_figure(cmp, preset=preset, false_colour=false_colour, hedged=hedged)
    write_bytes(output, render_bytes(fig, fmt=fmt, preset=preset))
    click.echo(f"{cmp.summary} -> {output}", err=True)


@cli.command(name="compare")
@pair_options
@output_option("Output folder (created if missing).")
@click.option("--aeroways", type=click.Path(path_type=str),
              help="GeoJSON with OpenStreetMap aeroway tags.")
@figure_options
@click.option("--blink-ms", type=int, default=800, show_default=True,
              help="Frame duration of the blink GIF in milliseconds.")
@click.option("--tile-above", type=click.FloatRange(min=0), default=Options.tiled_above_mpx, show_default=True,
              metavar="MPX", help="Compare tile by tile when a scene has more megapixels.")
@click.pass_context
@_errors
def compare_cmd(ctx, before, after, gsd, before_gsd, after_gsd, before_time, after_time,
                max_offset_m, no_local, output, aeroways, credit, location, preset, blink_ms,
                tile_above):
    """Everything: aligned image, changes, figure, blink GIF, swipe page, report.

    Scenes larger than --tile-above megapixels are compared tile by tile, with memory
    bounded by the tile size.
    """
    from .pipeline import compare_files

    opts = _options(max_offset_m, no_local, credit, location)
    opts = replace(opts, tiled_above_mpx=tile_above)
    quiet = (ctx.find_root().obj or {}).get("quiet", False)
    bars: dict = {}

    def progress(what, done, total):
        from tqdm.auto import tqdm

        bar = bars.get(what)
        if bar is None:
            for old in bars.values():
                old.close()
            unit = "tile" if what == "comparing" and total > len(STAGES) else "step"
            bar = bars[what] = tqdm(total=total, desc=what, unit=unit, file=sys.stderr, leave=False,
                                    disable=True if quiet else None)
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        res = compare_files(before, after, output, options=opts, gsd=gsd, before_gsd=before_gsd,
                            after_gsd=after_gsd, before_time=before_time, after_time=after_time,
                            credit=credit, aeroways_path=aeroways, inputs=_inputs(before, after),
                            preset=preset or "web", blink_ms=blink_ms, progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    click.echo(res.summary)
    if res.possible_decoys:
        n = res.possible_decoys
        click.echo(f"airdiff: {n} change{'s' if n > 1 else ''} flagged as possible decoy{'s' if n > 1 else ''} "
                   "(no shadow where the other aircraft cast theirs): see 'possible_decoy' in changes.geojson",
                   err=True)
    for name in res.written:
        log.info("wrote %s", Path(output) / name)


@cli.command()
@click.argument("job", type=click.Path(path_type=str))
@click.option("--scheduler", metavar="ADDRESS",
              help="Address of a running dask.distributed scheduler (tcp://host:8786).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Start a local dask cluster with N worker processes.")
@click.pass_context
@_errors
def run(ctx, job, scheduler, workers):
    """Run a batch JOB.toml over many pairs (serial, or on dask.distributed)."""
    from .io import read_job, write_text
    from .pipeline import load_job, results_table, run_batch

    jobs = load_job(read_job(job), base_dir=Path(job).parent)
    client = cluster = None
    if scheduler or workers:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError("--scheduler/--workers need dask.distributed: "
                             "pip install 'airdiff[scale]'") from None
        if scheduler:
            client = Client(scheduler)
        else:
            from ._threads import cpus

            # the workers share the machine's cores: each comparison gets its part of them
            per = max(1, cpus() // workers)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, env={"AIRDIFF_THREADS": str(per)})
            client = Client(cluster)
    try:
        with _progress(ctx, len(jobs), "pairs") as bar:
            def step(r):
                bar.set_postfix_str(f"{r.name}: {r.status}")
                bar.update(1)

            results = run_batch(jobs, client=client, progress=step)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    out_root = Path(jobs[0].outdir).parent
    write_text(out_root / "summary.csv", results_table(results))
    width = max(len(r.name) for r in results)
    for r in results:
        detail = r.summary if r.status == "ok" else (r.error or "already done")
        click.echo(f"{r.name:<{width}}  {r.status:<7}  {r.seconds:7.1f} s  {detail}")
    n_failed = sum(r.status == "failed" for r in results)
    click.echo(f"{len(results)} pairs: {len(results) - n_failed} done, {n_failed} failed "
               f"-> {out_root / 'summary.csv'}", err=True)
    if n_failed:
        ctx.exit(4)


def main(argv=None):
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="airdiff")


if __name__ == "__main__":  # pragma: no cover
    main()
