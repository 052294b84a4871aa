"""Developer script: build resources/palettes/bricks/lego.json from two LEGO colour tables.

Run once when the source data changes::

    python resources/palettes/build_lego.py ../shared/data

Sources (facts only: ids, names, colour values):

* ``palettes/lego/legocolors.csv`` (legocolors, MIT): LEGO, BrickLink and LDraw ids, names, hex;
* ``lego-reference/bricklink_colors_lar.csv`` (Lego Art Remix's BrickLink colour table): BrickLink id, name,
  display hex, and whether the colour is known as a 1x1 round stud / 1x1 square tile.

Every shipped colour is cross-checked against the second source. Within ``TOLERANCE_DE`` (CIEDE2000) the first
source's value is kept; beyond it a reviewed decision from ``REVIEWED`` is required (the script stops otherwise),
and the reason is stored in the colour's ``note``. LEGO ids that are one BrickLink colour are merged into one
entry (the order, summary and palette then agree). The second table is also written, as a small converted copy,
to ``tests/data/lego_reference.csv`` so the tests can re-check the shipped data without reading /shared.

Rebrickable colour ids: Rebrickable numbers solid colours with the LDraw colour codes, so ``ids["rebrickable"]``
is the LDraw code where the table has one (left out otherwise; the Rebrickable CSV export then says so).
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.core.color import ciede2000, srgb8_to_lab  # noqa: E402
from engine.core.medium import BRICK  # noqa: E402
from engine.core.palette import Palette, PaletteColor, parse_hex_color  # noqa: E402
from engine.core.palette_io import write_json  # noqa: E402

OUT = Path(__file__).resolve().parent / "bricks" / "lego.json"
REFERENCE_COPY = Path(__file__).resolve().parents[2] / "tests" / "data" / "lego_reference.csv"

TOLERANCE_DE = 15.0  # CIEDE2000 between the two sources above which a colour needs a reviewed decision
REVIEWED_MARK = "reviewed:"  # notes of colours beyond the tolerance start their decision with this

# BrickLink id -> (which value to ship: "second" or "first", reason). Only for colours beyond TOLERANCE_DE.
REVIEWED: dict[str, tuple[str, str]] = {
    "154": ("second", "legocolors gives #F5F3D7, a cream; BrickLink and Lego Art Remix give the lilac #B18CBF"),
    "73": ("second", "legocolors' LEGO 112/219 values are a mid blue / dark violet, BrickLink's Medium Violet "
                     "is a light blue-violet (Lego Art Remix #9391E4)"),
    "93": ("second", "legocolors' #8A12A8 is a deep purple, not BrickLink's Light Purple (Lego Art Remix #DA70D6)"),
    "227": ("second", "legocolors' #8E5597 is LEGO Reddish Lilac, darker than BrickLink's pale Clikits Lavender"),
    "24": ("first", "legocolors' Bright Violet value matches LDraw; Lego Art Remix shows a lighter display colour"),
    "28": ("first", "legocolors' Nougat value matches LEGO's published RGB; Lego Art Remix's display value is "
                    "much lighter"),
    "54": ("first", "legocolors' Sand Violet value matches LDraw; Lego Art Remix's display value is pinker"),
    "71": ("first", "legocolors' Bright Reddish Violet matches LDraw; Lego Art Remix shows a redder display value"),
    "120": ("first", "legocolors' Dark Brown #352100 matches LDraw; Lego Art Remix's #330000 is a dark red"),
    "225": ("first", "legocolors' Dark Nougat matches LDraw; Lego Art Remix's display value is an orange"),
}

# Colours only the second source lists that are worth shipping: BrickLink id -> (LEGO id, LDraw/Rebrickable id).
ADD_FROM_SECOND = {"220": ("353", "353")}  # Coral: in LEGO Art sets (1x1 tiles)


def _de(a: str, b: str) -> float:
    la = srgb8_to_lab(np.array([parse_hex_color(a)], dtype=np.uint8))
    lb = srgb8_to_lab(np.array([parse_hex_color(b)], dtype=np.uint8))
    return float(ciede2000(la, lb)[0])


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes")


def read_reference(path: Path) -> dict[str, dict]:
    """The second source by BrickLink id: name, hex, round, tile."""
    out = {}
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[row["bl_id"]] = {"name": row["name"], "hex": row["hex"].upper(),
                                 "round": _truthy(row["known_as_1x1_round_stud"]),
                                 "tile": _truthy(row["known_as_1x1_square_tile"])}
    return out


def parts_of(ref: dict) -> tuple[str, ...]:
    """Piece kinds a colour is made in: square plates for every solid colour, tiles and round studs as known."""
    return ("plate",) + (("tile",) if ref["tile"] else ()) + (("round",) if ref["round"] else ())


def build(src: Path) -> Palette:
    """Read both tables, cross-check, merge by BrickLink id and return the palette."""
    ref = read_reference(src / "lego-reference" / "bricklink_colors_lar.csv")
    groups: dict[str, list[dict]] = {}
    with open(src / "palettes" / "lego" / "legocolors.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["material"] != "solid" or not row["bl_id"] or not row["hex"]:
                continue
            groups.setdefault(row["bl_id"], []).append(row)
    colors = []
    problems = []
    for bl, rows in groups.items():
        if bl not in ref:
            problems.append(f"BrickLink {bl} ({rows[0]['bl_name']}) is not in the second source")
            continue
        r = ref[bl]
        rows = sorted(rows, key=lambda row: (bool(row["year_retired"].strip()), int(row["lego_id"])))
        main = rows[0]
        if main["bl_name"] != r["name"]:
            problems.append(f"BrickLink {bl}: name {main['bl_name']!r} vs {r['name']!r}")
        de = max(_de(row["hex"], r["hex"]) for row in rows)
        notes = []
        if de > TOLERANCE_DE:
            if bl not in REVIEWED:
                problems.append(f"BrickLink {bl} ({r['name']}): ΔE {de:.1f} to the second source, no decision")
                continue
            which, why = REVIEWED[bl]
            hex_ = r["hex"] if which == "second" else main["hex"].upper()
            src_name = "Lego Art Remix" if which == "second" else "legocolors"
            notes.append(f"{REVIEWED_MARK} hex from {src_name} (sources differ by ΔE {de:.1f}): {why}")
        else:
            hex_ = main["hex"].upper()
            notes.append(f"hex from legocolors; agrees with Lego Art Remix within ΔE {de:.1f}")
        ids = {"lego": main["lego_id"], "bricklink": bl, "ldraw": main["ldraw_id"], "lego_name": main["lego_name"]}
        if main["ldraw_id"]:
            ids["rebrickable"] = main["ldraw_id"]
        if len(rows) > 1:
            others = [row["lego_id"] for row in rows[1:]]
            ids["lego_merged"] = ",".join(others)
            notes.append(f"LEGO ids {', '.join([main['lego_id']] + others)} are one BrickLink colour ({bl}); merged")
        notes.append("parts from Lego Art Remix (plates: all solid colours)")
        retired = all(row["year_retired"].strip() for row in rows)
        colors.append(PaletteColor(main["lego_id"], r["name"], parse_hex_color(hex_), None, ids, retired=retired,
                                   parts=parts_of(r), note="; ".join(notes)))
    for bl, (lego_id, ldraw) in ADD_FROM_SECOND.items():
        r = ref[bl]
        colors.append(PaletteColor(lego_id, r["name"], parse_hex_color(r["hex"]), None,
                                   {"lego": lego_id, "bricklink": bl, "ldraw": ldraw, "rebrickable": ldraw},
                                   parts=parts_of(r),
                                   note="hex from Lego Art Remix only (not in legocolors); "
                                        "parts from Lego Art Remix (plates: all solid colours)"))
    if problems:
        raise SystemExit("cannot build the LEGO palette:\n  " + "\n  ".join(problems))
    colors.sort(key=lambda c: int(c.ids["bricklink"]))
    return Palette("LEGO solid colours", tuple(colors), BRICK, "lego", "bricks",
                   "legocolors by Matthew Leonawicz (MIT), cross-checked against Lego Art Remix's BrickLink colour "
                   "table; BrickLink, LDraw and Rebrickable colour ids", "bricks/LICENSE")


def write_reference_copy(src: Path) -> None:
    """The second source as a small table for the tests (bl_id, name, hex, round, tile)."""
    ref = read_reference(src / "lego-reference" / "bricklink_colors_lar.csv")
    lines = ["bl_id,name,hex,round,tile"]
    for bl, r in sorted(ref.items(), key=lambda kv: int(kv[0])):
        lines.append(f"{bl},{r['name']},{r['hex']},{int(r['round'])},{int(r['tile'])}")
    REFERENCE_COPY.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    OUT.parent.mkdir(exist_ok=True)
    shutil.copy(source / "palettes" / "lego" / "LICENSE", OUT.parent / "LICENSE")
    write_json(build(source), OUT)
    write_reference_copy(source)
    print("wrote", OUT, "and", REFERENCE_COPY)
