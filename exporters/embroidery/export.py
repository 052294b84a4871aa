"""Machine embroidery export: pixel regions as tatami fills or one cross per cell, written to DST, PES,
JEF, EXP and VP3, plus a stitch preview PNG. A thin layer over the parts:

* ``options`` - :class:`EmbroideryOptions`, their checks and the cell size;
* ``planner`` - threads, regions (tiny ones merged), sewing order, travel, trims, hoop: :func:`plan_embroidery`;
* ``plan`` - the stitch list with its ties (:class:`StitchPlan`);
* ``report`` - the counts (one counting for plans and files), sewing time, warnings;
* ``formats`` / ``output`` / ``writers`` / ``dst`` - what each format holds and its bytes;
* ``preview`` - the stitch preview image.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
from pyembroidery import EmbPattern

from engine.core.atomic import OutputPathError, atomic_path, check_writable_dir
from engine.core.pattern import Pattern
from engine.core.progress import CancelToken, Progress
from exporters.common.errors import ExportError
from exporters.embroidery.formats import (  # noqa: F401 (the exporter contract and its facts)
    FORMAT_MAX_STEP,
    FORMATS,
    MACHINE_FORMATS,
    PREVIEW_FORMAT,
)
from exporters.embroidery.options import FILL_ANGLES, EmbroideryOptions
from exporters.embroidery.output import plan_bytes, write_plan  # noqa: F401 (re-exported)
from exporters.embroidery.planner import plan_embroidery
from exporters.embroidery.preview import add_legend, draw_plan
from exporters.embroidery.report import EmbroideryReport, report_from_file  # noqa: F401 (re-exported)
from exporters.embroidery.threads import MATCH_CHOICES, chart_choices

log = logging.getLogger(__name__)


def _check_output(path: Path) -> None:
    try:
        check_writable_dir(path)
    except OutputPathError as exc:
        raise ExportError(str(exc)) from None


def export_embroidery(pattern: Pattern, path: str | Path, options: EmbroideryOptions | None = None,
                      fmt: str | None = None, progress: Callable[[Progress], None] | None = None,
                      cancel: CancelToken | None = None) -> EmbroideryReport:
    """Build the stitches and write one machine file (format from ``fmt`` or the file suffix)."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in MACHINE_FORMATS:
        raise ExportError(f"cannot tell the embroidery format of {path.name!r}; use a .dst, .pes, .jef, .exp "
                          "or .vp3 file name or give the format")
    _check_output(path)
    options = replace(options or EmbroideryOptions(), target_format=fmt)
    plan = plan_embroidery(pattern, options, progress, cancel)
    write_plan(plan, path, fmt)
    report = plan.report
    report.path, report.format = path, fmt
    return report


def draw_stitches(emb: EmbPattern, px_per_mm: float | None = None, margin_mm: float = 2.0):
    """A PIL image of an EmbPattern's stitches (e.g. one read back from a file)."""
    data = np.asarray(emb.stitches, dtype=np.float64).reshape(-1, 3)
    colors = [(t.get_red(), t.get_green(), t.get_blue()) for t in emb.threadlist]
    return draw_plan(data[:, :2], data[:, 2].astype(np.int64), colors, px_per_mm, margin_mm)


def render_stitch_preview(pattern: Pattern, path: str | Path, options: EmbroideryOptions | None = None,
                          px_per_mm: float | None = None, legend: bool = True) -> Path:
    """Build the stitches and write a PNG drawn from them (atomically), with a thread legend below
    the design unless ``legend`` is False. Returns the path."""
    return write_stitch_preview(pattern, path, options, px_per_mm, legend).path


def write_stitch_preview(pattern: Pattern, path: str | Path, options: EmbroideryOptions | None = None,
                         px_per_mm: float | None = None, legend: bool = True) -> EmbroideryReport:
    """:func:`render_stitch_preview` returning the report of the stitches drawn (its ``path`` is the PNG)."""
    path = Path(path)
    _check_output(path)
    options = options or EmbroideryOptions()
    if options.target_format is None:
        options = replace(options, target_format=PREVIEW_FORMAT)
    plan = plan_embroidery(pattern, options)
    img = draw_plan(plan.units, plan.cmds, [t.rgb for t in plan.threads], px_per_mm)
    if legend:
        r = plan.report
        img = add_legend(img, plan.threads, r.stitches_per_thread,
                         f"{r.stitch_count:,} stitches, {r.color_changes} colour changes, {r.trims} trims, "
                         f"{r.size_mm[0]:.0f} x {r.size_mm[1]:.0f} mm, ~{r.estimated_minutes:.0f} min")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    plan.report.path, plan.report.format = path, PREVIEW_FORMAT
    return plan.report


# ----------------------------------------------------------------------------- CLI protocol


_DEFAULTS = EmbroideryOptions()  # the CLI's defaults are the options' own


def _parse_design_mm(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    s = str(text).lower().replace("×", "x").replace("mm", "").replace(" ", "")
    try:
        w, h = (float(v) for v in s.split("x"))
    except ValueError:
        raise ExportError(f"--design-mm must look like WIDTHxHEIGHT in mm (e.g. 120x90), got {text!r}") from None
    return w, h


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Embroidery options of the `export` command."""
    g = parser.add_argument_group("dst / pes / jef / exp / vp3 / stitch-png")
    g.add_argument("--cell-mm", type=float, default=None,
                   help="embroidery: size of one cell in mm (default: thread pitch, else 2.0)")
    g.add_argument("--design-mm", default=None, help="embroidery: total design size WIDTHxHEIGHT in mm "
                   "(instead of --cell-mm)")
    g.add_argument("--stitch-mode", choices=("fill", "cross"), default="fill",
                   help="embroidery: tatami fill per colour region (default) or one cross per cell")
    g.add_argument("--row-spacing", type=float, default=_DEFAULTS.row_spacing_mm,
                   help=f"embroidery: tatami row spacing in mm ({_DEFAULTS.row_spacing_mm})")
    g.add_argument("--max-stitch", type=float, default=_DEFAULTS.max_stitch_mm,
                   help=f"embroidery: longest stitch in mm ({_DEFAULTS.max_stitch_mm})")
    g.add_argument("--no-underlay", action="store_true", help="embroidery: no underlay under the fill")
    g.add_argument("--overlap-mm", type=float, default=_DEFAULTS.overlap_mm,
                   help=f"embroidery: how far fills reach into neighbouring colours ({_DEFAULTS.overlap_mm})")
    g.add_argument("--trim-distance", type=float, default=_DEFAULTS.trim_distance_mm,
                   help=f"embroidery: trim the thread before jumps longer than this, in mm "
                   f"({_DEFAULTS.trim_distance_mm})")
    g.add_argument("--hoop", default=None, help="embroidery: hoop WIDTHxHEIGHT in mm (e.g. 130x180) to check the "
                   "design against")
    g.add_argument("--hoop-strict", action="store_true", help="embroidery: refuse designs that do not fit the hoop")
    g.add_argument("--thread-chart", choices=chart_choices(), default="auto",
                   help="embroidery: thread chart to map colours to; auto = the machine range of the format "
                   "(PES/DST/EXP: brother_pec, JEF: janome_jef, VP3: pfaff_shv), pattern = keep a thread "
                   "pattern's own threads (e.g. DMC floss)")
    g.add_argument("--thread-match", choices=MATCH_CHOICES, default=_DEFAULTS.thread_match,
                   help="embroidery: nearest thread per colour, or distinct (one-to-one optimal assignment so "
                   "distinct colours stay distinct threads where the chart has enough); auto = distinct")
    g.add_argument("--fill-angle", type=int, choices=FILL_ANGLES, default=_DEFAULTS.fill_angle,
                   help="embroidery: direction of the tatami rows in degrees (0 horizontal, 90 vertical)")
    g.add_argument("--pull-comp", type=float, default=_DEFAULTS.pull_compensation_mm,
                   help=f"embroidery: pull compensation in mm - rows reach this far past edges at empty cells or "
                   f"the border ({_DEFAULTS.pull_compensation_mm})")
    g.add_argument("--min-stitch", type=float, default=_DEFAULTS.min_stitch_mm,
                   help=f"embroidery: drop stitches shorter than this, in mm ({_DEFAULTS.min_stitch_mm})")
    g.add_argument("--cross-repeats", type=int, choices=(1, 3, 5), default=_DEFAULTS.cross_repeats,
                   help="embroidery: cross stitch - sew each leg this many times, back and forth "
                   f"({_DEFAULTS.cross_repeats})")
    g.add_argument("--merge-tiny", action="store_true",
                   help="embroidery: before stitching, give regions smaller than --min-fill-mm2 the colour of "
                   "the neighbour that borders them most")
    g.add_argument("--min-fill-mm2", type=float, default=_DEFAULTS.min_fill_mm2,
                   help=f"embroidery: warn about fill regions under this area in mm² ({_DEFAULTS.min_fill_mm2:g})")
    g.add_argument("--max-color-changes", type=int, default=_DEFAULTS.max_color_changes,
                   help=f"embroidery: warn above this many colour changes ({_DEFAULTS.max_color_changes})")
    g.add_argument("--sewing-speed", type=float, default=_DEFAULTS.stitches_per_minute,
                   help=f"embroidery: machine speed in stitches per minute for the sewing-time estimate "
                   f"({_DEFAULTS.stitches_per_minute:g})")


def options_from_args(args: argparse.Namespace) -> EmbroideryOptions:
    """EmbroideryOptions from parsed CLI arguments."""
    return EmbroideryOptions(
        cell_mm=getattr(args, "cell_mm", None),
        design_mm=_parse_design_mm(getattr(args, "design_mm", None)),
        mode=getattr(args, "stitch_mode", _DEFAULTS.mode),
        row_spacing_mm=getattr(args, "row_spacing", _DEFAULTS.row_spacing_mm),
        max_stitch_mm=getattr(args, "max_stitch", _DEFAULTS.max_stitch_mm),
        underlay=not getattr(args, "no_underlay", False),
        overlap_mm=getattr(args, "overlap_mm", _DEFAULTS.overlap_mm),
        trim_distance_mm=getattr(args, "trim_distance", _DEFAULTS.trim_distance_mm),
        hoop=getattr(args, "hoop", None),
        thread_chart=getattr(args, "thread_chart", None),
        thread_match=getattr(args, "thread_match", _DEFAULTS.thread_match),
        strict_hoop=getattr(args, "hoop_strict", False),
        fill_angle=getattr(args, "fill_angle", _DEFAULTS.fill_angle),
        pull_compensation_mm=getattr(args, "pull_comp", _DEFAULTS.pull_compensation_mm),
        min_stitch_mm=getattr(args, "min_stitch", _DEFAULTS.min_stitch_mm),
        cross_repeats=getattr(args, "cross_repeats", _DEFAULTS.cross_repeats),
        merge_tiny=getattr(args, "merge_tiny", False),
        min_fill_mm2=getattr(args, "min_fill_mm2", _DEFAULTS.min_fill_mm2),
        max_color_changes=getattr(args, "max_color_changes", _DEFAULTS.max_color_changes),
        stitches_per_minute=getattr(args, "sewing_speed", _DEFAULTS.stitches_per_minute),
    )


# Reports of the files the CLI/GUI wrote last, by resolved path (read by describe_export).
_REPORTS: dict[Path, EmbroideryReport] = {}
_MAX_REPORTS = 32


def _remember(path: Path, report: EmbroideryReport) -> None:
    _REPORTS[Path(path).resolve()] = report
    while len(_REPORTS) > _MAX_REPORTS:
        _REPORTS.pop(next(iter(_REPORTS)))


def describe_export(pattern: Pattern, fmt: str, paths: list[Path], args: argparse.Namespace) -> list[str]:
    """Summary lines of the embroidery just written (CONTRACTS item 1): stitches, colour changes,
    trims, jumps, size, hoop fit, sewing time, threads, warnings. Uses the report of the export; for a
    file written elsewhere the counts are read back from the file."""
    lines: list[str] = []
    for path in paths:
        report = _REPORTS.get(Path(path).resolve())
        if report is None:
            report = report_from_file(path)
        lines.extend(report.lines())
        lines.extend(f"warning: {w}" for w in report.warnings)
    return lines


def export_cli(pattern: Pattern, fmt: str, out: Path, args: argparse.Namespace) -> list[Path]:
    """Write ``fmt`` for the CLI `export` command; returns the files written."""
    options = options_from_args(args)
    if fmt == PREVIEW_FORMAT:
        report = write_stitch_preview(pattern, out, options)
    else:
        report = export_embroidery(pattern, out, options, fmt)
    _remember(Path(out), report)
    return [Path(out)]
