"""Bead chart PDF pages read back: sizes from the board's pitch, no clipped text, page numbers, split boards with
an overlap and joining marks, per-part counts with names, large print, measured vs nominal pitches (issue 19)."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from engine.core.medium import BOARDS
from exporters.beads.chart import BeadChartOptions, chart_warnings, export_bead_chart_pdf
from exporters.common.pdf import MM
from tests.test_bead_chart import cell_pitch, cell_rects, photo_pattern

FONTS = {"/Helvetica": "Helvetica", "/Helvetica-Bold": "Helvetica-Bold"}


def texts(reader: PdfReader) -> list[str]:
    return [" ".join(pg.extract_text().split()) for pg in reader.pages]


def text_runs(page) -> list[tuple[float, float, str, str, float]]:
    """(x, y, text, font, size) of every Helvetica text run on a page (the chart's words, not its shape symbols)."""
    runs = []

    def visit(text, cm, tm, font, size):
        name = FONTS.get(str((font or {}).get("/BaseFont", "")))
        if name and text.strip():
            runs.append((cm[4] + tm[4] * cm[0], cm[5] + tm[5] * cm[3], text.strip(), name, size * tm[0]))

    page.extract_text(visitor_text=visit)
    return runs


@pytest.fixture(scope="module")
def artkal(tmp_path_factory):
    p = photo_pattern("artkal_a", 100, 60)
    out = tmp_path_factory.mktemp("artkal") / "a.pdf"
    return p, PdfReader(export_bead_chart_pdf(p, out, BeadChartOptions(board="mini 50x50 (Artkal)",
                                                                      true_scale=True)))


def test_artkal_mini_overview_sizes_come_from_the_board_pitch(artkal):
    p, reader = artkal
    overview = texts(reader)[0]
    # 100 x 60 beads at Artkal's measured 2.812 mm per peg, not the nominal 2.6 mm bead (26.0 x 15.6 cm)
    assert "100 x 60 beads = 28.1 x 16.9 cm" in overview and "2.812 mm per peg: measured board pitch" in overview
    assert "14.1 x 14.1 cm each" in overview and "26.0 x" not in overview
    for page in texts(reader):  # every "N x M beads = A x B cm" and "... mm per peg" on every page agrees
        for n, m, a, b in re.findall(r"(\d+) x (\d+) beads(?: = |, )(\d+\.\d) x (\d+\.\d) cm", page):
            assert (float(a), float(b)) == (round(int(n) * 0.2812, 1), round(int(m) * 0.2812, 1))
        assert set(re.findall(r"(\d+\.\d+) mm per peg", page)) <= {"2.812"}


def test_no_text_is_clipped_or_cut(artkal, tmp_path):
    _, reader = artkal
    lp = PdfReader(export_bead_chart_pdf(photo_pattern("perler", 29, 29), tmp_path / "lp.pdf",
                                         BeadChartOptions(large_print=True, title="Large print")))
    for rd in (reader, lp):
        for page in rd.pages:
            right = float(page.mediabox.width) - 12 * MM + 0.5
            runs = text_runs(page)
            assert runs
            for x, _, text, font, size in runs:
                assert "..." not in text, text  # fit_text's ellipsis: a cut line
                assert x + stringWidth(text, font, size) <= right, (text, x)
        assert "print at 100 %, no scaling" in texts(rd)[0] or rd is lp


def test_page_n_of_m_on_every_page(artkal):
    _, reader = artkal
    n = len(reader.pages)
    for k, page in enumerate(texts(reader), start=1):
        assert f"page {k} of {n}" in page


@pytest.mark.parametrize("palette, w, options", [
    ("artkal_a", 50, BeadChartOptions(large_print=True)),
    ("hama_mini", 104, BeadChartOptions(board="2.6 mm 104x104", true_scale=True)),
])
def test_split_board_overlaps_one_row_and_column_and_counts_each_part(tmp_path, palette, w, options):
    p = photo_pattern(palette, w, w)
    reader = PdfReader(export_bead_chart_pdf(p, tmp_path / "s.pdf", options))
    pages = texts(reader)[1:-1]
    spans = [tuple(map(int, re.search(r"columns (\d+)-(\d+), rows (\d+)-(\d+)", t).groups())) for t in pages]
    assert len(spans) >= 4
    xs = sorted({(a, b) for a, b, _, _ in spans})
    ys = sorted({(c, d) for _, _, c, d in spans})
    # neighbouring parts share exactly one column / row, and together cover the board
    assert xs[0][0] == 1 and xs[-1][1] == w and all(nxt[0] == prev[1] for prev, nxt in zip(xs, xs[1:]))
    assert ys[0][0] == 1 and ys[-1][1] == w and all(nxt[0] == prev[1] for prev, nxt in zip(ys, ys[1:]))
    assert all("Joining:" in t and "blue dashed lines" in t for t in pages)
    # each part's legend counts that part's beads (the overlap once): together they are the board's beads
    counts = [int(re.search(r"part \d+ of \d+[^:]*: ([\d,]+) beads", t).group(1).replace(",", "")) for t in pages]
    assert sum(counts) == p.filled_cells and len(set(counts)) > 1
    # the legend names the colours, not only their codes
    top = p.color_counts()[0][1]
    assert all(f"{top.code} {top.name}" in t for t in pages)


def test_large_print_enlarges_a_midi_board_and_says_why_not_at_true_scale(tmp_path):
    p = photo_pattern("hama", 29, 29)
    fit = PdfReader(export_bead_chart_pdf(p, tmp_path / "fit.pdf"))
    big = PdfReader(export_bead_chart_pdf(p, tmp_path / "big.pdf", BeadChartOptions(large_print=True)))
    assert len(fit.pages) == 3 and len(big.pages) > 3
    assert cell_pitch(cell_rects(big, 1)) >= 1.5 * cell_pitch(cell_rects(fit, 1)) - 0.01
    assert chart_warnings(BeadChartOptions(large_print=True)) == []
    warn = chart_warnings(BeadChartOptions(large_print=True, true_scale=True))
    assert warn and "large print is not used with true scale" in warn[0]


@pytest.mark.parametrize("palette, board, words", [
    ("hama_maxi", None, "10.000 mm per peg: nominal, not measured"),
    ("hama", None, "5.000 mm per peg: nominal, not measured"),
    ("perler", None, "4.991 mm per peg: measured board pitch"),
    ("perler_mini", None, "2.689 mm per peg: measured board pitch"),
])
def test_measured_only_for_measured_pitches(tmp_path, palette, board, words):
    p = photo_pattern(palette, 20, 20)
    reader = PdfReader(export_bead_chart_pdf(p, tmp_path / "m.pdf", BeadChartOptions(board=board)))
    assert words in texts(reader)[0]


def test_board_table_says_which_pitches_were_measured():
    assert {b.name for b in BOARDS.values() if b.measured} == {
        "midi 29x29 (Perler)", "mini 56x56 (Perler)", "mini 50x50 (Artkal)"}
    assert all(b.pitch_mm > 0 and "measured" in b.source for b in BOARDS.values() if b.measured)
    assert BOARDS["midi 29x29 (Perler)"].pitch_mm == 4.991
