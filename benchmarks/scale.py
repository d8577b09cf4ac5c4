"""Scale benchmark: time and peak memory against scene size, and batch throughput.

    python benchmarks/scale.py [--sizes 1000 4000 10000 20000] [--also-tiled 4000] [--pairs 4]

1. For square synthetic pairs of each size (mosaics of 2000² synthetic pairs, written window
   by window, see :func:`make_mosaic`), the whole ``airdiff compare`` (a separate process)
   against a plain rasterio windowed read + write of the same pair (the floor any tool
   pays), as a time ratio, with each process's peak RSS. Scenes above the tiling threshold
   are compared tile by tile; ``--also-tiled`` sizes are also run tiled below it.
2. A batch of pairs run serially and on a 2-worker dask LocalCluster, in Mpx/s.

Results go to benchmarks/results/scale.md. Each measured command runs in its own process,
its peak RSS taken from the kernel's accounting (wait4).
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import time
from pathlib import Path

from airdiff._threads import threads
from airdiff.pipeline import Options

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "scale"
RESULTS = HERE / "results"
PY = sys.executable
AIRDIFF = str(Path(sys.executable).with_name("airdiff"))

BASELINE = """
import sys, rasterio
from rasterio.windows import Window
B = 2048
rasterio.Env(GDAL_CACHEMAX=256).__enter__()  # the block cache airdiff's tiled path uses
for src, dst in ((sys.argv[1], sys.argv[3]), (sys.argv[2], sys.argv[4])):
    with rasterio.open(src) as ds:
        prof = ds.profile
        prof.update(driver="GTiff", tiled=True, compress="deflate", blockxsize=512, blockysize=512,
                    BIGTIFF="IF_SAFER")
        prof.pop("photometric", None)
        with rasterio.open(dst, "w", **prof) as out:
            for r in range(0, ds.height, B):
                for c in range(0, ds.width, B):
                    w = Window(c, r, min(B, ds.width - c), min(B, ds.height - r))
                    out.write(ds.read(window=w), window=w)
"""


def measure(cmd, env=None):
    """Run ``cmd`` (with ``env`` added to the environment); return (wall seconds, peak RSS MB, return code)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env={**os.environ, **(env or {})})
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    p.stderr.close()
    return dt, ru.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def make(size, seed):
    from airdiff.synth import make_pair, write_pair

    d = WORK / f"{size}-{seed}"
    if not (d / "after.tif").exists():
        pair = make_pair(seed=seed, scenario="random", shape=(size, size), gsd=0.5,
                         misregistration="moderate", nuisances="all")
        write_pair(pair, d)
    return d


#: side of the synthetic pairs a large mosaic is assembled from, and how many distinct ones
MOSAIC_TILE = 2000
MOSAIC_SEEDS = 4
#: the one misregistration of a mosaic's AFTER: its georeference is off by this (metres)
MOSAIC_OFFSET_M = (23.3, -14.7)


@functools.cache
def _mosaic_pairs():
    from airdiff.synth import make_pair

    return [make_pair(seed=500 + s, scenario="random", shape=(MOSAIC_TILE, MOSAIC_TILE), gsd=0.5,
                      misregistration="none", nuisances="all") for s in range(MOSAIC_SEEDS)]


def make_mosaic(size):
    """A size x size pair at 0.5 m, written window by window (never whole in memory).

    Synthetic 2000 x 2000 pairs (all nuisances, no misregistration of their own) of a few
    seeds are laid side by side, cycling through the seeds. BEFORE is the mosaic of their
    BEFORE scenes; AFTER the mosaic of their AFTER scenes, written with a georeference off
    by :data:`MOSAIC_OFFSET_M`, so that AFTER is one consistently misregistered image.
    """
    import numpy as np
    import rasterio
    from affine import Affine

    d = WORK / f"mosaic-{size}"
    if (d / "after.tif").exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    pairs = _mosaic_pairs()
    g = pairs[0].before.grid
    for role in ("before", "after"):
        t = g.transform
        if role == "after":
            t = Affine.translation(*MOSAIC_OFFSET_M) @ t
        profile = {"driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
                   "crs": g.crs, "transform": t, "tiled": True, "blockxsize": 256, "blockysize": 256,
                   "compress": "JPEG", "jpeg_quality": 90, "photometric": "YCBCR", "BIGTIFF": "IF_SAFER"}
        tmp = d / f".{role}.tif"
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(tmp, "w", **profile) as dst:
            k = 0
            for r0 in range(0, size, MOSAIC_TILE):
                for c0 in range(0, size, MOSAIC_TILE):
                    s = getattr(pairs[k % MOSAIC_SEEDS], role)
                    k += 1
                    h, w = min(MOSAIC_TILE, size - r0), min(MOSAIC_TILE, size - c0)
                    px = np.where(s.valid[None, :h, :w], s.pixels[:, :h, :w], 0).astype(np.uint8)
                    win = rasterio.windows.Window(c0, r0, w, h)
                    dst.write(px, window=win)
                    dst.write_mask(s.valid[:h, :w].astype(np.uint8) * 255, window=win)
            dst.update_tags(ACQUISITION_TIME=s.acquired.isoformat().replace("+00:00", "Z"))
        tmp.rename(d / f"{role}.tif")
    return d


def made(kind, *args):
    """Make test data in a child process, so that this process stays small.

    A child's peak RSS starts from its parent's RSS at the fork (and GDAL's block cache
    of a process that wrote a large mosaic stays resident), so data made here would
    inflate every measured peak.
    """
    out = subprocess.run([PY, __file__, f"--make-{kind}", *map(str, args)], check=True,
                         capture_output=True, text=True).stdout
    return Path(out.strip().splitlines()[-1])


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--make-mosaic":
        print(make_mosaic(int(sys.argv[2])))
        return
    if len(sys.argv) > 3 and sys.argv[1] == "--make-pair":
        print(make(int(sys.argv[2]), int(sys.argv[3])))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 10000, 20000])
    ap.add_argument("--also-tiled", type=int, nargs="*", default=[4000],
                    help="sizes also compared tile by tile below the tiling threshold")
    ap.add_argument("--one-thread", type=int, nargs="*", default=[4000],
                    help="sizes also compared on one thread (AIRDIFF_THREADS=1)")
    ap.add_argument("--pairs", type=int, default=4, help="pairs in the batch throughput test (0: skip)")
    ap.add_argument("--batch-size", type=int, default=1000)
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    rows = []
    for size in args.sizes:
        d = made("mosaic", size)
        t_io, rss_io, _ = measure([PY, "-c", BASELINE, str(d / "before.tif"), str(d / "after.tif"),
                                   str(WORK / "b.tif"), str(WORK / "a.tif")])
        modes = [("auto", [], threads())]
        modes += [("tiled", ["--tile-above", "0"], threads())] if size in args.also_tiled else []
        modes += [("auto-1", [], 1)] if size in args.one_thread and threads() > 1 else []
        for mode, extra, n in modes:
            out = WORK / f"out-{size}-{mode}"
            t_ad, rss_ad, rc = measure([AIRDIFF, "-q", "compare", str(d / "before.tif"),
                                        str(d / "after.tif"), "-o", str(out), *extra],
                                       env={"AIRDIFF_THREADS": str(n)})
            tiled = size * size / 1e6 > Options.tiled_above_mpx or mode == "tiled"
            mpx = size * size / 1e6
            rows.append((size, mpx, f"{'tiled' if tiled else 'in memory'}, {n} thread{'s' * (n > 1)}",
                         t_ad, rss_ad, t_io, rss_io, rc))
            print(f"{size} {mode}: airdiff {t_ad:.1f}s {rss_ad:.0f}MB rc={rc} | rasterio {t_io:.2f}s "
                  f"{rss_io:.0f}MB", file=sys.stderr, flush=True)
            write_results(args, rows, {})

    # batch throughput: serial vs a 2-worker LocalCluster
    thr = {}
    if args.pairs:
        job = ['[defaults]\noutdir = "batch-out-SCHED"\n']
        for i in range(args.pairs):
            d = made("pair", args.batch_size, 1000 + i)
            job.append(f'[[pair]]\nname = "p{i}"\nbefore = "{d}/before.tif"\nafter = "{d}/after.tif"\n')
        for label, extra in (("serial", []), ("LocalCluster, 2 workers", ["--workers", "2"])):
            sched = "serial" if not extra else "dask"
            jf = WORK / f"job-{sched}.toml"
            jf.write_text("\n".join(job).replace("SCHED", sched))
            import shutil

            shutil.rmtree(WORK / f"batch-out-{sched}", ignore_errors=True)
            t, rss, rc = measure([AIRDIFF, "-q", "run", str(jf), *extra])
            thr[label] = (t, args.pairs * args.batch_size**2 / 1e6 / t, rc)
    print(write_results(args, rows, thr))


def write_results(args, rows, thr) -> str:
    lines = ["# Scale benchmark", "",
             f"Generated by `python benchmarks/scale.py --sizes {' '.join(map(str, args.sizes))} "
             f"--also-tiled {' '.join(map(str, args.also_tiled))} "
             f"--one-thread {' '.join(map(str, args.one_thread))} --pairs {args.pairs}` on "
             f"{time.strftime('%Y-%m-%d')} (2 cores shared with other work, 24 GB). "
             "Pairs are mosaics of synthetic 2000² pairs (3-band 8-bit JPEG-in-TIFF, 0.5 m, all "
             "nuisances) written window by window, AFTER's georeference off by "
             f"{MOSAIC_OFFSET_M} m. `airdiff compare` (its own process) writes all outputs (COGs, "
             f"GeoJSON, GPKG, figure, GIF, swipe page, report); scenes above {Options.tiled_above_mpx:g} Mpx "
             "are compared tile "
             "by tile (2048 px tiles, 120 m overlap). The baseline reads both images with rasterio "
             "window by window (2048² windows, 256 MB GDAL cache) and writes them back as tiled GeoTIFFs. "
             "Peak RSS from wait4, each command in its own process (data made in other processes).", "",
             f"airdiff runs on {threads()} threads unless the path says otherwise "
             "(`AIRDIFF_THREADS`; in the batch, each dask worker gets its share of the cores).", "",
             "| size px | Mpx | path | airdiff compare s | peak RSS MB | rasterio read+write s | peak RSS MB | time ratio | airdiff s per Mpx |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for size, mpx, mode, t_ad, rss_ad, t_io, rss_io, rc in rows:
        lines.append(f"| {size} | {mpx:.0f} | {mode} | {t_ad:.1f}{'' if rc == 0 else f' (exit {rc})'} | "
                     f"{rss_ad:.0f} | {t_io:.2f} | {rss_io:.0f} | {t_ad / t_io:.0f}x | {t_ad / mpx:.2f} |")
    if thr:
        lines += ["", f"## Batch throughput ({args.pairs} pairs of {args.batch_size}² px)", "",
                  "| scheduler | wall s | Mpx/s | exit |", "|---|---:|---:|---:|"]
        for label, (t, rate, rc) in thr.items():
            lines.append(f"| {label} | {t:.1f} | {rate:.3f} | {rc} |")
    md = "\n".join(lines) + "\n"
    (RESULTS / "scale.md").write_text(md)
    return md


if __name__ == "__main__":
    main()
