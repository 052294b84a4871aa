"""Sewing order for the units (fill chains or cross rows) of one thread, and the moves between them.

Travel: the needle may run from one unit to the next with running stitches through cells that
will be covered later - this thread's cells not sewn yet, and cells of threads sewn later - so the
travel is hidden. Cells are grouped into 8-connected *travel components* of that passable area;
moving between components (or too far) needs a jump, and a trim when longer than the trim distance.
Cross stitch covers too little fabric to hide anything, so there travel stays on the thread's own
cells and runs only along the cells' diagonals (centre to shared corner to centre), on the crosses.

Order: a Hilbert-curve walk through the units, the best sewing variant of each unit for that walk
(dynamic programming), then 2-opt (segment reversal of the visiting order, windowed and vectorised)
with a cost that favours hidden travel over jumps and jumps over trims.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np

from exporters.embroidery.fill import ragged_arange

log = logging.getLogger(__name__)

# 2-opt: how far apart two cut points may be (in units), and how many improving rounds at most.
TWO_OPT_WINDOW = 16
TWO_OPT_ROUNDS = 10
# Resolution of the Hilbert curve that gives the first visiting order (2**order steps per side).
HILBERT_ORDER = 10
# A jump that needs a trim costs this much extra (mm) when comparing orders.
TRIM_PENALTY_MM = 20.0
# Longest hidden travel run (mm, straight-line distance); further moves jump instead.
TRAVEL_MAX_MM = 30.0
# Travel over cells this thread has already sewn shows on top: path-cost factor for those cells.
SEWN_CELL_COST = 6.0
# A straight travel may cross this much (mm) of fill this thread has already sewn.
SEWN_CROSSING_MM = 2.0
# Exit and entry points may lie this far (mm) outside their cells (overlap, pull compensation, rows
# in the overlap): that much of a straight travel at each end is not checked against the cells.
ENDPOINT_GUARD_MM = 0.45
# Cells of margin around the two ends when searching a travel path.
PATH_WINDOW_MARGIN = 6
# Cross stitch: smaller windows (its moves are short, and many more of them are searched).
CROSS_PATH_WINDOW_MARGIN = 2
# Travel paths searched together in one cost array.
ROUTE_BATCH = 2000


@dataclass
class UnitOrder:
    """Units in sewing order, with the variant (direction/start corner) each is sewn with."""

    units: np.ndarray
    variants: np.ndarray


def move_cost(d: np.ndarray, same_comp: np.ndarray, trim_mm: float) -> np.ndarray:
    """Comparable cost (mm) of moving d mm: travel when possible, else a jump, plus a trim penalty."""
    travel = same_comp & (d <= TRAVEL_MAX_MM)
    return np.where(travel, d, d + TRIM_PENALTY_MM * (d > trim_mm))


def hilbert_index(x: np.ndarray, y: np.ndarray, order: int) -> np.ndarray:
    """Position of integer points (0 <= x, y < 2**order) along a Hilbert curve (vectorised)."""
    x = x.astype(np.int64).copy()
    y = y.astype(np.int64).copy()
    d = np.zeros_like(x)
    s = 1 << (order - 1)
    while s > 0:
        rx = ((x & s) > 0).astype(np.int64)
        ry = ((y & s) > 0).astype(np.int64)
        d += s * s * ((3 * rx) ^ ry)
        flip = (ry == 0) & (rx == 1)
        x = np.where(flip, s - 1 - x, x)
        y = np.where(flip, s - 1 - y, y)
        swap = ry == 0
        x, y = np.where(swap, y, x), np.where(swap, x, y)
        s >>= 1
    return d


def best_variants(entry: np.ndarray, exit_: np.ndarray, comp: np.ndarray, units: np.ndarray, start: np.ndarray,
                  start_comp: int, trim_mm: float) -> np.ndarray:
    """For a fixed visiting order, the variant of each unit that minimises the total move cost
    (dynamic programming over the variants; exact for the order)."""
    n, nv = units.size, entry.shape[1]
    ent, ext, c = entry[units], exit_[units], comp[units]
    d0 = np.hypot(*(ent[0] - start).T)
    best = move_cost(d0, np.full(nv, c[0] == start_comp), trim_mm).tolist()
    if n == 1:
        return np.array([int(np.argmin(best))])
    d = np.hypot(ext[:-1, :, None, 0] - ent[1:, None, :, 0], ext[:-1, :, None, 1] - ent[1:, None, :, 1])
    same = np.broadcast_to((c[:-1] == c[1:])[:, None, None], d.shape)
    steps = move_cost(d, same, trim_mm).tolist()
    back = []
    rng = range(nv)
    for t in steps:
        nb, bk = [], []
        for v in rng:
            m, bv = 0, best[0] + t[0][v]
            for a in rng:
                val = best[a] + t[a][v]
                if val < bv:
                    m, bv = a, val
            nb.append(bv)
            bk.append(m)
        best = nb
        back.append(bk)
    out = np.empty(n, dtype=np.int64)
    v = int(np.argmin(best))
    for i in range(n - 1, 0, -1):
        out[i] = v
        v = back[i - 1][v]
    out[0] = v
    return out


def order_units(entry: np.ndarray, exit_: np.ndarray, comp: np.ndarray, start: np.ndarray, start_comp: int,
                trim_mm: float) -> UnitOrder:
    """Order one thread's units. ``entry``/``exit_`` are (n, variants, 2) points, ``comp`` the travel
    component of each unit, ``start`` the needle position before the first one.

    Units are first visited along a Hilbert curve through their centres (local, vectorised), each
    gets its best variant for that order, 2-opt then reverses stretches of the order where that
    shortens the moves, and the variants are chosen again for the final order."""
    n = comp.size
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return UnitOrder(z, z)
    start = np.asarray(start, dtype=np.float64)
    centre = entry.mean(axis=1)
    lo = centre.min(axis=0)
    span = max(float((centre.max(axis=0) - lo).max()), 1e-9)
    q = ((centre - lo) / span * (2 ** HILBERT_ORDER - 1)).astype(np.int64)
    units = np.argsort(hilbert_index(q[:, 0], q[:, 1], HILBERT_ORDER), kind="stable")
    variants = best_variants(entry, exit_, comp, units, start, start_comp, trim_mm)
    perm = two_opt(entry[units, variants], exit_[units, variants], comp[units], start, start_comp, trim_mm)
    units = units[perm]
    variants = best_variants(entry, exit_, comp, units, start, start_comp, trim_mm)
    return UnitOrder(units, variants)


def two_opt(entry: np.ndarray, exit_: np.ndarray, comp: np.ndarray, start: np.ndarray, start_comp: int,
            trim_mm: float, window: int = TWO_OPT_WINDOW, rounds: int = TWO_OPT_ROUNDS) -> np.ndarray:
    """Improve an open path through items with fixed (entry, exit) points by reversing stretches of the
    visiting order (items themselves are never sewn backwards). Returns a permutation."""
    n = entry.shape[0]
    perm = np.arange(n)
    if n < 3:
        return perm
    for _ in range(rounds):
        E = np.vstack([start[None], entry[perm]])
        X = np.vstack([start[None], exit_[perm]])
        C = np.concatenate([[start_comp], comp[perm]])
        m = n + 1

        def cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # move from item a's exit to item b's entry
            return move_cost(np.hypot(*(X[a] - E[b]).T), C[a] == C[b], trim_mm)

        t = np.arange(m - 1)
        fwd = cost(t, t + 1)
        bwd = cost(t + 1, t)
        pf = np.concatenate([[0.0], np.cumsum(fwd)])
        pb = np.concatenate([[0.0], np.cumsum(bwd)])
        found = []
        for span in range(2, min(window, m - 1) + 1):
            i = np.arange(0, m - span)  # reverse positions i+1 .. j
            j = i + span
            old = pf[j] - pf[i]
            new = cost(i, j) + (pb[j] - pb[i + 1])
            after = j + 1 < m
            ja = np.minimum(j + 1, m - 1)
            old = old + np.where(after, fwd[np.minimum(j, m - 2)], 0.0)
            new = new + np.where(after, cost(i + 1, ja), 0.0)
            gain = old - new
            good = gain > 1e-6
            if good.any():
                found.append(np.stack([gain[good], i[good], j[good]], axis=1))
        if not found:
            break
        cand = np.vstack(found)
        cand = cand[np.argsort(-cand[:, 0])]
        taken = np.zeros(m + 1, dtype=bool)
        ext = np.concatenate([[-1], perm])
        for _, i, j in cand.tolist():
            i, j = int(i), int(j)
            if taken[i:j + 2].any():
                continue
            taken[i:j + 2] = True
            ext[i + 1:j + 1] = ext[i + 1:j + 1][::-1].copy()
        perm = ext[1:]
    return perm


# ----------------------------------------------------------------------------- moves between units


@dataclass
class Moves:
    """For each transition i (unit i -> unit i+1): travel (True) or jump, and travel waypoints."""

    travel: np.ndarray
    paths: dict[int, np.ndarray]  # waypoints after the exit up to the entry, for routed travels
    length: np.ndarray  # travel length (mm) of each transition (straight distance unless routed)


class TravelPlanner:
    """Finds hidden running-stitch paths between consecutive units of one thread.

    ``comp_labels``: H x W travel component labels (0 = impassable); ``own``: this thread's cells;
    ``rank``: H x W sewing rank of the unit that covers each own cell.
    """

    def __init__(self, comp_labels: np.ndarray, own: np.ndarray, rank: np.ndarray, cw: float, ch: float,
                 diagonal: bool = False) -> None:
        self.labels = comp_labels
        self.own = own
        self.rank = rank
        self.cw, self.ch = cw, ch
        # cross stitch: travel only along the cells' diagonals (on top of or under the crosses)
        self.diagonal = diagonal

    def plan(self, p: np.ndarray, q: np.ndarray, cell_p: np.ndarray, cell_q: np.ndarray, comp: np.ndarray,
             route_beyond_mm: float = 0.0) -> Moves:
        """p, q: (m, 2) exit/entry points; cells (m, 2) row/col; comp: travel component of each unit (m+1).
        Paths around obstacles are searched only for moves longer than ``route_beyond_mm`` (shorter
        ones may simply jump without a trim)."""
        m = p.shape[0]
        travel = np.zeros(m, dtype=bool)
        paths: dict[int, np.ndarray] = {}
        if m == 0:
            return Moves(travel, paths, np.zeros(0))
        d = np.hypot(*(q - p).T)
        cand = (comp[:-1] == comp[1:]) & (d <= TRAVEL_MAX_MM)
        ci = np.flatnonzero(cand)
        if self.diagonal:
            ok = d[ci] < 1e-9
        else:
            ok = self._segments_ok(p[ci], q[ci], comp[ci], ci, True, True)
        travel[ci[ok]] = True
        # next try an L-shaped path (along x then y, or y then x) - cheap and vectorised
        rest = ci[~ok & (d[ci] > route_beyond_mm)]
        for x_first in (True, False):
            if rest.size == 0 or self.diagonal:
                break
            if x_first:
                corner = np.stack([q[rest, 0], p[rest, 1]], axis=1)
            else:
                corner = np.stack([p[rest, 0], q[rest, 1]], axis=1)
            ok = (self._segments_ok(p[rest], corner, comp[rest], rest, True, False)
                  & self._segments_ok(corner, q[rest], comp[rest], rest, False, True))
            for i, w in zip(rest[ok].tolist(), corner[ok]):
                travel[i] = True
                paths[i] = np.stack([w, q[i]])
            rest = rest[~ok]
        for start in range(0, rest.size, ROUTE_BATCH):
            chunk = rest[start:start + ROUTE_BATCH]
            for i, path in self._route_batch(chunk, p[chunk], q[chunk], cell_p[chunk], cell_q[chunk],
                                             comp[chunk]).items():
                travel[i] = True
                paths[i] = path
        length = d.copy()
        for i, path in paths.items():
            length[i] = float(np.hypot(*np.diff(np.vstack([p[i][None], path]), axis=0).T).sum())
        return Moves(travel, paths, length)

    def _segments_ok(self, a: np.ndarray, b: np.ndarray, comp: np.ndarray, step_index: np.ndarray,
                     guard_a: bool, guard_b: bool) -> np.ndarray:
        """Vectorised: does each straight segment a -> b stay in its travel component, crossing at most
        SEWN_CROSSING_MM of cells already sewn before transition ``step_index``? Guarded ends (exit
        and entry points, which may sit on the overlap margin) are not checked."""
        m = a.shape[0]
        if m == 0:
            return np.zeros(0, dtype=bool)
        d = np.hypot(*(b - a).T)
        step = min(self.cw, self.ch) / 3
        guard = min(ENDPOINT_GUARD_MM, 0.75 * min(self.cw, self.ch))
        ns = np.ceil(np.minimum(d, TRAVEL_MAX_MM * 2) / step).astype(np.int64) + 1
        owner, t = ragged_arange(ns + 1)
        frac = t / ns[owner]
        along = frac * d[owner]
        keep = np.ones(owner.size, dtype=bool)
        if guard_a:
            keep &= along > guard
        if guard_b:
            keep &= along < d[owner] - guard
        owner, frac = owner[keep], frac[keep]
        pts = a[owner] + frac[:, None] * (b[owner] - a[owner])
        h, w = self.labels.shape
        c = np.clip(np.floor(pts[:, 0] / self.cw).astype(np.int64), 0, w - 1)
        r = np.clip(np.floor(pts[:, 1] / self.ch).astype(np.int64), 0, h - 1)
        outside = np.bincount(owner[self.labels[r, c] != comp[owner]], minlength=m)
        sewn = np.bincount(owner[self.own[r, c] & (self.rank[r, c] <= step_index[owner])], minlength=m)
        return (outside == 0) & (sewn * step <= SEWN_CROSSING_MM)

    def _route_batch(self, idx: np.ndarray, p: np.ndarray, q: np.ndarray, cp: np.ndarray, cq: np.ndarray,
                     comp: np.ndarray) -> dict[int, np.ndarray]:
        """Least-cost cell paths for many moves at once: each move's window of cells (its two end cells
        plus a margin) becomes one tile of a large cost array, tiles separated by impassable cells,
        and a single minimum-cost-path search runs from all starts to all ends."""
        from skimage.graph import MCP_Geometric

        h, w = self.labels.shape
        m = CROSS_PATH_WINDOW_MARGIN if self.diagonal else PATH_WINDOW_MARGIN
        r0 = np.maximum(np.minimum(cp[:, 0], cq[:, 0]) - m, 0)
        r1 = np.minimum(np.maximum(cp[:, 0], cq[:, 0]) + m + 1, h)
        c0 = np.maximum(np.minimum(cp[:, 1], cq[:, 1]) - m, 0)
        c1 = np.minimum(np.maximum(cp[:, 1], cq[:, 1]) + m + 1, w)
        hh, ww = r1 - r0, c1 - c0
        sr, sc = int(hh.max()), int(ww.max())
        n = idx.size
        per_row = max(1, int(math.ceil(math.sqrt(n * (sr + 1) / (sc + 1)))))
        n_rows = int(math.ceil(n / per_row))
        oy = np.arange(sr)[None, :, None]
        ox = np.arange(sc)[None, None, :]
        rr = np.minimum(r0[:, None, None] + oy, h - 1)
        cc = np.minimum(c0[:, None, None] + ox, w - 1)
        valid = (oy < hh[:, None, None]) & (ox < ww[:, None, None])
        sewn = self.own[rr, cc] & (self.rank[rr, cc] <= idx[:, None, None])
        cost = np.where(valid & (self.labels[rr, cc] == comp[:, None, None]),
                        np.where(sewn, np.inf if self.diagonal else SEWN_CELL_COST, 1.0), np.inf)
        # cross stitch: never travel over finished crosses (a thread on top would hide their top legs);
        # only over cells whose crosses are still to come
        big = np.full((n_rows, sr + 1, per_row, sc + 1), np.inf)
        ti, tj = np.arange(n) // per_row, np.arange(n) % per_row
        big[ti, :sr, tj, :sc] = cost
        big = big.reshape(n_rows * (sr + 1), per_row * (sc + 1))
        ty, tx = ti * (sr + 1), tj * (sc + 1)
        ends = np.stack([ty + cq[:, 0] - r0, tx + cq[:, 1] - c0], axis=1)
        if self.diagonal:
            starts = self._corner_starts(big, p, r0, r1, c0, c1, ty, tx)
        else:
            starts = np.stack([ty + cp[:, 0] - r0, tx + cp[:, 1] - c0], axis=1)
            big[starts[:, 0], starts[:, 1]] = 1.0
        big[ends[:, 0], ends[:, 1]] = 1.0
        if len(starts) == 0:
            return {}
        mcp = MCP_Geometric(big, fully_connected=True, sampling=(self.ch, self.cw))
        costs, _ = mcp.find_costs([tuple(s) for s in starts.tolist()], [tuple(e) for e in ends.tolist()])
        limit = 2 * TRAVEL_MAX_MM * SEWN_CELL_COST
        ks = np.flatnonzero(costs[ends[:, 0], ends[:, 1]] <= limit)
        if ks.size == 0:
            return {}
        traces = [mcp.traceback((int(ends[k, 0]), int(ends[k, 1]))) for k in ks.tolist()]
        return self._paths_from_cells(traces, ks, idx, p, q, ty - r0, tx - c0)

    def _corner_starts(self, big: np.ndarray, p: np.ndarray, r0: np.ndarray, r1: np.ndarray, c0: np.ndarray,
                       c1: np.ndarray, ty: np.ndarray, tx: np.ndarray) -> np.ndarray:
        """Cross stitch: a travel leaves the finished cross it ends on at its exit corner, into a cell around
        that corner whose cross is still to come (so the cross's top leg stays the last thread over it).
        Returns the tile coordinates of every such start cell of every move."""
        cx = np.rint(p[:, 0] / self.cw).astype(np.int64)
        cy = np.rint(p[:, 1] / self.ch).astype(np.int64)
        out = []
        for dr, dc in ((-1, -1), (-1, 0), (0, -1), (0, 0)):
            r, c = cy + dr, cx + dc
            inside = (r >= r0) & (r < r1) & (c >= c0) & (c < c1)
            sr, sc = ty + r - r0, tx + c - c0
            ok = inside.copy()
            ok[inside] = np.isfinite(big[sr[inside], sc[inside]])
            out.append(np.stack([sr[ok], sc[ok]], axis=1))
        return np.vstack(out)

    def _paths_from_cells(self, traces: list, ks: np.ndarray, idx: np.ndarray, p: np.ndarray, q: np.ndarray,
                          dy: np.ndarray, dx: np.ndarray) -> dict[int, np.ndarray]:
        """Cell paths (tile coordinates) -> waypoint arrays, all routes at once: through cell centres,
        or for cross stitch alternately centres and shared corners (along the diagonals); collinear
        points dropped; routes longer than 1.5 x TRAVEL_MAX_MM discarded."""
        n_cells = np.fromiter((len(t) for t in traces), dtype=np.int64, count=len(traces))
        cells = np.asarray(list(itertools.chain.from_iterable(traces)), dtype=np.int64).reshape(-1, 2)
        owner = np.repeat(np.arange(ks.size), n_cells)
        rows = cells[:, 0] - dy[ks][owner]
        cols = cells[:, 1] - dx[ks][owner]
        centres = np.stack([(cols + 0.5) * self.cw, (rows + 0.5) * self.ch], axis=1)
        if self.diagonal:
            same = owner[1:] == owner[:-1]
            corner = _corner_between(rows[:-1], cols[:-1], np.diff(rows), np.diff(cols), q[ks][owner[:-1]].T,
                                     self.cw, self.ch)
            per = 1 + np.concatenate([same, [False]]).astype(np.int64)
            pos = np.concatenate([[0], np.cumsum(per)[:-1]])
            wp = np.empty((int(per.sum()), 2))
            wp[pos] = centres
            wp[pos[:-1][same] + 1] = corner[same]
            wp_owner = np.empty(wp.shape[0], dtype=np.int64)
            wp_owner[pos] = owner
            wp_owner[pos[:-1][same] + 1] = owner[:-1][same]
        else:
            wp, wp_owner = centres, owner
        # each route: exit point, waypoints, entry point
        counts = np.bincount(wp_owner, minlength=ks.size) + 2
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        full = np.empty((int(counts.sum()), 2))
        full_owner = np.repeat(np.arange(ks.size), counts)
        full[start] = p[ks]
        full[start + counts - 1] = q[ks]
        inner = np.ones(full.shape[0], dtype=bool)
        inner[start] = inner[start + counts - 1] = False
        full[inner] = wp
        # drop interior points on a straight line between their neighbours (same route only)
        d1 = full[1:-1] - full[:-2]
        d2 = full[2:] - full[1:-1]
        cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
        keep = np.ones(full.shape[0], dtype=bool)
        keep[1:-1] = ~((np.abs(cross) < 1e-9) & ((d1 * d2).sum(1) >= 0) & inner[1:-1])
        full, full_owner, inner = full[keep], full_owner[keep], inner[keep]
        seg = np.hypot(*np.diff(full, axis=0).T)
        same_route = full_owner[1:] == full_owner[:-1]
        length = np.bincount(full_owner[1:][same_route], weights=seg[same_route], minlength=ks.size)
        is_start = np.concatenate([[True], ~same_route])
        pieces = np.split(full[~is_start], np.cumsum(np.bincount(full_owner[~is_start], minlength=ks.size))[:-1])
        out: dict[int, np.ndarray] = {}
        for j, piece in enumerate(pieces):
            if length[j] <= 1.5 * TRAVEL_MAX_MM:
                out[int(idx[ks[j]])] = piece
        return out


def _corner_between(r: np.ndarray, c: np.ndarray, dr: np.ndarray, dc: np.ndarray, toward: np.ndarray,
                    cw: float, ch: float) -> np.ndarray:
    """A corner shared by cell (r, c) and its neighbour (r + dr, c + dc), as x, y in mm; where two
    corners are shared (side neighbours), the one nearer ``toward`` (x, y arrays)."""
    cx = np.where(dc != 0, c + (dc > 0), np.where(toward[0] > (c + 0.5) * cw, c + 1, c))
    cy = np.where(dr != 0, r + (dr > 0), np.where(toward[1] > (r + 0.5) * ch, r + 1, r))
    return np.stack([cx * cw, cy * ch], axis=1)
