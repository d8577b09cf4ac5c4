"""Figures: the article-ready comparison, its pieces, and companions (GIF, swipe page, change map).

The functions build matplotlib ``Figure`` objects (never pyplot state) or bytes/strings;
:mod:`airdiff.io` writes them to files.
"""

from ._companions import blink_gif, change_map_figure, swipe_html
from ._compare import PRESETS, compare_figure, false_colour_bands, key_text, render_bytes
from ._pieces import (
    PALETTE,
    Stretch,
    add_north_arrow,
    add_scalebar,
    draw_changes,
    place_callouts,
    shared_stretch,
    show_panel,
)

__all__ = [
    "PALETTE",
    "PRESETS",
    "Stretch",
    "add_north_arrow",
    "add_scalebar",
    "blink_gif",
    "change_map_figure",
    "compare_figure",
    "draw_changes",
    "false_colour_bands",
    "key_text",
    "place_callouts",
    "render_bytes",
    "shared_stretch",
    "show_panel",
    "swipe_html",
]
