"""Axes-level pieces of the comparison figures: stretch, panels, outlines, callouts, scale, north."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

__all__ = [
    "PALETTE",
    "CLASS_ORDER",
    "Stretch",
    "shared_stretch",
    "display_image",
    "image_extent",
    "show_panel",
    "draw_changes",
    "place_callouts",
    "add_scalebar",
    "add_north_arrow",
    "format_time",
]

#: Okabe-Ito colours per change class (colour-blind safe).
PALETTE = {
    "burned": "#D55E00",  # vermillion
    "moved": "#0072B2",  # blue
    "appeared": "#009E73",  # bluish green
    "disappeared": "#E69F00",  # orange
    "changed": "#CC79A7",  # reddish purple
    "obscured": "#7F7F7F",  # grey (hatched)
}
CLASS_ORDER = ("burned", "moved", "appeared", "disappeared", "changed", "obscured")
#: Importance for zoom insets (lower first).
IMPORTANCE = {"burned": 0, "moved": 1, "appeared": 2, "disappeared": 3, "changed": 4}


def format_time(t) -> str:
    """``2023-08-31 13:03 UTC`` or 'time unknown'."""
    return t.strftime("%Y-%m-%d %H:%M UTC") if t is not None else "time unknown"


@dataclass(frozen=True)
class Stretch:
    """A per-band linear stretch ``(value - lo) / (hi - lo)`` shared by both panels."""

    lo: np.ndarray  # (bands,)
    hi: np.ndarray  # (bands,)
    bands: tuple[int, ...]  # band indices shown as R, G, B

    def apply(self, pixels: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """(bands, rows, cols) native values -> (rows, cols, 3) uint8; invalid pixels mid-grey."""
        out = np.empty((*pixels.shape[1:], 3), np.uint8)
        for k, b in enumerate(self.bands):
            v = (pixels[b].astype(np.float32) - self.lo[k]) / max(float(self.hi[k] - self.lo[k]), 1e-9)
            out[..., k] = np.clip(v * 255 + 0.5, 0, 255).astype(np.uint8)
        if valid is not None:
            out[~valid] = 200
        return out


def shared_stretch(scenes, *, percentiles=(1.0, 99.0), bands=None) -> Stretch:
    """One percentile stretch computed over the valid pixels of all ``scenes`` together.

    Scenes must share band layout and scale (e.g. BEFORE and the aligned AFTER).
    """
    s0 = scenes[0]
    idx = tuple(bands) if bands is not None else s0.rgb_indices
    lo, hi = [], []
    for b in idx:
        vals = []
        for s in scenes:
            px = s.pixels[b]
            step = max(1, int(np.sqrt(px.size / 400_000)))
            sub = px[::step, ::step]
            m = s.valid[::step, ::step]
            vals.append(sub[m].astype(np.float32))
        v = np.concatenate(vals) if vals else np.zeros(1, np.float32)
        if v.size == 0:
            v = np.zeros(1, np.float32)
        a, z = np.percentile(v, percentiles)
        lo.append(a)
        hi.append(z if z > a else a + 1)
    return Stretch(np.array(lo, np.float32), np.array(hi, np.float32), idx)


def _decimate(arr: np.ndarray, valid: np.ndarray, factor: int):
    """Block-mean downsampling of (bands, rows, cols) by an integer factor (display only)."""
    if factor <= 1:
        return arr, valid
    b, r, c = arr.shape
    r2, c2 = r // factor, c // factor
    a = arr[:, : r2 * factor, : c2 * factor].astype(np.float32)
    a = a.reshape(b, r2, factor, c2, factor).mean(axis=(2, 4))
    v = valid[: r2 * factor, : c2 * factor].reshape(r2, factor, c2, factor).all(axis=(1, 3))
    return a, v


def image_extent(grid, factor: int = 1):
    """imshow extent (left, right, bottom, top) in map coordinates; works in the pixel frame."""
    rows, cols = grid.shape
    rows, cols = (rows // factor) * factor, (cols // factor) * factor
    t = grid.transform
    x0, y0 = t.c, t.f
    x1, y1 = t.c + t.a * cols, t.f + t.e * rows
    return (x0, x1, y1, y0)


def display_image(scene, stretch: Stretch, *, max_px: int = 2400):
    """Stretched RGB uint8 image for display (downsampled to at most ``max_px`` wide) and its
    integer decimation factor."""
    factor = max(1, int(np.ceil(max(scene.shape) / max_px)))
    px, valid = _decimate(scene.pixels, scene.valid, factor)
    return stretch.apply(px, valid), factor


def show_panel(ax, scene, stretch: Stretch, *, max_px: int = 2400, label: str | None = None,
               fontsize: float = 11):
    """Draw ``scene`` on ``ax`` with ``stretch``, in map coordinates; header with UTC time."""
    img, factor = display_image(scene, stretch, max_px=max_px)
    im = ax.imshow(img, extent=image_extent(scene.grid, factor), origin="upper",
                   interpolation="antialiased")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_linewidth(0.6)
    when = format_time(scene.acquired)
    title = f"{label}  ·  {when}" if label else when
    ax.set_title(title, loc="left", fontsize=fontsize, fontweight="bold", pad=4)
    return im


def _geom_paths(geom):
    polys = [geom] if geom.geom_type == "Polygon" else [g for g in getattr(geom, "geoms", [])
                                                        if g.geom_type == "Polygon"]
    for p in polys:
        verts, codes = [], []
        for ring in [p.exterior, *p.interiors]:
            xy = np.asarray(ring.coords)
            verts.append(xy)
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY]
        yield MplPath(np.concatenate(verts), codes)


def _outline(ax, geom, colour, *, dashed=False, lw=1.8, hatch=None, fill_alpha=0.0):
    artists = []
    for path in _geom_paths(geom):
        if hatch:
            patch = PathPatch(path, facecolor="none", edgecolor=colour, hatch=hatch, lw=0.8,
                              alpha=0.9)
        else:
            patch = PathPatch(path, facecolor=colour if fill_alpha else "none", alpha=None,
                              edgecolor=colour, lw=lw, linestyle=(0, (4, 2.5)) if dashed else "-")
            if fill_alpha:
                patch.set_facecolor((*_rgb(colour), fill_alpha))
        ax.add_patch(patch)
        artists.append(patch)
    return artists


def _rgb(hex_colour):
    from matplotlib.colors import to_rgb

    return to_rgb(hex_colour)


def _outline_geom(ch):
    """What to outline: a little outside the footprint, so the object stays visible."""
    g = ch.geometry
    if ch.cls == "obscured":
        return g
    return g.buffer(max(2.0, 0.08 * np.sqrt(max(g.area, 1.0))), join_style="mitre")


def draw_changes(ax, changes, *, which: str = "after", arrows: bool = True):
    """Outline changes by class on a BEFORE (``which='before'``) or AFTER panel.

    Moved aircraft: dashed old outline on BEFORE; new outline plus an arrow from old to new on
    AFTER (dashed where the origin is one of several look-alike stands). Disappeared: solid
    on BEFORE, dashed on AFTER. Appeared: dashed on BEFORE. Obscured areas are hatched on
    both. ``arrows=False`` leaves out the moved arrows (zoomed views,
    where they would leave the axes). Returns the artists.
    """
    artists = []
    for ch in changes:
        col = PALETTE[ch.cls]
        if ch.cls == "obscured":
            artists += _outline(ax, ch.geometry, col, hatch="////")
            continue
        g = _outline_geom(ch)
        if ch.cls == "moved" and ch.from_geometry is not None:
            old = ch.from_geometry.buffer(max(2.0, 0.08 * np.sqrt(ch.from_geometry.area)), join_style="mitre")
            if which == "before":
                artists += _outline(ax, old, col, dashed=True)
            else:
                artists += _outline(ax, old, col, dashed=True, lw=1.0)
                artists += _outline(ax, g, col)
                if not arrows:
                    continue
                (x0, y0), (x1, y1) = ch.from_centroid, ch.centroid
                # an origin among look-alike stands is a best guess: drawn dashed and lighter
                unsure = ch.from_alternatives > 0
                artists.append(ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=4,
                                           arrowprops=dict(arrowstyle="-|>", color=col,
                                                           lw=1.1 if unsure else 1.6,
                                                           linestyle=(0, (4, 3)) if unsure else "-",
                                                           alpha=0.75 if unsure else 1.0,
                                                           shrinkA=2, shrinkB=6, mutation_scale=12)))
            continue
        dashed = (ch.cls == "appeared" and which == "before") or (ch.cls == "disappeared" and which == "after")
        artists += _outline(ax, g, col, dashed=dashed)
    return artists


def place_callouts(ax, changes, *, radius_px: float = 9.0, fontsize: float = 8.5):
    """Numbered callouts for every non-obscured change, placed so they overlap neither each
    other nor any object, with a leader line to the object; a possible decoy's number ends in
    '?'. Returns the text artists."""
    fig = ax.figure
    to_disp = ax.transData.transform
    items = [c for c in changes if c.cls != "obscured"]
    obstacles = []
    for c in changes:
        if c.cls == "obscured":
            continue
        for g in (c.geometry, c.from_geometry):
            if g is None:
                continue
            x0, y0, x1, y1 = g.bounds
            (a, b), (d, e) = to_disp([(x0, y0), (x1, y1)])
            obstacles.append((min(a, d), min(b, e), max(a, d), max(b, e)))
    bbox_ax = ax.get_window_extent()
    placed = []
    dpi_scale = fig.dpi / 72.0
    r = radius_px * dpi_scale
    offsets = [(dx, dy) for dist in (20, 34, 50, 70) for dx, dy in
               ((1, 1), (-1, 1), (1, -1), (-1, -1), (0, 1.3), (0, -1.3), (1.3, 0), (-1.3, 0))
               for dx, dy in [(dx * dist, dy * dist)]]
    texts = []

    def free(cx, cy):
        box_ = (cx - r, cy - r, cx + r, cy + r)
        if box_[0] < bbox_ax.x0 or box_[2] > bbox_ax.x1 or box_[1] < bbox_ax.y0 or box_[3] > bbox_ax.y1:
            return False
        for o in placed + obstacles:
            if not (box_[2] < o[0] or box_[0] > o[2] or box_[3] < o[1] or box_[1] > o[3]):
                return False
        return True

    for ch in sorted(items, key=lambda c: c.id):
        ax_, ay_ = to_disp(ch.centroid)
        choice = None
        for dx, dy in offsets:
            cx, cy = ax_ + dx * dpi_scale, ay_ + dy * dpi_scale
            if free(cx, cy):
                choice = (dx, dy)
                break
        if choice is None:  # crowded: the least-overlapping far position
            choice = offsets[-8]
        cx, cy = ax_ + choice[0] * dpi_scale, ay_ + choice[1] * dpi_scale
        placed.append((cx - r, cy - r, cx + r, cy + r))
        t = ax.annotate(
            f"{ch.id}?" if ch.possible_decoy else str(ch.id), xy=ch.centroid, xytext=choice, textcoords="offset points",
            ha="center", va="center", fontsize=fontsize, fontweight="bold", color="white", zorder=6,
            bbox=dict(boxstyle="circle,pad=0.25", fc=PALETTE[ch.cls], ec="white", lw=0.8),
            arrowprops=dict(arrowstyle="-", color="white", lw=0.9, shrinkA=0, shrinkB=3),
        )
        t.set_gid(f"callout-{ch.id}")
        texts.append(t)
    return texts


def add_scalebar(ax, grid, *, location="lower left", fontsize=9):
    """A metric scale bar (matplotlib-scalebar), dx from the grid's metres per map unit."""
    from matplotlib_scalebar.scalebar import ScaleBar

    sb = ScaleBar(grid.metres_per_unit, units="m", location=location, box_alpha=0.75,
                  color="black", font_properties={"size": fontsize}, length_fraction=0.22,
                  scale_loc="top", border_pad=0.6)
    ax.add_artist(sb)
    return sb


def add_north_arrow(ax, grid, *, xy=(0.94, 0.80), length_pt=26, fontsize=10):
    """North arrow in the upper right, rotated by the grid convergence (true north).

    In the pixel frame north is unknown: the arrow points up and says so.
    """
    conv = grid.grid_convergence_deg()
    th = np.radians(conv)
    dx, dy = np.sin(th) * length_pt, np.cos(th) * length_pt
    known = grid.crs is not None
    base = ax.annotate("", xy=xy, xycoords="axes fraction", xytext=(-dx, -dy),
                       textcoords="offset points", zorder=7,
                       arrowprops=dict(arrowstyle="-|>", color="black", lw=2.0, mutation_scale=15,
                                       shrinkA=0, shrinkB=0))
    label = ax.annotate("N" if known else "up\n(north unknown)", xy=xy, xycoords="axes fraction",
                        xytext=(np.sin(th) * 9, np.cos(th) * 9), textcoords="offset points",
                        ha="center", va="center", fontsize=fontsize if known else fontsize * 0.7,
                        fontweight="bold", zorder=7,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75))
    label.set_gid("north-arrow")
    return base, label
