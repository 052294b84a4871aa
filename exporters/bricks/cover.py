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

Speed: everything works on Python-int bit masks of a component's bounding box (placements are ANDs of
shifted copies of the component), the search prunes children by their bound before calling into them,
placement lists are only built for components that need a search, and covers are cached per component
shape (photos repeat the same small shapes across sections and colours; see ``clear_cover_cache``).

Every cover is exact: each True cell is covered by exactly one rectangle lying inside the mask.
"""

from __future__ import annotations

import heapq
from dataclasses import astuple, dataclass
from functools import lru_cache
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
    shapes = {(int(a), int(b)) for a, b in sizes} | {(int(b), int(a)) for a, b in sizes}
    return sorted(shapes, key=lambda s: (-s[0] * s[1], -s[0], s[1]))


# --------------------------------------------------------------------------- baseline


def greedy_cover(mask: np.ndarray, shapes: Sequence[tuple[int, int]]) -> list[Rect]:
    """Largest-first greedy cover: for each shape (largest area first), scan rows and place it wherever it fits."""
    return _Region(np.array(mask, dtype=bool), shapes).greedy()


# --------------------------------------------------------------------------- exact search on bit masks


class _Budget(Exception):
    """The exact search ran out of nodes."""


_LCM = 720720  # divisible by every part area up to 16 (and well beyond)


def _to_bits(local: np.ndarray) -> int:
    """A boolean array as a Python int (bit = row * width + col)."""
    return int.from_bytes(np.packbits(local.ravel(), bitorder="little").tobytes(), "little")


def _bit_positions(bits: int, n: int) -> np.ndarray:
    """Indices of the set bits of ``bits`` (below ``n``), ascending."""
    raw = np.frombuffer(bits.to_bytes((n + 7) // 8, "little"), dtype=np.uint8)
    return np.flatnonzero(np.unpackbits(raw, bitorder="little")[:n])


@lru_cache(maxsize=None)
def _row_rep(bw: int, rows: int) -> int:
    """Bit 0 of each of ``rows`` rows of width ``bw`` (multiply a row pattern by it to repeat the pattern)."""
    out = 0
    for r in range(rows):
        out |= 1 << (r * bw)
    return out


class _Region:
    """A set of cells as a bit mask over its bounding box (bit = row * width + col), with part candidates.

    Everything is built with Python integer bit operations (fast for the <= 16 x 16 boxes of a mosaic
    section): placements of a shape are the AND of shifted copies of the region, and each stud's
    lower-bound weight comes from the largest shape whose placements cover it.
    """

    def __init__(self, local: np.ndarray, shapes: Sequence[tuple[int, int]], x0: int = 0, y0: int = 0) -> None:
        self.bh, self.bw = local.shape
        self.x0, self.y0 = x0, y0
        bw, bh = self.bw, self.bh
        full = _to_bits(local)
        self.full = full
        rep = _row_rep(bw, bh)
        runs = [0, full]  # runs[w]: cells starting w set cells in a row (before column clipping)
        cover = 0
        classes: dict[int, int] = {}  # part area -> cells whose largest covering part has that area
        fitting = []
        for sw, sh in orientations(shapes):
            if sw > bw or sh > bh:
                continue
            while len(runs) <= sw:
                runs.append(runs[-1] & (full >> (len(runs) - 1)))
            fits = runs[sw] & (((1 << (bw - sw + 1)) - 1) * rep)
            for dy in range(1, sh):
                fits &= runs[sw] >> (dy * bw)
            if not fits:
                continue
            fitting.append((sw, sh, fits))
            if cover != full:
                row = fits
                for dx in range(1, sw):
                    row |= fits << dx
                cov = row
                for dy in range(1, sh):
                    cov |= row << (dy * bw)
                newly = cov & ~cover
                if newly:
                    classes[sw * sh] = classes.get(sw * sh, 0) | newly
                    cover |= newly
        # Lower-bound weights: a stud whose largest possible part has area a counts 1/a of a part
        # (in units of 1/_LCM so sums stay exact integers); a part's weight is the sum over its studs.
        self.unit = _LCM
        self.wclasses = [(m, _LCM // a) for a, m in classes.items()]
        self.total_weight = sum(m.bit_count() * w for m, w in self.wclasses)
        self.fitting = [(sw, sh, fits, ((1 << sw) - 1) * _row_rep(bw, sh)) for sw, sh, fits in fitting]
        self._cands: dict[int, list] | None = None
        self.memo: dict[int, tuple[int, bool]] = {}
        self.choice: dict[int, tuple[int, int, int, int]] = {}
        self.nodes = 0

    @property
    def cands(self) -> dict[int, list]:
        """Placements by top-left bit: (bit mask, w, h, lower-bound weight), largest part first (built on demand)."""
        if self._cands is None:
            bh, bw = self.bh, self.bw
            cands: dict[int, list] = {}
            if len(self.wclasses) == 1:
                wsat = None
            else:  # per-cell weights as an array; part weights are window sums of its summed-area table
                cell_w = np.zeros(bh * bw, dtype=np.int64)
                for m, w in self.wclasses:
                    cell_w[_bit_positions(m, bh * bw)] = w
                wsat = np.zeros((bh + 1, bw + 1), dtype=np.int64)
                wsat[1:, 1:] = cell_w.reshape(bh, bw).cumsum(0).cumsum(1)
            for sw, sh, fits, block in self.fitting:
                pos = _bit_positions(fits, bh * bw)
                if wsat is None:
                    weights = [sw * sh * self.wclasses[0][1]] * len(pos)
                else:
                    ys, xs = np.divmod(pos, bw)
                    weights = (wsat[ys + sh, xs + sw] - wsat[ys, xs + sw] - wsat[ys + sh, xs]
                               + wsat[ys, xs]).tolist()
                for p, w in zip(pos.tolist(), weights):
                    cands.setdefault(p, []).append((block << p, sw, sh, w))
            self._cands = cands
        return self._cands

    def rect_of(self, pos: int, sw: int, sh: int) -> Rect:
        y, x = divmod(pos, self.bw)
        return Rect(self.x0 + x, self.y0 + y, sw, sh)

    def solve(self, limit: int, cap: int) -> list[Rect] | None:
        """An optimal cover if one with fewer than ``limit`` parts exists (None if not, or over budget)."""
        return self.solve_subset(self.full, self.total_weight, limit, cap)

    def solve_subset(self, rem: int, weight: int, limit: int, cap: int) -> list[Rect] | None:
        """Like ``solve`` for a subset ``rem`` of the region (its lower-bound ``weight`` given).

        Results are memoised per subset, so repeated calls (window after window) share their work.
        The number of search nodes used is left in ``self.nodes`` (more than ``cap``: ran out of budget).
        """
        memo, choice, cands, unit = self.memo, self.choice, self.cands, self.unit
        nodes = 0

        def search(rem: int, weight: int, limit: int) -> int:
            # Fewest parts covering ``rem`` if fewer than ``limit``; otherwise some value >= ``limit``.
            nonlocal nodes
            if not rem:
                return 0
            lb = -(-weight // unit)
            if lb >= limit:
                return lb
            hit = memo.get(rem)
            if hit is not None:
                v, exact = hit
                if exact or v >= limit:
                    return v
                if v > lb:
                    lb = v
            nodes += 1
            if nodes > cap:
                raise _Budget
            best = limit
            pick = None
            # a child whose own bound reaches best - 1 cannot improve ``best``: skip it without a call
            thr = weight - (best - 2) * unit
            for cand in cands[(rem & -rem).bit_length() - 1]:
                m = cand[0]
                if m & rem == m and cand[3] >= thr:
                    left = rem ^ m
                    hit = memo.get(left)
                    if hit is not None and (hit[1] or hit[0] >= best - 1):
                        r = 1 + hit[0]
                    else:
                        r = 1 + search(left, weight - cand[3], best - 1)
                    if r < best:
                        best, pick = r, cand
                        if best <= lb:
                            break
                        thr = weight - (best - 2) * unit
            if pick is not None:
                memo[rem] = (best, True)
                choice[rem] = pick
            else:
                memo[rem] = (limit if limit > lb else lb, False)
            return best

        try:
            best = search(rem, weight, limit)
        except _Budget:
            return None
        finally:
            self.nodes = nodes
        if best >= limit:
            return None
        return self._unwind(rem)

    def _unwind(self, rem: int) -> list[Rect]:
        """The cover of ``rem`` recorded by the exact search (every step on its path is solved exactly)."""
        out = []
        while rem:
            m, sw, sh, _ = self.choice[rem]
            out.append(self.rect_of((m & -m).bit_length() - 1, sw, sh))
            rem ^= m
        return out

    def mask_and_weight(self, r: Rect) -> tuple[int, int]:
        """Bit mask and lower-bound weight of a placed part (absolute coordinates)."""
        x, y = r.x - self.x0, r.y - self.y0
        m = ((1 << r.w) - 1) * _row_rep(self.bw, r.h) << (y * self.bw + x)
        return m, sum((m & cm).bit_count() * cw for cm, cw in self.wclasses)

    def beam(self, width: int) -> list[Rect]:
        """Level-by-level beam search: after each part, keep the ``width`` states with the least lower-bound
        weight left uncovered (distinct uncovered sets only, ties to the smaller set); the first complete
        state wins.

        Once ``width`` distinct children are known, a child weighing more than the ``width``-th least of
        their first-seen weights cannot survive the cut, so it is dropped without being recorded.
        """
        cands = self.cands
        level: list[tuple[int, int, tuple | None]] = [(self.full, self.total_weight, None)]
        heappush, heapreplace = heapq.heappush, heapq.heapreplace
        while True:
            weights: dict[int, int] = {}
            trails: dict[int, tuple] = {}
            top: list[int] = []  # max-heap (negated) of the ``width`` least first-seen child weights
            cut = None  # -top[0] once ``top`` is full
            dropped = False
            for rem, weight, trail in level:
                for cand in cands[(rem & -rem).bit_length() - 1]:
                    m = cand[0]
                    if m & rem == m:
                        left = rem ^ m
                        if not left:
                            return self._trail_rects((cand, trail))
                        w = weight - cand[3]
                        if cut is not None and w > cut:
                            dropped = True
                            continue
                        old = weights.get(left)
                        if old is None:
                            weights[left] = w
                            trails[left] = (cand, trail)
                            if cut is None:
                                heappush(top, -w)
                                if len(top) == width:
                                    cut = -top[0]
                            elif w < cut:
                                heapreplace(top, -w)
                                cut = -top[0]
                        elif w < old:
                            weights[left] = w
                            trails[left] = (cand, trail)
            if dropped or len(weights) > width:
                keep = [(w, left) for left, w in weights.items() if w <= cut]
                keep.sort()
                del keep[width:]
            else:
                keep = [(w, left) for left, w in weights.items()]
            level = [(left, w, trails[left]) for w, left in keep]

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
            for sw, sh, fits, block in self.fitting:
                if fits >> pos & 1:
                    m = block << pos
                    if m & rem == m:
                        out.append(self.rect_of(pos, sw, sh))
                        rem ^= m
                        break
        return out

    def greedy(self) -> list[Rect]:
        """``greedy_cover`` in bit space: shapes largest first, each placed wherever it fits in reading order."""
        out, rem = [], self.full
        for sw, sh, fits, block in self.fitting:
            fits &= rem
            while fits:
                low = fits & -fits
                fits ^= low
                m = block * low
                if m & rem == m:
                    out.append(self.rect_of(low.bit_length() - 1, sw, sh))
                    rem ^= m
                    if not rem:
                        return out
                    fits &= rem
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


def _component_cover(local: np.ndarray, shapes: Sequence[tuple[int, int]], s: CoverSettings) -> list[Rect]:
    """Cover one 4-connected component given as its bounding-box mask (rects in box coordinates)."""
    bh, bw = local.shape
    if bh * bw == 1:
        return [Rect(0, 0, 1, 1)]
    region = _Region(local, shapes)
    lb = -(-region.total_weight // region.unit)
    # Upper bounds: the baseline greedy and first-fit in both reading directions (the first that
    # reaches the lower bound is optimal, so the others are skipped).
    best = region.greedy()
    if len(best) <= lb:
        return best
    ff = region.first_fit()
    if len(ff) < len(best):
        best = ff
        if len(best) <= lb:
            return best
    ff_t = _transpose(_Region(local.T, shapes).first_fit())
    if len(ff_t) < len(best):
        best = ff_t
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
            if len(best) <= lb:
                return best
    return _improve(region, best, s)


# Covers of component shapes already solved, keyed by (part shapes, settings, box size, box bits). The
# search is deterministic, so a cached cover is exactly what a fresh search would return; photos repeat
# the same small shapes (single studs, short runs, small blobs) many times across sections and colours.
_CACHE: dict[tuple, tuple[tuple[int, int, int, int], ...]] = {}
_CACHE_MAX = 50_000


def _cached_component(local: np.ndarray, shapes: tuple[tuple[int, int], ...], s: CoverSettings,
                      skey: str) -> tuple[tuple[int, int, int, int], ...]:
    key = (shapes, skey, local.shape, _to_bits(local))
    hit = _CACHE.get(key)
    if hit is None:
        hit = tuple((r.x, r.y, r.w, r.h) for r in _component_cover(local, shapes, s))
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = hit
    return hit


def clear_cover_cache() -> None:
    """Forget the cached component covers (benchmarks call this to time cold runs)."""
    _CACHE.clear()


def optimal_cover(mask: np.ndarray, shapes: Sequence[tuple[int, int]],
                  settings: CoverSettings | None = None) -> list[Rect]:
    """A cover of ``mask`` with at most as many parts as ``greedy_cover`` (usually fewer)."""
    s = settings or CoverSettings()
    mask = np.asarray(mask, dtype=bool)
    shapes_t = tuple(orientations(shapes))
    if (1, 1) not in shapes_t:
        raise ValueError("the part sizes must include 1 x 1 so that every stud can be covered")
    if shapes_t == ((1, 1),):
        return [Rect(int(x), int(y), 1, 1) for y, x in zip(*np.nonzero(mask))]
    labels, n = ndimage.label(mask)
    out: list[Rect] = []
    if n == 0:
        return out
    skey = repr(astuple(s))  # a hashable key even if a caller passes lists in the settings
    for k, box in enumerate(ndimage.find_objects(labels), start=1):
        local = labels[box] == k
        y0, x0 = box[0].start, box[1].start
        for x, y, w, h in _cached_component(local, shapes_t, s, skey):
            out.append(Rect(x0 + x, y0 + y, w, h))
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
