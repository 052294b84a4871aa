"""Basic exports: the design as a PNG, a GIMP palette of the used colours, and a colour-count CSV.

An exporter module of the typed interface (see exporters.common.registry): ``FORMATS``, ``OPTIONS``
(:class:`BasicOptions`), ``check`` and ``export``.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image

from engine.core.atomic import atomic_path, atomic_write_text
from engine.core.palette import Palette, PaletteColor
from engine.core.palette_io import format_gpl
from engine.core.pattern import Pattern
from exporters.common import limits_check
from exporters.common.errors import ExportError
from exporters.common.optspec import option
from exporters.common.result import ExportResult
from exporters.common.shared_options import (
    bag_size_option,
    spare_rule,
    spares_min_option,
    spares_option,
    stash_option,
)
from exporters.common.shopping import (
    NO_SPARES,
    SpareRule,
    check_pack_size,
    coverage,
    read_stash,
    shopping_list,
)

log = logging.getLogger(__name__)

FORMATS = {
    "png": "the design as a PNG picture, one square of pixels per cell",
    "gpl": "GIMP palette (.gpl) of the colours the design uses",
    "counts-csv": "spreadsheet (CSV) of the colours used: codes, names, counts, and spares, bags and what to buy",
}


@dataclass
class BasicOptions:
    """Options of the basic formats."""

    scale: int = option(1, flag="--scale", label="Pixels per cell", unit="px", formats=("png",), minimum=1,
                        help="each cell becomes a square of this many pixels")
    bag_size: int | None = bag_size_option(("counts-csv",))
    spares: float = spares_option(("counts-csv",))
    spares_min: int = spares_min_option(("counts-csv",))
    stash: str | None = stash_option(("counts-csv",))


OPTIONS = BasicOptions


def code_columns(palette: Palette) -> list[tuple[str, Callable[[PaletteColor], str]]]:
    """(header, value) of the code columns: headers say which id system each code belongs to.

    LEGO colours carry three: the LEGO colour id, the BrickLink colour id and the Rebrickable colour id
    (154 is Dark Red for LEGO but Lavender on BrickLink). Other palettes: the maker's code.
    """
    if all(c.ids.get("bricklink") for c in palette):
        return [("LEGO colour id", lambda c: c.ids.get("lego", c.code)),
                ("BrickLink colour id", lambda c: c.ids["bricklink"]),
                ("Rebrickable colour id", lambda c: c.ids.get("rebrickable", ""))]
    return [(f"{palette.name} code", lambda c: c.code)]


def export_png(pattern: Pattern, path: str | Path, scale: int = 1) -> Path:
    """Write the design as RGBA PNG (empty cells transparent), each cell ``scale`` x ``scale`` pixels."""
    if not isinstance(scale, int) or scale < 1:
        raise ExportError(f"PNG scale must be a whole number of pixels per cell (1 or more), got {scale!r}")
    limits_check.check_image(pattern.width * scale, pattern.height * scale, f"the PNG at scale {scale}")
    img = Image.fromarray(pattern.to_rgba(), "RGBA")
    if scale > 1:
        img = img.resize((pattern.width * scale, pattern.height * scale), Image.NEAREST)
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    log.info("wrote PNG %s (%dx%d)", path, img.width, img.height)
    return path


def export_gpl(pattern: Pattern, path: str | Path) -> Path:
    """Write a GIMP palette (.gpl) with only the colours the design uses, in palette order."""
    used = pattern.used_indices()
    if not used:
        raise ExportError("the design has no filled cells, so there are no colours to export")
    sub = pattern.palette.subset(used, name=f"{pattern.palette.name} (used colours)")
    path = Path(path)
    atomic_write_text(path, format_gpl(sub))
    log.info("wrote GIMP palette %s (%d colours)", path, len(sub))
    return path


def counts_csv_text(pattern: Pattern, bag_size: int | None = None, spares: SpareRule = NO_SPARES,
                    stash: dict[str, int] | None = None) -> str:
    """The counts CSV as text: code column(s), name, hex, count [, spares] [, owned] [, to buy] [, bags], most
    used first. Bags cover what is still to buy.

    Quantities come from exporters.common.shopping (the one place that adds spares, subtracts the stash and
    rounds to bags).
    """
    check_pack_size(bag_size)
    cols = code_columns(pattern.palette)
    rows = pattern.color_counts()
    lines = shopping_list([(c.code, c.name, n) for _, c, n in rows], spares, bag_size, stash)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    buy = spares.active or stash is not None
    w.writerow([h for h, _ in cols] + ["name", "hex", "count"] + (["spares"] if spares.active else [])
               + (["owned"] if stash is not None else []) + (["to buy"] if buy else [])
               + (["bags"] if bag_size else []))
    for (_, color, count), line in zip(rows, lines):
        row = [get(color) for _, get in cols] + [color.name, color.hex, count]
        if spares.active:
            row.append(line.spares)
        if stash is not None:
            row.append(line.owned)
        if buy:
            row.append(line.to_buy)
        if bag_size:
            row.append(line.packs)
        w.writerow(row)
    return buf.getvalue()


def export_counts_csv(pattern: Pattern, path: str | Path, bag_size: int | None = None,
                      spares: SpareRule = NO_SPARES, stash: dict[str, int] | None = None) -> Path:
    """Write the colour counts CSV (empty cells are not counted)."""
    text = counts_csv_text(pattern, bag_size, spares, stash)
    path = Path(path)
    atomic_write_text(path, text)
    log.info("wrote colour counts %s", path)
    return path


# --------------------------------------------------------------------------- the exporter interface


def _stash(options: BasicOptions) -> dict[str, int] | None:
    return read_stash(options.stash) if options.stash and str(options.stash).strip() else None


def check(pattern: Pattern, fmt: str, options: BasicOptions) -> None:
    """Refuse ``fmt`` with ``options`` before anything is made (image size, empty design, bag size, spares)."""
    if fmt not in FORMATS:
        raise ExportError(f"the basic exporter does not write {fmt!r}")
    limits_check.check_finite(options)
    if fmt == "png":
        if not isinstance(options.scale, int) or options.scale < 1:
            raise ExportError(f"PNG scale must be a whole number of pixels per cell (1 or more), "
                              f"got {options.scale!r}")
        limits_check.check_image(pattern.width * options.scale, pattern.height * options.scale,
                                 f"the PNG at scale {options.scale}")
    elif fmt == "gpl" and not pattern.used_indices():
        raise ExportError("the design has no filled cells, so there are no colours to export")
    elif fmt == "counts-csv":
        check_pack_size(options.bag_size)
        spare_rule(options)


def export(pattern: Pattern, fmt: str, out: Path, options: BasicOptions) -> ExportResult:
    """Write ``fmt`` to ``out`` (checked first) and say what was written."""
    check(pattern, fmt, options)
    n = len(pattern.used_indices())
    if fmt == "png":
        path = export_png(pattern, out, scale=options.scale)
        return ExportResult([path], [f"{pattern.width * options.scale} x {pattern.height * options.scale} pixels"])
    if fmt == "gpl":
        return ExportResult([export_gpl(pattern, out)], [f"{n} colours"])
    spares, stash = spare_rule(options), _stash(options)
    path = export_counts_csv(pattern, out, bag_size=options.bag_size, spares=spares, stash=stash)
    lines = shopping_list([(c.code, c.name, k) for _, c, k in pattern.color_counts()], spares, options.bag_size,
                          stash)
    report = [f"{n} colours, {pattern.filled_cells:,} pieces; code columns: "
              + ", ".join(h for h, _ in code_columns(pattern.palette))]
    if spares.active:
        report.append(f"{spares.describe()}: {sum(ln.total for ln in lines):,} wanted")
    if stash is not None:
        report.append(coverage(lines).describe())
    if options.bag_size:
        report.append(f"{sum(ln.packs or 0 for ln in lines)} bags of {options.bag_size}")
    return ExportResult([path], report)

