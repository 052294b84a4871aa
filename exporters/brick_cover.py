"""Cover same-colour stud areas with as few rectangular parts as possible.

Two covers of a boolean mask with rectangles from a list of part sizes (both orientations):

* ``greedy_cover`` - the baseline most mosaic tools use: take part sizes largest first and place each
  wherever it fits, scanning row by row.
* ``optimal_cover`` - ours: per 4-connected component, an exact branch-and-bound search over the
  "first uncovered stud" recursion (the first uncovered stud in reading order must be a part's top-left
  corner), memoised on the set of uncovered studs, bounded below by a per-stud weight (1 / area of the
  largest part that could cover the stud) and above by the best of several greedy covers. When a component
  is too large for the exact search within its node budget, a beam search over the same recursion gives
  another candidate, and the best cover is then improved by large-neighbourhood search: the parts inside a
  sliding window are removed and their studs re-covered exactly, keeping any change that uses fewer parts.
  The result never uses more parts than the greedy baseline (it starts from it).

Every cover is exact: each True cell is covered by exactly one rectangle lying inside the mask.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Rect:
    """A placed part: top-left cell (x, y) and size w x h in cells."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h


def orientations(sizes: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """All (w, h) shapes for part sizes in both orientations, largest area first (wider first on ties)."""
    shapes = {(a, b) for a, b in sizes} | {(b, a) for a, b in sizes}
    return sorted(shapes, key=lambda s: (-s[0] * s[1], -s[0], s[1]))


# --------------------------------------------------------------------------- baseline


def greedy_cover(mask: np.ndarray, shapes: Sequence[tuple[int, int]]) -> list[Rect]:
    """Largest-first greedy cover: for each shape (largest area first), scan rows and place it wherever it fits."""
    free = np.array(mask, dtype=bool, copy=True)
    h, w = free.shape
    out: list[Rect] = []
    for sw, sh in orientations(shapes):
        if sw > w or sh > h or free.sum() < sw * sh:
            continue
        for y in range(h - sh + 1):
            row_ok = free[y:y + sh].all(axis=0) if sh > 1 else free[y]
            if row_ok.sum() < sw:
                continue
            x = 0
            while x <= w - sw:
                if row_ok[x:x + sw].all() and free[y:y + sh, x:x + sw].all():
                    free[y:y + sh, x:x + sw] = False
                    out.append(Rect(x, y, sw, sh))
                    row_ok = free[y:y + sh].all(axis=0)
                    x += sw
                else:
                    x += 1
    return out


# --------------------------------------------------------------------------- exact search on bit masks


class _Budget(Exception):
    """The exact search ran out of nodes."""


_LCM = 720720  # divisible by every part area up to 16 (and well beyond)


def _sat(a: np.ndarray) -> np.ndarray:
    """Summed-area table with a zero first row and column."""
    out = np.zeros((a.shape[0] + 1, a.shape[1] + 1), dtype=np.int64)
    out[1:, 1:] = a.cumsum(0).cumsum(1)
    return out


def _window_sums(sat: np.ndarray, w: int, h: int) -> np.ndarray:
    """Sums of every h x w window (indexed by its top-left cell)."""
    return sat[h:, w:] - sat[:-h, w:] - sat[h:, :-w] + sat[:-h, :-w]


class _Region:
    """A set of cells as a bit mask over its bounding box (bit = row * width + col), with part candidates."""

    def __init__(self, cells: np.ndarray, shapes: Sequence[tuple[int, int]]) -> None:
        ys, xs = cells[:, 0], cells[:, 1]
        self.y0, self.x0 = int(ys.min()), int(xs.min())
        self.bh, self.bw = int(ys.max()) - self.y0 + 1, int(xs.max()) - self.x0 + 1
        local = np.zeros((self.bh, self.bw), dtype=bool)
        local[ys - self.y0, xs - self.x0] = True
        self.local = local
        self.full = int.from_bytes(np.packbits(local.ravel(), bitorder="little").tobytes(), "little")
        self.maxa = max(a * b for a, b in shapes)
        self.cands: dict[int, list] = {}
        sat = _sat(local.astype(np.int64))
        # Lower-bound weights: a stud whose largest possible part has area a counts 1/a of a part
        # (in units of 1/_LCM so sums stay exact integers); a part's weight is the sum over its studs.
        best_area = np.zeros(local.shape, dtype=np.int64)
        unset = int(local.sum())
        fitting = []
        for sw, sh in orientations(shapes):
            if sw > self.bw or sh > self.bh:
                continue
            fits = _window_sums(sat, sw, sh) == sw * sh
            if not fits.any():
                continue
            fitting.append((sw, sh, fits))
            if unset == 0:
                continue
            # studs covered by some placement of this shape: dilate the top-left map by the shape
            padded = np.zeros((self.bh + sh - 1, self.bw + sw - 1), dtype=np.int64)
            padded[sh - 1:self.bh, sw - 1:self.bw] = fits
            covered = _window_sums(_sat(padded), sw, sh) > 0
            newly = covered & (best_area == 0)
            best_area[newly] = sw * sh
            unset -= int(newly.sum())
        self.unit = _LCM
        cell_w = np.where(local, _LCM // np.maximum(best_area, 1), 0)
        self.total_weight = int(cell_w.sum())
        wsat = _sat(cell_w)
        self.wsat = wsat
        for sw, sh, fits in fitting:
            block = 0
            row = (1 << sw) - 1
            for r in range(sh):
                block |= row << (r * self.bw)
            weights = _window_sums(wsat, sw, sh)
            for y, x in zip(*np.nonzero(fits)):
                pos = int(y) * self.bw + int(x)
                self.cands.setdefault(pos, []).append((block << pos, sw, sh, int(weights[y, x])))
        self.memo: dict[int, tuple[int, bool]] = {}
        self.choice: dict[int, tuple[int, int, int, int]] = {}
        self.nodes = 0
        self.cap = 0

    def rect_of(self, pos: int, sw: int, sh: int) -> Rect:
        y, x = divmod(pos, self.bw)
        return Rect(self.x0 + x, self.y0 + y, sw, sh)

    def _solve(self, rem: int, weight: int, limit: int) -> int:
        if rem == 0:
            return 0
        lb = -(-weight // self.unit)
        if lb >= limit:
            return lb
        hit = self.memo.get(rem)
        if hit is not None:
            v, exact = hit
            if exact or v >= limit:
                return v
            lb = max(lb, v)
        self.nodes += 1
        if self.nodes > self.cap:
            raise _Budget
        pos = (rem & -rem).bit_length() - 1
        best = limit
        pick = None
        for cand in self.cands.get(pos, ()):
            m = cand[0]
            if m & rem == m:
                r = 1 + self._solve(rem ^ m, weight - cand[3], best - 1)
                if r < best:
                    best, pick = r, cand
                    if best <= lb:
                        break
        if pick is not None:
            self.memo[rem] = (best, True)
            self.choice[rem] = pick
        else:
            self.memo[rem] = (max(limit, lb), False)
        return best

    def solve(self, limit: int, cap: int) -> list[Rect] | None:
        """An optimal cover if one with fewer than ``limit`` parts exists (None if not, or over budget)."""
        return self.solve_subset(self.full, self.total_weight, limit, cap)

    def solve_subset(self, rem: int, weight: int, limit: int, cap: int) -> list[Rect] | None:
        """Like ``solve`` for a subset ``rem`` of the region (its lower-bound ``weight`` given).

        Results are memoised per subset, so repeated calls (window after window) share their work.
        """
        self.nodes, self.cap = 0, cap
        try:
            best = self._solve(rem, weight, limit)
        except _Budget:
            return None
        if best >= limit:
            return None
        out = []
        while rem:
            m, sw, sh, _ = self.choice[rem]
            pos = (m & -m).bit_length() - 1
            out.append(self.rect_of(pos, sw, sh))
            rem ^= m
        return out

    def mask_and_weight(self, r: Rect) -> tuple[int, int]:
        """Bit mask and lower-bound weight of a placed part (absolute coordinates)."""
        x, y = r.x - self.x0, r.y - self.y0
        block = 0
        row = (1 << r.w) - 1
        for k in range(r.h):
            block |= row << (k * self.bw)
        weight = _window_sums(self.wsat[y:y + r.h + 1, x:x + r.w + 1], r.w, r.h)[0, 0]
        return block << (y * self.bw + x), int(weight)

    def beam(self, width: int) -> list[Rect]:
        """Level-by-level beam search: after each part, keep the ``width`` states with the least lower-bound
        weight left uncovered (distinct uncovered sets only); the first complete state wins."""
        level: dict[int, tuple[int, tuple | None]] = {self.full: (self.total_weight, None)}
        while True:
            nxt: dict[int, tuple[int, tuple | None]] = {}
            for rem, (weight, trail) in level.items():
                pos = (rem & -rem).bit_length() - 1
                for cand in self.cands[pos]:
                    m = cand[0]
                    if m & rem == m:
                        left = rem ^ m
                        step = (cand, trail)
                        if left == 0:
                            return self._trail_rects(step)
                        w = weight - cand[3]
                        old = nxt.get(left)
                        if old is None or w < old[0]:
                            nxt[left] = (w, step)
            if len(nxt) > width:
                nxt = dict(heapq.nsmallest(width, nxt.items(), key=lambda kv: (kv[1][0], kv[0])))
            level = nxt

    def _trail_rects(self, step: tuple | None) -> list[Rect]:
        out = []
        while step is not None:
            (m, sw, sh, _), step = step
            out.append(self.rect_of((m & -m).bit_length() - 1, sw, sh))
        return out

    def first_fit(self) -> list[Rect]:
        """Greedy: at the first uncovered cell in reading order, place the largest part that fits."""
        out, rem = [], self.full
        while rem:
            pos = (rem & -rem).bit_length() - 1
            for m, sw, sh, _ in self.cands[pos]:
                if m & rem == m:
                    out.append(self.rect_of(pos, sw, sh))
                    rem ^= m
                    break
        return out


def _transpose(rects: Iterable[Rect]) -> list[Rect]:
    return [Rect(r.y, r.x, r.h, r.w) for r in rects]


@dataclass
class CoverSettings:
    """Search budgets for ``optimal_cover`` (nodes of the exact search)."""

    exact_nodes: int = 1500
    window: int = 8
    window_nodes: int = 5000
    extra_windows: tuple[tuple[int, int], ...] = ((12, 4), (4, 12))
    passes: int = 3
    beam_width: int = 100


def _improve(region: _Region, rects: list[Rect], s: CoverSettings) -> list[Rect]:
    """Large-neighbourhood search: re-cover the parts inside sliding windows exactly (in ``region``'s bit space)."""
    rects = list(rects)
    if len(rects) < 2:
        return rects
    x0, y0 = region.x0, region.y0
    x1, y1 = x0 + region.bw, y0 + region.bh
    info = {r: region.mask_and_weight(r) for r in rects}
    tried: set[frozenset[Rect]] = set()  # window contents already known to be optimal
    windows = [(s.window, s.window)] + [(w, h) for w, h in s.extra_windows]
    for _ in range(s.passes):
        improved = False
        for ww, wh in windows:
            sx, sy = max(1, ww // 2), max(1, wh // 2)
            for wy in range(y0 - sy, y1, sy):
                for wx in range(x0 - sx, x1, sx):
                    inside = [r for r in rects if r.x >= wx and r.y >= wy and r.x + r.w <= wx + ww
                              and r.y + r.h <= wy + wh]
                    if len(inside) < 2:
                        continue
                    key = frozenset(inside)
                    if key in tried:
                        continue
                    tried.add(key)
                    rem = weight = 0
                    for r in inside:
                        m, w = info[r]
                        rem |= m
                        weight += w
                    better = region.solve_subset(rem, weight, len(inside), s.window_nodes)
                    if better is not None:
                        keep = set(inside)
                        rects = [r for r in rects if r not in keep] + better
                        for r in better:
                            info[r] = region.mask_and_weight(r)
                        improved = True
        if not improved:
            break
    return rects


def _component_cover(cells: np.ndarray, shapes: Sequence[tuple[int, int]], s: CoverSettings) -> list[Rect]:
    n = len(cells)
    region = _Region(cells, shapes)
    if n == 1:
        return [region.rect_of(0, 1, 1)]
    # Upper bounds: the baseline greedy and first-fit in both reading directions.
    local = region.local
    base = [Rect(r.x + region.x0, r.y + region.y0, r.w, r.h) for r in greedy_cover(local, shapes)]
    ff = region.first_fit()
    tr = _Region(cells[:, ::-1].copy(), shapes)
    ff_t = _transpose(tr.first_fit())
    best = min((base, ff, ff_t), key=len)
    lb = -(-region.total_weight // region.unit)
    if len(best) <= lb:
        return best
    exact = region.solve(len(best), s.exact_nodes)
    if exact is not None:
        return exact
    if region.nodes <= s.exact_nodes:  # search completed: nothing better than ``best`` exists
        return best
    if s.beam_width > 0:
        beam = region.beam(s.beam_width)
        if len(beam) < len(best):
            best = beam
    return _improve(region, best, s)


def optimal_cover(mask: np.ndarray, shapes: Sequence[tuple[int, int]],
                  settings: CoverSettings | None = None) -> list[Rect]:
    """A cover of ``mask`` with at most as many parts as ``greedy_cover`` (usually fewer)."""
    s = settings or CoverSettings()
    mask = np.asarray(mask, dtype=bool)
    if (1, 1) not in {tuple(sh) for sh in shapes}:
        raise ValueError("the part sizes must include 1 x 1 so that every stud can be covered")
    if len(shapes) == 1 and tuple(shapes[0]) == (1, 1):
        return [Rect(int(x), int(y), 1, 1) for y, x in zip(*np.nonzero(mask))]
    labels, n = ndimage.label(mask)
    out: list[Rect] = []
    if n == 0:
        return out
    order = np.argsort(labels, axis=None, kind="stable")
    flat = labels.ravel()[order]
    starts = np.searchsorted(flat, np.arange(1, n + 2))
    ys, xs = np.unravel_index(order, mask.shape)
    for k in range(n):
        a, b = starts[k], starts[k + 1]
        cells = np.stack([ys[a:b], xs[a:b]], axis=1)
        out.extend(_component_cover(cells, shapes, s))
    return out


def check_cover(mask: np.ndarray, rects: Iterable[Rect]) -> None:
    """Raise ValueError unless ``rects`` cover every True cell of ``mask`` exactly once and nothing else."""
    mask = np.asarray(mask, dtype=bool)
    hits = np.zeros(mask.shape, dtype=np.int32)
    for r in rects:
        if r.x < 0 or r.y < 0 or r.x + r.w > mask.shape[1] or r.y + r.h > mask.shape[0]:
            raise ValueError(f"part {r} lies outside the area")
        hits[r.y:r.y + r.h, r.x:r.x + r.w] += 1
    if (hits > 1).any():
        raise ValueError("some cells are covered twice")
    if (hits[~mask] > 0).any():
        raise ValueError("a part covers a cell of another colour or an empty cell")
    if (hits[mask] == 0).any():
        raise ValueError("some cells are not covered")
