"""Companions of the figure: the analyst's change map, the blink GIF and the swipe page."""

from __future__ import annotations

import base64
import html

import numpy as np
from matplotlib.figure import Figure

from ._pieces import (
    display_image,
    draw_changes,
    format_time,
    image_extent,
    shared_stretch,
)

__all__ = ["change_map_figure", "blink_gif", "swipe_html"]


def change_map_figure(comparison, *, ax=None, width_in: float = 10.0) -> Figure:
    """Change magnitude as a heat map with the no-data, cloud and cloud-shadow masks.

    For analysts: it shows what the pixel stage saw, before any aircraft-level reasoning.
    Draws on ``ax`` when given; returns the figure.
    """
    from matplotlib.colors import ListedColormap

    cm = comparison.changemap
    grid = comparison.grid
    rows, cols = grid.shape
    if ax is None:
        fig = Figure(figsize=(width_in, width_in * rows / cols * 0.92 + 0.6), dpi=100)
        ax = fig.add_axes([0.03, 0.05, 0.82, 0.88])
        cax = fig.add_axes([0.87, 0.15, 0.025, 0.65])
    else:
        fig, cax = ax.figure, None
    factor = max(1, int(np.ceil(max(rows, cols) / 2000)))
    mag = cm.magnitude[::factor, ::factor]
    ext = image_extent(grid)
    im = ax.imshow(mag, extent=ext, origin="upper", cmap="magma", vmin=0,
                   vmax=1.0, interpolation="nearest")  # magnitude is 0..1 by contract
    layers = [(cm.nodata, "#bdbdbd", "no data"), (cm.cloud, "#9ecae1", "cloud"),
              (cm.cloud_shadow, "#3182bd", "cloud shadow")]
    handles = []
    from matplotlib.patches import Patch

    for mask, colour, label in layers:
        m = mask[::factor, ::factor]
        if m.any():
            ax.imshow(np.ma.masked_where(~m, np.ones_like(m, float)), extent=ext, origin="upper",
                      cmap=ListedColormap([colour]), alpha=0.75, interpolation="nearest")
        handles.append(Patch(color=colour, label=f"{label} ({100 * mask.mean():.1f} %)"))
    draw_changes(ax, [c for c in comparison.changes if c.cls != "obscured"], which="after")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"Change magnitude, {format_time(comparison.before.acquired)} → "
                 f"{format_time(comparison.after.acquired)}", loc="left", fontsize=11)
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.85)
    if cax is not None:
        fig.colorbar(im, cax=cax, label="change magnitude")
    return fig


def _frame(scene, stretch, changes, which, label, max_size, annotate):
    img, factor = display_image(scene, stretch, max_px=max_size)
    h, w = img.shape[:2]
    dpi = 100
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi)
    ax = fig.add_axes([0, 0, 1, 1])
    ext = image_extent(scene.grid, factor)
    ax.imshow(img, extent=ext, origin="upper", interpolation="antialiased")
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])
    ax.set_axis_off()
    if annotate:
        draw_changes(ax, changes, which=which)
    ax.text(0.015, 0.975, label, transform=ax.transAxes, va="top", ha="left", fontsize=13,
            fontweight="bold", color="black",
            bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="none", alpha=0.85))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def blink_gif(comparison, *, duration_ms: int = 800, annotate: bool = True,
              max_size: int = 1200) -> bytes:
    """Two-frame GIF alternating BEFORE and the aligned AFTER on one stretch.

    ``duration_ms`` is the time each frame shows; the GIF loops forever.
    """
    import imageio.v3 as iio

    if duration_ms <= 0:
        raise ValueError("duration_ms must be positive")
    cmp = comparison
    stretch = shared_stretch([cmp.before, cmp.aligned])
    frames = [
        _frame(cmp.before, stretch, cmp.changes, "before", f"Before · {format_time(cmp.before.acquired)}", max_size, annotate),
        _frame(cmp.aligned, stretch, cmp.changes, "after", f"After · {format_time(cmp.aligned.acquired)}", max_size, annotate),
    ]
    return iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=int(duration_ms),
                       loop=0)


def _data_uri(img: np.ndarray) -> str:
    import imageio.v3 as iio

    data = iio.imwrite("<bytes>", img, extension=".jpg", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


_SWIPE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  body {{ margin: 0; background: #111; color: #eee; font: 14px/1.4 system-ui, sans-serif; }}
  header {{ padding: 8px 14px; }}
  #frame {{ position: relative; width: min(96vw, {w}px); margin: 0 auto; user-select: none; }}
  #frame img {{ display: block; width: 100%; height: auto; }}
  #after-wrap {{ position: absolute; inset: 0; overflow: hidden; clip-path: inset(0 0 0 50%); }}
  #divider {{ position: absolute; top: 0; bottom: 0; left: 50%; width: 3px; margin-left: -1px;
             background: #fff; box-shadow: 0 0 4px #000; pointer-events: none; }}
  .tag {{ position: absolute; top: 8px; padding: 2px 8px; background: rgba(255,255,255,.85);
          color: #000; font-weight: 600; border-radius: 3px; }}
  #tag-before {{ left: 8px; }} #tag-after {{ right: 8px; }}
  #swipe {{ display: block; width: min(96vw, {w}px); margin: 10px auto; }}
  footer {{ padding: 4px 14px 12px; color: #aaa; font-size: 12px; }}
</style></head>
<body>
<header><strong>{title}</strong> &nbsp; {summary}</header>
<div id="frame">
  <img id="img-before" alt="before" src="{before}">
  <div id="after-wrap"><img id="img-after" alt="after" src="{after}"></div>
  <div id="divider"></div>
  <span class="tag" id="tag-before">Before · {t_before}</span>
  <span class="tag" id="tag-after">After · {t_after}</span>
</div>
<input id="swipe" type="range" min="0" max="100" value="50" step="0.1" aria-label="swipe between before and after">
<footer>{credit} · drag the slider or the image; airdiff</footer>
<script>
(function () {{
  var s = document.getElementById('swipe'), wrap = document.getElementById('after-wrap'),
      div = document.getElementById('divider'), frame = document.getElementById('frame');
  function set(p) {{
    p = Math.max(0, Math.min(100, +p));
    wrap.style.clipPath = 'inset(0 0 0 ' + p + '%)';
    div.style.left = p + '%';
    s.value = p;
  }}
  s.addEventListener('input', function () {{ set(s.value); }});
  function drag(e) {{
    var r = frame.getBoundingClientRect(), x = (e.touches ? e.touches[0].clientX : e.clientX);
    set(100 * (x - r.left) / r.width);
  }}
  var down = false;
  frame.addEventListener('mousedown', function (e) {{ down = true; drag(e); }});
  window.addEventListener('mouseup', function () {{ down = false; }});
  frame.addEventListener('mousemove', function (e) {{ if (down) drag(e); }});
  frame.addEventListener('touchmove', function (e) {{ drag(e); }}, {{passive: true}});
  var m = /pos=([0-9.]+)/.exec(location.hash);
  set(m ? m[1] : s.value);
}})();
</script>
</body></html>
"""


def swipe_html(comparison, *, title: str | None = None, max_size: int = 2000,
               annotate: bool = False) -> str:
    """One self-contained offline HTML page with a slider between BEFORE and AFTER.

    Both images are embedded (base64 JPEG) on one stretch; no network is needed. The page
    starts at the position given by a ``#pos=NN`` URL fragment (0-100), else 50.
    """
    cmp = comparison
    stretch = shared_stretch([cmp.before, cmp.aligned])
    if annotate:
        b = _frame(cmp.before, stretch, cmp.changes, "before", "", max_size, True)
        a = _frame(cmp.aligned, stretch, cmp.changes, "after", "", max_size, True)
    else:
        b, _ = display_image(cmp.before, stretch, max_px=max_size)
        a, _ = display_image(cmp.aligned, stretch, max_px=max_size)
    from ._compare import _credit_line, key_text

    t = title or cmp.options.location or "Before / after"
    return _SWIPE.format(
        title=html.escape(t), summary=html.escape(key_text(cmp.changes)),
        before=_data_uri(b), after=_data_uri(a), w=b.shape[1],
        t_before=html.escape(format_time(cmp.before.acquired)),
        t_after=html.escape(format_time(cmp.aligned.acquired)),
        credit=html.escape(_credit_line(cmp, None)),
    )
