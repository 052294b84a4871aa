"""Fuse-bead charts: a vector PDF (overview, one page per pegboard, legend) and a chart PNG.

The PDF can be printed at true 1:1 bead pitch so a printed board sits under a clear pegboard.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine.core import limits
from engine.core.atomic import atomic_path
from engine.core.medium import BOARDS, Board, find_board
from engine.core.pattern import Pattern
from engine.core.progress import CancelToken, Progress, ProgressCallback
from exporters.common.basic import int_option
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
)
from exporters.common.shopping import NO_SPARES, SpareRule, check_pack_size, shopping_list, spare_rule_from_args
from exporters.common.symbols import draw_pdf_symbols, draw_png_symbol, symbols_for

log = logging.getLogger(__name__)

FORMATS = {
    "bead-pdf": "vector PDF bead chart: overview, one page per pegboard, legend (--paper, --board, --true-scale)",
    "chart-png": "chart as a PNG image with a symbol (or code) in every cell, board edges and a legend "
                 "(--cell-px, --show)",
}

MARGIN = 12 * MM
LABEL_W = 16.0  # room for row/column numbers around a board grid
HEADER_H = 40.0
DEFAULT_BOARD = BOARDS["midi 29x29"]  # for media without a board of their own
LARGE_PRINT_MM = 6.0  # cell size of --large-print charts: symbols about 3.7 mm tall

# Palettes whose brand uses a board other than their medium's default (palette key -> board name).
PALETTE_BOARDS = {"perler_mini": "mini 56x56 (Perler)"}


@dataclass
class BeadChartOptions:
    """How the bead chart PDF is laid out."""

    paper: str = "A4"
    board: str | None = None  # a key of engine.core.medium.BOARDS or "WxH"; None = the medium's default board
    true_scale: bool = False  # cells at the board's peg pitch (print at 100 %, no "fit to page")
    bag_size: int | None = None
    title: str = ""
    calibrate: str | None = None  # "N:X": N pegs of the user's board measure X mm (implies true scale)
    large_print: bool = False  # LARGE_PRINT_MM cells: one board spread over several pages
    spares: SpareRule = NO_SPARES


def parse_calibration(text: str | None) -> tuple[int, float] | None:
    """'50:140.6' -> (50, 140.6): N pegs measure X mm (None for no calibration)."""
    if text is None or str(text).strip() == "":
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[:=/]\s*(\d+(?:\.\d*)?)\s*(?:mm)?\s*", str(text))
    if not m or int(m.group(1)) < 1 or float(m.group(2)) <= 0:
        raise ExportError(f"calibration {text!r} must read N:X - N pegs measure X mm, e.g. 50:140.6")
    n, x = int(m.group(1)), float(m.group(2))
    if not 1.0 <= x / n <= 20.0:
        raise ExportError(f"calibration {text!r} gives {x / n:.3f} mm per peg; expected 1 to 20 mm - check N and X")
    return n, x


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
    m = re.fullmatch(r"(\d+)\s*[xX\u00d7]\s*(\d+)", text)
    if m:
        w, h = int(m.group(1)), int(m.group(2))
        if not (1 <= w <= 500 and 1 <= h <= 500):
            raise ExportError(f"custom board {text!r}: both sides must be between 1 and 500 beads")
        return Board(f"{w}x{h}", w, h)
    raise ExportError(
        f"unknown board {text!r}; use a size like 29x29 or one of: " + ", ".join(repr(k) for k in BOARDS)
    )


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


def _title(pattern: Pattern, options: BeadChartOptions) -> str:
    return options.title or pattern.metadata.get("title") or "Bead pattern"


def _check_options(options: BeadChartOptions) -> None:
    paper_size(options.paper)
    check_pack_size(options.bag_size)
    parse_calibration(options.calibrate)


# --------------------------------------------------------------------------- overview page


def _draw_overview(c, ctx: _Ctx, boards: list[tuple[int, int]]) -> None:
    p = ctx.pattern
    pw, ph = ctx.page
    title = _title(p, ctx.options)
    c.setFont(FONT_BOLD, 16)
    c.setFillGray(0)
    c.drawString(MARGIN, ph - MARGIN - 14, fit_text(title, FONT_BOLD, 16, pw - 2 * MARGIN))
    wmm, hmm = p.size_mm()
    nbx = math.ceil(p.width / ctx.board.width)
    nby = math.ceil(p.height / ctx.board.height)
    n_colors = len(p.used_indices())
    lines = [
        f"Size: {p.width} x {p.height} beads = {wmm / 10:.1f} x {hmm / 10:.1f} cm "
        f"({pattern_kind(p)}, {p.medium.pitch_mm:g} mm pitch)",
        f"Palette: {p.palette.name}   Colours: {n_colors}   Beads: {p.filled_cells:,}",
        f"Boards: {nbx} x {nby} of {ctx.board.name} ({ctx.board.width} x {ctx.board.height} beads)"
        + (f"   True scale: {ctx.pitch_mm:.3f} mm per peg ({_pitch_source(ctx)}) - print at 100 %, no scaling"
           if ctx.pitch_mm else ""),
    ]
    c.setFont(FONT, 9)
    for i, line in enumerate(lines):
        c.drawString(MARGIN, ph - MARGIN - 32 - 12 * i, fit_text(line, FONT, 9, pw - 2 * MARGIN))
    top = ph - MARGIN - 32 - 12 * len(lines) - 10
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
    c.showPage()


def _pitch_source(ctx: _Ctx) -> str:
    cal = parse_calibration(ctx.options.calibrate)
    if cal is not None:
        return f"calibrated: {cal[0]} pegs = {cal[1]:g} mm"
    return "measured board pitch" if ctx.board.pitch_mm > 0 else "nominal bead size, not measured"


def pattern_kind(p: Pattern) -> str:
    """'midi beads', 'mini beads'... for captions."""
    cls = p.medium.size_class if p.medium else ""
    return f"{cls} beads" if cls else "beads"


# --------------------------------------------------------------------------- board pages


def _count_lines(ctx: _Ctx, sub_index: np.ndarray, sub_empty: np.ndarray) -> list[tuple[int, int]]:
    idx = sub_index[~sub_empty]
    counts = np.bincount(idx.ravel(), minlength=len(ctx.pattern.palette))
    return sorted(((int(i), int(counts[i])) for i in np.flatnonzero(counts)), key=lambda t: (-t[1], t[0]))


_COUNT_COL_W = 88.0
_COUNT_ROW_H = 9.0


def _counts_height(n: int, width: float) -> float:
    cols = max(1, int(width // _COUNT_COL_W))
    return 14 + math.ceil(n / cols) * _COUNT_ROW_H


def _draw_counts(c, ctx: _Ctx, counts: list[tuple[int, int]], x: float, y: float, width: float, title: str) -> None:
    pal = ctx.pattern.palette
    c.setFillGray(0)
    c.setFont(FONT_BOLD, 8)
    total = sum(n for _, n in counts)
    c.drawString(x, y - 8, pdf_text(f"{title}: {total:,} beads, {len(counts)} colours"))
    cols = max(1, int(width // _COUNT_COL_W))
    rows = math.ceil(len(counts) / cols)
    for k, (i, n) in enumerate(counts):
        col, row = divmod(k, rows)
        cx = x + col * _COUNT_COL_W
        cy = y - 14 - (row + 1) * _COUNT_ROW_H + 2
        rgb = pal[i].rgb
        c.setFillColorRGB(*(v / 255 for v in rgb))
        c.setStrokeGray(0.4)
        c.setLineWidth(0.3)
        c.rect(cx, cy, 7, 7, stroke=1, fill=1)
        draw_pdf_symbols(c, [(cx + 3.5, cy + 3.5, ctx.symbols[i])], FONT_BOLD, 5.5, ctx.text_rgb[i])
        c.setFillGray(0)
        c.setFont(FONT, 6.5)
        c.drawString(cx + 9, cy + 1, fit_text(f"{pal[i].code}  x{n}", FONT, 6.5, _COUNT_COL_W - 11))


def _grid_area(pw: float, ph: float, counts_n: int) -> tuple[float, float]:
    """Width and height (pt) left for a board's grid on a pw x ph page with ``counts_n`` count lines."""
    return (pw - 2 * MARGIN - 2 * LABEL_W,
            ph - 2 * MARGIN - HEADER_H - 2 * LABEL_W - _counts_height(counts_n, pw - 2 * MARGIN))


def _page_plan(ctx: _Ctx, bw: int, bh: int, counts_n: int) -> tuple[tuple[float, float], float, int, int]:
    """(page size, cell pt, columns per page, rows per page) for one board."""
    base = paper_size(ctx.options.paper)
    if not ctx.pitch_mm and not ctx.options.large_print:
        best = None
        for land in (False, True) if bw > bh * 1.3 else (False,):
            pw, ph = orient(base, land)
            aw, ah = _grid_area(pw, ph, counts_n)
            cell = min(aw / bw, ah / bh)
            if best is None or cell > best[1]:
                best = ((pw, ph), cell, bw, bh)
        assert best is not None
        if best[1] < 2.0:
            raise ExportError(
                f"a {bw}x{bh} board is too big for {ctx.options.paper} paper (cells under 2 pt); "
                "choose a smaller board or larger paper"
            )
        return best
    cell = (ctx.pitch_mm if ctx.pitch_mm else LARGE_PRINT_MM) * MM
    options = []
    for land in (False, True):
        pw, ph = orient(base, land)
        aw, ah = _grid_area(pw, ph, counts_n)
        cols, rows = int(aw // cell), int(ah // cell)
        if cols < 1 or rows < 1:
            continue
        cols, rows = min(cols, bw), min(rows, bh)
        pages = math.ceil(bw / cols) * math.ceil(bh / rows)
        options.append((pages, land, (pw, ph), cols, rows))
    if not options:
        raise ExportError(
            f"one cell of {cell / MM:g} mm does not fit on {ctx.options.paper} paper; "
            "turn off true scale / large print"
        )
    pages, _, page, cols, rows = min(options, key=lambda t: (t[0], t[1]))
    # balance the parts: 104 columns over 2 pages -> 52 + 52 rather than 67 + 37
    cols = math.ceil(bw / math.ceil(bw / cols))
    rows = math.ceil(bh / math.ceil(bh / rows))
    if pages > 1:
        log.info("board %dx%d does not fit %s at 1:1; split over %d pages", bw, bh, ctx.options.paper, pages)
    return page, cell, cols, rows


def _draw_board_part(c, ctx: _Ctx, page: tuple[float, float], name: str, gx0: int, gy0: int, gx1: int, gy1: int,
                     cell: float, part: str, counts: list[tuple[int, int]]) -> None:
    """One page: global cells [gx0, gx1) x [gy0, gy1) of the design."""
    p = ctx.pattern
    pw, ph = page
    c.setFillGray(0)
    c.setFont(FONT_BOLD, 13)
    head = f"Board {name}{part}"
    c.drawString(MARGIN, ph - MARGIN - 12, pdf_text(head))
    c.setFont(FONT, 8)
    sub = (f"columns {gx0 + 1}-{gx1}, rows {gy0 + 1}-{gy1} of {p.width} x {p.height}; {ctx.board.name}"
           + (f"; 1:1, {ctx.pitch_mm:.3f} mm per peg" if ctx.pitch_mm else ""))
    c.drawString(MARGIN, ph - MARGIN - 24, fit_text(sub, FONT, 8, pw - 2 * MARGIN - 70 * MM))
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
    _draw_counts(c, ctx, counts, MARGIN, bottom - num_size - 8, pw - 2 * MARGIN, f"Board {name}")
    c.showPage()


# --------------------------------------------------------------------------- legend


def legend_rows(pattern: Pattern, options: BeadChartOptions):
    """(palette index, colour, purchase line) per used colour, most used first (counts from shopping.py)."""
    rows = pattern.color_counts()
    lines = shopping_list([(color.code, color.name, n) for _, color, n in rows], options.spares, options.bag_size)
    return [(i, color, line) for (i, color, _), line in zip(rows, lines)]


def _draw_legend(c, ctx: _Ctx) -> None:
    p = ctx.pattern
    bag = ctx.options.bag_size
    spares = ctx.options.spares.active
    pw, ph = ctx.page
    c.setPageSize((pw, ph))
    rows = legend_rows(p, ctx.options)
    row_h = 14.0
    cols_x = [MARGIN, MARGIN + 26, MARGIN + 66, MARGIN + 150]
    headers = ["", "Symbol", "Code", "Name"]
    right = [("Count", lambda ln: ln.needed)]
    if spares:
        right += [("Spares", lambda ln: ln.spares), ("To buy", lambda ln: ln.to_buy)]
    if bag:
        right.append((f"Bags of {bag}", lambda ln: ln.packs))
    num_x = [pw - MARGIN - 48 * (len(right) - k) for k in range(len(right))]
    y = 0.0
    first = True
    for i, color, line in rows:
        if first or y < MARGIN + row_h:
            if not first:
                c.showPage()
                c.setPageSize((pw, ph))
            c.setFillGray(0)
            c.setFont(FONT_BOLD, 14)
            c.drawString(MARGIN, ph - MARGIN - 12, "Legend" + ("" if first else " (continued)"))
            if spares:
                c.setFont(FONT, 8)
                c.drawString(MARGIN + 80, ph - MARGIN - 12, pdf_text(ctx.options.spares.describe()))
            c.setFont(FONT_BOLD, 8)
            y = ph - MARGIN - 36
            for x, h in zip(cols_x, headers):
                c.drawString(x, y, h)
            for x, (h, _) in zip(num_x, right):
                c.drawString(x, y, h)
            y -= row_h
            first = False
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
    c.setFont(FONT_BOLD, 9)
    if y < MARGIN + row_h:
        c.showPage()
        y = ph - MARGIN - 36
    c.drawString(cols_x[3], y - 4, f"Total: {len(rows)} colours")
    for x, (_, get) in zip(num_x, right):
        c.drawString(x, y - 4, f"{sum(get(ln) for _, _, ln in rows):,}")
    c.showPage()


# --------------------------------------------------------------------------- public API


def chart_symbols(pattern: Pattern) -> dict[int, str]:
    """Palette index -> chart symbol for the colours the design uses (most used colours: clearest symbols)."""
    return symbols_for(pattern.palette, pattern.used_indices(), pattern.counts())


def export_bead_chart_pdf(pattern: Pattern, path: str | Path, options: BeadChartOptions | None = None,
                          progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> Path:
    """Write the vector bead chart PDF: overview, one page per pegboard (split at 1:1 if needed), legend."""
    options = options or BeadChartOptions()
    _check_options(options)
    board = resolve_board(pattern, options.board)
    if pattern.filled_cells == 0:
        raise ExportError("the design has no filled cells; there is nothing to chart")
    t0 = time.perf_counter()
    symbols = chart_symbols(pattern)
    text_rgb = {i: contrast_rgb(pattern.palette[i].rgb) for i in symbols}
    page0 = orient(paper_size(options.paper), False)
    pitch = chart_pitch_mm(pattern, board, options) if _true_scale(options) else 0.0
    ctx = _Ctx(pattern, options, board, symbols, text_rgb, page0, pitch)
    bw, bh = board.width, board.height
    nbx, nby = math.ceil(pattern.width / bw), math.ceil(pattern.height / bh)
    filled = ~pattern.empty_mask
    boards = [(by, bx) for by in range(nby) for bx in range(nbx)
              if filled[by * bh:(by + 1) * bh, bx * bw:(bx + 1) * bw].any()]
    with pdf_canvas(path, _title(pattern, options), page0) as c:
        _draw_overview(c, ctx, boards)
        for k, (by, bx) in enumerate(boards):
            if cancel is not None:
                cancel.raise_if_cancelled()
            gx0, gy0 = bx * bw, by * bh
            gx1, gy1 = min(pattern.width, gx0 + bw), min(pattern.height, gy0 + bh)
            counts = _count_lines(ctx, pattern.index[gy0:gy1, gx0:gx1], pattern.empty_mask[gy0:gy1, gx0:gx1])
            page, cell, cols, rows = _page_plan(ctx, bw, bh, len(counts))
            parts = [(x, y) for y in range(gy0, gy1, rows) for x in range(gx0, gx1, cols)]
            name = board_label(by, bx)
            for n, (px, py) in enumerate(parts):
                c.setPageSize(page)
                label = f" (part {n + 1} of {len(parts)})" if len(parts) > 1 else ""
                _draw_board_part(c, ctx, page, name, px, py, min(gx1, px + cols), min(gy1, py + rows), cell, label,
                                 counts)
            if progress is not None:
                progress(Progress(k + 1, len(boards), f"board {name}", elapsed=time.perf_counter() - t0))
        _draw_legend(c, ctx)
    log.info("bead chart: %d boards in %.2f s", len(boards), time.perf_counter() - t0)
    return Path(path)


def _load_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf", "Arial Bold.ttf", "arialbd.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


MAX_CHART_PX = limits.MAX_CHART_SIDE.value  # declared in engine.core.limits


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
    if max(w, h) > MAX_CHART_PX:
        raise ExportError(f"the chart would be {w}x{h} pixels (over {MAX_CHART_PX}); choose a smaller cell size")
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
    opts = BeadChartOptions(spares=spares)
    for k, (i, color, line) in enumerate(legend_rows(pattern, opts)):
        y = lay.row_y(k)
        draw.rectangle([x0, y, x0 + sw, y + sw], fill=tuple(color.rgb), outline=(90, 90, 90), width=1)
        draw_png_symbol(draw, x0 + sw / 2, y + sw / 2, symbols[i], sw * 0.7, ink[i], _load_font(int(sw * 0.62)))
        draw_png_symbol(draw, x0 + sw + 18, y + sw / 2, symbols[i], sw * 0.7, (0, 0, 0), _load_font(int(sw * 0.62)))
        text = f"{color.code}   {color.name}   {line.needed:,}"
        if spares.active:
            text += f"  (+{line.spares} spares = {line.total:,})"
        draw.text((x0 + sw + 40, y + sw / 2), text, fill=(0, 0, 0), font=text_font, anchor="lm")


# --------------------------------------------------------------------------- CLI protocol


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Options for bead-pdf and chart-png (--bag-size and --spares are declared in exporters.common.basic)."""
    g = parser.add_argument_group("bead-pdf / chart-png")
    g.add_argument("--paper", default="A4", help="bead-pdf: paper size A4, Letter or A3 (default A4)")
    g.add_argument("--board", default=None,
                   help="bead-pdf / chart-png: pegboard, e.g. 29x29 or one of: "
                        + ", ".join(f"'{k}'" for k in BOARDS if not k.startswith("brick")) + " (default: the medium's)")
    g.add_argument("--true-scale", action="store_true",
                   help="bead-pdf: print cells at the board's peg pitch (1:1) to lay under a clear pegboard")
    g.add_argument("--calibrate", default=None, metavar="N:X",
                   help="bead-pdf: N pegs of your board measure X mm (e.g. 50:140.6); the chart is printed at "
                        "X/N mm per peg (implies --true-scale)")
    g.add_argument("--large-print", action="store_true",
                   help=f"bead-pdf: large {LARGE_PRINT_MM:g} mm cells, one board spread over several pages")
    g.add_argument("--title", default="", help="bead-pdf / build-pdf: title on the first page")
    g.add_argument("--cell-px", type=int, default=24, help="chart-png: pixels per cell (default 24)")
    g.add_argument("--show", choices=("symbols", "codes"), default="symbols", help="chart-png: text in each cell")


def options_from_args(args: argparse.Namespace) -> BeadChartOptions:
    """BeadChartOptions from CLI/GUI option values."""
    return BeadChartOptions(paper=getattr(args, "paper", "A4"), board=getattr(args, "board", None),
                            true_scale=bool(getattr(args, "true_scale", False)),
                            bag_size=int_option(getattr(args, "bag_size", None), "bag size"),
                            title=getattr(args, "title", "") or "", calibrate=getattr(args, "calibrate", None) or None,
                            large_print=bool(getattr(args, "large_print", False)),
                            spares=spare_rule_from_args(args))


def export_cli(pattern: Pattern, fmt: str, out: Path, args: argparse.Namespace) -> list[Path]:
    """Write ``fmt`` for the CLI."""
    if fmt == "bead-pdf":
        return [export_bead_chart_pdf(pattern, out, options_from_args(args))]
    if fmt == "chart-png":
        return [export_chart_png(pattern, out, cell_px=int_option(args.cell_px, "cell size"), show=args.show,
                                 board=getattr(args, "board", None), spares=spare_rule_from_args(args))]
    raise ExportError(f"the bead chart exporter does not write {fmt!r}")


def describe_export(pattern: Pattern, fmt: str, paths: list[Path], args: argparse.Namespace) -> list[str]:
    """Summary lines for what ``export_cli`` just wrote: pages, boards, pitch, beads to buy."""
    opts = options_from_args(args)
    board = resolve_board(pattern, opts.board)
    nbx, nby = math.ceil(pattern.width / board.width), math.ceil(pattern.height / board.height)
    lines = [f"{pattern.width} x {pattern.height} beads on {nbx} x {nby} boards of {board.name}, "
             f"{len(pattern.used_indices())} colours, {pattern.filled_cells:,} beads"]
    if fmt == "bead-pdf" and paths:
        try:
            from pypdf import PdfReader

            lines.append(f"{len(PdfReader(str(paths[0])).pages)} pages")
        except Exception:  # noqa: BLE001 - a summary line must never fail the export
            pass
        if _true_scale(opts):
            ctx_pitch = chart_pitch_mm(pattern, board, opts)
            how = ("calibrated" if parse_calibration(opts.calibrate) else
                   "measured board pitch" if board.pitch_mm > 0 else "nominal bead size: calibrate for a true fit")
            lines.append(f"true scale: {ctx_pitch:.3f} mm per peg ({how}); print at 100 %")
    shop = legend_rows(pattern, opts)
    if opts.spares.active:
        lines.append(f"{opts.spares.describe()}: {sum(ln.total for _, _, ln in shop):,} beads to buy")
    if opts.bag_size:
        lines.append(f"{sum(ln.packs or 0 for _, _, ln in shop)} bags of {opts.bag_size}")
    return lines
