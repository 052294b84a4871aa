"""Machine embroidery export: pixel regions as tatami fills or one cross per cell, written to DST, PES,
JEF, EXP and VP3 through pyembroidery, plus a stitch preview PNG.

Each thread is one colour block (largest areas first). Its cells are split into runs and chains
(see ``fill``), ordered to avoid jumps (see ``order``), joined by running stitches
that stay hidden - inside the thread's own unsewn cells or under colours sewn later - and by jumps
elsewhere; jumps longer than the trim distance are tied off and trimmed. Units are 0.1 mm and the
design is centred on the hoop origin. DST is written by a vectorised encoder (``dst_fast``), the
other formats by pyembroidery's writers.

Public API: ``EmbroideryOptions``, ``plan_embroidery`` (numpy stitch plan + report),
``build_embroidery`` (pyembroidery EmbPattern + report), ``export_embroidery``, ``write_plan``,
``render_stitch_preview``, ``draw_plan``/``draw_stitches`` (PIL images), ``SEWING_TIME``.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pyembroidery as pe
from pyembroidery import EmbPattern
from scipy import ndimage

from engine.core.atomic import OutputPathError, atomic_path, check_writable_dir
from engine.core.palette import PaletteError
from engine.core.pattern import Pattern
from engine.core.progress import CancelToken, Progress
from exporters.common.errors import ExportError
from exporters.embroidery import fill as sf
from exporters.embroidery import writers as fast_writers
from exporters.embroidery.dst import HEADER_BYTES as DST_HEADER_BYTES
from exporters.embroidery.dst import dst_bytes
from exporters.embroidery.hoops import Hoop, HoopError, parse_hoop, smallest_fitting_hoop
from exporters.embroidery.order import ENDPOINT_GUARD_MM, TravelPlanner, UnitOrder, order_units
from exporters.embroidery.preview import FABRIC_RGB, add_legend, draw_plan  # noqa: F401 (re-exported)
from exporters.embroidery.threads import (
    MATCH_CHOICES,
    Thread,
    chart_choices,
    map_threads,
    resolve_chart,
    resolve_match,
)

log = logging.getLogger(__name__)

FORMATS = {
    "dst": "Tajima DST machine embroidery (no colours in the file; trims as jump runs)",
    "pes": "Brother PES version 6 machine embroidery (keeps the thread list)",
    "jef": "Janome JEF machine embroidery (with trims)",
    "exp": "Melco EXP machine embroidery",
    "vp3": "Pfaff/Husqvarna VP3 machine embroidery",
    "stitch-png": "PNG preview drawn from the embroidery stitches",
}
MACHINE_FORMATS = ("dst", "pes", "jef", "exp", "vp3")

# Longest stitch/jump each format can encode in one record (0.1 mm units).
FORMAT_MAX_STEP = {"dst": 121, "pes": 2047, "jef": 127, "exp": 127, "vp3": 255}
# Most colour changes a format (or the machines reading it) accept.
FORMAT_MAX_COLOR_CHANGES = {"pes": 255, "jef": 255}
# Jumps are split into moves of at most this length (fits every format above after rounding).
MAX_JUMP_MM = 12.0
MAX_STITCH_LIMIT_MM = 12.0
# Small back-and-forth stitches that lock the thread after a trim and before one.
TIE_MM = 0.5
# Lightness (CIE L*) by which a colour sewn later may exceed the thread's own before travel under it shows.
LIGHTER_L = 5.0
# Threads further than this (CIEDE2000) from the pattern colour they replace are warned about.
FAR_THREAD_DE = 10.0
# Choices of the fill direction (degrees; 0: horizontal rows, 90: vertical rows).
FILL_ANGLES = (0, 90)


@dataclass(frozen=True)
class SewingTimeModel:
    """Constants of the sewing-time estimate (documented data, tune for a machine).

    minutes = (stitches + jump records) / stitches_per_minute
              + trims * trim_seconds / 60 + colour changes * color_change_seconds / 60
    Home single-needle machines sew ~400-850 stitches/min; a trim takes a few seconds; a colour
    change on a single-needle machine means re-threading by hand (~30-60 s).
    """

    stitches_per_minute: float = 650.0
    trim_seconds: float = 6.0
    color_change_seconds: float = 45.0

    def minutes(self, stitches: int, jump_records: int, trims: int, color_changes: int,
                stitches_per_minute: float | None = None) -> float:
        spm = stitches_per_minute or self.stitches_per_minute
        return ((stitches + jump_records) / spm
                + trims * self.trim_seconds / 60.0 + color_changes * self.color_change_seconds / 60.0)


SEWING_TIME = SewingTimeModel()


@dataclass
class EmbroideryOptions:
    """How a pattern becomes stitches. Defaults follow the reference tatami values (see the facts sheet).

    cell_mm: size of one cell (default: the medium's pitch for thread patterns, else 2.0 mm);
    design_mm: alternatively the total (width, height) in mm (cells may then be non-square);
    mode: "fill" (tatami per colour region) or "cross" (one machine cross per cell).
    """

    cell_mm: float | None = None
    design_mm: tuple[float, float] | None = None
    mode: str = "fill"
    row_spacing_mm: float = 0.4
    max_stitch_mm: float = 3.0
    underlay: bool = True
    overlap_mm: float = 0.2
    trim_distance_mm: float = 3.0
    hoop: str | None = None
    thread_chart: str | None = None  # None/"auto": the machine chart of the target format; "pattern": own threads
    thread_match: str = "auto"  # "nearest", "distinct" (one-to-one), "auto" (distinct)
    target_format: str | None = None  # the machine format being written (picks the default chart)
    strict_hoop: bool = False
    tie_stitches: bool = True
    ordering: str = "optimized"  # "rows": naive row-by-row baseline (each run on its own), for comparisons
    pull_compensation_mm: float = 0.2  # fill rows reach this far past edges at empty cells or the border
    min_stitch_mm: float = 0.3  # stitches shorter than this are dropped
    fill_angle: int = 0  # 0: horizontal tatami rows, 90: vertical rows (underlay perpendicular)
    cross_repeats: int = 1  # cross stitch: each leg sewn this many times (odd)
    merge_tiny: bool = False  # merge regions under min_fill_mm2 into a neighbour's colour before stitching
    min_fill_mm2: float = 20.0  # fills smaller than this are warned about (and merged with merge_tiny)
    max_color_changes: int = 12  # more colour changes than this are warned about
    stitches_per_minute: float = SEWING_TIME.stitches_per_minute  # sewing speed of the time estimate


@dataclass
class EmbroideryReport:
    """What was built: counts read from the stitch list, size, sewing-time estimate and warnings."""

    stitch_count: int = 0
    color_changes: int = 0
    trims: int = 0
    jumps: int = 0
    total_jump_mm: float = 0.0
    size_mm: tuple[float, float] = (0.0, 0.0)
    estimated_minutes: float = 0.0
    warnings: list[str] = field(default_factory=list)
    mode: str = "fill"
    cell_mm: tuple[float, float] = (0.0, 0.0)
    threads: list[Thread] = field(default_factory=list)
    stitches_per_thread: list[int] = field(default_factory=list)
    hoop: str | None = None
    jump_records: int = 0
    travel_mm: float = 0.0
    build_seconds: float = 0.0
    path: Path | None = None
    format: str | None = None
    stitches_per_minute: float = SEWING_TIME.stitches_per_minute
    hoop_fits: bool | None = None
    tiny_regions: int = 0  # fill regions under the minimum area (after merging)
    merged_regions: int = 0  # tiny regions merged into a neighbour's colour
    merged_cells: int = 0
    travel_under_lighter_mm: float = 0.0
    collapsed: list[tuple[str, str, str]] = field(default_factory=list)
    chart: str = ""
    thread_match: str = ""

    def lines(self) -> list[str]:
        """Human-readable report: counts, size, hoop, sewing time, threads, then warnings."""
        w, h = self.size_mm
        out = [f"{self.stitch_count:,} stitches, {len(self.threads)} threads, {self.color_changes} colour changes, "
               f"{self.trims} trims, {self.jumps} jumps ({self.jump_records} jump records, "
               f"{self.total_jump_mm:.0f} mm)",
               f"design size {w:.1f} x {h:.1f} mm ({self.mode}, "
               f"cells {self.cell_mm[0]:.2f} x {self.cell_mm[1]:.2f} mm)"]
        if self.hoop:
            out.append(f"hoop {self.hoop}: " + ("fits" if self.hoop_fits else "does NOT fit"))
        else:
            out.append("hoop: larger than every listed hoop")
        out.append(f"estimated sewing time ~{self.estimated_minutes:.0f} min at {self.stitches_per_minute:.0f} "
                   f"stitches/min (+{SEWING_TIME.trim_seconds:.0f} s per trim, "
                   f"+{SEWING_TIME.color_change_seconds:.0f} s per colour change)")
        if self.threads:
            out.append(f"threads ({self.chart}, {self.thread_match}): " + ", ".join(
                f"{t.brand} {t.code} {t.name} ({n:,})" for t, n in zip(self.threads, self.stitches_per_thread)))
        if self.merged_regions:
            out.append(f"merged {self.merged_regions} tiny regions ({self.merged_cells} cells) into a neighbour's "
                       "colour")
        out.extend(f"warning: {w}" for w in self.warnings)
        return out

    def summary(self) -> str:
        w, h = self.size_mm
        return (f"{self.stitch_count:,} stitches, {len(self.threads)} threads, {self.color_changes} colour changes, "
                f"{self.trims} trims, {self.jumps} jumps ({self.total_jump_mm:.0f} mm), {w:.1f} x {h:.1f} mm, "
                f"~{self.estimated_minutes:.0f} min")


# ----------------------------------------------------------------------------- options


def resolve_cell_size(pattern: Pattern, options: EmbroideryOptions) -> tuple[float, float]:
    """(cell width, cell height) in mm from the options (design size wins over cell size)."""
    if options.design_mm is not None:
        try:
            w, h = (float(v) for v in options.design_mm)
        except (TypeError, ValueError):
            raise ExportError(f"design size must be two numbers (width, height) in mm, got {options.design_mm!r}")
        if not (w > 0 and h > 0):
            raise ExportError(f"design size must be positive, got {w} x {h} mm")
        return w / pattern.width, h / pattern.height
    if options.cell_mm is not None:
        c = float(options.cell_mm)
    elif pattern.medium is not None and pattern.medium.kind == "thread":
        c = float(pattern.medium.pitch_mm)
    else:
        c = 2.0
    if not c > 0:
        raise ExportError(f"cell size must be positive, got {c} mm")
    return c, c


def _validate(options: EmbroideryOptions, cw: float, ch: float) -> None:
    if options.ordering not in ("optimized", "rows"):
        raise ExportError(f"ordering must be 'optimized' or 'rows', got {options.ordering!r}")
    if options.mode not in ("fill", "cross"):
        raise ExportError(f"stitch mode must be 'fill' or 'cross', got {options.mode!r}")
    if not 0.5 <= options.max_stitch_mm <= MAX_STITCH_LIMIT_MM:
        raise ExportError(f"max stitch length must be between 0.5 and {MAX_STITCH_LIMIT_MM} mm "
                          f"(DST cannot encode longer), got {options.max_stitch_mm}")
    if min(cw, ch) < 0.5:
        raise ExportError(f"cells of {cw:.2f} x {ch:.2f} mm are too small to stitch; use at least 0.5 mm per cell "
                          "(larger --cell-mm or --design-mm)")
    if options.mode == "fill":
        if not 0.1 <= options.row_spacing_mm <= min(cw, ch):
            raise ExportError(f"row spacing must be between 0.1 mm and the cell size ({min(cw, ch):.2f} mm), "
                              f"got {options.row_spacing_mm}")
    if not 0 <= options.overlap_mm <= min(cw, ch) / 2:
        raise ExportError(f"overlap must be between 0 and half a cell ({min(cw, ch) / 2:.2f} mm), "
                          f"got {options.overlap_mm}")
    if options.trim_distance_mm < 0:
        raise ExportError(f"trim distance must be 0 or more, got {options.trim_distance_mm}")
    if not 0 <= options.pull_compensation_mm <= min(cw, ch) / 2:
        raise ExportError(f"pull compensation must be between 0 and half a cell ({min(cw, ch) / 2:.2f} mm), "
                          f"got {options.pull_compensation_mm}")
    if not 0 <= options.min_stitch_mm <= min(1.0, options.max_stitch_mm / 2):
        raise ExportError(f"minimum stitch length must be between 0 and 1 mm, got {options.min_stitch_mm}")
    if options.fill_angle not in FILL_ANGLES:
        raise ExportError(f"fill angle must be one of {', '.join(map(str, FILL_ANGLES))} degrees, "
                          f"got {options.fill_angle}")
    if options.cross_repeats < 1 or options.cross_repeats % 2 == 0:
        raise ExportError(f"cross repeats must be an odd number (1, 3, 5), got {options.cross_repeats}")
    if options.min_fill_mm2 < 0 or options.max_color_changes < 0:
        raise ExportError("minimum fill area and colour-change limit must be 0 or more")
    if not options.stitches_per_minute > 0:
        raise ExportError(f"sewing speed must be positive (stitches per minute), got {options.stitches_per_minute}")


# ----------------------------------------------------------------------------- stitch stream


class _Stream:
    """Stitch records being built as chunks: (n, 2) point arrays (mm) with one command per chunk."""

    def __init__(self, start: np.ndarray) -> None:
        self.chunks: list[np.ndarray] = []
        self.kinds: list[int] = []
        self.pos = np.asarray(start, dtype=np.float64).copy()
        self.jumps = 0
        self.jump_mm = 0.0
        self.travel_mm = 0.0

    def add(self, pts: np.ndarray, command: int) -> None:
        if len(pts) == 0:
            return
        self.chunks.append(pts)
        self.kinds.append(command)
        self.pos = pts[-1]

    def command(self, command: int) -> None:
        self.add(self.pos[None].copy(), command)

    def jump_to(self, q: np.ndarray) -> None:
        d = float(np.hypot(*(q - self.pos)))
        if d < 1e-9:
            return
        n = max(1, math.ceil(d / MAX_JUMP_MM))
        t = np.arange(1, n + 1)[:, None] / n
        self.add(self.pos + t * (q - self.pos), pe.JUMP)
        self.jumps += 1
        self.jump_mm += d

    def tie_in(self, p: np.ndarray, toward: np.ndarray) -> None:
        v = toward - p
        d = float(np.hypot(*v))
        if d < 0.2:
            self.add(p[None].copy(), pe.STITCH)
            return
        u = v / d * min(TIE_MM, d)
        self.add(np.stack([p, p + u, p, p + u, p]), pe.STITCH)

    def tie_off(self) -> None:
        """Back-and-forth along the last stitches, ending where the needle is."""
        if not self.chunks or self.kinds[-1] != pe.STITCH:
            return
        last = self.chunks[-1]
        e = last[-1]
        far = np.flatnonzero(np.hypot(*(last - e).T) > 0.2)
        if far.size == 0:
            return
        v = last[far[-1]] - e
        u = v / float(np.hypot(*v)) * TIE_MM
        self.add(np.stack([e + u, e, e + u, e]), pe.STITCH)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.chunks:
            return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
        sizes = np.fromiter((len(c) for c in self.chunks), dtype=np.int64, count=len(self.chunks))
        return np.concatenate(self.chunks), np.repeat(np.asarray(self.kinds, dtype=np.int64), sizes)


def _first_distinct(block: np.ndarray, p: np.ndarray) -> np.ndarray:
    d = np.hypot(*(block[:8] - p).T)
    far = np.flatnonzero(d > 0.3)
    return block[far[0]] if far.size else p


def _unit_cells_rank(runs: sf.Runs, unit_of_run: np.ndarray, rank_of_unit: np.ndarray, shape: tuple[int, int]
                     ) -> np.ndarray:
    """H x W image of the sewing rank of the unit covering each cell of this thread (huge elsewhere)."""
    rank = np.full(shape[0] * shape[1], np.iinfo(np.int64).max // 2, dtype=np.int64)
    owner, pos = sf.ragged_arange(runs.c1 - runs.c0)
    rank[runs.r[owner] * shape[1] + runs.c0[owner] + pos] = rank_of_unit[unit_of_run[owner]]
    return rank.reshape(shape)


def _sew_color(stream: _Stream, mask: np.ndarray, passable: np.ndarray, filled: np.ndarray, grid: sf.CellGrid,
               options: EmbroideryOptions) -> list[np.ndarray]:
    """Append one thread's stitches to the stream (the needle arrives by a jump, after a trim).
    Returns the travel (running stitch) polylines used between its units."""
    if options.mode == "fill":
        geo = sf.fill_geometry(mask, filled, grid, options.row_spacing_mm, options.max_stitch_mm,
                               options.overlap_mm, options.underlay, pull_mm=options.pull_compensation_mm)
        runs = geo.runs
        if options.ordering == "rows":
            geo.chains = sf.Chains(np.arange(len(runs), dtype=np.int64), np.arange(len(runs) + 1, dtype=np.int64))
        entry, exit_, e_cell, x_cell = sf.chain_endpoints(geo)
        unit_of_run = np.empty(len(runs), dtype=np.int64)
        unit_of_run[geo.chains.runs] = np.repeat(np.arange(len(geo.chains)), geo.chains.lengths)
    else:
        runs = sf.find_runs(mask, filled, 0.0)
        entry, exit_, e_cell, x_cell = sf.cross_endpoints(runs, grid)
        unit_of_run = np.arange(len(runs), dtype=np.int64)
    n = entry.shape[0]
    if n == 0:
        return []
    if options.ordering == "rows":  # naive baseline: every run alone, row by row, jumping between them
        order = UnitOrder(np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
        comp = np.arange(1, n + 1)
        comp_labels = np.zeros_like(runs.labels8)
    else:
        comp_labels, _ = ndimage.label(passable, structure=np.ones((3, 3), dtype=bool))
        comp = comp_labels[e_cell[:, 0, 0], e_cell[:, 0, 1]].astype(np.int64)
        order = order_units(entry, exit_, comp, stream.pos, -1, options.trim_distance_mm)
    u, v = order.units, order.variants
    if options.mode == "fill":
        pts, counts = sf.render_chains(geo, u, v)
    else:
        pts, counts = sf.render_crosses(runs, grid, u, v, options.cross_repeats)
    offs = np.concatenate([[0], np.cumsum(counts)])
    rank_of_unit = np.empty(n, dtype=np.int64)
    rank_of_unit[u] = np.arange(n)
    rank = _unit_cells_rank(runs, unit_of_run, rank_of_unit, mask.shape)
    planner = TravelPlanner(comp_labels, mask, rank, grid.cw, grid.ch, diagonal=options.mode == "cross")
    p_exit, q_entry = exit_[u[:-1], v[:-1]], entry[u[1:], v[1:]]
    moves = planner.plan(p_exit, q_entry, x_cell[u[:-1], v[:-1]], e_cell[u[1:], v[1:]], comp[u],
                         route_beyond_mm=options.trim_distance_mm if options.mode == "fill" else 0.0)
    tie = options.tie_stitches
    stream.travel_mm += float(moves.length[moves.travel].sum())
    travel = moves.travel.tolist()
    dist = np.hypot(*(q_entry - p_exit).T).tolist()
    travels = []
    for i in range(n):
        block = pts[offs[i]:offs[i + 1]]
        p = block[0]
        if i > 0 and travel[i - 1]:
            way = moves.paths.get(i - 1)
            way = p[None] if way is None else way
            travels.append(np.vstack([stream.pos[None], way]))
            stream.add(way, pe.STITCH)
        else:
            needs_trim = i == 0 or dist[i - 1] > options.trim_distance_mm
            if needs_trim and i > 0:
                if tie:
                    stream.tie_off()
                stream.command(pe.TRIM)
            stream.jump_to(p)
            if needs_trim and tie:
                stream.tie_in(p, _first_distinct(block, p))
        stream.add(block, pe.STITCH)
    return travels


def _finish(points_mm: np.ndarray, cmds: np.ndarray, max_stitch_mm: float, origin: np.ndarray,
            min_stitch_mm: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Split long stitches, convert to 0.1 mm integer units around ``origin``, drop stitches shorter
    than ``min_stitch_mm`` (and of 0.1 mm or less), and pin trims/colour changes/end to the needle."""
    if len(cmds) == 0:
        return np.zeros((0, 2), dtype=np.int64), cmds
    prev = np.vstack([origin[None], points_mm[:-1]])
    d = np.hypot(*(points_mm - prev).T)
    pieces = np.where(cmds == pe.STITCH, np.maximum(1, np.ceil(d / max_stitch_mm - 1e-9)), 1).astype(np.int64)
    if (pieces > 1).any():
        owner, t = sf.ragged_arange(pieces)
        frac = (t + 1) / pieces[owner]
        points_mm = prev[owner] + frac[:, None] * (points_mm[owner] - prev[owner])
        cmds = cmds[owner]
    units = np.rint((points_mm - origin) * 10.0).astype(np.int64)
    units, cmds = drop_short_stitches(units, cmds, max(1.0 + 1e-9, min_stitch_mm * 10.0 - 1e-9),
                                      max_stitch_mm * 10.0 + 1.0)
    moves = (cmds == pe.STITCH) | (cmds == pe.JUMP)
    src = np.maximum.accumulate(np.where(moves, np.arange(cmds.size), 0))
    units = np.where(moves[:, None], units, units[src])
    if not moves[0]:
        units[: np.argmax(moves)] = 0
    return units, cmds


def drop_short_stitches(units: np.ndarray, cmds: np.ndarray, min_units: float, max_units: float = np.inf
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Remove stitches shorter than ``min_units`` (0.1 mm); a stitch is a STITCH record after a
    STITCH record. Of a short stitch's two points the later goes, or at the end of a stitch block the
    earlier (so blocks still end where the next move starts). Where dropping a point would make a
    stitch longer than ``max_units``, the point moves to the middle of its neighbours instead.
    Repeats until none is left (each pass touches non-adjacent points only)."""
    units = units.copy()
    for _ in range(64):
        step = np.diff(units, axis=0).astype(np.float64)
        length = np.hypot(step[:, 0], step[:, 1])
        st = cmds == pe.STITCH
        short = np.zeros(cmds.size, dtype=bool)
        short[1:] = st[1:] & st[:-1] & (length < min_units)
        if not short.any():
            break
        nxt_st = np.zeros(cmds.size, dtype=bool)
        nxt_st[:-1] = st[1:]
        i = np.flatnonzero(short)
        at_end = ~nxt_st[i]
        j = np.where(at_end, i - 1, i)
        # the earlier point at a block end is only movable if a stitch leads into it
        movable = ~at_end | ((j >= 1) & st[np.maximum(j - 1, 0)])
        lone = i[~movable]  # a two-point block: drop its end
        j = j[movable]
        pick = np.zeros(cmds.size, dtype=bool)
        pick[j] = True
        both = pick[1:] & pick[:-1]  # never touch neighbours in one pass
        pick[1:][both] = False
        j = np.flatnonzero(pick)
        a, b = units[j - 1], units[np.minimum(j + 1, len(units) - 1)]
        merged = np.hypot(*(b - a).T.astype(np.float64))
        far = merged > max_units
        units[j[far]] = np.rint((a[far] + b[far]) / 2).astype(np.int64)
        drop = np.zeros(cmds.size, dtype=bool)
        drop[j[~far]] = True
        drop[lone] = True
        if not drop.any() and not far.any():
            break
        units, cmds = units[~drop], cmds[~drop]
    return units, cmds


def _emb_thread(t: Thread) -> pe.EmbThread:
    th = pe.EmbThread()
    th.set_color(*t.rgb)
    th.description = t.name.replace(",", " ")
    th.catalog_number = t.code
    th.brand = t.brand
    th.chart = t.chart
    return th


@dataclass
class StitchPlan:
    """The finished stitch list: integer positions (0.1 mm, design centred on 0, y down), commands,
    the threads in sewing order and the report."""

    units: np.ndarray
    cmds: np.ndarray
    threads: list[Thread]
    report: EmbroideryReport
    name: str = "piXL design"

    def to_emb_pattern(self) -> EmbPattern:
        """The plan as a pyembroidery EmbPattern (threads with colour, code, name and brand)."""
        emb = EmbPattern()
        for t in self.threads:
            emb.add_thread(_emb_thread(t))
        emb.stitches = np.column_stack([self.units, self.cmds]).tolist()
        emb.metadata("name", self.name[:16])
        return emb


def merge_tiny_regions(thread_map: np.ndarray, min_cells: float) -> tuple[np.ndarray, int, int]:
    """Give every 8-connected region of one thread smaller than ``min_cells`` cells the thread that
    borders it most (counted over its cells' 8 neighbours that belong to regions that are not tiny).
    Regions bordered only by empty cells or other tiny regions stay. Returns (new map, regions merged,
    cells merged)."""
    labels, sizes = _regions(thread_map)
    if labels.max() == 0:
        return thread_map, 0, 0
    tiny = np.zeros(sizes.size, dtype=bool)
    tiny[1:] = sizes[1:] < min_cells
    cell_tiny = tiny[labels]
    if not cell_tiny.any():
        return thread_map, 0, 0
    h, w = thread_map.shape
    pad_t = np.pad(thread_map, 1, constant_values=-1)
    pad_big = np.pad(~cell_tiny & (thread_map >= 0), 1, constant_values=False)
    rr, cc = np.nonzero(cell_tiny)
    comp = labels[rr, cc]
    own = thread_map[rr, cc]
    pairs_c, pairs_t, pairs_w = [], [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            nt = pad_t[rr + 1 + dy, cc + 1 + dx]
            ok = (nt >= 0) & (nt != own) & pad_big[rr + 1 + dy, cc + 1 + dx]  # into regions that stay only
            pairs_c.append(comp[ok])
            pairs_t.append(nt[ok])
            pairs_w.append(np.ones(int(ok.sum())))
    pc, pt, pw = np.concatenate(pairs_c), np.concatenate(pairs_t), np.concatenate(pairs_w)
    if pc.size == 0:
        return thread_map, 0, 0
    n_t = int(thread_map.max()) + 1
    key = pc * n_t + pt
    uk, inv = np.unique(key, return_inverse=True)
    score = np.bincount(inv, weights=pw)
    order = np.lexsort((-score, uk // n_t))  # by component, best score first
    uk_sorted = uk[order]
    first = np.ones(uk_sorted.size, dtype=bool)
    first[1:] = (uk_sorted[1:] // n_t) != (uk_sorted[:-1] // n_t)
    target = np.full(sizes.size, -1, dtype=np.int64)
    target[uk_sorted[first] // n_t] = uk_sorted[first] % n_t
    new = thread_map.copy()
    moved = cell_tiny & (target[labels] >= 0)
    new[moved] = target[labels[moved]]
    merged = int(np.count_nonzero(tiny & (target >= 0)))
    return new, merged, int(moved.sum())


def _regions(thread_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label 8-connected same-thread regions (0 = empty). Returns (labels, cells per label)."""
    labels = np.zeros(thread_map.shape, dtype=np.int64)
    n = 0
    eight = np.ones((3, 3), dtype=bool)
    for t in np.unique(thread_map[thread_map >= 0]).tolist():
        lab, k = ndimage.label(thread_map == t, structure=eight)
        labels[lab > 0] = lab[lab > 0] + n
        n += k
    return labels, np.bincount(labels.ravel(), minlength=n + 1)


def _lightness(threads: list[Thread]) -> np.ndarray:
    from engine.core.color import srgb8_to_lab

    if not threads:
        return np.zeros(0)
    return srgb8_to_lab(np.array([t.rgb for t in threads], dtype=np.float64))[:, 0]


def _travel_under_lighter(travels: list[tuple[int, np.ndarray]], thread_map: np.ndarray, rank_of_thread: np.ndarray,
                          light: np.ndarray, grid: sf.CellGrid) -> float:
    """mm of travel stitches lying under a colour sewn later that is lighter (by LIGHTER_L) than the travel.
    The first and last ENDPOINT_GUARD_MM of a travel (its ends on the fills' overlap margins) are not counted.
    All travels at once: their segments are sampled every 0.1 mm."""
    travels = [(t, poly) for t, poly in travels if len(poly) >= 2]
    if not travels:
        return 0.0
    h, w = thread_map.shape
    sizes = np.array([len(poly) for _, poly in travels], dtype=np.int64)
    pts = np.concatenate([poly for _, poly in travels])
    thread = np.repeat(np.array([t for t, _ in travels], dtype=np.int64), sizes - 1)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    keep = np.ones(len(pts), dtype=bool)
    keep[first] = False  # segment i runs from point i - 1 to point i within one travel
    end_idx = np.flatnonzero(keep)
    a, b = pts[end_idx - 1], pts[end_idx]
    seg = np.hypot(*(b - a).T)
    travel_of_seg = np.repeat(np.arange(len(travels)), sizes - 1)
    seg_start = np.concatenate([[0], np.cumsum(sizes - 1)[:-1]])
    cum = np.cumsum(seg)
    before = cum - seg - (cum - seg)[seg_start][travel_of_seg]  # length of the travel before each segment
    total = np.bincount(travel_of_seg, weights=seg, minlength=len(travels))
    n = np.maximum(np.ceil(seg / 0.1).astype(np.int64), 1)
    owner, k = sf.ragged_arange(n)
    f = (k + 0.5) / n[owner]
    along = before[owner] + f * seg[owner]
    inner = (along > ENDPOINT_GUARD_MM) & (along < total[travel_of_seg[owner]] - ENDPOINT_GUARD_MM)
    owner, f = owner[inner], f[inner]
    p = a[owner] + f[:, None] * (b[owner] - a[owner])
    c = np.clip((p[:, 0] / grid.cw).astype(np.int64), 0, w - 1)
    r = np.clip((p[:, 1] / grid.ch).astype(np.int64), 0, h - 1)
    top = thread_map[r, c]
    t = thread[owner]
    later = (top >= 0) & (rank_of_thread[np.maximum(top, 0)] > rank_of_thread[t])
    lighter = later & (light[np.maximum(top, 0)] > light[t] + LIGHTER_L)
    return float((seg[owner] / n[owner])[lighter].sum())


def plan_embroidery(pattern: Pattern, options: EmbroideryOptions | None = None,
                    progress: Callable[[Progress], None] | None = None,
                    cancel: CancelToken | None = None) -> StitchPlan:
    """Turn a pattern into a machine stitch list (numpy arrays) and its report."""
    options = options or EmbroideryOptions()
    t0 = time.perf_counter()
    cw, ch = resolve_cell_size(pattern, options)
    _validate(options, cw, ch)
    report = EmbroideryReport(mode=options.mode, cell_mm=(cw, ch), stitches_per_minute=options.stitches_per_minute)
    hoop = _check_hoop(options, sf.CellGrid(cw, ch, pattern.width, pattern.height), report)
    fmt = options.target_format
    try:
        mapping = map_threads(pattern, resolve_chart(options.thread_chart, fmt), resolve_match(options.thread_match,
                                                                                             fmt))
    except PaletteError as exc:
        raise ExportError(f"thread chart: {exc}") from None
    thread_of, threads = mapping.thread_of, mapping.threads
    report.chart, report.thread_match, report.collapsed = mapping.chart, mapping.match, mapping.collapsed
    if mapping.collapsed:
        shown = "; ".join(f"{a} and {b} -> {t}" for a, b, t in mapping.collapsed[:6])
        more = f" (and {len(mapping.collapsed) - 6} more)" if len(mapping.collapsed) > 6 else ""
        report.warnings.append(f"{len(mapping.collapsed)} pattern colour pairs share one {mapping.chart} thread: "
                               f"{shown}{more}")
    far = [t for t in threads if t.delta_e > FAR_THREAD_DE]
    if far:
        worst = max(far, key=lambda t: t.delta_e)
        report.warnings.append(f"{len(far)} threads are more than ΔE {FAR_THREAD_DE:g} from the colours they "
                               f"replace (worst {worst.label}, ΔE {worst.delta_e:.1f}): {mapping.chart} has no "
                               "closer colour; pick another --thread-chart (pattern keeps the pattern's own)")
    filled = ~pattern.empty_mask
    if not filled.any():
        raise ExportError("the pattern has no filled cells, so there is nothing to stitch; fill some cells first")
    thread_map = np.where(filled, thread_of[pattern.index], -1)
    cell_area = cw * ch
    if options.merge_tiny and options.min_fill_mm2 > 0:
        thread_map, report.merged_regions, report.merged_cells = merge_tiny_regions(
            thread_map, options.min_fill_mm2 / cell_area)
    if options.mode == "fill" and options.min_fill_mm2 > 0:
        _, sizes = _regions(thread_map)
        small = sizes[1:][sizes[1:] * cell_area < options.min_fill_mm2]
        report.tiny_regions = int(small.size)
        if small.size:
            report.warnings.append(f"{small.size} fill regions are smaller than {options.min_fill_mm2:g} mm² "
                                   f"(smallest {small.min() * cell_area:.1f} mm²); they sew as specks - use "
                                   "--merge-tiny to give them a neighbour's colour, or larger cells")
    transpose = options.fill_angle == 90
    if transpose:  # vertical rows: sew the transposed design, then swap x and y back
        thread_map, filled = thread_map.T, filled.T
        grid = sf.CellGrid(ch, cw, pattern.height, pattern.width)
    else:
        grid = sf.CellGrid(cw, ch, pattern.width, pattern.height)
    filled = thread_map >= 0
    cells = np.bincount(thread_map[filled].ravel(), minlength=len(threads))
    order = [int(t) for t in np.argsort(-cells, kind="stable") if cells[t] > 0]  # large areas first
    rank_of_thread = np.full(len(threads), len(threads), dtype=np.int64)
    rank_of_thread[order] = np.arange(len(order))
    light = _lightness(threads)
    light_map = np.where(filled, light[np.maximum(thread_map, 0)] if len(light) else 0.0, np.inf)
    w_mm, h_mm = grid.size_mm
    centre = np.array([w_mm / 2, h_mm / 2])
    stream = _Stream(centre)
    remaining = filled.copy()  # cells not sewn yet: travel may hide under them
    travels: list[tuple[int, np.ndarray]] = []
    total = len(order)
    for n, t in enumerate(order):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if n > 0:
            stream.command(pe.COLOR_CHANGE)
        mask = thread_map == t
        # travel hides under cells sewn later that are not lighter (a light fill shows a dark thread
        # through); cross-stitch travel runs along cell diagonals, so the later crosses' legs cover it
        passable = mask | (remaining & (light_map <= light[t] + LIGHTER_L))
        travels.extend((t, way) for way in _sew_color(stream, mask, passable, filled, grid, options))
        remaining &= ~mask
        if options.tie_stitches:
            stream.tie_off()
        stream.command(pe.TRIM)
        if progress is not None:
            progress(Progress(n + 1, total, f"stitched thread {threads[t].code} {threads[t].name}",
                              elapsed=time.perf_counter() - t0))
    stream.command(pe.END)
    pts, cmds = stream.arrays()
    report.travel_under_lighter_mm = round(_travel_under_lighter(travels, thread_map, rank_of_thread, light, grid), 1)
    if report.travel_under_lighter_mm > 0:
        report.warnings.append(f"{report.travel_under_lighter_mm:.1f} mm of travel stitches pass under lighter "
                               "colours sewn later and may show through")
    if transpose:
        pts = pts[:, ::-1].copy()
        centre = centre[::-1].copy()
    units, cmds = _finish(pts, cmds, options.max_stitch_mm, centre, options.min_stitch_mm)
    used_threads = [threads[t] for t in order]
    _fill_report(report, units, cmds, used_threads, stream, hoop)
    if report.color_changes > options.max_color_changes:
        report.warnings.append(f"{report.color_changes} colour changes (more than {options.max_color_changes}): "
                               "each is a re-thread on a single-needle machine; use fewer colours or --merge-tiny")
    report.build_seconds = round(time.perf_counter() - t0, 3)
    log.info("embroidery planned: %s", report.summary())
    name = str(pattern.metadata.get("name") or pattern.metadata.get("title") or "piXL design")
    return StitchPlan(units, cmds, used_threads, report, name)


def build_embroidery(pattern: Pattern, options: EmbroideryOptions | None = None,
                     progress: Callable[[Progress], None] | None = None,
                     cancel: CancelToken | None = None) -> tuple[EmbPattern, EmbroideryReport]:
    """Turn a pattern into machine stitches. Returns the pyembroidery pattern and a report."""
    plan = plan_embroidery(pattern, options, progress, cancel)
    return plan.to_emb_pattern(), plan.report


def _check_hoop(options: EmbroideryOptions, grid: sf.CellGrid, report: EmbroideryReport) -> Hoop | None:
    w, h = grid.size_mm
    if options.hoop:
        try:
            hoop = parse_hoop(options.hoop)
        except HoopError as exc:
            raise ExportError(str(exc)) from None
        report.hoop = hoop.name
        report.hoop_fits = hoop.fits(w, h) or hoop.fits_rotated(w, h)
        if hoop.fits(w, h):
            return hoop
        if hoop.fits_rotated(w, h):
            report.warnings.append(f"the {w:.0f} x {h:.0f} mm design fits hoop {hoop.name} only turned by 90 degrees; "
                                   "rotate it on the machine")
            return hoop
        msg = (f"the {w:.0f} x {h:.0f} mm design does not fit hoop {hoop.name} "
               f"({hoop.width_mm:.0f} x {hoop.height_mm:.0f} mm); use a smaller --cell-mm/--design-mm or a larger hoop")
        if options.strict_hoop:
            raise ExportError(msg)
        report.warnings.append(msg)
        return hoop
    best = smallest_fitting_hoop(w, h)
    if best is None:
        report.warnings.append(f"the {w:.0f} x {h:.0f} mm design is larger than every listed hoop; "
                               "it needs re-hooping or a smaller size")
    else:
        report.hoop = best.name
    report.hoop_fits = best is not None
    return best


def _fill_report(report: EmbroideryReport, units: np.ndarray, cmds: np.ndarray, threads: list[Thread],
                 stream: _Stream, hoop: Hoop | None) -> None:
    stitch = cmds == pe.STITCH
    report.stitch_count = int(stitch.sum())
    report.color_changes = int((cmds == pe.COLOR_CHANGE).sum())
    report.trims = int((cmds == pe.TRIM).sum())
    report.jump_records = int((cmds == pe.JUMP).sum())
    report.jumps = stream.jumps
    report.total_jump_mm = round(stream.jump_mm, 1)
    report.travel_mm = round(stream.travel_mm, 1)
    report.threads = threads
    block = np.cumsum(cmds == pe.COLOR_CHANGE)
    report.stitches_per_thread = np.bincount(block[stitch], minlength=len(threads)).tolist()
    if stitch.any():
        xy = units[stitch]
        span = (xy.max(axis=0) - xy.min(axis=0)) / 10.0
        report.size_mm = (float(span[0]), float(span[1]))
    report.estimated_minutes = round(SEWING_TIME.minutes(report.stitch_count, report.jump_records,
                                                         report.trims, report.color_changes,
                                                         report.stitches_per_minute), 1)


# ----------------------------------------------------------------------------- writing


def _check_output(path: Path) -> None:
    try:
        check_writable_dir(path)
    except OutputPathError as exc:
        raise ExportError(str(exc)) from None


def _check_format_limits(fmt: str, color_changes: int) -> None:
    """Raise ExportError for an unknown machine format or more colour changes than it allows."""
    if fmt not in MACHINE_FORMATS:
        raise ExportError(f"unknown embroidery format {fmt!r}; choose one of: {', '.join(MACHINE_FORMATS)}")
    limit = FORMAT_MAX_COLOR_CHANGES.get(fmt)
    if limit is not None and color_changes > limit:
        raise ExportError(f"{fmt.upper()} allows at most {limit} colour changes but the design has {color_changes}; "
                          "reduce the number of colours (or map them to a thread chart) and export again")


def write_embroidery_file(emb: EmbPattern, path: str | Path, fmt: str) -> Path:
    """Write an EmbPattern as ``fmt`` atomically with pyembroidery (the writer is chosen from fmt,
    not the file name): PES version 6 keeps the thread list, JEF keeps trims."""
    fmt = fmt.lower()
    _check_format_limits(fmt, emb.count_color_changes())
    for t in emb.threadlist:  # commas would break the DST header and some readers
        t.description = (t.description or "").replace(",", " ")
    writers = {"dst": pe.DstWriter, "pes": pe.PesWriter, "jef": pe.JefWriter, "exp": pe.ExpWriter,
               "vp3": pe.Vp3Writer}
    settings = {"dst": {"version": "extended"}, "pes": {"version": "6"}, "jef": {"trims": True},
                "exp": {}, "vp3": {}}[fmt]
    if fmt == "dst" and 125 + sum(len(f"TC:{t.hex_color()},{t.description},{t.catalog_number}\r")
                                  for t in emb.threadlist) > DST_HEADER_BYTES - 16:
        settings = {}  # too many threads for the 512-byte header
    path = Path(path)
    with atomic_path(path) as tmp:
        EmbPattern.write_embroidery(writers[fmt], emb, str(tmp), settings)
    log.info("wrote %s (%s)", path, fmt)
    return path


def plan_bytes(plan: StitchPlan, fmt: str) -> bytes:
    """The file contents of a stitch plan in ``fmt`` from the vectorised writers (``dst``, ``writers``);
    byte-for-byte what pyembroidery writes for the same stitch list (JEF dated today)."""
    fmt = fmt.lower()
    if fmt == "dst":
        return dst_bytes(plan.units, plan.cmds, [(t.hex.lower(), t.name, t.code) for t in plan.threads], plan.name)
    threads = [_emb_thread(t) for t in plan.threads]
    if fmt == "exp":
        return fast_writers.exp_bytes(plan.units, plan.cmds)
    if fmt == "jef":
        return fast_writers.jef_bytes(plan.units, plan.cmds, threads, trims=True)
    if fmt == "pes":
        return fast_writers.pes_bytes(plan.units, plan.cmds, threads, plan.name[:16])
    if fmt == "vp3":
        return fast_writers.vp3_bytes(plan.units, plan.cmds, threads)
    raise ExportError(f"unknown embroidery format {fmt!r}; choose one of: {', '.join(MACHINE_FORMATS)}")


def write_plan(plan: StitchPlan, path: str | Path, fmt: str, fast: bool = True) -> Path:
    """Write a stitch plan as ``fmt`` atomically: with the vectorised writers (the plan is already within
    every format's limits), or with ``fast=False`` through pyembroidery's writers (same bytes, slower)."""
    fmt = fmt.lower()
    _check_format_limits(fmt, plan.report.color_changes)
    if not fast:
        return write_embroidery_file(plan.to_emb_pattern(), path, fmt)
    data = plan_bytes(plan, fmt)
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    log.info("wrote %s (%s)", path, fmt)
    return path


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
    for w in report.warnings:
        log.info("%s", w)  # the report carries the warnings; front-ends show them
    return report


# ----------------------------------------------------------------------------- preview


def draw_stitches(emb: EmbPattern, px_per_mm: float | None = None, margin_mm: float = 2.0):
    """A PIL image of an EmbPattern's stitches (e.g. one read back from a file)."""
    data = np.asarray(emb.stitches, dtype=np.float64).reshape(-1, 3)
    colors = [(t.get_red(), t.get_green(), t.get_blue()) for t in emb.threadlist]
    return draw_plan(data[:, :2], data[:, 2].astype(np.int64), colors, px_per_mm, margin_mm)


def render_stitch_preview(pattern: Pattern, path: str | Path, options: EmbroideryOptions | None = None,
                          px_per_mm: float | None = None, legend: bool = True) -> Path:
    """Build the stitches and write a PNG drawn from them (atomically), with a thread legend below
    the design unless ``legend`` is False. Returns the path."""
    path = Path(path)
    _check_output(path)
    options = options or EmbroideryOptions()
    if options.target_format is None:
        options = replace(options, target_format="stitch-png")
    plan = plan_embroidery(pattern, options)
    img = draw_plan(plan.units, plan.cmds, [t.rgb for t in plan.threads], px_per_mm)
    if legend:
        r = plan.report
        img = add_legend(img, plan.threads, r.stitches_per_thread,
                         f"{r.stitch_count:,} stitches, {r.color_changes} colour changes, {r.trims} trims, "
                         f"{r.size_mm[0]:.0f} x {r.size_mm[1]:.0f} mm, ~{r.estimated_minutes:.0f} min")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    for w in plan.report.warnings:
        log.info("%s", w)  # the report carries the warnings; front-ends show them
    plan.report.path, plan.report.format = path, "stitch-png"
    _remember(path, plan.report)
    return path


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
    return lines


def report_from_file(path: str | Path) -> EmbroideryReport:
    """A report with the counts and size of an embroidery file read back with pyembroidery."""
    emb = pe.read(str(path))
    if emb is None:
        raise ExportError(f"cannot read {Path(path).name} as an embroidery file")
    data = np.asarray(emb.stitches, dtype=np.int64).reshape(-1, 3)
    cmds = data[:, 2] & pe.COMMAND_MASK
    report = EmbroideryReport(path=Path(path), format=Path(path).suffix.lstrip(".").lower())
    stitch = cmds == pe.STITCH
    report.stitch_count = int(stitch.sum())
    report.color_changes = int((cmds == pe.COLOR_CHANGE).sum())
    report.trims = int((cmds == pe.TRIM).sum())
    report.jump_records = int((cmds == pe.JUMP).sum())
    report.jumps = int(((cmds == pe.JUMP) & (np.roll(cmds, 1) != pe.JUMP)).sum())
    if stitch.any():
        span = (data[stitch, :2].max(axis=0) - data[stitch, :2].min(axis=0)) / 10.0
        report.size_mm = (float(span[0]), float(span[1]))
    report.estimated_minutes = round(SEWING_TIME.minutes(report.stitch_count, report.jump_records, report.trims,
                                                         report.color_changes), 1)
    return report


def export_cli(pattern: Pattern, fmt: str, out: Path, args: argparse.Namespace) -> list[Path]:
    """Write ``fmt`` for the CLI `export` command; returns the files written."""
    options = options_from_args(args)
    if fmt == "stitch-png":
        return [render_stitch_preview(pattern, out, options)]
    report = export_embroidery(pattern, out, options, fmt)
    _remember(Path(out), report)
    log.info("%s", report.summary())
    return [Path(out)]
