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
from dataclasses import dataclass, field
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
from exporters.embroidery.dst import HEADER_BYTES as DST_HEADER_BYTES
from exporters.embroidery.dst import write_dst
from exporters.embroidery.hoops import Hoop, HoopError, parse_hoop, smallest_fitting_hoop
from exporters.embroidery.order import TravelPlanner, UnitOrder, order_units
from exporters.embroidery.threads import Thread, assign_threads

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
# Stitches this short or shorter are dropped (0.1 mm units).
MIN_STITCH_UNITS = 1


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

    def minutes(self, stitches: int, jump_records: int, trims: int, color_changes: int) -> float:
        return ((stitches + jump_records) / self.stitches_per_minute
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
    thread_chart: str | None = None
    strict_hoop: bool = False
    tie_stitches: bool = True
    ordering: str = "optimized"  # "rows": naive row-by-row baseline (each run on its own), for comparisons


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
               options: EmbroideryOptions) -> None:
    """Append one thread's stitches to the stream (the needle arrives by a jump, after a trim)."""
    if options.mode == "fill":
        geo = sf.fill_geometry(mask, filled, grid, options.row_spacing_mm, options.max_stitch_mm,
                               options.overlap_mm, options.underlay)
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
        return
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
        pts, counts = sf.render_crosses(runs, grid, u, v)
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
    for i in range(n):
        block = pts[offs[i]:offs[i + 1]]
        p = block[0]
        if i > 0 and travel[i - 1]:
            way = moves.paths.get(i - 1)
            stream.add(p[None] if way is None else way, pe.STITCH)
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


def _finish(points_mm: np.ndarray, cmds: np.ndarray, max_stitch_mm: float, origin: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Split long stitches, convert to 0.1 mm integer units around ``origin``, drop stitches of 0.1 mm
    or less, and pin trims/colour changes/end to the needle position."""
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
    for _ in range(3):
        step = np.diff(units, axis=0)
        sq = np.einsum("ij,ij->i", step, step)
        tiny = np.zeros(cmds.size, dtype=bool)
        tiny[1:] = (cmds[1:] == pe.STITCH) & (cmds[:-1] == pe.STITCH) & (sq <= MIN_STITCH_UNITS ** 2)
        if not tiny.any():
            break
        units, cmds = units[~tiny], cmds[~tiny]
    moves = (cmds == pe.STITCH) | (cmds == pe.JUMP)
    src = np.maximum.accumulate(np.where(moves, np.arange(cmds.size), 0))
    units = np.where(moves[:, None], units, units[src])
    if not moves[0]:
        units[: np.argmax(moves)] = 0
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


def plan_embroidery(pattern: Pattern, options: EmbroideryOptions | None = None,
                    progress: Callable[[Progress], None] | None = None,
                    cancel: CancelToken | None = None) -> StitchPlan:
    """Turn a pattern into a machine stitch list (numpy arrays) and its report."""
    options = options or EmbroideryOptions()
    t0 = time.perf_counter()
    cw, ch = resolve_cell_size(pattern, options)
    _validate(options, cw, ch)
    grid = sf.CellGrid(cw, ch, pattern.width, pattern.height)
    report = EmbroideryReport(mode=options.mode, cell_mm=(cw, ch))
    hoop = _check_hoop(options, grid, report)
    try:
        thread_of, threads = assign_threads(pattern, options.thread_chart)
    except PaletteError as exc:
        raise ExportError(f"thread chart: {exc}") from None
    filled = ~pattern.empty_mask
    if not filled.any():
        raise ExportError("the pattern has no filled cells, so there is nothing to stitch; fill some cells first")
    thread_map = np.where(filled, thread_of[pattern.index], -1)
    cells = np.bincount(thread_map[filled].ravel(), minlength=len(threads))
    order = [int(t) for t in np.argsort(-cells, kind="stable") if cells[t] > 0]  # large areas first
    w_mm, h_mm = grid.size_mm
    centre = np.array([w_mm / 2, h_mm / 2])
    stream = _Stream(centre)
    remaining = filled.copy()  # cells not sewn yet: travel may hide under them
    total = len(order)
    for n, t in enumerate(order):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if n > 0:
            stream.command(pe.COLOR_CHANGE)
        mask = thread_map == t
        # travel hides under cells sewn later - but crosses leave fabric showing, so cross-stitch
        # travel stays on this thread's own cells
        _sew_color(stream, mask, remaining if options.mode == "fill" else mask, filled, grid, options)
        remaining &= ~mask
        if options.tie_stitches:
            stream.tie_off()
        stream.command(pe.TRIM)
        if progress is not None:
            progress(Progress(n + 1, total, f"stitched thread {threads[t].code} {threads[t].name}",
                              elapsed=time.perf_counter() - t0))
    stream.command(pe.END)
    pts, cmds = stream.arrays()
    units, cmds = _finish(pts, cmds, options.max_stitch_mm, centre)
    used_threads = [threads[t] for t in order]
    _fill_report(report, units, cmds, used_threads, stream, hoop)
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
                                                         report.trims, report.color_changes), 1)


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


def write_plan(plan: StitchPlan, path: str | Path, fmt: str) -> Path:
    """Write a stitch plan as ``fmt`` atomically. DST goes through the vectorised encoder (the plan is
    already within DST's limits); the other formats through pyembroidery."""
    fmt = fmt.lower()
    _check_format_limits(fmt, plan.report.color_changes)
    if fmt == "dst":
        threads = [(t.hex.lower(), t.name, t.code) for t in plan.threads]
        path = write_dst(path, plan.units, plan.cmds, threads, plan.name)
        log.info("wrote %s (dst)", path)
        return Path(path)
    return write_embroidery_file(plan.to_emb_pattern(), path, fmt)


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
    plan = plan_embroidery(pattern, options, progress, cancel)
    write_plan(plan, path, fmt)
    report = plan.report
    report.path, report.format = path, fmt
    for w in report.warnings:
        log.warning("%s", w)
    return report


# ----------------------------------------------------------------------------- preview


FABRIC_RGB = (242, 239, 230)
MAX_PREVIEW_SIDE = 4000


def draw_plan(units: np.ndarray, cmds: np.ndarray, colors: list[tuple[int, int, int]],
              px_per_mm: float | None = None, margin_mm: float = 2.0):
    """A PIL image of stitches (0.1 mm units, commands) in thread colours on a fabric background.
    Jumps are not drawn; each colour block uses the next colour."""
    from PIL import Image, ImageDraw

    units = np.asarray(units, dtype=np.float64).reshape(-1, 2)
    cmds = np.asarray(cmds, dtype=np.int64) & pe.COMMAND_MASK
    stitch = cmds == pe.STITCH
    if not stitch.any():
        return Image.new("RGB", (16, 16), FABRIC_RGB)
    xy = units / 10.0
    lo, hi = xy[stitch].min(axis=0) - margin_mm, xy[stitch].max(axis=0) + margin_mm
    span = hi - lo
    scale = px_per_mm or min(8.0, MAX_PREVIEW_SIDE / max(float(span.max()), 1e-6))
    size = np.maximum(np.ceil(span * scale).astype(int), 1)
    img = Image.new("RGB", (int(size[0]), int(size[1])), FABRIC_RGB)
    draw = ImageDraw.Draw(img)
    width = max(1, int(round(0.35 * scale)))
    px = (xy - lo) * scale
    block = np.cumsum(cmds == pe.COLOR_CHANGE)
    # a polyline runs while records are stitches; it starts where the needle was before the first one
    breaks = np.flatnonzero(~stitch)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(cmds)]])
    for s, e in zip(starts.tolist(), ends.tolist()):
        if e - s < 1:
            continue
        s0 = s - 1 if s > 0 and cmds[s - 1] == pe.JUMP else s
        seg = px[s0:e]
        rgb = tuple(colors[min(int(block[s]), len(colors) - 1)]) if colors else (0, 0, 0)
        if len(seg) == 1:
            draw.point([tuple(seg[0])], fill=rgb)
        else:
            draw.line(seg.ravel().tolist(), fill=rgb, width=width)
    return img


def draw_stitches(emb: EmbPattern, px_per_mm: float | None = None, margin_mm: float = 2.0):
    """A PIL image of an EmbPattern's stitches (e.g. one read back from a file)."""
    data = np.asarray(emb.stitches, dtype=np.float64).reshape(-1, 3)
    colors = [(t.get_red(), t.get_green(), t.get_blue()) for t in emb.threadlist]
    return draw_plan(data[:, :2], data[:, 2].astype(np.int64), colors, px_per_mm, margin_mm)


def render_stitch_preview(pattern: Pattern, path: str | Path, options: EmbroideryOptions | None = None,
                          px_per_mm: float | None = None) -> Path:
    """Build the stitches and write a PNG drawn from them (atomically). Returns the path."""
    path = Path(path)
    _check_output(path)
    plan = plan_embroidery(pattern, options)
    img = draw_plan(plan.units, plan.cmds, [t.rgb for t in plan.threads], px_per_mm)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    for w in plan.report.warnings:
        log.warning("%s", w)
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
    g.add_argument("--thread-chart", default=None,
                   help="embroidery: thread palette to map colours to (dmc, brother_pec, janome_jef, ...; "
                   "default: the pattern's own threads, else dmc)")


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
        strict_hoop=getattr(args, "hoop_strict", False),
    )


def export_cli(pattern: Pattern, fmt: str, out: Path, args: argparse.Namespace) -> list[Path]:
    """Write ``fmt`` for the CLI `export` command; returns the files written."""
    options = options_from_args(args)
    if fmt == "stitch-png":
        return [render_stitch_preview(pattern, out, options)]
    report = export_embroidery(pattern, out, options, fmt)
    log.info("%s", report.summary())
    return [Path(out)]
