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

Rebrickable colour ids come from a third source, ``lego-reference/rebrickable_colors.csv`` (Rebrickable's own
colour table). Rebrickable's ids equal LDraw's for old colours but not for newer ones (Coral is 1050 there, 353 in
LDraw; Olive Green 326 there, 330 in LDraw, and Rebrickable's 158 is Yellowish Green). Each colour's candidate is
``REBRICKABLE[bl]`` when reviewed, else its LDraw code; the script stops unless the candidate is in Rebrickable's
table under the BrickLink or LEGO name and within ``REBRICKABLE_TOLERANCE_DE`` of the shipped value, or a reviewed
reason says why not. The id, Rebrickable's name and value, and the reason are stored in the colour's ``ids``
(``rebrickable``, ``rebrickable_name``, ``rebrickable_hex``, ``rebrickable_note``). Rebrickable's table is also
written, converted, to ``tests/data/rebrickable_colors.csv`` for the tests.

Where legocolors disagrees with both other sources and they agree with each other (``THIRD_SOURCE_DE``), the
second source's value is shipped (two of three sources agree), with the reason in the note.
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
REBRICKABLE_COPY = Path(__file__).resolve().parents[2] / "tests" / "data" / "rebrickable_colors.csv"

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

THIRD_SOURCE_DE = 10.0  # second and third source agree within this, and legocolors is further than it from both
REBRICKABLE_TOLERANCE_DE = 10.0  # CIEDE2000 from the shipped value above which a Rebrickable id needs a reason

# BrickLink id -> (Rebrickable id, or "" for none, reason): every colour whose Rebrickable id is not its LDraw code
# under the same name. Checked against Rebrickable's table (id, name, years) by hand.
REBRICKABLE: dict[str, tuple[str, str]] = {
    "32": ("125", "Rebrickable 125 'Light Orange' (1998-2004, as LEGO 121); legocolors has no LDraw code"),
    "73": ("112", "Rebrickable 112 is LEGO 112 'Medium Bluish Violet', the main LEGO colour of BrickLink 73 "
                  "(Rebrickable 1001 'Medium Violet' is a separate Rebrickable colour of 11 parts); Rebrickable "
                  "shows LDraw's darker value, we ship BrickLink's"),
    "91": ("86", "Rebrickable 86 'Light Brown' (2002-2006) is LEGO 217 Brown, BrickLink's Medium Brown; "
                 "Rebrickable 1088 'Medium Brown' is LEGO's 2022 colour of that name"),
    "97": ("89", "Rebrickable 89 'Royal Blue' (2004-2005) is LEGO 195 Royal Blue, BrickLink's Blue-Violet"),
    "155": ("326", "Rebrickable numbers Olive Green 326; LDraw's 330 is no Rebrickable colour"),
    "158": ("158", "Rebrickable numbers Yellowish Green 158; LDraw's 326 is Rebrickable's Olive Green"),
    "160": ("", "Fabuland Orange (LEGO 19, 1987) is not in Rebrickable's colour table"),
    "161": ("1066", "Rebrickable 1066 'Curry' is LEGO 180 Curry, BrickLink's Dark Yellow (same value)"),
    "165": ("1140", "Rebrickable 1140 'Neon Orange'; no LDraw code"),
    "166": ("1141", "Rebrickable 1141 'Neon Green'; no LDraw code"),
    "220": ("1050", "Rebrickable numbers Coral 1050; 353 is LDraw's code"),
    "225": ("1067", "Rebrickable 1067 'Dark Nougat'; no LDraw code"),
    "227": ("", "BrickLink's Clikits Lavender has no Rebrickable colour in its table (Rebrickable 1007 'Reddish "
                "Lilac' is LEGO 218, far darker than the shipped BrickLink value)"),
}
# BrickLink id -> why the Rebrickable id is right although Rebrickable's display value is far from ours.
REBRICKABLE_FAR: dict[str, str] = {
    "10": "same colour by name, LDraw code and years; the display values of old Dark Gray differ between sources",
    "31": "same colour by name and LDraw code; Rebrickable shows a yellower orange than legocolors",
    "48": "same colour by name and LDraw code; Rebrickable shows Sand Green lighter",
    "58": "same colour by name and LDraw code; Rebrickable's Sand Red is much pinker than BrickLink's",
    "73": "see the id decision: Rebrickable shows LDraw's darker Medium Bluish Violet",
    "93": "same colour by name and LDraw code; Rebrickable shows Light Purple pinker",
    "220": "same colour by name (LEGO Vibrant Coral); Rebrickable shows Coral pinker than BrickLink's",
    "152": "same colour by name and LDraw code; Rebrickable shows Light Aqua greyer",
    "154": "same colour by name and LDraw code; Rebrickable (LDraw) shows Lavender paler than BrickLink",
}

# Colours only the second source lists that are worth shipping: BrickLink id -> (LEGO id, LDraw/Rebrickable id).
ADD_FROM_SECOND = {"220": ("353", "353")}  # Coral (LEGO id, LDraw code): in LEGO Art sets (1x1 tiles)


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


def read_rebrickable(path: Path) -> dict[str, dict]:
    """Rebrickable's colour table by Rebrickable id: name, hex, transparent."""
    with open(path, encoding="utf-8") as fh:
        return {row["id"]: {"name": row["name"], "hex": "#" + row["rgb"].upper(), "trans": _truthy(row["is_trans"])}
                for row in csv.DictReader(fh)}


def rebrickable_ids(bl: str, names: set[str], ldraw: str, hex_: str, table: dict[str, dict],
                    problems: list[str]) -> dict[str, str]:
    """The ``ids`` entries for Rebrickable: id, its name and value there, and the reviewed reason if any."""
    reviewed = REBRICKABLE.get(bl)
    rid = reviewed[0] if reviewed else ldraw
    if not rid:
        if reviewed:
            return {"rebrickable_note": f"{REVIEWED_MARK} no Rebrickable id: {reviewed[1]}"}
        problems.append(f"BrickLink {bl}: no LDraw code and no reviewed Rebrickable id")
        return {}
    row = table.get(rid)
    if row is None or row["trans"]:
        problems.append(f"BrickLink {bl}: Rebrickable id {rid} is not a solid colour in Rebrickable's table")
        return {}
    if row["name"].lower() not in names and not reviewed:
        problems.append(f"BrickLink {bl} ({sorted(names)}): Rebrickable {rid} is {row['name']!r}, no decision")
    de = _de(hex_, row["hex"])
    notes = [reviewed[1]] if reviewed else []
    if de > REBRICKABLE_TOLERANCE_DE:
        if bl not in REBRICKABLE_FAR:
            problems.append(f"BrickLink {bl}: Rebrickable {rid} {row['name']!r} is ΔE {de:.1f} away, no decision")
        else:
            notes.append(f"ΔE {de:.1f}: {REBRICKABLE_FAR[bl]}")
    out = {"rebrickable": rid, "rebrickable_name": row["name"], "rebrickable_hex": row["hex"]}
    if notes:
        out["rebrickable_note"] = f"{REVIEWED_MARK} " + "; ".join(notes)
    return out


def build(src: Path) -> Palette:
    """Read the three tables, cross-check, merge by BrickLink id and return the palette."""
    ref = read_reference(src / "lego-reference" / "bricklink_colors_lar.csv")
    rb = read_rebrickable(src / "lego-reference" / "rebrickable_colors.csv")
    groups: dict[str, list[dict]] = {}
    with open(src / "palettes" / "lego" / "legocolors.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["material"] != "solid" or not row["bl_id"] or not row["hex"]:
                continue
            groups.setdefault(row["bl_id"], []).append(row)
    colors = []
    problems: list[str] = []
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
        third = rb.get(REBRICKABLE.get(bl, (main["ldraw_id"],))[0] or "")
        notes = []
        if de > TOLERANCE_DE:
            if bl not in REVIEWED:
                problems.append(f"BrickLink {bl} ({r['name']}): ΔE {de:.1f} to the second source, no decision")
                continue
            which, why = REVIEWED[bl]
            hex_ = r["hex"] if which == "second" else main["hex"].upper()
            src_name = "Lego Art Remix" if which == "second" else "legocolors"
            notes.append(f"{REVIEWED_MARK} hex from {src_name} (sources differ by ΔE {de:.1f}): {why}")
        elif (third is not None and de > THIRD_SOURCE_DE and _de(r["hex"], third["hex"]) <= THIRD_SOURCE_DE
              and _de(main["hex"], third["hex"]) > THIRD_SOURCE_DE):
            hex_ = r["hex"]
            notes.append(f"hex from Lego Art Remix: legocolors' {main['hex'].upper()} is ΔE {de:.1f} from it and "
                         f"ΔE {_de(main['hex'], third['hex']):.1f} from Rebrickable's {third['hex']}, which agree "
                         f"within ΔE {_de(r['hex'], third['hex']):.1f}")
        else:
            hex_ = main["hex"].upper()
            notes.append(f"hex from legocolors; agrees with Lego Art Remix within ΔE {de:.1f}")
        ids = {"lego": main["lego_id"], "bricklink": bl, "ldraw": main["ldraw_id"], "lego_name": main["lego_name"]}
        names = {r["name"].lower(), main["lego_name"].lower(), main["bl_name"].lower()}
        ids.update(rebrickable_ids(bl, names, main["ldraw_id"], hex_, rb, problems))
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
        ids = {"lego": lego_id, "bricklink": bl, "ldraw": ldraw}
        ids.update(rebrickable_ids(bl, {r["name"].lower()}, ldraw, r["hex"], rb, problems))
        colors.append(PaletteColor(lego_id, r["name"], parse_hex_color(r["hex"]), None, ids, parts=parts_of(r),
                                   note="hex from Lego Art Remix only (not in legocolors); "
                                        "parts from Lego Art Remix (plates: all solid colours)"))
    notes_of = {c.ids["bricklink"]: c.ids.get("rebrickable_note", "") for c in colors}
    problems += [f"REBRICKABLE_FAR[{bl!r}] is not needed any more: remove it" for bl, why in REBRICKABLE_FAR.items()
                 if why not in notes_of.get(bl, "")]
    if problems:
        raise SystemExit("cannot build the LEGO palette:\n  " + "\n  ".join(problems))
    colors.sort(key=lambda c: int(c.ids["bricklink"]))
    return Palette("LEGO solid colours", tuple(colors), BRICK, "lego", "bricks",
                   "legocolors by Matthew Leonawicz (MIT), cross-checked against Lego Art Remix's BrickLink colour "
                   "table and Rebrickable's colour table; BrickLink, LDraw and Rebrickable colour ids",
                   "bricks/LICENSE")


def write_reference_copy(src: Path) -> None:
    """The second and third sources as small tables for the tests: BrickLink (bl_id, name, hex, round, tile) and
    Rebrickable (id, name, hex, trans)."""
    ref = read_reference(src / "lego-reference" / "bricklink_colors_lar.csv")
    lines = ["bl_id,name,hex,round,tile"]
    for bl, r in sorted(ref.items(), key=lambda kv: int(kv[0])):
        lines.append(f"{bl},{r['name']},{r['hex']},{int(r['round'])},{int(r['tile'])}")
    REFERENCE_COPY.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rb = read_rebrickable(src / "lego-reference" / "rebrickable_colors.csv")
    with open(REBRICKABLE_COPY, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["id", "name", "hex", "trans"])
        for rid, row in sorted(rb.items(), key=lambda kv: int(kv[0])):
            out.writerow([rid, row["name"], row["hex"], int(row["trans"])])


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    OUT.parent.mkdir(exist_ok=True)
    shutil.copy(source / "palettes" / "lego" / "LICENSE", OUT.parent / "LICENSE")
    write_json(build(source), OUT)
    write_reference_copy(source)
    print("wrote", OUT, REFERENCE_COPY, "and", REBRICKABLE_COPY)
