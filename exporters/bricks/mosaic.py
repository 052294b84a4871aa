"""LEGO-style brick mosaics: parts plan, parts CSV, BrickLink wanted-list XML and a vector build PDF.

An exporter module of the typed interface (exporters.common.registry): ``FORMATS``, ``OPTIONS``
(:class:`exporters.bricks.options.BrickOptions`), ``check`` and ``export``.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
from reportlab.pdfbase.pdfmetrics import stringWidth

from engine.core.atomic import atomic_write_text
from engine.core.color import ciede2000, nearest_palette_match, srgb8_to_lab
from engine.core.palette import Palette, PaletteColor, PaletteError
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern
from engine.core.progress import CancelToken, Progress, ProgressCallback
from exporters.bricks.cover import CoverSettings, Rect, greedy_cover, optimal_cover
from exporters.bricks.options import (
    BASE_ALIASES,
    BASE_CHOICES,
    CONDITIONS,
    JOIN_CHOICES,
    SECTION_SIZES,
    BrickOptions,
)
from exporters.common import limits_check
from exporters.common.errors import ExportError
from exporters.common.pdf import (
    FONT,
    FONT_BOLD,
    MM,
    centered_symbols,
    contrast_rgb,
    fill_cells,
    fit_text,
    grid_label,
    label_box,
    paper_size,
    pdf_canvas,
    run_rects,
    stroke_lines,
    wrap_text,
)
from exporters.common.result import ExportResult
from exporters.common.shared_options import spare_rule
from exporters.common.shopping import NO_SPARES, SpareRule, purchase

log = logging.getLogger(__name__)

FORMATS = {
    "parts-csv": "spreadsheet (CSV) of the parts to buy: part, colour with its BrickLink, LEGO and Rebrickable ids, "
                 "needed, spares, quantity, bases, and whether each part is known in its colour",
    "bricklink-xml": "BrickLink wanted list (XML) to upload, bases included, with a remark on every line to check",
    "rebrickable-csv": "Rebrickable parts-list import (CSV: part, Rebrickable colour id, quantity)",
    "build-pdf": "build instructions (vector PDF): section map, one page per section with numbered studs, "
                 "parts list, how the sections join",
}
OPTIONS = BrickOptions

STUD_MM = 8.0


@dataclass(frozen=True)
class PartType:
    """A BrickLink part: id, catalogue name and size in studs (w <= h)."""

    part_id: str
    name: str
    w: int
    h: int


def _pt(pid: str, name: str, w: int, h: int) -> PartType:
    return PartType(pid, name, w, h)


# Part ids (BrickLink) - data, from the fabrication facts.
PLATES = (
    _pt("3024", "Plate 1 x 1", 1, 1), _pt("3023", "Plate 1 x 2", 1, 2), _pt("3623", "Plate 1 x 3", 1, 3),
    _pt("3710", "Plate 1 x 4", 1, 4), _pt("3666", "Plate 1 x 6", 1, 6), _pt("3460", "Plate 1 x 8", 1, 8),
    _pt("3022", "Plate 2 x 2", 2, 2), _pt("3021", "Plate 2 x 3", 2, 3), _pt("3020", "Plate 2 x 4", 2, 4),
    _pt("3795", "Plate 2 x 6", 2, 6), _pt("3034", "Plate 2 x 8", 2, 8), _pt("3031", "Plate 4 x 4", 4, 4),
)
TILES = (
    _pt("3070b", "Tile 1 x 1 with Groove", 1, 1), _pt("3069b", "Tile 1 x 2 with Groove", 1, 2),
    _pt("63864", "Tile 1 x 3", 1, 3), _pt("2431", "Tile 1 x 4", 1, 4), _pt("6636", "Tile 1 x 6", 1, 6),
    _pt("4162", "Tile 1 x 8", 1, 8), _pt("3068b", "Tile 2 x 2 with Groove", 2, 2), _pt("26603", "Tile 2 x 3", 2, 3),
    _pt("87079", "Tile 2 x 4", 2, 4), _pt("69729", "Tile 2 x 6", 2, 6),
)
# Bases to order with the mosaic (fabrication facts): 16 x 16 plates (what LEGO Art canvases and most builders use),
# or baseplates per section size (3867 is a vintage 16 x 16 baseplate, not known in every colour: never the default).
BASEPLATES = {16: _pt("3867", "Baseplate 16 x 16", 16, 16), 32: _pt("3811", "Baseplate 32 x 32", 32, 32),
              48: _pt("4186", "Baseplate 48 x 48", 48, 48)}
PLATE_16 = _pt("91405", "Plate 16 x 16", 16, 16)
# The joining layer under 16 x 16 plates: the same grid shifted by half a plate, so every seam is bridged.
JOIN_PARTS = {(16, 16): PLATE_16, (8, 16): _pt("92438", "Plate 8 x 16", 8, 16),
              (8, 8): _pt("41539", "Plate 8 x 8", 8, 8)}
SMALL_SPARES = SpareRule(percent=2, minimum=3)  # default spares of 1x1 pieces per colour (LEGO Art sets include some)
PIECE_PARTS: dict[str, tuple[PartType, ...]] = {
    "plate": PLATES[:1],
    "tile": TILES[:1],
    "round-plate": (_pt("4073", "Plate, Round 1 x 1", 1, 1),),
    "round-tile": (_pt("98138", "Tile, Round 1 x 1", 1, 1),),
    "brick": (_pt("3005", "Brick 1 x 1", 1, 1),),
    "merged-plate": PLATES,
    "merged-tile": TILES,
}


@dataclass(frozen=True)
class BrickColor:
    """A LEGO colour used by the mosaic (one legend entry)."""

    bricklink_id: str
    name: str
    rgb: tuple[int, int, int]
    palette_indices: tuple[int, ...]  # design colours built in this LEGO colour
    delta_e: float = 0.0  # CIEDE2000 to the design colour when it was mapped from a non-LEGO palette
    replaces: tuple[str, ...] = ()  # LEGO colours of the design not made in the chosen piece, built in this one


@dataclass(frozen=True)
class PlacedPart:
    """One part on the mosaic: top-left stud (x, y), size w x h studs, part id, and colour (index into plan.colors)."""

    x: int
    y: int
    w: int
    h: int
    part_id: str
    color: int

    @property
    def studs(self) -> int:
        return self.w * self.h


@dataclass(frozen=True)
class PartTotal:
    """One line of the parts list: ``quantity`` to order = ``needed`` + ``spares`` (from shopping.py)."""

    part_id: str
    part_name: str
    color_name: str
    bricklink_color: str
    quantity: int
    studs_each: int
    needed: int = 0
    spares: int = 0
    use: str = "mosaic"  # "mosaic" (studs), "base" or "join" (the layer that holds 16x16 plates together)
    availability: str = "unknown"  # "listed": the part is known in this colour (1x1 pieces, Lego Art Remix data)


@dataclass
class PartsPlan:
    """Every placed part plus totals; ``stud_color`` is H x W (index into ``colors``, -1 = empty)."""

    width: int
    height: int
    section: int
    piece: str
    parts: list[PlacedPart]
    colors: list[BrickColor]
    stud_color: np.ndarray
    totals: list[PartTotal]
    mapped: bool = False  # design colours were mapped to the nearest LEGO colours
    greedy_count: int | None = None  # part count of the greedy largest-first cover (merged pieces only)
    notes: list[str] = field(default_factory=list)
    bases: list[PartTotal] = field(default_factory=list)
    spares: SpareRule = NO_SPARES
    base_note: str = ""  # how the sections/bases join, said on every order

    @property
    def unknown_availability(self) -> list[PartTotal]:
        """Order lines whose part is not known to exist in their colour (check before ordering)."""
        return [t for t in self.order if t.availability != "listed"]

    @property
    def order(self) -> list[PartTotal]:
        """Everything to buy: the mosaic's parts (with spares), then the bases."""
        return self.totals + self.bases

    @property
    def part_count(self) -> int:
        return len(self.parts)

    @property
    def stud_count(self) -> int:
        return int((self.stud_color >= 0).sum())

    @property
    def saved_vs_1x1(self) -> int:
        """Parts saved compared with one 1x1 piece per stud."""
        return self.stud_count - self.part_count

    def summary(self) -> str:
        """One paragraph for the CLI/GUI: size, parts and savings."""
        w_cm, h_cm = self.width * STUD_MM / 10, self.height * STUD_MM / 10
        lines = [f"{self.width} x {self.height} studs ({w_cm:.1f} x {h_cm:.1f} cm), {len(self.colors)} colours, "
                 f"{self.part_count:,} parts for {self.stud_count:,} studs"]
        if self.piece.startswith("merged"):
            lines.append(f"merging saves {self.saved_vs_1x1:,} parts vs all 1x1"
                         + (f" ({self.greedy_count:,} with a greedy largest-first cover)"
                            if self.greedy_count is not None else ""))
        if self.base_note:
            lines.append(self.base_note)
        lines.extend(self.notes)
        return "; ".join(lines)


def _check_piece(piece: str) -> str:
    if piece not in PIECE_PARTS:
        raise ExportError(f"unknown piece {piece!r}; choose one of: {', '.join(PIECE_PARTS)}")
    return piece


def _part_table(piece: str) -> tuple[PartType, ...]:
    return PIECE_PARTS[_check_piece(piece)]


def check_options(options: BrickOptions) -> None:
    """Raise ExportError for an unknown piece or a section size LEGO does not make."""
    _part_table(options.piece)
    if options.section not in SECTION_SIZES:
        raise ExportError(
            f"section size {options.section!r} is not available; choose one of {', '.join(map(str, SECTION_SIZES))}"
        )
    if BASE_ALIASES.get(options.base, options.base) not in BASE_CHOICES:
        raise ExportError(f"unknown base {options.base!r}; choose one of: {', '.join(BASE_CHOICES)}")
    if options.base == "baseplate" and options.section not in BASEPLATES:
        raise ExportError(f"LEGO makes no {options.section}x{options.section} baseplate; choose --base plate-16 "
                          "or a section size of 16, 32 or 48")
    if options.condition not in CONDITIONS:
        raise ExportError(f"unknown condition {options.condition!r}; choose one of: {', '.join(CONDITIONS)}")
    if options.join not in JOIN_CHOICES:
        raise ExportError(f"unknown way to join the plates {options.join!r}; choose one of: {', '.join(JOIN_CHOICES)}")


def base_part(options: BrickOptions) -> PartType | None:
    """The base to order for the chosen sections (None for base 'none')."""
    if options.base == "none":
        return None
    if options.base == "baseplate":
        return BASEPLATES[options.section]
    return PLATE_16


def _base_color(options: BrickOptions) -> PaletteColor:
    lego = _lego_palette()
    for c in lego:
        if c.ids["bricklink"] == str(options.base_color):
            return c
    raise ExportError(f"base colour {options.base_color!r} is not a BrickLink colour id of a current LEGO "
                      "colour (e.g. 11 for Black, 86 for Light Bluish Gray)")


def join_layer(nx: int, ny: int) -> dict[PartType, int]:
    """Plates of the joining layer under ``nx`` x ``ny`` 16 x 16 plates: the same grid shifted by 8 studs, so
    8 x 8 plates at the corners, 8 x 16 along the edges and 16 x 16 inside (empty for a single plate)."""
    if nx * ny <= 1:
        return {}
    cols = [16] if nx == 1 else [8] + [16] * (nx - 1) + [8]
    rows = [16] if ny == 1 else [8] + [16] * (ny - 1) + [8]
    out: dict[PartType, int] = {}
    for w in cols:
        for h in rows:
            part = JOIN_PARTS[(min(w, h), max(w, h))]
            out[part] = out.get(part, 0) + 1
    return out


def plan_bases(width: int, height: int, options: BrickOptions) -> tuple[list[PartTotal], str]:
    """The bases lines of the order (bases, then the joining layer) and the note saying how the sections join."""
    part = base_part(options)
    if part is None:
        return [], ("no bases in the order: build on your own baseplates (16 x 16 studs per section map square)")
    color = _base_color(options)
    bl = color.ids["bricklink"]
    nx, ny = math.ceil(width / part.w), math.ceil(height / part.h)
    n = nx * ny
    lines = [PartTotal(part.part_id, part.name, color.name, bl, n, part.w * part.h, n, 0, "base")]
    if part is not PLATE_16:
        note = (f"{n} x {part.name} ({part.part_id}): baseplates do not clip together - fix them side by side on a "
                "board or in a frame" if n > 1 else f"one {part.name} ({part.part_id}) carries the whole mosaic")
        if part.part_id == "3867":
            note += f"; 3867 is a vintage part, not confirmed in {color.name}: check before ordering"
        return lines, note
    layer = join_layer(nx, ny)
    if not layer:
        return lines, "one Plate 16 x 16 (91405) carries the whole mosaic"
    if options.join == "none":
        return lines, (f"{n} separate 16 x 16 plates (91405), nothing in the order joins them: hold them together "
                       "in a frame or glue them to a board")
    for jp, q in sorted(layer.items(), key=lambda kv: -kv[0].w * kv[0].h):
        lines.append(PartTotal(jp.part_id, jp.name, color.name, bl, q, jp.w * jp.h, q, 0, "join"))
    parts = ", ".join(f"{q} x {jp.name} ({jp.part_id})"
                      for jp, q in sorted(layer.items(), key=lambda kv: -kv[0].w * kv[0].h))
    note = (f"{n} x Plate 16 x 16 (91405) in {nx} x {ny}, joined from below by a second layer shifted 8 studs "
            f"right and down ({parts}): lay the joining layer studs up, press the 16 x 16 plates onto it so every "
            "seam is bridged, then build the mosaic on top")
    return lines, note

# 1x1 part id -> the piece kind Lego Art Remix records per colour (PaletteColor.parts): availability is known.
KNOWN_1X1 = {"3024": "plate", "3070b": "tile", "4073": "round", "98138": "round"}
AVAILABILITY_TEXT = {"listed": "known in this colour (1x1 piece data from Lego Art Remix)",
                     "unknown": "not known whether this part is made in this colour: check before ordering"}


def availability(part_id: str, color: PaletteColor | None) -> str:
    """'listed' when the shipped data knows ``part_id`` in ``color``, else 'unknown'."""
    kind = KNOWN_1X1.get(part_id)
    return "listed" if kind and color is not None and kind in color.parts else "unknown"


def spare_rule_for(part: PartType, options: BrickOptions) -> SpareRule:
    """The spares of ``part``: the rule given, else SMALL_SPARES for 1x1 pieces (unless turned off), else none."""
    rule = spare_rule(options)
    if rule.active:
        return rule
    return SMALL_SPARES if options.spares_1x1 and part.w * part.h == 1 else NO_SPARES


# Which recorded piece kind (PaletteColor.parts) each piece choice needs.
PIECE_KIND = {"plate": "plate", "brick": "plate", "merged-plate": "plate", "tile": "tile", "merged-tile": "tile",
              "round-plate": "round", "round-tile": "round"}
STALE_DE = 10.0  # a design colour this far from the shipped value of its BrickLink colour was made with old data
KIND_LABEL = {"plate": "1x1 plates", "tile": "1x1 tiles", "round": "1x1 round plates/tiles"}


def _lego_palette() -> Palette:
    try:
        pal = load_palette("lego")
    except PaletteError as exc:
        raise ExportError(f"cannot map colours to LEGO colours: {exc}") from None
    keep = [i for i, c in enumerate(pal.colors) if c.ids.get("bricklink")]
    return pal.subset(keep, name=pal.name)


def lego_colors_for_piece(piece: str) -> Palette:
    """The LEGO colours made in the piece kind ``piece`` needs (colours without recorded parts are kept)."""
    kind = PIECE_KIND[_check_piece(piece)]
    lego = _lego_palette()
    keep = [i for i, c in enumerate(lego.colors) if not c.parts or kind in c.parts]
    return lego.subset(keep, name=f"{lego.name} ({KIND_LABEL[kind]})")


def brick_colors(pattern: Pattern, piece: str = "plate",
                 notes: list[str] | None = None) -> tuple[list[BrickColor], np.ndarray, bool]:
    """LEGO colours for the design: (legend entries most-used first, palette index -> entry, mapped?).

    Palette colours with a BrickLink id are used as they are, unless the shipped LEGO data says that colour is
    not made in the chosen piece: then it is replaced by the CIEDE2000-nearest colour that is, and a line saying
    so is appended to ``notes``. Other colours are mapped to the nearest LEGO colour made in the piece. Design
    colours that end up as the same BrickLink colour share one entry (e.g. LEGO 22 and 221, both BrickLink 47).
    """
    kind = PIECE_KIND[_check_piece(piece)]
    pal = pattern.palette
    counts = pattern.counts()
    used = pattern.used_indices()
    if not used:
        raise ExportError("the design has no filled cells; there is nothing to build")
    lego = _lego_palette()
    by_bl = {c.ids["bricklink"]: c for c in lego}
    avail = None
    groups: dict[str, dict] = {}
    mapped = False
    for i in used:
        c = pal[i]
        bl = c.ids.get("bricklink")
        de = 0.0
        known = by_bl.get(bl) if bl else None
        replaced = ""
        parts = known.parts if known is not None else c.parts
        if bl and (not parts or kind in parts):
            name, rgb = (known.name, known.rgb) if known is not None else (c.name, c.rgb)
            if known is not None and notes is not None:
                stale = float(ciede2000(pal.lab[i], srgb8_to_lab(np.array([known.rgb], dtype=np.uint8))[0]))
                if stale > STALE_DE:
                    notes.append(f"{c.name} (BrickLink {bl}) was {c.hex} in the palette this design was made with; "
                                 f"the corrected LEGO value is {known.hex} (CIEDE2000 {stale:.1f}): convert the "
                                 "picture again for the right colours")
        else:
            if avail is None:
                avail = lego_colors_for_piece(piece)
            j, d = nearest_palette_match(pal.lab[i], avail.lab)
            sub = avail[int(j)]
            if bl and notes is not None:
                notes.append(f"{c.name} (BrickLink {bl}) is not made as {KIND_LABEL[kind]}: its "
                             f"{int(counts[i]):,} studs use {sub.name} (BrickLink {sub.ids['bricklink']}, "
                             f"CIEDE2000 {float(d):.1f}) instead")
            mapped = mapped or not bl
            if bl:
                replaced = f"{c.name} (BrickLink {bl}, not made as {KIND_LABEL[kind]})"
            bl, name, rgb, de = sub.ids["bricklink"], sub.name, sub.rgb, float(d)
        g = groups.setdefault(bl, {"name": name, "rgb": rgb, "idx": [], "count": 0, "de": 0.0, "rep": []})
        if replaced:
            g["rep"].append(replaced)
        g["idx"].append(i)
        g["count"] += int(counts[i])
        g["de"] = max(g["de"], de)
    order = sorted(groups.items(), key=lambda kv: (-kv[1]["count"], kv[0]))
    colors = [BrickColor(bl, g["name"], tuple(g["rgb"]), tuple(g["idx"]), g["de"], tuple(g["rep"]))
              for bl, g in order]
    lut = np.full(len(pal), -1, dtype=np.int64)
    for k, bc in enumerate(colors):
        lut[list(bc.palette_indices)] = k
    return colors, lut, mapped


def plan_parts(pattern: Pattern, options: BrickOptions | None = None, progress: ProgressCallback | None = None,
               cancel: CancelToken | None = None, with_baseline: bool = True) -> PartsPlan:
    """Place parts on every stud: 1x1 pieces, or merged plates/tiles that never cross a section boundary."""
    options = options or BrickOptions()
    check_options(options)
    table = _part_table(options.piece)
    notes: list[str] = []
    colors, lut, mapped = brick_colors(pattern, options.piece, notes)
    stud = lut[pattern.index].astype(np.int64)
    stud[pattern.empty_mask] = -1
    by_size = {(p.w, p.h): p for p in table} | {(p.h, p.w): p for p in table}
    sizes = [(p.w, p.h) for p in table]
    sec = options.section
    parts: list[PlacedPart] = []
    greedy_total = 0
    merged = len(table) > 1
    t0 = time.perf_counter()
    sections = [(sy, sx) for sy in range(0, pattern.height, sec) for sx in range(0, pattern.width, sec)]
    settings = CoverSettings()
    for n, (sy, sx) in enumerate(sections):
        if cancel is not None:
            cancel.raise_if_cancelled()
        block = stud[sy:sy + sec, sx:sx + sec]
        for k in np.unique(block[block >= 0]):
            mask = block == k
            if merged:
                rects = optimal_cover(mask, sizes, settings)
                if with_baseline:
                    greedy_total += len(greedy_cover(mask, sizes))
            else:
                rects = [Rect(int(x), int(y), 1, 1) for y, x in zip(*np.nonzero(mask))]
            for r in rects:
                parts.append(PlacedPart(sx + r.x, sy + r.y, r.w, r.h, by_size[(r.w, r.h)].part_id, int(k)))
        if progress is not None:
            progress(Progress(n + 1, len(sections), "planning parts", elapsed=time.perf_counter() - t0))
    tally: dict[tuple[str, int], int] = {}
    for p in parts:
        tally[(p.part_id, p.color)] = tally.get((p.part_id, p.color), 0) + 1
    part_of = {p.part_id: p for p in table}
    totals = []
    known = {c.ids["bricklink"]: c for c in _lego_palette()}
    for (pid, k), q in sorted(tally.items(), key=lambda kv: (kv[0][1], -part_of[kv[0][0]].w * part_of[kv[0][0]].h,
                                                             kv[0][0])):
        part = part_of[pid]
        buy = purchase(pid, part.name, q, spare_rule_for(part, options))
        totals.append(PartTotal(pid, part.name, colors[k].name, colors[k].bricklink_id, buy.total, part.w * part.h,
                                q, buy.spares, availability=availability(pid, known.get(colors[k].bricklink_id))))
    if mapped:
        worst = max(c.delta_e for c in colors)
        notes.insert(0, f"colours of palette {pattern.palette.name!r} were mapped to the nearest LEGO colours "
                     f"(CIEDE2000, largest difference {worst:.1f})")
    bases, base_note = plan_bases(pattern.width, pattern.height, options)
    plan = PartsPlan(pattern.width, pattern.height, sec, options.piece, parts, colors, stud, totals, mapped,
                     greedy_total if (merged and with_baseline) else None, notes, bases, spare_rule(options),
                     base_note)
    for note in notes:
        log.info("%s", note)  # said to the user once, as an ExportResult warning
    log.info("parts plan: %s (%.2f s)", plan.summary(), time.perf_counter() - t0)
    return plan


# --------------------------------------------------------------------------- CSV / XML


def _color_ids() -> dict[str, PaletteColor]:
    """BrickLink colour id -> shipped LEGO colour (for the LEGO and Rebrickable ids of each order line)."""
    lego = _lego_palette()
    return {c.ids["bricklink"]: c for c in lego}


def line_note(plan: PartsPlan, t: PartTotal) -> str:
    """What a maker must know about one order line: colour replaced or mapped, availability, how bases join."""
    notes = []
    c = next((c for c in plan.colors if c.bricklink_id == t.bricklink_color), None) if t.use == "mosaic" else None
    if c is not None and c.replaces:
        notes.append(f"replaces {'; '.join(c.replaces)} (CIEDE2000 {c.delta_e:.1f})")
    elif c is not None and c.delta_e > 0:
        notes.append(f"nearest LEGO colour (CIEDE2000 {c.delta_e:.1f})")
    if t.use != "mosaic":
        notes.append(plan.base_note)
    if t.availability != "listed":
        notes.append(f"{t.part_name} in {t.color_name}: {AVAILABILITY_TEXT['unknown']}")
    return "; ".join(notes)


def parts_csv_text(plan: PartsPlan) -> str:
    """The order as CSV: mosaic parts (needed + spares = quantity) and bases; every colour column names its id
    system; 'availability' says whether the part is known in the colour; 'note' says what else to know (colour
    replaced or mapped, how the bases join)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["part id", "part name", "colour name", "BrickLink colour id", "LEGO colour id",
                "Rebrickable colour id", "use", "needed", "spares", "quantity", "availability", "note"])
    ids = _color_ids()
    for t in plan.order:
        lego = ids.get(t.bricklink_color)
        w.writerow([t.part_id, t.part_name, t.color_name, t.bricklink_color,
                    lego.ids.get("lego", lego.code) if lego else "", lego.ids.get("rebrickable", "") if lego else "",
                    t.use, t.needed, t.spares, t.quantity, t.availability, line_note(plan, t)])
    return buf.getvalue()


def bricklink_xml_text(plan: PartsPlan, condition: str = "none") -> str:
    """BrickLink wanted-list XML (no XML declaration, as BrickLink's upload requires), bases included;
    ``condition`` N/U/X adds a CONDITION element to every item; REMARKS carry each line's note (how the bases
    join, availability not known, colour replaced)."""
    if condition not in CONDITIONS:
        raise ExportError(f"unknown condition {condition!r}; choose one of: {', '.join(CONDITIONS)}")
    root = ET.Element("INVENTORY")
    merged: dict[tuple[str, str], tuple[int, list[str]]] = {}  # one item per part and colour (bases + layer)
    for t in plan.order:
        q, notes = merged.get((t.part_id, t.bricklink_color), (0, []))
        note = line_note(plan, t)
        merged[(t.part_id, t.bricklink_color)] = (q + t.quantity, notes + ([note] if note and note not in notes
                                                                             else []))
    for (part_id, color), (quantity, notes) in merged.items():
        item = ET.SubElement(root, "ITEM")
        ET.SubElement(item, "ITEMTYPE").text = "P"
        ET.SubElement(item, "ITEMID").text = part_id
        ET.SubElement(item, "COLOR").text = color
        ET.SubElement(item, "MINQTY").text = str(quantity)
        if condition != "none":
            ET.SubElement(item, "CONDITION").text = condition
        if notes:
            ET.SubElement(item, "REMARKS").text = "; ".join(notes)
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="unicode") + "\n"


def rebrickable_csv_text(plan: PartsPlan) -> str:
    """Rebrickable's parts-list import: ``Part,Color,Quantity`` with Rebrickable colour ids (Red is 4 there,
    5 on BrickLink). Part numbers of these plates, tiles and baseplates are the same on both sites."""
    ids = _color_ids()
    missing = sorted({t.color_name for t in plan.order
                      if not (ids.get(t.bricklink_color) and ids[t.bricklink_color].ids.get("rebrickable"))})
    if missing:
        raise ExportError(f"no Rebrickable colour id is recorded for {', '.join(missing)}; export bricklink-xml "
                          "instead or choose other colours")
    merged: dict[tuple[str, str], int] = {}
    for t in plan.order:
        key = (t.part_id, ids[t.bricklink_color].ids["rebrickable"])
        merged[key] = merged.get(key, 0) + t.quantity
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Part", "Color", "Quantity"])
    for (part, color), q in merged.items():
        w.writerow([part, color, q])
    return buf.getvalue()


def _plan(pattern: Pattern, options: BrickOptions | None, plan: PartsPlan | None) -> PartsPlan:
    return plan if plan is not None else plan_parts(pattern, options, with_baseline=False)


def _write_plan_text(render, pattern: Pattern, path: str | Path, options: BrickOptions | None,
                     plan: PartsPlan | None) -> Path:
    """Plan the parts (unless a plan is given), render them as text and write it atomically."""
    options = options or BrickOptions()
    check_options(options)
    atomic_write_text(Path(path), render(_plan(pattern, options, plan)))
    return Path(path)


def export_parts_csv(pattern: Pattern, path: str | Path, options: BrickOptions | None = None,
                     plan: PartsPlan | None = None) -> Path:
    """Write the parts list CSV: parts and bases with colour ids (BrickLink, LEGO, Rebrickable), needed,
    spares and quantity."""
    return _write_plan_text(parts_csv_text, pattern, path, options, plan)


def export_bricklink_xml(pattern: Pattern, path: str | Path, options: BrickOptions | None = None,
                         plan: PartsPlan | None = None) -> Path:
    """Write a BrickLink wanted-list XML for the parts plan (bases included, optional CONDITION)."""
    cond = (options or BrickOptions()).condition
    return _write_plan_text(lambda pl: bricklink_xml_text(pl, cond), pattern, path, options, plan)


def export_rebrickable_csv(pattern: Pattern, path: str | Path, options: BrickOptions | None = None,
                           plan: PartsPlan | None = None) -> Path:
    """Write Rebrickable's parts-list import CSV (Part,Color,Quantity; Rebrickable colour ids)."""
    return _write_plan_text(rebrickable_csv_text, pattern, path, options, plan)


def export_build_pdf(pattern: Pattern, path: str | Path, options: BrickOptions | None = None,
                     plan: PartsPlan | None = None, progress: ProgressCallback | None = None,
                     cancel: CancelToken | None = None) -> Path:
    """Write the vector build PDF: overview with the section map, one page per section, parts list."""
    options = options or BrickOptions()
    check_options(options)
    plan = plan if plan is not None else plan_parts(pattern, options, progress=None, cancel=cancel)
    _write_build_pdf(plan, Path(path), options.title or pattern.metadata.get("title") or "Brick mosaic",
                    progress=progress, cancel=cancel)
    return Path(path)


# --------------------------------------------------------------------------- build PDF


def _section_label(row: int, col: int) -> str:
    return grid_label(row, col)


def _stud_circles(c, rgb, centers: list[tuple[float, float]], r: float) -> None:
    """Filled circles (four Bezier arcs each) in one path."""
    if not centers:
        return
    k = 0.5523 * r
    c.setFillColorRGB(*(v / 255 for v in rgb))
    ops = []
    for x, y in centers:
        ops.append(
            f"{x + r:.2f} {y:.2f} m {x + r:.2f} {y + k:.2f} {x + k:.2f} {y + r:.2f} {x:.2f} {y + r:.2f} c "
            f"{x - k:.2f} {y + r:.2f} {x - r:.2f} {y + k:.2f} {x - r:.2f} {y:.2f} c "
            f"{x - r:.2f} {y - k:.2f} {x - k:.2f} {y - r:.2f} {x:.2f} {y - r:.2f} c "
            f"{x + k:.2f} {y - r:.2f} {x + r:.2f} {y - k:.2f} {x + r:.2f} {y:.2f} c"
        )
    ops.append("f")
    c.addLiteral("\n".join(ops))


def _draw_header(c, title: str, sub: str, page: tuple[float, float]) -> float:

    pw, ph = page
    m = 12 * MM
    c.setFillGray(0)
    c.setFont(FONT_BOLD, 15)
    c.drawString(m, ph - m - 13, fit_text(title, FONT_BOLD, 15, pw - 2 * m))
    c.setFont(FONT, 8.5)
    y = ph - m - 27
    for para in sub.split("\n"):
        for line in wrap_text(para, FONT, 8.5, pw - 2 * m):
            c.drawString(m, y, line)
            y -= 11
    return y - 6


def _draw_overview_page(c, plan: PartsPlan, title: str, page: tuple[float, float]) -> None:

    pw, ph = page
    m = 12 * MM
    sec = plan.section
    nsx, nsy = math.ceil(plan.width / sec), math.ceil(plan.height / sec)
    kinds = {"plate": "1x1 plates", "tile": "1x1 tiles", "round-plate": "1x1 round plates",
             "round-tile": "1x1 round tiles", "brick": "1x1 bricks", "merged-plate": "merged plates",
             "merged-tile": "merged tiles"}
    sub = [
        f"Size: {plan.width} x {plan.height} studs = {plan.width * STUD_MM / 10:.1f} x "
        f"{plan.height * STUD_MM / 10:.1f} cm (8 mm per stud)",
        f"Sections: {nsx} x {nsy} of {sec} x {sec} studs ({sec * STUD_MM / 10:.1f} cm square)   "
        f"Colours: {len(plan.colors)}",
        f"Parts: {plan.part_count:,} {kinds.get(plan.piece, plan.piece)} for {plan.stud_count:,} studs"
        + (f" + {sum(t.spares for t in plan.totals):,} spares" if any(t.spares for t in plan.totals) else ""),
    ]
    for b in plan.bases:
        what = "Bases" if b.use == "base" else "Joining layer"
        sub.append(f"{what}: {b.quantity} x {b.part_name} ({b.part_id}) in {b.color_name} - in the parts list")
    if plan.base_note:
        sub.append(f"How the sections join: {plan.base_note}")
    if plan.piece.startswith("merged"):
        extra = f"Merging saves {plan.saved_vs_1x1:,} parts compared with all 1x1"
        if plan.greedy_count is not None:
            extra += f" (greedy largest-first cover: {plan.greedy_count:,} parts)"
        sub.append(extra)
    sub.extend(plan.notes)
    top = _draw_header(c, title, "\n".join(sub), page)
    lab = 16.0
    aw, ah = pw - 2 * m - lab, top - m - lab
    cell = min(aw / plan.width, ah / plan.height)
    x0 = m + lab + (aw - cell * plan.width) / 2
    y_top = top - lab
    for k, col in enumerate(plan.colors):
        fill_cells(c, col.rgb, run_rects(plan.stud_color == k, x0, y_top, cell))
    segs = [(x0 + bx * cell, y_top, x0 + bx * cell, y_top - plan.height * cell)
            for bx in list(range(0, plan.width, sec)) + [plan.width]]
    segs += [(x0, y_top - by * cell, x0 + plan.width * cell, y_top - by * cell)
             for by in list(range(0, plan.height, sec)) + [plan.height]]
    stroke_lines(c, segs, 1.2, 0.1)
    if any(t.use == "join" for t in plan.bases):  # where the plates of the joining layer meet, underneath
        half = PLATE_16.w // 2
        c.saveState()
        c.setDash(4, 3)
        joins = [(x0 + x * cell, y_top, x0 + x * cell, y_top - plan.height * cell)
                 for x in range(half, plan.width, PLATE_16.w)]
        joins += [(x0, y_top - y * cell, x0 + plan.width * cell, y_top - y * cell)
                  for y in range(half, plan.height, PLATE_16.h)]
        stroke_lines(c, joins, 0.9, 0.35)
        c.restoreState()
        c.setFont(FONT, 7.5)
        c.setFillGray(0)
        c.drawString(x0, y_top - plan.height * cell - 10,
                     "Dashed: where the plates of the joining layer meet, underneath (shifted 8 studs from the "
                     "16 x 16 plates)")
    size = max(4.0, min(11.0, sec * cell * 0.28))
    for sy in range(nsy):
        for sx in range(nsx):
            name = _section_label(sy, sx)
            xm = x0 + (sx * sec + min(sec, plan.width - sx * sec) / 2) * cell
            ym = y_top - (sy * sec + min(sec, plan.height - sy * sec) / 2) * cell
            label_box(c, xm, ym, name, size)
    c.showPage()


def _draw_section_page(c, plan: PartsPlan, sx: int, sy: int, page: tuple[float, float]) -> None:

    pw, ph = page
    m = 12 * MM
    sec = plan.section
    gx0, gy0 = sx * sec, sy * sec
    gx1, gy1 = min(plan.width, gx0 + sec), min(plan.height, gy0 + sec)
    nx, ny = gx1 - gx0, gy1 - gy0
    block = plan.stud_color[gy0:gy1, gx0:gx1]
    used = [int(k) for k in np.unique(block[block >= 0])]
    name = _section_label(sy, sx)
    top = _draw_header(c, f"Section {name}",
                       f"columns {gx0 + 1}-{gx1}, rows {gy0 + 1}-{gy1} of {plan.width} x {plan.height} studs; "
                       f"{nx * STUD_MM / 10:.1f} x {ny * STUD_MM / 10:.1f} cm", page)
    legend_rows = math.ceil(len(used) / 3)
    legend_h = 16 + legend_rows * 11
    lab = 16.0
    aw, ah = pw - 2 * m - 2 * lab, top - m - 2 * lab - legend_h
    cell = min(aw / sec, ah / sec)
    x0 = m + lab
    y_top = top - lab
    round_piece = plan.piece.startswith("round")
    texts: dict[tuple, list] = {}
    for k in used:
        ys, xs = np.nonzero(block == k)
        col = plan.colors[k]
        if round_piece:
            _stud_circles(c, col.rgb, [(x0 + (x + 0.5) * cell, y_top - (y + 0.5) * cell) for y, x in zip(ys, xs)],
                          cell * 0.46)
        else:
            fill_cells(c, col.rgb, [(x0 + x * cell, y_top - (y + 1) * cell, cell, cell) for y, x in zip(ys, xs)])
        label = str(k + 1)
        texts.setdefault(contrast_rgb(col.rgb) + (len(label),), []).extend(
            (x0 + (x + 0.5) * cell, y_top - (y + 0.5) * cell, label) for y, x in zip(ys, xs))
    for key, items in texts.items():
        size = cell * (0.5 if key[3] == 1 else 0.42 if key[3] == 2 else 0.34)
        centered_symbols(c, items, FONT_BOLD, size, key[:3])
    right, bottom = x0 + nx * cell, y_top - ny * cell
    thin = [(x0 + i * cell, y_top, x0 + i * cell, bottom) for i in range(nx + 1)]
    thin += [(x0, y_top - j * cell, right, y_top - j * cell) for j in range(ny + 1)]
    stroke_lines(c, thin, 0.3, 0.6)
    if plan.piece.startswith("merged"):
        outlines = [p for p in plan.parts if gx0 <= p.x < gx1 and gy0 <= p.y < gy1]
        c.setLineWidth(1.3)
        c.setStrokeGray(0.0)
        ops = [f"{x0 + (p.x - gx0) * cell:.2f} {y_top - (p.y - gy0 + p.h) * cell:.2f} "
               f"{p.w * cell:.2f} {p.h * cell:.2f} re" for p in outlines]
        if ops:
            c.addLiteral("\n".join(ops + ["S"]))
    else:
        stroke_lines(c, [(x0, y_top, right, y_top), (right, y_top, right, bottom), (right, bottom, x0, bottom),
                         (x0, bottom, x0, y_top)], 1.3, 0.0)
    num = min(7.0, max(4.0, cell * 0.4))
    c.setFillGray(0)
    c.setFont(FONT, num)
    for i in range(nx):
        c.drawCentredString(x0 + (i + 0.5) * cell, y_top + 3, str(gx0 + i + 1))
    for j in range(ny):
        c.drawRightString(x0 - 2.5, y_top - (j + 0.5) * cell - num * 0.35, str(gy0 + j + 1))
    # section legend: number, swatch, colour, studs
    counts = {k: int((block == k).sum()) for k in used}
    y = bottom - 16
    c.setFont(FONT_BOLD, 8)
    c.drawString(m, y, f"Section {name}: {sum(counts.values())} studs, {len(used)} colours")
    colw = (pw - 2 * m) / 3
    for n, k in enumerate(sorted(used, key=lambda k: (-counts[k], k))):
        col, row = divmod(n, legend_rows)
        cx, cy = m + col * colw, y - 12 - row * 11
        bc = plan.colors[k]
        c.setFillColorRGB(*(v / 255 for v in bc.rgb))
        c.setStrokeGray(0.4)
        c.setLineWidth(0.3)
        c.rect(cx, cy - 1.5, 14, 9, stroke=1, fill=1)
        c.setFillColorRGB(*contrast_rgb(bc.rgb))
        c.setFont(FONT_BOLD, 6.5)
        c.drawCentredString(cx + 7, cy + 0.8, str(k + 1))
        c.setFillGray(0)
        c.setFont(FONT, 7.5)
        c.drawString(cx + 17, cy, fit_text(f"{bc.name} (BL {bc.bricklink_id}) x{counts[k]}", FONT, 7.5, colw - 20))
    c.showPage()


def _draw_parts_pages(c, plan: PartsPlan, page: tuple[float, float]) -> None:

    pw, ph = page
    m = 12 * MM
    xs = [m, m + 30, m + 130, m + 240, m + 285, pw - m - 165, pw - m - 120, pw - m - 80, pw - m - 35]
    heads = ["No.", "Colour", "Part", "Part id", "BL colour", "Needed", "Spares", "Quantity", "Known"]
    index_of = {bc.bricklink_id: k for k, bc in enumerate(plan.colors)}
    ids = _color_ids()
    y = 0.0
    first = True
    for t in plan.order:
        if first or y < m + 14:
            if not first:
                c.showPage()
            c.setFillGray(0)
            c.setFont(FONT_BOLD, 14)
            head = "Parts list" + ("" if first else " (continued)")
            c.drawString(m, ph - m - 12, head)
            if any(t.spares for t in plan.totals):
                c.setFont(FONT, 8)
                hx = m + stringWidth(head, FONT_BOLD, 14) + 12
                c.drawString(hx, ph - m - 12, fit_text(_spares_text(plan), FONT, 8, pw - m - hx))
            c.setFont(FONT_BOLD, 8)
            y = ph - m - 36
            for x, h in zip(xs, heads):
                c.drawString(x, y, h)
            y -= 14
            first = False
        k = index_of.get(t.bricklink_color) if t.use == "mosaic" else None
        rgb = plan.colors[k].rgb if k is not None else ids[t.bricklink_color].rgb
        tag = "base" if t.use == "base" else "join" if t.use == "join" else ""
        c.setFillColorRGB(*(v / 255 for v in rgb))
        c.setStrokeGray(0.3)
        c.setLineWidth(0.4)
        c.rect(xs[0], y - 3, 18, 11, stroke=1, fill=1)
        c.setFillColorRGB(*contrast_rgb(rgb))
        c.setFont(FONT_BOLD, 7 if k is not None else 5)
        c.drawCentredString(xs[0] + 9, y, str(k + 1) if k is not None else tag)
        c.setFillGray(0)
        c.setFont(FONT, 9)
        c.drawString(xs[1], y, fit_text(t.color_name, FONT, 9, xs[2] - xs[1] - 4))
        c.drawString(xs[2], y, fit_text(t.part_name, FONT, 9, xs[3] - xs[2] - 4))
        c.drawString(xs[3], y, t.part_id)
        c.drawString(xs[4], y, t.bricklink_color)
        c.drawString(xs[5], y, f"{t.needed:,}")
        c.drawString(xs[6], y, f"{t.spares:,}")
        c.drawString(xs[7], y, f"{t.quantity:,}")
        c.drawString(xs[8], y, "yes" if t.availability == "listed" else "check")
        y -= 14
    spares = sum(t.spares for t in plan.totals)
    bases = sum(t.quantity for t in plan.bases)
    tail = [(FONT_BOLD, f"Total: {plan.part_count:,} parts covering {plan.stud_count:,} studs"),
            (FONT_BOLD, f"Order: {sum(t.quantity for t in plan.order):,} pieces ({spares:,} spares, "
                        f"{bases} base and joining plates)")]
    if plan.base_note:
        tail.append((FONT, f"How the sections join: {plan.base_note}."))
    unknown = plan.unknown_availability
    if unknown:
        tail.append((FONT, f"Known 'check': {len(unknown)} of {len(plan.order)} lines are parts not known to be made "
                           "in their colour (the shipped data knows 1x1 pieces only): check on BrickLink before "
                           "ordering."))
    y -= 4
    for font, text in tail:
        for line in wrap_text(text, font, 9, pw - 2 * m):
            if y < m + 12:
                c.showPage()
                y = ph - m - 36
            c.setFillGray(0)
            c.setFont(font, 9)
            c.drawString(m, y, line)
            y -= 12
        y -= 2
    c.showPage()


def _spares_text(plan: PartsPlan) -> str:
    if plan.spares.active:
        return f"{plan.spares.describe()} (every part)"
    return f"{SMALL_SPARES.describe()} for 1x1 pieces (LEGO Art sets include spares too)"


def _write_build_pdf(plan: PartsPlan, path: Path, title: str, progress: ProgressCallback | None = None,
                     cancel: CancelToken | None = None) -> None:

    page = paper_size("A4")
    sec = plan.section
    nsx, nsy = math.ceil(plan.width / sec), math.ceil(plan.height / sec)
    t0 = time.perf_counter()
    with pdf_canvas(path, title, page) as c:
        _draw_overview_page(c, plan, title, page)
        total = nsx * nsy
        for n in range(total):
            if cancel is not None:
                cancel.raise_if_cancelled()
            sy, sx = divmod(n, nsx)
            if (plan.stud_color[sy * sec:(sy + 1) * sec, sx * sec:(sx + 1) * sec] >= 0).any():
                _draw_section_page(c, plan, sx, sy, page)
            if progress is not None:
                progress(Progress(n + 1, total, "build PDF", elapsed=time.perf_counter() - t0))
        _draw_parts_pages(c, plan, page)


# --------------------------------------------------------------------------- the exporter interface


def _rebrickable_missing(pattern: Pattern, options: BrickOptions) -> list[str]:
    """Names of the LEGO colours of the order (mosaic and bases) without a Rebrickable colour id."""
    colors, _, _ = brick_colors(pattern, options.piece)
    ids = _color_ids()
    bls = {c.bricklink_id for c in colors} | ({str(options.base_color)} if options.base != "none" else set())
    return sorted(ids[b].name if b in ids else b for b in bls if not (b in ids and ids[b].ids.get("rebrickable")))


def check(pattern: Pattern, fmt: str, options: BrickOptions) -> None:
    """Refuse ``fmt`` with ``options`` before anything is planned or written: format, pieces, section, bases and
    their colour, an empty design, Rebrickable ids, and the build PDF's page count."""
    if fmt not in FORMATS:
        raise ExportError(f"the brick exporter does not write {fmt!r}")
    limits_check.check_finite(options)
    check_options(options)
    spare_rule(options)
    if options.base != "none":
        _base_color(options)
    if not pattern.used_indices():
        raise ExportError("the design has no filled cells; there is nothing to build")
    if fmt == "rebrickable-csv":
        missing = _rebrickable_missing(pattern, options)
        if missing:
            raise ExportError(f"no Rebrickable colour id is known for {', '.join(missing)}; export the BrickLink "
                              "wanted list instead or choose other colours")
    if fmt == "build-pdf":
        s = options.section
        limits_check.check_pdf_pages(math.ceil(pattern.width / s) * math.ceil(pattern.height / s) + 2,
                                     f"the build PDF with {s}-stud sections")


def _report(plan: PartsPlan, fmt: str, files: list[Path]) -> tuple[list[str], list[str]]:
    """(summary lines, warnings) of one export of ``plan``."""
    nsx, nsy = math.ceil(plan.width / plan.section), math.ceil(plan.height / plan.section)
    lines = [f"{plan.width} x {plan.height} studs, {nsx} x {nsy} sections of {plan.section}, {len(plan.colors)} "
             f"colours, {plan.part_count:,} parts for {plan.stud_count:,} studs"]
    if plan.greedy_count is not None:
        lines.append(f"merging saves {plan.saved_vs_1x1:,} parts vs all 1x1 ({plan.greedy_count:,} with a greedy "
                     "largest-first cover)")
    if any(t.spares for t in plan.totals):
        lines.append(f"{_spares_text(plan)}: {sum(t.spares for t in plan.totals):,} spare parts")
    for b in plan.bases:
        lines.append(f"{'bases' if b.use == 'base' else 'joining layer'}: {b.quantity} x {b.part_name} "
                     f"({b.part_id}) in {b.color_name}")
    lines.append(f"how the sections join: {plan.base_note}")
    lines.append(f"order: {len(plan.order)} lines, {sum(t.quantity for t in plan.order):,} pieces")
    if fmt == "build-pdf" and files:
        try:
            from pypdf import PdfReader

            lines.append(f"{len(PdfReader(str(files[0])).pages)} pages")
        except Exception:  # noqa: BLE001 - a summary line must never fail the export
            pass
    warnings = list(plan.notes)
    unknown = plan.unknown_availability
    if unknown:
        ex = unknown[0]
        warnings.append(f"{len(unknown)} of {len(plan.order)} order lines are parts not known to be made in their "
                        f"colour (e.g. {ex.part_name} in {ex.color_name}): check them on BrickLink before ordering")
    return lines, warnings


def export(pattern: Pattern, fmt: str, out: Path, options: BrickOptions) -> ExportResult:
    """Write ``fmt`` to ``out`` (checked first) and say what was written and what to check."""
    check(pattern, fmt, options)
    plan = plan_parts(pattern, options, with_baseline=fmt == "build-pdf" and options.piece.startswith("merged"))
    log.info("%s", plan.summary())
    writers = {"parts-csv": export_parts_csv, "bricklink-xml": export_bricklink_xml,
               "rebrickable-csv": export_rebrickable_csv, "build-pdf": export_build_pdf}
    files = [writers[fmt](pattern, out, options, plan)]
    report, warnings = _report(plan, fmt, files)
    return ExportResult(files, report, warnings)


__all__ = [
    "FORMATS", "OPTIONS", "check", "export", "BrickOptions", "PartsPlan", "PlacedPart", "PartTotal", "BrickColor",
    "PartType", "PIECE_PARTS",
    "plan_parts", "brick_colors", "export_parts_csv", "export_bricklink_xml", "export_rebrickable_csv",
    "export_build_pdf", "parts_csv_text", "bricklink_xml_text", "rebrickable_csv_text", "check_options",
    "plan_bases", "base_part",
    "lego_colors_for_piece", "BASEPLATES", "PLATE_16", "TILES", "PLATES",
]
