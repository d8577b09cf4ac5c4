"""Make the demo pair in imagery/demo/ with airdiff.synth (run from the repository root).

    python imagery/make_demo.py

Writes before.tif, after.tif and truth.json. Deterministic: the same airdiff version and
seed give the same pixels.
"""

from pathlib import Path

from airdiff.synth import make_pair, write_pair

SEED = 0

if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "demo"
    pair = make_pair(seed=SEED, scenario="strike", gsd=0.5, misregistration="moderate",
                     nuisances="all")
    paths = write_pair(pair, out)
    for role, p in paths.items():
        print(f"{role:>6}: {p} ({p.stat().st_size / 1e6:.2f} MB)")
