"""How a pattern becomes stitches: the embroidery options, their checks, and the cell size they give."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.pattern import Pattern
from exporters.common.errors import ExportError
from exporters.embroidery.formats import MAX_TRIM_DISTANCE_MM
from exporters.embroidery.report import SEWING_TIME

# Longest stitch a user may ask for (mm): DST records reach 12.1 mm per axis.
MAX_STITCH_LIMIT_MM = 12.0
# Choices of the fill direction (degrees; 0: horizontal rows, 90: vertical rows).
FILL_ANGLES = (0, 90)
STITCH_MODES = ("fill", "cross")
ORDERINGS = ("optimized", "rows")
# Cell size when neither the options nor a thread pattern's medium give one (mm).
DEFAULT_CELL_MM = 2.0


@dataclass
class EmbroideryOptions:
    """How a pattern becomes stitches. Defaults follow the reference tatami values (see the facts sheet).

    cell_mm: size of one cell (default: the medium's pitch for thread patterns, else 2.0 mm);
    design_mm: alternatively the total (width, height) in mm (cells may then be non-square);
    mode: "fill" (tatami per colour region) or "cross" (one machine cross per cell).
    """

    cell_mm: float | None = None
    design_mm: tuple[float, float] | None = None
    mode: str = "fill"
    row_spacing_mm: float = 0.4
    max_stitch_mm: float = 3.0
    underlay: bool = True
    overlap_mm: float = 0.2
    trim_distance_mm: float = 3.0
    hoop: str | None = None
    thread_chart: str | None = None  # None/"auto": the machine chart of the target format; "pattern": own threads
    thread_match: str = "auto"  # "nearest", "distinct" (one-to-one), "auto" (distinct)
    target_format: str | None = None  # the machine format being written (picks the chart, trims every move in VP3)
    strict_hoop: bool = False
    tie_stitches: bool = True
    ordering: str = "optimized"  # "rows": naive row-by-row baseline (each run on its own), for comparisons
    pull_compensation_mm: float = 0.2  # fill rows reach this far past edges at empty cells or the border
    min_stitch_mm: float = 0.3  # stitches shorter than this are dropped
    fill_angle: int = 0  # 0: horizontal tatami rows, 90: vertical rows (underlay perpendicular)
    cross_repeats: int = 1  # cross stitch: each leg sewn this many times (odd)
    merge_tiny: bool = False  # merge regions under min_fill_mm2 into a neighbour's colour before stitching
    min_fill_mm2: float = 20.0  # fills smaller than this are warned about (and merged with merge_tiny)
    max_color_changes: int = 12  # more colour changes than this are warned about
    stitches_per_minute: float = SEWING_TIME.stitches_per_minute  # sewing speed of the time estimate


def resolve_cell_size(pattern: Pattern, options: EmbroideryOptions) -> tuple[float, float]:
    """(cell width, cell height) in mm from the options (design size wins over cell size)."""
    if options.design_mm is not None:
        try:
            w, h = (float(v) for v in options.design_mm)
        except (TypeError, ValueError):
            raise ExportError(f"design size must be two numbers (width, height) in mm, got {options.design_mm!r}")
        if not (w > 0 and h > 0):
            raise ExportError(f"design size must be positive, got {w} x {h} mm")
        return w / pattern.width, h / pattern.height
    if options.cell_mm is not None:
        c = float(options.cell_mm)
    elif pattern.medium is not None and pattern.medium.kind == "thread":
        c = float(pattern.medium.pitch_mm)
    else:
        c = DEFAULT_CELL_MM
    if not c > 0:
        raise ExportError(f"cell size must be positive, got {c} mm")
    return c, c


def validate_options(options: EmbroideryOptions, cw: float, ch: float) -> None:
    """Raise ExportError (one line, plain words) for options that cannot be stitched with cells of cw x ch mm."""
    if options.ordering not in ORDERINGS:
        raise ExportError(f"ordering must be 'optimized' or 'rows', got {options.ordering!r}")
    if options.mode not in STITCH_MODES:
        raise ExportError(f"stitch mode must be 'fill' or 'cross', got {options.mode!r}")
    if not 0.5 <= options.max_stitch_mm <= MAX_STITCH_LIMIT_MM:
        raise ExportError(f"the longest stitch must be between 0.5 and {MAX_STITCH_LIMIT_MM:g} mm "
                          f"(DST cannot encode longer), got {options.max_stitch_mm}")
    if min(cw, ch) < 0.5:
        raise ExportError(f"cells of {cw:.2f} x {ch:.2f} mm are too small to stitch; use at least 0.5 mm per cell "
                          "(a larger cell size or design size)")
    if options.mode == "fill":
        if not 0.1 <= options.row_spacing_mm <= min(cw, ch):
            raise ExportError(f"row spacing must be between 0.1 mm and the cell size ({min(cw, ch):.2f} mm), "
                              f"got {options.row_spacing_mm}")
    if not 0 <= options.overlap_mm <= min(cw, ch) / 2:
        raise ExportError(f"overlap must be between 0 and half a cell ({min(cw, ch) / 2:.2f} mm), "
                          f"got {options.overlap_mm}")
    if not 0 <= options.trim_distance_mm <= MAX_TRIM_DISTANCE_MM:
        raise ExportError(f"trim distance must be between 0 and {MAX_TRIM_DISTANCE_MM:g} mm (DST and JEF machines "
                          f"trim longer jumps anyway), got {options.trim_distance_mm}")
    if not 0 <= options.pull_compensation_mm <= min(cw, ch) / 2:
        raise ExportError(f"pull compensation must be between 0 and half a cell ({min(cw, ch) / 2:.2f} mm), "
                          f"got {options.pull_compensation_mm}")
    if not 0 <= options.min_stitch_mm <= min(1.0, options.max_stitch_mm / 2):
        raise ExportError(f"the shortest stitch must be between 0 and 1 mm, got {options.min_stitch_mm}")
    if options.fill_angle not in FILL_ANGLES:
        raise ExportError(f"fill angle must be one of {', '.join(map(str, FILL_ANGLES))} degrees, "
                          f"got {options.fill_angle}")
    if options.cross_repeats < 1 or options.cross_repeats % 2 == 0:
        raise ExportError(f"cross repeats must be an odd number (1, 3, 5), got {options.cross_repeats}")
    if options.min_fill_mm2 < 0 or options.max_color_changes < 0:
        raise ExportError("the smallest fill area and the colour-change limit must be 0 or more")
    if not options.stitches_per_minute > 0:
        raise ExportError(f"sewing speed must be positive (stitches per minute), got {options.stitches_per_minute}")
