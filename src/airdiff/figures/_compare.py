"""The article-ready BEFORE | AFTER figure, and rendering it to bytes."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ._pieces import (
    CLASS_ORDER,
    IMPORTANCE,
    PALETTE,
    add_north_arrow,
    add_scalebar,
    display_image,
    draw_changes,
    image_extent,
    place_callouts,
    shared_stretch,
    show_panel,
)

__all__ = ["compare_figure", "render_bytes", "key_text", "PRESETS"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preset:
    width_in: float
    dpi: float
    square: bool = False
    fontsize: float = 11.0


#: web: 1600 px wide PNG; print: vector PDF/SVG; square: 1080 x 1080 for social media.
PRESETS = {
    "web": Preset(16.0, 100.0),
    "print": Preset(7.2, 300.0, fontsize=7.5),
    "square": Preset(10.8, 100.0, square=True),
}


def key_text(changes, *, hedged: bool = False) -> str:
    """``2 burned · 11 moved (1 onto runway) · 0 appeared · 0 disappeared`` (+ obscured)."""
    from collections import Counter

    n = Counter(c.cls for c in changes)
    parts = []
    for cls in ("burned", "moved", "appeared", "disappeared"):
        label = {"burned": "appear burned", "moved": "likely moved"}.get(cls, cls) if hedged else cls
        s = f"{n.get(cls, 0)} {label}"
        if cls == "moved":
            runway = sum(1 for c in changes if c.cls == "moved" and c.surface == "runway")
            if runway:
                s += f" ({runway} onto runway)"
        parts.append(s)
    if n.get("changed"):
        parts.append(f"{n['changed']} other change{'s' if n['changed'] > 1 else ''}")
    if n.get("obscured"):
        parts.append(f"{n['obscured']} area{'s' if n['obscured'] > 1 else ''} cannot be assessed")
    return " · ".join(parts)


def _location_line(cmp, location):
    grid = cmp.grid
    name = location or cmp.options.location
    if grid.crs is None:
        return name or "location: not georeferenced"
    lon, lat = grid.centre_lonlat
    ll = f"{abs(lat):.4f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.4f}° {'E' if lon >= 0 else 'W'}"
    return f"{name} · {ll}" if name else ll


def _credit_line(cmp, credit):
    c = credit or cmp.options.credit
    if not c:
        credits = {s.credit for s in (cmp.before, cmp.after) if s.credit}
        c = " / ".join(sorted(credits))
    if not c:
        return "Image credit: not given"
    return c if c.lower().startswith(("image", "imagery", "©", "synthetic")) else f"Image © {c}"


def _inset_targets(changes, n):
    cand = [c for c in changes if c.cls in IMPORTANCE]
    cand.sort(key=lambda c: (IMPORTANCE[c.cls] - (0.5 if c.surface == "runway" else 0), -c.score, c.id))
    return cand[:n]


def compare_figure(
    comparison,
    *,
    preset: str = "web",
    title: str | None = None,
    credit: str | None = None,
    location: str | None = None,
    labels: tuple[str, str] = ("Before", "After"),
    insets: int = 3,
    show_changes: bool = True,
    hedged: bool = False,
) -> Figure:
    """The publication figure of a comparison.

    BEFORE | AFTER on one extent and one shared stretch, UTC headers, numbered callouts
    coloured by class, moved aircraft as dashed old outline + new outline + arrow, hatched
    obscured areas, a key with counts, a scale bar, a north arrow corrected for grid
    convergence, zoom insets on the most important objects, and a reserved footer with the
    credit and location.

    Parameters
    ----------
    comparison : airdiff.pipeline.Comparison
    preset : {'web', 'print', 'square'}
    title, credit, location : str, optional
        Override the title, the credit line (``Options.credit`` / scene credits otherwise)
        and the location name.
    labels : (str, str)
        Panel labels.
    insets : int
        Number of zoom insets (0 for none).
    show_changes : bool
        Draw outlines and callouts.
    hedged : bool
        Key in analysts' wording ("appear burned", "likely moved").

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.airdiff`` holds the stretch, the panel axes, the callouts and the inset targets.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    p = PRESETS[preset]
    cmp = comparison
    before, after = cmp.before, cmp.aligned
    stretch = shared_stretch([before, after])
    rows, cols = before.shape
    aspect = rows / cols
    changes = list(cmp.changes) if show_changes else []
    targets = _inset_targets(changes, insets) if insets else []

    # layout in inches: header, panel titles, panels, insets row, footer
    W = p.width_in
    fs = p.fontsize
    m = 0.012 * W
    header = 0.95 * fs / 11
    ptitle = 0.32 * fs / 11
    footer = 0.42 * fs / 11
    gap = 0.25 * fs / 11
    pw = (W - 3 * m) / 2
    ph = pw * aspect
    n_in = len(targets)
    inset_h = 0.0
    if n_in:
        slot_w = (W - (n_in + 1) * m) / n_in
        inset_h = min(slot_w / 2, 3.2 * W / 16)
    H = header + ptitle + ph + (gap + ptitle + inset_h if n_in else 0) + footer + m
    if p.square:
        H_target = W
        avail = H_target - (header + ptitle + (gap + ptitle + inset_h if n_in else 0) + footer + m)
        if ph > avail:
            ph = avail
            pw = ph / aspect
        H = H_target
    fig = Figure(figsize=(W, H), dpi=p.dpi, facecolor="white")

    def box(x, y_top, w, h):  # inches from the top-left -> figure fraction
        return [x / W, 1 - (y_top + h) / H, w / W, h / H]

    x_left = (W - 2 * pw - m) / 2
    y_panels = header + ptitle
    ax_b = fig.add_axes(box(x_left, y_panels, pw, ph))
    ax_a = fig.add_axes(box(x_left + pw + m, y_panels, pw, ph))
    max_px = int(pw * p.dpi * 1.5) if preset != "print" else 2400
    show_panel(ax_b, before, stretch, max_px=max_px, label=labels[0], fontsize=fs)
    show_panel(ax_a, after, stretch, max_px=max_px, label=labels[1], fontsize=fs)
    ext = image_extent(before.grid)
    for ax in (ax_b, ax_a):
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
        ax.set_aspect("equal")
    callouts = []
    if changes:
        draw_changes(ax_b, changes, which="before")
        draw_changes(ax_a, changes, which="after")
        callouts = place_callouts(ax_a, changes, fontsize=fs * 0.78)
    add_scalebar(ax_b, before.grid, fontsize=fs * 0.8)
    add_north_arrow(ax_a, before.grid, fontsize=fs * 0.9)

    # header: title and key with counts
    t = title or (cmp.options.location or location or "Before / after comparison")
    fig.text(m / W, 1 - 0.12 * fs / 11 / H * 2.2, t, fontsize=fs * 1.45, fontweight="bold",
             va="top", ha="left")
    handles = []
    counts = cmp.counts()
    for cls in CLASS_ORDER:
        if cls in ("changed", "obscured") and not counts.get(cls):
            continue
        handles.append(Patch(facecolor="none" if cls == "obscured" else PALETTE[cls],
                             edgecolor=PALETTE[cls], hatch="////" if cls == "obscured" else None,
                             label=f"{cls} ({counts.get(cls, 0)})"))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(m / W, 1 - 0.5 * fs / 11 / H),
               ncol=len(handles), frameon=False, fontsize=fs * 0.85, handlelength=1.4,
               columnspacing=1.4, borderaxespad=0)
    fig.text(1 - m / W, 1 - 0.5 * fs / 11 / H, key_text(cmp.changes, hedged=hedged),
             fontsize=fs * 0.85, ha="right", va="top", color="#333333")

    # zoom insets: before | after of the same spot, lettered on the AFTER panel
    inset_axes = []
    if n_in:
        y_in = y_panels + ph + gap + ptitle
        slot_w = (W - (n_in + 1) * m) / n_in
        for k, ch in enumerate(targets):
            letter = "ABCDEFGH"[k]
            g = ch.geometry
            cx, cy = ch.centroid
            half = max(np.sqrt(g.area) * 1.1, 30.0 / before.grid.metres_per_unit)
            sub_w = min(inset_h, (slot_w - m / 2) / 2)
            x0 = m + k * (slot_w + m) + (slot_w - 2 * sub_w - m / 2) / 2
            pair = []
            for j, (scene, lab) in enumerate(((before, labels[0]), (after, labels[1]))):
                ax = fig.add_axes(box(x0 + j * (sub_w + m / 2), y_in, sub_w, sub_w))
                img, factor = display_image(scene, stretch, max_px=max_px)
                ax.imshow(img, extent=image_extent(scene.grid, factor), origin="upper",
                          interpolation="antialiased")
                draw_changes(ax, [ch], which="before" if j == 0 else "after", arrows=False)
                ax.set_xlim(cx - half, cx + half)
                yl = (cy - half, cy + half)
                ax.set_ylim(yl if ext[3] > ext[2] else yl[::-1])
                ax.set_xticks([])
                ax.set_yticks([])
                for s in ax.spines.values():
                    s.set_edgecolor(PALETTE[ch.cls])
                    s.set_linewidth(1.6)
                ax.set_title(f"{letter} · #{ch.id} {ch.cls} — {lab.lower()}", fontsize=fs * 0.72,
                             loc="left", pad=2)
                pair.append(ax)
            inset_axes.append(pair)
            rect_y = (cy - half, cy + half) if ext[3] > ext[2] else (cy + half, cy - half)
            ax_a.indicate_inset((cx - half, min(rect_y), 2 * half, 2 * half), inset_ax=None,
                                edgecolor="white", linewidth=1.0, alpha=0.9)
            ax_a.text(cx - half, max(rect_y) if ext[3] > ext[2] else min(rect_y), letter,
                      color="white", fontsize=fs * 0.8, fontweight="bold", va="bottom",
                      ha="left", zorder=7)

    # reserved footer
    fy = (footer * 0.45) / H
    fig.text(m / W, fy, _credit_line(cmp, credit), fontsize=fs * 0.78, va="center", ha="left",
             color="#333333").set_gid("credit")
    fig.text(0.5, fy, _location_line(cmp, location), fontsize=fs * 0.78, va="center",
             ha="center", color="#333333").set_gid("location")
    fig.text(1 - m / W, fy, "Analysis: airdiff", fontsize=fs * 0.72, va="center", ha="right",
             color="#777777")
    fig.airdiff = {"stretch": stretch, "panels": (ax_b, ax_a), "callouts": callouts,
                   "insets": inset_axes, "inset_targets": [c.id for c in targets],
                   "preset": preset}
    return fig


def render_bytes(fig: Figure, *, fmt: str = "png", preset: str | None = None) -> bytes:
    """Render ``fig`` to PNG, PDF or SVG bytes (vector text in PDF/SVG).

    The web preset gives a 1600 px wide PNG; global rcParams are never changed.
    """
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fmt not in ("png", "pdf", "svg"):
        raise ValueError(f"fmt must be png, pdf or svg, got {fmt!r}")
    preset = preset or getattr(fig, "airdiff", {}).get("preset", "web")
    dpi = PRESETS.get(preset, PRESETS["web"]).dpi
    if preset == "web" and fmt == "png":
        dpi = 1600 / fig.get_figwidth()
    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    with mpl.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none"}):
        fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white")
    return buf.getvalue()
