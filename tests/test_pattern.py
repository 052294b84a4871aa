"""The Pattern model and its .pixl project file."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.core.pattern import SCHEMA_VERSION, Pattern, PatternError


def test_counts_exclude_empty_cells(small_pattern):
    counts = small_pattern.counts()
    assert counts.sum() == 10 * 12 - 2 == small_pattern.filled_cells
    assert small_pattern.used_indices() == [i for i in (0, 5, 9, 20) if counts[i]]
    top = small_pattern.color_counts()[0]
    assert top[2] == counts.max()


def test_set_cell_replace_and_empty(small_pattern):
    p = small_pattern.copy()
    p.set_cell(1, 2, 7)
    assert p.get_cell(1, 2) == 7
    p.set_cell(1, 2, None)
    assert p.get_cell(1, 2) is None
    p.set_cell(1, 2, 5)
    assert p.get_cell(1, 2) == 5
    n9 = int(p.counts()[9])
    assert p.replace_color(9, 0) == n9 and p.counts()[9] == 0
    with pytest.raises(PatternError, match="outside"):
        p.set_cell(99, 0, 1)
    with pytest.raises(PatternError, match="not in the palette"):
        p.set_cell(0, 1, 10_000)


def test_crop_resize_and_rgb(small_pattern):
    c = small_pattern.crop(2, 3, 4, 5)
    assert c.shape == (5, 4)
    np.testing.assert_array_equal(c.index, small_pattern.index[3:8, 2:6])
    r = small_pattern.resized(24, 20)
    assert r.shape == (20, 24) and r.get_cell(0, 0) is None
    rgb = small_pattern.to_rgb()
    assert rgb.shape == (10, 12, 3) and tuple(rgb[0, 0]) == (255, 255, 255)
    assert tuple(rgb[1, 1]) == small_pattern.palette[int(small_pattern.index[1, 1])].rgb
    assert small_pattern.to_rgba()[0, 0, 3] == 0


def test_compacted_keeps_the_image(small_pattern):
    c = small_pattern.compacted()
    assert len(c.palette) == len(small_pattern.used_indices())
    np.testing.assert_array_equal(c.to_rgb(), small_pattern.to_rgb())


def test_save_and_load_round_trip(small_pattern, tmp_path: Path):
    small_pattern.metadata["prompt"] = "a cat"
    path = small_pattern.save(tmp_path / "cat.pixl")
    back = Pattern.load(path)
    np.testing.assert_array_equal(back.index, small_pattern.index)
    np.testing.assert_array_equal(back.empty_mask, small_pattern.empty_mask)
    assert back.palette.codes == small_pattern.palette.codes
    assert back.medium == small_pattern.medium
    assert back.metadata["prompt"] == "a cat"
    assert not list(tmp_path.glob(".*part"))


def test_newer_schema_is_refused_clearly(small_pattern, tmp_path: Path):
    path = small_pattern.save(tmp_path / "p.pixl")
    newer = tmp_path / "newer.pixl"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(newer, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item == "manifest.json":
                m = json.loads(data)
                m["schema_version"] = SCHEMA_VERSION + 1
                data = json.dumps(m).encode()
            dst.writestr(item, data)
    with pytest.raises(PatternError, match="newer"):
        Pattern.load(newer)


def test_damaged_files_are_refused_clearly(small_pattern, tmp_path: Path):
    garbage = tmp_path / "garbage.pixl"
    garbage.write_bytes(b"this is not a zip")
    with pytest.raises(PatternError, match="damaged"):
        Pattern.load(garbage)
    good = small_pattern.save(tmp_path / "good.pixl")
    truncated = tmp_path / "truncated.pixl"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(PatternError):
        Pattern.load(truncated)
    with pytest.raises(PatternError, match="not found"):
        Pattern.load(tmp_path / "missing.pixl")


def test_failed_save_keeps_the_previous_file(small_pattern, tmp_path: Path, monkeypatch):
    path = small_pattern.save(tmp_path / "keep.pixl")
    before = path.read_bytes()
    changed = small_pattern.copy()
    changed.set_cell(2, 2, 1)

    real_writestr = zipfile.ZipFile.writestr

    def fail_on_cells(self, name, data, *a, **k):
        if name == "cells.npz":
            raise OSError("disk full")
        return real_writestr(self, name, data, *a, **k)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail_on_cells)
    with pytest.raises(OSError):
        changed.save(path)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*part"))


def test_invalid_construction():
    from engine.core.palette_io import load_palette
    pal = load_palette("grayscale4")
    with pytest.raises(PatternError, match="palette has 4"):
        Pattern(np.full((2, 2), 4), pal)
    with pytest.raises(PatternError):
        Pattern(np.zeros((0, 3)), pal)
