"""Figure content, not existence: callouts, dates, credit, shared extent and stretch, scale bar,
the print preset's vector text, the blink GIF, and the swipe page in headless Chromium."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from airdiff.change import ChangeMap
from airdiff.figures import blink_gif, compare_figure, render_bytes, swipe_html
from airdiff.objects.model import Change
from airdiff.pipeline import Comparison, Options
from airdiff.register.model import Registration
from airdiff.synth import make_pair


def comparison_from_truth(pair, *, tint=None, credit="Test Provider"):
    """A Comparison whose changes are the generator's truth (figures are tested alone)."""
    b = pair.before
    after = pair.after
    if tint is not None:  # colour the dates apart, for the browser test
        px = b.pixels.astype(np.float32)
        b = b.replace(pixels=np.clip(px * np.array(tint[0])[:, None, None], 0, 255).astype(np.uint8))
        pa = after.pixels.astype(np.float32)
        after = after.replace(pixels=np.clip(pa * np.array(tint[1])[:, None, None], 0, 255).astype(np.uint8))
    changes = []
    for i, c in enumerate(pair.truth.changes, start=1):
        geom = c.after if c.after is not None else c.before
        changes.append(Change(i, c.cls, 0.9, geom,
                              from_geometry=c.before if c.cls == "moved" else None,
                              surface=c.surface, from_surface=c.from_surface))
    if not pair.truth.cloud.is_empty:
        changes.append(Change(len(changes) + 1, "obscured", 1.0, pair.truth.cloud))
    z = np.zeros(b.shape, bool)
    cm = ChangeMap(np.zeros(b.shape, np.float32), z, z, z, b.grid)
    return Comparison(before=b, after=after, aligned=after, normalised=after,
                      registration=Registration(np.eye(3), True, 0.9), changemap=cm,
                      changes=tuple(changes), options=Options(credit=credit, location="Test base"))


@pytest.fixture(scope="module")
def cmp():
    pair = make_pair(seed=1, scenario="strike", shape=(700, 900), gsd=1.0,
                     misregistration="none", nuisances={"cloud", "sun"})
    return comparison_from_truth(pair)


def texts_of(fig):
    FigureCanvasAgg(fig).draw()
    return [t for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_text()]


def test_callouts_match_changes_and_dates_credit_present(cmp):
    fig = compare_figure(cmp, preset="web")
    objects = [c for c in cmp.changes if c.cls != "obscured"]
    callouts = [t for t in texts_of(fig) if (t.get_gid() or "").startswith("callout-")]
    assert len(callouts) == len(objects) == 13
    assert sorted(int(t.get_text()) for t in callouts) == sorted(c.id for c in objects)
    strings = " ".join(t.get_text() for t in texts_of(fig))
    for scene in (cmp.before, cmp.after):
        assert scene.acquired.strftime("%Y-%m-%d %H:%M UTC") in strings
    assert "Image © Test Provider" in strings
    assert "2 burned" in strings and "11 moved (1 onto runway)" in strings
    assert re.search(r"\d+\.\d{4}° [NS], \d+\.\d{4}° [EW]", strings)


def test_uncertain_origins_are_drawn_dashed_and_keyed(cmp):
    from dataclasses import replace

    from matplotlib.text import Annotation

    def dashed_arrows(fig):
        # arrows without text on the AFTER panel: the moved arrows and the north arrow
        ax_a = fig.airdiff["panels"][1]
        styles = [a.arrow_patch.get_linestyle() for a in ax_a.findobj(Annotation)
                  if a.arrow_patch is not None and not a.get_text()]
        assert len(styles) == 12
        return sum(ls not in ("-", "solid") for ls in styles)

    sure = compare_figure(cmp, preset="web")
    assert "look-alike" not in " ".join(t.get_text() for t in texts_of(sure))
    assert dashed_arrows(sure) == 0
    unsure = replace(cmp, changes=tuple(c.replace(from_alternatives=3) if c.cls == "moved" else c
                                         for c in cmp.changes))
    fig = compare_figure(unsure, preset="web")
    assert "origin: one of several look-alike stands" in " ".join(t.get_text() for t in texts_of(fig))
    assert dashed_arrows(fig) == 11


def test_panels_share_extent_and_stretch(cmp):
    fig = compare_figure(cmp, preset="web")
    ax_b, ax_a = fig.airdiff["panels"]
    assert ax_b.get_xlim() == ax_a.get_xlim() and ax_b.get_ylim() == ax_a.get_ylim()
    st = fig.airdiff["stretch"]
    img_b = ax_b.get_images()[0].get_array()
    img_a = ax_a.get_images()[0].get_array()
    # both panels are exactly the shared stretch applied to their own scene
    np.testing.assert_array_equal(img_b, st.apply(cmp.before.pixels, cmp.before.valid))
    np.testing.assert_array_equal(img_a, st.apply(cmp.aligned.pixels, cmp.aligned.valid))
    # and the stretch was computed on both dates together, not one
    lo_b = np.percentile(cmp.before.pixels[0][cmp.before.valid], 1)
    lo_a = np.percentile(cmp.aligned.pixels[0][cmp.aligned.valid], 1)
    assert min(lo_a, lo_b) - 1 <= st.lo[0] <= max(lo_a, lo_b) + 1


def test_scalebar_north_arrow_and_nothing_outside(cmp):
    from matplotlib_scalebar.scalebar import ScaleBar

    fig = compare_figure(cmp, preset="web")
    ax_b, ax_a = fig.airdiff["panels"]
    bars = [a for a in ax_b.artists if isinstance(a, ScaleBar)]
    assert len(bars) == 1 and bars[0].dx == pytest.approx(cmp.grid.metres_per_unit)
    texts = texts_of(fig)
    assert any(t.get_gid() == "north-arrow" and t.get_text() == "N" for t in texts)
    renderer = fig.canvas.get_renderer()
    fb = fig.bbox
    for t in texts:
        e = t.get_window_extent(renderer)
        assert fb.x0 - 1 <= e.x0 and e.x1 <= fb.x1 + 1 and fb.y0 - 1 <= e.y0 and e.y1 <= fb.y1 + 1, t.get_text()


def test_callouts_do_not_overlap(cmp):
    fig = compare_figure(cmp, preset="web")
    FigureCanvasAgg(fig).draw()
    r = fig.canvas.get_renderer()
    boxes = [t.get_bbox_patch().get_window_extent(r) for t in fig.airdiff["callouts"]]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (i, j)
    # nor the object they describe (its footprint's bounding box on the AFTER panel)
    from matplotlib.transforms import Bbox

    ax_a = fig.airdiff["panels"][1]
    by_id = {c.id: c for c in cmp.changes}
    for t, box in zip(fig.airdiff["callouts"], boxes, strict=True):
        x0, y0, x1, y1 = by_id[int(t.get_text().rstrip("?"))].geometry.bounds
        corners = ax_a.transData.transform([(x0, y0), (x1, y1)])
        obj = Bbox.from_extents(*corners.min(axis=0), *corners.max(axis=0))
        assert not box.overlaps(obj), t.get_text()


def test_web_preset_is_1600px_and_print_has_vector_text(cmp):
    import imageio.v3 as iio

    png = render_bytes(compare_figure(cmp, preset="web"), fmt="png", preset="web")
    assert iio.imread(png).shape[1] == 1600
    fig = compare_figure(cmp, preset="print")
    pdf = render_bytes(fig, fmt="pdf", preset="print")
    assert b"/FontFile2" in pdf  # TrueType (Type 42) fonts embedded, text stays text
    svg = render_bytes(fig, fmt="svg", preset="print").decode()
    assert "<text" in svg and "2 burned" in svg
    sq = iio.imread(render_bytes(compare_figure(cmp, preset="square"), fmt="png", preset="square"))
    assert abs(sq.shape[0] - sq.shape[1]) <= 2


def test_a_possible_decoy_is_marked_and_explained(cmp):
    """A change flagged as a possible decoy: its callout number ends in '?', the legend says
    why, and the key counts it; a figure without one says nothing of decoys."""
    first = next(c for c in cmp.changes if c.cls != "obscured")
    from dataclasses import replace

    flagged = replace(cmp, changes=tuple(c.replace(possible_decoy=True) if c is first else c for c in cmp.changes))
    svg = render_bytes(compare_figure(flagged, preset="print"), fmt="svg", preset="print").decode()
    labels = [t.get_text() for t in compare_figure(flagged).airdiff["callouts"]]
    assert f"{first.id}?" in labels and sum(t.endswith("?") for t in labels) == 1
    assert "1 possible decoy (no shadow)" in svg and "possible decoy" in svg.split("1 possible decoy")[1]
    plain = render_bytes(compare_figure(cmp, preset="print"), fmt="svg", preset="print").decode()
    assert "decoy" not in plain


def test_pixel_frame_figure_says_north_is_unknown():
    pair = make_pair(seed=2, shape=(300, 300), misregistration="none", nuisances="none")
    cmp = comparison_from_truth(pair)
    from airdiff.grid import Grid

    g = Grid.pixel_frame(cmp.before.shape, cmp.before.gsd)
    b = cmp.before.replace(grid=g)
    a = cmp.aligned.replace(grid=g)
    cmp2 = Comparison(before=b, after=a, aligned=a, normalised=a, registration=cmp.registration,
                      changemap=ChangeMap(cmp.changemap.magnitude, cmp.changemap.nodata,
                                          cmp.changemap.cloud, cmp.changemap.cloud_shadow, g),
                      changes=(), options=cmp.options)
    strings = " ".join(t.get_text() for t in texts_of(compare_figure(cmp2, insets=0)))
    assert "north unknown" in strings


def test_blink_gif_frames_and_duration(cmp):
    from PIL import Image

    gif = Image.open(io.BytesIO(blink_gif(cmp, duration_ms=650, max_size=600)))
    assert gif.n_frames == 2
    assert gif.info["duration"] == 650
    f0 = np.asarray(gif.convert("RGB"))
    gif.seek(1)
    assert np.abs(np.asarray(gif.convert("RGB")).astype(int) - f0).mean() > 2


def test_swipe_page_is_self_contained(cmp):
    page = swipe_html(cmp, max_size=500)
    assert not re.search(r"(src|href)=[\"']?https?:", page)
    assert "http://" not in page and "https://" not in page
    assert page.count("data:image/jpeg;base64,") == 2
    assert 'id="swipe"' in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_swipe_page_in_headless_chromium(tmp_path):
    import imageio.v3 as iio

    pair = make_pair(seed=4, shape=(300, 400), misregistration="none", nuisances="none")
    # BEFORE tinted red, AFTER tinted blue: the left of the page shows which one is there
    cmp = comparison_from_truth(pair, tint=((1.6, 0.5, 0.5), (0.5, 0.5, 1.6)))
    page = tmp_path / "swipe.html"
    page.write_text(swipe_html(cmp, max_size=400))
    shots = {}
    for pos in (5, 95):
        out = tmp_path / f"shot{pos}.png"
        subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--hide-scrollbars", "--window-size=700,600", f"--screenshot={out}",
             f"{page.as_uri()}#pos={pos}"],
            check=True, capture_output=True, timeout=120)
        shots[pos] = iio.imread(out)[..., :3].astype(float)
    assert np.abs(shots[5] - shots[95]).mean() > 3  # the slider moved the divider

    def redness(img):  # mean red minus blue over the image's left third
        h, w = img.shape[:2]
        part = img[int(0.2 * h):int(0.6 * h), int(0.15 * w):int(0.35 * w)]
        return float((part[..., 0] - part[..., 2]).mean())

    # slider near the left: the left shows AFTER (blue); near the right: BEFORE (red)
    assert redness(shots[5]) < -15
    assert redness(shots[95]) > 15


def test_square_header_rows_do_not_overlap_and_layouts(cmp):
    fig = compare_figure(cmp, preset="square")
    FigureCanvasAgg(fig).draw()
    r = fig.canvas.get_renderer()
    header = [t.get_window_extent(r) for t in fig.texts if t.get_text() and t.get_gid() != "credit"]
    header += [leg.get_window_extent(r) for leg in fig.legends]
    header = [b for b in header if b.y0 > fig.bbox.height / 2]  # title, key, legend
    assert len(header) == 3
    for i in range(len(header)):
        for j in range(i + 1, len(header)):
            assert not header[i].overlaps(header[j])
    ax_b, ax_a = compare_figure(cmp, layout="vertical", insets=0).airdiff["panels"]
    pb, pa = ax_b.get_position(), ax_a.get_position()
    assert pa.y1 < pb.y0 and pa.x0 == pytest.approx(pb.x0)  # AFTER stacked under BEFORE
    with pytest.raises(ValueError, match="layout"):
        compare_figure(cmp, layout="diagonal")


def test_auto_extent_zooms_on_the_changes_and_full_shows_all(cmp):
    ch = next(c for c in cmp.changes if c.cls == "burned")
    small = Comparison(before=cmp.before, after=cmp.after, aligned=cmp.aligned,
                       normalised=cmp.normalised, registration=cmp.registration,
                       changemap=cmp.changemap, changes=(ch,), options=cmp.options)
    x0, y0, x1, y1 = cmp.grid.bounds
    fig = compare_figure(small, insets=0)
    ax_b, ax_a = fig.airdiff["panels"]
    assert ax_b.get_xlim() == ax_a.get_xlim() and ax_b.get_ylim() == ax_a.get_ylim()
    (vx0, vx1), (vy0, vy1) = ax_a.get_xlim(), ax_a.get_ylim()
    assert (vx1 - vx0) * (vy1 - vy0) < 0.6 * (x1 - x0) * (y1 - y0)  # zoomed in
    cx, cy = ch.centroid
    assert vx0 < cx < vx1 and min(vy0, vy1) < cy < max(vy0, vy1)
    assert x0 <= vx0 and vx1 <= x1 and y0 <= min(vy0, vy1) and max(vy0, vy1) <= y1
    full = compare_figure(small, insets=0, extent="full").airdiff["panels"][0]
    assert full.get_xlim() == (x0, x1)


def test_false_colour_panels_show_near_infrared():
    """On 4-band imagery, near-infrared, red, green as red, green, blue: grass, green in true
    colour, turns red, light concrete does not; the panel labels say what is shown."""
    from airdiff.errors import InputError
    from airdiff.figures import false_colour_bands

    pair = make_pair(seed=2, scenario="random", shape=(500, 600), gsd=1.0, bands=4,
                     misregistration="none", nuisances={"sun"})
    cmp4 = comparison_from_truth(pair)
    assert false_colour_bands(cmp4.before) == (3, 0, 1)

    def shown(fig):
        return np.asarray(fig.airdiff["panels"][0].images[0].get_array(), np.int16)

    true_colour = compare_figure(cmp4, insets=0)
    false_colour = compare_figure(cmp4, insets=0, false_colour=True)
    assert false_colour.airdiff["stretch"].bands == (3, 0, 1)
    t, f = shown(true_colour), shown(false_colour)
    green = t[..., 1] > t[..., 0] + 10  # grass, as true colour shows it
    grey = (abs(t[..., 1] - t[..., 0]) < 8) & (t.mean(axis=-1) > 120)  # light concrete
    assert green.mean() > 0.1 and grey.mean() > 0.05
    red = f[..., 0] > f[..., 1] + 30
    assert red[green].mean() > 0.8 and red[grey].mean() < 0.05
    assert not any("false colour" in t.get_text().lower() for t in texts_of(true_colour))
    # the panel labels say so; the zoom insets' titles stay short (they overlapped)
    strike = comparison_from_truth(make_pair(seed=1, scenario="strike", shape=(700, 900), gsd=1.0,
                                             bands=4, misregistration="none", nuisances={"sun"}))
    fig = compare_figure(strike, false_colour=True)
    assert len(fig.airdiff["insets"]) > 0
    said = [t.get_text() for t in texts_of(fig) if "false colour" in t.get_text().lower()]
    assert len(said) == 2 and all("(NIR, red, green)" in t for t in said)
    # 3-band imagery has no near-infrared to show
    three = make_pair(seed=2, scenario="random", shape=(300, 300), gsd=1.0, misregistration="none",
                      nuisances="none")
    with pytest.raises(InputError, match="near-infrared"):
        compare_figure(comparison_from_truth(three), false_colour=True)
    # nor a pair whose AFTER lacks it
    import dataclasses

    rgb_after = cmp4.aligned.replace(pixels=cmp4.aligned.pixels[:3], band_names=("red", "green", "blue"))
    with pytest.raises(InputError, match="near-infrared"):
        compare_figure(dataclasses.replace(cmp4, aligned=rgb_after), false_colour=True)
