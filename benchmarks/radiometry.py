"""Radiometric normalisation benchmark: the AFTER->BEFORE transfer against the generator's exact one.

    python benchmarks/radiometry.py [--quick]

Cases: the scenes of ``detection.py`` (development and held-out). Every one has another
season in AFTER (green grass turned brown, or the reverse) and AFTER's own gain, gamma,
band balance and haze. ``airdiff.synth.true_transfer`` inverts AFTER's sensor exactly, so
the error of a fitted transfer can be measured on the surfaces that do not change with
the season: runway, taxiways and apron (outside cloud; clipped highlights left out).

Methods, same aligned pairs, same run:
  - airdiff: ``radiometry.fit_scene_transfer`` (what ``compare`` uses: pixels grey in both
    dates, then the invariant ones among them);
  - all pixels: the same fit on every common pixel (airdiff's fit before 2026-11-30);
  - quantile matching of all common pixels (plain histogram matching).

Scores: mean absolute error per band over paved pixels, and over the dark ones among them
(luminance below 0.4: shadows, dark paint, burned remnants), where a change of season tints
a fit that grass dominates. Results go to benchmarks/results/radiometry.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

def fits(before, aligned):
    """name -> Transfer for each method."""
    from airdiff import radiometry

    fb = before.as_float()
    fa = radiometry.match_bands(before, aligned.as_float())
    mask = before.valid & aligned.valid & np.isfinite(fa).all(axis=0) & np.isfinite(fb).all(axis=0)
    out = {"airdiff": radiometry.fit_scene_transfer(before, aligned)}
    clear = mask & ~radiometry._cloudlike(fb) & ~radiometry._cloudlike(fa)
    out["all pixels"] = radiometry.fit_transfer(fb, fa, mask=clear)
    out["quantile matching"] = radiometry.fit_transfer(fb, fa, mask=mask, iterations=0)
    return out


def score_case(case):
    from detection import case_pair

    from airdiff.register import align
    from airdiff.synth import paved_pixels, true_transfer

    pair = case_pair(case)
    before, truth = pair.before, pair.truth
    aligned, _ = align(before, pair.after)
    x = np.nan_to_num(aligned.as_float())[:, paved_pixels(truth, aligned)][:, None, :]
    want = true_transfer(truth.meta, x)[:, 0]
    dark = x[: min(3, x.shape[0]), 0].mean(axis=0) < 0.4
    row = {}
    for name, t in fits(before, aligned).items():
        err = np.abs(t.apply(x)[:, 0] - want)
        row[name] = (float(err.mean()), float(err[:, dark].mean()) if dark.any() else float("nan"))
    return row


def main():
    import detection

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    lines = ["# Radiometric normalisation", "",
             "Mean absolute error of the fitted AFTER->BEFORE transfer against the generator's exact "
             "one (`airdiff.synth.true_transfer`), on runway, taxiway and apron pixels outside cloud, "
             "in reflectance-like units (0-1; one 8-bit level is 0.004). *Dark*: those pixels below "
             "0.4 luminance (shadows, dark paint, burned remnants). Every scene has a change of "
             "season. Median and worst over the scenes.", "",
             "Reproduce: `python benchmarks/radiometry.py`", ""]
    for split in ("development", "held-out"):
        rows = {}
        for case in detection.cases(args.quick, split):
            rows[case["id"]] = score_case(case)
            print(case["id"], {k: tuple(round(v, 4) for v in r) for k, r in rows[case["id"]].items()},
                  file=sys.stderr)
        lines += [f"## {split} ({len(rows)} scenes)", "",
                  "| method | paved, median | paved, worst | dark, median | dark, worst |",
                  "|---|---:|---:|---:|---:|"]
        for name in next(iter(rows.values())):
            p = np.array([r[name][0] for r in rows.values()])
            d = np.array([r[name][1] for r in rows.values()])
            lines.append(f"| {name} | {np.median(p):.4f} | {p.max():.4f} | {np.nanmedian(d):.4f} | "
                         f"{np.nanmax(d):.4f} |")
        lines.append("")
    lines.append(f"Total time {time.perf_counter() - t0:.0f} s.")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "radiometry.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
