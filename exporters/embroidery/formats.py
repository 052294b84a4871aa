"""What each machine format can hold, and how moves and trims are written in it (data, one place).

How a format encodes what the stitch plan asks for (units 0.1 mm; checked by reading every file back):

* sewn stitch - a STITCH record after a STITCH record (thread between two needle points). Never longer
  than the plan's maximum stitch (at most 12 mm), so it fits every format's short record.
* move (jump) - DST, EXP, JEF and PES have a jump record (needle up); a long move is split into jump records
  of at most ``MAX_JUMP_MM``. VP3 has no jump record: its machines sew every record, so in VP3 every move
  follows a trim and is written in the long form (0x80 0x01 dx dy 0x80 0x02), the form VP3 software uses for
  moves (libembroidery reads it as a move; pyembroidery as a stitch right after the trim, with no thread
  between). The planner therefore trims before every move when writing VP3 (``FORMATS_WITHOUT_JUMPS``).
* trim - EXP: 0x80 0x80 0x07 0x00; VP3: 0x80 0x03; PES/PEC: the trim flag on the first jump of the move
  after it, or on a zero-length jump when no move follows (e.g. before a colour change); plain jumps carry
  the jump flag. DST has no trim command: a trim is a run of three jumps that returns to the needle
  (machines and readers trim at three jumps in a row). JEF has none either: a trim is three zero-length
  jumps (Janome machines trim at three jumps in a row). So in DST and JEF an untrimmed move must never take
  three jump records: the trim distance is at most ``MAX_UNTRIMMED_JUMP_RECORDS`` jump records long.
"""

from __future__ import annotations

from exporters.common.errors import ExportError

FORMATS = {
    "dst": "Tajima DST machine embroidery (no colours in the file; trims as jump runs)",
    "pes": "Brother PES version 6 machine embroidery (keeps the thread list)",
    "jef": "Janome JEF machine embroidery (with trims)",
    "exp": "Melco EXP machine embroidery",
    "vp3": "Pfaff/Husqvarna VP3 machine embroidery",
    "stitch-png": "PNG preview drawn from the embroidery stitches",
}
MACHINE_FORMATS = ("dst", "pes", "jef", "exp", "vp3")
PREVIEW_FORMAT = "stitch-png"

# Longest move each format can encode in one record, per axis (0.1 mm). VP3: its short (sewn) record; moves
# use the 16-bit long form.
FORMAT_MAX_STEP = {"dst": 121, "pes": 2047, "jef": 127, "exp": 127, "vp3": 127}
# Most colour changes a format (or the machines reading it) accept.
FORMAT_MAX_COLOR_CHANGES = {"pes": 255, "jef": 255}
# Formats without a jump record: every move there follows a trim.
FORMATS_WITHOUT_JUMPS = ("vp3",)
# Jumps are split into moves of at most this length (fits every format above after rounding).
MAX_JUMP_MM = 12.0
# DST and JEF machines trim at three jump records in a row: an untrimmed move takes at most this many.
MAX_UNTRIMMED_JUMP_RECORDS = 2
MAX_TRIM_DISTANCE_MM = MAX_JUMP_MM * MAX_UNTRIMMED_JUMP_RECORDS


def has_jumps(fmt: str | None) -> bool:
    """False for a format whose machines sew every record (a move there must follow a trim)."""
    return (fmt or "").lower() not in FORMATS_WITHOUT_JUMPS


def check_format_limits(fmt: str, color_changes: int) -> None:
    """Raise ExportError for an unknown machine format or more colour changes than it allows."""
    if fmt not in MACHINE_FORMATS:
        raise ExportError(f"unknown embroidery format {fmt!r}; choose one of: {', '.join(MACHINE_FORMATS)}")
    limit = FORMAT_MAX_COLOR_CHANGES.get(fmt)
    if limit is not None and color_changes > limit:
        raise ExportError(f"{fmt.upper()} allows at most {limit} colour changes but the design has {color_changes}; "
                          "use fewer colours (or map them to a thread chart) and export again")
