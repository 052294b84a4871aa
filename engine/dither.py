"""Dithering onto a palette in CIELAB: Floyd-Steinberg, Atkinson (error diffusion) and ordered Bayer.

Every method takes a strength in [0, 1]: 0 is plain nearest-colour mapping, 1 the full effect.
Colour choices use CIEDE2000; errors are measured and spread in Lab.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from .palette_select import nearest_candidates, prefilter_space

log = logging.getLogger(__name__)

DITHER_METHODS = ("none", "floyd-steinberg", "atkinson", "bayer")

# (dy, dx, weight) for a left-to-right pass; dx is mirrored on right-to-left rows.
FLOYD_STEINBERG = ((0, 1, 7 / 16), (1, -1, 3 / 16), (1, 0, 5 / 16), (1, 1, 1 / 16))
# Atkinson spreads only 6/8 of the error, which keeps highlights and shadows clean.
ATKINSON = ((0, 1, 1 / 8), (0, 2, 1 / 8), (1, -1, 1 / 8), (1, 0, 1 / 8), (1, 1, 1 / 8), (2, 0, 1 / 8))



def _ciede2000_scalar(L1: float, a1: float, b1: float, L2: float, a2: float, b2: float) -> float:
    """CIEDE2000 for one pair of plain floats (the error-diffusion inner loop; numpy is slower here)."""
    C1 = math.hypot(a1, b1)
    C2 = math.hypot(a2, b2)
    C7 = ((C1 + C2) * 0.5) ** 7
    G = 0.5 * (1.0 - math.sqrt(C7 / (C7 + 6103515625.0)))  # 25^7
    a1p, a2p = (1.0 + G) * a1, (1.0 + G) * a2
    C1p, C2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1 = math.degrees(math.atan2(b1, a1p)) % 360.0
    h2 = math.degrees(math.atan2(b2, a2p)) % 360.0
    dL, dC = L2 - L1, C2p - C1p
    if C1p * C2p == 0.0:
        dh, hm = 0.0, h1 + h2
    else:
        dh = h2 - h1
        if dh > 180.0:
            dh -= 360.0
        elif dh < -180.0:
            dh += 360.0
        hm = (h1 + h2) * 0.5
        if abs(h1 - h2) > 180.0:
            hm += 180.0 if h1 + h2 < 360.0 else -180.0
    dH = 2.0 * math.sqrt(C1p * C2p) * math.sin(math.radians(dh) * 0.5)
    Lm, Cm = (L1 + L2) * 0.5, (C1p + C2p) * 0.5
    T = (1.0 - 0.17 * math.cos(math.radians(hm - 30.0)) + 0.24 * math.cos(math.radians(2.0 * hm))
         + 0.32 * math.cos(math.radians(3.0 * hm + 6.0)) - 0.20 * math.cos(math.radians(4.0 * hm - 63.0)))
    Cm7 = Cm**7
    RT = (-math.sin(math.radians(60.0 * math.exp(-(((hm - 275.0) / 25.0) ** 2))))
          * 2.0 * math.sqrt(Cm7 / (Cm7 + 6103515625.0)))
    L50 = (Lm - 50.0) ** 2
    tL = dL / (1.0 + 0.015 * L50 / math.sqrt(20.0 + L50))
    tC = dC / (1.0 + 0.045 * Cm)
    tH = dH / (1.0 + 0.015 * Cm * T)
    return math.sqrt(max(0.0, tL * tL + tC * tC + tH * tH + RT * tC * tH))


class _NearestCache:
    """CIEDE2000-nearest palette entry for Lab values, cached on a 1-unit Lab grid.

    A miss pre-selects a few palette colours by distance in ``prefilter_space`` and ranks them with a
    scalar CIEDE2000, which is far cheaper than a numpy call per pixel.
    """

    def __init__(self, palette_lab: np.ndarray, step: float = 1.0, shortlist: int = 5) -> None:
        self.palette_lab = np.asarray(palette_lab, dtype=np.float64)
        self.pal_list = self.palette_lab.tolist()
        self.pf = prefilter_space(self.palette_lab)
        self.m = min(shortlist, len(self.pal_list))
        self.inv = 1.0 / step
        self.step = step
        self.cache: dict[tuple[int, int, int], int] = {}

    def prefill(self, lab: np.ndarray) -> None:
        """Look up many values at once (vectorised) before a sequential pass."""
        keys = np.unique(np.round(np.asarray(lab).reshape(-1, 3) * self.inv).astype(np.int64), axis=0)
        idx, _ = nearest_candidates(keys * self.step, self.palette_lab, 1)
        self.cache.update(zip(map(tuple, keys.tolist()), idx[:, 0].tolist()))

    def __call__(self, L: float, a: float, b: float) -> int:
        key = (round(L * self.inv), round(a * self.inv), round(b * self.inv))
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        L, a, b = key[0] * self.step, key[1] * self.step, key[2] * self.step
        c = math.hypot(a, b)
        ap = a * (1.5 - 0.5 * math.sqrt(c**7 / (c**7 + 6103515625.0)))
        cp = math.hypot(ap, b)
        k = math.log1p(0.045 * cp) / 0.045 / cp if cp > 1e-9 else 1.0  # as prefilter_space
        d = ((self.pf - (L, ap * k, b * k)) ** 2).sum(axis=1)
        short = np.argpartition(d, self.m - 1)[:self.m].tolist() if self.m < len(d) else range(len(d))
        best, best_de = 0, math.inf
        for i in short:
            pL, pa, pb = self.pal_list[i]
            de = _ciede2000_scalar(L, a, b, pL, pa, pb)
            if de < best_de:
                best, best_de = i, de
        self.cache[key] = best
        return best


def error_diffusion(target_lab: np.ndarray, palette_lab: np.ndarray, kernel=FLOYD_STEINBERG,
                    strength: float = 1.0, empty: np.ndarray | None = None) -> np.ndarray:
    """Serpentine error diffusion in Lab; returns an H x W index map.

    ``kernel`` is a tuple of (dy, dx, weight); ``strength`` scales the error passed on;
    cells marked in ``empty`` are skipped and neither receive nor pass on error.
    """
    target = np.asarray(target_lab, dtype=np.float64)
    h, w = target.shape[:2]
    strength = float(np.clip(strength, 0.0, 1.0))
    pal = np.asarray(palette_lab, dtype=np.float64)
    nearest = _NearestCache(pal)
    nearest.prefill(target)
    pal_list = pal.tolist()
    # Values are kept inside the palette's Lab bounding box: stops runaway "error bleeding" where the
    # palette cannot reach a colour at all (e.g. no saturated violet among LEGO colours).
    (lo_L, lo_a, lo_b), (hi_L, hi_a, hi_b) = pal.min(axis=0).tolist(), pal.max(axis=0).tolist()
    skip = np.zeros((h, w), dtype=bool) if empty is None else np.asarray(empty, dtype=bool)
    skip_rows = skip.tolist()
    tgt = target.tolist()
    pad = 2
    # error buffers with a margin so neighbours off the edge need no bounds checks
    eL = [[0.0] * (w + 2 * pad) for _ in range(h + pad)]
    ea = [[0.0] * (w + 2 * pad) for _ in range(h + pad)]
    eb = [[0.0] * (w + 2 * pad) for _ in range(h + pad)]
    out = np.zeros((h, w), dtype=np.int64)
    out_rows = out.tolist()
    for y in range(h):
        forward = y % 2 == 0
        xs = range(w) if forward else range(w - 1, -1, -1)
        taps = [(dy, dx if forward else -dx, wt * strength) for dy, dx, wt in kernel]
        trow, srow, orow = tgt[y], skip_rows[y], out_rows[y]
        for x in xs:
            if srow[x]:
                continue
            xp = x + pad
            L = trow[x][0] + eL[y][xp]
            a = trow[x][1] + ea[y][xp]
            b = trow[x][2] + eb[y][xp]
            L = lo_L if L < lo_L else (hi_L if L > hi_L else L)
            a = lo_a if a < lo_a else (hi_a if a > hi_a else a)
            b = lo_b if b < lo_b else (hi_b if b > hi_b else b)
            i = nearest(L, a, b)
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
    return np.array(out_rows, dtype=np.int64)


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
