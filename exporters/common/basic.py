"""Basic exports: the design as a PNG, a GIMP palette of the used colours, and a colour-count CSV."""

from __future__ import annotations

import argparse
import csv
import io
import logging
from pathlib import Path
from typing import Callable

from PIL import Image

from engine.core.atomic import atomic_path, atomic_write_text
from engine.core.palette import Palette, PaletteColor
from engine.core.palette_io import format_gpl
from engine.core.pattern import Pattern
from exporters.common.errors import ExportError
from exporters.common.shopping import (
    NO_SPARES,
    SpareRule,
    add_spare_arguments,
    check_pack_size,
    coverage,
    packs_needed,
    shopping_list,
    spare_rule_from_args,
    stash_from_args,
)

log = logging.getLogger(__name__)

FORMATS = {
    "png": "the design as a PNG image, one pixel per cell (--scale N for N x N pixels per cell)",
    "gpl": "GIMP palette (.gpl) of the colours the design uses",
    "counts-csv": "CSV of colours used: code (headers name the id system), name, hex, count (spares, to buy, "
                  "bags with --spares / --bag-size)",
}

MAX_PNG_SIDE = 20000


def check_bag_size(bag_size: int | None) -> None:
    """Raise ExportError unless ``bag_size`` is None or a whole number above 0 (see shopping.check_pack_size)."""
    check_pack_size(bag_size)


def bags_needed(count: int, bag_size: int) -> int:
    """How many bags of ``bag_size`` beads cover ``count`` beads (see shopping.packs_needed)."""
    return packs_needed(count, bag_size)


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


def counts_csv_text(pattern: Pattern, bag_size: int | None = None, spares: SpareRule = NO_SPARES,
                    stash: dict[str, int] | None = None) -> str:
    """The counts CSV as text: code column(s), name, hex, count [, spares] [, owned] [, to buy] [, bags], most
    used first. Bags cover what is still to buy.

    Quantities come from exporters.common.shopping (the one place that adds spares, subtracts the stash and
    rounds to bags).
    """
    check_bag_size(bag_size)
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


# --------------------------------------------------------------------------- CLI protocol


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Options for the basic formats."""
    g = parser.add_argument_group("png / gpl / counts-csv")
    g.add_argument("--scale", type=int, default=1, help="png: pixels per cell (default 1)")
    g.add_argument("--bag-size", type=int, default=None,
                   help="counts-csv, bead-pdf: beads per bag, to list bags needed per colour")
    add_spare_arguments(g)


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
        return [export_counts_csv(pattern, out, bag_size=int_option(args.bag_size, "bag size"),
                                  spares=spare_rule_from_args(args), stash=stash_from_args(args))]
    raise ExportError(f"the basic exporter does not write {fmt!r}")


def describe_export(pattern: Pattern, fmt: str, paths: list[Path], args: argparse.Namespace) -> list[str]:
    """Summary lines for what ``export_cli`` just wrote."""
    n = len(pattern.used_indices())
    if fmt == "png":
        scale = int_option(getattr(args, "scale", 1), "scale") or 1
        return [f"{pattern.width * scale} x {pattern.height * scale} pixels"]
    if fmt == "gpl":
        return [f"{n} colours"]
    if fmt == "counts-csv":
        spares = spare_rule_from_args(args)
        bag = int_option(getattr(args, "bag_size", None), "bag size")
        stash = stash_from_args(args)
        lines = shopping_list([(c.code, c.name, k) for _, c, k in pattern.color_counts()], spares, bag, stash)
        out = [f"{n} colours, {pattern.filled_cells:,} pieces; code columns: "
               + ", ".join(h for h, _ in code_columns(pattern.palette))]
        if spares.active:
            out.append(f"{spares.describe()}: {sum(ln.total for ln in lines):,} wanted")
        if stash is not None:
            out.append(coverage(lines).describe())
        if bag:
            out.append(f"{sum(ln.packs or 0 for ln in lines)} bags of {bag}")
        return out
    return []
