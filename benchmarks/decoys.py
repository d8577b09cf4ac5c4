"""Possible-decoy benchmark: flat decoys flagged, real aircraft not, and where shadows fall.

    python benchmarks/decoys.py [--quick]

Cases: the detection benchmark's scenes (``benchmarks/detection.py``: development and
held-out, every nuisance, GSD 0.3-1.0 m, moderate misregistration), each made with
``decoys=2``: up to two flat decoys (white aircraft silhouettes, no relief, no shadow) on
stands left free in AFTER, where they fit. The rest of each scene is as in the detection
benchmark. ``airdiff.compare`` runs on each pair as a user would; it never reads the synth's
sun angles, which the shadows' way is scored against.

Measured:

- found true aircraft (either date, overlapping a true footprint by 30 %) flagged as possible
  decoys: false flags;
- true aircraft changes reported (within 10 m of a true change) carrying the flag;
- decoys placed, found by the built-in detector, reported as a change, and flagged;
- the way shadows fall against the synth's sun azimuth + 180, where the aircraft agree on one;
- the time of the check (:func:`airdiff.objects.decoys.possible_decoys`) per scene.

Real imagery (``../shared/imagery-real``, when present): the built-in detector's candidates
on each real aircraft image, and how many the check flags there. Real aircraft cast shadows,
so a flagged one is a false flag unless it is no aircraft; look at them (``--real-figure``)
before saying which. Never commit that imagery or pictures of it.

Results go to benchmarks/results/decoys.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from detection import REAL, REAL_GSD, case_pair, cases, draw_found, libraries, real_images  # noqa: E402

RESULTS = HERE / "results"
OVERLAP = 0.3
TOL_M = 10.0


def _timed_check():
    """Wrap the classifier's decoy check to time it; returns the list the times go to."""
    import airdiff.objects.classify as classify

    times = []
    check = classify.possible_decoys

    def timed(*args, **kw):
        t0 = time.perf_counter()
        try:
            return check(*args, **kw)
        finally:
            times.append(time.perf_counter() - t0)

    classify.possible_decoys = timed
    return times


def _angle(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def run_case(case: dict, times: list) -> dict:
    from airdiff import compare

    pair = case_pair(case, decoys=2)
    n0 = len(times)
    cmp = compare(pair.before, pair.after)
    truth = pair.truth
    out = {"id": case["id"], "check_s": sum(times[n0:]), "true_found": 0, "true_flagged": 0,
           "decoys": len(truth.decoys), "decoys_found": 0, "decoys_reported": 0, "decoys_flagged": 0,
           "changes_true": 0, "changes_true_flagged": 0, "azimuth_err": [], "dates_without_way": 0}

    def covers(a, t):
        return a.footprint.intersection(t.footprint).area > OVERLAP * min(a.footprint.area, t.footprint.area)

    for found, want in ((cmp.aircraft_before, truth.aircraft_before), (cmp.aircraft_after, truth.aircraft_after)):
        real = [a for a in found if any(covers(a, t) for t in want)]
        out["true_found"] += len(real)
        out["true_flagged"] += sum(bool(a.features.get("possible_decoy")) for a in real)
    out["decoys_found"] = sum(any(covers(a, d) for a in cmp.aircraft_after) for d in truth.decoys)
    changes = [c for c in cmp.changes if c.cls != "obscured"]
    for d in truth.decoys:
        hits = [c for c in changes if c.geometry.centroid.distance(d.footprint.centroid) <= TOL_M]
        out["decoys_reported"] += bool(hits)
        out["decoys_flagged"] += any(c.possible_decoy for c in hits)
    for c in changes:
        for t in truth.changes:
            g = t.before if c.cls == "disappeared" else t.after
            if g is not None and g.centroid.distance(c.geometry.centroid) <= TOL_M:
                out["changes_true"] += 1
                out["changes_true_flagged"] += c.possible_decoy
                break
    for date, az in zip(("before", "after"), cmp.shadow_azimuth_deg, strict=True):
        if az is None:
            out["dates_without_way"] += 1
        else:
            out["azimuth_err"].append(_angle(az, truth.meta[date]["sun_azimuth_deg"] + 180.0))
    return out


def run_real(real_dir: Path, quick: bool, figure: str | None):
    """Flags on the built-in detector's candidates in the real aircraft images; markdown lines."""
    from airdiff.io import read_scene
    from airdiff.objects import check_shadows, detect_aircraft
    from airdiff.objects.detect import planes

    paths = real_images(real_dir, quick)
    if not paths:
        return []
    rows, drawn = [], []
    for path in paths:
        scene = read_scene(path, gsd=REAL_GSD)
        layers = planes(scene)
        found = detect_aircraft(scene, layers=layers)
        check = check_shadows(scene, found, layers=layers)
        rows.append((path.name, len(found), check.voters, sum(check.flagged), check.azimuth_deg))
        drawn.append((path, scene, found, check.flagged))
        print(f"real {path.name}: {len(found)} candidates, {check.voters} cast shadows, "
              f"{sum(check.flagged)} flagged", file=sys.stderr)
    if figure:
        draw_found(drawn, figure)
    checked = [r for r in rows if r[2] >= 3]
    lines = ["", "## Real imagery (`../shared/imagery-real`)", "",
             f"{len(rows)} real aircraft images at about {REAL_GSD} m (RarePlanes WorldView-3 tile, UC Merced "
             f"airplane chips); the check can be made (3 or more candidates seen to cast a shadow) on "
             f"{len(checked)}. Candidates there: {sum(r[1] for r in checked)}; flagged: "
             f"{sum(r[3] for r in checked)}.", "",
             "| image | candidates | seen to cast a shadow | flagged | shadows fall towards (deg) |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {'-' if r[4] is None else f'{r[4]:.0f}'} |" for r in rows]
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer scenes")
    ap.add_argument("--real", default=str(REAL), help="folder of real imagery (default ../shared/imagery-real)")
    ap.add_argument("--real-figure", help="draw the real candidates, flagged in red, to this PNG (never commit it)")
    args = ap.parse_args()
    times = _timed_check()
    lines = ["# Possible-decoy benchmark", "",
             f"Generated by `python benchmarks/decoys.py{' --quick' if args.quick else ''}` on "
             f"{time.strftime('%Y-%m-%d')}. The detection benchmark's scenes, each with up to two flat "
             "decoys (white aircraft silhouettes, no shadow) on stands left free in AFTER; "
             "`airdiff.compare` as a user runs it. See the script's docstring for what is counted. " + libraries(), "",
             "| set | true aircraft found | of them flagged | true changes reported | of them flagged "
             "| decoys placed | found | reported | flagged | shadows' way: dates told | error median / max (deg) "
             "| check s per scene |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for split in ("development", "held-out"):
        rs = []
        for case in cases(args.quick, split):
            r = run_case(case, times)
            rs.append(r)
            print(f"{split} {case['id']}: {r}", file=sys.stderr, flush=True)

        def tot(key, rs=rs):
            return sum(r[key] for r in rs)

        errs = [e for r in rs for e in r["azimuth_err"]]
        lines.append(
            f"| {split} | {tot('true_found')} | {tot('true_flagged')} | {tot('changes_true')} "
            f"| {tot('changes_true_flagged')} | {tot('decoys')} | {tot('decoys_found')} | {tot('decoys_reported')} "
            f"| {tot('decoys_flagged')} | {len(errs)} of {2 * len(rs)} "
            f"| {np.median(errs):.0f} / {max(errs):.0f} | {np.mean([r['check_s'] for r in rs]):.2f} |")
    lines += run_real(Path(args.real), args.quick, args.real_figure)
    notes = RESULTS / "decoys-real-notes.md"
    if notes.exists():  # what a person saw on the real images, kept by hand
        lines += ["", notes.read_text().strip()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "decoys.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
