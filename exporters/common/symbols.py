"""Chart symbols designed to be told apart at 2.6-5 mm: vector shapes, letters and digits without look-alikes.

* No look-alike characters: never ' ` . , | / 1 I i l 0 O o, no c/C or s/S, no 2/Z, 5, 6, 8, g, q (read as
  S, G, B, 9), and no accented letters (FORBIDDEN lists every excluded character).
* Geometric shapes (filled and open circle, square, triangles, diamond, star, plus, cross) are drawn as
  vector paths (PDF) or polygons (PNG), not font glyphs; a shape symbol is stored as its Unicode character
  (``SHAPES``) so it still reads in text, but renderers call ``draw_pdf_symbols`` / ``draw_png_symbol``.
* The pool is ordered clearest first: filled shapes, capitals, digits, lowercase, open shapes, then
  capital + digit and capital + lowercase pairs (300+ symbols, so 100+ colours get distinct symbols).
* ``symbols_for`` with counts gives the most used colours the clearest symbols, and keeps similar colours
  (CIEDE2000 under ``SIMILAR_DE``) out of the same symbol family (E/F, P/R/B, a filled and an open circle...).
"""

from __future__ import annotations

import math
from itertools import product
from typing import Mapping, Sequence

import numpy as np

from engine.core.color import ciede2000
from engine.core.palette import Palette

FORBIDDEN = frozenset("'`.,|/\\1Iil0OocCsS2Z568gq;:!\"-_~")

# Unicode character -> (shape geometry, filled?). Drawn as vector shapes, never as font glyphs.
SHAPES: dict[str, tuple[str, bool]] = {
    "\u25cf": ("circle", True), "\u25a0": ("square", True), "\u25b2": ("tri_up", True),
    "\u25c6": ("diamond", True), "\u2605": ("star", True), "\u271a": ("plus", True),
    "\u25bc": ("tri_down", True), "\u2716": ("cross", True),
    "\u25cb": ("circle", False), "\u25a1": ("square", False), "\u25b3": ("tri_up", False),
    "\u25c7": ("diamond", False), "\u2606": ("star", False), "\u25bd": ("tri_down", False),
}
_FILLED = [s for s, (_, f) in SHAPES.items() if f]
_OPEN = [s for s, (_, f) in SHAPES.items() if not f]
_UPPER = [ch for ch in "ABDEFGHJKLMNPQRTUVWXY" if ch not in FORBIDDEN]
_DIGITS = [ch for ch in "3479"]
_LOWER = [ch for ch in "abdehnrty"]
_PAIRS = [a + b for a, b in product(_UPPER, _DIGITS)] + [a + b for a, b in product(_UPPER, _LOWER)]

# Clearest first.
POOL: tuple[str, ...] = tuple(_FILLED + _UPPER + _DIGITS + _LOWER + _OPEN + _PAIRS)

# Look-alike families: two similar colours never get symbols from the same family.
_FAMILIES = ["EF", "PRB", "MNH", "UVY", "KX", "DQ", "bd", "hn", "ae", "TY", "A4", "7T", "9a", "ry", "Ht"]
SIMILAR_DE = 12.0


def family(symbol: str) -> str:
    """The look-alike family of a symbol (shapes: their geometry, filled or open; pairs: their letter)."""
    if symbol in SHAPES:
        return "shape:" + SHAPES[symbol][0]
    key = symbol[0]
    for fam in _FAMILIES:
        if key in fam:
            return "chars:" + fam
    return "chars:" + key


def is_legible(symbol: str | None) -> bool:
    """True for a symbol of the legible pool (what charts may show)."""
    return bool(symbol) and symbol in POOL


def symbols_for(palette: Palette, indices: Sequence[int], counts: Mapping[int, int] | np.ndarray | None = None,
                ) -> dict[int, str]:
    """Palette index -> symbol for the colours ``indices``, all distinct and all from the legible pool.

    Without ``counts`` the assignment is stable: a colour keeps a legible symbol of its own palette, else gets
    the pool symbol at its palette position (the same colour has the same symbol in every design). With
    ``counts`` (index -> cells) the most used colours get the clearest symbols and colours closer than
    ``SIMILAR_DE`` get symbols from different look-alike families.
    """
    indices = sorted({int(i) for i in indices})
    if len(indices) > len(POOL):
        raise ValueError(f"a chart can show at most {len(POOL)} colours, this design uses {len(indices)}")
    if counts is None:
        return _stable(palette, indices)
    order = sorted(indices, key=lambda i: (-int(counts[i]), i))
    lab = palette.lab
    result: dict[int, str] = {}
    taken: set[str] = set()
    for i in order:
        near = [j for j in result if float(ciede2000(lab[i], lab[j])) < SIMILAR_DE]
        avoid = {family(result[j]) for j in near}
        free = [s for s in POOL if s not in taken]
        pick = next((s for s in free if family(s) not in avoid), free[0])
        result[i] = pick
        taken.add(pick)
    return result


def _stable(palette: Palette, indices: list[int]) -> dict[int, str]:
    result: dict[int, str] = {}
    taken: set[str] = set()
    for i in indices:
        sym = palette[i].symbol
        if is_legible(sym) and sym not in taken:
            result[i] = sym
            taken.add(sym)
    missing = [i for i in indices if i not in result]
    if len(palette) <= len(POOL):
        for i in missing:  # by palette position: the same colour gets the same symbol in every design
            if POOL[i] not in taken:
                result[i] = POOL[i]
                taken.add(POOL[i])
        missing = [i for i in missing if i not in result]
    free = iter(s for s in POOL if s not in taken)
    for i in missing:
        result[i] = next(free)
    return result


# --------------------------------------------------------------------------- geometry


def _regular(n: int, r: float, start: float) -> list[tuple[float, float]]:
    return [(r * math.cos(start + 2 * math.pi * k / n), r * math.sin(start + 2 * math.pi * k / n)) for k in range(n)]


def _plus(w: float, r: float) -> list[tuple[float, float]]:
    return [(-w, r), (w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r), (-w, -r), (-w, -w), (-r, -w), (-r, w),
            (-w, w)]


def _star() -> list[tuple[float, float]]:
    pts = []
    for k in range(10):
        r = 1.0 if k % 2 == 0 else 0.42
        a = math.pi / 2 + math.pi * k / 5
        pts.append((r * math.cos(a), r * math.sin(a)))
    return pts


_C45 = math.sqrt(0.5)
_GEOMETRY: dict[str, list[tuple[float, float]]] = {
    "circle": _regular(32, 0.88, 0.0),
    "square": [(-0.78, -0.78), (0.78, -0.78), (0.78, 0.78), (-0.78, 0.78)],
    "tri_up": [(0.0, 0.95), (0.92, -0.72), (-0.92, -0.72)],
    "tri_down": [(0.0, -0.95), (-0.92, 0.72), (0.92, 0.72)],
    "diamond": [(0.0, 1.0), (0.85, 0.0), (0.0, -1.0), (-0.85, 0.0)],
    "star": _star(),
    "plus": _plus(0.22, 0.95),
    "cross": [((x - y) * _C45, (x + y) * _C45) for x, y in _plus(0.22, 1.05)],
}


def shape_outline(symbol: str, x: float, y: float, radius: float, y_up: bool = True) -> list[tuple[float, float]]:
    """Polygon of a shape symbol centred at (x, y) with ``radius`` (y grows up for PDF, down for images)."""
    sign = 1.0 if y_up else -1.0
    return [(x + px * radius, y + sign * py * radius) for px, py in _GEOMETRY[SHAPES[symbol][0]]]


def _pdf_shape_forms(c) -> dict[str, str]:
    """Shape symbol -> XObject name of a unit-size form drawing it (defined once per canvas, in the current colour).

    Each chart cell then costs one short ``q s 0 0 s x y cm /Name Do Q`` instead of a whole polygon, which keeps
    a 100-board chart as small as with text symbols.
    """
    forms = getattr(c, "_pixl_shape_forms", None)
    if forms is None:
        forms = {}
        for sym, (geo, filled) in SHAPES.items():
            key = f"pixl_{geo}_{'fill' if filled else 'open'}"
            pts = _GEOMETRY[geo]
            path = f"{pts[0][0]:.4f} {pts[0][1]:.4f} m " + " ".join(f"{x:.4f} {y:.4f} l" for x, y in pts[1:]) + " h"
            c.beginForm(key, -1.4, -1.4, 1.4, 1.4)
            c.addLiteral(path + (" f" if filled else " 0.26 w S"))
            c.endForm()
            forms[sym] = c._doc.getXObjectName(key)
            forms["form:" + sym] = key
        c._pixl_shape_forms = forms
    return forms


def draw_pdf_symbols(c, items: Sequence[tuple[float, float, str]], font: str, size: float,
                     rgb: tuple[float, float, float]) -> None:
    """Draw chart symbols centred at (x, y): text in one text object, shapes as vector forms (filled or outlined)."""
    from exporters.common.pdf import centered_symbols  # local: pdf helpers import nothing from here

    text = [it for it in items if it[2] not in SHAPES]
    centered_symbols(c, text, font, size, rgb)
    shapes = [it for it in items if it[2] in SHAPES]
    if not shapes:
        return
    forms = _pdf_shape_forms(c)
    radius = size * 0.42
    c.setFillColorRGB(*rgb)
    c.setStrokeColorRGB(*rgb)
    ops = [f"q {radius:.3f} 0 0 {radius:.3f} {x:.2f} {y:.2f} cm /{forms[sym]} Do Q" for x, y, sym in shapes]
    c.addLiteral("\n".join(ops))
    for sym in {sym for _, _, sym in shapes}:
        c._formsinuse.append(forms["form:" + sym])


def draw_png_symbol(draw, x: float, y: float, symbol: str, size: float, ink: tuple[int, int, int], font) -> None:
    """Draw one chart symbol centred at (x, y) on a PIL ImageDraw (shapes as polygons, text in ``font``)."""
    if symbol in SHAPES:
        pts = shape_outline(symbol, x, y, size * 0.42, y_up=False)
        if SHAPES[symbol][1]:
            draw.polygon(pts, fill=ink)
        else:
            draw.polygon(pts, outline=ink, width=max(1, round(size * 0.11)))
    else:
        draw.text((x, y), symbol, fill=ink, font=font, anchor="mm")
