"""Stitch geometry for pixel regions, vectorised with numpy over all cells of one colour.

A colour's cells are cut into *runs* (horizontal stretches of cells in one cell row). Runs that
continue one another one-to-one from row to row form *chains*: pieces of a region that can be
sewn continuously in a boustrophedon (row by row, alternating direction). A region with holes or
branches splits into several chains. Each chain is sewn as a perpendicular (vertical) underlay
followed by staggered tatami rows; in cross-stitch mode each run is one unit of crosses.

All lengths are millimetres; x grows to the right, y downwards, cell (r, c) spans
``[c*cw, (c+1)*cw] x [r*ch, (r+1)*ch]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# Tatami stagger: offset of the needle grid in each row of a 4-row cycle, as a fraction of the stitch length.
TATAMI_STAGGER = np.array([0.0, 0.5, 0.25, 0.75])
# Needle points closer than this to a row's end are skipped (avoids tiny stitches at region edges).
TATAMI_END_GAP_MM = 0.4
# Underlay stays this far inside its cells (capped at a quarter of the cell).
UNDERLAY_INSET_MM = 0.3

LEFT, RIGHT = 0, 1


@dataclass(frozen=True)
class CellGrid:
    """Physical size of the cells and of the design."""

    cw: float
    ch: float
    width: int
    height: int

    @property
    def size_mm(self) -> tuple[float, float]:
        return self.cw * self.width, self.ch * self.height


@dataclass
class Runs:
    """Horizontal runs of one colour: cell row, [c0, c1) columns, overlap extensions, 8-connected group."""

    r: np.ndarray
    c0: np.ndarray
    c1: np.ndarray
    ext_l: np.ndarray
    ext_r: np.ndarray
    group: np.ndarray
    labels8: np.ndarray  # H x W int32: 1 + group of each cell of this colour, 0 elsewhere
    n_groups: int
    ext_t: np.ndarray | None = None  # overlap into other colours above / below the run (mm)
    ext_b: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.r.size)


@dataclass
class Chains:
    """Runs grouped into chains, each listed top to bottom: ``runs[offsets[i]:offsets[i+1]]``."""

    runs: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def first(self) -> np.ndarray:
        return self.runs[self.offsets[:-1]]

    @property
    def last(self) -> np.ndarray:
        return self.runs[self.offsets[1:] - 1]


def _excl_cumsum(n: np.ndarray) -> np.ndarray:
    out = np.zeros(n.size, dtype=np.int64)
    if n.size > 1:
        np.cumsum(n[:-1], out=out[1:])
    return out


def ragged_arange(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts n: (owner index, position within owner) of every element of the concatenation."""
    n = np.asarray(n, dtype=np.int64)
    owner = np.repeat(np.arange(n.size), n)
    pos = np.arange(owner.size, dtype=np.int64) - np.repeat(_excl_cumsum(n), n)
    return owner, pos


def find_runs(mask: np.ndarray, filled: np.ndarray, overlap_mm: float, pull_mm: float = 0.0) -> Runs:
    """Runs of ``mask`` (H x W bool) in row-major order. A run end that touches another filled cell
    is extended by ``overlap_mm`` so neighbouring regions overlap slightly; an end at an empty cell or
    the border by ``pull_mm`` (pull compensation: the fabric pulls stitched rows shorter). Above and
    below, a run overlaps by ``overlap_mm`` where another colour and no cell of its own lies there."""
    h, w = mask.shape
    pad = np.zeros((h, w + 2), dtype=np.int8)
    pad[:, 1:-1] = mask
    d = np.diff(pad, axis=1)
    sr, sc = np.nonzero(d == 1)
    _, ec = np.nonzero(d == -1)
    r, c0, c1 = sr.astype(np.int64), sc.astype(np.int64), ec.astype(np.int64)
    left_filled = np.zeros(r.size, dtype=bool)
    has_left = c0 > 0
    left_filled[has_left] = filled[r[has_left], c0[has_left] - 1]
    right_filled = np.zeros(r.size, dtype=bool)
    has_right = c1 < w
    right_filled[has_right] = filled[r[has_right], c1[has_right]]
    labels8, n_groups = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    group = labels8[r, c0].astype(np.int64) - 1 if r.size else np.zeros(0, dtype=np.int64)
    # other colours / own cells directly above / below any cell of the run (prefix sums along each row)
    other = np.zeros((h + 2, w + 1), dtype=np.int64)
    np.cumsum(filled & ~mask, axis=1, out=other[1:-1, 1:])
    own = np.zeros((h + 2, w + 1), dtype=np.int64)
    np.cumsum(mask, axis=1, out=own[1:-1, 1:])
    above = (other[r, c1] - other[r, c0] > 0) & (own[r, c1] - own[r, c0] == 0)
    below = (other[r + 2, c1] - other[r + 2, c0] > 0) & (own[r + 2, c1] - own[r + 2, c0] == 0)
    ov, pc = float(overlap_mm), float(pull_mm)
    return Runs(r, c0, c1, np.where(left_filled, ov, pc), np.where(right_filled, ov, pc), group,
                labels8.astype(np.int32), int(n_groups), above * ov, below * ov)


def find_chains(runs: Runs, width: int) -> Chains:
    """Link runs of consecutive rows that overlap one-to-one into chains (trapezoid-like pieces)."""
    n = len(runs)
    if n == 0:
        return Chains(np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64))
    h = runs.labels8.shape[0]
    ids = np.full(h * width, -1, dtype=np.int64)
    owner, pos = ragged_arange(runs.c1 - runs.c0)
    ids[runs.r[owner] * width + runs.c0[owner] + pos] = owner
    ids = ids.reshape(h, width)
    both = (ids[:-1] >= 0) & (ids[1:] >= 0)
    a, b = ids[:-1][both], ids[1:][both]
    nxt = np.full(n, -1, dtype=np.int64)
    has_prev = np.zeros(n, dtype=bool)
    if a.size:
        pairs = np.unique(a * n + b)
        a, b = pairs // n, pairs % n
        out_deg = np.bincount(a, minlength=n)
        in_deg = np.bincount(b, minlength=n)
        link = (out_deg[a] == 1) & (in_deg[b] == 1)
        nxt[a[link]] = b[link]
        has_prev[b[link]] = True
    nxt_l = nxt.tolist()
    order: list[int] = []
    offsets = [0]
    for head in np.flatnonzero(~has_prev).tolist():
        u = head
        while u >= 0:
            order.append(u)
            u = nxt_l[u]
        offsets.append(len(order))
    return Chains(np.asarray(order, dtype=np.int64), np.asarray(offsets, dtype=np.int64))


def row_table(height: int, ch: float, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """First stitch-row index and number of stitch rows in each cell row (rows at y = (k + 0.5) * spacing)."""
    edges = np.ceil(np.arange(height + 1) * ch / spacing - 0.5 - 1e-9).astype(np.int64)
    return edges[:-1], np.diff(edges)


@dataclass
class FillGeometry:
    """Everything needed to place tatami rows and underlay for one colour."""

    runs: Runs
    chains: Chains
    grid: CellGrid
    spacing: float
    stitch_len: float
    underlay: bool
    underlay_spacing: float
    k_first: np.ndarray  # first stitch row of each run (rows at even spacing over the whole design)
    k_count: np.ndarray  # stitch rows of each run (its cell row plus rows within the overlap above/below)

    @property
    def inset_x(self) -> float:
        return min(UNDERLAY_INSET_MM, self.grid.cw / 4)

    @property
    def inset_y(self) -> float:
        return min(UNDERLAY_INSET_MM, self.grid.ch / 4)

    def run_ends(self, run: np.ndarray, side: np.ndarray) -> np.ndarray:
        """x of a run's tatami row end on ``side`` (with the overlap extension)."""
        a = self.runs.c0[run] * self.grid.cw - self.runs.ext_l[run]
        b = self.runs.c1[run] * self.grid.cw + self.runs.ext_r[run]
        return np.where(side == LEFT, a, b)

    def row_y(self, k: np.ndarray) -> np.ndarray:
        """y of stitch row k: every row sits on one even grid, (k + 0.5) * spacing."""
        return (k + 0.5) * self.spacing

    def underlay_columns(self, run: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first x, step, count) of the underlay columns of each run, left to right."""
        a = self.runs.c0[run] * self.grid.cw + self.inset_x
        w = (self.runs.c1[run] - self.runs.c0[run]) * self.grid.cw - 2 * self.inset_x
        ncol = np.where(w > 1e-9, np.round(w / self.underlay_spacing).astype(np.int64) + 1, 1)
        step = np.where(ncol > 1, w / np.maximum(ncol - 1, 1), 0.0)
        first = np.where(ncol > 1, a, a + w / 2)
        return first, step, ncol


def fill_geometry(mask: np.ndarray, filled: np.ndarray, grid: CellGrid, spacing: float, stitch_len: float,
                  overlap_mm: float, underlay: bool, underlay_factor: float = 3.0, pull_mm: float = 0.0
                  ) -> FillGeometry:
    """Runs, chains and the stitch rows of each run. Rows keep one even spacing everywhere: the overlap
    into a colour above or below adds the grid rows that lie within the overlap distance (the region
    is expanded, its rows are not stretched)."""
    runs = find_runs(mask, filled, overlap_mm, pull_mm)
    chains = find_chains(runs, grid.width)
    row_first, row_count = row_table(grid.height, grid.ch, spacing)
    k_first = row_first[runs.r]
    k_count = row_count[runs.r].copy()
    top = runs.r * grid.ch
    bottom = (runs.r + 1) * grid.ch
    k_top = np.ceil((top - runs.ext_t) / spacing - 0.5 - 1e-6).astype(np.int64)
    k_bot = np.floor((bottom + runs.ext_b) / spacing - 0.5 + 1e-6).astype(np.int64)
    extra_t = np.maximum(k_first - k_top, 0)
    extra_b = np.maximum(k_bot - (k_first + k_count - 1), 0)
    k_first = k_first - extra_t
    k_count = k_count + extra_t + extra_b
    return FillGeometry(runs, chains, grid, spacing, stitch_len, underlay, spacing * underlay_factor, k_first, k_count)


# ----------------------------------------------------------------------------- unit variants

N_VARIANTS = 4  # (first phase downwards | upwards) x (start on the left | right)


def _variant_bits(v: int) -> tuple[int, int]:
    """variant -> (o, s): o = +1 first phase goes down, -1 up; s = starting side."""
    return (1 if v < 2 else -1), v % 2


def chain_endpoints(geo: FillGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Entry and exit points (n, 4, 2) and their cells (n, 4, 2 as row, col) for each chain and variant.

    With underlay a chain is sewn underlay first (along the chain in direction o) and the tatami
    back, so it starts and ends at the same end of the chain; without, it runs from one end to the other.
    """
    ch = geo.chains
    n = len(ch)
    runs = geo.runs
    top, bot = ch.first, ch.last
    length = ch.lengths
    rows_total = np.add.reduceat(geo.k_count[ch.runs], ch.offsets[:-1]) if n else np.zeros(0, np.int64)
    entry = np.zeros((n, N_VARIANTS, 2))
    exit_ = np.zeros((n, N_VARIANTS, 2))
    e_cell = np.zeros((n, N_VARIANTS, 2), dtype=np.int64)
    x_cell = np.zeros((n, N_VARIANTS, 2), dtype=np.int64)
    k_top = geo.k_first[top]
    k_bot = geo.k_first[bot] + geo.k_count[bot] - 1

    def cell_of(run: np.ndarray, side: np.ndarray) -> np.ndarray:
        return np.stack([runs.r[run], np.where(side == LEFT, runs.c0[run], runs.c1[run] - 1)], axis=-1)

    for v in range(N_VARIANTS):
        o, s = _variant_bits(v)
        s_arr = np.full(n, s, dtype=np.int64)
        first, last = (top, bot) if o > 0 else (bot, top)
        k_last_row = k_top if o > 0 else k_bot  # tatami row sewn last when underlay is on
        if geo.underlay:
            fx, step, ncol = geo.underlay_columns(first)
            ex = np.where(s_arr == LEFT, fx, fx + step * (ncol - 1))
            if o > 0:
                ey = runs.r[first] * geo.grid.ch + geo.inset_y
            else:
                ey = (runs.r[first] + 1) * geo.grid.ch - geo.inset_y
            last_band_side = s_arr ^ ((length - 1) & 1)
            top_start = 1 - last_band_side
            last_row_start = top_start ^ ((rows_total - 1) & 1)
            end_side = 1 - last_row_start
            xx = geo.run_ends(first, end_side)
            xy = geo.row_y(k_last_row)
            exit_run = first
        else:
            ex = geo.run_ends(first, s_arr)
            ey = geo.row_y(k_top if o > 0 else k_bot)
            last_row_start = s_arr ^ ((rows_total - 1) & 1)
            end_side = 1 - last_row_start
            xx = geo.run_ends(last, end_side)
            xy = geo.row_y(k_bot if o > 0 else k_top)
            exit_run = last
        entry[:, v, 0], entry[:, v, 1] = ex, ey
        exit_[:, v, 0], exit_[:, v, 1] = xx, xy
        e_cell[:, v] = cell_of(first, s_arr)
        x_cell[:, v] = cell_of(exit_run, end_side)
    return entry, exit_, e_cell, x_cell


# ----------------------------------------------------------------------------- rendering


def _sequence_runs(chains: Chains, units: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of the given chains in sewing order (reversed where direction < 0), and each one's unit ordinal."""
    lens = chains.lengths[units]
    uo, pos = ragged_arange(lens)
    pos = np.where(direction[uo] > 0, pos, lens[uo] - 1 - pos)
    return chains.runs[chains.offsets[units][uo] + pos], uo


def render_tatami(geo: FillGeometry, units: np.ndarray, o_top: np.ndarray, s_top: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Tatami rows of the chains ``units`` (in order): o_top +1 sews rows downwards, s_top is the first
    row's starting side. Returns points (m, 2) and the number of points of each unit."""
    runs, grid = geo.runs, geo.grid
    seq_run, seq_unit = _sequence_runs(geo.chains, units, o_top)
    kc = geo.k_count[seq_run]
    row_seq, within = ragged_arange(kc)
    asc = o_top[seq_unit[row_seq]] > 0
    k = geo.k_first[seq_run[row_seq]] + np.where(asc, within, kc[row_seq] - 1 - within)
    run = seq_run[row_seq]
    uo = seq_unit[row_seq]
    rows_per_unit = np.bincount(uo, minlength=units.size)
    _, j = ragged_arange(rows_per_unit)
    side = s_top[uo] ^ (j & 1)
    a = runs.c0[run] * grid.cw - runs.ext_l[run]
    b = runs.c1[run] * grid.cw + runs.ext_r[run]
    y = geo.row_y(k)
    start_x = np.where(side == LEFT, a, b)
    end_x = np.where(side == LEFT, b, a)
    L = geo.stitch_len
    off = TATAMI_STAGGER[k % 4] * L
    gap = min(TATAMI_END_GAP_MM, L / 3)
    lo = np.ceil((a + gap - off) / L).astype(np.int64)
    hi = np.floor((b - gap - off) / L).astype(np.int64)
    ng = np.maximum(hi - lo + 1, 0)
    is_last = j == rows_per_unit[uo] - 1
    nrows = k.size
    # connector to the next row of the same chain: back along this row into the overlap, then down/up
    nxt = np.minimum(np.arange(nrows) + 1, max(nrows - 1, 0))
    same_run = run[nxt] == run
    nrun = run[nxt]
    o_lo = np.maximum(runs.c0[run], runs.c0[nrun]) * grid.cw
    o_hi = np.minimum(runs.c1[run], runs.c1[nrun]) * grid.cw
    xc = np.where(same_run, end_x, np.clip(end_x, o_lo, np.maximum(o_lo, o_hi)))
    y_next = y[nxt]
    size = 2 + ng + 2 * (~is_last)
    start = _excl_cumsum(size)
    pts = np.empty((int(size.sum()), 2))
    pts[start, 0], pts[start, 1] = start_x, y
    e = start + 1 + ng
    pts[e, 0], pts[e, 1] = end_x, y
    c = ~is_last
    pts[e[c] + 1, 0], pts[e[c] + 1, 1] = xc[c], y[c]
    pts[e[c] + 2, 0], pts[e[c] + 2, 1] = xc[c], y_next[c]
    gr, t = ragged_arange(ng)
    gx = np.where(side[gr] == LEFT, lo[gr] + t, hi[gr] - t) * L + off[gr]
    gpos = start[gr] + 1 + t
    pts[gpos, 0], pts[gpos, 1] = gx, y[gr]
    counts = np.bincount(uo, weights=size, minlength=units.size).astype(np.int64)
    return pts, counts


def render_underlay(geo: FillGeometry, units: np.ndarray, o_ul: np.ndarray, s_ul: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Perpendicular underlay (vertical strokes, ~3x row spacing apart) band by band along each chain.
    o_ul +1 goes down the chain; s_ul is the first band's starting side."""
    runs, grid = geo.runs, geo.grid
    seq_run, uo = _sequence_runs(geo.chains, units, o_ul)
    nb = seq_run.size
    bands_per_unit = np.bincount(uo, minlength=units.size)
    _, j = ragged_arange(bands_per_unit)
    side = s_ul[uo] ^ (j & 1)
    first, step, ncol = geo.underlay_columns(seq_run)
    top = runs.r[seq_run] * grid.ch + geo.inset_y
    bottom = (runs.r[seq_run] + 1) * grid.ch - geo.inset_y
    down = o_ul[uo] > 0
    y_in = np.where(down, top, bottom)
    y_out = np.where(down, bottom, top)
    is_last = j == bands_per_unit[uo] - 1
    nxt = np.minimum(np.arange(nb) + 1, max(nb - 1, 0))
    nrun = seq_run[nxt]
    o_lo = np.maximum(runs.c0[seq_run], runs.c0[nrun]) * grid.cw
    o_hi = np.minimum(runs.c1[seq_run], runs.c1[nrun]) * grid.cw
    margin = np.minimum(geo.inset_x, (o_hi - o_lo) / 2)
    x_last = np.where(side == LEFT, first + step * (ncol - 1), first)
    y_last = np.where((ncol - 1) % 2 == 0, y_out, y_in)
    xc = np.clip(x_last, o_lo + margin, np.maximum(o_lo + margin, o_hi - margin))
    size = 2 * ncol + 2 * (~is_last)
    start = _excl_cumsum(size)
    pts = np.empty((int(size.sum()), 2))
    band, t = ragged_arange(ncol)
    col = np.where(side[band] == LEFT, t, ncol[band] - 1 - t)
    x = first[band] + step[band] * col
    even = (t % 2) == 0
    p0 = start[band] + 2 * t
    pts[p0, 0], pts[p0 + 1, 0] = x, x
    pts[p0, 1] = np.where(even, y_in[band], y_out[band])
    pts[p0 + 1, 1] = np.where(even, y_out[band], y_in[band])
    c = ~is_last
    e = start + 2 * ncol
    y_next_in = y_in[nxt]
    pts[e[c], 0], pts[e[c], 1] = xc[c], y_last[c]
    pts[e[c] + 1, 0], pts[e[c] + 1, 1] = xc[c], y_next_in[c]
    counts = np.bincount(uo, weights=size, minlength=units.size).astype(np.int64)
    return pts, counts


def render_chains(geo: FillGeometry, units: np.ndarray, variants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of each chain in ``units`` sewn with its variant (underlay then tatami, or tatami alone).
    Returns all points (m, 2) and each unit's point count, in the given order."""
    o = np.where(variants < 2, 1, -1)
    s = variants % 2
    if not geo.underlay:
        return render_tatami(geo, units, o, s)
    lens = geo.chains.lengths[units]
    last_band_side = s ^ ((lens - 1) & 1)
    ul_pts, ul_n = render_underlay(geo, units, o, s)
    tp_pts, tp_n = render_tatami(geo, units, -o, 1 - last_band_side)
    n = ul_n + tp_n
    start = _excl_cumsum(n)
    pts = np.empty((int(n.sum()), 2))
    uo, pos = ragged_arange(ul_n)
    pts[start[uo] + pos] = ul_pts
    uo, pos = ragged_arange(tp_n)
    pts[start[uo] + ul_n[uo] + pos] = tp_pts
    return pts, n


# ----------------------------------------------------------------------------- cross stitch

# Every cross is sewn bottom leg "\" (top-left to bottom-right) first and top leg "/" last, so all top
# legs lie in one direction (as in hand cross stitch). A row of crosses: out along the row sewing the
# bottom legs, back sewing the top legs. The needle moves between legs only through the centre of the
# cell it enters, along half-diagonals that the cell's own legs cover.


def _cross_corners(side_near: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For rows sewn out from the left (side_near == LEFT) or the right: (dx, dy) in cell units of
    the bottom leg's start / end and the top leg's start / end, relative to the cell's top-left corner."""
    right = side_near != LEFT
    bottom_start = np.stack([right.astype(float), right.astype(float)], axis=-1)  # TL, or BR going left
    bottom_end = 1.0 - bottom_start
    top_start = np.stack([(~right).astype(float), right.astype(float)], axis=-1)  # TR going back left, BL right
    top_end = 1.0 - top_start
    return bottom_start, bottom_end, top_start, top_end


def cross_endpoints(runs: Runs, grid: CellGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Entry/exit points and cells (n, 4, 2) of each run sewn as a row of crosses.

    Variant v: side = v % 2 (start at the left or right end), corner = v // 2 (enter at the start of the
    bottom leg, or at the other near corner and through the centre). A row starts and ends at its near end."""
    n = len(runs)
    entry = np.zeros((n, N_VARIANTS, 2))
    exit_ = np.zeros((n, N_VARIANTS, 2))
    cells = np.zeros((n, N_VARIANTS, 2), dtype=np.int64)
    for v in range(N_VARIANTS):
        side, corner = v % 2, v // 2
        near = runs.c0 if side == LEFT else runs.c1 - 1
        bs, _, _, te = _cross_corners(np.full(n, side))
        start = bs if corner == 0 else np.stack([bs[:, 0], 1.0 - bs[:, 1]], axis=-1)
        entry[:, v, 0] = (near + start[:, 0]) * grid.cw
        entry[:, v, 1] = (runs.r + start[:, 1]) * grid.ch
        exit_[:, v, 0] = (near + te[:, 0]) * grid.cw
        exit_[:, v, 1] = (runs.r + te[:, 1]) * grid.ch
        cells[:, v, 0] = runs.r
        cells[:, v, 1] = near
    return entry, exit_, cells, cells.copy()


def render_crosses(runs: Runs, grid: CellGrid, units: np.ndarray, variants: np.ndarray, repeats: int = 1
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One cross per cell for each run in ``units``: out along the row, for each cell its centre and its
    bottom leg "\\" (sewn ``repeats`` times, an odd number, back and forth); back along the row, for each
    cell its centre and its top leg "/". The first cell is entered at its leg directly (corner 0) or
    from the other near corner through the centre (corner 1). Returns points (m, 2) and each run's count."""
    if repeats < 1 or repeats % 2 == 0:
        raise ValueError(f"cross repeats must be an odd number (1, 3, ...), got {repeats}")
    side = variants % 2
    corner = variants // 2
    ncell = runs.c1[units] - runs.c0[units]
    r = runs.r[units]
    near = np.where(side == LEFT, runs.c0[units], runs.c1[units] - 1)
    step = np.where(side == LEFT, 1, -1)
    per_slot = repeats + 2  # centre + leg points
    # slots: 0..n-1 out (bottom legs), n..2n-1 back (top legs)
    u, t = ragged_arange(2 * ncell)
    back = t >= ncell[u]
    cell_pos = np.where(back, 2 * ncell[u] - 1 - t, t)
    col = near[u] + step[u] * cell_pos
    bs, be, ts, te = _cross_corners(side[u])
    a = np.where(back[:, None], ts, bs)
    b = np.where(back[:, None], te, be)
    k = np.arange(per_slot)
    # local corner offsets of each slot's points: centre, then a, b, a, b, ... (repeats + 1 points)
    leg_is_a = (k[None, 1:] - 1) % 2 == 0
    off = np.empty((u.size, per_slot, 2))
    off[:, 0] = 0.5
    off[:, 1:] = np.where(leg_is_a[..., None], a[:, None, :], b[:, None, :])
    x = (col[:, None] + off[:, :, 0]) * grid.cw
    y = (r[u][:, None] + off[:, :, 1]) * grid.ch
    pts = np.stack([x, y], axis=-1).reshape(-1, 2)
    keep = np.ones((u.size, per_slot), dtype=bool)
    first_slot = t == 0
    keep[first_slot & (corner[u] == 0), 0] = False  # enter at the leg itself: no centre
    pts_keep = pts[keep.ravel()]
    # corner 1: an entry point at the other near corner, before the centre of the first cell
    counts = np.bincount(u, weights=keep.sum(axis=1), minlength=units.size).astype(np.int64)
    extra = corner == 1
    if extra.any():
        e_off = np.stack([bs[first_slot][:, 0], 1.0 - bs[first_slot][:, 1]], axis=-1)
        entry_pts = np.stack([(near + e_off[:, 0]) * grid.cw, (r + e_off[:, 1]) * grid.ch], axis=-1)
        start = _excl_cumsum(counts)
        ins = start[extra]
        pts_keep = np.insert(pts_keep, ins, entry_pts[extra], axis=0)
        counts = counts + extra
    return pts_keep, counts
