"""Export options checked against the resource budgets (engine.core.limits) before any exporter runs.

One call for the CLI and the GUI: ``check_export(pattern, fmt, args)``. It refuses non-finite numbers,
images over the pixel budget, PDFs over the page budget and embroideries over the size/stitch budget, and
clips a long title in one step, all before anything is allocated or written.
"""

from __future__ import annotations

import argparse
import math

from engine.core import limits
from engine.core.pattern import Pattern
from exporters.common.errors import ExportError

_EMBROIDERY = ("dst", "pes", "jef", "exp", "vp3", "stitch-png")


def _opt(args: argparse.Namespace, name: str, default=None):
    return getattr(args, name, default)


def _int(value, name: str, low: int = 1) -> int | None:
    if value is None:
        return None
    try:
        v = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ExportError(f"--{name} must be a whole number, got {str(value)[:40]!r}") from None
    if v < low:
        raise ExportError(f"--{name} must be at least {low}, got {v}")
    return v


def check_numbers(args: argparse.Namespace) -> None:
    """Every float option must be finite (inf, NaN and overflowing numbers are refused with the option name)."""
    for key, value in vars(args).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ExportError(f"--{key.replace('_', '-')} must be a finite number, got {value}")


def _embroidery_cells(pattern: Pattern, args: argparse.Namespace) -> tuple[float, float]:
    design = _opt(args, "design_mm")
    if design:
        try:
            w, h = (float(v) for v in str(design).lower().replace("mm", "").split("x"))
        except ValueError:
            return 0.0, 0.0  # the exporter reports the malformed value
        if not (math.isfinite(w) and math.isfinite(h)):
            raise ExportError(f"--design-mm must be finite numbers, got {design!r}")
        return w / pattern.width, h / pattern.height
    cell = _opt(args, "cell_mm")
    if cell is None:
        cell = pattern.medium.pitch_mm if pattern.medium is not None and pattern.medium.kind == "thread" else 2.0
    return float(cell), float(cell)


def check_export(pattern: Pattern, fmt: str, args: argparse.Namespace) -> None:
    """Refuse an export whose output would exceed a budget; clips ``args.title`` in place. Raises ExportError."""
    check_numbers(args)
    if isinstance(_opt(args, "title"), str):
        args.title = limits.clip_title(args.title)
    w, h = pattern.width, pattern.height
    try:
        if fmt == "png":
            s = _int(_opt(args, "scale", 1), "scale") or 1
            limits.check_output_pixels(w * s, h * s, f"the PNG at --scale {s}")
        elif fmt == "chart-png":
            s = _int(_opt(args, "cell_px", 24), "cell-px") or 24
            limits.check_output_pixels(w * s, h * s, f"the chart PNG at --cell-px {s}")
        elif fmt == "bead-pdf":
            from exporters.beads.chart import resolve_board

            board = resolve_board(pattern, _opt(args, "board"))
            pages = math.ceil(w / board.width) * math.ceil(h / board.height) + 2
            limits.check_pages(pages, f"the bead chart on {board.name} boards")
        elif fmt == "build-pdf":
            s = _int(_opt(args, "section", 16), "section") or 16
            limits.check_pages(math.ceil(w / s) * math.ceil(h / s) + 2, f"the build PDF with {s}-stud sections")
        elif fmt in _EMBROIDERY:
            cw, ch = _embroidery_cells(pattern, args)
            limits.MAX_DESIGN_MM.check(max(cw * w, ch * h), f"the {w} x {h} cell embroidery at {cw:g} mm per cell")
            if cw > 0 and ch > 0:
                est = limits.estimate_fill_stitches(pattern.filled_cells, cw, ch,
                                                    float(_opt(args, "row_spacing", 0.4) or 0.4),
                                                    float(_opt(args, "max_stitch", 3.0) or 3.0))
                limits.check_stitches(est, f"the {w} x {h} cell embroidery at {cw:g} mm per cell")
    except limits.LimitError as exc:
        raise ExportError(str(exc)) from None
