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
from exporters.common.result import ExportResult
from exporters.embroidery.formats import (  # noqa: F401 (the exporter contract and its facts)
    FORMAT_MAX_STEP,
    FORMATS,
    MACHINE_FORMATS,
    PREVIEW_FORMAT,
)
from exporters.embroidery.options import EmbroideryOptions
from exporters.embroidery.output import plan_bytes, write_plan  # noqa: F401 (re-exported)
from exporters.embroidery.planner import check_plan, plan_embroidery
from exporters.embroidery.preview import add_legend, draw_plan
from exporters.embroidery.report import EmbroideryReport, report_from_file  # noqa: F401 (re-exported)

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
        img = add_legend(img, plan.threads, plan.report.stitches_per_thread, plan.report.headline())
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    plan.report.path, plan.report.format = path, PREVIEW_FORMAT
    return plan.report


# ----------------------------------------------------------------------------- the exporter interface


OPTIONS = EmbroideryOptions


def check(pattern: Pattern, fmt: str, options: EmbroideryOptions) -> None:
    """Refuse ``fmt`` with ``options`` before anything is allocated or written (see ``planner.check_plan``)."""
    if fmt not in FORMATS:
        raise ExportError(f"the embroidery exporter does not write {fmt!r}; choose one of: {', '.join(FORMATS)}")
    check_plan(pattern, replace(options, target_format=fmt))


def export(pattern: Pattern, fmt: str, out: Path, options: EmbroideryOptions) -> ExportResult:
    """Write ``fmt`` to ``out`` (checked first) and say what was built: the report's lines and its warnings."""
    check(pattern, fmt, options)
    if fmt == PREVIEW_FORMAT:
        report = write_stitch_preview(pattern, out, options)
    else:
        report = export_embroidery(pattern, out, options, fmt)
    return ExportResult([Path(out)], report.lines(), list(report.warnings))
