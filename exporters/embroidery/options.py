"""How a pattern becomes stitches: the embroidery options, declared once (flags, labels, units, choices, formats),
and the checks of their values."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.sizes import parse_pair
from exporters.common.errors import ExportError
from exporters.common.optspec import KIND_TEXT, option
from exporters.embroidery.formats import MACHINE_FORMATS, MAX_TRIM_DISTANCE_MM, PREVIEW_FORMAT
from exporters.embroidery.report import SEWING_TIME
from exporters.embroidery.threads import MATCH_CHOICES, MATCH_LABELS, chart_choices, chart_labels

# Longest stitch a user may ask for (mm): DST records reach 12.1 mm per axis.
MAX_STITCH_LIMIT_MM = 12.0
# Choices of the fill direction (degrees; 0: horizontal rows, 90: vertical rows).
FILL_ANGLES = (0, 90)
STITCH_MODES = ("fill", "cross")
ORDERINGS = ("optimized", "rows")
ALL = MACHINE_FORMATS + (PREVIEW_FORMAT,)  # every embroidery option applies to every embroidery format
_SIZE, _FILL, _CROSS, _THREADS, _CHECKS = "Size", "Fill", "Cross stitch", "Threads", "Checks and report"


def _design_size(text: str) -> tuple[float, float]:
    """WIDTHxHEIGHT in mm (the one size parser)."""
    return parse_pair(text, "design size", "mm")


@dataclass
class EmbroideryOptions:
    """How a pattern becomes stitches, declared once for the CLI, the app and the API (``exporters.common.optspec``).
    Defaults follow the reference tatami values (see the facts sheet). Fields without option metadata
    (``target_format``, ``tie_stitches``, ``ordering``) are set by code, not by the user."""

    cell_mm: float | None = option(None, flag="--cell-mm", label="Cell size", unit="mm", formats=ALL, minimum=0.5,
                                   group=_SIZE, help="size of one cell (empty: the thread pattern's pitch, else 2 mm)")
    design_mm: tuple[float, float] | None = option(
        None, flag="--design-mm", label="Design size", unit="mm", formats=ALL, kind=KIND_TEXT, parse=_design_size,
        metavar="WxH", group=_SIZE, help="total design size WIDTHxHEIGHT, instead of the cell size")
    mode: str = option("fill", flag="--stitch-mode", label="Stitches", formats=ALL, choices=STITCH_MODES,
                       choice_labels={"fill": "tatami fill per colour region", "cross": "one cross per cell"},
                       help="how each colour is sewn")
    row_spacing_mm: float = option(0.4, flag="--row-spacing", label="Row spacing", unit="mm", formats=ALL,
                                   minimum=0.1, group=_FILL, help="distance between tatami rows (fill)")
    max_stitch_mm: float = option(3.0, flag="--max-stitch", label="Longest stitch", unit="mm", formats=ALL,
                                  minimum=0.5, maximum=MAX_STITCH_LIMIT_MM, group=_FILL,
                                  help="longer stitches are split")
    underlay: bool = option(True, flag="--no-underlay", label="Underlay", formats=ALL, group=_FILL,
                            help="sew a perpendicular underlay before each fill")
    overlap_mm: float = option(0.2, flag="--overlap-mm", label="Overlap", unit="mm", formats=ALL, minimum=0,
                               group=_FILL, help="how far fills reach into neighbouring colours")
    trim_distance_mm: float = option(3.0, flag="--trim-distance", label="Trim jumps longer than", unit="mm",
                                     formats=ALL, minimum=0, maximum=MAX_TRIM_DISTANCE_MM,
                                     help="cut the thread before longer jumps (VP3: before every jump)")
    hoop: str | None = option(None, flag="--hoop", label="Hoop", unit="mm", formats=ALL, metavar="WxH",
                              group=_CHECKS, help="the hoop's sewing field WIDTHxHEIGHT to check the design against "
                                                  "(empty: the smallest listed hoop that fits)")
    strict_hoop: bool = option(False, flag="--hoop-strict", label="Refuse designs larger than the hoop", formats=ALL,
                               group=_CHECKS, help="refuse a design that does not fit the hoop instead of warning")
    thread_chart: str = option("auto", flag="--thread-chart", label="Thread chart", formats=ALL,
                               choices=chart_choices(), choice_labels=chart_labels(), group=_THREADS,
                               help="the thread range colours are mapped to")
    thread_match: str = option("auto", flag="--thread-match", label="Thread matching", formats=ALL,
                               choices=MATCH_CHOICES, choice_labels=MATCH_LABELS, group=_THREADS,
                               help="how pattern colours pick threads")
    fill_angle: int = option(0, flag="--fill-angle", label="Fill direction", unit="°", formats=ALL, choices=FILL_ANGLES,
                             choice_labels={0: "horizontal rows", 90: "vertical rows"}, group=_FILL,
                             help="direction of the tatami rows")
    pull_compensation_mm: float = option(0.2, flag="--pull-comp", label="Pull compensation", unit="mm", formats=ALL,
                                         minimum=0, group=_FILL,
                                         help="rows reach this far past edges at empty cells or the border")
    min_stitch_mm: float = option(0.3, flag="--min-stitch", label="Shortest stitch", unit="mm", formats=ALL,
                                  minimum=0, maximum=1.0, help="shorter stitches are dropped")
    cross_repeats: int = option(1, flag="--cross-repeats", label="Passes per leg", formats=ALL, choices=(1, 3, 5),
                                group=_CROSS, help="cross stitch: each leg sewn this many times, back and forth")
    merge_tiny: bool = option(False, flag="--merge-tiny", label="Merge tiny regions", formats=ALL, group=_FILL,
                              help="give regions smaller than the smallest fill the colour of the neighbour that "
                                   "borders them most")
    min_fill_mm2: float = option(20.0, flag="--min-fill-mm2", label="Smallest fill", unit="mm²", formats=ALL,
                                 minimum=0, group=_FILL, help="fill regions under this area are warned about "
                                 "(and merged when merging tiny regions)")
    max_color_changes: int = option(12, flag="--max-color-changes", label="Colour changes before a warning",
                                    formats=ALL, minimum=0, group=_CHECKS,
                                    help="warn above this many colour changes (re-threads on a single-needle machine)")
    stitches_per_minute: float = option(SEWING_TIME.stitches_per_minute, flag="--sewing-speed", label="Sewing speed",
                                        unit="stitches/min", formats=ALL, minimum=1, group=_CHECKS,
                                        help="machine speed for the sewing-time estimate")
    target_format: str | None = None  # the format being written (picks the chart, trims every move in VP3)
    tie_stitches: bool = True
    ordering: str = "optimized"  # "rows": naive row-by-row baseline (each run on its own), for comparisons


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
