"""PNG, GIMP palette and colour-count CSV exports, read back and checked; atomic writes; CLI."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.core.atomic import OutputPathError
from engine.core.palette_io import parse_gpl
from exporters.common.basic import export_counts_csv, export_gpl, export_png
from exporters.common.errors import ExportError

ROOT = Path(__file__).resolve().parents[1]


def test_png_one_to_one_keeps_colours_and_transparency(small_pattern, tmp_path):
    out = export_png(small_pattern, tmp_path / "p.png")
    img = np.asarray(Image.open(out))
    assert img.shape == (10, 12, 4)
    pal = small_pattern.palette.rgb8
    assert (img[1, 3, :3] == pal[small_pattern.index[1, 3]]).all()
    assert img[0, 0, 3] == 0 and img[9, 11, 3] == 0  # empty cells are transparent
    assert (img[..., 3] == 255).sum() == small_pattern.filled_cells


def test_png_scaled_blocks(small_pattern, tmp_path):
    out = export_png(small_pattern, tmp_path / "p.png", scale=5)
    img = np.asarray(Image.open(out))
    assert img.shape == (50, 60, 4)
    block = img[15:20, 25:30, :3].reshape(-1, 3)
    assert (block == small_pattern.palette.rgb8[small_pattern.index[3, 5]]).all()


@pytest.mark.parametrize("scale", [0, -2, 2.5])
def test_png_bad_scale(small_pattern, tmp_path, scale):
    with pytest.raises(ExportError, match="scale"):
        export_png(small_pattern, tmp_path / "p.png", scale=scale)
    assert not (tmp_path / "p.png").exists()


def test_gpl_lists_only_used_colours(small_pattern, tmp_path):
    out = export_gpl(small_pattern, tmp_path / "used.gpl")
    pal = parse_gpl(out.read_text(encoding="utf-8"))
    used = small_pattern.used_indices()
    assert len(pal) == len(used)
    assert [c.rgb for c in pal] == [small_pattern.palette[i].rgb for i in used]
    codes = [c.name.split()[0] for c in pal]
    assert codes == [small_pattern.palette[i].code for i in used]


def test_counts_csv_counts_and_bags(small_pattern, tmp_path):
    out = export_counts_csv(small_pattern, tmp_path / "counts.csv", bag_size=7)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    code = f"{small_pattern.palette.name} code"  # the header names the id system of the code column
    assert list(rows[0]) == [code, "name", "hex", "count", "bags"]
    counts = small_pattern.counts()
    total = 0
    for row in rows:
        i = small_pattern.palette.index_of(row[code])
        assert int(row["count"]) == counts[i]
        assert row["hex"] == small_pattern.palette[i].hex
        assert int(row["bags"]) == -(-counts[i] // 7)
        total += int(row["count"])
    assert total == small_pattern.filled_cells == 118  # two empty cells are not counted
    assert [int(r["count"]) for r in rows] == sorted((int(r["count"]) for r in rows), reverse=True)


def test_counts_csv_without_bags(small_pattern, tmp_path):
    rows = list(csv.reader((export_counts_csv(small_pattern, tmp_path / "c.csv")).open(encoding="utf-8")))
    assert rows[0] == [f"{small_pattern.palette.name} code", "name", "hex", "count"]


def test_bad_bag_size(small_pattern, tmp_path):
    with pytest.raises(ExportError, match="bag size"):
        export_counts_csv(small_pattern, tmp_path / "c.csv", bag_size=0)


def test_unwritable_folder_gives_clear_error_and_no_file(small_pattern, tmp_path):
    missing = tmp_path / "nope" / "p.png"
    with pytest.raises(OutputPathError, match="does not exist"):
        export_png(small_pattern, missing)
    assert not missing.parent.exists()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(OutputPathError, match="not writable"):
            export_counts_csv(small_pattern, locked / "c.csv")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_failed_write_leaves_old_file_and_no_temp(small_pattern, tmp_path, monkeypatch):
    target = tmp_path / "p.png"
    target.write_bytes(b"old")

    def boom(self, *a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(RuntimeError):
        export_png(small_pattern, target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


def test_cli_png_and_counts(small_pattern, tmp_path):
    project = small_pattern.save(tmp_path / "design.pixl")
    out = tmp_path / "big.png"
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "export", str(project), "--format", "png",
                        "--scale", "3", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (36, 30)
    out_csv = tmp_path / "counts.csv"
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "export", str(project), "--format", "counts-csv",
                        "--bag-size", "1000", "--out", str(out_csv)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert sum(int(r["count"]) for r in rows) == 118 and all(r["bags"] == "1" for r in rows)
    out_gpl = tmp_path / "p.gpl"
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "export", str(project), "--format", "gpl",
                        "--out", str(out_gpl)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert len(parse_gpl(out_gpl.read_text(encoding="utf-8"))) == 4
