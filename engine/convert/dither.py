"""Dithering onto a palette in CIELAB: Floyd-Steinberg, Atkinson (error diffusion) and ordered Bayer.

Every method takes a strength in [0, 1]: 0 is plain nearest-colour mapping, 1 the full effect.
Colour choices use CIEDE2000; errors are measured and spread in Lab. Error diffusion looks colours up
on a 2-unit Lab grid whose points are settled exactly (proven CIEDE2000 bounds per block of grid points
pick the few palette colours that can win) and kept per palette between calls, so a re-run is cheap.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict

import numpy as np

from engine.core.palette_select import nearest_candidates

log = logging.getLogger(__name__)

DITHER_METHODS = ("none", "floyd-steinberg", "atkinson", "bayer")

# (dy, dx, weight) for a left-to-right pass; dx is mirrored on right-to-left rows.
FLOYD_STEINBERG = ((0, 1, 7 / 16), (1, -1, 3 / 16), (1, 0, 5 / 16), (1, 1, 1 / 16))
# Atkinson spreads only 6/8 of the error, which keeps highlights and shadows clean.
ATKINSON = ((0, 1, 1 / 8), (0, 2, 1 / 8), (1, -1, 1 / 8), (1, 0, 1 / 8), (1, 1, 1 / 8), (2, 0, 1 / 8))


# Colour choices in error diffusion are looked up on this Lab grid (units); see error_diffusion.
GRID = 2.0
_P25_7 = 25.0**7


_TWO_PI = 2.0 * math.pi
_DEG = math.pi / 180.0


def _ciede2000_scalar(L1: float, a1: float, b1: float, L2: float, a2: float, b2: float) -> float:
    """CIEDE2000 for one pair of plain floats (the error-diffusion inner loop; numpy is slower here).

    Same formula as ``engine.core.color.ciede2000`` (Sharma, Wu & Dalal 2005), with hues in radians.
    """
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) * 0.5
    c7 = c_mean * c_mean * c_mean
    c7 = c7 * c7 * c_mean
    g1 = 1.5 - 0.5 * math.sqrt(c7 / (c7 + _P25_7))  # 1 + G
    a1p, a2p = g1 * a1, g1 * a2
    C1p, C2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1 = math.atan2(b1, a1p)
    if h1 < 0.0:
        h1 += _TWO_PI
    h2 = math.atan2(b2, a2p)
    if h2 < 0.0:
        h2 += _TWO_PI
    if C1p * C2p == 0.0:
        dh, hm = 0.0, h1 + h2
    else:
        dh = h2 - h1
        if dh > math.pi:
            dh -= _TWO_PI
        elif dh < -math.pi:
            dh += _TWO_PI
        hm = (h1 + h2) * 0.5
        if abs(h1 - h2) > math.pi:
            hm += math.pi if h1 + h2 < _TWO_PI else -math.pi
    dH = 2.0 * math.sqrt(C1p * C2p) * math.sin(dh * 0.5)
    Cm = (C1p + C2p) * 0.5
    T = (1.0 - 0.17 * math.cos(hm - 30.0 * _DEG) + 0.24 * math.cos(2.0 * hm)
         + 0.32 * math.cos(3.0 * hm + 6.0 * _DEG) - 0.20 * math.cos(4.0 * hm - 63.0 * _DEG))
    cm7 = Cm * Cm * Cm
    cm7 = cm7 * cm7 * Cm
    x = (hm / _DEG - 275.0) / 25.0
    RT = -math.sin(60.0 * _DEG * math.exp(-x * x)) * 2.0 * math.sqrt(cm7 / (cm7 + _P25_7))
    L50 = (L1 + L2) * 0.5 - 50.0
    L50 *= L50
    tL = (L2 - L1) / (1.0 + 0.015 * L50 / math.sqrt(20.0 + L50))
    tC = (C2p - C1p) / (1.0 + 0.045 * Cm)
    tH = dH / (1.0 + 0.015 * Cm * T)
    return math.sqrt(max(0.0, tL * tL + tC * tC + tH * tH + RT * tC * tH))


# Range of CIEDE2000's hue weighting T over all hue angles, rounded outwards (0.36206..1.57247);
# T_MAX < 3 makes S_H <= S_C always.
_T_MIN, _T_MAX = 0.362, 1.573
_BOUND_SLACK = 1e-9


def _g_factor(c_mean: np.ndarray) -> np.ndarray:
    c7 = c_mean**7
    return 0.5 * (1.0 - np.sqrt(c7 / (c7 + _P25_7)))


def _s_l(l50_sq: np.ndarray) -> np.ndarray:
    return 1.0 + 0.015 * l50_sq / np.sqrt(20.0 + l50_sq)


def _wrap_deg(d: np.ndarray) -> np.ndarray:
    """Angles to (-180, 180]."""
    return 180.0 - np.mod(180.0 - d, 360.0)


def _hue_span(a_lo: np.ndarray, a_hi: np.ndarray, b_lo: np.ndarray, b_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hue angles (degrees) of all points of an (a, b) rectangle: ``(centre, half_width)``.

    ``half_width`` is 180 (any hue) when the rectangle reaches the neutral axis.
    """
    centre = np.degrees(np.arctan2((b_lo + b_hi) * 0.5, (a_lo + a_hi) * 0.5))
    half = np.zeros(np.broadcast(a_lo, b_lo, centre).shape)
    for a in (a_lo, a_hi):
        for b in (b_lo, b_hi):
            half = np.maximum(half, np.abs(_wrap_deg(np.degrees(np.arctan2(b, a)) - centre)))
    touches = (a_lo <= 0.0) & (a_hi >= 0.0) & (b_lo <= 0.0) & (b_hi >= 0.0)
    return centre, np.where(touches, 180.0, half)


def _sin_rt_bound(h1: tuple[np.ndarray, np.ndarray], h2: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Upper bound of |sin(2 delta_theta)| in R_T from the hue spans of the two colours.

    CIEDE2000's mean hue is the midpoint of the shorter arc between the hues; delta_theta peaks at
    mean hue 275 degrees. A span pair that can reach opposite hues gives the general bound (60 degrees).
    """
    (c1, r1), (c2, r2) = h1, h2
    dc = _wrap_deg(c2 - c1)
    reach = r1 + r2
    mid = c1 + dc * 0.5
    dist = np.maximum(np.abs(_wrap_deg(mid - 275.0)) - reach * 0.5, 0.0)
    d_theta = np.where(np.abs(dc) + reach >= 179.0, 30.0, 30.0 * np.exp(-((dist / 25.0) ** 2)))
    return np.sin(np.radians(2.0 * d_theta)) + 1e-12


def ciede2000_box_bounds(lo: np.ndarray, hi: np.ndarray, palette_lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of CIEDE2000 between any colour in a Lab box and each palette colour.

    ``lo``/``hi`` are ``[K, 3]`` box corners; returns ``(lower[K, N], upper[K, N])`` with
    ``lower <= ciede2000(p, palette[n]) <= upper`` for every ``p`` in box ``k``. The bounds follow
    from the formula's structure: ``dC'^2 + dH'^2`` is the squared distance in the (a', b') plane,
    ``1 <= S_H <= S_C``, ``|R_T * tC * tH| <= |R_T| (tC^2 + tH^2) / 2``, and each weight is monotonic
    in the chroma / lightness it depends on, whose ranges over the box are easy to bound.
    """
    lo = np.asarray(lo, dtype=np.float64)[:, None, :]
    hi = np.asarray(hi, dtype=np.float64)[:, None, :]
    pal = np.asarray(palette_lab, dtype=np.float64)[None, :, :]
    zero = 0.0
    # per-channel distance range between the box and each colour
    gap = np.maximum(np.maximum(lo - pal, pal - hi), zero)
    far = np.maximum(np.abs(lo - pal), np.abs(hi - pal))
    # lightness weight S_L: monotonic in |L_mean - 50|
    lm_lo, lm_hi = (lo[..., 0] + pal[..., 0]) * 0.5, (hi[..., 0] + pal[..., 0]) * 0.5
    d50_max = np.maximum(np.abs(lm_lo - 50.0), np.abs(lm_hi - 50.0))
    d50_min = np.where((lm_lo <= 50.0) & (lm_hi >= 50.0), zero, np.minimum(np.abs(lm_lo - 50.0), np.abs(lm_hi - 50.0)))
    sl_max, sl_min = _s_l(d50_max**2), _s_l(d50_min**2)
    # chroma of the box colour, then G (decreasing in the mean chroma) and C' = |(a', b')|
    a_near = np.maximum(np.maximum(lo[..., 1], -hi[..., 1]), zero)
    b_near = np.maximum(np.maximum(lo[..., 2], -hi[..., 2]), zero)
    a_far = np.maximum(np.abs(lo[..., 1]), np.abs(hi[..., 1]))
    b_far = np.maximum(np.abs(lo[..., 2]), np.abs(hi[..., 2]))
    c_pal = np.hypot(pal[..., 1], pal[..., 2])
    g_lo = _g_factor((np.hypot(a_far, b_far) + c_pal) * 0.5)
    g_hi = _g_factor((np.hypot(a_near, b_near) + c_pal) * 0.5)
    cp1_lo, cp1_hi = np.hypot((1.0 + g_lo) * a_near, b_near), np.hypot((1.0 + g_hi) * a_far, b_far)
    cp2_lo = np.hypot((1.0 + g_lo) * pal[..., 1], pal[..., 2])
    cp2_hi = np.hypot((1.0 + g_hi) * pal[..., 1], pal[..., 2])
    cm_lo, cm_hi = (cp1_lo + cp2_lo) * 0.5, (cp1_hi + cp2_hi) * 0.5
    sc_min, sc_max = 1.0 + 0.045 * cm_lo, 1.0 + 0.045 * cm_hi
    sh_min, sh_max = 1.0 + 0.015 * cm_lo * _T_MIN, 1.0 + 0.015 * cm_hi * _T_MAX
    # |dC'| range, and the squared (a', b') distance range D2 = dC'^2 + dH'^2
    dc_hi = np.maximum(cp1_hi - cp2_lo, cp2_hi - cp1_lo)
    dc_lo = np.maximum(np.maximum(cp1_lo - cp2_hi, cp2_lo - cp1_hi), zero)
    d2_lo = (1.0 + g_lo) ** 2 * gap[..., 1] ** 2 + gap[..., 2] ** 2
    d2_hi = (1.0 + g_hi) ** 2 * far[..., 1] ** 2 + far[..., 2] ** 2
    # tC^2 + tH^2 = dC'^2 / S_C^2 + dH'^2 / S_H^2 with S_H <= S_C: smallest with as much of D2 in dC'
    u_lo, u_hi = dc_lo**2, np.minimum(dc_hi**2, d2_lo)
    chroma_lo = u_hi / sc_max**2 + (d2_lo - u_hi) / sh_max**2
    chroma_hi = u_lo / sc_min**2 + np.maximum(d2_hi - u_lo, zero) / sh_min**2
    cm7 = cm_hi**7
    rc_max = 2.0 * np.sqrt(cm7 / (cm7 + _P25_7))
    # hue spans in the (a', b') plane, a' = (1 + G) a with G anywhere in [0, 0.5] (per box / colour only)
    h_box = _hue_span(np.minimum(lo[..., 1], 1.5 * lo[..., 1]), np.maximum(hi[..., 1], 1.5 * hi[..., 1]),
                      lo[..., 2], hi[..., 2])
    h_pal = _hue_span(np.minimum(pal[..., 1], 1.5 * pal[..., 1]), np.maximum(pal[..., 1], 1.5 * pal[..., 1]),
                      pal[..., 2], pal[..., 2])
    # an exactly neutral palette colour switches CIEDE2000 to the sum of hues: no hue information
    sin_rt = np.where(c_pal == 0.0, 1.0, _sin_rt_bound(h_box, h_pal))
    rt_max = rc_max * np.minimum(sin_rt, math.sin(math.radians(60.0)))
    lower = np.sqrt((gap[..., 0] / sl_max) ** 2 + (1.0 - 0.5 * rt_max) * chroma_lo)
    upper = np.sqrt((far[..., 0] / sl_min) ** 2 + (1.0 + 0.5 * rt_max) * chroma_hi)
    return lower, upper


def _unique_rows(keys: np.ndarray) -> np.ndarray:
    """Distinct rows of small integer triples ``[N, 3]`` (|value| < 2^15).

    Packs each row into one int64 first: ``np.unique(axis=0)`` is ~50x slower and holds the GIL.
    """
    off = 1 << 15
    k = np.asarray(keys, dtype=np.int64) + off
    packed = np.unique((k[:, 0] << 32) | (k[:, 1] << 16) | k[:, 2])
    return np.stack([(packed >> 32) - off, ((packed >> 16) & 0xFFFF) - off, (packed & 0xFFFF) - off], axis=1)


class _GridNearest:
    """CIEDE2000-nearest palette index of Lab colours rounded to a grid of ``grid`` Lab units.

    Grid points are grouped in blocks of ``block`` points per axis. For each block
    ``ciede2000_box_bounds`` proves which palette colours can be nearest anywhere in it (vectorised,
    once per block); a grid point is then settled by exact CIEDE2000 over those candidates in
    lower-bound order, stopping once the next lower bound exceeds the best difference found, so the
    answer is the exact nearest colour. Ties go to the lowest palette index, as with ``argmin``.
    """

    def __init__(self, palette_lab: np.ndarray, grid: float = GRID, block: int = 4) -> None:
        self.palette_lab = np.asarray(palette_lab, dtype=np.float64)
        self.grid = float(grid)
        self.inv = 1.0 / self.grid
        self.block = int(block)
        self._pal_list: list[list[float]] = self.palette_lab.tolist()
        self.table: dict[tuple[int, int, int], int] = {}
        self.blocks: dict[tuple[int, int, int], list[tuple[float, int, float, float, float]]] = {}
        self.evaluations = 0

    def add_blocks(self, block_keys: np.ndarray, chunk: int = 128) -> None:
        """Candidate lists (lower bound, index, L, a, b) for the blocks ``block_keys[K, 3]``."""
        block_keys = np.asarray(block_keys, dtype=np.int64).reshape(-1, 3)
        pal, span = self.palette_lab, (self.block - 1) * self.grid
        for start in range(0, len(block_keys), chunk):
            bk = block_keys[start:start + chunk]
            lo = bk * self.block * self.grid
            lower, upper = ciede2000_box_bounds(lo - _BOUND_SLACK, lo + span + _BOUND_SLACK, pal)
            keep = lower <= upper.min(axis=1, keepdims=True) * (1.0 + _BOUND_SLACK) + _BOUND_SLACK
            lower = lower * (1.0 - _BOUND_SLACK) - _BOUND_SLACK
            order = np.argsort(np.where(keep, lower, np.inf), axis=1, kind="stable")
            counts = keep.sum(axis=1).tolist()
            lows = np.take_along_axis(lower, order, axis=1).tolist()
            for key, n, idx, lb in zip(map(tuple, bk.tolist()), counts, order.tolist(), lows):
                self.blocks[key] = [(lb[j], idx[j], *self._pal_list[idx[j]]) for j in range(n)]

    def prefill(self, lab: np.ndarray) -> None:
        """Candidate lists for every block that the colours ``lab[..., 3]`` fall into, in one batch."""
        keys = np.round(np.asarray(lab, dtype=np.float64).reshape(-1, 3) * self.inv).astype(np.int64)
        todo = [k for k in _unique_rows(keys // self.block).tolist() if tuple(k) not in self.blocks]
        if todo:
            self.add_blocks(np.array(todo))

    def resolve(self, key: tuple[int, int, int]) -> int:
        """Palette index for grid point ``key`` (exact CIEDE2000 nearest of ``key * grid``)."""
        hit = self.table.get(key)
        if hit is not None:
            return hit
        b = self.block
        bkey = (key[0] // b, key[1] // b, key[2] // b)
        cands = self.blocks.get(bkey)
        if cands is None:
            self.add_blocks(np.array([bkey]))
            cands = self.blocks[bkey]
        L, a, bb = key[0] * self.grid, key[1] * self.grid, key[2] * self.grid
        best, best_i, n = math.inf, 0, 0
        if len(cands) == 1:
            best_i = cands[0][1]
        else:
            for lb, i, pL, pa, pb in cands:
                if lb > best:
                    break
                d = _ciede2000_scalar(L, a, bb, pL, pa, pb)
                n += 1
                if d < best or (d == best and i < best_i):
                    best, best_i = d, i
        self.evaluations += n
        self.table[key] = best_i
        return best_i


_TABLES: OrderedDict[tuple[bytes, float], _GridNearest] = OrderedDict()
_TABLES_KEPT = 4  # palettes whose settled grid points are kept between calls
_TABLE_MAX_POINTS = 400_000  # a table past this size starts again (about 40 MB)
_TABLES_LOCK = threading.Lock()


def _grid_nearest(palette_lab: np.ndarray, grid: float) -> _GridNearest:
    """The shared grid table of this palette (settled points are reused by later calls, e.g. previews)."""
    key = (np.ascontiguousarray(palette_lab, dtype=np.float64).tobytes(), float(grid))
    with _TABLES_LOCK:
        table = _TABLES.get(key)
        if table is None or len(table.table) > _TABLE_MAX_POINTS:
            table = _GridNearest(palette_lab, grid)
        _TABLES[key] = table
        _TABLES.move_to_end(key)
        while len(_TABLES) > _TABLES_KEPT:
            _TABLES.popitem(last=False)
    return table


def error_diffusion(target_lab: np.ndarray, palette_lab: np.ndarray, kernel=FLOYD_STEINBERG,
                    strength: float = 1.0, empty: np.ndarray | None = None, grid: float = GRID,
                    clamp: bool = True) -> np.ndarray:
    """Serpentine error diffusion in Lab; returns an H x W index map.

    ``kernel`` is a tuple of (dy, dx, weight); ``strength`` scales the error passed on;
    cells marked in ``empty`` are skipped and neither receive nor pass on error. Each cell gets the
    exact CIEDE2000-nearest palette colour of its error-adjusted value rounded to the ``grid`` (Lab
    units; ties: lowest index); the error passed on is measured from the unrounded value, so the
    rounding only moves a choice between near-equal colours and the diffusion corrects for it.
    """
    if not grid > 0.0:
        raise ValueError(f"the colour lookup grid must be a positive number of Lab units, got {grid}")
    target = np.asarray(target_lab, dtype=np.float64)
    h, w = target.shape[:2]
    strength = float(np.clip(strength, 0.0, 1.0))
    pal = np.asarray(palette_lab, dtype=np.float64)
    # With ``clamp``, values are kept inside the palette's Lab bounding box: stops runaway "error bleeding"
    # where the palette cannot reach a colour at all (e.g. no saturated violet among LEGO colours). Unclamped
    # (plain Lab error diffusion) matches the blurred picture better where the palette surrounds the colours.
    if clamp:
        (lo_L, lo_a, lo_b), (hi_L, hi_a, hi_b) = pal.min(axis=0).tolist(), pal.max(axis=0).tolist()
    else:
        lo_L = lo_a = lo_b = -math.inf
        hi_L = hi_a = hi_b = math.inf
    nearest = _grid_nearest(pal, grid)
    blocks_before = len(nearest.blocks)
    nearest.prefill(np.clip(target, pal.min(axis=0), pal.max(axis=0)))
    table, resolve, inv = nearest.table, nearest.resolve, nearest.inv
    pal_list = pal.tolist()
    skip = np.zeros((h, w), dtype=bool) if empty is None else np.asarray(empty, dtype=bool)
    skip_rows = skip.tolist()
    tgt = target.tolist()
    pad = 2
    # error buffers with a margin so neighbours off the edge need no bounds checks
    eL = [[0.0] * (w + 2 * pad) for _ in range(h + pad)]
    ea = [[0.0] * (w + 2 * pad) for _ in range(h + pad)]
    eb = [[0.0] * (w + 2 * pad) for _ in range(h + pad)]
    out_rows = [[0] * w for _ in range(h)]
    for y in range(h):
        forward = y % 2 == 0
        xs = range(w) if forward else range(w - 1, -1, -1)
        taps = [(dy, dx if forward else -dx, wt * strength) for dy, dx, wt in kernel]
        trow, srow, orow = tgt[y], skip_rows[y], out_rows[y]
        eLy, eay, eby = eL[y], ea[y], eb[y]
        for x in xs:
            if srow[x]:
                continue
            xp = x + pad
            tL, ta, tb = trow[x]
            L = tL + eLy[xp]
            a = ta + eay[xp]
            b = tb + eby[xp]
            L = lo_L if L < lo_L else (hi_L if L > hi_L else L)
            a = lo_a if a < lo_a else (hi_a if a > hi_a else a)
            b = lo_b if b < lo_b else (hi_b if b > hi_b else b)
            key = (round(L * inv), round(a * inv), round(b * inv))
            i = table.get(key)
            if i is None:
                i = resolve(key)
            orow[x] = i
            pL, pa, pb = pal_list[i]
            dL, da, db = L - pL, a - pa, b - pb
            for dy, dx, wt in taps:
                yy, xx = y + dy, xp + dx
                if yy >= h or not 0 <= xx - pad < w or skip_rows[yy][xx - pad]:
                    continue
                eL[yy][xx] += dL * wt
                ea[yy][xx] += da * wt
                eb[yy][xx] += db * wt
        time.sleep(0)  # a row is a few ms of pure Python: let other threads (the GUI) take the GIL
    log.debug("error diffusion %dx%d: %d new candidate blocks, %d grid points known", w, h,
              len(nearest.blocks) - blocks_before, len(nearest.table))
    return np.array(out_rows, dtype=np.int64).reshape(h, w)


def bayer_matrix(order: int = 3) -> np.ndarray:
    """The 2^order x 2^order Bayer threshold matrix, values in (0, 1)."""
    m = np.zeros((1, 1), dtype=np.int64)
    for _ in range(order):
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return (m + 0.5) / m.size


def ordered_dither(target_lab: np.ndarray, palette_lab: np.ndarray, strength: float = 1.0,
                   order: int = 3, candidates: int = 8) -> np.ndarray:
    """Ordered (Bayer) dithering between two palette colours per cell; returns an H x W index map.

    For each cell the nearest colour is paired with the candidate whose mix best explains the target
    (Lab-linear mix, with a small penalty on far-apart pairs so patterns stay subtle); the Bayer
    threshold then picks the second colour in the mixed fraction of cells.
    """
    target = np.asarray(target_lab, dtype=np.float64)
    h, w = target.shape[:2]
    pal = np.asarray(palette_lab, dtype=np.float64)
    flat = target.reshape(-1, 3)
    cand, _ = nearest_candidates(flat, pal, candidates)
    c1 = pal[cand[:, 0]]
    best_err = np.linalg.norm(flat - c1, axis=1)
    best_j = np.zeros(len(flat), dtype=np.int64)
    best_r = np.zeros(len(flat))
    for j in range(1, cand.shape[1]):
        v = pal[cand[:, j]] - c1
        vv = np.maximum((v * v).sum(1), 1e-9)
        r = np.clip(((flat - c1) * v).sum(1) / vv, 0.0, 1.0)
        err = np.linalg.norm(c1 + r[:, None] * v - flat, axis=1) + 0.1 * np.sqrt(vv) * r
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best_j = np.where(better, j, best_j)
        best_r = np.where(better, r, best_r)
    thr = bayer_matrix(order)
    tile = np.tile(thr, (h // thr.shape[0] + 1, w // thr.shape[1] + 1))[:h, :w].reshape(-1)
    use_second = tile < best_r * float(np.clip(strength, 0.0, 1.0))
    rows = np.arange(len(flat))
    idx = np.where(use_second, cand[rows, best_j], cand[:, 0])
    return idx.reshape(h, w)


def dither(target_lab: np.ndarray, palette_lab: np.ndarray, method: str = "floyd-steinberg",
           strength: float = 1.0, empty: np.ndarray | None = None) -> np.ndarray:
    """Map an H x W x 3 Lab image to palette indices with the named dithering method."""
    if method not in DITHER_METHODS:
        raise ValueError(f"unknown dithering {method!r}; use one of {', '.join(DITHER_METHODS)}")
    target = np.asarray(target_lab, dtype=np.float64)
    if method == "none" or strength <= 0.0:
        idx, _ = nearest_candidates(target.reshape(-1, 3), palette_lab, 1)
        return idx[:, 0].reshape(target.shape[:2])
    if method == "bayer":
        return ordered_dither(target, palette_lab, strength)
    kernel = FLOYD_STEINBERG if method == "floyd-steinberg" else ATKINSON
    return error_diffusion(target, palette_lab, kernel, strength, empty)
