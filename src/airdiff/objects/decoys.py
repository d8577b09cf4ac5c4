"""Possible decoys: objects that cast no shadow where the other aircraft cast theirs.

An aircraft stands metres off the ground and casts a shadow of its own shape on the side
away from the sun; a decoy printed or painted on the ground casts none. The check needs no
sun angle from the image's metadata; the aircraft of the date say whether shadows show.
Each lit aircraft's own pixels are moved off themselves in
:func:`~airdiff.objects.detect.shadow_by_direction`'s 16 directions, 1.5 to 12 m: a real
one lands on dark pixels some way. Where at least :data:`MIN_VOTES` aircraft do (under
overcast none does), an object well over a vehicle's size is flagged when

- no way lands it on more than :data:`NO_SHADOW` dark pixels, and
- no way lands it on ground darker than :data:`_NOT_DARKER` of the brightest way (a
  shadow too faint to count as dark, on asphalt or through haze, still darkens its side).

Where most of the aircraft agree on it, the way shadows fall is reported too (the sun's
azimuth plus 180). A flagged object is not claimed to be a decoy: it may also be a stain
or a patch of paint taken for an aircraft; either way it is no aircraft standing there.

Only lit objects are judged: dark paint (a dark silhouette painted as a decoy, a burned
remnant) is as dark as a shadow, and an object found together with what was taken for its
shadow holds it in its outline. A decoy with a shadow painted beside it, or one built with
some height (inflatable, boards), casts or shows one and is not told apart. No way is
required to be the sun's: a real aircraft whose shadow falls off the estimated way is
never flagged for it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..change import saturation
from ..scene import Scene
from ._raster import window
from .detect import direction_means, planes, shadow_by_direction, shadow_pixels
from .model import Aircraft

__all__ = ["ShadowCheck", "check_shadows", "possible_decoys", "MIN_VOTES", "NO_SHADOW"]

log = logging.getLogger(__name__)

#: Aircraft that must be seen to cast a shadow in a date before any object there is judged
#: by its own (none are seen under overcast, or where the detector takes shadows in).
MIN_VOTES = 3
#: Shadow share (:func:`~airdiff.objects.detect.shadow_by_direction`, largest of the
#: directions) from which an aircraft is seen to cast one.
_SEEN = 0.2
#: Share of those that must agree (within one direction step) for a way shadows fall.
_AGREE = 0.75
#: An aircraft agrees with a way when its shadow share there is at least this fraction of its
#: largest.
_ALONG = 0.8
#: An aircraft's outline, moved the way shadows fall, landing on less than this share of dark
#: pixels casts no shadow there. Aircraft cast shadows of :data:`_SEEN` and more; pixels
#: as dark as a shadow scattered on open concrete (joints, oil stains) make up a few hundredths.
NO_SHADOW = 0.1
#: The ground where an aircraft's shadow falls is darker than around it elsewhere; around a
#: flagged object, the darkest side is at least this fraction of the brightest: no side is
#: darker, give or take the ground's own variation (grass or a marking near it: not flagged).
_NOT_DARKER = 0.9
#: Shortest object (m) judged: well over a vehicle's length (vehicles cast shadows too, but
#: an equipment cart or a marking picked up as an object may not).
_MIN_LENGTH_M = 15.0


@dataclass(frozen=True)
class ShadowCheck:
    """Where one date's shadows fall, and which of its aircraft cast none there.

    Attributes
    ----------
    azimuth_deg : float or None
        Direction shadows fall in, degrees clockwise from the grid's up (north on a
        north-up grid): the sun's azimuth plus 180. None when the aircraft do not agree.
    flagged : tuple of bool
        Per aircraft, in the order given: casts no shadow, where the others cast theirs.
    voters : int
        Aircraft seen to cast a shadow.
    """

    azimuth_deg: float | None
    flagged: tuple[bool, ...]
    voters: int = 0


def _judged_lit(a: Aircraft) -> bool:
    return not a.features.get("dark") and not a.features.get("with_shadow") and a.state == "intact"


def possible_decoys(aircraft: Sequence[Aircraft], lum: np.ndarray, dark: np.ndarray, judged: np.ndarray,
                    grid) -> ShadowCheck:
    """Flag the aircraft of one date that cast no shadow on the side the others do.

    Parameters
    ----------
    aircraft : sequence of Aircraft
        Found in one date, in ``grid``'s map coordinates.
    lum : ndarray
        The date's brightness (mean of the visible bands).
    dark : ndarray of bool
        Pixels as dark as a cast shadow (:func:`~airdiff.objects.detect.shadow_pixels`).
    judged : ndarray of bool
        Pixels that can be judged (not cloud, not no data): elsewhere is neither shadow nor
        its absence.
    grid : Grid

    Returns
    -------
    ShadowCheck
    """
    profiles, pixels = [], []
    for a in aircraft:
        prof = rc = None
        if _judged_lit(a):
            # its lit pixels: a footprint found with pieces of its shadow has them inside
            win, m = window(a.placed, grid, pad_px=0)
            if win is not None:
                m &= ~dark[win]
            if win is not None and m.sum() >= 10:
                rc = np.nonzero(m)
                rc = (rc[0] + win[0].start, rc[1] + win[1].start)
                prof = shadow_by_direction(*rc, dark, grid.gsd, judged)
        profiles.append(prof)
        pixels.append(rc)
    seen = [np.nan_to_num(p) for p in profiles
            if p is not None and np.isfinite(p).any() and np.nanmax(p) >= _SEEN]
    if len(seen) < MIN_VOTES:
        log.debug("%d aircraft cast a shadow: no decoy check", len(seen))
        return ShadowCheck(None, (False,) * len(aircraft), len(seen))
    azimuth, support = _shadow_way(np.stack(seen))
    # flagged: no shadow any way (the way the others' fall is an estimate, a step or two
    # off where they are few: a real aircraft is never flagged for a shadow just beside it)
    flagged = []
    for a, p, rc in zip(aircraft, profiles, pixels, strict=True):
        flag = (p is not None and bool(np.isfinite(p).any()) and float(np.nanmax(p)) < NO_SHADOW
                and max(a.length_m, a.span_m) >= _MIN_LENGTH_M)
        if flag:
            # a shadow too faint for ``dark`` (on dark asphalt, through haze, where grass
            # beside a taxiway darkens the background) still darkens the ground on its side
            darkest = direction_means(*rc, lum, grid.gsd, judged, reduce=np.fmin)
            flag = bool(np.nanmin(darkest) >= _NOT_DARKER * np.nanmax(darkest))
        flagged.append(flag)
    log.info("%d aircraft cast shadows (%s); %d cast none", len(seen),
             "no one way" if azimuth is None else f"towards {azimuth:.0f} deg, {support} of them", sum(flagged))
    return ShadowCheck(azimuth, tuple(flagged), len(seen))


def check_shadows(scene: Scene, aircraft: Sequence[Aircraft], *, judged: np.ndarray | None = None,
                  layers: tuple | None = None) -> ShadowCheck:
    """:func:`possible_decoys` on one scene, for aircraft found by any detector.

    What the comparison does for each date, for a single image and footprints of one's own
    (an external detector's, or drawn by hand).

    Parameters
    ----------
    scene : Scene
    aircraft : sequence of Aircraft
        Footprints in ``scene.grid``'s map coordinates.
    judged : ndarray of bool, optional
        Pixels that can be judged; default: the scene's valid pixels.
    layers : tuple, optional
        The scene's :func:`~airdiff.objects.detect.planes`, where already computed.

    Returns
    -------
    ShadowCheck

    Examples
    --------
    >>> from airdiff.objects import detect_aircraft
    >>> from airdiff.objects.decoys import check_shadows
    >>> found = detect_aircraft(scene)                                     # doctest: +SKIP
    >>> [a for a, f in zip(found, check_shadows(scene, found).flagged) if f]  # doctest: +SKIP
    """
    f, _, bg, _ = layers if layers is not None else planes(scene)
    vis = slice(0, min(3, f.shape[0]))
    lum = f[vis].mean(axis=0)
    dark, _ = shadow_pixels(lum, bg[vis].mean(axis=0), saturation(f))
    if judged is None:
        judged = scene.valid
    return possible_decoys(aircraft, lum, dark, judged, scene.grid)


def _shadow_way(seen: np.ndarray) -> tuple[float | None, int]:
    """The azimuth (deg) most shadows fall towards, and how many aircraft agree with it.

    ``seen``: (aircraft, directions) shadow shares of the aircraft seen to cast one. Each
    aircraft's shares, scaled to its largest, are summed: the way is where the sum peaks
    (refined between directions by a parabola through the peak and its neighbours). An
    aircraft agrees when it casts within a direction step of that way at least
    :data:`_ALONG` of its largest share. None where fewer than :data:`MIN_VOTES`, or under
    :data:`_AGREE` of them, agree.
    """
    n = seen.shape[1]
    scaled = seen / seen.max(axis=1, keepdims=True)
    total = scaled.sum(axis=0)
    way = int(np.argmax(total))
    sides = [(way - 1) % n, way, (way + 1) % n]
    agree = int(np.sum(scaled[:, sides].max(axis=1) >= _ALONG))
    if agree < max(MIN_VOTES, _AGREE * len(seen)):
        return None, agree
    lo, mid, hi = total[sides]
    curve = lo - 2 * mid + hi
    step = 0.5 * (lo - hi) / curve if curve < 0 else 0.0
    # a step of (sin t, cos t) in (rows, cols) is cos t to the right, sin t down
    t = 2 * np.pi * (way + step) / n
    return float(np.degrees(np.arctan2(np.cos(t), -np.sin(t))) % 360.0), agree
