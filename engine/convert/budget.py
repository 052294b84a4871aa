"""The colour budget: how many colours a pattern needs, and no colour used only a handful of times.

``choose_colors`` builds the error-vs-number-of-colours curve (greedy CIEDE2000 selection over a colour
histogram of the target cells), takes the knee of that curve below a cap and returns the best subset of that
size. ``fold_rare`` then moves the cells of colours used fewer than ``min_count`` times to their best
alternative among the remaining colours (the cell's own squared CIEDE2000 plus a penalty per 4-neighbour of
another colour: the data and Potts terms of the cleanup energy), optionally without exceeding per-colour
capacities (a stash).
"""

from __future__ import annotations

import logging

import numpy as np

from engine.core.color import ciede2000
from engine.core.palette_select import color_histogram, select_from_distances

log = logging.getLogger(__name__)

DEFAULT_MAX_COLORS = 32  # cap of the automatic colour count
KNEE_TOLERANCE = 0.1  # the chosen count may cost at most this much mean CIEDE2000 more than the cap's (0.25 lost eyes)
HIST_BINS = 2048  # colour histogram size for the curve (the curve only needs to be approximate)
NEIGHBOUR_PENALTY = 25.0  # squared-dE units per 4-neighbour of another colour when folding a cell


def default_min_count(cells: int) -> int:
    """The default minimum number of cells per colour for a pattern of ``cells`` filled cells (3 to 10)."""
    return int(np.clip(round(cells / 300), 3, 10))


def _histogram_distances(lab: np.ndarray, palette_lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    colors, w = color_histogram(lab, max_colors=HIST_BINS)
    return ciede2000(colors[:, None, :], np.asarray(palette_lab, dtype=np.float64)[None, :, :]), w


def error_curve(lab: np.ndarray, palette_lab: np.ndarray, cap: int,
                dist: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Mean CIEDE2000 of mapping ``lab`` to the best greedy 1..cap colours (index k-1 holds k colours)."""
    d, w = dist if dist is not None else _histogram_distances(lab, palette_lab)
    best = np.full(len(d), np.inf)
    curve = []
    for _ in range(min(cap, d.shape[1])):
        total = (w[:, None] * np.minimum(best[:, None], d)).sum(axis=0)
        c = int(np.argmin(total))
        best = np.minimum(best, d[:, c])
        curve.append(float(total[c] / w.sum()))
    return np.asarray(curve)


def knee(curve: np.ndarray, tolerance: float = KNEE_TOLERANCE) -> int:
    """Number of colours at the knee of a decreasing error curve, within ``tolerance`` of its last value.

    The knee is the point farthest below the chord from the first to the last point (both axes scaled to
    [0, 1]); if that count is still more than ``tolerance`` worse than the full curve, colours are added
    until it is not.
    """
    n = len(curve)
    if n <= 2:
        return n
    x = np.linspace(0.0, 1.0, n)
    span = curve[0] - curve[-1]
    if span <= 1e-9:
        return 1
    y = (curve - curve[-1]) / span
    k = int(np.argmax((1.0 - x) - y)) + 1
    while k < n and curve[k - 1] - curve[-1] > tolerance:
        k += 1
    return k


def choose_colors(lab: np.ndarray, palette_lab: np.ndarray, cap: int = DEFAULT_MAX_COLORS) -> tuple[list[int], int]:
    """The best subset of palette colours for these target colours, its size taken at the error curve's knee.

    Returns ``(indices in palette order, chosen count)``.
    """
    cap = max(1, min(int(cap), len(palette_lab)))
    dist = _histogram_distances(lab, palette_lab)
    curve = error_curve(lab, palette_lab, cap, dist)
    k = knee(curve)
    log.info("colour budget: %d of at most %d colours (mean dE %.2f, %.2f at the cap)", k, cap, curve[k - 1],
             curve[-1])
    if k >= len(palette_lab):
        return list(range(len(palette_lab))), k
    return select_from_distances(dist[0], dist[1], k, max_swap_passes=4), k


def fold_rare(labels: np.ndarray, target_lab: np.ndarray, palette_lab: np.ndarray, min_count: int,
              empty: np.ndarray | None = None, capacity: np.ndarray | None = None,
              ) -> tuple[np.ndarray, dict[int, dict[int, int]]]:
    """Give the cells of every colour used fewer than ``min_count`` times another colour.

    The rarest colour is removed first; each of its cells takes the colour (among those still in use and,
    with ``capacity``, with stock left) that minimises squared CIEDE2000 to the cell's target plus
    ``NEIGHBOUR_PENALTY`` per 4-neighbour of another colour. Returns ``(labels, {removed: {into: cells}})``.
    """
    labels = np.array(labels, dtype=np.int64, copy=True)
    h, w = labels.shape
    filled = np.ones((h, w), dtype=bool) if empty is None else ~np.asarray(empty, dtype=bool)
    pal = np.asarray(palette_lab, dtype=np.float64)
    n = len(pal)
    merged: dict[int, dict[int, int]] = {}
    while True:
        counts = np.bincount(labels[filled], minlength=n)
        used = np.flatnonzero(counts)
        rare = [int(i) for i in used if counts[i] < min_count]
        if not rare or len(used) <= 1:
            break
        victim = min(rare, key=lambda i: (counts[i], i))
        others = [int(i) for i in used if i != victim]
        if capacity is not None:
            others = [i for i in others if capacity[i] > counts[i]]
            if not others:
                log.warning("colour %d is used %d times but no other colour has stock left", victim, counts[victim])
                break
        ys, xs = np.nonzero((labels == victim) & filled)
        # one cell at a time in order of how well the best alternative fits, so neighbours see earlier moves
        cand = np.asarray(others)
        data = ciede2000(target_lab[ys, xs][:, None, :], pal[cand][None, :, :]) ** 2
        order = np.argsort(data.min(axis=1), kind="stable")
        left = None if capacity is None else (capacity[cand] - counts[cand]).astype(np.int64)
        into: dict[int, int] = {}
        for j in order:
            y, x = int(ys[j]), int(xs[j])
            cost = data[j].copy()
            for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                yy, xx = y + dy, x + dx
                if 0 <= yy < h and 0 <= xx < w and filled[yy, xx]:
                    cost += NEIGHBOUR_PENALTY * (cand != labels[yy, xx])
            if left is not None:
                cost[left <= 0] = np.inf
            k = int(np.argmin(cost))
            if not np.isfinite(cost[k]):
                continue  # no stock anywhere: the cell keeps its colour
            labels[y, x] = cand[k]
            into[int(cand[k])] = into.get(int(cand[k]), 0) + 1
            if left is not None:
                left[k] -= 1
        merged[victim] = into
        if (labels[filled] == victim).any():
            break  # could not move every cell (no stock): stop rather than loop
    return labels, merged


def enforce_capacity(labels: np.ndarray, target_lab: np.ndarray, palette_lab: np.ndarray, capacity: np.ndarray,
                     empty: np.ndarray | None = None) -> tuple[np.ndarray, dict[int, dict[int, int]]]:
    """Move cells off colours used beyond ``capacity`` (cells owned per colour) to the best colour with stock left.

    Per over-used colour, the cells that lose least by moving (squared CIEDE2000 to the best alternative with
    stock, minus their current cost, plus the neighbour penalty) move first. The caller checks beforehand that
    the total stock covers every filled cell.
    """
    labels = np.array(labels, dtype=np.int64, copy=True)
    h, w = labels.shape
    filled = np.ones((h, w), dtype=bool) if empty is None else ~np.asarray(empty, dtype=bool)
    pal = np.asarray(palette_lab, dtype=np.float64)
    capacity = np.asarray(capacity, dtype=np.int64)
    n = len(pal)
    moved: dict[int, dict[int, int]] = {}
    for _ in range(n):
        counts = np.bincount(labels[filled], minlength=n)
        over = np.flatnonzero(counts > capacity)
        if not len(over):
            break
        c = int(over[np.argmax(counts[over] - capacity[over])])
        excess = int(counts[c] - capacity[c])
        left = capacity - counts
        cand = np.flatnonzero(left > 0)
        if not len(cand):
            break
        ys, xs = np.nonzero((labels == c) & filled)
        tl = target_lab[ys, xs]
        cur = ciede2000(tl, pal[c]) ** 2
        alt = ciede2000(tl[:, None, :], pal[cand][None, :, :]) ** 2
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            yy, xx = np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)
            inside = ((ys + dy) >= 0) & ((ys + dy) < h) & ((xs + dx) >= 0) & ((xs + dx) < w) & filled[yy, xx]
            nb = labels[yy, xx]
            alt += NEIGHBOUR_PENALTY * (inside[:, None] & (cand[None, :] != nb[:, None]))
            cur = cur + NEIGHBOUR_PENALTY * (inside & (nb != c))
        into: dict[int, int] = {}
        stock = left[cand].copy()
        order = np.argsort(alt.min(axis=1) - cur, kind="stable")
        done = 0
        for j in order:
            if done >= excess:
                break
            cost = np.where(stock > 0, alt[j], np.inf)
            k = int(np.argmin(cost))
            if not np.isfinite(cost[k]):
                break
            labels[ys[j], xs[j]] = cand[k]
            stock[k] -= 1
            into[int(cand[k])] = into.get(int(cand[k]), 0) + 1
            done += 1
        moved.setdefault(c, {})
        for k2, v in into.items():
            moved[c][k2] = moved[c].get(k2, 0) + v
    return labels, moved
