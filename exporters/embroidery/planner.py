"""The embroidery planner: pattern cells -> threads -> colour regions (tiny ones merged on request) -> units
(fill chains or cross rows) in a sewing order -> stitches joined by hidden travel or jumps (trimmed when
long, and always in formats without a jump record), checked against the hoop, with the report's warnings.

Each thread is one colour block (largest areas first). Travel stays hidden: inside the thread's own unsewn
cells or under colours sewn later that are not lighter. Units are 0.1 mm in the finished plan and the
design is centred on the hoop origin.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np
import pyembroidery as pe
from scipy import ndimage

from engine.core.palette import PaletteError
from engine.core.pattern import Pattern
from engine.core.progress import CancelToken, Progress
from exporters.common import limits_check
from exporters.common.errors import ExportError
from exporters.embroidery import fill as sf
from exporters.embroidery.formats import has_jumps
from exporters.embroidery.hoops import Hoop, HoopError, parse_hoop, smallest_fitting_hoop
from exporters.embroidery.options import EmbroideryOptions, validate_options
from exporters.embroidery.order import ENDPOINT_GUARD_MM, TravelPlanner, UnitOrder, order_units
from exporters.embroidery.plan import StitchPlan, StitchStream, finish, first_distinct
from exporters.embroidery.report import EmbroideryReport, _plural
from exporters.embroidery.threads import Thread, map_threads, resolve_chart, resolve_match

log = logging.getLogger(__name__)

# Lightness (CIE L*) by which a colour sewn later may exceed the thread's own before travel under it shows.
LIGHTER_L = 5.0
# Threads further than this (CIEDE2000) from the pattern colour they replace are warned about.
FAR_THREAD_DE = 10.0
# Collapsed colour pairs named in the warning (the rest are counted).
SHOWN_PAIRS = 6


# ----------------------------------------------------------------------------- regions


def regions(thread_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label 8-connected same-thread regions (0 = empty). Returns (labels, cells per label)."""
    labels = np.zeros(thread_map.shape, dtype=np.int64)
    n = 0
    eight = np.ones((3, 3), dtype=bool)
    for t in np.unique(thread_map[thread_map >= 0]).tolist():
        lab, k = ndimage.label(thread_map == t, structure=eight)
        labels[lab > 0] = lab[lab > 0] + n
        n += k
    return labels, np.bincount(labels.ravel(), minlength=n + 1)


def merge_tiny_regions(thread_map: np.ndarray, min_cells: float) -> tuple[np.ndarray, int, int]:
    """Give every 8-connected region of one thread smaller than ``min_cells`` cells the thread that
    borders it most (counted over its cells' 8 neighbours that belong to regions that are not tiny).
    Regions bordered only by empty cells or other tiny regions stay. Returns (new map, regions merged,
    cells merged)."""
    labels, sizes = regions(thread_map)
    if labels.max() == 0:
        return thread_map, 0, 0
    tiny = np.zeros(sizes.size, dtype=bool)
    tiny[1:] = sizes[1:] < min_cells
    cell_tiny = tiny[labels]
    if not cell_tiny.any():
        return thread_map, 0, 0
    pad_t = np.pad(thread_map, 1, constant_values=-1)
    pad_big = np.pad(~cell_tiny & (thread_map >= 0), 1, constant_values=False)
    rr, cc = np.nonzero(cell_tiny)
    comp = labels[rr, cc]
    own = thread_map[rr, cc]
    pairs_c, pairs_t = [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            nt = pad_t[rr + 1 + dy, cc + 1 + dx]
            ok = (nt >= 0) & (nt != own) & pad_big[rr + 1 + dy, cc + 1 + dx]  # into regions that stay only
            pairs_c.append(comp[ok])
            pairs_t.append(nt[ok])
    pc, pt = np.concatenate(pairs_c), np.concatenate(pairs_t)
    if pc.size == 0:
        return thread_map, 0, 0
    n_t = int(thread_map.max()) + 1
    key = pc * n_t + pt
    uk, inv = np.unique(key, return_inverse=True)
    score = np.bincount(inv)
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


def _lightness(threads: list[Thread]) -> np.ndarray:
    from engine.core.color import srgb8_to_lab

    if not threads:
        return np.zeros(0)
    return srgb8_to_lab(np.array([t.rgb for t in threads], dtype=np.float64))[:, 0]


def travel_under_lighter(travels: list[tuple[int, np.ndarray]], thread_map: np.ndarray, rank_of_thread: np.ndarray,
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


# ----------------------------------------------------------------------------- one thread


def _unit_cells_rank(runs: sf.Runs, unit_of_run: np.ndarray, rank_of_unit: np.ndarray, shape: tuple[int, int]
                     ) -> np.ndarray:
    """H x W image of the sewing rank of the unit covering each cell of this thread (huge elsewhere)."""
    rank = np.full(shape[0] * shape[1], np.iinfo(np.int64).max // 2, dtype=np.int64)
    owner, pos = sf.ragged_arange(runs.c1 - runs.c0)
    rank[runs.r[owner] * shape[1] + runs.c0[owner] + pos] = rank_of_unit[unit_of_run[owner]]
    return rank.reshape(shape)


def sew_thread(stream: StitchStream, mask: np.ndarray, passable: np.ndarray, filled: np.ndarray, grid: sf.CellGrid,
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
    trim_every_move = not has_jumps(options.target_format)  # VP3: its machines sew every record
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
            needs_trim = i == 0 or trim_every_move or dist[i - 1] > options.trim_distance_mm
            if needs_trim and i > 0:
                if tie:
                    stream.tie_off()
                stream.command(pe.TRIM)
            stream.jump_to(p)
            if needs_trim and tie:
                stream.tie_in(p, first_distinct(block, p))
        stream.add(block, pe.STITCH)
    return travels


# ----------------------------------------------------------------------------- hoop and warnings


def check_hoop(options: EmbroideryOptions, width_mm: float, height_mm: float, report: EmbroideryReport
               ) -> Hoop | None:
    """The hoop the design is checked against (the one asked for, else the smallest listed that fits);
    records fit and warnings in the report, refuses a design that does not fit with ``strict_hoop``."""
    w, h = width_mm, height_mm
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
               f"({hoop.width_mm:.0f} x {hoop.height_mm:.0f} mm); use smaller cells, a smaller design size "
               "or a larger hoop")
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


def _thread_warnings(mapping, threads: list[Thread], report: EmbroideryReport) -> None:
    if mapping.collapsed:
        n = len(mapping.collapsed)
        shown = "; ".join(f"{a} and {b} -> {t}" for a, b, t in mapping.collapsed[:SHOWN_PAIRS])
        more = f" (and {n - SHOWN_PAIRS} more)" if n > SHOWN_PAIRS else ""
        pairs = "1 pair of pattern colours shares" if n == 1 else f"{n:,} pairs of pattern colours share"
        report.warnings.append(f"{pairs} one {mapping.chart} thread: {shown}{more}; they sew in one colour")
    far = [t for t in threads if t.delta_e > FAR_THREAD_DE]
    if far:
        worst = max(far, key=lambda t: t.delta_e)
        lead = (f"1 thread is more than ΔE {FAR_THREAD_DE:g} from the colour it replaces" if len(far) == 1 else
                f"{len(far):,} threads are more than ΔE {FAR_THREAD_DE:g} from the colours they replace")
        report.warnings.append(f"{lead} (worst {worst.label}, ΔE {worst.delta_e:.1f}): {mapping.chart} has no "
                               "closer colour; choose another thread chart, or the pattern's own threads")


# ----------------------------------------------------------------------------- the plan


def check_plan(pattern: Pattern, options: EmbroideryOptions) -> tuple[float, float]:
    """Every limit and option check of a plan, run before anything is allocated: finite numbers, the design
    size and stitch estimate against the resource limits (one line, e.g. for a 100 m design), option ranges,
    the hoop (refused when it must fit and does not), something to stitch. Returns the cell size (mm)."""
    limits_check.check_finite(options)
    cw, ch = limits_check.check_embroidery(pattern, options.cell_mm, options.design_mm, options.row_spacing_mm,
                                           options.max_stitch_mm)
    validate_options(options, cw, ch)
    check_hoop(options, cw * pattern.width, ch * pattern.height, EmbroideryReport())
    if not (~pattern.empty_mask).any():
        raise ExportError("the pattern has no filled cells, so there is nothing to stitch; fill some cells first")
    return cw, ch


def plan_embroidery(pattern: Pattern, options: EmbroideryOptions | None = None,
                    progress: Callable[[Progress], None] | None = None,
                    cancel: CancelToken | None = None) -> StitchPlan:
    """Turn a pattern into a machine stitch list (numpy arrays) and its report."""
    options = options or EmbroideryOptions()
    t0 = time.perf_counter()
    cw, ch = check_plan(pattern, options)
    report = EmbroideryReport(mode=options.mode, cell_mm=(cw, ch), stitches_per_minute=options.stitches_per_minute,
                              format=options.target_format)
    check_hoop(options, cw * pattern.width, ch * pattern.height, report)
    fmt = options.target_format
    try:
        mapping = map_threads(pattern, resolve_chart(options.thread_chart, fmt), resolve_match(options.thread_match,
                                                                                             fmt))
    except PaletteError as exc:
        raise ExportError(f"thread chart: {exc}") from None
    thread_of, threads = mapping.thread_of, mapping.threads
    report.chart, report.thread_match, report.collapsed = mapping.chart, mapping.match, mapping.collapsed
    _thread_warnings(mapping, threads, report)
    filled = ~pattern.empty_mask
    thread_map = np.where(filled, thread_of[pattern.index], -1)
    cell_area = cw * ch
    if options.merge_tiny and options.min_fill_mm2 > 0:
        thread_map, report.merged_regions, report.merged_cells = merge_tiny_regions(
            thread_map, options.min_fill_mm2 / cell_area)
    if options.mode == "fill" and options.min_fill_mm2 > 0:
        _, sizes = regions(thread_map)
        small = sizes[1:][sizes[1:] * cell_area < options.min_fill_mm2]
        report.tiny_regions = int(small.size)
        if small.size:
            lead = ("1 fill region is" if small.size == 1 else f"{small.size:,} fill regions are")
            advice = ("merge tiny regions into a neighbour's colour, or use larger cells" if not options.merge_tiny
                      else "use larger cells")
            report.warnings.append(f"{lead} smaller than {options.min_fill_mm2:g} mm² (smallest "
                                   f"{small.min() * cell_area:.1f} mm²) and will sew as specks; {advice}")
    transpose = options.fill_angle == 90
    if transpose:  # vertical rows: sew the transposed design, then swap x and y back
        thread_map = thread_map.T
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
    stream = StitchStream(centre)
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
        travels.extend((t, way) for way in sew_thread(stream, mask, passable, filled, grid, options))
        remaining &= ~mask
        if options.tie_stitches:
            stream.tie_off()
        stream.command(pe.TRIM)
        if progress is not None:
            progress(Progress(n + 1, total, f"stitched thread {threads[t].code} {threads[t].name}",
                              elapsed=time.perf_counter() - t0))
    stream.command(pe.END)
    pts, cmds = stream.arrays()
    report.travel_under_lighter_mm = round(travel_under_lighter(travels, thread_map, rank_of_thread, light, grid), 1)
    if report.travel_under_lighter_mm > 0:
        report.warnings.append(f"{report.travel_under_lighter_mm:.1f} mm of travel stitches pass under lighter "
                               "colours sewn later and may show through")
    if transpose:
        pts = pts[:, ::-1].copy()
        centre = centre[::-1].copy()
    units, cmds = finish(pts, cmds, options.max_stitch_mm, centre, options.min_stitch_mm)
    report.threads = [threads[t] for t in order]
    report.set_counts(units, cmds)
    report.travel_mm = round(stream.travel_mm, 1)
    if report.color_changes > options.max_color_changes:
        report.warnings.append(f"{_plural(report.color_changes, 'colour change')} (more than "
                               f"{options.max_color_changes}): each is a re-thread on a single-needle machine; "
                               "use fewer colours or merge tiny regions")
    report.build_seconds = round(time.perf_counter() - t0, 3)
    log.info("embroidery planned: %s", report.summary())
    name = str(pattern.metadata.get("name") or pattern.metadata.get("title") or "piXL design")
    return StitchPlan(units, cmds, report.threads, report, name)
