"""Fuzzing the parsers: any input gives a valid result or the project's own error type, nothing else."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.convert.pipeline import MAX_SIDE, ConvertError, parse_size
from engine.core import limits
from engine.core.medium import BEAD_MIDI, BRICK, PIXEL
from engine.core.palette import Palette, PaletteColor, PaletteError
from engine.core.palette_io import parse_csv, parse_gpl, parse_hex, read_palette_file
from engine.core.pattern import Pattern, PatternError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                database=None)

# text that looks like palette data often enough to get past the first checks
_tokens = st.sampled_from(["#", "FF0000", "00ff00", "0", "255", "256", "-1", "inf", "nan", "1e400", "9" * 60,
                           ",", " ", "\t", "\n", "GIMP Palette\n", "Name: x\n", "code,name,r,g,b\n", "hex", "a",
                           "\x00", "é", '"', ";", "//", "#123456\n", "1,red,#FF0000\n", "1,a,*,10,20,30\n"])
palette_text = st.one_of(st.text(max_size=300), st.lists(_tokens, max_size=60).map("".join))


def _check_palette(pal: Palette) -> None:
    assert isinstance(pal, Palette) and 1 <= len(pal) <= 65_536
    assert pal.rgb8.dtype == np.uint8 and pal.rgb8.shape == (len(pal), 3)
    assert len(set(pal.codes)) == len(pal)


@pytest.mark.parametrize("parser", [parse_hex, parse_gpl, parse_csv])
@FUZZ
@given(text=palette_text)
def test_palette_text_parsers(parser, text):
    try:
        pal = parser(text, name="fuzz")
    except PaletteError as exc:
        assert str(exc)
        return
    _check_palette(pal)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
color_dicts = st.fixed_dictionaries({"code": json_values, "hex": st.one_of(json_values, st.just("#A0B0C0"))},
                                    optional={"name": json_values, "symbol": json_values, "ids": json_values,
                                              "retired": json_values, "parts": json_values, "finish": json_values})
palette_dicts = st.fixed_dictionaries({"name": json_values, "colors": st.one_of(json_values, st.lists(color_dicts,
                                                                                                       max_size=5))},
                                      optional={"medium": json_values, "key": json_values})


@FUZZ
@given(data=st.one_of(json_values, palette_dicts))
def test_json_palette_files(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("pal") / "fuzz.json"
    try:
        path.write_text(json.dumps(data, allow_nan=True))
    except (ValueError, RecursionError):
        return
    try:
        pal = read_palette_file(path)
    except PaletteError as exc:
        assert str(exc)
        return
    _check_palette(pal)


@FUZZ
@given(text=st.one_of(st.text(max_size=60), st.from_regex(
    r"\A-?[0-9]{0,6}(\.[0-9]{0,3})?\s*([xX×*]\s*-?[0-9]{0,6}(\.[0-9]{0,3})?)?\s*(cells?|boards?|cm|mm|in|)\Z")),
    medium=st.sampled_from([None, PIXEL, BEAD_MIDI, BRICK]))
def test_size_strings(text, medium):
    try:
        w, h = parse_size(text, medium)
    except ConvertError as exc:
        assert str(exc)
        return
    assert isinstance(w, int) and isinstance(h, int) and 1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE


@FUZZ
@given(text=st.one_of(st.text(max_size=30), st.sampled_from(["inf", "-inf", "nan", "1e400", "9" * 400, "1_0"])))
def test_number_options(text):
    try:
        v = limits.finite(text, "--cell-mm", 0.0, 100.0)
    except limits.LimitError:
        return
    assert 0.0 <= v <= 100.0


def _valid_project_bytes() -> bytes:
    pal = Palette("p", tuple(PaletteColor(str(i), f"c{i}", (i * 50, 10, 20)) for i in range(4)))
    buf = io.BytesIO()
    p = Pattern(np.arange(20).reshape(4, 5) % 4, pal, metadata={"title": "fuzz"})
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p.save(Path(d) / "x.pixl")
        buf.write((Path(d) / "x.pixl").read_bytes())
    return buf.getvalue()


VALID = _valid_project_bytes()


def _load(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("pixl") / "fuzz.pixl"
    path.write_bytes(data)
    try:
        pat = Pattern.load(path)
    except PatternError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert pat.index.dtype == np.uint16 and pat.index.max() < len(pat.palette)
    assert pat.empty_mask.shape == pat.shape and isinstance(pat.metadata, dict)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.integers(0, len(VALID))))
def test_damaged_project_bytes(tmp_path_factory, edits, cut):
    data = bytearray(VALID)
    for pos, value in edits:
        data[pos] = value
    _load(tmp_path_factory, bytes(data[:cut] if cut is not None else data))


@FUZZ
@given(manifest=st.one_of(json_values, st.fixed_dictionaries(
    {"format": st.sampled_from(["pixl", "x"]), "schema_version": json_values, "width": json_values,
     "height": json_values, "palette": st.one_of(json_values, palette_dicts)},
    optional={"medium": json_values, "metadata": json_values})),
    shape=st.sampled_from([(4, 5), (5, 4), (1, 1), (0, 3)]),
    dtype=st.sampled_from(["uint16", "int64", "float64", "bool", "U1"]))
def test_hostile_manifests_and_cells(tmp_path_factory, manifest, shape, dtype):
    cells = io.BytesIO()
    np.savez_compressed(cells, index=np.zeros(shape, dtype=dtype), empty=np.zeros(shape, dtype=bool))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        try:
            zf.writestr("manifest.json", json.dumps(manifest, allow_nan=True))
        except (ValueError, RecursionError):
            return
        zf.writestr("cells.npz", cells.getvalue())
    _load(tmp_path_factory, buf.getvalue())
