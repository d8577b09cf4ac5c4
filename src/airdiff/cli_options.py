"""Options shared by the pair commands of the CLI (one place, like rasterio's rio options)."""

from __future__ import annotations

import click

__all__ = ["pair_options", "output_option"]


def _positive(ctx, param, value):
    if value is not None and not value > 0:
        raise click.BadParameter("must be a positive number of metres")
    return value


_PAIR = [
    click.argument("before", type=click.Path(dir_okay=True, path_type=str)),
    click.argument("after", type=click.Path(dir_okay=True, path_type=str)),
    click.option("--gsd", type=float, callback=_positive, metavar="METRES",
                 help="Ground sample distance of any input without georeference (PNG/JPEG)."),
    click.option("--before-gsd", type=float, callback=_positive, metavar="METRES",
                 help="GSD of BEFORE when it has no georeference (overrides --gsd)."),
    click.option("--after-gsd", type=float, callback=_positive, metavar="METRES",
                 help="GSD of AFTER when it has no georeference (overrides --gsd)."),
    click.option("--before-time", metavar="ISO8601",
                 help="Capture time of BEFORE (UTC unless an offset is given) when the file has none."),
    click.option("--after-time", metavar="ISO8601", help="Capture time of AFTER."),
    click.option("--max-offset", "max_offset_m", type=float, default=150.0, show_default=True,
                 metavar="METRES", help="Largest misregistration to search for."),
    click.option("--no-local", is_flag=True, help="Skip the local (tie-point warp) refinement."),
]


def pair_options(f):
    """BEFORE/AFTER arguments plus GSD, time and alignment options."""
    for deco in reversed(_PAIR):
        f = deco(f)
    return f


def output_option(help_text: str):
    return click.option("-o", "--output", required=True, type=click.Path(path_type=str),
                        help=help_text)


def figure_options(f):
    """Credit, location and preset options of figure-making commands."""
    for deco in reversed([
        click.option("--credit", default="", help='Credit line, e.g. "Image © Provider".'),
        click.option("--location", default="", help="Location name for the footer."),
        click.option("--preset", type=click.Choice(["web", "print", "square"]), default=None,
                     help="Figure preset (default: from the file extension)."),
    ]):
        f = deco(f)
    return f
