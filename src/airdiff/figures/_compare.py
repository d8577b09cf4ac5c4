"""The article-ready BEFORE | AFTER figure, and rendering it to bytes."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..errors import InputError
from ._pieces import (
    CLASS_ORDER,
    IMPORTANCE,
    PALETTE,
    add_north_arrow,
    add_scalebar,
    draw_changes,
    image_extent,
    place_callouts,
    shared_stretch,
    show_panel,
)

__all__ = ["compare_figure", "false_colour_bands", "render_bytes", "key_text", "PRESETS"]

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
    decoys = sum(1 for c in changes if c.possible_decoy)
    if decoys:
        parts.append(f"{decoys} possible decoy{'s' if decoys > 1 else ''} (no shadow)")
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


def _inset_half(change, grid):
    """Half the side of a zoom inset around ``change``, map units."""
    return max(np.sqrt(change.geometry.area) * 1.1, 30.0 / grid.metres_per_unit)


def _inset_targets(changes, n):
    cand = [c for c in changes if c.cls in IMPORTANCE]
    cand.sort(key=lambda c: (IMPORTANCE[c.cls] - (0.5 if c.surface == "runway" else 0), -c.score, c.id))
    return cand[:n]


def _view_extent(cmp, changes, extent):
    """(left, right, bottom, top) shown by both panels: the full grid, or around the changes."""
    full = image_extent(cmp.grid)
    if extent == "full" or not changes:
        return full
    if extent != "auto":
        x0, y0, x1, y1 = extent  # (left, bottom, right, top) in map units
        return (x0, x1, y0, y1) if full[3] > full[2] else (x0, x1, y1, y0)
    from shapely.ops import unary_union

    geoms = [c.geometry for c in changes] + [c.from_geometry for c in changes
                                             if c.from_geometry is not None]
    bx0, by0, bx1, by1 = unary_union(geoms).bounds
    fx0, fx1 = sorted(full[:2])
    fy0, fy1 = sorted(full[2:])
    w, h = fx1 - fx0, fy1 - fy0
    pad = 0.15 * max(bx1 - bx0, by1 - by0) + 40.0 / cmp.grid.metres_per_unit
    # at least 35 % of each side for context, and a view between 2:1 and 1:1.5
    cw = min(max(bx1 - bx0 + 2 * pad, 0.35 * w), w)
    ch = min(max(by1 - by0 + 2 * pad, 0.35 * h), h)
    cw, ch = min(max(cw, ch / 1.5), w), min(max(ch, cw / 2), h)
    if cw * ch > 0.6 * w * h:
        return full
    cx = min(max((bx0 + bx1) / 2, fx0 + cw / 2), fx1 - cw / 2)
    cy = min(max((by0 + by1) / 2, fy0 + ch / 2), fy1 - ch / 2)
    x0, x1, y0, y1 = cx - cw / 2, cx + cw / 2, cy - ch / 2, cy + ch / 2
    return (x0, x1, y0, y1) if full[3] > full[2] else (x0, x1, y1, y0)


def false_colour_bands(scene) -> tuple[int, int, int]:
    """Band indices of near-infrared, red and green, to show as red, green and blue.

    The band named 'nir' (else the fourth) and the red and green of :attr:`Scene.rgb_indices`.
    Raises :class:`~airdiff.errors.InputError` for imagery without a fourth band.
    """
    if scene.count < 4:
        raise InputError(f"a false-colour figure needs a near-infrared band (4-band imagery); "
                         f"{scene.name or 'this scene'} has {scene.count}")
    names = tuple(scene.band_names)
    nir = names.index("nir") if "nir" in names else 3
    r, g, _ = scene.rgb_indices
    return nir, r, g


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
    layout: str = "auto",
    extent="auto",
    inset_reader=None,
    false_colour: bool = False,
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
    layout : {'auto', 'horizontal', 'vertical'}
        Panels side by side or stacked; 'auto' picks the one with the larger panels.
    extent : 'auto', 'full' or (left, bottom, right, top)
        What both panels show, in map units. 'auto' zooms to the changes (with context)
        when they cover a small part of the scene, else the full scene.
    inset_reader : callable, optional
        ``inset_reader(which, bounds) -> Scene`` with ``which`` 'before' or 'after' and
        ``bounds`` (left, bottom, right, top) in map units: the insets' pixels, at full
        resolution, on the same radiometric scale as the comparison's scenes. For a
        comparison whose scenes are decimated previews of scenes larger than memory.
    false_colour : bool
        Show near-infrared, red and green as red, green and blue (4-band imagery): healthy
        vegetation turns red, burn scars and bare ground dark or grey-brown. The panel
        labels say so.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.airdiff`` holds the stretch, the panel axes, the callouts and the inset targets.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    if layout not in ("auto", "horizontal", "vertical"):
        raise ValueError(f"layout must be 'auto', 'horizontal' or 'vertical', got {layout!r}")
    p = PRESETS[preset]
    cmp = comparison
    before, after = cmp.before, cmp.aligned
    bands = None
    panel_labels = labels
    if false_colour:
        bands = false_colour_bands(before)
        if false_colour_bands(after) != bands:
            raise InputError("a false-colour figure needs the same band layout in both dates")
        # on the panels only: the insets' titles are short, and show the same stretch
        panel_labels = tuple(f"{lab} · false colour (NIR, red, green)" for lab in labels)
    stretch = shared_stretch([before, after], bands=bands)
    changes = list(cmp.changes) if show_changes else []
    ext = _view_extent(cmp, changes, extent)  # obscured areas included: they are reported too
    # zoom insets only where they magnify: objects small on the panel
    view_w = abs(ext[1] - ext[0])
    small = [c for c in changes if 2 * _inset_half(c, before.grid) < 0.2 * view_w]
    targets = _inset_targets(small, insets) if insets else []
    aspect = abs(ext[3] - ext[2]) / abs(ext[1] - ext[0])  # height / width of the view

    # layout in inches, top to bottom: title, summary, legend | panel titles, panels |
    # inset titles, insets | footer
    W = p.width_in
    fs = p.fontsize
    k = fs / 11
    m = 0.012 * W
    header = 1.05 * k
    ptitle = 0.32 * k
    footer = 0.42 * k
    gap = 0.25 * k
    n_in = len(targets)
    slot_w = (W - (n_in + 1) * m) / n_in if n_in else 0.0
    sub_max = (slot_w - m / 2) / 2 if n_in else 0.0
    inset_h = min(sub_max, 3.2 * W / 16) if n_in else 0.0
    inset_block = gap + ptitle + inset_h if n_in else 0.0
    fixed = header + footer + m + inset_block
    H_fixed = W if p.square else None

    def panel_size(vertical):
        pw = W - 2 * m if vertical else (W - 3 * m) / 2
        ph = pw * aspect
        if H_fixed is not None:
            avail = H_fixed - fixed - (2 * ptitle + m if vertical else ptitle)
            avail /= 2 if vertical else 1
            if ph > avail:
                ph, pw = avail, avail / aspect
        return pw, ph

    if layout == "auto":
        if p.square:
            vertical = panel_size(True)[0] > panel_size(False)[0] * 1.05
        else:
            vertical = aspect < 0.45  # very wide views: stacked panels are larger
    else:
        vertical = layout == "vertical"
    pw, ph = panel_size(vertical)
    panels_h = (2 * (ptitle + ph) + m) if vertical else (ptitle + ph)
    H = H_fixed if p.square else header + panels_h + inset_block + footer + m
    if p.square and n_in:  # use spare height for larger insets
        spare = H - (header + panels_h + inset_block + footer + m)
        grow = max(0.0, min(spare * 0.9, 1.6 * sub_max - inset_h))
        inset_h += grow
        inset_block += grow
    spare = H - (header + panels_h + inset_block + footer + m)
    fig = Figure(figsize=(W, H), dpi=p.dpi, facecolor="white")

    def box(x, y_top, w, h):  # inches from the top-left -> figure fraction
        return [x / W, 1 - (y_top + h) / H, w / W, h / H]

    y_panels = header + ptitle + max(0.0, spare) / 4
    if vertical:
        x_left = (W - pw) / 2
        ax_b = fig.add_axes(box(x_left, y_panels, pw, ph))
        ax_a = fig.add_axes(box(x_left, y_panels + ph + m + ptitle, pw, ph))
    else:
        x_left = (W - 2 * pw - m) / 2
        ax_b = fig.add_axes(box(x_left, y_panels, pw, ph))
        ax_a = fig.add_axes(box(x_left + pw + m, y_panels, pw, ph))
    # display resolution: about 1.5 screen pixels per image pixel shown
    view_frac = abs(ext[1] - ext[0]) / abs(image_extent(before.grid)[1] - image_extent(before.grid)[0])
    max_px = int(pw * p.dpi * 1.5 / max(view_frac, 1e-3)) if preset != "print" else 2400
    max_px = max(256, min(max_px, 6000))
    show_panel(ax_b, before, stretch, max_px=max_px, label=panel_labels[0], fontsize=fs)
    show_panel(ax_a, after, stretch, max_px=max_px, label=panel_labels[1], fontsize=fs)
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

    # header, three rows: title; the quotable key with counts; the colour legend
    t = title or (location or cmp.options.location or "Before / after comparison")
    fig.text(m / W, 1 - 0.08 * k / H, t, fontsize=fs * 1.45, fontweight="bold",
             va="top", ha="left")
    fig.text(m / W, 1 - 0.46 * k / H, key_text(cmp.changes, hedged=hedged),
             fontsize=fs * 0.9, ha="left", va="top", color="#222222").set_gid("key")
    handles = []
    counts = cmp.counts()
    for cls in CLASS_ORDER:
        if cls in ("changed", "obscured") and not counts.get(cls):
            continue
        handles.append(Patch(facecolor="none" if cls == "obscured" else PALETTE[cls],
                             edgecolor=PALETTE[cls], hatch="////" if cls == "obscured" else None,
                             label=f"{'other change' if cls == 'changed' else cls} ({counts.get(cls, 0)})"))
    if any(c.possible_decoy for c in cmp.changes):
        handles.append(Line2D([], [], color="#222222", marker="$?$", markersize=fs * 0.8, linestyle="none",
                              label="no shadow like the other aircraft's: possible decoy"))
    if any(c.cls == "moved" and c.from_alternatives > 0 for c in cmp.changes):
        handles.append(Line2D([], [], color=PALETTE["moved"], lw=1.1, linestyle=(0, (4, 3)),
                              label="origin: one of several look-alike stands"))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(m / W, 1 - 0.72 * k / H),
               ncol=len(handles), frameon=False, fontsize=fs * 0.8, handlelength=1.4,
               handleheight=0.8, columnspacing=1.4, borderaxespad=0, borderpad=0)

    # zoom insets: before | after of the same spot, lettered on the AFTER panel
    inset_axes = []
    if n_in:
        y_in = y_panels + panels_h + gap + max(0.0, spare) / 4
        slot_w = (W - (n_in + 1) * m) / n_in
        for j_in, ch in enumerate(targets):
            letter = "ABCDEFGH"[j_in]
            cx, cy = ch.centroid
            half = _inset_half(ch, before.grid)
            sub_w = min(inset_h, sub_max)
            half_y = half * inset_h / sub_w  # taller than wide when there is room (square)
            x0 = m + j_in * (slot_w + m) + (slot_w - 2 * sub_w - m / 2) / 2
            pair = []
            for j, (scene, lab) in enumerate(((before, labels[0]), (after, labels[1]))):
                ax = fig.add_axes(box(x0 + j * (sub_w + m / 2), y_in, sub_w, inset_h))
                # the zoomed window at full resolution
                r0, c0 = (int(v) for v in np.floor(np.ravel(
                    scene.grid.rowcol([cx - half, cx + half], [cy - half_y, cy + half_y])).reshape(2, 2).min(axis=1)))
                r1, c1 = (int(v) for v in np.ceil(np.ravel(
                    scene.grid.rowcol([cx - half, cx + half], [cy - half_y, cy + half_y])).reshape(2, 2).max(axis=1)))
                r0, c0 = max(r0 - 1, 0), max(c0 - 1, 0)
                r1, c1 = min(r1 + 1, scene.shape[0]), min(c1 + 1, scene.shape[1])
                if inset_reader is not None:
                    win = inset_reader("before" if j == 0 else "after",
                                       (cx - half, cy - half_y, cx + half, cy + half_y))
                    if win is not None:
                        ax.imshow(stretch.apply(win.pixels, win.valid), extent=image_extent(win.grid),
                                  origin="upper", interpolation="nearest")
                elif r1 > r0 and c1 > c0:
                    sub = scene.pixels[:, r0:r1, c0:c1]
                    img = stretch.apply(sub, scene.valid[r0:r1, c0:c1])
                    ax.imshow(img, extent=image_extent(scene.grid.window(r0, c0, r1 - r0, c1 - c0)),
                              origin="upper", interpolation="nearest")
                draw_changes(ax, [ch], which="before" if j == 0 else "after", arrows=False)
                ax.set_xlim(cx - half, cx + half)
                yl = (cy - half_y, cy + half_y)
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
            rect_y = (cy - half_y, cy + half_y)
            ax_a.indicate_inset((cx - half, min(rect_y), 2 * half, 2 * half_y), inset_ax=None,
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
                   "preset": preset, "layout": "vertical" if vertical else "horizontal",
                   "extent": ext}
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
