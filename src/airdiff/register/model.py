"""The result of co-registration."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Registration", "LocalWarp"]


@dataclass(frozen=True, eq=False)
class LocalWarp:
    """Smooth residual displacement on a coarse node grid over the BEFORE pixels.

    ``d_col[i, j]``, ``d_row[i, j]`` are added to the AFTER pixel coordinates given by the
    global model at BEFORE pixel (``node_rows[i]``, ``node_cols[j]``); bilinear in between.
    """

    node_rows: np.ndarray  # (gr,) BEFORE pixel rows (centres) of the nodes
    node_cols: np.ndarray  # (gc,)
    d_col: np.ndarray  # (gr, gc) pixels
    d_row: np.ndarray  # (gr, gc) pixels

    @property
    def max_px(self) -> float:
        return float(np.max(np.hypot(self.d_col, self.d_row))) if self.d_col.size else 0.0


@dataclass(frozen=True, eq=False)
class Registration:
    """How the AFTER image maps onto the BEFORE image, and how far to trust it.

    Attributes
    ----------
    matrix : ndarray, shape (3, 3)
        Affine model mapping AFTER pixel (col, row) to BEFORE pixel (col, row), both in the
        pixel-corner convention ((0, 0) is the top-left corner of the top-left pixel), with
        AFTER on its common grid (same CRS and GSD as BEFORE, see ``common_grid``).
    ok : bool
        True only when the model is trustworthy to about a pixel or better.
    confidence : float
        0..1, calibrated on the registration benchmark.
    reason : str
        Why not ok, in words a user can act on; empty when ok.
    tie_points : ndarray, shape (n, 4)
        (before_col, before_row, after_col, after_row) of the matched windows.
    residuals_px : ndarray, shape (n,)
        Distance in BEFORE pixels between each tie point and the fitted model (+ warp).
    inliers : ndarray of bool, shape (n,)
    warp : LocalWarp or None
        Residual smooth distortion, when local refinement helped.
    method : str
        Short description of the steps used.
    """

    matrix: np.ndarray
    ok: bool
    confidence: float
    reason: str = ""
    tie_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    residuals_px: np.ndarray = field(default_factory=lambda: np.zeros(0))
    inliers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    warp: LocalWarp | None = None
    method: str = ""
    gsd_m: float = float("nan")

    # -- derived quantities -------------------------------------------------
    @property
    def shift_xy_px(self) -> tuple[float, float]:
        """Translation part (col, row) of the model, BEFORE pixels."""
        return float(self.matrix[0, 2]), float(self.matrix[1, 2])

    @property
    def rotation_deg(self) -> float:
        return float(np.degrees(np.arctan2(self.matrix[1, 0], self.matrix[0, 0])))

    @property
    def scale(self) -> float:
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:2, :2]))))

    @property
    def rmse_px(self) -> float:
        r = self.residuals_px[self.inliers] if self.inliers.size else self.residuals_px
        return float(np.sqrt(np.mean(r**2))) if r.size else float("nan")

    def to_dict(self) -> dict:
        """JSON-ready summary for reports."""
        r = self.residuals_px[self.inliers] if self.inliers.size else self.residuals_px
        return {
            "status": "ok" if self.ok else "failed",
            "ok": bool(self.ok),
            "reason": self.reason,
            "confidence": round(float(self.confidence), 4),
            "method": self.method,
            "model": {
                "matrix_after_to_before_px": np.round(self.matrix, 8).tolist(),
                "shift_xy_px": [round(v, 4) for v in self.shift_xy_px],
                "shift_xy_m": [round(v * self.gsd_m, 3) for v in self.shift_xy_px]
                if np.isfinite(self.gsd_m)
                else None,
                "rotation_deg": round(self.rotation_deg, 5),
                "scale": round(self.scale, 6),
            },
            "local_warp": None
            if self.warp is None
            else {"nodes": list(self.warp.d_col.shape), "max_px": round(self.warp.max_px, 4)},
            "tie_points": int(len(self.tie_points)),
            "inliers": int(self.inliers.sum()) if self.inliers.size else 0,
            "residuals_px": {
                "rmse": round(self.rmse_px, 4) if r.size else None,
                "median": round(float(np.median(r)), 4) if r.size else None,
                "p95": round(float(np.percentile(r, 95)), 4) if r.size else None,
                "max": round(float(np.max(r)), 4) if r.size else None,
            },
        }
