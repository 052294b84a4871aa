"""Resource limits, declared in one place and checked before anything big is allocated.

Every limit can be raised for one run with an environment variable ``PIXL_LIMIT_<NAME>`` (e.g.
``PIXL_LIMIT_MAX_OUTPUT_PIXELS=400000000``); the error messages name the variable. The defaults keep any
refusal well under a second and a gigabyte, while leaving ample room for real designs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass


class LimitError(ValueError):
    """A request exceeds one of the resource limits; the message names the limit and how to raise it."""


@dataclass(frozen=True)
class Limit:
    """One resource limit: its name, default value, unit and what it bounds."""

    name: str
    default: int
    unit: str
    what: str

    @property
    def env(self) -> str:
        return f"PIXL_LIMIT_{self.name.upper()}"

    @property
    def value(self) -> int:
        """The limit in force: the environment override when it is a positive whole number, else the default."""
        raw = os.environ.get(self.env, "").strip()
        if raw.isdigit() and 0 < int(raw) < 10**15:
            return int(raw)
        return self.default

    def check(self, amount: float, subject: str) -> None:
        """Raise LimitError when ``amount`` exceeds the limit (NaN counts as exceeding)."""
        limit = self.value
        if not (amount <= limit):  # also true for NaN
            raise LimitError(
                f"{subject} needs {_fmt(amount)} {self.unit}, more than the limit of {limit:,} {self.unit} "
                f"({self.what}); make it smaller or raise the limit with {self.env}=N"
            )


def _fmt(amount: float) -> str:
    if isinstance(amount, float) and not math.isfinite(amount):
        return str(amount)
    if amount >= 1e15:
        return f"{amount:.3g}"
    return f"{int(math.ceil(amount)):,}"


# ----------------------------------------------------------------------------- the limits
MAX_CELLS = Limit("max_cells", 2048 * 2048, "cells", "cells in one pattern")
MAX_PATTERN_SIDE = Limit("max_side", 2048, "cells", "cells along one side of a pattern")
MAX_SIDE = MAX_PATTERN_SIDE  # the name engine/convert/pipeline.py still imports; new code says MAX_PATTERN_SIDE
MAX_SDPIXL_SIDE = Limit("max_sdpixl_side", 512, "cells",
                        "cells along one side of an SD-piXL optimisation (its generator and losses grow with it)")
MAX_COLORS = Limit("max_colors", 65_536, "colours", "colours in one palette; indices are 16-bit")
MAX_SELECT_MATRIX = Limit("max_select_matrix", 8_000_000, "entries",
                          "picture colours x palette colours compared when choosing --max-colors")
MAX_OUTPUT_PIXELS = Limit("max_output_pixels", 268_435_456, "pixels", "pixels in one exported image (16384 x 16384)")
MAX_IMAGE_SIDE = Limit("max_image_side", 20_000, "pixels", "pixels along one side of an exported PNG")
MAX_CHART_SIDE = Limit("max_chart_side", 16_000, "pixels", "pixels along one side of a chart PNG with its legend")
MAX_PREVIEW_SIDE = Limit("max_preview_side", 4_000, "pixels",
                         "pixels along the longer side of a stitch preview; larger designs are drawn smaller")
MAX_STITCHES = Limit("max_stitches", 2_000_000, "stitches", "stitches in one embroidery file")
MAX_DESIGN_MM = Limit("max_design_mm", 1_500, "mm", "embroidery design side; the largest hoops are under 1.5 m")
MAX_PAGES = Limit("max_pages", 2_000, "pages", "pages in one PDF")
MAX_PROJECT_BYTES = Limit("max_project_bytes", 1 << 30, "bytes", "size of a .pixl project file")
MAX_MEMBER_BYTES = Limit("max_member_bytes", 256 << 20, "bytes", "uncompressed size of one member of a .pixl file")
MAX_PROJECT_MEMBERS = Limit("max_project_members", 64, "members", "files inside one .pixl project (a zip)")
MAX_MANIFEST_BYTES = Limit("max_manifest_bytes", 64 << 20, "bytes", "uncompressed size of a .pixl manifest")
MAX_PALETTE_FILE_BYTES = Limit("max_palette_file_bytes", 32 << 20, "bytes", "size of a palette file")
MAX_SOURCE_PIXELS = Limit("max_source_pixels", 1_000_000_000, "pixels",
                          "pixels in an input picture; pictures over the working size are read reduced")
MAX_WORK_PIXELS = Limit("max_work_pixels", 100_000_000, "pixels",
                        "pixels a picture is decoded at; larger pictures are read reduced to this")
MAX_FULL_DECODE_PIXELS = Limit("max_full_decode_pixels", 200_000_000, "pixels",
                               "pixels in an input picture whose format has no reduced decoding (all but JPEG): it "
                               "is decoded whole, about 4 bytes a pixel, which must stay under the 1.5 GB budget")
MAX_TITLE_CHARS = Limit("max_title_chars", 200, "characters", "characters in a title")

ALL_LIMITS = (MAX_CELLS, MAX_PATTERN_SIDE, MAX_SDPIXL_SIDE, MAX_COLORS, MAX_SELECT_MATRIX, MAX_OUTPUT_PIXELS,
              MAX_IMAGE_SIDE, MAX_CHART_SIDE, MAX_PREVIEW_SIDE, MAX_STITCHES, MAX_DESIGN_MM, MAX_PAGES,
              MAX_PROJECT_BYTES, MAX_PROJECT_MEMBERS, MAX_MEMBER_BYTES, MAX_MANIFEST_BYTES, MAX_PALETTE_FILE_BYTES,
              MAX_SOURCE_PIXELS, MAX_WORK_PIXELS, MAX_FULL_DECODE_PIXELS, MAX_TITLE_CHARS)


# ----------------------------------------------------------------------------- checks
def finite(value, what: str, low: float | None = None, high: float | None = None) -> float:
    """``value`` as a finite float within [low, high]; LimitError naming ``what`` otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise LimitError(f"{what} must be a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(v):
        raise LimitError(f"{what} must be a finite number, got {value!r}")
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "" if low is None else f"{low:g}"
        hi = "" if high is None else f"{high:g}"
        raise LimitError(f"{what} must be between {lo or '-inf'} and {hi or 'inf'}, got {v:g}")
    return v


def check_cells(width, height, subject: str = "the pattern") -> None:
    """Refuse a width x height grid over the side or cell limit (non-integers and non-positive sides too)."""
    if not all(isinstance(v, int) or (hasattr(v, "__index__") and not isinstance(v, bool)) for v in (width, height)):
        raise LimitError(f"{subject}: width and height must be whole numbers, got {width!r} x {height!r}")
    w, h = int(width), int(height)
    if w < 1 or h < 1:
        raise LimitError(f"{subject}: width and height must be at least 1, got {w} x {h}")
    MAX_PATTERN_SIDE.check(max(w, h), f"{subject} ({w} x {h} cells)")
    MAX_CELLS.check(w * h, f"{subject} ({w} x {h} cells)")


def check_colors(n: int, subject: str = "the palette") -> None:
    """Refuse a palette larger than 16-bit indices can address."""
    MAX_COLORS.check(n, subject)


def check_select(n_picture_colors: int, n_palette: int) -> None:
    """Refuse a --max-colors selection whose distance matrix would exceed the limit."""
    MAX_SELECT_MATRIX.check(n_picture_colors * n_palette,
                            f"choosing colours from a {n_palette:,}-colour palette")


def check_output_pixels(width: int, height: int, subject: str = "the image") -> None:
    """Refuse an exported image over the pixel limit (checked before the array is made)."""
    MAX_OUTPUT_PIXELS.check(float(width) * float(height), f"{subject} ({width} x {height} pixels)")


def check_pages(pages: int, subject: str = "the PDF") -> None:
    """Refuse a PDF over the page limit."""
    MAX_PAGES.check(pages, subject)


def check_stitches(estimate: float, subject: str = "the embroidery") -> None:
    """Refuse an embroidery whose estimated stitch count exceeds the limit."""
    MAX_STITCHES.check(estimate, subject)


def estimate_fill_stitches(filled_cells: int, cell_w_mm: float, cell_h_mm: float, row_spacing_mm: float = 0.4,
                           max_stitch_mm: float = 3.0) -> float:
    """A quick upper estimate of the stitches a tatami fill of ``filled_cells`` cells needs (with underlay)."""
    rows = cell_h_mm / max(row_spacing_mm, 0.1)
    per_row = cell_w_mm / max(max_stitch_mm, 0.5) + 1.0
    return filled_cells * rows * per_row * 1.3


def clip_title(text: str, subject: str = "title") -> str:
    """A title cut to the title limit in one step (with an ellipsis)."""
    limit = MAX_TITLE_CHARS.value
    text = str(text)
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "\u2026"


def describe() -> list[str]:
    """One line per limit (name, value in force, what it bounds) for help texts and the README."""
    return [f"{lim.env:<32} {lim.value:>14,} {lim.unit:<10} {lim.what}" for lim in ALL_LIMITS]
