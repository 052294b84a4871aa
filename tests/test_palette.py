"""Palettes: shipped data, subsets, and importing user files with clear errors."""

import json
from pathlib import Path

import numpy as np
import pytest

from engine.core.color import srgb8_to_lab
from engine.core.palette import Palette, PaletteError, parse_hex_color
from engine.core.palette_io import (
    PALETTE_DIR,
    format_gpl,
    list_palettes,
    load_palette,
    parse_csv,
    parse_gpl,
    parse_hex,
    read_palette_file,
    write_gpl,
)


def test_every_shipped_palette_loads_and_has_valid_colours():
    infos = list_palettes()
    keys = {i.key for i in infos}
    for expected in ("perler", "hama", "hama_mini", "artkal_s", "mard", "nabbi", "lego", "dmc", "brother_pec",
                     "janome_jef", "oil_6"):
        assert expected in keys
    for info in infos:
        pal = load_palette(info.key)
        assert len(pal) == info.count > 0
        assert pal.rgb8.shape == (len(pal), 3)
        assert len(set(pal.codes)) == len(pal)


def test_shipped_data_has_licences_beside_it():
    for group in ("beads", "bricks", "threads"):
        assert (PALETTE_DIR / group / "LICENSE").read_text().strip()


def test_perler_matches_its_source_values(perler):
    black = next(c for c in perler if c.name == "Black")
    assert black.symbol and perler.medium.kind == "bead" and perler.medium.pitch_mm == 5.0
    # Lab is computed from sRGB, not copied: compare with our own conversion.
    np.testing.assert_allclose(perler.lab[perler.index_of(black.code)], srgb8_to_lab(np.array(black.rgb)))


def test_lego_defaults_to_current_colours_and_flags_retired():
    current = load_palette("lego")
    everything = load_palette("lego", include_retired=True)
    assert len(everything) > len(current)
    assert not any(c.retired for c in current)
    assert any(c.retired for c in everything)
    red = next(c for c in current if c.name == "Red")
    assert red.ids["bricklink"] == "5" and current.medium.kind == "brick" and current.medium.pitch_mm == 8.0


def test_owned_subset_keeps_palette_order(perler):
    codes = [perler[5].code, perler[1].code]
    owned = perler.owned(",".join(codes))
    assert owned.codes == [perler[1].code, perler[5].code]
    with pytest.raises(PaletteError, match="not in palette"):
        perler.owned(["NOPE"])


def test_unknown_palette_name_lists_known_ones():
    with pytest.raises(PaletteError, match="perler"):
        load_palette("definitely-not-a-palette")


def test_hex_import(tmp_path: Path):
    f = tmp_path / "mine.hex"
    f.write_text("ff0000\n#00FF00\n\n0000ff\n")
    pal = read_palette_file(f)
    assert pal.rgb8.tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]
    assert pal.name == "mine"


def test_hex_bad_line_reports_line_number():
    with pytest.raises(PaletteError, match="line 2"):
        parse_hex("ff0000\nnot-a-colour\n", name="bad")


def test_gpl_round_trip(tmp_path: Path, perler):
    sub = perler.subset([0, 3, 7])
    out = tmp_path / "sub.gpl"
    write_gpl(sub, out)
    back = read_palette_file(out)
    assert back.rgb8.tolist() == sub.rgb8.tolist()
    assert back.name == sub.name


def test_gpl_errors_name_the_line():
    with pytest.raises(PaletteError, match="line 1"):
        parse_gpl("not a gimp palette\n", name="x")
    with pytest.raises(PaletteError, match="line 3"):
        parse_gpl("GIMP Palette\nName: t\n12 300 4 bad\n", name="x")


def test_csv_with_header_and_without(tmp_path: Path):
    pal = parse_csv("code,name,r,g,b\nA1,Red,255,0,0\nA2,Blue,0,0,255\n")
    assert pal.codes == ["A1", "A2"] and pal.rgb8[1].tolist() == [0, 0, 255]
    pal2 = parse_csv("X,Grey,#808080\nY,White,#ffffff\n")
    assert pal2.rgb8[0].tolist() == [128, 128, 128]
    beads = parse_csv("H01,White,!,229,236,241,205.00\n")
    assert beads[0].symbol == "!"
    with pytest.raises(PaletteError, match="line 3"):
        parse_csv("code,name,hex\nA,ok,#000000\nB,bad,#zzzzzz\n")
    with pytest.raises(PaletteError, match="duplicate"):
        parse_csv("code,name,hex\nA,x,#000000\nA,y,#111111\n")


def test_json_round_trip(perler, tmp_path: Path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps(perler.to_dict()))
    back = read_palette_file(f)
    assert back == perler or back.codes == perler.codes
    assert back.medium == perler.medium


def test_unknown_extension_is_a_clear_error(tmp_path: Path):
    f = tmp_path / "x.ase"
    f.write_bytes(b"\x00\x01")
    with pytest.raises(PaletteError, match="unknown palette format"):
        read_palette_file(f)


def test_format_gpl_has_header_and_one_row_per_colour(perler):
    text = format_gpl(perler.subset([0, 1]))
    lines = text.splitlines()
    assert lines[0] == "GIMP Palette"
    assert sum(1 for line in lines if line[:1].isspace() or line[:1].isdigit()) == 2


def test_empty_palette_is_rejected():
    with pytest.raises(PaletteError):
        Palette("empty", ())


def test_medium_units_and_boards(perler):
    m = perler.medium
    assert m.cells_per_unit("cells") == (1.0, 1.0)
    assert m.cells_per_unit("boards") == (29.0, 29.0)
    assert m.cells_per_unit("cm") == (2.0, 2.0)
    assert m.boards_needed(30, 29) == (2, 1)
    assert load_palette("dmc").medium.boards_needed(10, 10) is None
    with pytest.raises(ValueError, match="no board"):
        load_palette("dmc").medium.cells_per_unit("boards")
    with pytest.raises(ValueError, match="unknown size unit"):
        m.cells_per_unit("inch")


@pytest.mark.parametrize("text", ["-f-f-f", "+1+2+3", " f f f", "0x1234", "12345g"])
def test_hex_colours_take_only_hex_digits(text):
    # int(..., 16) accepts signs and spaces: "-f-f-f" once became RGB (-15, -15, -15) and overflowed numpy
    with pytest.raises(ValueError, match="RRGGBB"):
        parse_hex_color(text)
    with pytest.raises(PaletteError, match="not a colour"):
        parse_hex(text)
