"""Merged plates/tiles: our cover vs greedy largest-first (Lego Art Remix's algorithm), honestly measured.

    python benchmarks/brick_cover.py [--quick] [--images astronaut,chelsea,coffee]

For every mosaic size (48, 96, 144 studs), section size (8, 16, 32 studs) and piece family (plates, tiles - all
sizes of the fabrication facts), the sample photos are converted with the LEGO palette and every same-colour area
of every section is covered twice: by ``greedy_cover`` (part sizes largest first, each placed wherever it fits in
reading order) and by ``optimal_cover`` (ours). Parts never cross a section boundary in either. Prints one row
per case with the summed part counts, the ratio ours / greedy and both cold times (cover cache cleared). Goal:
fewer parts than greedy in every row. A third family repeats the tiles with the five sizes used before
(1x1, 1x2, 1x3, 1x4, 2x2) to show what the added tile sizes save. Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.export_speed import cover_counts as count  # noqa: E402
from benchmarks.export_speed import photo  # noqa: E402
from exporters.bricks.mosaic import PIECE_PARTS  # noqa: E402

# The five tile sizes merged tiles used before all sizes of the fabrication facts were added (for comparison).
OLD_TILE_SIZES = [(1, 1), (1, 2), (1, 3), (1, 4), (2, 2)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="48 and 96 studs only")
    ap.add_argument("--images", default="astronaut,chelsea,coffee")
    args = ap.parse_args()
    images = [s.strip() for s in args.images.split(",") if s.strip()]
    sizes = (48, 96) if args.quick else (48, 96, 144)
    families = {"plates": [(p.w, p.h) for p in PIECE_PARTS["merged-plate"]],
                "tiles": [(p.w, p.h) for p in PIECE_PARTS["merged-tile"]],
                "tiles, 5 sizes (before)": OLD_TILE_SIZES}
    print(f"images: {', '.join(images)}; parts summed over the images")
    print("| pieces | studs | section | greedy parts | our parts | ours / greedy | fewer | greedy s | ours s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    worst = 0.0
    for size in sizes:
        patterns = [photo(name, "lego", size) for name in images]
        for fam, shapes in families.items():
            for section in (8, 16, 32):
                o = g = 0
                to = tg = 0.0
                for pat in patterns:
                    a, b, ta, tb = count(pat, shapes, section)
                    o, g, to, tg = o + a, g + b, to + ta, tg + tb
                ratio = o / g
                worst = max(worst, ratio)
                print(f"| {fam} | {size} | {section} | {g:,} | {o:,} | {ratio:.3f} | {100 * (1 - ratio):.1f} % | "
                      f"{tg:.2f} | {to:.2f} |", flush=True)
    print(f"worst row: ours / greedy = {worst:.3f} ({'goal met' if worst < 1 else 'goal NOT met'}: fewer parts "
          "than greedy in every row)")


if __name__ == "__main__":
    main()
