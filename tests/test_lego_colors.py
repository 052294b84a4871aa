"""Shipped LEGO colours: cross-checked against the second source, merged by BrickLink id, parts per piece."""

from __future__ import annotations

import csv
import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from engine.core.color import ciede2000, srgb8_to_lab
from engine.core.palette import parse_hex_color
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern
from exporters.bricks.mosaic import BrickOptions, bricklink_xml_text, lego_colors_for_piece, plan_parts

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "lego_reference.csv"


def _build_module():
    spec = importlib.util.spec_from_file_location("build_lego", ROOT / "resources" / "palettes" / "build_lego.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _reference() -> dict[str, dict]:
    with open(REFERENCE, encoding="utf-8") as fh:
        return {r["bl_id"]: r for r in csv.DictReader(fh)}


def _de(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = (srgb8_to_lab(np.array([v], dtype=np.uint8)) for v in (a, b))
    return float(ciede2000(la, lb)[0])


def test_every_shipped_colour_agrees_with_the_second_source_or_says_why():
    build = _build_module()
    ref = _reference()
    lego = load_palette("lego", include_retired=True)
    assert len(ref) == 88 and len(lego) > 70
    unexplained = []
    for c in lego:
        bl = c.ids["bricklink"]
        assert bl in ref, f"{c.name}: BrickLink {bl} unknown to the second source"
        r = ref[bl]
        assert c.name == r["name"], f"BrickLink {bl}: {c.name!r} vs {r['name']!r}"
        assert c.note, f"{c.name}: no recorded source"
        de = _de(c.rgb, parse_hex_color(r["hex"]))
        if de > build.TOLERANCE_DE and not c.note.startswith(build.REVIEWED_MARK):
            unexplained.append(f"{c.name} ΔE {de:.1f}")
    assert not unexplained, unexplained


def test_known_wrong_values_are_fixed():
    lego = load_palette("lego")
    by_bl = {c.ids["bricklink"]: c for c in lego}
    assert by_bl["154"].hex == "#B18CBF" and by_bl["154"].name == "Lavender"  # was a cream #F5F3D7
    assert _de(by_bl["73"].rgb, parse_hex_color("#9391E4")) < 3  # Medium Violet was ΔE 21 off
    assert by_bl["5"].ids["rebrickable"] == "4"  # Red: 5 on BrickLink, 4 on Rebrickable


def test_one_entry_per_bricklink_colour():
    lego = load_palette("lego", include_retired=True)
    bls = [c.ids["bricklink"] for c in lego]
    assert len(bls) == len(set(bls))
    pinks = [c for c in lego if c.name == "Dark Pink"]
    assert len(pinks) == 1 and set(pinks[0].ids["lego_merged"].split(",")) | {pinks[0].code} == {"22", "221"}


def test_parts_follow_the_second_source():
    ref = _reference()
    lego = load_palette("lego", include_retired=True)
    for c in lego:
        r = ref[c.ids["bricklink"]]
        assert "plate" in c.parts
        assert ("tile" in c.parts) == (r["tile"] == "1")
        assert ("round" in c.parts) == (r["round"] == "1")
    rounds = lego_colors_for_piece("round-plate")
    assert "Lavender" not in {c.name for c in rounds} and "Black" in {c.name for c in rounds}


def test_lavender_and_dark_pink_in_the_order():
    lego = load_palette("lego")
    lav, pink = lego.index_of("325"), lego.index_of("22")
    idx = np.full((4, 8), lav)
    idx[:, 4:] = pink
    p = Pattern(idx, lego)
    root = ET.fromstring(bricklink_xml_text(plan_parts(p, BrickOptions(piece="plate", section=8))))
    colours = sorted(item.findtext("COLOR") for item in root.iter("ITEM") if item.findtext("ITEMID") == "3024")
    assert colours == ["154", "47"]


def test_colour_not_made_in_the_piece_is_replaced_and_said():
    lego = load_palette("lego")
    lav = lego.index_of("325")  # Lavender: known as 1x1 tile, not as round stud
    p = Pattern(np.full((4, 4), lav), lego)
    plan = plan_parts(p, BrickOptions(piece="round-plate", section=8))
    assert [c.bricklink_id for c in plan.colors] != ["154"]
    assert "round" in lego_colors_for_piece("round-plate")[0].parts
    assert any("Lavender (BrickLink 154) is not made as 1x1 round" in n for n in plan.notes)
    assert "Lavender" in plan.summary()
    tiles = plan_parts(p, BrickOptions(piece="tile", section=8))
    assert [c.bricklink_id for c in tiles.colors] == ["154"] and not tiles.notes


def test_design_made_with_the_old_lavender_is_flagged():
    from engine.core.palette import Palette, PaletteColor

    old = Palette("old lego", (PaletteColor("325", "Lavender", (0xF5, 0xF3, 0xD7), ids={"bricklink": "154"}),))
    plan = plan_parts(Pattern(np.zeros((2, 2), dtype=int), old), BrickOptions(piece="plate", section=8))
    assert plan.colors[0].rgb == parse_hex_color("#B18CBF")
    assert any("#F5F3D7" in n and "convert the picture again" in n for n in plan.notes)


def test_parts_csv_says_which_colour_was_replaced(tmp_path):
    from exporters.bricks.mosaic import export_parts_csv

    lego = load_palette("lego")
    p = Pattern(np.full((4, 4), lego.index_of("325")), lego)
    out = export_parts_csv(p, tmp_path / "p.csv", BrickOptions(piece="round-tile", section=8, base="none"))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 1 and rows[0]["part id"] == "98138" and rows[0]["BrickLink colour id"] != "154"
    assert rows[0]["note"].startswith("replaces Lavender (BrickLink 154, not made as 1x1 round plates/tiles)")


def test_old_design_with_both_dark_pinks_orders_one_line():
    from engine.core.palette import Palette, PaletteColor

    old = Palette("old lego", (PaletteColor("22", "Dark Pink", (0xD0, 0x50, 0x98), ids={"bricklink": "47"}),
                               PaletteColor("221", "Dark Pink", (0xC8, 0x50, 0x9B), ids={"bricklink": "47"})))
    idx = np.zeros((4, 8), dtype=int)
    idx[:, 4:] = 1
    plan = plan_parts(Pattern(idx, old), BrickOptions(piece="plate", section=8, base="none"))
    assert [c.bricklink_id for c in plan.colors] == ["47"] and "1 colours" in plan.summary()
    root = ET.fromstring(bricklink_xml_text(plan))
    assert [(it.findtext("COLOR"), it.findtext("MINQTY")) for it in root.iter("ITEM")] == [("47", "35")]  # +3 spares


REBRICKABLE = ROOT / "tests" / "data" / "rebrickable_colors.csv"  # Rebrickable's colour table, converted


def _rebrickable() -> dict[str, dict]:
    with open(REBRICKABLE, encoding="utf-8") as fh:
        return {r["id"]: r for r in csv.DictReader(fh)}


def test_every_rebrickable_id_is_in_rebrickables_table_near_our_colour_or_says_why():
    build = _build_module()
    table = _rebrickable()
    lego = load_palette("lego", include_retired=True)
    assert len(table) > 100
    problems = []
    for c in lego:
        rid, note = c.ids.get("rebrickable"), c.ids.get("rebrickable_note", "")
        reviewed = note.startswith(build.REVIEWED_MARK)
        if not rid:
            if not (reviewed and "no Rebrickable id" in note):
                problems.append(f"{c.name}: no Rebrickable id and no reason")
            continue
        row = table.get(rid)
        if row is None or row["trans"] != "0":
            problems.append(f"{c.name}: Rebrickable {rid} is not a solid colour in Rebrickable's table")
            continue
        assert (c.ids["rebrickable_name"], c.ids["rebrickable_hex"]) == (row["name"], row["hex"]), c.name
        if row["name"].lower() not in {c.name.lower(), c.ids.get("lego_name", "").lower()} and not reviewed:
            problems.append(f"{c.name}: Rebrickable {rid} is {row['name']!r}, no reason recorded")
        de = _de(c.rgb, parse_hex_color(row["hex"]))
        if de > build.REBRICKABLE_TOLERANCE_DE and not (reviewed and f"ΔE {de:.1f}" in note):
            problems.append(f"{c.name}: Rebrickable {rid} {row['name']!r} is ΔE {de:.1f} away, no reason recorded")
    assert not problems, problems


def test_no_two_colours_share_a_rebrickable_id():
    lego = load_palette("lego", include_retired=True)
    ids = [c.ids["rebrickable"] for c in lego if c.ids.get("rebrickable")]
    assert len(ids) == len(set(ids))


def test_rebrickable_ids_that_were_ldraw_codes_are_fixed(tmp_path):
    from exporters.bricks.mosaic import export_rebrickable_csv

    lego = load_palette("lego")
    by_name = {c.name: c for c in lego}
    assert by_name["Coral"].ids["rebrickable"] == "1050"  # LDraw 353
    assert by_name["Olive Green"].ids["rebrickable"] == "326"  # LDraw 330
    assert by_name["Yellowish Green"].ids["rebrickable"] == "158"  # 326 is Olive Green on Rebrickable
    idx = np.zeros((2, 6), dtype=int)
    idx[:, 2:4], idx[:, 4:] = 1, 2
    names = ["Coral", "Olive Green", "Yellowish Green"]
    p = Pattern(idx, lego.subset([lego.index_of(by_name[n].code) for n in names]))
    out = export_rebrickable_csv(p, tmp_path / "rb.csv", BrickOptions(piece="tile", section=8, base="none",
                                                                       spares_1x1=False))
    rows = {r["Color"]: int(r["Quantity"]) for r in csv.DictReader(out.open(encoding="utf-8"))}
    table = _rebrickable()
    assert {table[k]["name"]: n for k, n in rows.items()} == {"Coral": 4, "Olive Green": 4, "Yellowish Green": 4}
