"""Physical media: what one cell of a pattern becomes (bead, brick stud, stitch) and its boards."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

MEDIUM_KINDS = ("bead", "brick", "thread", "pixel")


@dataclass(frozen=True)
class Board:
    """A pegboard, baseplate section or hoop grid, counted in cells.

    ``pitch_mm`` is the centre-to-centre peg spacing when known (a chart printed at true scale must match the
    pegs, not the nominal bead size); 0 means "not known": use the medium's nominal pitch. ``measured`` says
    whether that pitch was measured on real boards (else it is a nominal figure); ``source`` says where it is from.
    """

    name: str
    width: int
    height: int
    pitch_mm: float = 0.0
    source: str = ""
    measured: bool = False

    def pitch_for(self, medium: "Medium | None") -> float:
        """Peg spacing in mm: the board's measured pitch, else the medium's nominal one."""
        if self.pitch_mm > 0:
            return self.pitch_mm
        return medium.pitch_mm if medium is not None else 5.0


_FIRAGA = "measured by firaga-io (calibrated prints on real boards)"

# Board sizes and peg pitches are data (fabrication facts): counted in beads/studs, pitch in mm.
BOARDS: dict[str, Board] = {
    b.name: b
    for b in (
        Board("midi 29x29", 29, 29, 5.0, "nominal 5 mm (not measured for Hama, Artkal, Nabbi...); calibrate for "
                                         "true scale"),
        Board("midi 29x29 (Perler)", 29, 29, 4.991, "measured by firaga-io: 139.75 mm over 28 gaps", True),
        Board("mini 56x56 (Perler)", 56, 56, 2.689, _FIRAGA, True),
        Board("mini 57x57 (Hama)", 57, 57, 0.0, "not measured: nominal bead pitch; calibrate for true scale"),
        Board("mini 48x48 (Hama)", 48, 48, 0.0, "not measured: nominal bead pitch; calibrate for true scale"),
        Board("mini 50x50 (Artkal)", 50, 50, 2.812, _FIRAGA, True),
        Board("2.6 mm 52x52", 52, 52, 0.0, "not measured: nominal bead pitch; calibrate for true scale"),
        Board("2.6 mm 104x104", 104, 104, 0.0, "not measured: nominal bead pitch; calibrate for true scale"),
        Board("maxi 29x29", 29, 29, 10.0, "nominal 10 mm, not measured"),
        Board("brick 8x8", 8, 8, 8.0, "LEGO stud pitch"),
        Board("brick 16x16", 16, 16, 8.0, "LEGO stud pitch"),
        Board("brick 32x32", 32, 32, 8.0, "LEGO stud pitch"),
        Board("brick 48x48", 48, 48, 8.0, "LEGO stud pitch"),
    )
}

# Names used by earlier versions (palette files may still name them).
BOARD_ALIASES: dict[str, str] = {"mini 57x57 (Hama/Perler)": "mini 57x57 (Hama)"}


def find_board(name: str) -> Board | None:
    """A board by name (exact, alias, then case-insensitive), or None."""
    name = BOARD_ALIASES.get(name, name)
    if name in BOARDS:
        return BOARDS[name]
    low = name.lower()
    for key, board in BOARDS.items():
        if key.lower() == low:
            return board
    for key, target in BOARD_ALIASES.items():
        if key.lower() == low:
            return BOARDS[target]
    return None


@dataclass(frozen=True)
class Medium:
    """What a cell is physically: kind, pitch (mm per cell) and the boards it is built on."""

    kind: str = "pixel"
    pitch_mm: float = 5.0
    size_class: str = ""
    boards: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in MEDIUM_KINDS:
            raise ValueError(f"unknown medium kind {self.kind!r}; expected one of {', '.join(MEDIUM_KINDS)}")
        if not self.pitch_mm > 0:
            raise ValueError(f"medium pitch must be positive, got {self.pitch_mm}")

    @property
    def default_board(self) -> Board | None:
        """The first board listed for this medium, if any."""
        return find_board(self.boards[0]) if self.boards else None

    def cells_per_unit(self, unit: str) -> tuple[float, float]:
        """How many cells (across, down) one unit of ``unit`` is: cells, boards (the default board), cm or mm."""
        unit = unit.lower().rstrip("s") if unit.lower() != "cells" else "cell"
        if unit == "cell":
            return 1.0, 1.0
        if unit == "board":
            board = self.default_board
            if board is None:
                raise ValueError(f"a {self.kind} design has no board size; give the size in cells, cm or mm")
            return float(board.width), float(board.height)
        if unit in ("cm", "mm"):
            per = (10.0 if unit == "cm" else 1.0) / self.pitch_mm
            return per, per
        raise ValueError(f"unknown size unit {unit!r}; use cells, boards, cm or mm")

    def boards_needed(self, width: int, height: int) -> tuple[int, int] | None:
        """Default boards needed across and down for a width x height design (None if the medium has none)."""
        board = self.default_board
        if board is None:
            return None
        return -(-width // board.width), -(-height // board.height)

    def size_mm(self, width: int, height: int) -> tuple[float, float]:
        """Physical size of a width x height cell design in millimetres."""
        return width * self.pitch_mm, height * self.pitch_mm

    def to_dict(self) -> dict:
        d = asdict(self)
        d["boards"] = list(self.boards)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Medium":
        return cls(
            kind=str(d.get("kind", "pixel")),
            pitch_mm=float(d.get("pitch_mm", 5.0)),
            size_class=str(d.get("size_class", "")),
            boards=tuple(d.get("boards", ())),
        )


BEAD_MIDI = Medium("bead", 5.0, "midi", ("midi 29x29",))
BEAD_MINI = Medium("bead", 2.6, "mini", ("mini 57x57 (Hama)", "mini 48x48 (Hama)", "2.6 mm 52x52", "2.6 mm 104x104"))
BEAD_MINI_PERLER = Medium("bead", 2.6, "mini", ("mini 56x56 (Perler)", "2.6 mm 52x52", "2.6 mm 104x104"))
BEAD_MINI_ARTKAL = Medium("bead", 2.6, "mini", ("mini 50x50 (Artkal)", "2.6 mm 52x52", "2.6 mm 104x104"))
BEAD_MAXI = Medium("bead", 10.0, "maxi", ("maxi 29x29",))
BRICK = Medium("brick", 8.0, "", ("brick 16x16", "brick 8x8", "brick 32x32", "brick 48x48"))
THREAD = Medium("thread", 2.0, "", ())
PIXEL = Medium("pixel", 5.0, "", ("midi 29x29",))
