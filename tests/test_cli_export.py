"""`python main.py export` for the brick and bead formats, and its one-line errors (no tracebacks)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from engine.core.color import nearest_palette_index, srgb8_to_lab
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern
from exporters.beads.chart import chart_png_layout
from exporters.bricks.mosaic import PIECE_PARTS

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "export", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.fixture
def lego_project(tmp_path) -> tuple[Path, Pattern]:
    pal = load_palette("lego")
    img = Image.open(ROOT / "resources" / "samples" / "coffee.jpg").convert("RGB").resize((24, 16))
    idx = nearest_palette_index(srgb8_to_lab(np.asarray(img).reshape(-1, 3)), pal.lab).reshape(16, 24)
    p = Pattern(idx, pal)
    p.set_cell(0, 0, None)
    return p.save(tmp_path / "mosaic.pixl"), p


def test_cli_bricklink_xml_merged(lego_project, tmp_path):
    project, p = lego_project
    out = tmp_path / "wanted.xml"
    r = cli(project, "--format", "bricklink-xml", "--piece", "merged-plate", "--section", "8", "--no-1x1-spares",
            "--out", out)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout
    root = ET.parse(out).getroot()
    studs = {pt.part_id: pt.w * pt.h for pt in PIECE_PARTS["merged-plate"]}
    total = sum(int(it.findtext("MINQTY")) * studs[it.findtext("ITEMID")] for it in root.iter("ITEM")
                if it.findtext("ITEMID") not in ("91405", "92438"))  # 8-stud sections: the bases are 16x16 plates
    assert total == p.filled_cells == 383
    # two 16x16 plates and the layer that joins them (one more 16x16 plate between two 8x16 plates)
    assert [(it.findtext("ITEMID"), it.findtext("MINQTY")) for it in root.iter("ITEM")
            if it.findtext("ITEMID") in ("91405", "92438")] == [("91405", "3"), ("92438", "2")]
    assert not out.read_text(encoding="utf-8").startswith("<?xml")


def test_cli_parts_csv_and_build_pdf(lego_project, tmp_path):
    project, p = lego_project
    out = tmp_path / "parts.csv"
    r = cli(project, "-f", "parts-csv", "--piece", "round-tile", "-o", out)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(row["part id"], row["quantity"]) for row in rows if row["use"] == "base"] == [("91405", "2")]
    rows = [row for row in rows if row["use"] == "mosaic"]
    assert {row["part id"] for row in rows} == {"98138"}
    assert sum(int(row["needed"]) for row in rows) == p.filled_cells
    pdf = tmp_path / "build.pdf"
    r = cli(project, "-f", "build-pdf", "--section", "16", "--title", "Coffee", "-o", pdf)
    assert r.returncode == 0, r.stderr
    reader = PdfReader(pdf)
    assert "Coffee" in reader.pages[0].extract_text()
    assert reader.pages[1].extract_text().startswith("Section A1")
    assert reader.pages[2].extract_text().startswith("Section A2")


@pytest.mark.parametrize("args, message", [
    (["-f", "build-pdf", "--section", "20"], "Section size: '20' is not one of 8 x 8 studs"),
    (["-f", "bead-pdf", "--board", "huge"], "unknown board"),
    (["-f", "bead-pdf", "--paper", "B9"], "Paper: 'B9' is not a paper size: choose A4, Letter or A3"),
])
def test_cli_bad_options_one_line_exit_2(lego_project, tmp_path, args, message):
    project, _ = lego_project
    out = tmp_path / "x.out"
    r = cli(project, *args, "-o", out)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_chart_png_and_unwritable_output(lego_project, tmp_path):
    project, p = lego_project
    out = tmp_path / "chart.png"
    r = cli(project, "-f", "chart-png", "--cell-px", "10", "-o", out)
    assert r.returncode == 0, r.stderr
    lay = chart_png_layout(p, 10)  # the grid (24 x 16 cells of 10 px, 20 px margins), then the legend under it
    assert Image.open(out).size == (lay.width, lay.height) and lay.legend_top > 16 * 10 + 20
    r = cli(project, "-f", "chart-png", "-o", tmp_path / "missing" / "c.png")
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
