"""Matching colours to a palette by CIEDE2000, and choosing the best k colours of a palette for a picture.

``nearest_candidates`` finds each colour's closest palette entries (CIEDE2000 on a short list that plain
Lab distance pre-selects). ``select_colors`` solves "at most k colours" as a k-medians problem on a
weighted histogram of the picture's colours: a greedy build followed by PAM-style swaps, minimising the
total perceptual error rather than keeping the k most frequent nearest matches.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.spatial import cKDTree

from engine.core import limits
from engine.core.color import ciede2000

log = logging.getLogger(__name__)

# How many palette colours the Lab-distance pre-selection keeps before CIEDE2000 decides.
PRESELECT = 12


def prefilter_space(lab: np.ndarray) -> np.ndarray:
    """Lab warped so plain distances follow CIEDE2000 roughly (for pre-selecting candidates only).

    Mirrors CIEDE2000's stretch of a* for greyish colours and its compression of high chroma
    (chroma C becomes ln(1 + 0.045 C) / 0.045, the integral of 1 / S_C).
    """
    lab = np.asarray(lab, dtype=np.float64)
    c = np.hypot(lab[..., 1], lab[..., 2])
    c7 = c**7
    a = lab[..., 1] * (1.5 - 0.5 * np.sqrt(c7 / (c7 + 25.0**7)))
    b = lab[..., 2]
    cp = np.hypot(a, b)
    scale = np.where(cp > 1e-9, np.log1p(0.045 * cp) / 0.045 / np.maximum(cp, 1e-9), 1.0)
    return np.stack([lab[..., 0], a * scale, b * scale], axis=-1)


def nearest_candidates(lab: np.ndarray, palette_lab: np.ndarray, k: int = 1,
                       preselect: int = PRESELECT, chunk: int = 32768) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` CIEDE2000-nearest palette entries of every Lab colour ``lab[N, 3]``.

    Returns ``(indices[N, k], delta_e[N, k])`` sorted nearest first. Plain Lab distance pre-selects
    ``max(k, preselect)`` candidates per colour; CIEDE2000 then ranks them (on real pictures this agrees
    with a full CIEDE2000 search for all but a fraction of a percent of colours, and the few that
    differ are near-ties).
    """
    lab = np.asarray(lab, dtype=np.float64).reshape(-1, 3)
    pal = np.asarray(palette_lab, dtype=np.float64)
    n = len(pal)
    k = max(1, min(int(k), n))
    m = min(n, max(k, int(preselect)))
    out_i = np.empty((len(lab), k), dtype=np.int64)
    out_d = np.empty((len(lab), k), dtype=np.float64)
    tree = cKDTree(prefilter_space(pal)) if m < n else None
    for start in range(0, len(lab), chunk):
        block = lab[start:start + chunk]
        if tree is not None:
            cand = tree.query(prefilter_space(block), k=m)[1].reshape(len(block), m)
        else:
            cand = np.broadcast_to(np.arange(n), (len(block), n))
        de = ciede2000(block[:, None, :], pal[cand])
        order = np.argsort(de, axis=1, kind="stable")[:, :k]
        out_i[start:start + chunk] = np.take_along_axis(cand, order, axis=1)
        out_d[start:start + chunk] = np.take_along_axis(de, order, axis=1)
    return out_i, out_d


def nearest_index(lab: np.ndarray, palette_lab: np.ndarray) -> np.ndarray:
    """Index of the CIEDE2000-nearest palette colour for every Lab colour in ``lab[..., 3]``."""
    lab = np.asarray(lab, dtype=np.float64)
    idx, _ = nearest_candidates(lab.reshape(-1, 3), palette_lab, 1)
    return idx[:, 0].reshape(lab.shape[:-1])


def color_histogram(lab: np.ndarray, weights: np.ndarray | None = None,
                    step: float = 1.0, max_colors: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """A weighted histogram of Lab colours: ``(colours[u, 3], weights[u])``.

    Colours closer than ``step`` Lab units share a bin (its weighted mean colour); the step doubles
    until at most ``max_colors`` bins remain, which keeps the k-colour search fast on big pictures.
    """
    lab = np.asarray(lab, dtype=np.float64).reshape(-1, 3)
    w = np.ones(len(lab)) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    keep = w > 0
    lab, w = lab[keep], w[keep]
    if len(lab) == 0:
        raise ValueError("no colours to build a histogram from (the picture is fully transparent?)")
    while True:
        keys = np.floor(lab / step).astype(np.int64)
        _, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        u = int(inverse.max()) + 1
        if u <= max_colors:
            break
        step *= 2.0
    tot = np.bincount(inverse, weights=w, minlength=u)
    mean = np.stack([np.bincount(inverse, weights=w * lab[:, c], minlength=u) for c in range(3)], axis=1)
    return mean / tot[:, None], tot


def _selection_cost(dist: np.ndarray, weights: np.ndarray, chosen: list[int]) -> float:
    return float((weights * dist[:, chosen].min(axis=1)).sum())


def _bounded_candidates(colors: np.ndarray, w: np.ndarray, pal: np.ndarray, k: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """None when the u x n distance matrix fits limits.MAX_SELECT_MATRIX; else (candidate palette indices,
    histogram colours, weights) with a coarser histogram and only each colour's nearest palette entries."""
    budget = limits.MAX_SELECT_MATRIX.value
    if len(colors) * len(pal) <= budget:
        return None
    u_max = max(16, int(np.sqrt(budget / 4)))
    if len(colors) > u_max:
        colors, w = color_histogram(colors, w, max_colors=u_max)
    per = max(1, min(PRESELECT, budget // (len(colors) * len(colors))))
    cand = np.unique(nearest_candidates(colors, pal, per)[0])
    if len(cand) < k:  # add palette colours in order until k are available
        extra = np.setdiff1d(np.arange(len(pal)), cand)[: k - len(cand)]
        cand = np.union1d(cand, extra)
    limits.check_select(len(colors), len(cand))
    log.info("colour choice limited to %d of %d palette colours (budget %d)", len(cand), len(pal), budget)
    return cand, colors, w


def select_colors(lab: np.ndarray, palette_lab: np.ndarray, k: int, weights: np.ndarray | None = None,
                  max_swap_passes: int = 30) -> list[int]:
    """The ``k`` palette indices that minimise the total CIEDE2000 error of mapping ``lab`` to them.

    ``lab`` is a list of colours (e.g. a picture's cells or a histogram from ``color_histogram``),
    ``weights`` how much each one counts. Greedy build (add the colour that lowers the error most),
    then swap improvement (replace a chosen colour by an unchosen one while that lowers the error).
    Returns indices in palette order.
    """
    pal = np.asarray(palette_lab, dtype=np.float64)
    n = len(pal)
    if k < 1:
        raise ValueError(f"the number of colours must be at least 1, got {k}")
    if k >= n:
        return list(range(n))
    colors, w = color_histogram(lab, weights)
    cand = _bounded_candidates(colors, w, pal, k)
    if cand is not None:  # a huge palette: choose among the colours near the picture's (bounded matrix)
        colors, w = cand[1], cand[2]
        sub = select_colors(colors, pal[cand[0]], k, w, max_swap_passes)
        return sorted(int(cand[0][i]) for i in sub)
    dist = np.empty((len(colors), n))  # u x n, filled in row blocks to bound ciede2000's temporaries
    rows = max(1, 1_000_000 // n)
    for start in range(0, len(colors), rows):
        dist[start:start + rows] = ciede2000(colors[start:start + rows, None, :], pal[None, :, :])
    return select_from_distances(dist, w, k, max_swap_passes)


def select_from_distances(dist: np.ndarray, w: np.ndarray, k: int, max_swap_passes: int = 30) -> list[int]:
    """``select_colors`` on precomputed CIEDE2000 distances ``dist[u, n]`` of ``u`` weighted colours."""
    colors = dist
    chosen: list[int] = []
    best = np.full(len(colors), np.inf)
    for _ in range(k):
        gain = (w[:, None] * np.minimum(best[:, None], dist)).sum(axis=0)
        gain[chosen] = np.inf
        c = int(np.argmin(gain))
        chosen.append(c)
        best = np.minimum(best, dist[:, c])
    cost = _selection_cost(dist, w, chosen)
    log.debug("greedy %d-colour cost %.1f", k, cost)
    for _ in range(max_swap_passes):
        improved = False
        for pos in range(k):
            others = chosen[:pos] + chosen[pos + 1:]
            rest = dist[:, others].min(axis=1) if others else np.full(len(colors), np.inf)
            trial = (w[:, None] * np.minimum(rest[:, None], dist)).sum(axis=0)
            trial[others] = np.inf
            c = int(np.argmin(trial))
            if trial[c] < cost - 1e-9 * max(1.0, cost):
                chosen[pos] = c
                cost = float(trial[c])
                improved = True
        if not improved:
            break
    log.debug("after swaps %d-colour cost %.1f", k, cost)
    return sorted(chosen)


def most_frequent_nearest(lab: np.ndarray, palette_lab: np.ndarray, k: int,
                          weights: np.ndarray | None = None) -> list[int]:
    """Baseline: the ``k`` palette colours that are most often the nearest match (palette order)."""
    idx = nearest_index(np.asarray(lab).reshape(-1, 3), palette_lab)
    w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    counts = np.bincount(idx, weights=w, minlength=len(palette_lab))
    order = np.argsort(-counts, kind="stable")[:k]
    return sorted(int(i) for i in order)


def mapping_error(lab: np.ndarray, palette_lab: np.ndarray, chosen: list[int],
                  weights: np.ndarray | None = None) -> float:
    """Mean CIEDE2000 error of mapping each colour to its nearest colour among ``chosen``."""
    lab = np.asarray(lab, dtype=np.float64).reshape(-1, 3)
    _, de = nearest_candidates(lab, np.asarray(palette_lab)[chosen], 1)
    w = np.ones(len(lab)) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    return float((de[:, 0] * w).sum() / w.sum())
