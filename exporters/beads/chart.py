"""Fuse-bead charts: a vector PDF (overview, one page per pegboard, legend) and a chart PNG.

The PDF can be printed at true 1:1 bead pitch so a printed board sits under a clear pegboard.

An exporter module of the typed interface (exporters.common.registry): ``FORMATS``, ``OPTIONS``
(:class:`exporters.beads.options.BeadOptions`), ``check`` and ``export``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from reportlab.pdfbase.pdfmetrics import stringWidth

from engine.core import limits
from engine.core.atomic import atomic_path
from engine.core.medium import BOARDS, Board, find_board
from engine.core.pattern import Pattern
from engine.core.progress import CancelToken, Progress, ProgressCallback
from engine.core.sizes import SizeError, parse_pair
from exporters.beads.options import BeadOptions, parse_calibration
from exporters.common import limits_check
from exporters.common.errors import ExportError
from exporters.common.pdf import (
    FONT,
    FONT_BOLD,
    MM,
    contrast_rgb,
    fill_cells,
    fit_text,
    grid_label,
    label_box,
    orient,
    paper_size,
    pdf_canvas,
    pdf_text,
    run_rects,
    stroke_lines,
    wrap_text,
)
from exporters.common.result import ExportResult
from exporters.common.shared_options import spare_rule
from exporters.common.shopping import NO_SPARES, SpareRule, check_pack_size, shopping_list
from exporters.common.symbols import draw_pdf_symbols, draw_png_symbol, symbols_for

log = logging.getLogger(__name__)

FORMATS = {
    "bead-pdf": "printable bead chart (vector PDF): overview, one page per pegboard, legend; true size on request",
    "chart-png": "the chart as a picture (PNG): a symbol or code in every cell, board edges and a legend",
}
OPTIONS = BeadOptions
BeadChartOptions = BeadOptions  # the name earlier versions used

MARGIN = 12 * MM
LABEL_W = 16.0  # room for row/column numbers around a board grid
HEADER_H = 52.0  # title and up to three wrapped lines under it
DEFAULT_BOARD = BOARDS["midi 29x29"]  # for media without a board of their own
LARGE_PRINT_MM = 6.0  # smallest cell of a large-print chart: symbols about 3.7 mm tall
LARGE_PRINT_GAIN = 1.5  # a large-print cell is at least this much larger than the fit-to-page cell

# Palettes whose brand uses a board other than their medium's default (palette key -> board name).
PALETTE_BOARDS = {"perler_mini": "mini 56x56 (Perler)", "perler": "midi 29x29 (Perler)"}


def chart_pitch_mm(pattern: Pattern, board: Board, options: BeadChartOptions) -> float:
    """Millimetres per cell at true scale: the calibration, else the board's measured pitch, else nominal."""
    cal = parse_calibration(options.calibrate)
    if cal is not None:
        return cal[1] / cal[0]
    return board.pitch_for(pattern.medium)


def _true_scale(options: BeadChartOptions) -> bool:
    return bool(options.true_scale or parse_calibration(options.calibrate))


def resolve_board(pattern: Pattern, board: str | None) -> Board:
    """The pegboard for a chart: a BOARDS key, a custom 'WxH', or the medium's default."""
    if board is None or str(board).strip() == "":
        brand = PALETTE_BOARDS.get(pattern.palette.key)
        if brand:
            return BOARDS[brand]
        return (pattern.medium.default_board if pattern.medium else None) or DEFAULT_BOARD
    text = str(board).strip()
    found = find_board(text)
    if found is not None:
        return found
    try:
        w, h = parse_pair(text, "custom board", unit="", positive=False)  # the one size parser: 29x29, 29 × 29
    except SizeError:
        raise ExportError(
            f"unknown board {text!r}; use a size like 29x29 or one of: " + ", ".join(repr(k) for k in BOARDS)
        ) from None
    if not (float(w).is_integer() and float(h).is_integer() and 1 <= w <= 500 and 1 <= h <= 500):
        raise ExportError(f"custom board {text!r}: both sides must be whole numbers of beads between 1 and 500")
    return Board(f"{int(w)}x{int(h)}", int(w), int(h))


def board_label(row: int, col: int) -> str:
    """'A1' style name: letters count board rows (A, B, ... Z, AA ...), numbers count board columns."""
    return grid_label(row, col)


@dataclass
class _Ctx:
    pattern: Pattern
    options: BeadChartOptions
    board: Board
    symbols: dict[int, str]
    text_rgb: dict[int, tuple[float, float, float]]
    page: tuple[float, float]
    pitch_mm: float = 0.0  # true-scale mm per cell (0: fit to page)
    peg_mm: float = 0.0  # mm per peg of the board (calibration, board pitch, else nominal): every size on every page
    total_pages: int = 0


@dataclass(frozen=True)
class BoardPart:
    """One board page: cells [x0, x1) x [y0, y1) of the design; the first column/row is an overlap repeated from
    the previous part when ``overlap_left`` / ``overlap_top``; ``right`` / ``below`` are the parts that repeat
    this part's last column/row (0: none)."""

    board: str
    x0: int
    y0: int
    x1: int
    y1: int
    number: int
    parts: int
    overlap_left: bool = False
    overlap_top: bool = False
    right: int = 0
    below: int = 0

    @property
    def own(self) -> tuple[int, int, int, int]:
        """The cells this part counts (the overlap is counted on the part it repeats)."""
        return self.x0 + int(self.overlap_left), self.y0 + int(self.overlap_top), self.x1, self.y1


def _title(pattern: Pattern, options: BeadChartOptions) -> str:
    return options.title or pattern.metadata.get("title") or "Bead pattern"


def _check_options(options: BeadChartOptions) -> None:
    paper_size(options.paper)
    check_pack_size(options.bag_size)
    parse_calibration(options.calibrate)


def chart_warnings(options: BeadChartOptions) -> list[str]:
    """Options that cannot take effect together, in plain words (the export still runs)."""
    if options.large_print and _true_scale(options):
        return ["large print is not used with true scale: at true scale every cell must match the pegs of the "
                "board, so the cell size cannot grow"]
    return []


def _footer(c, ctx: _Ctx, page: tuple[float, float]) -> None:
    """'page N of M' at the bottom right of every page."""
    c.setFillGray(0)
    c.setFont(FONT, 8)
    c.drawRightString(page[0] - MARGIN, MARGIN - 14, f"page {c.getPageNumber()} of {ctx.total_pages}")


def _draw_lines(c, lines: list[str], font: str, size: float, x: float, y: float, width: float,
                lead: float) -> float:
    """Draw paragraphs wrapped to ``width`` from baseline ``y`` down; returns the next baseline."""
    c.setFont(font, size)
    for para in lines:
        for line in wrap_text(para, font, size, width):
            c.drawString(x, y, line)
            y -= lead
    return y


# --------------------------------------------------------------------------- overview page


def overview_lines(ctx: _Ctx) -> list[str]:
    """The overview's header lines: every size from the board's pitch (``ctx.peg_mm``)."""
    p = ctx.pattern
    peg = ctx.peg_mm
    nbx = math.ceil(p.width / ctx.board.width)
    nby = math.ceil(p.height / ctx.board.height)
    lines = [
        f"Size: {p.width} x {p.height} beads = {p.width * peg / 10:.1f} x {p.height * peg / 10:.1f} cm "
        f"({pattern_kind(p)}, {peg:.3f} mm per peg: {_pitch_source(ctx)})",
        f"Palette: {p.palette.name}   Colours: {len(p.used_indices())}   Beads: {p.filled_cells:,}",
        f"Boards: {nbx} x {nby} of {ctx.board.name} ({ctx.board.width} x {ctx.board.height} beads, "
        f"{ctx.board.width * peg / 10:.1f} x {ctx.board.height * peg / 10:.1f} cm each)",
    ]
    if ctx.pitch_mm:
        lines.append(f"True scale: {ctx.pitch_mm:.3f} mm per peg - print at 100 %, no scaling, no 'fit to page'; "
                     "check the 50 mm line on each board page")
    return lines


def _draw_overview(c, ctx: _Ctx, boards: list[tuple[int, int]]) -> None:
    p = ctx.pattern
    pw, ph = ctx.page
    title = _title(p, ctx.options)
    c.setFont(FONT_BOLD, 16)
    c.setFillGray(0)
    c.drawString(MARGIN, ph - MARGIN - 14, fit_text(title, FONT_BOLD, 16, pw - 2 * MARGIN))
    y = _draw_lines(c, overview_lines(ctx), FONT, 9, MARGIN, ph - MARGIN - 32, pw - 2 * MARGIN, 12)
    top = y - 10
    aw = pw - 2 * MARGIN - LABEL_W
    ah = top - MARGIN - LABEL_W
    cell = min(aw / p.width, ah / p.height)
    x0 = MARGIN + LABEL_W + (aw - cell * p.width) / 2
    y_top = top - LABEL_W
    filled = ~p.empty_mask
    for i in p.used_indices():
        fill_cells(c, p.palette[i].rgb, run_rects((p.index == i) & filled, x0, y_top, cell))
    # outline + board grid
    bw, bh = ctx.board.width, ctx.board.height
    nbx, nby = math.ceil(p.width / bw), math.ceil(p.height / bh)
    segs = []
    for bx in range(0, p.width + 1, bw):
        segs.append((x0 + bx * cell, y_top, x0 + bx * cell, y_top - p.height * cell))
    for by in range(0, p.height + 1, bh):
        segs.append((x0, y_top - by * cell, x0 + p.width * cell, y_top - by * cell))
    segs.append((x0 + p.width * cell, y_top, x0 + p.width * cell, y_top - p.height * cell))
    segs.append((x0, y_top - p.height * cell, x0 + p.width * cell, y_top - p.height * cell))
    stroke_lines(c, segs, 1.2, 0.1)
    # board labels: column numbers on top, row letters on the left, the name in each board
    c.setFillGray(0)
    c.setFont(FONT_BOLD, 8)
    for bx in range(nbx):
        xm = x0 + (bx * bw + min(bw, p.width - bx * bw) / 2) * cell
        c.drawCentredString(xm, y_top + 4, str(bx + 1))
    for by in range(nby):
        ym = y_top - (by * bh + min(bh, p.height - by * bh) / 2) * cell
        c.drawRightString(x0 - 4, ym - 3, board_label(by, 0)[:-1])
    size = max(4.0, min(10.0, bw * cell * 0.3, bh * cell * 0.4))
    for by, bx in boards:
        name = board_label(by, bx)
        xm = x0 + (bx * bw + min(bw, p.width - bx * bw) / 2) * cell
        ym = y_top - (by * bh + min(bh, p.height - by * bh) / 2) * cell
        label_box(c, xm, ym, name, size)
    _footer(c, ctx, ctx.page)
    c.showPage()


def _pitch_source(ctx: _Ctx) -> str:
    cal = parse_calibration(ctx.options.calibrate)
    if cal is not None:
        return f"calibrated: {cal[0]} pegs = {cal[1]:g} mm"
    if ctx.board.pitch_mm > 0 and ctx.board.measured:
        return "measured board pitch"
    return "nominal, not measured - calibrate for a true fit"


def pattern_kind(p: Pattern) -> str:
    """'midi beads', 'mini beads'... for captions."""
    cls = p.medium.size_class if p.medium else ""
    return f"{cls} beads" if cls else "beads"


# --------------------------------------------------------------------------- board pages


def _count_lines(ctx: _Ctx, sub_index: np.ndarray, sub_empty: np.ndarray) -> list[tuple[int, int]]:
    idx = sub_index[~sub_empty]
    counts = np.bincount(idx.ravel(), minlength=len(ctx.pattern.palette))
    return sorted(((int(i), int(counts[i])) for i in np.flatnonzero(counts)), key=lambda t: (-t[1], t[0]))


_COUNT_ROW_H = 9.0
_COUNT_FONT = 6.5


def _count_text(ctx: _Ctx, i: int, n: int) -> str:
    color = ctx.pattern.palette[i]
    return pdf_text(f"{color.code} {color.name}  x{n:,}")


def _counts_layout(ctx: _Ctx, counts: list[tuple[int, int]], width: float) -> tuple[float, int, int]:
    """(column width, columns, rows) of a board's count lines: columns as wide as the longest line."""
    widest = max((stringWidth(_count_text(ctx, i, n), FONT, _COUNT_FONT) for i, n in counts), default=0.0)
    colw = min(width, widest + 16)
    cols = max(1, int(width // colw))
    return colw, cols, math.ceil(len(counts) / cols)


def _counts_height(ctx: _Ctx, counts: list[tuple[int, int]], width: float) -> float:
    return 14 + _counts_layout(ctx, counts, width)[2] * _COUNT_ROW_H


def _draw_counts(c, ctx: _Ctx, counts: list[tuple[int, int]], x: float, y: float, width: float, title: str) -> None:
    pal = ctx.pattern.palette
    c.setFillGray(0)
    c.setFont(FONT_BOLD, 8)
    total = sum(n for _, n in counts)
    c.drawString(x, y - 8, fit_text(f"{title}: {total:,} beads, {len(counts)} colours", FONT_BOLD, 8, width))
    colw, _, rows = _counts_layout(ctx, counts, width)
    for k, (i, n) in enumerate(counts):
        col, row = divmod(k, rows)
        cx = x + col * colw
        cy = y - 14 - (row + 1) * _COUNT_ROW_H + 2
        rgb = pal[i].rgb
        c.setFillColorRGB(*(v / 255 for v in rgb))
        c.setStrokeGray(0.4)
        c.setLineWidth(0.3)
        c.rect(cx, cy, 7, 7, stroke=1, fill=1)
        draw_pdf_symbols(c, [(cx + 3.5, cy + 3.5, ctx.symbols[i])], FONT_BOLD, 5.5, ctx.text_rgb[i])
        c.setFillGray(0)
        c.setFont(FONT, _COUNT_FONT)
        c.drawString(cx + 9, cy + 1, fit_text(_count_text(ctx, i, n), FONT, _COUNT_FONT, colw - 11))


def _grid_area(ctx: _Ctx, pw: float, ph: float, counts: list[tuple[int, int]]) -> tuple[float, float]:
    """Width and height (pt) left for a board's grid on a pw x ph page with ``counts`` under it."""
    return (pw - 2 * MARGIN - 2 * LABEL_W,
            ph - 2 * MARGIN - HEADER_H - 2 * LABEL_W - _counts_height(ctx, counts, pw - 2 * MARGIN))


def _fit_cell(ctx: _Ctx, bw: int, bh: int, counts: list[tuple[int, int]]) -> tuple[tuple[float, float], float]:
    """(page, cell pt) of the largest cells that fit a whole bw x bh board on one page (portrait, or landscape
    for wide boards)."""
    base = paper_size(ctx.options.paper)
    best = None
    for land in (False, True) if bw > bh * 1.3 else (False,):
        pw, ph = orient(base, land)
        aw, ah = _grid_area(ctx, pw, ph, counts)
        cell = min(aw / bw, ah / bh)
        if best is None or cell > best[1]:
            best = ((pw, ph), cell)
    assert best is not None
    return best


def large_print_cell(fit_cell_pt: float) -> float:
    """Cell size (pt) of a large-print chart: at least LARGE_PRINT_MM and LARGE_PRINT_GAIN x the fit-to-page cell,
    so large print always makes the symbols larger (a 29x29 board already fits A4 at about 6 mm)."""
    return max(LARGE_PRINT_MM * MM, fit_cell_pt * LARGE_PRINT_GAIN)


def _split(n: int, per_page: int) -> list[tuple[int, int]]:
    """[start, end) spans covering ``n`` cells with pages of at most ``per_page`` cells, each span after the first
    starting on the last cell of the one before (one overlap row/column), balanced in size."""
    if per_page >= n:
        return [(0, n)]
    per_page = max(2, per_page)
    parts = math.ceil((n - 1) / (per_page - 1))
    step = math.ceil((n - 1) / parts)
    spans, start = [], 0
    while True:
        end = min(n, start + step + 1)
        spans.append((start, end))
        if end >= n:
            return spans
        start = end - 1


def _page_plan(ctx: _Ctx, bw: int, bh: int,
               counts: list[tuple[int, int]]) -> tuple[tuple[float, float], float, list[tuple[int, int]],
                                                       list[tuple[int, int]]]:
    """(page size, cell pt, column spans, row spans) for one board."""
    base = paper_size(ctx.options.paper)
    fit_page, fit = _fit_cell(ctx, bw, bh, counts)
    if not ctx.pitch_mm and not ctx.options.large_print:
        if fit < 2.0:
            raise ExportError(
                f"a {bw}x{bh} board is too big for {ctx.options.paper} paper (cells under 2 pt); "
                "choose a smaller board or larger paper"
            )
        return fit_page, fit, [(0, bw)], [(0, bh)]
    cell = ctx.pitch_mm * MM if ctx.pitch_mm else large_print_cell(fit)
    options = []
    for land in (False, True):
        pw, ph = orient(base, land)
        aw, ah = _grid_area(ctx, pw, ph, counts)
        cols, rows = int(aw // cell), int(ah // cell)
        if cols < 2 or rows < 2:
            continue
        xs, ys = _split(bw, cols), _split(bh, rows)
        options.append((len(xs) * len(ys), land, (pw, ph), xs, ys))
    if not options:
        raise ExportError(
            f"one cell of {cell / MM:g} mm does not fit on {ctx.options.paper} paper; "
            "turn off true scale / large print"
        )
    pages, _, page, xs, ys = min(options, key=lambda t: (t[0], t[1]))
    if pages > 1:
        log.info("board %dx%d does not fit %s at %.2f mm; split over %d pages", bw, bh, ctx.options.paper,
                 cell / MM, pages)
    return page, cell, xs, ys


def board_parts(name: str, gx0: int, gy0: int, xs: list[tuple[int, int]],
                ys: list[tuple[int, int]]) -> list[BoardPart]:
    """The pages of one board: its column spans x row spans, numbered row by row."""
    out = []
    n = len(xs) * len(ys)
    for j, (y0, y1) in enumerate(ys):
        for i, (x0, x1) in enumerate(xs):
            k = j * len(xs) + i + 1
            out.append(BoardPart(name, gx0 + x0, gy0 + y0, gx0 + x1, gy0 + y1, k, n, i > 0, j > 0,
                                 k + 1 if i + 1 < len(xs) else 0, k + len(xs) if j + 1 < len(ys) else 0))
    return out


JOIN_RGB = (0.05, 0.35, 0.85)  # overlap lines and joining marks on split boards


def _join_text(part: BoardPart) -> str:
    bits = []
    if part.overlap_left:
        bits.append(f"column {part.x0 + 1} repeats part {part.number - 1}'s last column")
    if part.overlap_top:
        bits.append(f"row {part.y0 + 1} repeats the last row of the part above")
    if part.right:
        bits.append(f"part {part.right} joins on the right")
    if part.below:
        bits.append(f"part {part.below} joins below")
    return ("Joining: " + "; ".join(bits) + " - lay the repeated beads on top of each other along the blue "
            "dashed lines (marked by the blue triangles)") if bits else ""


def _draw_join_marks(c, part: BoardPart, x0: float, y_top: float, cell: float) -> None:
    """Blue dashed lines through the overlap column/row (at both ends of a join) and triangles outside the grid."""
    nx, ny = part.x1 - part.x0, part.y1 - part.y0
    right, bottom = x0 + nx * cell, y_top - ny * cell
    vert = ([0.5] if part.overlap_left else []) + ([nx - 0.5] if part.right else [])
    horiz = ([0.5] if part.overlap_top else []) + ([ny - 0.5] if part.below else [])
    c.saveState()
    c.setStrokeColorRGB(*JOIN_RGB)
    c.setFillColorRGB(*JOIN_RGB)
    c.setLineWidth(1.2)
    c.setDash(3, 2)
    for v in vert:
        c.line(x0 + v * cell, y_top, x0 + v * cell, bottom)
    for h in horiz:
        c.line(x0, y_top - h * cell, right, y_top - h * cell)
    c.setDash()
    t = 5.0
    gap = LABEL_W - 1  # outside the row/column numbers
    for v in vert:
        xm = x0 + v * cell
        for ye, sgn in ((y_top + gap, 1), (bottom - gap, -1)):
            p = c.beginPath()
            p.moveTo(xm - t / 2, ye + sgn * t)
            p.lineTo(xm + t / 2, ye + sgn * t)
            p.lineTo(xm, ye)
            p.close()
            c.drawPath(p, stroke=0, fill=1)
    for h in horiz:
        ym = y_top - h * cell
        for xe, sgn in ((x0 - gap, -1), (right + gap, 1)):
            p = c.beginPath()
            p.moveTo(xe + sgn * t, ym - t / 2)
            p.lineTo(xe + sgn * t, ym + t / 2)
            p.lineTo(xe, ym)
            p.close()
            c.drawPath(p, stroke=0, fill=1)
    c.restoreState()


def _draw_board_part(c, ctx: _Ctx, page: tuple[float, float], part: BoardPart, cell: float,
                     counts: list[tuple[int, int]]) -> None:
    """One page: global cells [x0, x1) x [y0, y1) of the design, with this part's own bead counts."""
    p = ctx.pattern
    pw, ph = page
    gx0, gy0, gx1, gy1 = part.x0, part.y0, part.x1, part.y1
    c.setFillGray(0)
    c.setFont(FONT_BOLD, 13)
    label = f" (part {part.number} of {part.parts})" if part.parts > 1 else ""
    c.drawString(MARGIN, ph - MARGIN - 12, pdf_text(f"Board {part.board}{label}"))
    sub = [f"columns {gx0 + 1}-{gx1}, rows {gy0 + 1}-{gy1} of {p.width} x {p.height}; {ctx.board.name}"
           + (f"; 1:1, {ctx.pitch_mm:.3f} mm per peg" if ctx.pitch_mm else "")]
    if part.parts > 1:
        sub.append(_join_text(part))
    text_w = pw - 2 * MARGIN - (56 * MM if ctx.pitch_mm else 0)
    _draw_lines(c, sub, FONT, 8, MARGIN, ph - MARGIN - 24, text_w, 9.5)
    if ctx.pitch_mm:  # a ruler to check the print was not scaled
        rx, ry = pw - MARGIN - 50 * MM, ph - MARGIN - 20
        stroke_lines(c, [(rx, ry, rx + 50 * MM, ry)] + [(rx + k * 10 * MM, ry, rx + k * 10 * MM, ry + 4)
                                                        for k in range(6)], 0.8, 0.0)
        c.setFont(FONT, 7)
        c.drawCentredString(rx + 25 * MM, ry - 9, "print at 100 %: this line must measure 50 mm")
    nx, ny = gx1 - gx0, gy1 - gy0
    x0 = MARGIN + LABEL_W
    y_top = ph - MARGIN - HEADER_H - LABEL_W
    sub_index = p.index[gy0:gy1, gx0:gx1]
    sub_empty = p.empty_mask[gy0:gy1, gx0:gx1]
    ys, xs = np.nonzero(~sub_empty)
    cols = sub_index[ys, xs]
    order = np.argsort(cols, kind="stable")
    ys, xs, cols = ys[order], xs[order], cols[order]
    bounds = np.flatnonzero(np.diff(cols)) + 1
    font_size = max(2.0, cell * 0.62)
    by_text: dict[tuple[float, float, float], list[tuple[float, float, str]]] = {}
    for gy, gx, gc in zip(np.split(ys, bounds), np.split(xs, bounds), np.split(cols, bounds)):
        if not len(gc):
            continue
        ci = int(gc[0])
        px = x0 + gx * cell
        py = y_top - (gy + 1) * cell
        fill_cells(c, p.palette[ci].rgb, [(float(a), float(b), cell, cell) for a, b in zip(px, py)])
        sym = ctx.symbols[ci]
        items = by_text.setdefault(ctx.text_rgb[ci] + (len(sym),), [])  # two-letter symbols are drawn smaller
        items.extend((float(a) + cell / 2, float(b) + cell / 2, sym) for a, b in zip(px, py))
    for key, items in by_text.items():
        size = font_size if key[3] == 1 else font_size * 0.72
        draw_pdf_symbols(c, items, FONT_BOLD, size, key[:3])
    # grid lines: thin every cell, bold every 5, heavier every 10 (global coordinates)
    right, bottom = x0 + nx * cell, y_top - ny * cell
    thin, bold, heavy = [], [], []
    for i in range(nx + 1):
        g = gx0 + i
        seg = (x0 + i * cell, y_top, x0 + i * cell, bottom)
        (heavy if g % 10 == 0 or i in (0, nx) else bold if g % 5 == 0 else thin).append(seg)
    for j in range(ny + 1):
        g = gy0 + j
        seg = (x0, y_top - j * cell, right, y_top - j * cell)
        (heavy if g % 10 == 0 or j in (0, ny) else bold if g % 5 == 0 else thin).append(seg)
    stroke_lines(c, thin, 0.25, 0.55)
    stroke_lines(c, bold, 0.8, 0.15)
    stroke_lines(c, heavy, 1.4, 0.0)
    # global row / column numbers on all four sides
    num_size = min(7.0, max(3.5, cell * 0.55))
    step = 1 if cell >= num_size * 1.9 else 5 if cell * 5 >= num_size * 2.2 else 10
    c.setFillGray(0)
    c.setFont(FONT, num_size)
    for i in range(nx):
        g = gx0 + i + 1
        if step == 1 or g % step == 0 or i == 0:
            xm = x0 + (i + 0.5) * cell
            c.drawCentredString(xm, y_top + 3, str(g))
            c.drawCentredString(xm, bottom - num_size - 2, str(g))
    for j in range(ny):
        g = gy0 + j + 1
        if step == 1 or g % step == 0 or j == 0:
            ym = y_top - (j + 0.5) * cell - num_size * 0.35
            c.drawRightString(x0 - 2.5, ym, str(g))
            c.drawString(right + 2.5, ym, str(g))
    if part.parts > 1:
        _draw_join_marks(c, part, x0, y_top, cell)
    title = f"Board {part.board}" + (f", part {part.number} of {part.parts}" if part.parts > 1 else "")
    if part.overlap_left or part.overlap_top:
        title += " (the repeated overlap is counted on the part it repeats)"
    _draw_counts(c, ctx, counts, MARGIN, bottom - num_size - 8, pw - 2 * MARGIN, title)
    _footer(c, ctx, page)
    c.showPage()


# --------------------------------------------------------------------------- legend


def legend_rows(pattern: Pattern, spares: SpareRule = NO_SPARES, bag_size: int | None = None):
    """(palette index, colour, purchase line) per used colour, most used first (counts from shopping.py)."""
    rows = pattern.color_counts()
    lines = shopping_list([(color.code, color.name, n) for _, color, n in rows], spares, bag_size)
    return [(i, color, line) for (i, color, _), line in zip(rows, lines)]


LEGEND_ROW_H = 14.0


def legend_pages(n_rows: int, page_h: float) -> list[tuple[int, int]]:
    """[start, end) rows of each legend page; the totals line goes on the last page (an extra page if full)."""
    per_page = int((page_h - 2 * MARGIN - 36 - LEGEND_ROW_H) // LEGEND_ROW_H) + 1
    spans = [(k, min(n_rows, k + per_page)) for k in range(0, max(n_rows, 1), per_page)]
    if n_rows and spans[-1][1] - spans[-1][0] == per_page:
        spans.append((n_rows, n_rows))  # no room left for the totals
    return spans


def _draw_legend(c, ctx: _Ctx) -> None:
    p = ctx.pattern
    bag = ctx.options.bag_size
    rule = spare_rule(ctx.options)
    spares = rule.active
    pw, ph = ctx.page
    rows = legend_rows(p, rule, bag)
    row_h = LEGEND_ROW_H
    cols_x = [MARGIN, MARGIN + 26, MARGIN + 66, MARGIN + 150]
    headers = ["", "Symbol", "Code", "Name"]
    right = [("Count", lambda ln: ln.needed)]
    if spares:
        right += [("Spares", lambda ln: ln.spares), ("To buy", lambda ln: ln.to_buy)]
    if bag:
        right.append((f"Bags of {bag}", lambda ln: ln.packs))
    num_x = [pw - MARGIN - 48 * (len(right) - k) for k in range(len(right))]
    spans = legend_pages(len(rows), ph)
    for n, (start, end) in enumerate(spans):
        c.setPageSize((pw, ph))
        c.setFillGray(0)
        c.setFont(FONT_BOLD, 14)
        head = "Legend" + ("" if n == 0 else " (continued)")
        c.drawString(MARGIN, ph - MARGIN - 12, head)
        if spares:
            c.setFont(FONT, 8)
            hx = MARGIN + stringWidth(head, FONT_BOLD, 14) + 12
            c.drawString(hx, ph - MARGIN - 12, fit_text(rule.describe(), FONT, 8, pw - MARGIN - hx))
        c.setFont(FONT_BOLD, 8)
        y = ph - MARGIN - 36
        for x, h in zip(cols_x, headers):
            c.drawString(x, y, h)
        for x, (h, _) in zip(num_x, right):
            c.drawString(x, y, h)
        y -= row_h
        for i, color, line in rows[start:end]:
            c.setFillColorRGB(*(v / 255 for v in color.rgb))
            c.setStrokeGray(0.3)
            c.setLineWidth(0.4)
            c.rect(cols_x[0], y - 3, 18, 11, stroke=1, fill=1)
            sym = ctx.symbols[i]
            draw_pdf_symbols(c, [(cols_x[0] + 9, y + 2.5, sym)], FONT_BOLD, 7, ctx.text_rgb[i])
            draw_pdf_symbols(c, [(cols_x[1] + 14, y + 3, sym)], FONT_BOLD, 9, (0.0, 0.0, 0.0))
            c.setFillGray(0)
            c.setFont(FONT, 9)
            c.drawString(cols_x[2], y, fit_text(color.code, FONT, 9, cols_x[3] - cols_x[2] - 4))
            c.drawString(cols_x[3], y, fit_text(color.name, FONT, 9, num_x[0] - cols_x[3] - 6))
            for x, (_, get) in zip(num_x, right):
                c.drawString(x, y, f"{get(line):,}")
            y -= row_h
        if n == len(spans) - 1:
            c.setFont(FONT_BOLD, 9)
            c.drawString(cols_x[3], y - 4, f"Total: {len(rows)} colours")
            for x, (_, get) in zip(num_x, right):
                c.drawString(x, y - 4, f"{sum(get(ln) for _, _, ln in rows):,}")
        _footer(c, ctx, (pw, ph))
        c.showPage()


# --------------------------------------------------------------------------- public API


def chart_symbols(pattern: Pattern) -> dict[int, str]:
    """Palette index -> chart symbol for the colours the design uses (most used colours: clearest symbols)."""
    return symbols_for(pattern.palette, pattern.used_indices(), pattern.counts())


def plan_board_pages(ctx: _Ctx) -> list[tuple[BoardPart, tuple[float, float], float]]:
    """Every board page of the chart: (part, page size, cell pt), boards row by row, parts within a board."""
    pattern = ctx.pattern
    bw, bh = ctx.board.width, ctx.board.height
    nbx, nby = math.ceil(pattern.width / bw), math.ceil(pattern.height / bh)
    filled = ~pattern.empty_mask
    out = []
    for by in range(nby):
        for bx in range(nbx):
            gx0, gy0 = bx * bw, by * bh
            gx1, gy1 = min(pattern.width, gx0 + bw), min(pattern.height, gy0 + bh)
            if not filled[gy0:gy1, gx0:gx1].any():
                continue
            counts = _count_lines(ctx, pattern.index[gy0:gy1, gx0:gx1], pattern.empty_mask[gy0:gy1, gx0:gx1])
            page, cell, xs, ys = _page_plan(ctx, bw, bh, counts)
            xs = [(a, min(b, gx1 - gx0)) for a, b in xs if a < gx1 - gx0]  # a partial board at the edge
            ys = [(a, min(b, gy1 - gy0)) for a, b in ys if a < gy1 - gy0]
            out.extend((part, page, cell) for part in board_parts(board_label(by, bx), gx0, gy0, xs, ys))
    return out


def export_bead_chart_pdf(pattern: Pattern, path: str | Path, options: BeadChartOptions | None = None,
                          progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> Path:
    """Write the vector bead chart PDF: overview, one page per pegboard (split with an overlap row/column when
    it does not fit at 1:1 or in large print), legend; 'page N of M' on every page."""
    options = options or BeadChartOptions()
    _check_options(options)
    board = resolve_board(pattern, options.board)
    if pattern.filled_cells == 0:
        raise ExportError("the design has no filled cells; there is nothing to chart")
    for warning in chart_warnings(options):
        log.info("%s", warning)  # said to the user once, as an ExportResult warning
    t0 = time.perf_counter()
    symbols = chart_symbols(pattern)
    text_rgb = {i: contrast_rgb(pattern.palette[i].rgb) for i in symbols}
    page0 = orient(paper_size(options.paper), False)
    pitch = chart_pitch_mm(pattern, board, options) if _true_scale(options) else 0.0
    ctx = _Ctx(pattern, options, board, symbols, text_rgb, page0, pitch, chart_pitch_mm(pattern, board, options))
    pages = plan_board_pages(ctx)
    ctx.total_pages = 1 + len(pages) + len(legend_pages(len(pattern.used_indices()), page0[1]))
    boards = sorted({(p.y0 // board.height, p.x0 // board.width) for p, _, _ in pages})
    with pdf_canvas(path, _title(pattern, options), page0) as c:
        _draw_overview(c, ctx, boards)
        for k, (part, page, cell) in enumerate(pages):
            if cancel is not None:
                cancel.raise_if_cancelled()
            c.setPageSize(page)
            x0, y0, x1, y1 = part.own
            counts = _count_lines(ctx, pattern.index[y0:y1, x0:x1], pattern.empty_mask[y0:y1, x0:x1])
            _draw_board_part(c, ctx, page, part, cell, counts)
            if progress is not None:
                progress(Progress(k + 1, len(pages), f"board {part.board}", elapsed=time.perf_counter() - t0))
        _draw_legend(c, ctx)
    log.info("bead chart: %d board pages in %.2f s", len(pages), time.perf_counter() - t0)
    return Path(path)


def _load_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf", "Arial Bold.ttf", "arialbd.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _png_grid_style(i: int, last: int) -> tuple[int, tuple[int, int, int]]:
    """(width, colour) of chart PNG grid line ``i``: heavy every 10 and at the edges, bold every 5."""
    if i % 10 == 0 or i == last:
        return 3, (0, 0, 0)
    return (2, (40, 40, 40)) if i % 5 == 0 else (1, (150, 150, 150))


BOARD_EDGE_RGB = (215, 25, 32)  # board boundaries on the chart PNG


@dataclass(frozen=True)
class ChartPngLayout:
    """Where things are on a chart PNG (pixels): the grid, then the legend rows under it."""

    cell_px: int
    margin: int
    width: int
    height: int
    legend_top: int
    row_h: int
    swatch: int
    rows: int

    def row_y(self, k: int) -> int:
        """Top of legend row ``k``'s swatch."""
        return self.legend_top + self.row_h + k * self.row_h


def chart_png_layout(pattern: Pattern, cell_px: int = 24) -> ChartPngLayout:
    """The chart PNG's layout for ``pattern`` (the legend has a header row, then one row per used colour)."""
    margin = cell_px * 2
    row_h = max(20, min(cell_px, 40)) + 6
    rows = len(pattern.used_indices())
    legend_top = margin + pattern.height * cell_px + margin // 2 + 10
    width = max(pattern.width * cell_px + 2 * margin, 520)
    height = legend_top + row_h * (rows + 1) + margin // 2
    return ChartPngLayout(cell_px, margin, width, height, legend_top, row_h, row_h - 6, rows)


def export_chart_png(pattern: Pattern, path: str | Path, cell_px: int = 24, show: str = "symbols",
                     board: str | None = None, spares: SpareRule = NO_SPARES) -> Path:
    """Write the chart as a PNG usable on its own: coloured cells with a symbol (or colour code) each, grid
    lines, numbers, board edges (red), and a legend with symbol, code, name and count per colour."""
    if show not in ("symbols", "codes"):
        raise ExportError(f"chart PNG shows 'symbols' or 'codes', not {show!r}")
    if not isinstance(cell_px, int) or not 8 <= cell_px <= 200:
        raise ExportError(f"cell size must be 8 to 200 pixels, got {cell_px!r}")
    brd = resolve_board(pattern, board)
    lay = chart_png_layout(pattern, cell_px)
    margin, w, h = lay.margin, lay.width, lay.height
    max_side = limits.MAX_CHART_SIDE.value  # read now, so a PIXL_LIMIT_MAX_CHART_SIDE override applies
    if max(w, h) > max_side:
        raise ExportError(f"the chart would be {w}x{h} pixels (over {max_side}); choose a smaller cell size")
    img = Image.new("RGB", (w, h), (255, 255, 255))
    rgb = pattern.to_rgb()
    cells = np.asarray(Image.fromarray(rgb).resize((pattern.width * cell_px, pattern.height * cell_px),
                                                   Image.NEAREST))
    img.paste(Image.fromarray(cells), (margin, margin))
    draw = ImageDraw.Draw(img)
    symbols = chart_symbols(pattern)
    labels = {i: (symbols[i] if show == "symbols" else pattern.palette[i].code) for i in symbols}
    longest = max((len(s) for s in labels.values()), default=1)
    sym_size = max(6, int(cell_px * (0.62 if longest <= 1 else min(0.62, 1.5 / longest))))
    font = _load_font(sym_size)
    ink = {i: tuple(int(v * 255) for v in contrast_rgb(pattern.palette[i].rgb)) for i in symbols}
    empty = pattern.empty_mask
    for y in range(pattern.height):
        cy = margin + y * cell_px + cell_px / 2
        for x in range(pattern.width):
            if empty[y, x]:
                continue
            i = int(pattern.index[y, x])
            draw_png_symbol(draw, margin + x * cell_px + cell_px / 2, cy, labels[i], cell_px * 0.62, ink[i], font)
    right, bottom = margin + pattern.width * cell_px, margin + pattern.height * cell_px
    for x in range(pattern.width + 1):
        width, col = _png_grid_style(x, pattern.width)
        draw.line([(margin + x * cell_px, margin), (margin + x * cell_px, bottom)], fill=col, width=width)
    for y in range(pattern.height + 1):
        width, col = _png_grid_style(y, pattern.height)
        draw.line([(margin, margin + y * cell_px), (right, margin + y * cell_px)], fill=col, width=width)
    edge_w = max(3, cell_px // 6)
    for x in list(range(0, pattern.width, brd.width)) + [pattern.width]:
        draw.line([(margin + x * cell_px, margin), (margin + x * cell_px, bottom)], fill=BOARD_EDGE_RGB, width=edge_w)
    for y in list(range(0, pattern.height, brd.height)) + [pattern.height]:
        draw.line([(margin, margin + y * cell_px), (right, margin + y * cell_px)], fill=BOARD_EDGE_RGB, width=edge_w)
    num_font = _load_font(max(6, int(cell_px * 0.45)))
    for x in range(pattern.width):
        if cell_px >= 16 or (x + 1) % 5 == 0 or x == 0:
            draw.text((margin + x * cell_px + cell_px / 2, margin - 4), str(x + 1), fill=(0, 0, 0),
                      font=num_font, anchor="mb")
    for y in range(pattern.height):
        if cell_px >= 16 or (y + 1) % 5 == 0 or y == 0:
            draw.text((margin - 4, margin + y * cell_px + cell_px / 2), str(y + 1), fill=(0, 0, 0),
                      font=num_font, anchor="rm")
    _draw_png_legend(draw, pattern, lay, symbols, ink, brd, spares)
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    log.info("wrote chart PNG %s (%dx%d)", path, w, h)
    return path


def _draw_png_legend(draw, pattern: Pattern, lay: ChartPngLayout, symbols: dict[int, str],
                     ink: dict[int, tuple[int, int, int]], brd: Board, spares: SpareRule) -> None:
    """Legend under the chart: swatch with symbol, symbol, code, name, count (and to-buy with spares)."""
    text_font = _load_font(max(11, min(lay.swatch - 6, 18)))
    bold = text_font
    x0 = lay.margin
    sw = lay.swatch
    nbx, nby = math.ceil(pattern.width / brd.width), math.ceil(pattern.height / brd.height)
    head = (f"Legend - {pattern.width} x {pattern.height} cells, {nbx} x {nby} boards of {brd.width} x "
            f"{brd.height} (red lines)")
    draw.text((x0, lay.legend_top + lay.row_h / 2), head, fill=(0, 0, 0), font=bold, anchor="lm")
    for k, (i, color, line) in enumerate(legend_rows(pattern, spares)):
        y = lay.row_y(k)
        draw.rectangle([x0, y, x0 + sw, y + sw], fill=tuple(color.rgb), outline=(90, 90, 90), width=1)
        draw_png_symbol(draw, x0 + sw / 2, y + sw / 2, symbols[i], sw * 0.7, ink[i], _load_font(int(sw * 0.62)))
        draw_png_symbol(draw, x0 + sw + 18, y + sw / 2, symbols[i], sw * 0.7, (0, 0, 0), _load_font(int(sw * 0.62)))
        text = f"{color.code}   {color.name}   {line.needed:,}"
        if spares.active:
            text += f"  (+{line.spares} spares = {line.total:,})"
        draw.text((x0 + sw + 40, y + sw / 2), text, fill=(0, 0, 0), font=text_font, anchor="lm")


# --------------------------------------------------------------------------- the exporter interface


def check(pattern: Pattern, fmt: str, options: BeadOptions) -> None:
    """Refuse ``fmt`` with ``options`` before anything is drawn: paper, board, calibration, bag size, spares, an
    empty design, the PDF's page count and the PNG's size."""
    if fmt not in FORMATS:
        raise ExportError(f"the bead chart exporter does not write {fmt!r}")
    limits_check.check_finite(options)
    _check_options(options)
    spare_rule(options)
    board = resolve_board(pattern, options.board)
    if pattern.filled_cells == 0:
        raise ExportError("the design has no filled cells; there is nothing to chart")
    if fmt == "bead-pdf":
        nb = math.ceil(pattern.width / board.width) * math.ceil(pattern.height / board.height)
        limits_check.check_pdf_pages(nb + 2, f"the bead chart on {board.name} boards")
    else:
        if not isinstance(options.cell_px, int) or not 8 <= options.cell_px <= 200:
            raise ExportError(f"cell size must be 8 to 200 pixels, got {options.cell_px!r}")
        if options.show not in ("symbols", "codes"):
            raise ExportError(f"chart PNG shows 'symbols' or 'codes', not {options.show!r}")
        lay = chart_png_layout(pattern, options.cell_px)
        limits_check.check_image(lay.width, lay.height, f"the chart PNG at {options.cell_px} pixels per cell",
                                 limits.MAX_CHART_SIDE)


def export(pattern: Pattern, fmt: str, out: Path, options: BeadOptions) -> ExportResult:
    """Write ``fmt`` to ``out`` (checked first) and say what was written: boards, pages, pitch, beads to buy."""
    check(pattern, fmt, options)
    rule = spare_rule(options)
    if fmt == "bead-pdf":
        files = [export_bead_chart_pdf(pattern, out, options)]
    else:
        files = [export_chart_png(pattern, out, cell_px=options.cell_px, show=options.show, board=options.board,
                                  spares=rule)]
    board = resolve_board(pattern, options.board)
    nbx, nby = math.ceil(pattern.width / board.width), math.ceil(pattern.height / board.height)
    report = [f"{pattern.width} x {pattern.height} beads on {nbx} x {nby} boards of {board.name}, "
              f"{len(pattern.used_indices())} colours, {pattern.filled_cells:,} beads"]
    warnings: list[str] = []
    if fmt == "bead-pdf":
        try:
            from pypdf import PdfReader

            report.append(f"{len(PdfReader(str(files[0])).pages)} pages")
        except Exception:  # noqa: BLE001 - a summary line must never fail the export
            pass
        pitch = chart_pitch_mm(pattern, board, options)
        how = ("calibrated" if parse_calibration(options.calibrate) else
               "measured board pitch" if board.pitch_mm > 0 and board.measured
               else "nominal, not measured: calibrate for a true fit")
        size = f"{pattern.width * pitch / 10:.1f} x {pattern.height * pitch / 10:.1f} cm at {pitch:.3f} mm per peg"
        if _true_scale(options):
            report.append(f"true scale: {size} ({how}); print at 100 %")
        else:
            report.append(f"finished size {size} ({how})")
        warnings += chart_warnings(options)
    shop = legend_rows(pattern, rule, options.bag_size)
    if rule.active:
        report.append(f"{rule.describe()}: {sum(ln.total for _, _, ln in shop):,} beads to buy")
    if options.bag_size and fmt == "bead-pdf":
        report.append(f"{sum(ln.packs or 0 for _, _, ln in shop)} bags of {options.bag_size}")
    return ExportResult(files, report, warnings)
