"""Brick mosaic: parts plan, merged cover vs greedy baseline, CSV, BrickLink XML and build PDF read back."""

from __future__ import annotations

import csv
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from engine.core.atomic import OutputPathError
from engine.core.color import nearest_palette_index, srgb8_to_lab
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern
from exporters.bricks.cover import Rect, check_cover, greedy_cover, optimal_cover
from exporters.bricks.mosaic import (
    PIECE_PARTS,
    BrickOptions,
    export_bricklink_xml,
    export_build_pdf,
    export_parts_csv,
    plan_parts,
)
from exporters.common.errors import ExportError

ROOT = Path(__file__).resolve().parents[1]
PLATE_SIZES = [(p.w, p.h) for p in PIECE_PARTS["merged-plate"]]
TILE_SIZES = [(p.w, p.h) for p in PIECE_PARTS["merged-tile"]]


def photo_pattern(palette_key: str, w: int, h: int, name: str = "astronaut") -> Pattern:
    pal = load_palette(palette_key)
    img = Image.open(ROOT / "resources" / "samples" / f"{name}.jpg").convert("RGB").resize((w, h), Image.LANCZOS)
    idx = nearest_palette_index(srgb8_to_lab(np.asarray(img).reshape(-1, 3)), pal.lab).reshape(h, w)
    return Pattern(idx, pal)


def assert_plan_exact(plan, pattern: Pattern) -> None:
    """Every filled stud covered once, by a part of its own colour, inside one section."""
    hits = np.zeros(pattern.shape, dtype=int)
    for part in plan.parts:
        assert part.x // plan.section == (part.x + part.w - 1) // plan.section
        assert part.y // plan.section == (part.y + part.h - 1) // plan.section
        block = plan.stud_color[part.y:part.y + part.h, part.x:part.x + part.w]
        assert block.shape == (part.h, part.w)
        assert (block == part.color).all()
        hits[part.y:part.y + part.h, part.x:part.x + part.w] += 1
    assert (hits == (~pattern.empty_mask).astype(int)).all()


def test_plain_plates_one_part_per_stud():
    p = photo_pattern("lego", 20, 18)
    p.set_cell(0, 0, None)
    plan = plan_parts(p, BrickOptions(piece="plate", section=8))
    assert plan.part_count == p.filled_cells == 359
    assert {part.part_id for part in plan.parts} == {"3024"}
    assert_plan_exact(plan, p)
    assert sum(t.quantity for t in plan.totals) == 359


@pytest.mark.parametrize("piece, part_id", [("tile", "3070b"), ("round-plate", "4073"), ("round-tile", "98138"),
                                            ("brick", "3005")])
def test_pixel_piece_ids(piece, part_id):
    plan = plan_parts(photo_pattern("lego", 8, 8), BrickOptions(piece=piece))
    assert {t.part_id for t in plan.totals} == {part_id}


@pytest.mark.parametrize("section", [8, 16])
def test_merged_plates_exact_and_within_sections(section):
    p = photo_pattern("lego", 40, 24, "coffee")
    p.set_cell(5, 5, None)
    plan = plan_parts(p, BrickOptions(piece="merged-plate", section=section))
    assert_plan_exact(plan, p)
    assert plan.part_count < p.filled_cells
    assert plan.greedy_count is not None and plan.part_count <= plan.greedy_count
    assert plan.saved_vs_1x1 == p.filled_cells - plan.part_count
    assert "saves" in plan.summary()


def test_merged_tiles_use_only_tile_sizes():
    p = photo_pattern("lego", 32, 32, "chelsea")
    plan = plan_parts(p, BrickOptions(piece="merged-tile"))
    assert_plan_exact(plan, p)
    sizes = {(min(q.w, q.h), max(q.w, q.h)) for q in plan.parts}
    # all tile sizes of the fabrication facts (1x6, 1x8, 2x3, 2x4, 2x6 added): no other sizes, several used
    assert sizes <= {(1, 1), (1, 2), (1, 3), (1, 4), (1, 6), (1, 8), (2, 2), (2, 3), (2, 4), (2, 6)}
    assert len(sizes) > 5
    ids = {q.part_id for q in plan.parts}
    assert {"6636", "4162", "26603", "87079", "69729"} & ids


def test_cover_handles_shapes_exactly():
    mask = np.zeros((9, 11), dtype=bool)
    mask[0:4, 0:4] = True  # a 4x4 plate
    mask[5, 0:8] = True  # a 1x8 strip
    mask[6:9, 9:11] = True  # 2x3 vertical
    mask[7, 4] = True  # a lone stud
    rects = optimal_cover(mask, PLATE_SIZES)
    check_cover(mask, rects)
    assert len(rects) == 4
    assert sorted((r.w, r.h) for r in rects) == [(1, 1), (2, 3), (4, 4), (8, 1)]
    with pytest.raises(ValueError):
        check_cover(mask, rects[1:])
    with pytest.raises(ValueError):
        check_cover(mask, rects + [Rect(0, 0, 1, 1)])


def brute_force_min_parts(mask: np.ndarray, sizes) -> int:
    """Independent exhaustive minimum (memoised on the uncovered set), for small masks only."""
    from functools import lru_cache

    shapes = {(w, h) for w, h in sizes} | {(h, w) for w, h in sizes}
    h_, w_ = mask.shape

    @lru_cache(maxsize=None)
    def best(left: frozenset) -> int:
        if not left:
            return 0
        y, x = min(left)
        out = 10 ** 9
        for sw, sh in shapes:
            cells = {(y + dy, x + dx) for dy in range(sh) for dx in range(sw)}
            if cells <= left:
                out = min(out, 1 + best(left - cells))
        return out

    return best(frozenset((int(y), int(x)) for y, x in zip(*np.nonzero(mask))))


def test_cover_beats_greedy_on_a_known_trap():
    mask = np.array([[1, 1, 1, 1, 1, 0],
                     [1, 1, 1, 1, 1, 0],
                     [1, 1, 0, 1, 1, 1],
                     [1, 0, 1, 1, 1, 0],
                     [1, 1, 0, 0, 0, 1]], dtype=bool)
    g = greedy_cover(mask, PLATE_SIZES)
    o = optimal_cover(mask, PLATE_SIZES)
    check_cover(mask, g)
    check_cover(mask, o)
    assert len(o) == brute_force_min_parts(mask, PLATE_SIZES)
    assert len(o) < len(g)


def test_cover_is_optimal_on_random_small_masks():
    rng = np.random.default_rng(7)
    for _ in range(25):
        mask = rng.random((4, 5)) < 0.75
        o = optimal_cover(mask, TILE_SIZES)
        check_cover(mask, o)
        assert len(o) == brute_force_min_parts(mask, TILE_SIZES)


@pytest.mark.parametrize("sizes", [PLATE_SIZES, TILE_SIZES])
def test_ours_never_worse_than_greedy_and_better_on_photos(sizes):
    lego = load_palette("lego")
    wins = 0
    ours_total = greedy_total = 0
    for name in ("astronaut", "chelsea", "coffee"):
        img = Image.open(ROOT / "resources" / "samples" / f"{name}.jpg").convert("RGB").resize((32, 32))
        idx = nearest_palette_index(srgb8_to_lab(np.asarray(img).reshape(-1, 3)), lego.lab).reshape(32, 32)
        ours = greedy = 0
        for sy in range(0, 32, 16):
            for sx in range(0, 32, 16):
                block = idx[sy:sy + 16, sx:sx + 16]
                for k in np.unique(block):
                    mask = block == k
                    o, g = optimal_cover(mask, sizes), greedy_cover(mask, sizes)
                    check_cover(mask, o)
                    check_cover(mask, g)
                    assert len(o) <= len(g)
                    ours += len(o)
                    greedy += len(g)
        wins += ours < greedy
        ours_total += ours
        greedy_total += greedy
    assert wins >= 1
    assert ours_total < greedy_total


def test_parts_csv_and_bricklink_xml_add_up(tmp_path):
    p = photo_pattern("lego", 24, 20)
    p.set_cell(3, 3, None)
    opts = BrickOptions(piece="merged-plate", section=8)
    csv_path = export_parts_csv(p, tmp_path / "parts.csv", opts)
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert list(rows[0]) == ["part id", "part name", "colour name", "BrickLink colour id", "LEGO colour id",
                             "Rebrickable colour id", "use", "needed", "spares", "quantity"]
    bases = [r for r in rows if r["use"] == "base"]  # the order is complete: 3 x 3 sections of 8 -> 16x16 plates
    assert [(r["part id"], r["quantity"]) for r in bases] == [("91405", "4")]
    rows = [r for r in rows if r["use"] == "mosaic"]
    studs = {pt.part_id: pt.w * pt.h for pt in PIECE_PARTS["merged-plate"]}
    names = {pt.part_id: pt.name for pt in PIECE_PARTS["merged-plate"]}
    assert sum(int(r["quantity"]) * studs[r["part id"]] for r in rows) == p.filled_cells
    lego_ids = {c.ids["bricklink"]: c.name for c in p.palette}
    for r in rows:
        assert r["part name"] == names[r["part id"]]
        assert r["BrickLink colour id"] in lego_ids
    xml_path = export_bricklink_xml(p, tmp_path / "wanted.xml", opts)
    text = xml_path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<INVENTORY>") and "<?xml" not in text
    root = ET.fromstring(text)
    assert root.tag == "INVENTORY"
    items = root.findall("ITEM")
    assert len(items) == len(rows) + 1
    assert [(it.findtext("ITEMID"), it.findtext("MINQTY")) for it in items if it.findtext("ITEMID") == "91405"] == [
        ("91405", "4")]
    items = [it for it in items if it.findtext("ITEMID") != "91405"]
    assert all(it.findtext("ITEMTYPE") == "P" for it in items)
    assert sum(int(it.findtext("MINQTY")) * studs[it.findtext("ITEMID")] for it in items) == p.filled_cells
    per_colour = {}
    for it in items:
        per_colour[it.findtext("COLOR")] = per_colour.get(it.findtext("COLOR"), 0) + int(
            it.findtext("MINQTY")) * studs[it.findtext("ITEMID")]
    counts = p.counts()
    expect = {}
    for i in p.used_indices():
        bl = p.palette[i].ids["bricklink"]
        expect[bl] = expect.get(bl, 0) + int(counts[i])
    assert per_colour == expect


def test_non_lego_palette_is_mapped_and_says_so(tmp_path):
    p = photo_pattern("perler", 16, 16)
    plan = plan_parts(p, BrickOptions())
    assert plan.mapped and any("nearest LEGO" in n for n in plan.notes)
    rows = list(csv.DictReader(export_parts_csv(p, tmp_path / "p.csv", plan=plan).open(encoding="utf-8")))
    assert "note" in rows[0] and all("nearest LEGO colour" in r["note"] for r in rows if r["use"] == "mosaic")
    lego_ids = {c.ids["bricklink"] for c in load_palette("lego")}
    assert {r["BrickLink colour id"] for r in rows} <= lego_ids
    assert sum(int(r["quantity"]) for r in rows if r["use"] == "mosaic") == 256
    # Perler White lands on LEGO White, Perler Black on LEGO Black
    for name in ("White", "Black"):
        i = next(k for k, c in enumerate(p.palette) if c.name == name)
        assert plan_parts(Pattern(np.full((2, 2), i), p.palette)).colors[0].name == name


def test_build_pdf_pages_and_text(tmp_path):
    p = photo_pattern("lego", 40, 20)
    p.set_cell(0, 0, None)
    opts = BrickOptions(piece="merged-plate", section=16, title="Astronaut")
    reader = PdfReader(export_build_pdf(p, tmp_path / "build.pdf", opts))
    # 40x20 in 16-stud sections: 3 x 2 sections -> overview + 6 sections + parts list (1 page or more)
    texts = [pg.extract_text() for pg in reader.pages]
    assert [t.split("\n")[0] for t in texts[1:7]] == ["Section A1", "Section A2", "Section A3", "Section B1",
                                                      "Section B2", "Section B3"]
    assert all(t.startswith("Parts list") for t in texts[7:]) and len(texts) >= 8
    overview = reader.pages[0].extract_text()
    assert "Astronaut" in overview
    assert "40 x 20 studs = 32.0 x 16.0 cm" in overview
    assert "3 x 2 of 16 x 16 studs" in overview
    assert "Merging saves" in overview
    for name in ("A1", "A3", "B1", "B3"):
        assert name in overview
    sec = reader.pages[1].extract_text()
    assert sec.startswith("Section A1") and "Section A1: 255 studs" in sec
    plan = plan_parts(p, opts)
    top = plan.colors[0]
    assert f"{top.name} (BL {top.bricklink_id})" in reader.pages[1].extract_text() or top.name in overview
    last = texts[-1]
    assert f"Total: {plan.part_count:,} parts covering {p.filled_cells:,} studs" in last
    # the last section is only 8 x 4 studs
    assert "columns 33-40, rows 17-20" in reader.pages[6].extract_text()


@pytest.mark.parametrize("opts, msg", [
    (BrickOptions(section=20), "section size"),
    (BrickOptions(piece="duplo"), "unknown piece"),
])
def test_bad_options(tmp_path, opts, msg):
    p = photo_pattern("lego", 8, 8)
    for fn, name in ((export_parts_csv, "a.csv"), (export_bricklink_xml, "a.xml"), (export_build_pdf, "a.pdf")):
        with pytest.raises(ExportError, match=msg):
            fn(p, tmp_path / name, opts)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output(tmp_path):
    p = photo_pattern("lego", 8, 8)
    with pytest.raises(OutputPathError, match="does not exist"):
        export_build_pdf(p, tmp_path / "no" / "b.pdf")
    with pytest.raises(OutputPathError, match="does not exist"):
        export_bricklink_xml(p, tmp_path / "no" / "b.xml")
    assert list(tmp_path.iterdir()) == []


def test_random_masks_cover_exactly_and_never_worse_than_greedy():
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    @settings(max_examples=60, deadline=None)
    @given(arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12))), st.sampled_from([PLATE_SIZES,
                                                                                                   TILE_SIZES]))
    def check(mask, sizes):
        o = optimal_cover(mask, sizes)
        g = greedy_cover(mask, sizes)
        check_cover(mask, o)
        check_cover(mask, g)
        assert len(o) <= len(g)
        allowed = {(w, h) for w, h in sizes} | {(h, w) for w, h in sizes}
        assert all((r.w, r.h) in allowed for r in o)

    check()


@pytest.mark.parametrize("base, section, part, n", [
    ("auto", 16, "3867", 6), ("baseplate", 32, "3811", 2), ("baseplate", 48, "4186", 1), ("plate-16", 32, "91405", 6),
])
def test_bases_in_csv_xml_and_pdf(tmp_path, base, section, part, n):
    p = photo_pattern("lego", 40, 20)
    opts = BrickOptions(section=section, base=base, base_color="86")
    rows = list(csv.DictReader(export_parts_csv(p, tmp_path / "p.csv", opts).open(encoding="utf-8")))
    assert [(r["part id"], r["colour name"], r["BrickLink colour id"], int(r["quantity"]))
            for r in rows if r["use"] == "base"] == [(part, "Light Bluish Gray", "86", n)]
    root = ET.parse(export_bricklink_xml(p, tmp_path / "w.xml", opts)).getroot()
    assert [(it.findtext("COLOR"), int(it.findtext("MINQTY"))) for it in root.iter("ITEM")
            if it.findtext("ITEMID") == part] == [("86", n)]
    if section == 16:
        text = "".join(pg.extract_text() for pg in PdfReader(export_build_pdf(p, tmp_path / "b.pdf", opts)).pages)
        assert f"{n} x Baseplate 16 x 16 (3867)" in text and "3867" in text.split("Parts list")[-1]


def test_no_base_and_bad_base(tmp_path):
    p = photo_pattern("lego", 8, 8)
    assert plan_parts(p, BrickOptions(base="none")).bases == []
    with pytest.raises(ExportError, match="no 8x8 baseplate"):
        plan_parts(p, BrickOptions(base="baseplate", section=8))
    with pytest.raises(ExportError, match="base colour"):
        plan_parts(p, BrickOptions(base_color="9999"))


def test_spares_in_parts_list_and_xml(tmp_path):
    from exporters.common.shopping import SpareRule

    p = photo_pattern("lego", 16, 16)
    opts = BrickOptions(piece="plate", spares=SpareRule(percent=10, minimum=3), base="none")
    rows = list(csv.DictReader(export_parts_csv(p, tmp_path / "p.csv", opts).open(encoding="utf-8")))
    for r in rows:
        need = int(r["needed"])
        assert int(r["spares"]) == max(3, -(-need * 10 // 100))
        assert int(r["quantity"]) == need + int(r["spares"])
    assert sum(int(r["needed"]) for r in rows) == 256
    root = ET.parse(export_bricklink_xml(p, tmp_path / "w.xml", opts)).getroot()
    assert sum(int(it.findtext("MINQTY")) for it in root.iter("ITEM")) == sum(int(r["quantity"]) for r in rows)
    assert all(it.find("CONDITION") is None for it in root.iter("ITEM"))
    opts.condition = "N"
    root = ET.parse(export_bricklink_xml(p, tmp_path / "n.xml", opts)).getroot()
    assert {it.findtext("CONDITION") for it in root.iter("ITEM")} == {"N"}


def test_rebrickable_csv_uses_rebrickable_colour_ids(tmp_path):
    from exporters.bricks.mosaic import export_rebrickable_csv

    lego = load_palette("lego")
    red = lego.index_of("21")  # Red: BrickLink 5, Rebrickable 4
    idx = np.full((16, 16), red)
    idx[:, 8:] = lego.index_of("26")  # Black: BrickLink 11, Rebrickable 0
    p = Pattern(idx, lego)
    out = export_rebrickable_csv(p, tmp_path / "rb.csv", BrickOptions(piece="tile"))
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Part,Color,Quantity"
    rows = {tuple(r[:2]): int(r[2]) for r in csv.reader(lines[1:])}
    assert rows == {("3070b", "4"): 128, ("3070b", "0"): 128, ("3867", "0"): 1}


def test_describe_export_lines(tmp_path):
    import argparse

    from exporters.bricks import mosaic
    from exporters.common import basic
    from exporters.common.optspec import add_arguments, from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser, basic.OPTIONS)
    mosaic.add_cli_arguments(parser)
    args = parser.parse_args(["--spares", "5", "--spares-min", "2", "--base", "plate-16"])
    p = photo_pattern("lego", 20, 20)
    out = mosaic.export_cli(p, "build-pdf", tmp_path / "b.pdf", args)
    lines = mosaic.describe_export(p, "build-pdf", out, args)
    text = "\n".join(lines)
    assert "bases: 4 x Plate 16 x 16 (91405)" in text and "spare parts" in text
    assert f"{len(PdfReader(out[0]).pages)} pages" in text
    counts_result = basic.export(p, "counts-csv", tmp_path / "c.csv", from_args(basic.OPTIONS, args))
    counts = counts_result.files
    header = next(csv.reader(counts[0].open(encoding="utf-8")))
    assert header[:3] == ["LEGO colour id", "BrickLink colour id", "Rebrickable colour id"]
    assert "spares" in header and "to buy" in header
    assert "code columns: LEGO colour id" in "\n".join(counts_result.report)
