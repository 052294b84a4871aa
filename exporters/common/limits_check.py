"""Resource limits (engine.core.limits) checked for an export before anything is allocated or written.

Each exporter's ``check(pattern, fmt, options)`` calls the functions here for what it is about to make: an image
(:func:`check_image`), a PDF (:func:`check_pdf_pages`), an embroidery (:func:`check_embroidery`). Each raises
:class:`ExportError` with one line naming the limit and how to raise it. Sizes typed as text ("100000×100000") go
through the one size parser (engine.core.sizes), so what the check reads is what the exporter would make.

"Budget" elsewhere in the project means the colour budget of the converter; here it is always "limit".
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from engine.core import limits
from engine.core.pattern import Pattern
from engine.core.sizes import SizeError, parse_number, parse_pair
from exporters.common.errors import ExportError

DEFAULT_EMBROIDERY_CELL_MM = 2.0  # cell size of a non-thread pattern sewn without --cell-mm / --design-mm


def _refuse(exc: Exception) -> ExportError:
    return ExportError(str(exc))


def _values(options: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(options) and not isinstance(options, type):
        return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    return dict(options or {})


def check_finite(options: Any) -> None:
    """Every float option must be finite (inf, NaN and overflowing numbers are refused with the option name)."""
    for key, value in _values(options).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ExportError(f"{key.replace('_', ' ')} must be a finite number, got {value}")


def check_image(width_px: float, height_px: float, subject: str = "the image",
                side: limits.Limit = limits.MAX_IMAGE_SIDE) -> None:
    """Refuse an exported image over the side limit ``side`` or the pixel limit (before the array is made)."""
    try:
        limits.check_output_pixels(width_px, height_px, subject)
        side.check(max(width_px, height_px), f"{subject} ({width_px:g} x {height_px:g} pixels)")
    except limits.LimitError as exc:
        raise _refuse(exc) from None


def check_pdf_pages(pages: int, subject: str = "the PDF") -> None:
    """Refuse a PDF over the page limit."""
    try:
        limits.check_pages(pages, subject)
    except limits.LimitError as exc:
        raise _refuse(exc) from None


def embroidery_cell_mm(pattern: Pattern, cell_mm: Any = None, design_mm: Any = None) -> tuple[float, float]:
    """(width, height) of one cell in mm: from the design size (text such as "120×90 mm" or a pair), else the
    cell size, else the thread medium's pitch, else :data:`DEFAULT_EMBROIDERY_CELL_MM`."""
    try:
        if design_mm not in (None, ""):
            w, h = parse_pair(design_mm, "design size", "mm") if isinstance(design_mm, str) else design_mm
            w, h = float(w), float(h)
            for v in (w, h):
                if not math.isfinite(v) or v <= 0:
                    raise ExportError(f"design size must be finite sizes above 0 mm, got {design_mm!r}")
            return w / pattern.width, h / pattern.height
        if cell_mm in (None, ""):
            medium = pattern.medium
            cell = medium.pitch_mm if medium is not None and medium.kind == "thread" else DEFAULT_EMBROIDERY_CELL_MM
        else:
            cell = parse_number(cell_mm, "cell size", "mm", positive=True) if isinstance(cell_mm, str) \
                else float(cell_mm)
    except SizeError as exc:
        raise _refuse(exc) from None
    if not math.isfinite(cell) or cell <= 0:
        raise ExportError(f"cell size must be a finite size above 0 mm, got {cell_mm!r}")
    return float(cell), float(cell)


def check_embroidery(pattern: Pattern, cell_mm: Any = None, design_mm: Any = None, row_spacing_mm: float = 0.4,
                     max_stitch_mm: float = 3.0) -> tuple[float, float]:
    """Refuse an embroidery over the design-size or stitch limit, before any stitch is planned.

    Returns the cell size (width, height) in mm that was checked."""
    cw, ch = embroidery_cell_mm(pattern, cell_mm, design_mm)
    w, h = pattern.width, pattern.height
    subject = f"the {w} x {h} cell embroidery at {cw:g} x {ch:g} mm per cell"
    try:
        limits.MAX_DESIGN_MM.check(max(cw * w, ch * h), subject)
        est = limits.estimate_fill_stitches(pattern.filled_cells, cw, ch, float(row_spacing_mm or 0.4),
                                            float(max_stitch_mm or 3.0))
        limits.check_stitches(est, subject)
    except limits.LimitError as exc:
        raise _refuse(exc) from None
    return cw, ch
