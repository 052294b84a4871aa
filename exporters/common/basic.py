"""Basic exports: the design as a PNG, a GIMP palette of the used colours, and a colour-count CSV."""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
from pathlib import Path

from PIL import Image

from engine.core.atomic import atomic_path, atomic_write_text
from engine.core.palette_io import format_gpl
from engine.core.pattern import Pattern
from exporters.common.errors import ExportError

log = logging.getLogger(__name__)

FORMATS = {
    "png": "the design as a PNG image, one pixel per cell (--scale N for N x N pixels per cell)",
    "gpl": "GIMP palette (.gpl) of the colours the design uses",
    "counts-csv": "CSV of colours used: code, name, hex, count (and bags with --bag-size)",
}

MAX_PNG_SIDE = 20000


def check_bag_size(bag_size: int | None) -> None:
    """Raise ExportError unless ``bag_size`` is None or a whole number above 0."""
    if bag_size is not None and (not isinstance(bag_size, int) or bag_size < 1):
        raise ExportError(f"bag size must be a whole number of beads above 0, got {bag_size!r}")


def bags_needed(count: int, bag_size: int) -> int:
    """How many bags of ``bag_size`` beads cover ``count`` beads."""
    return math.ceil(count / bag_size)


def export_png(pattern: Pattern, path: str | Path, scale: int = 1) -> Path:
    """Write the design as RGBA PNG (empty cells transparent), each cell ``scale`` x ``scale`` pixels."""
    if not isinstance(scale, int) or scale < 1:
        raise ExportError(f"PNG scale must be a whole number of pixels per cell (1 or more), got {scale!r}")
    if max(pattern.width, pattern.height) * scale > MAX_PNG_SIDE:
        raise ExportError(
            f"a {pattern.width}x{pattern.height} design at scale {scale} would be over {MAX_PNG_SIDE} pixels "
            "wide; choose a smaller scale"
        )
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


def counts_csv_text(pattern: Pattern, bag_size: int | None = None) -> str:
    """The counts CSV as text: code, name, hex, count [, bags], most used first."""
    check_bag_size(bag_size)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["code", "name", "hex", "count"] + (["bags"] if bag_size else []))
    for _, color, count in pattern.color_counts():
        row = [color.code, color.name, color.hex, count]
        if bag_size:
            row.append(bags_needed(count, bag_size))
        w.writerow(row)
    return buf.getvalue()


def export_counts_csv(pattern: Pattern, path: str | Path, bag_size: int | None = None) -> Path:
    """Write the colour counts CSV (empty cells are not counted)."""
    text = counts_csv_text(pattern, bag_size)
    path = Path(path)
    atomic_write_text(path, text)
    log.info("wrote colour counts %s", path)
    return path


# --------------------------------------------------------------------------- CLI protocol


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Options for the basic formats."""
    g = parser.add_argument_group("png / gpl / counts-csv")
    g.add_argument("--scale", type=int, default=1, help="png: pixels per cell (default 1)")
    g.add_argument("--bag-size", type=int, default=None,
                   help="counts-csv, bead-pdf: beads per bag, to list bags needed per colour")


def int_option(value: object, name: str) -> int | None:
    """An option value as int (None stays None); the GUI may pass numbers as text."""
    if value is None or isinstance(value, int):
        return value  # type: ignore[return-value]
    try:
        return int(str(value).strip())
    except ValueError:
        raise ExportError(f"{name} must be a whole number, got {value!r}") from None


def export_cli(pattern: Pattern, fmt: str, out: Path, args: argparse.Namespace) -> list[Path]:
    """Write ``fmt`` for the CLI."""
    if fmt == "png":
        return [export_png(pattern, out, scale=int_option(args.scale, "scale"))]
    if fmt == "gpl":
        return [export_gpl(pattern, out)]
    if fmt == "counts-csv":
        return [export_counts_csv(pattern, out, bag_size=int_option(args.bag_size, "bag size"))]
    raise ExportError(f"the basic exporter does not write {fmt!r}")
