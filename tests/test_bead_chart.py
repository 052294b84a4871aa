"""Bead chart PDF (overview, boards, legend, true 1:1 pitch) and chart PNG, read back with pypdf / Pillow."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ContentStream

from engine.core.color import nearest_palette_index, srgb8_to_lab
from engine.core.palette import Palette, PaletteColor
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern
from exporters.beads.chart import (
    BeadChartOptions,
    chart_png_layout,
    chart_symbols,
    export_bead_chart_pdf,
    export_chart_png,
    resolve_board,
)
from exporters.common.errors import ExportError
from exporters.common.pdf import contrast_rgb
from exporters.common.symbols import SHAPES, symbols_for

ROOT = Path(__file__).resolve().parents[1]
MM = 72 / 25.4


def photo_pattern(palette_key: str, w: int, h: int, name: str = "chelsea") -> Pattern:
    """A real photo quantised to a bead palette."""
    pal = load_palette(palette_key)
    img = Image.open(ROOT / "resources" / "samples" / f"{name}.jpg").convert("RGB").resize((w, h), Image.LANCZOS)
    idx = nearest_palette_index(srgb8_to_lab(np.asarray(img).reshape(-1, 3)), pal.lab).reshape(h, w)
    return Pattern(idx, pal)


def cell_rects(reader: PdfReader, page_no: int) -> list[list[float]]:
    page = reader.pages[page_no]
    ops = ContentStream(page.get_contents(), reader).operations
    return [[float(v) for v in operands] for operands, op in ops if op == b"re"]


def cell_pitch(rects: list[list[float]]) -> float:
    """The most common cell size and the spacing between neighbouring cell origins, in points."""
    sizes = [round(r[2], 2) for r in rects if abs(r[2] - r[3]) < 1e-6]
    size = max(set(sizes), key=sizes.count)
    xs = sorted({round(r[0], 3) for r in rects if round(r[2], 2) == size})
    steps = np.diff(xs)
    step = float(np.median(steps))
    assert abs(size - step) < 0.01  # cells tile without gaps
    return step


def test_pdf_pages_overview_boards_and_legend(tmp_path):
    p = photo_pattern("perler", 40, 35)
    p.set_cell(0, 0, None)
    out = export_bead_chart_pdf(p, tmp_path / "chart.pdf", BeadChartOptions(title="Chelsea", bag_size=1000))
    reader = PdfReader(out)
    # 40x35 beads on 29x29 boards: 2 x 2 boards -> overview + 4 boards + legend
    assert len(reader.pages) == 6
    overview = reader.pages[0].extract_text()
    assert "Chelsea" in overview
    for name in ("A1", "A2", "B1", "B2"):
        assert name in overview
    assert "40 x 35 beads" in overview and "20.0 x 17.5 cm" in overview
    assert f"Beads: {p.filled_cells:,}" in overview and f"Colours: {len(p.used_indices())}" in overview
    board = reader.pages[2].extract_text()
    assert board.startswith("Board A2")
    assert "columns 30-40, rows 1-29" in board
    a1 = reader.pages[1].extract_text()
    assert "Board A1: 840 beads" in a1  # 29 x 29 minus the one empty cell
    # per-board counts add up to the design's filled cells
    totals = [int(re.search(r"Board \w+: ([\d,]+) beads", reader.pages[i].extract_text()).group(1).replace(",", ""))
              for i in range(1, 5)]
    assert sum(totals) == p.filled_cells
    legend = reader.pages[5].extract_text()
    symbols = chart_symbols(p)
    for i, color, n in p.color_counts():
        assert color.code in legend and f"{n:,}" in legend
        if symbols[i] not in SHAPES:  # shapes are vector paths, not text
            assert symbols[i] in legend
    assert "Bags of 1000" in legend
    assert f"Total: {len(p.used_indices())} colours" in legend


def test_board_page_draws_one_cell_per_filled_bead(tmp_path):
    p = photo_pattern("perler", 29, 29)
    p.set_cell(3, 4, None)
    p.set_cell(10, 10, None)
    reader = PdfReader(export_bead_chart_pdf(p, tmp_path / "c.pdf"))
    rects = cell_rects(reader, 1)
    size = cell_pitch(rects)
    cells = [r for r in rects if abs(r[2] - size) < 0.01 and abs(r[3] - size) < 0.01]
    assert len(cells) == 29 * 29 - 2  # empty cells are left blank


# Perler midi: the board's measured 4.991 mm (firaga-io), not the nominal 5 mm
@pytest.mark.parametrize("palette_key, pitch_mm", [("perler", 4.991), ("hama_mini", 2.6), ("hama", 5.0)])
def test_true_scale_cells_match_bead_pitch(tmp_path, palette_key, pitch_mm):
    p = photo_pattern(palette_key, 30, 20)
    reader = PdfReader(export_bead_chart_pdf(p, tmp_path / "t.pdf", BeadChartOptions(true_scale=True)))
    pitch = cell_pitch(cell_rects(reader, 1))
    assert pitch == pytest.approx(pitch_mm * MM, abs=0.01)  # 5 mm = 14.173 pt, 4.991 mm = 14.148 pt
    w, h = (float(v) for v in reader.pages[1].mediabox.upper_right)
    assert (round(w, 1), round(h, 1)) in ((595.3, 841.9), (841.9, 595.3))  # A4, never scaled to fit
    assert "50 mm" in reader.pages[1].extract_text()


def test_fit_mode_cells_are_larger_than_true_scale(tmp_path):
    p = photo_pattern("hama_mini", 30, 20)
    reader = PdfReader(export_bead_chart_pdf(p, tmp_path / "f.pdf"))
    assert cell_pitch(cell_rects(reader, 1)) > 2.6 * MM * 1.1  # a 57x57 board fills the A4 width


def test_true_scale_board_too_big_is_split_over_pages(tmp_path):
    p = photo_pattern("hama_mini", 104, 104)
    out = export_bead_chart_pdf(p, tmp_path / "s.pdf", BeadChartOptions(board="2.6 mm 104x104", true_scale=True))
    reader = PdfReader(out)
    board_pages = [pg.extract_text() for pg in reader.pages[1:-1]]
    assert len(board_pages) > 1
    assert all("Board A1 (part" in t for t in board_pages)
    assert "part 1 of" in board_pages[0]
    for i in range(1, len(reader.pages) - 1):
        assert cell_pitch(cell_rects(reader, i)) == pytest.approx(2.6 * MM, abs=0.01)
    # the parts together show every column and row exactly once
    cols = set()
    for t in board_pages:
        m = re.search(r"columns (\d+)-(\d+), rows (\d+)-(\d+)", t)
        c0, c1, r0, r1 = map(int, m.groups())
        cols |= {(x, y) for x in range(c0, c1 + 1) for y in range(r0, r1 + 1)}
    assert len(cols) == 104 * 104


def test_boards_are_data_custom_board(tmp_path):
    p = photo_pattern("perler", 25, 12)
    reader = PdfReader(export_bead_chart_pdf(p, tmp_path / "c.pdf", BeadChartOptions(board="10x10")))
    assert len(reader.pages) == 1 + 3 * 2 + 1
    assert "C2" not in reader.pages[0].extract_text()
    assert "Board B3" in reader.pages[6].extract_text()


@pytest.mark.parametrize("opts, msg", [
    (BeadChartOptions(board="giant 3000"), "unknown board"),
    (BeadChartOptions(board="0x5"), "between 1 and 500"),
    (BeadChartOptions(paper="A7"), "paper"),
    (BeadChartOptions(bag_size=-1), "bag size"),
])
def test_bad_options(tmp_path, opts, msg):
    p = photo_pattern("perler", 10, 10)
    with pytest.raises(ExportError, match=msg):
        export_bead_chart_pdf(p, tmp_path / "x.pdf", opts)
    assert list(tmp_path.iterdir()) == []


def test_default_board_comes_from_the_medium():
    assert resolve_board(photo_pattern("hama_mini", 5, 5), None).width == 57
    assert resolve_board(photo_pattern("perler", 5, 5), None).width == 29
    assert resolve_board(photo_pattern("perler", 5, 5), "mini 50x50 (Artkal)").width == 50


def test_symbols_stable_unique_and_contrasting():
    lego = load_palette("lego")
    a = symbols_for(lego, [0, 3, 7])
    b = symbols_for(lego, [3, 7, 12, 20])
    assert a[3] == b[3] and a[7] == b[7]  # a colour keeps its symbol across designs
    many = symbols_for(load_palette("dmc"), list(range(0, 454, 2)))
    assert len(set(many.values())) == len(many)
    perler = load_palette("perler")
    # a palette's own symbol is kept when it is legible ("!" of Perler is not: it reads as "i" or "1")
    assert symbols_for(perler, [0, 1])[0] != perler[0].symbol == "!"
    legible = Palette("x", (PaletteColor("a", "A", (1, 2, 3), "K"), PaletteColor("b", "B", (9, 9, 9))))
    assert symbols_for(legible, [0, 1])[0] == "K"
    assert contrast_rgb((250, 250, 240)) == (0, 0, 0)
    assert contrast_rgb((20, 20, 60)) == (1, 1, 1)


def test_chart_png_symbols(tmp_path):
    p = photo_pattern("perler", 12, 8)
    p.set_cell(2, 2, None)
    out = export_chart_png(p, tmp_path / "chart.png", cell_px=20)
    img = np.asarray(Image.open(out).convert("RGB"))
    margin = 40
    lay = chart_png_layout(p, 20)
    assert img.shape == (lay.height, lay.width, 3) and lay.legend_top > 8 * 20 + margin  # legend under the grid
    # a cell's corner area shows its colour, the empty cell is white, the centre carries a symbol
    y, x = 5, 7
    patch = img[margin + y * 20 + 3, margin + x * 20 + 3]
    assert tuple(patch) == tuple(p.palette.rgb8[p.index[y, x]])
    assert tuple(img[margin + 2 * 20 + 3, margin + 2 * 20 + 3]) == (255, 255, 255)
    centre = img[margin + y * 20 + 5: margin + y * 20 + 15, margin + x * 20 + 5: margin + x * 20 + 15]
    assert (np.abs(centre.astype(int) - p.palette.rgb8[p.index[y, x]]).sum(axis=2) > 60).any()


def test_chart_png_codes_and_bad_args(tmp_path):
    p = photo_pattern("perler", 6, 4)
    lay = chart_png_layout(p, 40)
    assert Image.open(export_chart_png(p, tmp_path / "c.png", cell_px=40, show="codes")).size == (lay.width,
                                                                                                lay.height)
    assert lay.width >= 6 * 40 + 160 and lay.legend_top > 4 * 40 + 80
    with pytest.raises(ExportError, match="symbols"):
        export_chart_png(p, tmp_path / "x.png", show="pictures")
    with pytest.raises(ExportError, match="cell size"):
        export_chart_png(p, tmp_path / "x.png", cell_px=2)


def test_chart_png_side_limit_is_read_when_the_chart_is_made(tmp_path, monkeypatch):
    """PIXL_LIMIT_MAX_CHART_SIDE set after import still applies (the limit is not frozen at import time)."""
    p = photo_pattern("perler", 6, 4)
    lay = chart_png_layout(p, 40)
    monkeypatch.setenv("PIXL_LIMIT_MAX_CHART_SIDE", str(max(lay.width, lay.height) - 1))
    with pytest.raises(ExportError, match=f"over {max(lay.width, lay.height) - 1}"):
        export_chart_png(p, tmp_path / "small.png", cell_px=40)
    assert not (tmp_path / "small.png").exists()
    monkeypatch.setenv("PIXL_LIMIT_MAX_CHART_SIDE", str(max(lay.width, lay.height)))
    assert Image.open(export_chart_png(p, tmp_path / "fits.png", cell_px=40)).size == (lay.width, lay.height)


def test_unwritable_path_and_no_partial_file(tmp_path):
    p = photo_pattern("perler", 10, 10)
    from engine.core.atomic import OutputPathError

    with pytest.raises(OutputPathError):
        export_bead_chart_pdf(p, tmp_path / "missing" / "c.pdf")
    with pytest.raises(OutputPathError, match="folder"):
        export_bead_chart_pdf(p, tmp_path)  # a folder, not a file
    assert list(tmp_path.iterdir()) == []


def test_cli_bead_pdf_true_scale(tmp_path):
    p = photo_pattern("perler", 30, 30)
    project = p.save(tmp_path / "d.pixl")
    out = tmp_path / "d.pdf"
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "export", str(project), "--format", "bead-pdf",
                        "--true-scale", "--paper", "Letter", "--bag-size", "500", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    reader = PdfReader(out)
    assert len(reader.pages) == 1 + 4 + 1
    assert cell_pitch(cell_rects(reader, 1)) == pytest.approx(4.991 * MM, abs=0.01)  # Perler's measured pitch
    assert float(reader.pages[1].mediabox.width) in (612.0, 792.0)
    assert "Bags of 500" in reader.pages[-1].extract_text()


def test_cancel_leaves_no_file_and_progress_reports(tmp_path):
    from engine.core.progress import Cancelled, CancelToken

    p = photo_pattern("perler", 60, 30)
    seen = []
    token = CancelToken()

    def progress(report):
        seen.append(report.step)
        if report.step == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        export_bead_chart_pdf(p, tmp_path / "c.pdf", progress=progress, cancel=token)
    assert seen == [1, 2]
    assert list(tmp_path.iterdir()) == []
    seen.clear()
    export_bead_chart_pdf(p, tmp_path / "c.pdf", progress=lambda r: seen.append((r.step, r.total)))
    assert seen[-1] == (6, 6)


def board_span_mm(reader: PdfReader, page_no: int, cells: int) -> float:
    """Millimetres per cell measured over the whole board: (right edge - left edge) / cells."""
    rects = cell_rects(reader, page_no)
    size = cell_pitch(rects)
    grid = [r for r in rects if abs(r[2] - size) < 0.01 and abs(r[3] - size) < 0.01]
    left, right = min(r[0] for r in grid), max(r[0] + r[2] for r in grid)
    top, bottom = max(r[1] + r[3] for r in grid), min(r[1] for r in grid)
    assert abs((right - left) - (top - bottom)) < 0.01  # a square board
    return (right - left) / cells / MM


@pytest.mark.parametrize("palette_key, board, cells, pitch_mm", [
    ("artkal_a", "mini 50x50 (Artkal)", 50, 2.812),
    ("perler_mini", "mini 56x56 (Perler)", 56, 2.689),
    ("perler", "midi 29x29", 29, 5.0),
])
def test_true_scale_pitch_is_the_board_pitch_over_a_full_board(tmp_path, palette_key, board, cells, pitch_mm):
    p = photo_pattern(palette_key, cells, cells)
    reader = PdfReader(export_bead_chart_pdf(p, tmp_path / "t.pdf", BeadChartOptions(board=board, true_scale=True)))
    assert len(reader.pages) == 3  # the full board fits one page at 1:1
    assert board_span_mm(reader, 1, cells) == pytest.approx(pitch_mm, abs=0.01)
    assert f"{pitch_mm:.3f} mm per peg" in reader.pages[1].extract_text()


def test_perler_mini_default_board_is_56_wide():
    assert resolve_board(photo_pattern("perler_mini", 5, 5), None).width == 56


def test_calibration_scales_the_chart(tmp_path):
    p = photo_pattern("hama_mini", 40, 40)
    opts = BeadChartOptions(board="40x40", calibrate="40:110")  # my board: 40 pegs measure 110 mm
    reader = PdfReader(export_bead_chart_pdf(p, tmp_path / "cal.pdf", opts))
    assert board_span_mm(reader, 1, 40) == pytest.approx(110 / 40, abs=0.01)
    assert "calibrated: 40 pegs = 110 mm" in reader.pages[0].extract_text()
    for bad in ("50", "0:10", "50:3", "x:y"):
        with pytest.raises(ExportError, match="calibration"):
            export_bead_chart_pdf(p, tmp_path / "bad.pdf", BeadChartOptions(calibrate=bad))


def test_large_print_spreads_one_mini_board_over_pages(tmp_path):
    p = photo_pattern("artkal_a", 50, 50)
    reader = PdfReader(export_bead_chart_pdf(p, tmp_path / "lp.pdf", BeadChartOptions(large_print=True)))
    board_pages = reader.pages[1:-1]
    assert len(board_pages) >= 4 and "Board A1 (part 1 of" in board_pages[0].extract_text()
    for i in range(1, len(reader.pages) - 1):
        assert cell_pitch(cell_rects(reader, i)) == pytest.approx(6.0 * MM, abs=0.01)


def test_legible_symbols_for_100_colours():
    from exporters.common.symbols import FORBIDDEN, POOL, family

    dmc = load_palette("dmc")
    counts = np.arange(len(dmc))[::-1] + 1  # colour 0 most used
    syms = symbols_for(dmc, list(range(120)), counts)
    assert len(set(syms.values())) == 120
    for s in syms.values():
        assert s.isascii() or s in SHAPES  # no accented letters
        assert not set(s) & FORBIDDEN
    assert syms[0] == POOL[0] and syms[1] == POOL[1]  # most used: clearest (filled shapes first)
    for a in ("'", "/", "I", "i", "l", "0", "O", "c", "C"):
        assert a in FORBIDDEN
    # similar colours get symbols of different look-alike families
    from engine.core.color import ciede2000

    lab = dmc.lab
    for i in range(120):
        for j in range(i + 1, 120):
            if float(ciede2000(lab[i], lab[j])) < 12.0:
                assert family(syms[i]) != family(syms[j]) or syms[i] in POOL[100:] or syms[j] in POOL[100:]


def test_chart_png_legend_rows_decoded(tmp_path):
    p = photo_pattern("perler", 30, 20)
    out = export_chart_png(p, tmp_path / "chart.png", cell_px=16, board="10x10")
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    lay = chart_png_layout(p, 16)
    rows = p.color_counts()
    assert lay.rows == len(rows)
    for k, (i, color, n) in enumerate(rows):  # one row per colour, most used first: swatch of its colour + text
        y = lay.row_y(k)
        swatch = img[y + 2:y + lay.swatch - 1, lay.margin + 2:lay.margin + lay.swatch - 1]
        assert (np.abs(swatch - color.rgb).sum(axis=2) == 0).mean() > 0.4  # mostly the colour, with its symbol
        text = img[y:y + lay.swatch, lay.margin + lay.swatch + 40:]
        assert (text.sum(axis=2) < 200).sum() > 30  # code, name and count are written
    below = img[lay.row_y(len(rows)) + 2:, :]
    assert (below == 255).all()  # nothing after the last row
    # board edges every 10 cells in red
    x = lay.margin + 10 * 16
    col = img[lay.margin + 5:lay.margin + 20 * 16 - 5, x]
    assert (np.abs(col - (215, 25, 32)).sum(axis=1) < 10).all()


def test_export_result_and_cli_options(tmp_path):
    import argparse

    from exporters.beads import chart
    from exporters.common import service

    parser = argparse.ArgumentParser()
    service.add_export_arguments(parser)
    args = parser.parse_args(["--calibrate", "50:140.6", "--board", "mini 50x50 (Artkal)", "--spares", "10",
                              "--spares-min", "5", "--bag-size", "1000"])
    p = photo_pattern("artkal_a", 50, 50)
    result = service.export(p, "bead-pdf", tmp_path / "c.pdf", args)
    out = result.files
    text = "\n".join(result.report)
    assert f"{len(PdfReader(out[0]).pages)} pages" in text and "1 x 1 boards of mini 50x50 (Artkal)" in text
    assert "true scale: 14.1 x 14.1 cm at 2.812 mm per peg (calibrated)" in text
    legend = PdfReader(out[0]).pages[-1].extract_text()
    assert "Spares" in legend and "To buy" in legend and "Bags of 1000" in legend
    opts = service.build_options("bead-pdf", args)
    rows = chart.legend_rows(p, chart.spare_rule(opts), opts.bag_size)
    assert all(ln.spares == max(5, -(-ln.needed // 10)) for _, _, ln in rows)
    assert f"{sum(ln.total for _, _, ln in rows):,} beads to buy" in text
