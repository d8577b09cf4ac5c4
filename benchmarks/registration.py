"""Co-registration benchmark: airdiff against AROSICS, scikit-image and OpenCV, same cases, same run.

    python benchmarks/registration.py [--quick] [--baseline-python /path/to/venv/bin/python]

Cases come from ``airdiff.synth`` (several seeds, random known transforms with local warps,
gain/gamma/haze, noise, JPEG, partial cloud, a different GSD or CRS) plus unrelated pairs
that every method should refuse. The error of a method on a case is the mean distance, in
BEFORE pixels, between where it puts a 15 x 15 grid of BEFORE points in the AFTER file and
where the generator's exact truth puts them. Results go to benchmarks/results/registration.md.

Real pairs from ``../shared/imagery-real`` (when present; skipped otherwise) have no exact
truth. Each is run twice: as delivered, and with AFTER's georeference perturbed by a known
offset, rotation and scale (metadata only, pixels untouched). A method that truly matches the
content maps BEFORE pixels to the same AFTER *file* pixels both times; the difference is its
*consistency*. The unperturbed run also says how far each method puts AFTER from where the
provider's georeference puts it (the native misregistration it believes in).

Baselines run in their own environment because AROSICS needs GDAL's Python bindings; see
benchmarks/README.md. Without ``--baseline-python`` only airdiff is measured.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "registration"
RESULTS = HERE / "results"
REAL = HERE.parent.parent / "shared" / "imagery-real"

# (id, BEFORE, AFTER, what the provider's georeference is worth)
REAL_PAIRS = [
    ("naip-mco", "naip-orlando-mco/naip_2010_derived.tif", "naip-orlando-mco/naip_2023_derived.tif",
     "NAIP 2010 (10 m) vs 2023 (3 m), RGB, EPSG:26917; georeference checked to ~0.3 px"),
    ("beirut-s2-b04", "oscd-beirut-s2/imgs_1/S2A_OPER_MSI_L1C_TL_EPA__20160929T004310_A000833_T36SYC_B04.tif",
     "oscd-beirut-s2/imgs_2/T36SYC_20171003T081739_B04.tif",
     "Sentinel-2 L1C red band 2015 vs 2017, EPSG:4326 (degrees), 10 m"),
    ("brandenburg-s2", "arosics-s2-brandenburg/ref_S2A_20160608T153121_T33UUU_sub.jp2",
     "arosics-s2-brandenburg/tgt_S2A_20160529T153631_T33UUU_sub.jp2",
     "Sentinel-2 pair of AROSICS' own tests, EPSG:32633, 10 m; ~2 px real misregistration"),
]
# the known perturbation of AFTER's georeference: metres east/north, degrees, scale
PERTURBATION = (90.0, -70.0, 1.5, 1.015)


def make_cases(quick: bool):
    from airdiff.synth import make_pair, write_pair

    seeds = range(3) if quick else range(6)
    variants = [
        ("small", {}),
        ("moderate", {}),
        ("large", {}),
        ("moderate", {"after_gsd": 0.6}),
        ("moderate", {"after_crs": "EPSG:3857"}),
    ]
    cases = []
    for seed in seeds:
        for level, extra in variants:
            cid = f"s{seed}-{level}" + "".join(f"-{k}={v}" for k, v in extra.items())
            pair = make_pair(seed=seed, scenario="random", shape=(1000, 1000), gsd=0.5,
                             misregistration=level, nuisances="all", **extra)
            paths = write_pair(pair, WORK / cid.replace(":", "_"))
            cases.append({"id": cid, "pair": pair, "paths": paths, "related": True})
    # unrelated pairs: BEFORE of one seed, AFTER of another; every method should refuse
    for seed in (seeds[0], seeds[-1]):
        a = make_pair(seed=100 + seed, scenario="random", shape=(1000, 1000), misregistration="small")
        b = make_pair(seed=200 + seed, scenario="random", shape=(1000, 1000), misregistration="small")
        pa = write_pair(a, WORK / f"unrelated{seed}-a")
        pb = write_pair(b, WORK / f"unrelated{seed}-b")
        # stamped with A's georeference, so only the content can tell they differ
        after = _restamped_copy(pb["after"], WORK / f"unrelated{seed}-b" / "after-restamped.tif",
                                transform=a.after.grid.transform, crs=a.after.grid.crs)
        cases.append({"id": f"unrelated-{seed}", "pair": a,
                      "paths": {"before": pa["before"], "after": after}, "related": False})
    return cases


def _perturbed_copy(src, dst, *, pivot, offset_m, rotation_deg, scale):
    """Copy ``src`` to GeoTIFF ``dst`` with its georeference moved (pixels untouched).

    Rotation and scale turn about ``pivot`` (map x, y in the file's CRS), then the offset.
    """
    import rasterio
    from affine import Affine

    from airdiff.grid import Grid

    with rasterio.open(src) as ds:
        grid = Grid((ds.height, ds.width), ds.transform, ds.crs)
    k = 1.0 / grid.metres_per_unit  # map units per metre
    cx, cy = pivot
    move = (Affine.translation(cx + offset_m[0] * k, cy + offset_m[1] * k)
            @ Affine.rotation(rotation_deg) @ Affine.scale(scale) @ Affine.translation(-cx, -cy))
    dst.parent.mkdir(parents=True, exist_ok=True)
    return _restamped_copy(src, dst, transform=move @ grid.transform, crs=grid.crs)


def _restamped_copy(src, dst, *, transform, crs):
    """Copy ``src`` to GeoTIFF ``dst`` with another georeference (pixels untouched)."""
    import rasterio

    with rasterio.open(src) as ds:
        arr = ds.read()
        prof = ds.profile
        tags = ds.tags()
    prof.update(driver="GTiff", transform=transform, crs=crs)
    with rasterio.open(dst, "w", **prof) as out:
        out.write(arr)
        out.update_tags(**tags)
    return dst


def make_real_cases(real_dir: Path):
    """Real pairs as delivered and with AFTER's georeference perturbed; [] without the data."""
    from airdiff.io import read_scene

    cases = []
    for cid, before, after, note in REAL_PAIRS:
        b, a = real_dir / before, real_dir / after
        if not (b.exists() and a.exists()):
            print(f"real pair {cid}: not found under {real_dir}, skipped", file=sys.stderr)
            continue
        e, n, rot, sc = PERTURBATION
        sb, sa = read_scene(b), read_scene(a)
        # turn about BEFORE's centre, so the offset there is the one stated
        cx, cy = sb.grid.transform @ (sb.shape[1] / 2, sb.shape[0] / 2)
        if sa.grid.crs != sb.grid.crs:
            from pyproj import Transformer

            cx, cy = Transformer.from_crs(sb.grid.crs, sa.grid.crs, always_xy=True).transform(cx, cy)
        pert = _perturbed_copy(a, WORK / f"real-{cid}" / "after-perturbed.tif", pivot=(cx, cy), offset_m=(e, n),
                               rotation_deg=rot, scale=sc)
        shape = sb.shape
        for suffix, after_path in (("", a), ("+perturbed", pert)):
            cases.append({"id": f"real-{cid}{suffix}", "group": cid, "paths": {"before": b, "after": after_path},
                          "nominal": {"before": b, "after": a}, "shape": shape, "note": note,
                          "related": True, "real": True, "gsd": sb.gsd})
    return cases


def nominal_after_px(case, pts):
    """AFTER file corner px of BEFORE corner px through the delivered (unperturbed) georeference."""
    from pyproj import Transformer

    from airdiff.io import read_scene

    b = read_scene(case["nominal"]["before"])
    a = read_scene(case["nominal"]["after"])
    x, y = (np.asarray(v) for v in b.grid.xy(pts[:, 1] - 0.5, pts[:, 0] - 0.5))
    if a.grid.crs != b.grid.crs:
        x, y = Transformer.from_crs(b.grid.crs, a.grid.crs, always_xy=True).transform(x, y)
    r, c = a.grid.rowcol(x, y)
    inside = (c >= 0) & (r >= 0) & (c <= a.shape[1]) & (r <= a.shape[0])
    return np.column_stack([c, r]), inside, a.gsd / b.gsd


def eval_points(shape, n=15, margin=0.12):
    rows, cols = shape
    r = np.linspace(rows * margin, rows * (1 - margin), n)
    c = np.linspace(cols * margin, cols * (1 - margin), n)
    cc, rr = np.meshgrid(c, r)
    return np.column_stack([cc.ravel(), rr.ravel()]) + 0.5  # pixel-centre corners


def run_airdiff(case, pts):
    from airdiff.io import read_scene
    from airdiff.register import common_grid, register

    t0 = time.perf_counter()
    b = read_scene(case["paths"]["before"])
    a = read_scene(case["paths"]["after"])
    ac = common_grid(b, a)
    reg = register(b, ac)
    seconds = time.perf_counter() - t0
    q = before_to_after_common(reg, pts)
    x, y = (np.asarray(v) for v in ac.grid.xy(q[:, 1] - 0.5, q[:, 0] - 0.5))  # corner -> map
    if a.grid.crs is not None and ac.grid.crs is not None and a.grid.crs != ac.grid.crs:
        from pyproj import Transformer

        tr = Transformer.from_crs(ac.grid.crs, a.grid.crs, always_xy=True)
        x, y = tr.transform(x, y)
    r, c = a.grid.rowcol(x, y)
    return np.column_stack([c, r]), bool(reg.ok), seconds, reg


def before_to_after_common(reg, pts):
    """BEFORE corner px -> AFTER (common grid) corner px through the model and its warp."""
    m_inv = np.linalg.inv(reg.matrix)
    q = (m_inv[:2, :2] @ pts.T).T + m_inv[:2, 2]
    w = reg.warp
    if w is not None:
        from scipy.interpolate import RegularGridInterpolator

        for arr, k in ((w.d_col, 0), (w.d_row, 1)):
            f = RegularGridInterpolator((w.node_rows, w.node_cols), arr, bounds_error=False,
                                        fill_value=None)
            q[:, k] += f(np.column_stack([pts[:, 1] - 0.5, pts[:, 0] - 0.5]))
    return q


def score(case, pts, est):
    """Mean error (BEFORE px) of estimated AFTER positions against the truth.

    For a real pair the "truth" is the delivered georeference (see the module docstring).
    """
    if case.get("real"):
        ref, inside, ratio = nominal_after_px(case, pts)
        d = np.hypot(*(est - ref)[inside].T) * ratio
        return float(np.mean(d)) if d.size else float("nan")
    truth = case["pair"].truth
    tc, tr = truth.before_px_to_after_px(pts[:, 0], pts[:, 1])
    a = case["pair"].after
    inside = (tc >= 0) & (tr >= 0) & (tc <= a.shape[1]) & (tr <= a.shape[0])
    ratio = a.gsd / case["pair"].before.gsd
    d = np.hypot(est[:, 0] - tc, est[:, 1] - tr)[inside] * ratio
    return float(np.mean(d)) if d.size else float("nan")


def real_table(rows, cases, methods):
    """Per real pair and method: claims, native offset, perturbed error and consistency (px)."""
    by_id = {c["id"]: c for c in cases}
    groups = list(dict.fromkeys(c["group"] for c in cases if c.get("real")))
    out = []
    for g in groups:
        for m in methods:
            u = next((r for r in rows if r["method"] == m and r["case"] == f"real-{g}"), None)
            p = next((r for r in rows if r["method"] == m and r["case"] == f"real-{g}+perturbed"), None)
            if u is None or p is None:
                continue
            cons = float("nan")
            if u["ok"] and p["ok"] and u.get("after_px") is not None and p.get("after_px") is not None:
                case = by_id[f"real-{g}"]
                pts = eval_points(case["shape"])
                _, inside, ratio = nominal_after_px(case, pts)
                d = np.hypot(*(np.asarray(p["after_px"]) - np.asarray(u["after_px"]))[inside].T) * ratio
                cons = float(np.mean(d))
            out.append({"pair": g, "method": m, "ok": u["ok"], "offset": u["error"] if u["ok"] else float("nan"),
                        "ok_p": p["ok"], "error_p": p["error"] if p["ok"] else float("nan"),
                        "consistency": cons, "false": bool(p["ok"] and not cons <= 1.0),
                        "seconds": p["seconds"]})
    return out


def summarise(rows, methods):
    rows = [r for r in rows if not r.get("real")]
    out = []
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        rel = [r for r in rs if r["related"]]
        unrel = [r for r in rs if not r["related"]]
        ok = [r for r in rel if r["ok"] and np.isfinite(r["error"])]
        errs = np.array([r["error"] for r in ok])
        false_ok = sum(1 for r in rel if r["ok"] and not r["error"] <= 1.0) + sum(r["ok"] for r in unrel)
        out.append({
            "method": m,
            "cases": len(rel),
            "median_px": float(np.median(errs)) if errs.size else float("nan"),
            "p95_px": float(np.percentile(errs, 95)) if errs.size else float("nan"),
            "max_px": float(np.max(errs)) if errs.size else float("nan"),
            "failure_rate": 1 - len(ok) / max(len(rel), 1),
            "false_success": false_ok,
            "false_success_of": len(rs),
            "median_s": float(np.median([r["seconds"] for r in rs])),
            "median_s_related": float(np.median([r["seconds"] for r in rel])),
        })
    return out


def to_markdown(summary, rows, args, real=(), cases=()):
    best_base = min((s for s in summary if s["method"] != "airdiff" and np.isfinite(s["p95_px"])),
                    key=lambda s: s["p95_px"], default=None)
    ad = next(s for s in summary if s["method"] == "airdiff")
    lines = [
        "# Co-registration benchmark",
        "",
        f"Generated by `python benchmarks/registration.py{' --quick' if args.quick else ''}` "
        f"on {time.strftime('%Y-%m-%d')}, 2-core machine. Synthetic 1000 x 1000 px pairs at 0.5 m "
        "(`airdiff.synth`, scenario `random`, all nuisances incl. cloud, JPEG, haze, season, sun).",
        "Error = mean distance (BEFORE px) between where a method puts a 15 x 15 grid of points and "
        "the generator's exact truth; median/p95/max are over the cases where the method claimed "
        "success. A *false success* is a claimed success with error > 1 px, or on an unrelated pair.",
        "",
        "| method | cases | median px | p95 px | max px | failure rate | false successes | median time s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        lines.append(f"| {s['method']} | {s['cases']} | {s['median_px']:.3f} | {s['p95_px']:.3f} | "
                     f"{s['max_px']:.3f} | {100 * s['failure_rate']:.0f} % | "
                     f"{s['false_success']} / {s['false_success_of']} | {s['median_s']:.2f} |")
    lines.append("")
    if best_base is not None:
        lines.append(f"- p95 ratio, best baseline ({best_base['method']}) / airdiff: "
                     f"**{best_base['p95_px'] / ad['p95_px']:.1f}x**")
    for name in ("AROSICS global", "AROSICS local"):
        base = next((s for s in summary if s["method"] == name), None)
        if base is not None:
            lines.append(f"- time ratio, airdiff / {name} (median per related case): "
                         f"**{ad['median_s_related'] / base['median_s_related']:.2f}**")
    if real:
        e, n, rot, sc = PERTURBATION
        lines += ["", "## Real pairs (`../shared/imagery-real`)", "",
                  "No exact truth. *offset* = how far (BEFORE px, mean over the grid) a method puts AFTER from "
                  "where the delivered georeference puts it, on the pair as delivered. Then AFTER's georeference "
                  f"is perturbed by ({e:+.0f} m E, {n:+.0f} m N, {rot:+.1f} deg, x{sc}) without touching its pixels: "
                  "*consistency* = how far the method's BEFORE-to-AFTER-file mapping moves between the two runs "
                  "(0 for a method that truly matches the content). A claimed success on the perturbed pair with "
                  "consistency above 1 px (or unknown) counts as a false success.", ""]
        for c in cases:
            if c.get("real") and not c["id"].endswith("+perturbed"):
                lines.append(f"- `{c['group']}`: {c['note']}")
        lines += ["", "| pair | method | ok as delivered | offset px | ok perturbed | error vs georef px | "
                  "consistency px | false success | time s |", "|---|---|---|---:|---|---:|---:|---|---:|"]
        for r in real:
            lines.append(f"| {r['pair']} | {r['method']} | {'yes' if r['ok'] else 'no'} | {r['offset']:.2f} | "
                         f"{'yes' if r['ok_p'] else 'no'} | {r['error_p']:.2f} | {r['consistency']:.3f} | "
                         f"{'**yes**' if r['false'] else 'no'} | {r['seconds']:.2f} |")
    lines += ["", "## Per case", "", "| case | method | claimed ok | error px | time s |", "|---|---|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['method']} | {'yes' if r['ok'] else 'no'} | "
                     f"{r['error']:.3f} | {r['seconds']:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer seeds")
    ap.add_argument("--baseline-python", help="python of the baseline environment (AROSICS, OpenCV)")
    ap.add_argument("--real", default=str(REAL), help="folder of real pairs (default ../shared/imagery-real)")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    cases = make_cases(args.quick) + make_real_cases(Path(args.real))
    rows = []
    for case in cases:
        pts = eval_points(case["shape"] if case.get("real") else case["pair"].before.shape)
        case["points"] = pts
        t0 = time.perf_counter()
        try:
            est, ok, sec, reg = run_airdiff(case, pts)
            err = score(case, pts, est)
        except Exception as exc:  # a refusal by exception (e.g. NoOverlapError) is a failure
            print(f"{case['id']}: airdiff refused: {exc}", file=sys.stderr)
            est, ok, sec, err = None, False, time.perf_counter() - t0, float("nan")
        rows.append({"case": case["id"], "method": "airdiff", "ok": ok, "error": err,
                     "seconds": sec, "related": case["related"], "real": bool(case.get("real")),
                     "after_px": None if est is None else np.asarray(est).tolist()})
        print(f"{case['id']:<32} airdiff ok={ok} err={err:.3f}px {sec:.2f}s", file=sys.stderr)
    methods = ["airdiff"]
    if args.baseline_python:
        spec = [{"id": c["id"], "before": str(c["paths"]["before"]), "after": str(c["paths"]["after"]),
                 "points": c["points"].tolist(),
                 "max_shift_px": int(np.ceil(160 / (c["gsd"] if c.get("real") else c["pair"].before.gsd)))}
                for c in cases]
        (WORK / "cases.json").write_text(json.dumps(spec))
        subprocess.run([args.baseline_python, str(HERE / "_registration_baselines.py"),
                        str(WORK / "cases.json"), str(WORK / "baselines.json")], check=True)
        by_id = {c["id"]: c for c in cases}
        for r in json.loads((WORK / "baselines.json").read_text()):
            case = by_id[r["case"]]
            err = score(case, case["points"], np.array(r["after_px"])) if r["after_px"] else float("nan")
            rows.append({"case": r["case"], "method": r["method"], "ok": r["ok"], "error": err,
                         "seconds": r["seconds"], "related": case["related"], "real": bool(case.get("real")),
                         "after_px": r["after_px"]})
            if r["method"] not in methods:
                methods.append(r["method"])
    summary = summarise(rows, methods)
    md = to_markdown(summary, [r for r in rows if not r["real"]], args, real=real_table(rows, cases, methods),
                     cases=cases)
    (RESULTS / "registration.md").write_text(md)
    (WORK / "rows.json").write_text(json.dumps(rows))
    print(md.split("## Per case")[0])


if __name__ == "__main__":
    main()
