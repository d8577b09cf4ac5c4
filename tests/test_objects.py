"""Aircraft-level changes recovered from synthetic airfields with known truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from shapely.geometry import box
from shapely.ops import unary_union

from airdiff.change import change_map
from airdiff.objects import (
    Aircraft,
    Change,
    Detector,
    detect_aircraft,
    find_changes,
    segment_aeroways,
    summarise,
)
from airdiff.objects.detect import rect_dims, size_class_of
from airdiff.radiometry import normalise

synth = pytest.importorskip("airdiff.synth")

AIRCRAFT = ("burned", "moved", "appeared", "disappeared")

#: The built-in detector was tuned on the first synth layout; the current one (rotated
#: runway, aircraft parked wingtip to wingtip, textured grass) is not recovered yet.
NOT_YET = pytest.mark.xfail(strict=True, reason="built-in detector not yet tuned to the current synth layout")


def _run(pair, **kw):
    n = normalise(pair.before, pair.after)
    cm = change_map(pair.before, n)
    return find_changes(pair.before, n, cm, **kw), cm


def _truth_xy(c):
    g = c.after if c.cls in ("moved", "appeared", "burned") else c.before
    return g.centroid.x, g.centroid.y


def _assert_recovered(res, truth, *, classes, tol_m=5.0):
    for cls in classes:
        pred = [ch for ch in res.changes if ch.cls == cls]
        want = [c for c in truth.changes if c.cls == cls]
        assert len(pred) == len(want), (cls, summarise(res.changes))
        for c in want:
            tx, ty = _truth_xy(c)
            d = min(np.hypot(p.centroid[0] - tx, p.centroid[1] - ty) for p in pred)
            assert d <= tol_m, (cls, d)


def _assert_origins(res, truth, *, tol_m):
    # every move starts from a stand some truth aircraft left (identical airframes of one paint
    # are interchangeable, so the pairing itself is not asserted)
    origins = [c.before.centroid for c in truth.changes if c.cls == "moved"]
    for c in (c for c in res.changes if c.cls == "moved"):
        fx, fy = c.from_centroid
        assert min(np.hypot(fx - o.x, fy - o.y) for o in origins) <= tol_m


@pytest.fixture(scope="module")
def strike():
    pair = synth.make_pair(0, scenario="strike", misregistration="none", nuisances="all")
    res, cm = _run(pair)
    return pair, res, cm


def test_strike_counts_and_surfaces(strike):
    # the reported case: every aircraft change found, where the benchmark matches it (10 m)
    pair, res, _ = strike
    _assert_recovered(res, pair.truth, classes=AIRCRAFT, tol_m=10.0)
    moved = [c for c in res.changes if c.cls == "moved"]
    assert sum(c.surface == "runway" for c in moved) == 1
    assert sum(c.surface == "taxiway" for c in moved) == 10
    _assert_origins(res, pair.truth, tol_m=10.0)
    assert summarise(res.changes).startswith(
        "2 burned · 11 moved (10 to taxiways, 1 to the runway) · 0 appeared · 0 disappeared")


@NOT_YET
def test_strike_positions_within_six_metres(strike):
    # a moved transport's outline takes in its shadow (up to twice the airframe's area) or only
    # part of the airframe (under half of it), which pulls its centre up to about 9 m off
    pair, res, _ = strike
    _assert_recovered(res, pair.truth, classes=AIRCRAFT, tol_m=6.0)
    _assert_origins(res, pair.truth, tol_m=6.0)


def test_strike_burned_aircraft_are_placed_on_their_stands(strike):
    # both burned transports, each at its airframe: the remnant places the site even where
    # the BEFORE detection of a grey airframe on grey concrete is only a piece of it
    pair, res, _ = strike
    _assert_recovered(res, pair.truth, classes=("burned",), tol_m=6.0)


def test_strike_cloud_is_reported_obscured_and_nothing_else(strike):
    pair, res, _ = strike
    cloud = [c for c in res.changes if c.cls == "obscured" and c.note == "cloud"]
    assert cloud
    covered = sum(c.geometry.intersection(pair.truth.cloud).area for c in cloud)
    assert covered / pair.truth.cloud.area >= 0.7
    assert not [c for c in res.changes if c.cls == "changed"]
    # the aircraft under the cloud is neither appeared nor disappeared
    for c in res.changes:
        if c.cls in ("appeared", "disappeared"):
            assert not c.geometry.intersects(pair.truth.cloud)


@pytest.mark.parametrize("seed", [1, 2])
def test_static_scene_with_every_nuisance_has_no_change(seed):
    pair = synth.make_pair(seed, scenario="static", misregistration="none", nuisances="all")
    res, _ = _run(pair)
    assert [c for c in res.changes if c.cls in AIRCRAFT + ("changed",)] == []


@NOT_YET
def test_random_scene_moves_and_burns():
    pair = synth.make_pair(4, scenario="random", misregistration="none", nuisances="all")
    res, _ = _run(pair)
    _assert_recovered(res, pair.truth, classes=("burned", "moved"), tol_m=5.0)
    for ch in (c for c in res.changes if c.cls == "moved"):
        t = min((c for c in pair.truth.changes if c.cls == "moved"),
                key=lambda c: np.hypot(c.after.centroid.x - ch.centroid[0], c.after.centroid.y - ch.centroid[1]))
        assert np.hypot(ch.from_centroid[0] - t.before.centroid.x,
                        ch.from_centroid[1] - t.before.centroid.y) <= 5.0


@NOT_YET
def test_detector_sizes_and_rejects_vehicles():
    pair = synth.make_pair(1, scenario="static", misregistration="none", nuisances="none")
    found = detect_aircraft(pair.before)
    truth = pair.truth.aircraft_before
    assert len(found) == len(truth)
    for t in truth:
        a = min(found, key=lambda a: t.footprint.centroid.distance(a.footprint.centroid))
        assert a.footprint.centroid.distance(t.footprint.centroid) <= 3.0
        assert a.size_class == t.kind
    assert all(max(a.length_m, a.span_m) >= 12.0 for a in found)


def _fighters_found(seed: int, gsd: float, n_min: int):
    """BEFORE of a random scene of fighters only: its truth, what the detector finds, and the
    true aircraft a detection covers a third of."""
    pair = synth.make_pair(seed, scenario="random", gsd=gsd, misregistration="none", nuisances="all")
    truth = pair.truth.aircraft_before
    assert len(truth) >= n_min and all(t.kind == "small" for t in truth)
    found = detect_aircraft(pair.before)
    whole = [t for t in truth if any(a.footprint.intersection(t.footprint).area > t.footprint.area / 3
                                     for a in found)]
    return truth, found, whole


def test_grey_fighters_on_concrete_are_found_not_only_their_shadows():
    # seed 2 parks twelve light grey fighters on light concrete at 0.7 m: each stands out
    # less than its own shadow, which alone is too thin to be an aircraft (none was found)
    truth, found, whole = _fighters_found(2, 0.7, 10)
    assert len(whole) >= len(truth) / 2
    for t in whole:  # found where the aircraft is, not where its shadow falls
        a = max(found, key=lambda a: a.footprint.intersection(t.footprint).area)
        assert a.footprint.centroid.distance(t.footprint.centroid) <= 5.0


def test_dark_grey_fighters_are_found_whole_with_their_shadows():
    # seed 5 parks dark grey fighters at 0.5 m: their paint is as dark against the concrete
    # as a cast shadow, so most of some airframes was cut away as shadow and the rest was too
    # small to be an aircraft (10 of 14 found)
    truth, found, whole = _fighters_found(5, 0.5, 12)
    assert len(whole) >= 0.85 * len(truth)
    dark = [a for a in found if a.features["with_shadow"]]
    assert dark
    for a in dark:  # each on an aircraft, centred on it within a few metres, of its size
        t = max(truth, key=lambda t: a.footprint.intersection(t.footprint).area)
        assert a.footprint.intersection(t.footprint).area > t.footprint.area / 3
        assert a.footprint.centroid.distance(t.footprint.centroid) <= 5.0
        assert max(rect_dims(a.footprint)) <= 1.3 * max(rect_dims(t.footprint))


@pytest.fixture(scope="module")
def strike_1m():
    # at 1 m, shadows and grass crowd the taxiways: the concrete around a transport there
    # used to stand out with it, so its paint read as concrete and its empty stand found no
    # partner (2 of 11 moves reported; 8 stands "disappeared" and 3 aircraft "appeared")
    pair = synth.make_pair(3, scenario="strike", gsd=1.0, misregistration="none", nuisances="all")
    res, _ = _run(pair)
    return pair, res


def test_transports_moved_onto_taxiways_are_paired_with_the_stands_they_left(strike_1m):
    pair, res = strike_1m
    truth = [c for c in pair.truth.changes if c.cls == "moved"]
    moved = [c for c in res.changes if c.cls == "moved"]
    assert len(moved) >= 0.7 * len(truth), summarise(res.changes)
    origins = [c.before.centroid for c in truth]
    # where it went, and a stand that a moved aircraft left. On the taxiways the outlines at
    # 1 m still take in the shadow and the pieces of taxiway and grass joined to the airframe,
    # which puts their centres 8-14 m from its centre: within 15 m, a third of its length
    for ch in moved:
        assert min(np.hypot(ch.centroid[0] - c.after.centroid.x, ch.centroid[1] - c.after.centroid.y)
                   for c in truth) <= 15.0
        assert min(np.hypot(ch.from_centroid[0] - o.x, ch.from_centroid[1] - o.y) for o in origins) <= 10.0


def test_few_moves_are_left_unpaired(strike_1m):
    pair, res = strike_1m
    truth = [c for c in pair.truth.changes if c.cls == "moved"]
    # a move left unpaired reads as one aircraft appeared and another disappeared
    unpaired = [c for c in res.changes if c.cls in ("appeared", "disappeared")]
    assert len(unpaired) <= 0.4 * len(truth), summarise(res.changes)


def test_segmented_aeroways_find_runway_taxiways_apron(strike):
    pair, _, _ = strike
    _assert_segmented_like_truth(segment_aeroways(pair.before), pair.truth)


def test_segmented_aeroways_without_colour():
    # one band (the strike scene drawn panchromatic): with no colour to tell concrete from
    # grass, every smooth cell used to count as pavement and the whole scene became one
    # apron, so every move onto a taxiway ended on "apron", a parking surface, and was
    # reported as an arrival and a departure (the detection benchmark's strike scene drawn
    # with one band: 0 of 11 moves found; 9 appeared and 11 disappeared reported)
    pair = synth.make_pair(0, scenario="strike", misregistration="none", nuisances="all", bands=1)
    _assert_segmented_like_truth(segment_aeroways(pair.before), pair.truth)


def _assert_segmented_like_truth(aw, want):
    assert aw.source == "segmented"
    kinds = {k for k, _ in aw.features}
    assert {"runway", "taxiway", "apron"} <= kinds

    def union(features, kind):
        return unary_union([g for k, g in features if k == kind])

    truth = {k: union(want.aeroways, k) for k in ("runway", "taxiway", "apron")}
    seg = {k: union(aw.features, k) for k in ("runway", "taxiway", "apron")}
    # the runway is found whole; what it takes beyond the true runway is its paved shoulders
    # (7.5 m each side in the generator), which belong to the runway strip
    assert seg["runway"].intersection(truth["runway"]).area / truth["runway"].area > 0.9
    assert seg["runway"].intersection(truth["runway"].buffer(9.0)).area / seg["runway"].area > 0.9
    # the apron is found whole, and nothing else is called apron
    assert seg["apron"].intersection(truth["apron"]).area / truth["apron"].area > 0.9
    assert seg["apron"].intersection(truth["apron"].buffer(3.0)).area / seg["apron"].area > 0.9
    # what is called taxiway is taxiway (link fillets and the runway shoulders aside), and
    # most of the taxiway network is found
    paved = truth["taxiway"].union(truth["runway"].buffer(9.0)).buffer(3.0)
    assert seg["taxiway"].intersection(paved).area / seg["taxiway"].area > 0.9
    assert seg["taxiway"].intersection(truth["taxiway"]).area / truth["taxiway"].area > 0.5


@pytest.mark.parametrize(("seed", "gsd"), [(12, 0.3), (8, 0.3)])
def test_a_runway_cut_by_the_scene_edge_is_still_the_runway(seed, gsd):
    # 2000 px at 0.3 m span 600 m: the scene shows under 400 m of the runway, which was
    # then never found (a move onto it was reported onto a taxiway)
    pair = synth.make_pair(seed, scenario="random", gsd=gsd, misregistration="none", nuisances="all")
    aw = segment_aeroways(pair.before)
    runway = unary_union([g for k, g in aw.features if k == "runway"])
    truth = unary_union([g for k, g in pair.truth.aeroways if k == "runway"])
    seen = truth.intersection(pair.before.grid.footprint())
    assert runway.intersection(seen).area / seen.area > 0.8
    assert runway.intersection(truth.buffer(9.0)).area / runway.area > 0.8
    # nothing else is called runway: the apron is the apron
    apron = unary_union([g for k, g in pair.truth.aeroways if k == "apron"])
    assert not runway.intersection(apron).area


def _union(features, kind):
    return unary_union([g for k, g in features if k == kind])


def _runway_and_apron(seed, gsd):
    """A random scene, the part of its true runway it shows, and the runway and apron
    segmented in BEFORE."""
    pair = synth.make_pair(seed, scenario="random", gsd=gsd, misregistration="none", nuisances="all")
    aw = segment_aeroways(pair.before)
    truth = _union(pair.truth.aeroways, "runway").intersection(pair.before.grid.footprint())
    return pair, truth, _union(aw.features, "runway"), _union(aw.features, "apron")


@pytest.mark.parametrize("seed", [100, 104])
def test_a_runway_end_in_a_small_scene_is_the_runway_not_an_apron(seed):
    # 1000 px at 0.3 m span 300 m: the scene shows the runway's threshold end, about 250 m
    # of it with its blast pad, under five times as long as wide. It was called an apron, so
    # a fighter that taxied onto it was reported arrived there and departed from its stand
    pair, truth, runway, apron = _runway_and_apron(seed, 0.3)
    assert runway.intersection(truth).area / truth.area > 0.8
    # beyond the runway's shoulders it takes in the blast pad before the threshold
    assert runway.intersection(truth.buffer(9.0)).area / runway.area > 0.7
    assert apron.intersection(truth).area < 0.02 * truth.area
    # and the apron is still the apron
    true_apron = _union(pair.truth.aeroways, "apron")
    assert apron.intersection(true_apron).area / true_apron.area > 0.8
    assert not runway.intersection(true_apron).area


@pytest.mark.parametrize(("seed", "gsd"), [(110, 0.7), (103, 1.0)])
def test_a_runway_widened_at_its_junctions_is_one_runway_and_no_apron(seed, gsd):
    # where taxiways join it, a runway widens enough for the apron's 60 m disk to fit: those
    # pieces were called aprons (a move onto them an arrival), and the runway between them
    # was too short to be found at all (seed 110: none of it called runway)
    _, truth, runway, apron = _runway_and_apron(seed, gsd)
    assert runway.intersection(truth).area / truth.area > 0.9
    assert runway.intersection(truth.buffer(9.0)).area / runway.area > 0.8
    assert apron.intersection(truth).area < 0.02 * truth.area


def test_external_detector_protocol():
    pair = synth.make_pair(4, scenario="random", misregistration="none", nuisances="none",
                           shape=(600, 600))

    class Truthful:
        def __init__(self, planes):
            self.planes = planes

        def __call__(self, scene, *, mask=None):
            return [Aircraft(p.footprint, 20.0, 20.0, float("nan"), 1.0, "medium", source="truth")
                    for p in self.planes]

    det = Truthful(pair.truth.aircraft_before)
    assert isinstance(det, Detector)
    res, _ = _run(pair, detector=det)
    assert all(a.source == "truth" for a in res.aircraft_before)


def test_summarise_always_lists_the_four_classes():
    s = summarise([Change(1, "obscured", 1.0, box(0, 0, 50, 50), note="cloud")])
    assert s == "0 burned · 0 moved · 0 appeared · 0 disappeared · 1 area cannot be assessed (cloud)"


def test_moved_origin_among_identical_aircraft_is_flagged():
    """Two vanished aircraft alike in size and paint fit one new aircraft equally: say so."""
    from airdiff.objects.classify import moved_pairs, origin_note

    def plane(x, rgb):
        return Aircraft(box(x, 0, x + 40, 45), 45.0, 40.0, float("nan"), 0.9, "large",
                        features={"mean_rgb": rgb})

    white, grey = (0.85, 0.86, 0.87), (0.55, 0.57, 0.58)
    new = [plane(1000, white)]
    pairs, _, rivals = moved_pairs([plane(0, white), plane(100, white)], new, ["taxiway"], 1.0)
    assert len(pairs) == 1 and rivals[pairs[0]] == 1
    assert "one of 2 stands" in origin_note(rivals[pairs[0]])
    pairs, _, rivals = moved_pairs([plane(0, white), plane(100, grey)], new, ["taxiway"], 1.0)
    assert pairs == [(0, 0)] and rivals[pairs[0]] == 0
    assert origin_note(0) == ""


def test_moved_origin_follows_the_paint_shade_over_a_measured_size():
    """Two departures of one type and livery: one of the new aircraft's shade but measured 20 %
    longer (a shadow taken in), one 0.05 lighter and of its size. The measured size varies
    between dates as much as between airframes; the shade does not, so the first is the origin."""
    from airdiff.objects.classify import moved_pairs

    def plane(x, length, shade):
        return Aircraft(box(x, 0, x + 40, length), length, 40.0, float("nan"), 0.9, "large",
                        features={"mean_rgb": (shade, shade + 0.01, shade + 0.02)})

    new = [plane(1000, 45.0, 0.60)]
    for order in ((0, 1), (1, 0)):
        gone = [plane(0, 54.0, 0.60), plane(100, 45.0, 0.65)]
        gone = [gone[i] for i in order]
        pairs, _, _ = moved_pairs(gone, new, ["taxiway"], 1.0)
        assert pairs == [(order.index(0), 0)]


def test_a_move_is_paired_across_a_size_class_the_footprint_crossed():
    """One transport found 34 m long on its stand (medium) and 44 m on the taxiway (large):
    one airframe's two footprints differ that much between dates. A different aircraft (a
    fighter, 16 m) is still not its origin."""
    from airdiff.objects.classify import moved_pairs

    def plane(x, length, span):
        return Aircraft(box(x, 0, x + span, length), length, span, float("nan"), 0.9,
                        size_class_of(length, span), features={"mean_rgb": (0.8, 0.81, 0.82)})

    stand, taxiway = plane(0, 34.0, 30.0), plane(500, 44.0, 34.0)
    assert (stand.size_class, taxiway.size_class) == ("medium", "large")
    assert moved_pairs([stand], [taxiway], ["taxiway"], 1.0)[0] == [(0, 0)]
    assert moved_pairs([plane(0, 16.0, 12.0)], [taxiway], ["taxiway"], 1.0)[0] == []


def test_an_aircraft_new_on_a_parking_surface_is_an_arrival_not_a_move():
    """Identical aircraft: one gone from a stand, one new on another stand. Nothing in the
    images ties them together, so they are not paired; off the stands they are."""
    from airdiff.objects.classify import moved_pairs

    def plane(x):
        return Aircraft(box(x, 0, x + 40, 45), 45.0, 40.0, float("nan"), 0.9, "large",
                        features={"mean_rgb": (0.85, 0.86, 0.87)})

    for surface in ("stand", "apron"):
        assert moved_pairs([plane(0)], [plane(300)], [surface], 1.0)[0] == []
    for surface in ("taxiway", "runway"):
        assert moved_pairs([plane(0)], [plane(300)], [surface], 1.0)[0] == [(0, 0)]


def test_a_move_needs_one_end_on_a_known_surface():
    """Two alike objects, both off every surface of a known airfield (the shadows along two
    buildings' walls), are no move; with one end on the pavement they are, and where the
    surfaces are not known (``from_surface`` not given) nothing is ruled out."""
    from airdiff.objects.classify import moved_pairs

    def plane(x):
        return Aircraft(box(x, 0, x + 40, 45), 45.0, 40.0, float("nan"), 0.9, "large",
                        features={"mean_rgb": (0.85, 0.86, 0.87)})

    assert moved_pairs([plane(0)], [plane(300)], [None], 1.0, from_surface=[None])[0] == []
    assert moved_pairs([plane(0)], [plane(300)], [None], 1.0, from_surface=["apron"])[0] == [(0, 0)]
    assert moved_pairs([plane(0)], [plane(300)], ["taxiway"], 1.0, from_surface=[None])[0] == [(0, 0)]
    assert moved_pairs([plane(0)], [plane(300)], [None], 1.0)[0] == [(0, 0)]


def test_a_departure_and_an_arrival_on_stands_are_not_called_a_move():
    """Seed 15 takes a transport off one stand and brings one like it onto another, 55 m
    away (and three fighters off theirs, which are not found yet). Both are reported (appeared, disappeared) at their stands, and each says that one
    like it left or arrived there, without claiming it was the same aircraft."""
    pair = synth.make_pair(15, scenario="random", gsd=1.0, misregistration="none", nuisances="all")
    res, _ = _run(pair)
    moved = [c for c in res.changes if c.cls == "moved"]
    assert not moved, summarise(res.changes)
    for cls in ("appeared", "disappeared"):
        want = [c for c in pair.truth.changes if c.cls == cls and c.kind == "large"]
        assert len(want) == 1
        tx, ty = _truth_xy(want[0])
        got = [c for c in res.changes if c.cls == cls and np.hypot(c.centroid[0] - tx, c.centroid[1] - ty) <= 8.0]
        assert len(got) == 1, (cls, summarise(res.changes))
        assert "an aircraft like it" in got[0].note and "may have moved" in got[0].note


def test_aircraft_on_a_narrow_taxiway_at_1m_is_on_paved_ground():
    """At 1 m a 16 m taxiway is smooth only along its middle, too thin for the paved mask on
    its own; an aircraft on it must still count as on paved ground."""
    from airdiff.grid import Grid
    from airdiff.objects import segment_aeroways
    from airdiff.objects.classify import _near_paved
    from airdiff.scene import Scene

    rng = np.random.default_rng(3)
    n = 600
    img = np.empty((3, n, n), np.float32)
    img[:] = np.array([0.22, 0.42, 0.18], np.float32)[:, None, None]  # grass
    img += rng.normal(0, 0.06, (1, n, n)).astype(np.float32)  # its texture
    concrete = np.zeros((n, n), bool)
    concrete[80:125, :] = True  # a 45 m runway across the scene
    concrete[125:, 292:308] = True  # a 16 m taxiway off it
    img[:, concrete] = 0.62 + rng.normal(0, 0.01, concrete.sum()).astype(np.float32)
    scene = Scene(np.clip(img, 0, 1), Grid.pixel_frame((n, n), gsd=1.0))
    near = _near_paved(scene, segment_aeroways(scene))
    assert near is not None
    assert near[200:560, 300].all()  # the taxiway's centre line, well away from the runway
    assert not near[200:560, 100].any() and not near[200:560, 500].any()  # the grass either side


def test_without_colour_dark_asphalt_is_still_paved_for_the_search():
    """On one band, the aeroway labels take the brighter brightness class for pavement, but
    the search for aircraft must not: a dark asphalt apron, with what stands on it, would be
    left out without a word. Both smooth surfaces, bright and dark, stay paved for it; the
    textured grass does not."""
    from airdiff.grid import Grid
    from airdiff.objects.context import paved_mask
    from airdiff.scene import Scene

    rng = np.random.default_rng(5)
    n = 600
    img = 0.35 + rng.normal(0, 0.2, (1, n, n)).astype(np.float32)  # grass, textured
    img[0, 60:180, 40:560] = 0.70 + rng.normal(0, 0.01, (120, 520))  # concrete
    img[0, 300:520, 100:500] = 0.12 + rng.normal(0, 0.01, (220, 400))  # asphalt
    scene = Scene(np.clip(img, 0, 1).astype(np.float32), Grid.pixel_frame((n, n), gsd=1.0))
    paved, step = paved_mask(scene)

    def share(rows, cols):
        return paved[rows.start // step: rows.stop // step, cols.start // step: cols.stop // step].mean()

    assert share(slice(80, 160), slice(60, 540)) > 0.9  # concrete
    assert share(slice(320, 500), slice(120, 480)) > 0.9  # asphalt
    assert share(slice(220, 280), slice(0, n)) < 0.1  # grass between them


@pytest.fixture(scope="module")
def one_band_pasted():
    """A one-band static scene whose largest airframe is copied into AFTER onto the apron and
    onto the grass 60 m from any pavement: (pair, grass spot, apron spot)."""
    from rasterio import features
    from shapely.geometry import Point

    pair = synth.make_pair(1, scenario="static", gsd=0.5, misregistration="none", nuisances="all", bands=1)
    t, g = pair.truth, pair.before.grid
    paved = unary_union([geom for _, geom in t.aeroways])
    apron = unary_union([geom for k, geom in t.aeroways if k == "apron"])
    parked = unary_union([a.footprint for a in t.aircraft_before]).buffer(25.0)
    inside = g.footprint().buffer(-60.0)

    def first_spot(ok):
        x0, y0, x1, y1 = inside.bounds
        for x in np.linspace(x0, x1, 60):
            for y in np.linspace(y0, y1, 60):
                if inside.contains(Point(x, y)) and ok(Point(x, y)):
                    return float(x), float(y)
        raise AssertionError("no spot")

    grass = first_spot(lambda p: p.distance(paved) > 60.0)
    on_apron = first_spot(lambda p: apron.contains(p.buffer(35.0)) and not parked.intersects(p.buffer(35.0)))
    plane = max(t.aircraft_before, key=lambda a: a.footprint.area).footprint
    rr, cc = np.nonzero(features.rasterize([plane], out_shape=pair.before.shape, transform=g.transform))
    after = pair.after.pixels.copy()
    for x, y in (grass, on_apron):
        dr = int(round((plane.centroid.y - y) / g.res[1]))  # rows run south
        dc = int(round((x - plane.centroid.x) / g.res[0]))
        after[:, rr + dr, cc + dc] = pair.before.pixels[:, rr, cc]
    return dataclasses.replace(pair, after=pair.after.replace(pixels=after)), grass, on_apron


def _assert_off_paving_is_changed(changes, grass, on_apron):
    from airdiff.objects.classify import OFF_PAVING_NEW_NOTE, OFF_PAVING_NOTES

    def near(xy, r):
        return [c for c in changes if np.hypot(c.centroid[0] - xy[0], c.centroid[1] - xy[1]) <= r]

    assert [(c.cls, c.surface) for c in near(on_apron, 8.0)] == [("appeared", "apron")], summarise(changes)
    assert [c.cls for c in near(grass, 30.0) if c.cls in AIRCRAFT] == [], summarise(changes)
    assert [c.note for c in near(grass, 8.0)] == [OFF_PAVING_NEW_NOTE], summarise(changes)
    # nothing is called an aircraft change off the surfaces found, and what is set aside
    # there is held to the score an arrival or a departure needs
    assert all(c.surface is not None for c in changes if c.cls in AIRCRAFT)
    assert all(c.score >= 0.72 for c in changes if c.note in OFF_PAVING_NOTES)


def test_without_colour_an_object_new_off_the_paving_is_no_aircraft_change(one_band_pasted):
    """On one band the surfaces are told by brightness alone, and grass and soil that changed
    with the season pass for objects off them (the one-band detection benchmark: moves ending
    on the grass, burns on it). The airframe copied onto the apron is an arrival; the one on
    the grass a change worth a look, with a note that says why it is not called an aircraft."""
    pair, grass, on_apron = one_band_pasted
    res, _ = _run(pair)
    _assert_off_paving_is_changed(res.changes, grass, on_apron)


def test_without_colour_off_the_paving_tile_by_tile(tmp_path):
    """Tile by tile, a tile keeps every vanished and new object for pairing across tiles (no
    score threshold), so what it sets aside off the paving must be held to the score an
    arrival needs afterwards: the objects set aside are those of the whole scene (on a
    one-band scene at 1.0 m with three more under that score in its tiles)."""
    import csv

    from airdiff import compare, pipeline
    from airdiff.objects.classify import OFF_PAVING_NOTES
    from airdiff.synth import write_pair

    pair = synth.make_pair(7, scenario="random", gsd=1.0, misregistration="none", nuisances="all", bands=1)
    whole = [c.centroid for c in compare(pair.before, pair.after).changes if c.note in OFF_PAVING_NOTES]
    assert whole
    paths = write_pair(pair, tmp_path / "pair")
    res = pipeline.compare_files(paths["before"], paths["after"], tmp_path / "out",
                                 options=pipeline.Options(tiled_above_mpx=0.1, tile_px=700))
    assert res.tiled
    with open(tmp_path / "out" / "changes.csv", newline="") as fh:
        tiled = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(fh) if r["note"] in OFF_PAVING_NOTES]
    assert len(tiled) == len(whole), (tiled, whole)
    for xy in whole:
        assert min(np.hypot(x - xy[0], y - xy[1]) for x, y in tiled) < 3.0


@pytest.mark.parametrize("shape", [(300, 257), (7, 7), (5, 4), (1, 9), (13, 2)])
@pytest.mark.parametrize("r", [1.0, 2.5, 6.0, 6.67])
def test_disk_extremes_equal_ndimage_filters_with_a_disk(shape, r):
    from scipy import ndimage as ndi

    from airdiff.objects.detect import _disk_extreme

    g = np.random.default_rng(int(r * 100) + shape[0]).random(shape).astype(np.float32)
    ri = int(np.ceil(r))
    yy, xx = np.ogrid[-ri : ri + 1, -ri : ri + 1]
    disk = (xx * xx + yy * yy) <= r * r + 0.25
    np.testing.assert_array_equal(_disk_extreme(g, r, np.minimum),
                                  ndi.minimum_filter(g, footprint=disk, mode="reflect"))
    np.testing.assert_array_equal(_disk_extreme(g, r, np.maximum),
                                  ndi.maximum_filter(g, footprint=disk, mode="reflect"))


@pytest.mark.parametrize("shape", [(300, 257), (7, 7), (5, 4), (1, 9), (13, 2)])
@pytest.mark.parametrize(("radius_m", "gsd"), [(3.0, 0.5), (0.8, 0.5), (1.2, 0.7), (3.0, 1.0), (0.8, 0.3)])
def test_disk_opening_equals_ndimage_binary_opening(shape, radius_m, gsd):
    from scipy import ndimage as ndi

    from airdiff.objects.detect import _disk_opening, _disk_px

    rng = np.random.default_rng(shape[0] * 7 + int(radius_m * 10))
    # blobs of many sizes (some survive the opening, some do not), or noise on tiny arrays
    m = (ndi.gaussian_filter(rng.random(shape), 3) > 0.5) if min(shape) > 20 else rng.random(shape) > 0.3
    r = _disk_px(radius_m, gsd)
    y, x = np.ogrid[-r : r + 1, -r : r + 1]
    want = ndi.binary_opening(m, structure=(x * x + y * y) <= r * r)
    got = _disk_opening(m, radius_m, gsd)
    assert got.dtype == bool and got.shape == m.shape
    np.testing.assert_array_equal(got, want)
    if min(shape) > 20:
        assert 0 < want.sum() < m.sum()  # the opening removed something and kept something


@pytest.mark.parametrize(("shape", "share"), [((60, 50), 0.3), ((300, 400), 0.05), ((9, 5), 0.6)])
@pytest.mark.parametrize("r", [1.0, 5.5, 40.0])
def test_within_equals_a_whole_distance_transform(shape, share, r):
    from scipy import ndimage as ndi

    from airdiff.objects.detect import _within

    rng = np.random.default_rng(shape[0] + int(r))
    g = ndi.gaussian_filter(rng.random(shape), 2) if min(shape) > 10 else rng.random(shape)
    lab, n = ndi.label(g > np.quantile(g, 1 - share))
    chosen = rng.random(n + 1) < 0.5
    chosen[0], chosen[1] = False, True
    want = ndi.distance_transform_edt(~chosen[lab]) <= r
    np.testing.assert_array_equal(_within(lab, chosen, r), want)
    # many components: the whole tile at once, the same answer
    chosen[1:] = True
    np.testing.assert_array_equal(_within(lab, chosen, r), ndi.distance_transform_edt(lab == 0) <= r)


@pytest.mark.parametrize("shape", [(40, 30), (5, 7), (1, 9), (31, 2)])
@pytest.mark.parametrize("r", [1, 3, 15])
def test_mostly_equals_a_rank_mean(shape, r):
    from scipy import ndimage as ndi
    from skimage.filters import rank
    from skimage.morphology import disk

    from airdiff.objects.detect import _mostly

    rng = np.random.default_rng(shape[0] * 100 + r)
    g = ndi.gaussian_filter(rng.random(shape), 3) if min(shape) > 10 else rng.random(shape)
    for q in (0.3, 0.5, 0.8):
        m = g > np.quantile(g, q)
        want = rank.mean(m.astype(np.uint8) * 255, disk(r)) >= 128
        np.testing.assert_array_equal(_mostly(m, r), want)


def test_aircraft_under_haze_the_cloud_mask_misses_is_not_gone():
    # a veil of 0.8 opacity over one transport in AFTER, too faint for the cloud mask: the
    # transport is washed out with the ground around it, so it cannot be judged, and is
    # not reported disappeared (it was, before the haze check)
    pair = synth.make_pair(1, scenario="static", misregistration="none", nuisances="none")
    t = max(pair.truth.aircraft_before, key=lambda t: t.footprint.area)
    g = pair.after.grid
    r, c = g.rowcol(np.array([t.footprint.centroid.x]), np.array([t.footprint.centroid.y]))
    rr, cc = np.mgrid[: g.height, : g.width]
    dist_m = np.hypot(rr - r[0], cc - c[0]) * g.gsd
    veil = np.clip((60.0 - dist_m) / 20.0, 0, 1) * 0.8  # whole within 40 m, gone by 60 m
    px = pair.after.pixels.astype(np.float32)
    hazy = pair.after.replace(pixels=(px * (1 - veil) + 0.8 * 255 * veil).astype(np.uint8))
    n = normalise(pair.before, hazy)
    cm = change_map(pair.before, n)
    assert not cm.obscured.any()  # the mask lets it through: the object stage must notice
    res = find_changes(pair.before, n, cm)
    assert not [ch for ch in res.changes if ch.cls in AIRCRAFT and ch.geometry.distance(t.footprint) < 20]
    # it is reported as an area that cannot be assessed, and the summary says why
    hazy_areas = [ch for ch in res.changes if ch.cls == "obscured" and ch.note == "haze"]
    assert len(hazy_areas) == 1
    assert hazy_areas[0].geometry.contains(t.footprint)
    assert hazy_areas[0].geometry.area < 4 * t.footprint.buffer(20).area  # that aircraft's, not the scene
    assert "cannot be assessed (haze)" in summarise(res.changes)
    # with no haze, the same scene has no such area
    n0 = normalise(pair.before, pair.after)
    clean = find_changes(pair.before, n0, change_map(pair.before, n0))
    assert not [ch for ch in clean.changes if ch.cls == "obscured" and ch.note == "haze"]


@pytest.mark.parametrize(("seed", "gsd", "n_min"), [(3, 1.0, 1), (9, 0.5, 2)])
def test_a_faint_airframe_that_left_is_told_by_its_shadow_gone(seed, gsd, n_min):
    # fighters and a medium transport painted close to the concrete's grey stand out from
    # it by hardly more than the noise, and their empty stands by nearly half as much: the
    # pixels say little, but each cast a shadow beside it, and nothing casts one there in
    # AFTER (none of these departures was reported before the shadow was looked at). One
    # fighter of seed 9 is found 14.6 m long and 11.8 m across: as wide as no vehicle is, it
    # is aircraft-sized, and its shadow is looked for (it was not, under 15 m long)
    pair = synth.make_pair(seed, scenario="random", gsd=gsd, misregistration="none", nuisances="all")
    res, _ = _run(pair)
    left = [c.before for c in pair.truth.changes if c.cls in ("disappeared", "moved")]
    gone = [c.before for c in pair.truth.changes if c.cls == "disappeared"]
    reported = [ch for ch in res.changes if ch.cls == "disappeared"]
    found = [t for t in gone if any(t.centroid.distance(ch.geometry.centroid) <= 5.0 for ch in reported)]
    assert len(found) >= n_min, summarise(res.changes)
    # and none is reported where no aircraft left
    for ch in reported:
        assert min(t.centroid.distance(ch.geometry.centroid) for t in left) <= 10.0


def test_a_faint_fighter_that_taxied_is_told_by_its_shadow_moved():
    """Seed 15 at 1 m moves a grey fighter from its stand onto a taxiway. On the taxiway it
    stands out by 0.06, the empty taxiway in BEFORE by 0.03 (the contrast map's noise): the
    ratio says present in both dates. Beside it lies its shadow (0.28 of its outline moved
    towards it, under the 0.3 that counts fully in its score), and none in BEFORE."""
    from shapely.geometry import Point

    from airdiff import compare

    pair = synth.make_pair(15, scenario="random", gsd=1.0, misregistration="moderate", nuisances="all")
    res = compare(pair.before, pair.after)
    (move,) = [c for c in pair.truth.changes if c.cls == "moved"]
    got = [ch for ch in res.changes if ch.cls == "moved"]
    assert len(got) == 1, res.summary
    assert move.after.centroid.distance(Point(got[0].centroid)) <= 5.0
    assert move.before.centroid.distance(Point(got[0].from_centroid)) <= 5.0
    assert got[0].surface == "taxiway"


def test_light_transports_that_taxied_onto_light_concrete_are_told_by_their_shadows():
    """Seed 105 at 0.5 m moves two light medium transports onto a taxiway. There they stand
    out by 0.05, the empty taxiway in BEFORE by 0.03-0.04 (its centre line): not under 0.6
    of it. But their pixels changed the full magnitude (0.55-0.76), are unlike BEFORE's
    (correlation 0.07-0.12), and BEFORE has no shadow beside their outlines (0.00 of 0.24-0.25):
    each arrived, and is paired with the stand it left."""
    from shapely.geometry import Point

    from airdiff import compare

    pair = synth.make_pair(105, scenario="random", gsd=0.5, misregistration="moderate", nuisances="all")
    res = compare(pair.before, pair.after)
    light = [c for c in pair.truth.changes if c.cls == "moved" and c.kind == "medium"]
    assert len(light) == 2
    got = [ch for ch in res.changes if ch.cls == "moved"]
    for move in light:
        at = [ch for ch in got if move.after.centroid.distance(Point(ch.centroid)) <= 10.0]
        assert len(at) == 1, res.summary
        assert move.before.centroid.distance(Point(at[0].from_centroid)) <= 10.0
        assert at[0].surface == "taxiway"


@pytest.mark.parametrize(("seed", "gsd"), [(113, 0.5), (101, 0.5)])
def test_no_aircraft_came_or_went_where_one_stood_in_both_dates(seed, gsd):
    """Where an aircraft stood in both dates (intact, or burned: its remnants), no aircraft
    came or went. Seed 101 found a transport's wing and its shadow apart from it in one
    date, changed with the sun, and reported that piece departed, another arrived; seed 113
    reported a burned transport departed (its burn is missed). The transport, or its
    remnants, found in the other date lies inside the outline: a change worth a look."""
    from shapely.geometry import Point

    from airdiff import compare

    pair = synth.make_pair(seed, scenario="random", gsd=gsd, misregistration="moderate", nuisances="all")
    res = compare(pair.before, pair.after)
    truth = pair.truth.changes
    ends = [g.centroid for c in truth for g in (c.before, c.after) if g is not None]
    stood = [t.footprint for t in pair.truth.aircraft_before
             if not any(p.distance(t.footprint.centroid) < 1.0 for p in ends)]
    stood += [c.before for c in truth if c.cls == "burned"]
    came_or_went = [ch for ch in res.changes if ch.cls in ("appeared", "disappeared")]
    assert came_or_went, res.summary  # true departures and arrivals are still reported
    for ch in came_or_went:
        for t in stood:
            assert ch.geometry.intersection(t).area < 0.3 * t.area, res.summary
    # what changed there is still shown, as a change worth a look that says why
    from airdiff.objects.classify import HELD_GONE_NOTE, HELD_NEW_NOTE

    held = [ch for ch in res.changes if ch.cls == "changed" and ch.note in (HELD_GONE_NOTE, HELD_NEW_NOTE)]
    assert any(ch.geometry.intersection(t).area >= 0.3 * t.area for ch in held for t in stood)
    # and a true departure is still reported as one
    gone = [c.before for c in truth if c.cls in ("disappeared", "moved")]
    left = [ch for ch in res.changes if ch.cls == "disappeared"]
    assert any(Point(ch.centroid).distance(g.centroid) <= 10.0 for ch in left for g in gone)


@pytest.mark.parametrize("gsd", [0.3, 0.5, 1.0])
@pytest.mark.parametrize("sun_deg", [20.0, 135.0, 250.0])
def test_a_shadow_beside_an_object_is_found_in_any_direction(gsd, sun_deg):
    from airdiff.objects.detect import cast_shadow_share, shadow_by_direction

    # a 20 m cross (fuselage 20 x 3 m, wings 16 x 2.5 m) and its shadow cast 4.5 m away
    n = int(round(60 / gsd))
    yy, xx = (np.mgrid[0:n, 0:n] - n / 2) * gsd

    def cross(dx=0.0, dy=0.0):
        x, y = xx - dx, yy - dy
        return ((abs(x) <= 1.5) & (abs(y) <= 10)) | ((abs(x) <= 8) & (abs(y + 2) <= 1.25))

    t = np.radians(sun_deg)
    body = cross()
    shadow = cross(4.5 * np.cos(t), 4.5 * np.sin(t)) & ~body
    rr, cc = np.nonzero(body)
    got = cast_shadow_share(rr, cc, shadow, gsd)
    # the cross moved onto its shadow: most of what falls off the cross is shadow (where
    # it falls back on the cross, the cross hides the shadow)
    assert got >= 0.6
    # a stain casts no shadow; a shadow under the object itself is none beside it
    assert cast_shadow_share(rr, cc, np.zeros_like(body), gsd) == 0.0
    assert cast_shadow_share(rr, cc, body.copy(), gsd) == 0.0
    # a few dark pixels scattered around (joints, oil) are no shadow
    rng = np.random.default_rng(int(sun_deg))
    assert cast_shadow_share(rr, cc, (rng.random(body.shape) < 0.05) & ~body, gsd) < 0.15
    # and the direction it falls in is told: the largest share within a direction step
    by_direction = shadow_by_direction(rr, cc, shadow, gsd)
    step = 360.0 / by_direction.size
    off = (np.argmax(by_direction) * step - sun_deg + 180.0) % 360.0 - 180.0
    assert abs(off) <= step
    # cloud over the shadow's side leaves that side unjudged, not shadowless
    judged = xx * np.cos(t) + yy * np.sin(t) < -15.0
    hidden = shadow_by_direction(rr, cc, shadow, gsd, judged)
    assert np.isnan(hidden[int(round(sun_deg / step)) % by_direction.size])
    assert np.isfinite(hidden).any()


@pytest.mark.parametrize("shadow_az", [60.0, 200.0, 305.0])
def test_the_aircraft_that_casts_no_shadow_is_flagged_a_possible_decoy(shadow_az):
    """Four aircraft cast their shadows one way; a flat decoy casts none and is flagged, and an
    aircraft whose shadow on dark ground is too faint to count as shadow is not (its side
    is still darker). Under overcast no aircraft casts one: nothing can be judged."""
    from airdiff.grid import Grid
    from airdiff.objects.decoys import possible_decoys
    from airdiff.objects.detect import mask_to_polygon
    from airdiff.objects.model import Aircraft

    gsd = 0.5
    grid = Grid.pixel_frame((400, 400), gsd)
    yy, xx = np.mgrid[0:400, 0:400] * gsd
    t = np.radians(shadow_az)
    off = 4.0 * np.array([np.sin(t), -np.cos(t)])  # (x right, y down) metres towards the shadow

    def cross(cx, cy):
        x, y = xx - cx, yy - cy
        return ((abs(x) <= 1.5) & (abs(y) <= 10)) | ((abs(x) <= 8) & (abs(y + 2) <= 1.25))

    spots = [(40, 40), (150, 40), (40, 150), (150, 150), (95, 95), (95, 170)]
    kinds = ["cast"] * 4 + ["decoy", "faint"]

    def scene(sun: bool):
        lum = np.full((400, 400), 0.6)
        lum[yy > 160] = 0.3  # dark asphalt under the last one
        for (cx, cy), kind in zip(spots, kinds, strict=True):
            if sun and kind != "decoy":
                s = cross(cx + off[0], cy + off[1])
                lum[s] *= 0.3 if kind == "cast" else 0.75
            lum[cross(cx, cy)] = 0.85
        return lum

    aircraft = [Aircraft(footprint=mask_to_polygon(cross(cx, cy), grid.transform), length_m=20.0, span_m=16.0,
                         heading_deg=0.0, score=0.9) for cx, cy in spots]
    judged = np.ones((400, 400), bool)
    lum = scene(sun=True)
    dark = lum < 0.62 * np.where(yy > 160, 0.3, 0.6)
    got = possible_decoys(aircraft, lum, dark, judged, grid)
    assert got.flagged == (False, False, False, False, True, False)
    assert abs((got.azimuth_deg - shadow_az + 180) % 360 - 180) <= 360 / 16
    # overcast: none casts a shadow, so none is judged by its own
    lum = scene(sun=False)
    dark = lum < 0.62 * np.where(yy > 160, 0.3, 0.6)
    got = possible_decoys(aircraft, lum, dark, judged, grid)
    assert not any(got.flagged) and got.azimuth_deg is None


def test_check_shadows_flags_the_flat_decoy_in_one_image():
    """The check on a single image, for footprints found by a detector: AFTER of a static
    scene with one flat decoy; the decoy is flagged and no aircraft is."""
    from shapely.geometry import Point

    from airdiff.objects import check_shadows, detect_aircraft

    pair = synth.make_pair(seed=1, scenario="static", gsd=0.5, decoys=1)
    (decoy,) = pair.truth.decoys
    found = detect_aircraft(pair.after)
    check = check_shadows(pair.after, found)
    assert check.voters >= 3
    at = [Point(*pair.truth.after_map_to_true(*a.centroid)) for a in found]
    on_decoy = [decoy.footprint.contains(p) for p in at]
    on_aircraft = [any(t.footprint.contains(p) for t in pair.truth.aircraft_after) for p in at]
    assert sum(on_decoy) == 1 and sum(on_aircraft) >= 3
    assert [f for f, d in zip(check.flagged, on_decoy, strict=True) if d] == [True]
    assert not any(f for f, a in zip(check.flagged, on_aircraft, strict=True) if a)


def test_a_flat_decoy_that_appeared_is_reported_a_possible_decoy():
    """A flat decoy painted on a free stand between the dates: reported appeared and flagged
    (no shadow), the only aircraft change of a static scene; the shadows' way in each date is
    the sun's azimuth plus 180 (synth's sun, never read by the pipeline). The decoy changes
    nothing else in the pair."""
    from shapely.geometry import Point

    from airdiff.pipeline import compare

    pair = synth.make_pair(seed=1, scenario="static", gsd=0.5, decoys=1)
    plain = synth.make_pair(seed=1, scenario="static", gsd=0.5)
    (decoy,) = pair.truth.decoys
    assert np.array_equal(pair.before.pixels, plain.before.pixels)
    rows, cols = np.nonzero(np.any(pair.after.pixels != plain.after.pixels, axis=0))
    t = pair.after.grid.transform
    x, y = pair.truth.after_map_to_true(t.c + t.a * (cols + 0.5), t.f + t.e * (rows + 0.5))
    near = decoy.footprint.buffer(12.0)  # the sensor blur and JPEG blocks around it
    assert rows.size and all(near.contains(Point(a, b)) for a, b in zip(x, y, strict=True))

    cmp = compare(pair.before, pair.after)
    changes = [c for c in cmp.changes if c.cls != "obscured"]
    assert [c.cls for c in changes] == ["appeared"]
    assert changes[0].possible_decoy and "decoy" in changes[0].note
    assert decoy.footprint.centroid.distance(changes[0].geometry.centroid) <= 3.0
    for date, az in zip(("before", "after"), cmp.shadow_azimuth_deg, strict=True):
        sun = pair.truth.meta[date]["sun_azimuth_deg"]
        assert az is not None and abs((az - sun - 180.0 + 180.0) % 360.0 - 180.0) <= 30.0, (date, az, sun)


def test_roundness_tells_a_disk_from_an_aircraft_outline():
    """A disk overlaps itself turned about its centre; an aircraft's cross does not."""
    from shapely.geometry import Point

    from airdiff.objects.classify import _ROUND, roundness

    assert roundness(Point(0, 0).buffer(6.0, 32)) >= 0.95
    for kind in synth.AIRCRAFT_KINDS:
        assert roundness(synth.aircraft_outline(kind)) < 0.5 <= _ROUND, kind


def test_craters_change_only_after_and_only_around_themselves():
    """``make_pair(craters=2)``: the craters lie on open pavement, BEFORE is the same pair's,
    and AFTER differs from the crater-free pair's only around them."""
    from shapely.geometry import Point
    from shapely.ops import unary_union

    pair = synth.make_pair(seed=4, scenario="static", gsd=0.5, craters=2)
    plain = synth.make_pair(seed=4, scenario="static", gsd=0.5)
    assert len(pair.truth.craters) == 2 and not plain.truth.craters
    pavement = unary_union([g for kind, g in pair.truth.aeroways if kind in ("apron", "taxiway")])
    assert all(pavement.buffer(0.5).contains(c) for c in pair.truth.craters)
    assert np.array_equal(pair.before.pixels, plain.before.pixels)
    rows, cols = np.nonzero(np.any(pair.after.pixels != plain.after.pixels, axis=0))
    t = pair.after.grid.transform
    x, y = pair.truth.after_map_to_true(t.c + t.a * (cols + 0.5), t.f + t.e * (rows + 0.5))
    near = unary_union(list(pair.truth.craters)).buffer(12.0)  # sensor blur and JPEG blocks
    assert rows.size and all(near.contains(Point(a, b)) for a, b in zip(x, y, strict=True))


def test_a_crater_is_reported_changed_not_an_aircraft():
    """A crater blown in the apron between the dates: round and flat, reported ``changed``,
    not as an aircraft that appeared (which it was before the round-object rule: the crater
    with its spoil stands out as much as an airframe). One example; the rule catches 13 of 47
    craters on the benchmark scenes (``benchmarks/results/craters.md``)."""
    from airdiff.pipeline import compare

    pair = synth.make_pair(seed=4, scenario="static", gsd=0.3, craters=2)
    cmp = compare(pair.before, pair.after)
    changes = [c for c in cmp.changes if c.cls != "obscured"]
    assert [c.cls for c in changes] == ["changed"]
    (c,) = changes
    assert any(c.geometry.intersects(cr) for cr in pair.truth.craters)
    assert "crater" in c.note and c.surface in ("apron", "taxiway", "stand") and 0.0 < c.score <= 1.0
    assert "1 other change" in cmp.summary
    # the figure's legend names it as the key does
    import matplotlib.pyplot as plt

    from airdiff.figures import compare_figure

    fig = compare_figure(cmp, insets=0)
    assert "other change (1)" in [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    plt.close(fig)
