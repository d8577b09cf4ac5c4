"""Make the demo pair in imagery/demo/ with airdiff.synth (run from the repository root).

    python imagery/make_demo.py

Writes before.tif, after.tif (tiled JPEG-in-TIFF, YCbCr) and truth.json. Deterministic: the
same airdiff version and seed give the same pixels. See imagery/README.md for what is planted.
"""

import logging
from collections import Counter
from pathlib import Path

from airdiff.synth import make_pair, write_pair

SEED = 0
PARAMS = {"scenario": "strike", "gsd": 0.5, "misregistration": "moderate", "nuisances": "all"}

log = logging.getLogger("make_demo")

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(__file__).resolve().parent / "demo"
    pair = make_pair(seed=SEED, **PARAMS)
    paths = write_pair(pair, out)
    for role, p in paths.items():
        log.info("%6s: %s (%.2f MB)", role, p, p.stat().st_size / 1e6)
    t = pair.truth
    log.info("changes: %s; on the runway: %d", dict(Counter(c.cls for c in t.changes)),
             sum(c.surface == "runway" for c in t.changes))
    log.info("distortion: %s", t.distortion.to_dict())
    log.info("before: %s", t.meta["before"])
    log.info("after:  %s", t.meta["after"])
