"""Baseline co-registration methods for benchmarks/registration.py.

Runs in its own environment (AROSICS needs GDAL's Python bindings; see benchmarks/README.md):

    BASELINE_PY benchmarks/_registration_baselines.py CASES.json RESULTS.json

For each case it estimates, per method, where a fixed set of BEFORE pixel positions lies in
the AFTER file (pixel-corner coordinates), and whether the method claims success.
Methods: AROSICS global (COREG), AROSICS local (COREG_LOCAL), scikit-image
phase_cross_correlation (upsample 100), OpenCV ECC (affine).
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()
warnings.filterwarnings("ignore")


def geo(path):
    ds = gdal.Open(path)
    gt = ds.GetGeoTransform()
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return ds, gt, srs


def px_to_map(gt, c, r):
    return gt[0] + c * gt[1] + r * gt[2], gt[3] + c * gt[4] + r * gt[5]


def map_to_px(gt, x, y):
    inv = gdal.InvGeoTransform(gt)
    return inv[0] + x * inv[1] + y * inv[2], inv[3] + x * inv[4] + y * inv[5]


def before_to_after_nominal(case, pts, after_gt=None):
    """BEFORE corner px -> AFTER file corner px through the files' georeference."""
    _, bgt, bsrs = geo(case["before"])
    _, agt, asrs = geo(case["after"])
    agt = after_gt or agt
    tr = osr.CoordinateTransformation(bsrs, asrs)
    out = []
    for c, r in pts:
        x, y = px_to_map(bgt, c, r)
        xa, ya, _ = tr.TransformPoint(x, y)
        out.append(map_to_px(agt, xa, ya))
    return np.array(out)


def luminance_on_before_grid(case):
    """AFTER reprojected onto the BEFORE grid with its nominal georeference, and BEFORE."""
    bds, bgt, _ = geo(case["before"])
    warped = gdal.Warp("", case["after"], format="MEM", dstSRS=bds.GetProjection(),
                       outputBounds=(bgt[0], bgt[3] + bds.RasterYSize * bgt[5],
                                     bgt[0] + bds.RasterXSize * bgt[1], bgt[3]),
                       width=bds.RasterXSize, height=bds.RasterYSize, resampleAlg="bilinear")
    b = bds.ReadAsArray().astype(np.float32)
    a = warped.ReadAsArray().astype(np.float32)
    if b.ndim == 3:
        b = b[:3].mean(0)
        a = a[:3].mean(0)
    return b, a


def run_pcc(case, pts):
    from skimage.registration import phase_cross_correlation

    b, a = luminance_on_before_grid(case)
    shift, _, _ = phase_cross_correlation(b, a, upsample_factor=100)
    # before(p) ~ after_c(p - shift): after_c position of each BEFORE point
    q = pts - np.array([shift[1], shift[0]])
    return before_to_after_nominal(case, q), True


def run_ecc(case, pts):
    import cv2

    b, a = luminance_on_before_grid(case)
    mask = (a > 0).astype(np.uint8)
    w = np.eye(2, 3, dtype=np.float32)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-6)
    try:
        _, w = cv2.findTransformECC(b / 255.0, a / 255.0, w, cv2.MOTION_AFFINE, crit, mask, 5)
    except cv2.error:
        return None, False
    idx = pts - 0.5
    q = (w[:, :2] @ idx.T).T + w[:, 2] + 0.5  # after_c corner coords
    return before_to_after_nominal(case, q), True


def run_arosics_global(case, pts):
    from arosics import COREG

    cr = COREG(case["before"], case["after"], ws=(256, 256), max_shift=case["max_shift_px"],
               q=True, nodata=(0, 0), ignore_errors=True)
    cr.calculate_spatial_shifts()
    if not cr.success:
        return None, False
    _, agt, _ = geo(case["after"])
    # AROSICS corrects the AFTER georeference by adding the map shift to its origin
    new_gt = (agt[0] + cr.x_shift_map, agt[1], agt[2], agt[3] + cr.y_shift_map, agt[4], agt[5])
    return before_to_after_nominal(case, pts, after_gt=new_gt), True


def run_arosics_local(case, pts):
    from arosics import COREG_LOCAL

    crl = COREG_LOCAL(case["before"], case["after"], grid_res=100, window_size=(128, 128),
                      max_shift=case["max_shift_px"], q=True, nodata=(0, 0), CPUs=1,
                      ignore_errors=True)
    tbl = crl.CoRegPoints_table
    if not crl.success or tbl is None:
        return None, False
    t = tbl[(tbl["OUTLIER"] == False) & (tbl["ABS_SHIFT"] != -9999)]  # noqa: E712
    if len(t) < 3:
        return None, False
    # AROSICS warps the AFTER image so that map point (X_MAP, Y_MAP) moves by (X_SHIFT_M, Y_SHIFT_M);
    # fit the affine it implies from corrected map coords to original map coords
    src = np.column_stack([t["X_MAP"] + t["X_SHIFT_M"], t["Y_MAP"] + t["Y_SHIFT_M"], np.ones(len(t))])
    dst = np.column_stack([t["X_MAP"], t["Y_MAP"]])
    coef, *_ = np.linalg.lstsq(src, dst, rcond=None)
    _, bgt, bsrs = geo(case["before"])
    _, agt, asrs = geo(case["after"])
    tr = osr.CoordinateTransformation(bsrs, asrs)
    out = []
    for c, r in pts:
        x, y = px_to_map(bgt, c, r)
        xa, ya, _ = tr.TransformPoint(x, y)
        xo, yo = np.array([xa, ya, 1.0]) @ coef
        out.append(map_to_px(agt, xo, yo))
    return np.array(out), True


METHODS = {
    "AROSICS global": run_arosics_global,
    "AROSICS local": run_arosics_local,
    "skimage phase_cross_correlation": run_pcc,
    "OpenCV ECC affine": run_ecc,
}


def main(cases_path, out_path):
    cases = json.load(open(cases_path))
    results = []
    for case in cases:
        pts = np.array(case["points"], dtype=float)
        for name, fn in METHODS.items():
            t0 = time.perf_counter()
            try:
                est, ok = fn(case, pts)
            except Exception as exc:  # a crash is a failure of that method on that case
                est, ok = None, False
                sys.stderr.write(f"{case['id']} {name}: {type(exc).__name__}: {exc}\n")
            results.append({"case": case["id"], "method": name, "ok": bool(ok),
                            "seconds": time.perf_counter() - t0,
                            "after_px": None if est is None else np.asarray(est).tolist()})
        sys.stderr.write(f"{case['id']} done\n")
    json.dump(results, open(out_path, "w"))


if __name__ == "__main__":
    main(*sys.argv[1:3])
