"""Shared reportlab helpers for the vector PDF exporters: paper sizes, safe text, colours, fast cell drawing."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from reportlab import rl_config
from reportlab.lib.pagesizes import A3, A4, LETTER, landscape
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from engine.core.atomic import atomic_path
from engine.core.color import srgb_to_linear
from exporters.common.errors import ExportError

log = logging.getLogger(__name__)

PAPERS: dict[str, tuple[float, float]] = {"A4": A4, "LETTER": LETTER, "A3": A3}
MM = 72.0 / 25.4  # points per millimetre
FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"


def paper_size(name: str) -> tuple[float, float]:
    """Portrait (width, height) in points for a paper name (A4, Letter, A3; case-insensitive)."""
    key = str(name).strip().upper()
    if key not in PAPERS:
        raise ExportError(f"unknown paper size {name!r}; choose one of: A4, Letter, A3")
    return PAPERS[key]


def orient(size: tuple[float, float], landscape_page: bool) -> tuple[float, float]:
    """The page size turned to landscape when asked."""
    return landscape(size) if landscape_page else (min(size), max(size))


def pdf_text(text: object) -> str:
    """Text the base-14 fonts can show (WinAnsi); other characters become '?'."""
    return str(text).encode("cp1252", errors="replace").decode("cp1252")


def fit_text(text: str, font: str, size: float, width: float) -> str:
    """Shorten ``text`` with an ellipsis so it fits ``width`` points."""
    text = pdf_text(text)
    if stringWidth(text, font, size) <= width:
        return text
    text = text[: int(width / max(size * 0.1, 1e-3)) + 1]  # no glyph is narrower than 0.1 em: one cut
    lo, hi = 0, len(text)  # binary search for the longest prefix that fits with the ellipsis
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if stringWidth(text[:mid] + "...", font, size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "..."


def wrap_text(text: str, font: str, size: float, width: float) -> list[str]:
    """Break ``text`` into lines of whole words that fit ``width`` points (a word longer than a line is cut)."""
    lines: list[str] = []
    for para in pdf_text(text).split("\n"):
        line = ""
        for word in para.split():
            trial = f"{line} {word}" if line else word
            if stringWidth(trial, font, size) <= width or not line:
                line = trial if stringWidth(trial, font, size) <= width else fit_text(trial, font, size, width)
            else:
                lines.append(line)
                line = word if stringWidth(word, font, size) <= width else fit_text(word, font, size, width)
        lines.append(line)
    return lines


def contrast_rgb(rgb: Sequence[int]) -> tuple[float, float, float]:
    """Black or white (0-1 floats), whichever reads better on an sRGB (0-255) background."""
    lin = srgb_to_linear(np.asarray(rgb[:3], dtype=np.float64) / 255.0)
    lum = float(0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2])
    # Contrast ratio against black vs white (WCAG); pick the larger.
    return (0.0, 0.0, 0.0) if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else (1.0, 1.0, 1.0)


def grid_label(row: int, col: int) -> str:
    """'A1' style name: letters count rows (A, B, ... Z, AA ...), numbers count columns (from 1)."""
    letters = ""
    n = row + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return f"{letters}{col + 1}"


def _num(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") or "0"


def fill_cells(c: Canvas, rgb: Sequence[int], rects: Sequence[tuple[float, float, float, float]]) -> None:
    """Fill many rectangles of one colour with one path (one `re` operator per rectangle)."""
    if not len(rects):
        return
    c.setFillColorRGB(*(float(v) / 255.0 for v in rgb[:3]))
    parts = [f"{_num(x)} {_num(y)} {_num(w)} {_num(h)} re" for x, y, w, h in rects]
    parts.append("f")
    c.addLiteral("\n".join(parts))


def stroke_lines(c: Canvas, segments: Sequence[tuple[float, float, float, float]], width: float,
                 gray: float = 0.0) -> None:
    """Stroke straight segments (x0, y0, x1, y1) in one path."""
    if not len(segments):
        return
    c.setLineWidth(width)
    c.setStrokeGray(gray)
    parts = [f"{_num(a)} {_num(b)} m {_num(x)} {_num(y)} l" for a, b, x, y in segments]
    parts.append("S")
    c.addLiteral("\n".join(parts))


def _pdf_string(text: str) -> str:
    """A PDF literal string for WinAnsi text, ASCII only (octal escapes)."""
    out = []
    for byte in pdf_text(text).encode("cp1252"):
        ch = chr(byte)
        if ch in "()\\":
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return "(" + "".join(out) + ")"


def centered_symbols(c: Canvas, items: Sequence[tuple[float, float, str]], font: str, size: float,
                     rgb: tuple[float, float, float]) -> None:
    """Draw short strings centred at (x, y) points, all in one text object (fast path for many cells)."""
    if not items:
        return
    c.setFont(font, size)  # registers the font on the page
    try:
        internal = c._doc.getInternalFontName(font)
    except AttributeError:  # pragma: no cover - older/newer reportlab without the helper: slow path
        for x, y, s in items:
            c.setFillColorRGB(*rgb)
            c.drawCentredString(x, y - size * 0.35, s)
        return
    widths: dict[str, tuple[float, str]] = {}
    dy = size * 0.35
    ops = [f"BT {internal} {_num(size)} Tf {_num(rgb[0])} {_num(rgb[1])} {_num(rgb[2])} rg"]
    for x, y, s in items:
        hit = widths.get(s)
        if hit is None:
            hit = widths[s] = (stringWidth(pdf_text(s), font, size) / 2.0, _pdf_string(s))
        ops.append(f"1 0 0 1 {x - hit[0]:.2f} {y - dy:.2f} Tm {hit[1]} Tj")
    ops.append("ET")
    c.addLiteral("\n".join(ops))


def label_box(c: Canvas, xm: float, ym: float, text: str, size: float) -> None:
    """Draw ``text`` centred at (xm, ym) in bold on a white box, readable over coloured cells."""
    w = stringWidth(text, FONT_BOLD, size)
    c.setFillColorRGB(1, 1, 1)
    c.rect(xm - w / 2 - 1.5, ym - size * 0.45, w + 3, size * 1.15, stroke=0, fill=1)
    c.setFillGray(0)
    c.setFont(FONT_BOLD, size)
    c.drawCentredString(xm, ym - size * 0.3, text)


def run_rects(mask: np.ndarray, x0: float, y_top: float, cell: float) -> list[tuple[float, float, float, float]]:
    """Rectangles covering the True cells of ``mask`` as horizontal runs (row 0 at the top)."""
    rects = []
    for r in range(mask.shape[0]):
        row = mask[r]
        if not row.any():
            continue
        d = np.diff(np.concatenate(([0], row.view(np.int8), [0])))
        starts = np.flatnonzero(d == 1)
        ends = np.flatnonzero(d == -1)
        y = y_top - (r + 1) * cell
        for s, e in zip(starts, ends):
            rects.append((x0 + s * cell, y, (e - s) * cell, cell))
    return rects


@contextmanager
def pdf_canvas(path: str | Path, title: str, page_size: tuple[float, float]) -> Iterator[Canvas]:
    """A compressed reportlab canvas writing atomically to ``path`` (saved on success, nothing left on error)."""
    path = Path(path)
    old_a85 = rl_config.useA85
    rl_config.useA85 = 0  # binary Flate streams: smaller and faster than ASCII85 on top
    try:
        with atomic_path(path) as tmp:
            c = Canvas(str(tmp), pagesize=page_size, pageCompression=1)
            c.setTitle(pdf_text(title))
            c.setCreator("piXL Studio")
            c.setAuthor("piXL Studio")
            yield c
            c.save()
    finally:
        rl_config.useA85 = old_a85
    log.info("wrote PDF %s", path)
