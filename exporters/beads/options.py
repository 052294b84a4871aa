"""Bead chart export options, declared once (exporters.common.optspec): the CLI flags, the app's widgets and the
exporter all read this dataclass. Each option names the formats it applies to."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.core.medium import BEAD_MAXI, BEAD_MIDI, BEAD_MINI, BEAD_MINI_ARTKAL, BEAD_MINI_PERLER, BOARDS
from engine.core.sizes import SizeError, parse_number
from exporters.common.errors import ExportError
from exporters.common.optspec import option
from exporters.common.shared_options import bag_size_option, spares_min_option, spares_option, title_option

PAPERS = {"A4": "A4 (210 x 297 mm)", "Letter": "US Letter (8.5 x 11 in)", "A3": "A3 (297 x 420 mm)"}
BEAD_MEDIA = (BEAD_MIDI, BEAD_MINI, BEAD_MINI_PERLER, BEAD_MINI_ARTKAL, BEAD_MAXI)
BEAD_BOARDS = tuple(name for name, b in BOARDS.items() if not name.startswith("brick"))


def _board_label(name: str) -> str:
    """'mini 50x50 (Artkal) (2.812 mm, measured)'; a board without its own pitch shows its medium's nominal one."""
    b = BOARDS[name]
    if b.measured:
        return f"{name} ({b.pitch_mm:.3f} mm, measured)"
    nominal = b.pitch_mm or next((m.pitch_mm for m in BEAD_MEDIA if name in m.boards), 0.0)
    return f"{name} ({nominal:g} mm, nominal)" if nominal else f"{name} (nominal pitch)"


BOARD_LABELS = {None: "the palette's own board"} | {n: _board_label(n) for n in BEAD_BOARDS}


def _paper(text: str) -> str:
    """A paper name in any case ('a4', 'letter')."""
    for name in PAPERS:
        if text.strip().lower() == name.lower():
            return name
    raise ValueError(f"{text!r} is not a paper size: choose A4, Letter or A3")


def _board(text: str) -> str | None:
    """A board typed by name or as 'WxH' (checked by the exporter); empty: the palette's own board."""
    return text.strip() or None


def parse_calibration(text: str | None, what: str = "calibration") -> tuple[int, float] | None:
    """'50:140.6' -> (50, 140.6): N pegs measure X mm (None for no calibration). Errors start with ``what``
    (empty: with the value, for a caller that names the option itself)."""
    if text is None or str(text).strip() == "":
        return None
    subject = f"{what} {text!r}".strip()
    parts = re.split(r"[:=/]", str(text))
    try:  # the one number parser: "50:140.6", "50 : 140,6 mm", "50:14.06 cm"
        if len(parts) != 2:
            raise SizeError("not two numbers")
        n = int(parse_number(parts[0], "pegs", integer=True, positive=True))
        x = float(parse_number(parts[1], "length", "mm", positive=True))
    except SizeError:
        raise ExportError(f"{subject} must read N:X - N pegs measure X mm, e.g. 50:140.6") from None
    if not 1.0 <= x / n <= 20.0:
        raise ExportError(f"{subject} gives {x / n:.3f} mm per peg; expected 1 to 20 mm - check N and X")
    return n, x


def _calibration(text: str) -> str | None:
    """'N:X' (N pegs measure X mm), checked here so a typo is refused before anything is written."""
    try:
        return text.strip() if parse_calibration(text, what="") else None
    except ExportError as exc:
        raise ValueError(str(exc)) from None


@dataclass
class BeadOptions:
    """How the bead chart PDF and the chart PNG are laid out."""

    paper: str = option("A4", flag="--paper", label="Paper", choices=tuple(PAPERS), choice_labels=PAPERS,
                        parse=_paper,
                        formats=("bead-pdf",), group="Printing", help="the paper the chart is printed on")
    board: str | None = option(None, flag="--board", label="Pegboard", choices=(None,) + BEAD_BOARDS,
                               choice_labels=BOARD_LABELS, parse=_board, formats=("bead-pdf", "chart-png"),
                               group="Printing", metavar="BOARD",
                               help="the pegboard the chart is split into (a named board or a size such as 29x29)")
    true_scale: bool = option(False, flag="--true-scale", label="True size (1:1)", formats=("bead-pdf",),
                              group="Printing",
                              help="cells printed at the board's peg spacing, to lay under a clear pegboard; "
                                   "print at 100 %")
    calibrate: str | None = option(None, flag="--calibrate", label="My board measures (pegs:mm)", unit="pegs:mm",
                                   parse=_calibration, formats=("bead-pdf",), group="Printing", metavar="N:X",
                                   help="N pegs of your board measure X mm (e.g. 50:140.6): the chart is printed "
                                        "at X/N mm per peg, true size")
    large_print: bool = option(False, flag="--large-print", label="Large print", formats=("bead-pdf",),
                               group="Printing",
                               help="larger cells and symbols (at least 6 mm and 1.5 x the page-filling size), "
                                    "each board spread over several pages; not with true size")
    title: str = title_option(("bead-pdf",))
    cell_px: int = option(24, flag="--cell-px", label="Cell size", unit="px", minimum=8, maximum=200,
                          formats=("chart-png",), group="Picture", help="pixels per cell of the chart picture")
    show: str = option("symbols", flag="--show", label="In each cell", choices=("symbols", "codes"),
                       choice_labels={"symbols": "symbols", "codes": "colour codes"}, formats=("chart-png",),
                       group="Picture", help="what is written in each cell of the chart picture")
    bag_size: int | None = bag_size_option(("bead-pdf",))
    spares: float = spares_option(("bead-pdf", "chart-png"))
    spares_min: int = spares_min_option(("bead-pdf", "chart-png"))
