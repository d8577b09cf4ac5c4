"""Comparisons of scenes larger than memory: the same stages, tile by tile.

:func:`compare_tiled` runs the pipeline of :func:`airdiff.pipeline.compare` on two
:class:`~airdiff.scene.SceneSource` objects (e.g. :class:`airdiff.io.RasterSource`) without
ever holding a whole scene:

1. **registration** on a pyramid built from decimated reads, refined with tie points read
   as full-resolution windows (:func:`airdiff.register.register_sources`), giving the same
   :class:`~airdiff.register.Registration` as the in-memory path;
2. **radiometry**: one transfer fitted on a sample of full-resolution windows spread over
   the whole scene, so that all tiles are normalised alike;
3. **aeroways** segmented once from a decimated BEFORE (about 2 m cells, as the in-memory
   segmentation works anyway), unless given;
4. per **tile** of BEFORE's grid (``tile_px`` square, overlapping by ``overlap_m``): the
   BEFORE window and the AFTER window it maps into are read, AFTER is resampled onto the
   tile, normalised, the change map computed and :func:`airdiff.objects.find_changes` run.
   Each tile *owns* its core (the tile less half the overlap on each inner side; the cores
   partition the grid): an object is kept only by the tile whose core holds its centroid,
   so an object on a tile edge is neither lost nor reported twice, as long as it is smaller
   than half the overlap. The aligned AFTER and the change magnitude of each core are
   handed to sinks (e.g. :func:`airdiff.io.block_writer`), never assembled in memory.
   Two tiles are worked on at once, on threads (:mod:`airdiff._threads`); the reads and
   the sinks stay on the calling thread, in tile order, so the results do not depend on it.

Limits. A **move** is judged inside one tile when both its ends lie in it (always so for
moves shorter than half the overlap); a longer one whose ends fall in different tiles is
reported by each tile as one ``disappeared`` and one ``appeared``, which are then paired
across tiles with the object stage's matching (size, shape, paint), without the tile's
pixel context. Cloud shadows are searched within a tile (up to the
tile size away from the cloud). Peak memory depends on ``tile_px`` and on the decimated
levels (``max_level_px``), not on the scene size.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._threads import ordered_map
from .change import ChangeMap
from .errors import AlignmentError, InputError
from .grid import Grid
from .objects.classify import OFF_PAVING_NOTES
from .objects.detect import cell_px
from .objects.model import Aeroways, Aircraft, Change
from .register.model import Registration
from .scene import Scene

__all__ = ["TiledResult", "compare_tiled", "tile_windows", "preview_comparison", "inset_reader", "read_scaled"]

log = logging.getLogger(__name__)

_AIRCRAFT_ORDER = {"burned": 0, "moved": 1, "appeared": 2, "disappeared": 3}


def _find_changes_default(name: str):
    import inspect

    from .objects import find_changes

    return inspect.signature(find_changes).parameters[name].default


#: score an unpaired aircraft needs to be reported (the object stage's own default)
_MIN_SCORE = float(_find_changes_default("min_score"))


@dataclass(frozen=True)
class Tile:
    """One tile: the window read and the core it owns, BEFORE pixels (row, col, height, width)."""

    window: tuple[int, int, int, int]
    core: tuple[int, int, int, int]


#: Smallest ground a tile may span (m): two of the largest aircraft side by side, with room.
MIN_TILE_M = 200.0


def tile_windows(shape: tuple[int, int], tile_px: int, overlap_px: int, *, align: int = 1) -> list[Tile]:
    """Tiles of ``tile_px`` (at most) whose cores partition ``shape``.

    Cores are ``tile_px - overlap_px`` wide; each tile is its core grown by half the overlap
    on every side (clipped to the grid). With ``align`` > 1, cores and windows start on
    multiples of ``align`` pixels (cores a little narrower, overlaps a little wider), so
    that work done on ``align``-pixel cells inside a tile sees the same cells as on the
    whole grid.

    Examples
    --------
    >>> ts = tile_windows((1000, 700), 512, 112)
    >>> len(ts), ts[0].core, ts[0].window
    (6, (0, 0, 400, 400), (0, 0, 456, 456))
    >>> sum(t.core[2] * t.core[3] for t in ts) == 1000 * 700
    True
    """
    if overlap_px < 0 or tile_px <= overlap_px:
        raise InputError(f"tile_px ({tile_px}) must exceed the overlap ({overlap_px} px); use a larger tile_px")
    align = max(1, int(align))
    half = -(-(overlap_px // 2) // align) * align
    step = (tile_px - 2 * half) // align * align
    if step < align:
        raise InputError(f"tile_px ({tile_px}) leaves no core once aligned to {align} px; use a larger tile_px")
    rows, cols = shape
    out = []
    for r0 in range(0, rows, step):
        for c0 in range(0, cols, step):
            h, w = min(step, rows - r0), min(step, cols - c0)
            wr0, wc0 = max(0, r0 - half), max(0, c0 - half)
            wr1, wc1 = min(rows, r0 + h + half), min(cols, c0 + w + half)
            out.append(Tile((wr0, wc0, wr1 - wr0, wc1 - wc0), (r0, c0, h, w)))
    return out


@dataclass(frozen=True, eq=False)
class TiledResult:
    """What a tiled comparison found (the rasters went to the sinks).

    Attributes
    ----------
    registration : Registration
    changes : tuple of Change
        Aircraft-level changes then obscured areas, ids from 1, as :class:`Comparison`.
    aircraft_before, aircraft_after : tuple of Aircraft
    aeroways : Aeroways
    grid : Grid
        BEFORE's grid (the grid of all outputs).
    fractions : dict
        ``judged``, ``cloud`` and ``nodata`` fractions of the grid's pixels.
    shadow_azimuth_deg : (float or None, float or None)
        Where shadows fall in each date: the mean of the tiles' (see
        :class:`~airdiff.objects.ObjectResult`), None where no tile tells.
    tiles : int
        Number of tiles.
    tile_px, overlap_px : int
    """

    registration: Registration
    changes: tuple[Change, ...]
    aircraft_before: tuple[Aircraft, ...]
    aircraft_after: tuple[Aircraft, ...]
    aeroways: Aeroways
    grid: Grid
    fractions: dict = field(default_factory=dict)
    shadow_azimuth_deg: tuple[float | None, float | None] = (None, None)
    tiles: int = 0
    tile_px: int = 0
    overlap_px: int = 0

    def tiling(self) -> dict:
        """JSON-ready description of the tiling (for reports)."""
        return {"tiles": self.tiles, "tile_px": self.tile_px, "overlap_px": self.overlap_px,
                "overlap_m": round(self.overlap_px * self.grid.gsd, 2)}


def _core_box(grid: Grid, core) -> tuple[float, float, float, float]:
    """Map bounds (xmin, ymin, xmax, ymax) of a pixel window (exact for north-up grids)."""
    r0, c0, h, w = core
    xs, ys = grid.xy(np.array([r0, r0, r0 + h, r0 + h]), np.array([c0, c0 + w, c0, c0 + w]), offset="ul")
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def _owns(grid: Grid, core, xy) -> bool:
    """True when map point ``xy`` falls in the core (pixel-corner half-open intervals)."""
    rows, cols = grid.rowcol(np.array([xy[0]]), np.array([xy[1]]))
    r, c = float(rows[0]), float(cols[0])
    r0, c0, h, w = core
    rmax, cmax = grid.shape
    in_r = r0 <= r < r0 + h or (r0 + h == rmax and r == rmax)
    in_c = c0 <= c < c0 + w or (c0 + w == cmax and c == cmax)
    return in_r and in_c


def _sample_transfer(before_src, after_src, reg: Registration, *, win: int = 128, max_n: int = 16):
    """Radiometric transfer fitted once on full-resolution windows spread over the scene.

    Many small windows on a regular grid (up to 16 x 16 of 128 px, 4 Mpx) sample the scene
    about as evenly as the in-memory fit's regular pixel subsample does.
    """
    from .radiometry import fit_scene_transfer
    from .register import after_window, apply, window_registration

    rows, cols = before_src.grid.shape
    w_r, w_c = min(win, rows), min(win, cols)
    nr = int(np.clip(rows // (win + 44), 1, max_n))
    nc = int(np.clip(cols // (win + 44), 1, max_n))

    def read():  # on the calling thread: a source is read by one thread at a time
        for r0 in np.linspace(0, rows - w_r, nr).round().astype(int):
            for c0 in np.linspace(0, cols - w_c, nc).round().astype(int):
                aw = after_window(reg, r0, c0, w_r, w_c, after_src.grid.shape)
                if aw is not None:
                    yield r0, c0, aw, before_src.read(r0, c0, w_r, w_c), after_src.read(*aw)

    def resampled(item):  # AFTER onto BEFORE's window while the next windows are read
        r0, c0, aw, b, a = item
        return b, apply(a, window_registration(reg, (r0, c0), aw[:2]), b.grid)

    bs, al = [], []
    for b, a in ordered_map(resampled, read()):
        if (b.valid & a.valid).mean() >= 0.2:
            bs.append(b)
            al.append(a)
    if not bs:
        bs = [before_src.read(0, 0, w_r, w_c)]
        al = [bs[0].replace(valid=np.zeros(bs[0].shape, bool))]

    def mosaic(scenes):
        px = np.concatenate([s.pixels for s in scenes], axis=2)
        valid = np.concatenate([s.valid for s in scenes], axis=1)
        return scenes[0].replace(pixels=px, valid=valid,
                                 grid=Grid.pixel_frame(px.shape[1:], scenes[0].grid.gsd))

    return fit_scene_transfer(mosaic(bs), mosaic(al))


def _aeroways(before_src) -> Aeroways:
    """Aeroways segmented from BEFORE decimated to about 2 m cells (coarser beyond 9 Mpx of cells)."""
    from .objects import segment_aeroways

    g = before_src.grid
    f = max(1, int(round(2.0 / g.gsd)))
    while g.height * g.width / (f * f) > 9e6:
        f += 1
    return segment_aeroways(before_src.read(0, 0, g.height, g.width, factor=f))


def _dedupe(moved: list[Change], others: list[Change], k: float) -> list[Change]:
    """Drop a disappeared/appeared that another tile explained as one end of a move."""
    keep = []
    for ch in others:
        ends = [m.from_geometry if ch.cls == "disappeared" else m.geometry for m in moved]
        dup = any(e is not None and e.intersects(ch.geometry)
                  and e.intersection(ch.geometry).area > 0.3 * min(e.area, ch.geometry.area)
                  for e in ends)
        if not dup:
            keep.append(ch)
    return keep


def compare_tiled(
    before_src,
    after_src,
    *,
    options=None,
    aeroways: Aeroways | None = None,
    tile_px: int | None = None,
    overlap_m: float | None = None,
    aligned_sink=None,
    magnitude_sink=None,
    progress: Callable[[int, int], None] | None = None,
) -> TiledResult:
    """Compare two scenes larger than memory, tile by tile (see the module docstring).

    Parameters
    ----------
    before_src, after_src : SceneSource
        AFTER read on BEFORE's grid when both are georeferenced
        (:meth:`airdiff.io.RasterSource.on_grid`).
    options : Options, optional
        As :func:`airdiff.pipeline.compare`; ``tile_px`` and ``tile_overlap_m`` set the tiling.
    aeroways : Aeroways, optional
        Airfield surfaces in BEFORE's map coordinates; segmented when not given.
    tile_px, overlap_m : optional
        Override ``options.tile_px`` / ``options.tile_overlap_m``.
    aligned_sink, magnitude_sink : optional
        Objects with ``write(pixels, row_off, col_off, *, valid=None)`` receiving, core by
        core, AFTER on BEFORE's grid (AFTER's dtype; ``valid`` its footprint) and the change
        magnitude (float32, ``valid`` the judged pixels).
    progress : callable, optional
        Called as ``progress(done, total)`` after each tile.

    Returns
    -------
    TiledResult

    Raises
    ------
    InputError
        ``tile_px`` spans less than :data:`MIN_TILE_M` of ground (before any work).
    AlignmentError
        The scenes cannot be aligned, or the alignment is not trustworthy (before any tile).
    """
    from . import objects, radiometry
    from .change import change_map
    from .pipeline import Options
    from .register import after_window, apply, register_sources, window_registration

    opts = options or Options()
    grid = before_src.grid
    tpx = int(tile_px or opts.tile_px)
    need = int(math.ceil(MIN_TILE_M / grid.gsd))
    if tpx < need:
        raise InputError(f"tile_px {tpx} is too small: at {grid.gsd:.3g} m a tile must span at least "
                         f"{MIN_TILE_M:g} m (two of the largest aircraft); use tile_px >= {need}")
    reg = register_sources(before_src, after_src, max_offset_m=opts.max_offset_m,
                           max_rotation_deg=opts.max_rotation_deg,
                           max_scale_change=opts.max_scale_change, local=opts.local_warp)
    if not reg.ok:
        exc = AlignmentError(f"cannot align {getattr(after_src, 'name', '') or 'AFTER'} to "
                             f"{getattr(before_src, 'name', '') or 'BEFORE'}: {reg.reason}")
        exc.registration = reg
        raise exc
    transfer = _sample_transfer(before_src, after_src, reg)
    if aeroways is None:
        aeroways = _aeroways(before_src)
    gsd = grid.gsd
    ovl = int(math.ceil((overlap_m if overlap_m is not None else opts.tile_overlap_m) / gsd))
    ovl += ovl % 2
    # windows on whole detector cells (about 1 m), as on the whole grid; the overlap leaves
    # every tile a core of at least one cell once aligned
    align = cell_px(gsd)
    tiles = tile_windows(grid.shape, tpx, max(0, min(ovl, tpx - 3 * align)), align=align)
    k = 1.0 / grid.metres_per_unit
    log.info("tiled comparison: %d tiles of %d px, overlap %d px", len(tiles), tpx, ovl)

    aircraft: list[Change] = []
    obscured: dict[str, list] = {}
    found_b: list[Aircraft] = []
    found_a: list[Aircraft] = []
    azimuths: tuple[list, list] = ([], [])
    n_judged = n_cloud = n_nodata = 0
    tile_of: dict[int, int] = {}
    craft_of: dict[int, Aircraft] = {}

    def read(i):
        # reads stay on the calling thread (rasterio datasets are not to be shared across
        # threads); the work on each tile then runs on a worker (see airdiff._threads)
        r0, c0, h, w = tiles[i].window
        b = before_src.read(r0, c0, h, w)
        aw = after_window(reg, r0, c0, h, w, after_src.grid.shape)
        return i, b, aw, (None if aw is None else after_src.read(*aw))

    def work(item):
        i, b, aw, a = item
        t = tiles[i]
        r0, c0, h, w = t.window
        if aw is None:
            al = b.replace(pixels=np.zeros((after_src.count, h, w), after_src.dtype
                                           if after_src.dtype == np.uint8 else np.float32),
                           valid=np.zeros((h, w), bool))
        else:
            al = apply(a, window_registration(reg, (r0, c0), aw[:2]), b.grid)
        cr, cc, ch_, cw = t.core
        core = (slice(cr - r0, cr - r0 + ch_), slice(cc - c0, cc - c0 + cw))
        # copies of the core, so the tile's arrays are freed once its work is done
        out = _TileOut(i=i, aligned=np.array(_native(al.pixels[(slice(None), *core)], after_src)),
                       aligned_valid=al.valid[core].copy())
        if not (b.valid & al.valid).any():
            return out
        norm = radiometry.normalise(b, al, transfer=transfer)
        cm = change_map(b, norm)
        out.magnitude, out.judged = cm.magnitude[core].copy(), cm.judged[core].copy()
        out.counts = (int(cm.judged[core].sum()), int(cm.cloud[core].sum()), int(cm.nodata[core].sum()))
        tile_box = _box_geom(_core_box(grid, t.window))
        aw_tile = Aeroways(tuple((kind, g) for kind, g in aeroways.features if g.intersects(tile_box)),
                           source=aeroways.source)
        # every vanished and new aircraft is kept for now (min_score=0): its other end may be
        # in another tile; the score threshold is applied after pairing across tiles
        out.result = objects.find_changes(b, norm, cm, aeroways=aw_tile, min_aircraft_m=opts.min_aircraft_m,
                                          min_score=0.0)
        return out

    for out in ordered_map(work, (read(i) for i in range(len(tiles)))):
        i, t = out.i, tiles[out.i]
        cr, cc, ch_, cw = t.core
        if aligned_sink is not None:
            aligned_sink.write(out.aligned, cr, cc, valid=out.aligned_valid)
        if out.result is None:
            n_nodata += ch_ * cw
            if magnitude_sink is not None:
                magnitude_sink.write(np.zeros((ch_, cw), np.float32), cr, cc,
                                     valid=np.zeros((ch_, cw), bool))
            obscured.setdefault("no data", []).append(_box_geom(_core_box(grid, t.core)))
            if progress:
                progress(i + 1, len(tiles))
            continue
        if magnitude_sink is not None:
            magnitude_sink.write(out.magnitude, cr, cc, valid=out.judged)
        n_judged += out.counts[0]
        n_cloud += out.counts[1]
        n_nodata += out.counts[2]
        box = _box_geom(_core_box(grid, t.core))
        res = out.result
        for c in res.changes:
            if c.cls == "obscured":
                part = c.geometry.intersection(box)
                if not part.is_empty:
                    obscured.setdefault(c.note or "cloud", []).append(part)
            elif _owns(grid, t.core, c.centroid):
                aircraft.append(c)
                tile_of[id(c)] = i
                pool = res.aircraft_before if c.cls == "disappeared" else res.aircraft_after
                match = [a for a in pool if a.placed is c.geometry]
                if match and c.cls in ("appeared", "disappeared"):
                    craft_of[id(c)] = match[0]
        found_b += [a for a in res.aircraft_before if _owns(grid, t.core, a.centroid)]
        found_a += [a for a in res.aircraft_after if _owns(grid, t.core, a.centroid)]
        for seen, az in zip(azimuths, res.shadow_azimuth_deg, strict=True):
            if az is not None:
                seen.append(az)
        del out, res
        if progress:
            progress(i + 1, len(tiles))

    moved = [c for c in aircraft if c.cls == "moved"]
    rest = _dedupe(moved, [c for c in aircraft if c.cls in ("appeared", "disappeared")], k)
    rest = _pair_across_tiles(rest, tile_of, craft_of, k, surfaces_known=bool(aeroways.features))
    rest = [c for c in rest if c.cls == "moved" or c.score >= _MIN_SCORE]
    moved = [_whole_origin(c, found_b) for c in moved]
    # what a tile kept for pairing (min_score=0) and set aside as off the paving found
    aircraft = [c for c in aircraft if c.cls not in ("appeared", "disappeared", "moved")
                and not (c.note in OFF_PAVING_NOTES and c.score < _MIN_SCORE)]
    aircraft += moved + rest
    aircraft.sort(key=lambda c: (_AIRCRAFT_ORDER.get(c.cls, 9), -c.score))
    obscured_changes = _merge_obscured(obscured, min_area=500.0 * k * k)
    changes = tuple(c.replace(id=n) for n, c in enumerate([*aircraft, *obscured_changes], start=1))
    total = float(grid.height * grid.width)
    fractions = {"judged": n_judged / total, "cloud": n_cloud / total, "nodata": n_nodata / total}
    log.info("tiled comparison: %s", objects.summarise(changes))
    return TiledResult(registration=reg, changes=changes, aircraft_before=tuple(found_b),
                       aircraft_after=tuple(found_a), aeroways=aeroways, grid=grid,
                       fractions=fractions, tiles=len(tiles), tile_px=tpx, overlap_px=ovl,
                       shadow_azimuth_deg=tuple(_mean_azimuth(a) for a in azimuths))


def _mean_azimuth(azimuths: list[float]) -> float | None:
    """Circular mean (deg) of ``azimuths``; None for none."""
    if not azimuths:
        return None
    return float(np.degrees(np.angle(np.exp(1j * np.radians(azimuths)).mean())) % 360.0)


@dataclass
class _TileOut:
    """What the work on one tile hands back: its core's pixels for the sinks, and its findings."""

    i: int
    aligned: np.ndarray
    aligned_valid: np.ndarray
    magnitude: np.ndarray | None = None
    judged: np.ndarray | None = None
    counts: tuple[int, int, int] = (0, 0, 0)
    result: object | None = None  # ObjectResult; None where the tile has no pixels of both dates


def _whole_origin(ch: Change, found_b: list[Aircraft]) -> Change:
    """A move's BEFORE footprint as found by the tile owning it (whole, not cut by an edge).

    A move is judged by the tile owning its AFTER end; its BEFORE end may lie near that
    tile's edge and be cut there.
    """
    fg = ch.from_geometry
    if fg is None:
        return ch
    best, best_area = None, 0.0
    for a in found_b:
        if a.footprint.intersects(fg):
            area = a.footprint.intersection(fg).area
            if area > best_area:
                best, best_area = a, area
    if best is None or best_area < 0.3 * fg.area or best.placed.area <= fg.area:
        return ch
    return ch.replace(from_geometry=best.placed)


def _pair_across_tiles(changes: list[Change], tile_of: dict, craft_of: dict, k: float, *,
                       surfaces_known: bool = True) -> list[Change]:
    """Pair a disappeared and an appeared aircraft of different tiles into one move.

    The ends of a move longer than the overlap can fall into different tiles; each tile then
    reports half of it. They are paired with the object stage's own matching (size, shape,
    paint), restricted to ends of different tiles (one tile already judged its own pairs).
    ``surfaces_known``: the airfield's surfaces are known, so a move needs one end on one.
    """
    from .objects.classify import decoy_note, lookalike_notes, moved_pairs, origin_note

    gone = [c for c in changes if c.cls == "disappeared" and id(c) in craft_of]
    new = [c for c in changes if c.cls == "appeared" and id(c) in craft_of]
    if not gone or not new:
        return changes
    pairs, cost, rivals = moved_pairs([craft_of[id(c)] for c in gone], [craft_of[id(c)] for c in new],
                                       [c.surface for c in new], k,
                                       from_surface=[c.from_surface for c in gone] if surfaces_known else None)
    used = set()
    out = []
    for i, j in pairs:
        g, n = gone[i], new[j]
        if tile_of.get(id(g)) == tile_of.get(id(n)):
            continue
        b, a = craft_of[id(g)], craft_of[id(n)]
        score = float(np.clip(0.5 * (a.score + b.score) * (1.0 - 0.5 * cost[(i, j)]), 0, 1))
        flag = decoy_note(g.possible_decoy or n.possible_decoy, "ends found in different tiles",
                          origin_note(rivals[(i, j)]))
        out.append(Change(id=0, cls="moved", score=score, geometry=n.geometry,
                          from_geometry=g.geometry, surface=n.surface, from_surface=g.from_surface,
                          size_class=n.size_class, length_m=n.length_m,
                          from_alternatives=int(rivals[(i, j)]), **flag))
        used |= {id(g), id(n)}
    # a departure and an arrival of different tiles that look alike (an arrival on a stand is
    # not paired): noted as each tile notes its own
    gone = [c for c in gone if id(c) not in used and not c.note and c.score >= _MIN_SCORE]
    new = [c for c in new if id(c) not in used and not c.note and c.score >= _MIN_SCORE]
    noted = {}
    for i, j, note_g, note_n in lookalike_notes([craft_of[id(c)] for c in gone],
                                                [craft_of[id(c)] for c in new], [c.surface for c in new], k):
        if tile_of.get(id(gone[i])) != tile_of.get(id(new[j])):  # a tile notes its own
            noted[id(gone[i])], noted[id(new[j])] = note_g, note_n
    return out + [c.replace(note=noted[id(c)]) if id(c) in noted else c for c in changes if id(c) not in used]


def _native(px: np.ndarray, src) -> np.ndarray:
    """Pixels back in the source's integer type (windows of 16-bit data are scaled floats)."""
    dt = np.dtype(getattr(src, "dtype", px.dtype))
    if px.dtype == dt or not np.issubdtype(dt, np.integer):
        return px
    info = np.iinfo(dt)
    return np.clip(np.rint(px * np.float32(src.scale)), info.min, info.max).astype(dt)


def _box_geom(b):
    from shapely.geometry import box

    return box(*b)


def _merge_obscured(parts: dict[str, list], *, min_area: float) -> list[Change]:
    """Obscured pieces of all tiles, joined across tile edges, one Change per area."""
    from shapely.ops import unary_union

    out = []
    for note in ("cloud", "haze", "no data"):
        if note not in parts:
            continue
        u = unary_union(parts[note]).buffer(0)
        geoms = list(getattr(u, "geoms", [u]))
        for g in sorted(geoms, key=lambda g: -g.area):
            if g.area >= min_area:
                out.append(Change(id=0, cls="obscured", score=1.0, geometry=g, note=note))
    return out


def preview_comparison(result: TiledResult, before: Scene, after: Scene, aligned: Scene,
                       magnitude: Scene, options=None):
    """A :class:`~airdiff.pipeline.Comparison` on a decimated grid, for figures and exports.

    Parameters
    ----------
    result : TiledResult
    before, aligned : Scene
        Decimated BEFORE and aligned AFTER on the same (decimated) grid.
    after : Scene
        AFTER's metadata (time, name, credit); its pixels may be a decimated read.
    magnitude : Scene
        Decimated change magnitude on that grid (float, ``valid`` = judged).
    """
    from .pipeline import Comparison, Options

    nodata = ~(before.valid & aligned.valid)
    judged = magnitude.valid & ~nodata
    cm = ChangeMap(magnitude=np.where(judged, magnitude.pixels[0], 0).astype(np.float32),
                   nodata=nodata, cloud=~judged & ~nodata,
                   cloud_shadow=np.zeros(nodata.shape, bool), grid=before.grid)
    return Comparison(before=before, after=after, aligned=aligned, normalised=aligned,
                      registration=result.registration, changemap=cm, changes=result.changes,
                      aircraft_before=result.aircraft_before, aircraft_after=result.aircraft_after,
                      aeroways=result.aeroways, options=options or Options(),
                      shadow_azimuth_deg=result.shadow_azimuth_deg)


def inset_reader(sources: dict, grid: Grid):
    """A figure's ``inset_reader`` (see :func:`airdiff.figures.compare_figure`) over sources.

    ``sources`` maps 'before' and 'after' to scene sources on ``grid``; the windows come back
    as float32 on the scale of decimated reads (about [0, 1]), like the preview scenes.
    """

    def read(which: str, bounds):
        src = sources[which]
        rows, cols = grid.rowcol(np.array([bounds[0], bounds[2]]), np.array([bounds[1], bounds[3]]))
        r0, r1 = max(int(np.floor(rows.min())) - 1, 0), min(int(np.ceil(rows.max())) + 1, grid.height)
        c0, c1 = max(int(np.floor(cols.min())) - 1, 0), min(int(np.ceil(cols.max())) + 1, grid.width)
        if r1 <= r0 or c1 <= c0:
            return None
        return read_scaled(src, r0, c0, r1 - r0, c1 - c0)

    return read


def read_scaled(src, row_off: int, col_off: int, height: int, width: int, *, factor: int = 1) -> Scene:
    """``src.read(...)`` always on the scale of decimated reads (float32, about [0, 1]).

    A source reads 8-bit data at full resolution as it is; previews and insets must share
    one scale, whatever their factor, for the figure's one stretch to fit both.
    """
    sc = src.read(row_off, col_off, height, width, factor=factor)
    if sc.pixels.dtype == np.uint8:
        sc = sc.replace(pixels=sc.pixels.astype(np.float32) / np.float32(src.scale))
    return sc
