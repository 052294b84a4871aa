"""Confetti cleanup: a discrete energy minimisation that trades a little fidelity for fewer stray cells.

Energy of a labelling ``l`` (one palette colour per cell):

    E(l) = sum_q  r_q^T M_q r_q                       blurred error: what the eye sees from a distance
         + w_data * sum_p  dE2000(target_p, colour(l_p))^2          each cell stays near its own colour
         + w_potts * #{4-neighbour pairs with different colours}    fewer ragged edges (Potts)
         + w_iso * #{cells with no 4-neighbour of their own colour}     fewer isolated cells ("confetti")

``r = G * (X - T)`` is the residual after a Gaussian blur (sigma ~0.8 cell) in linear light, where X and
T are the result's and the target's linear-RGB cells; ``M_q`` is the local CIEDE2000 metric around the
blurred target colour (a 3 x 3 quadratic form measured from CIEDE2000 itself), so the first term is a
second-order model of the blurred CIEDE2000 error. Because the blur is linear, changing one cell changes
``r`` only in a (2*radius+1)^2 window and the change of energy for every candidate colour is a closed
form. Minimisation is by ICM-style label moves (each cell may take one of its k nearest palette colours
or a 4-neighbour's colour) swept over independent sets: cells on a stride-(radius+1) lattice share no
edge, no isolation test and only the far tails of their blur windows (ignored within a phase), so each
lattice phase is updated at once with one vectorised step. Currently isolated cells are visited first
in every sweep (so a stray cell is absorbed rather than joined by a neighbour), and only cells near a
change are revisited, so later sweeps cost little.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from engine.core.color import ciede2000, linear_to_lab, linear_to_srgb, srgb_to_lab, srgb_to_linear
from engine.core.palette_select import PRESELECT, nearest_candidates
from engine.core.progress import CancelToken

log = logging.getLogger(__name__)


@dataclass
class CleanupConfig:
    """Weights of the cleanup energy; ``strength`` in [0, 1] scales the Potts and isolated-cell penalties.

    The defaults were tuned on scikit-image photos (benchmarks/convert_quality.py) so that strength 0.5
    beats both nearest-colour and Floyd-Steinberg on blurred CIEDE2000 and on isolated cells.
    """

    strength: float = 0.5
    sigma: float = 0.8
    data_weight: float = 0.05
    potts_weight: float = 6.0  # at strength 1, in squared-dE units per differing neighbour pair
    isolated_weight: float = 60.0  # at strength 1, per isolated cell (no 4-neighbour of its colour)
    candidates: int = 6
    max_sweeps: int = 10
    settle_fraction: float = 0.002  # stop once a sweep moves no more than this share of the cells
    revisit: int = 3  # after a sweep, re-check cells within this many cells of a change


# --------------------------------------------------------------------------- blur and metrics


def gaussian_taps(sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian taps with radius ceil(2.5 sigma) (at least 1)."""
    radius = max(1, int(np.ceil(2.5 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def blur(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable blur of an H x W (x C) array over its first two axes, zeros outside."""
    out = ndimage.correlate1d(np.asarray(x, dtype=np.float64), taps, axis=0, mode="constant")
    return ndimage.correlate1d(out, taps, axis=1, mode="constant")


def blurred_linear(lin: np.ndarray, filled: np.ndarray | None, sigma: float) -> np.ndarray:
    """Gaussian blur of linear-RGB cells, normalised over filled cells (empty cells do not count)."""
    lin = np.asarray(lin, dtype=np.float64)
    mask = np.ones(lin.shape[:2]) if filled is None else np.asarray(filled, dtype=np.float64)
    taps = gaussian_taps(sigma)
    wsum = blur(mask, taps)
    return blur(lin * mask[..., None], taps) / np.maximum(wsum, 1e-12)[..., None]


def blurred_delta_e(result_lin: np.ndarray, target_lin: np.ndarray, empty: np.ndarray | None = None,
                    sigma: float = 0.8) -> float:
    """Mean CIEDE2000 between the blurred result and the blurred target (blur in linear light)."""
    filled = None if empty is None else ~np.asarray(empty, dtype=bool)
    a = linear_to_lab(blurred_linear(result_lin, filled, sigma))
    b = linear_to_lab(blurred_linear(target_lin, filled, sigma))
    de = ciede2000(a, b)
    return float(de.mean() if filled is None else de[filled].mean())


def plain_delta_e(result_lin: np.ndarray, target_lin: np.ndarray, empty: np.ndarray | None = None) -> float:
    """Mean per-cell CIEDE2000 between result and target."""
    de = ciede2000(linear_to_lab(result_lin), linear_to_lab(target_lin))
    return float(de.mean() if empty is None else de[~np.asarray(empty, dtype=bool)].mean())


def isolated_mask(index: np.ndarray, empty: np.ndarray | None = None) -> np.ndarray:
    """H x W bool: filled cells with at least one filled 4-neighbour and none of their own colour."""
    index = np.asarray(index)
    filled = np.ones(index.shape, dtype=bool) if empty is None else ~np.asarray(empty, dtype=bool)
    same = np.zeros(index.shape, dtype=bool)
    has_nb = np.zeros(index.shape, dtype=bool)
    for axis in (0, 1):
        for shift in (1, -1):
            nb = np.roll(index, shift, axis=axis)
            valid = np.roll(filled, shift, axis=axis)
            edge = [slice(None)] * 2
            edge[axis] = 0 if shift == 1 else -1
            valid[tuple(edge)] = False
            same |= valid & (nb == index)
            has_nb |= valid
    return filled & has_nb & ~same


def isolated_fraction(index: np.ndarray, empty: np.ndarray | None = None) -> float:
    """Fraction of filled cells whose filled 4-neighbours all have another colour ("confetti").

    A cell with no filled neighbour at all is not counted as isolated (it cannot match anything).
    """
    n = int(np.asarray(index).size if empty is None else (~np.asarray(empty, dtype=bool)).sum())
    return 0.0 if n == 0 else float(isolated_mask(index, empty).sum() / n)


def small_patch_mask(labels: np.ndarray, empty: np.ndarray | None = None, size: int = 3) -> np.ndarray:
    """Filled cells in 4-connected same-colour components of at most ``size`` cells."""
    labels = np.asarray(labels)
    filled = np.ones(labels.shape, dtype=bool) if empty is None else ~np.asarray(empty, dtype=bool)
    out = np.zeros(labels.shape, dtype=bool)
    for c in np.unique(labels[filled]):
        comp, n = ndimage.label((labels == c) & filled)
        if n:
            sizes = np.bincount(comp.ravel())
            sizes[0] = size + 1
            out |= sizes[comp] <= size
    return out


def small_patch_share(labels: np.ndarray, empty: np.ndarray | None = None, size: int = 3) -> float:
    """Share of filled cells in same-colour patches of at most ``size`` cells (the maze/confetti measure)."""
    filled = np.ones(np.shape(labels), dtype=bool) if empty is None else ~np.asarray(empty, dtype=bool)
    n = int(filled.sum())
    return 0.0 if n == 0 else float(small_patch_mask(labels, empty, size).sum() / n)


def _metric_tensors(lin: np.ndarray, h: float = 2e-3) -> np.ndarray:
    """CIEDE2000 as a quadratic form in linear RGB around each colour: dE^2 ~ d^T M d (u x 3 x 3).

    Measured from ``ciede2000`` by symmetric finite differences, then made positive semi-definite.
    """
    lin = np.asarray(lin, dtype=np.float64)
    lab0 = linear_to_lab(lin)

    def sq(d: np.ndarray) -> np.ndarray:
        plus = ciede2000(lab0, linear_to_lab(lin + d)) ** 2
        minus = ciede2000(lab0, linear_to_lab(lin - d)) ** 2
        return 0.5 * (plus + minus) / (h * h)

    eye = np.eye(3) * h
    M = np.empty(lin.shape[:-1] + (3, 3))
    diag = [sq(eye[i]) for i in range(3)]
    for i in range(3):
        M[..., i, i] = diag[i]
    for i, j in ((0, 1), (0, 2), (1, 2)):
        M[..., i, j] = M[..., j, i] = 0.5 * (sq(eye[i] + eye[j]) - diag[i] - diag[j])
    w, v = np.linalg.eigh(M)
    w = np.maximum(w, 1e-6 * np.maximum(w.max(axis=-1, keepdims=True), 1e-12))
    return np.einsum("...ij,...j,...kj->...ik", v, w, v)


def metric_field(target_blur_lin: np.ndarray, levels: int = 64) -> np.ndarray:
    """Per-cell CIEDE2000 metric (H x W x 3 x 3) around blurred target colours.

    Colours are grouped on a ``levels``-step sRGB grid first (the metric varies slowly), so the cost
    scales with the number of distinct colours rather than cells.
    """
    srgb = linear_to_srgb(target_blur_lin)
    q = np.minimum((srgb * levels).astype(np.int64), levels - 1)
    keys = (q[..., 0] * levels + q[..., 1]) * levels + q[..., 2]
    uniq, inverse = np.unique(keys.ravel(), return_inverse=True)
    centres = np.stack([uniq // (levels * levels), (uniq // levels) % levels, uniq % levels], axis=1)
    centres_lin = srgb_to_linear((centres + 0.5) / levels)
    M = _metric_tensors(centres_lin)
    return M[inverse.reshape(-1)].reshape(keys.shape + (3, 3))


# --------------------------------------------------------------------------- the solver


class CleanupProblem:
    """The cleanup energy for one target picture and palette; ``solve`` improves a labelling."""

    def __init__(self, target_lin: np.ndarray, palette_rgb: np.ndarray, empty: np.ndarray | None = None,
                 config: CleanupConfig | None = None, target_lab: np.ndarray | None = None,
                 candidates: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.config = config or CleanupConfig()
        self.target_lin = np.asarray(target_lin, dtype=np.float64)
        h, w = self.target_lin.shape[:2]
        self.shape = (h, w)
        self.filled = np.ones((h, w), dtype=bool) if empty is None else ~np.asarray(empty, dtype=bool)
        self.pal_rgb = np.asarray(palette_rgb, dtype=np.float64)
        self.pal_lin = srgb_to_linear(self.pal_rgb)
        self.pal_lab = srgb_to_lab(self.pal_rgb)
        self.target_lab = linear_to_lab(self.target_lin) if target_lab is None else np.asarray(target_lab)
        c = self.config
        self.taps = gaussian_taps(c.sigma)
        self.radius = (len(self.taps) - 1) // 2
        self.kernel = np.outer(self.taps, self.taps)
        dy, dx = np.mgrid[-self.radius:self.radius + 1, -self.radius:self.radius + 1]
        self.win_dy, self.win_dx, self.win_g = dy.ravel(), dx.ravel(), self.kernel.ravel()
        # Cells updated together are `stride` apart: no shared edge (Potts) and only the far tails of
        # their blur windows meet (about 3 % of a cell's own term for sigma 0.8), which a phase ignores.
        self.stride = self.radius + 1
        fmask = self.filled.astype(np.float64)
        wsum = blur(fmask, self.taps)
        self.target_blur = blur(self.target_lin * fmask[..., None], self.taps)  # unnormalised
        safe = np.maximum(wsum, 1e-12)
        M = metric_field(self.target_blur / safe[..., None])
        # fold the normalisation 1/wsum into the metric so the residual can stay unnormalised (G symmetric)
        self.M = M * (self.filled / safe**2)[..., None, None]
        self.Q = blur(self.M.reshape(h, w, 9), self.taps**2).reshape(h, w, 3, 3)  # sum_q g(q-p)^2 M_q
        k = min(c.candidates, len(self.pal_lab))
        if candidates is None or candidates[0].shape[-1] < k:
            candidates = nearest_candidates(self.target_lab.reshape(-1, 3), self.pal_lab, max(k, PRESELECT))
        known_idx = candidates[0].reshape(h, w, -1)
        known_cost = (candidates[1] ** 2).reshape(h, w, -1)
        self.cand, self.cand_cost = known_idx[..., :k], known_cost[..., :k]
        # squared CIEDE2000 to the colours ranked beyond the k move candidates, reused for neighbours' colours
        self.known_idx, self.known_cost = known_idx, known_cost
        self.potts = max(0.0, float(c.strength)) * c.potts_weight
        self.iso = max(0.0, float(c.strength)) * c.isolated_weight
        self.data_weight = c.data_weight

    # ----------------------------------------------------------------- energy
    def data_cost(self, labels: np.ndarray) -> np.ndarray:
        """Squared CIEDE2000 between each cell's target and its colour (H x W)."""
        return ciede2000(self.target_lab, self.pal_lab[labels]) ** 2

    def energy(self, labels: np.ndarray) -> dict[str, float]:
        """The energy terms of a labelling: blur, data, potts and their weighted total."""
        labels = np.asarray(labels)
        fmask = self.filled.astype(np.float64)[..., None]
        r = blur(self.pal_lin[labels] * fmask, self.taps) - self.target_blur
        e_blur = float(np.einsum("hwi,hwij,hwj->", r, self.M, r))
        e_data = float(self.data_cost(labels)[self.filled].sum())
        diff = 0
        for a, b, fa, fb in ((labels[1:], labels[:-1], self.filled[1:], self.filled[:-1]),
                             (labels[:, 1:], labels[:, :-1], self.filled[:, 1:], self.filled[:, :-1])):
            diff += int(((a != b) & fa & fb).sum())
        iso = isolated_fraction(labels, ~self.filled) * int(self.filled.sum())
        total = e_blur + self.data_weight * e_data + self.potts * diff + self.iso * iso
        return {"blur": e_blur, "data": e_data, "edges": float(diff), "isolated": float(round(iso)), "total": total}

    # ----------------------------------------------------------------- solver
    def solve(self, labels: np.ndarray, cancel: CancelToken | None = None) -> np.ndarray:
        """Lower the energy from ``labels`` by label moves on independent sets; returns new labels."""
        h, w = self.shape
        r = self.radius
        labels = np.array(labels, dtype=np.int64, copy=True)
        fmask = self.filled.astype(np.float64)[..., None]
        resid = np.zeros((h + 2 * r, w + 2 * r, 3))
        resid[r:r + h, r:r + w] = blur(self.pal_lin[labels] * fmask, self.taps) - self.target_blur
        M_pad = np.zeros((h + 2 * r, w + 2 * r, 3, 3))
        M_pad[r:r + h, r:r + w] = self.M
        mr = np.ascontiguousarray(np.einsum("hwij,hwj->hwi", M_pad, resid))
        lab_pad = np.full((h + 4, w + 4), -1, dtype=np.int64)  # margin 2: neighbours of neighbours
        lab_pad[2:-2, 2:-2] = np.where(self.filled, labels, -1)
        state = _SolverState(labels, lab_pad, resid, mr, M_pad, self.data_cost(labels))
        stride = self.stride
        active = self.filled.copy()
        moves_total = 0
        for sweep in range(self.config.max_sweeps):
            changed = np.zeros((h, w), dtype=bool)
            # isolated cells move first, so a stray cell is absorbed rather than joined by a neighbour
            first = isolated_mask(state.labels, ~self.filled) & active if self.iso > 0 else None
            for group in (first, active):
                if group is None:
                    continue
                for oy in range(stride):
                    for ox in range(stride):
                        sub = group[oy::stride, ox::stride] & active[oy::stride, ox::stride]
                        if not sub.any():
                            continue
                        ys, xs = np.nonzero(sub)
                        ys = ys * stride + oy
                        xs = xs * stride + ox
                        active[ys, xs] = False
                        my, mx = self._phase(ys, xs, state)
                        changed[my, mx] = True
            moved = int(changed.sum())
            moves_total += moved
            log.debug("cleanup sweep %d: %d moves", sweep + 1, moved)
            if cancel is not None:
                cancel.raise_if_cancelled()
            if moved <= self.config.settle_fraction * self.filled.sum():
                break
            # a move changes the gains of cells within 2 * radius, but beyond ~radius + 1 only through
            # kernel tails: `revisit` cells around each change are checked again
            size = 2 * self.config.revisit + 1
            active = ndimage.maximum_filter(changed, size=size, mode="constant") & self.filled
        log.info("cleanup: %d moves", moves_total)
        return state.labels

    def absorb_small_patches(self, labels: np.ndarray, penalty: float, keep: np.ndarray | None = None,
                             size: int = 3, passes: int = 4) -> np.ndarray:
        """Move cells of same-colour patches of at most ``size`` cells to a 4-neighbour's colour when that costs
        less than ``penalty`` (squared CIEDE2000 units) of blurred error plus data term.

        The change of the blurred term for one cell is exact to second order (``2 d.(G*(M r)) + d^T Q d``);
        cells are moved on the solver's independent-set lattice with the residual updated between phases.
        Cells in ``keep`` (one-cell details) stay. A move that leaves a cell isolated (no 4-neighbour of its colour)
        where it was not before is undone: absorbing patches must not make confetti.
        """
        labels = np.array(labels, dtype=np.int64, copy=True)
        before = labels.copy()
        was_isolated = isolated_mask(before, ~self.filled)
        h, w = self.shape
        keep = np.zeros((h, w), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
        fmask = self.filled.astype(np.float64)[..., None]
        stride = self.stride
        for _ in range(passes):
            moved = 0
            small = small_patch_mask(labels, ~self.filled, size) & ~keep
            if not small.any():
                break
            for oy in range(stride):
                for ox in range(stride):
                    sub = np.zeros((h, w), dtype=bool)
                    sub[oy::stride, ox::stride] = True
                    ys, xs = np.nonzero(small & sub)
                    if not len(ys):
                        continue
                    resid = blur(self.pal_lin[labels] * fmask, self.taps) - self.target_blur
                    g_mr = blur(np.einsum("hwij,hwj->hwi", self.M, resid), self.taps)[ys, xs]
                    cur = labels[ys, xs]
                    nbs = np.full((len(ys), 4), -1, dtype=np.int64)
                    for j, (dy, dx) in enumerate(((-1, 0), (1, 0), (0, -1), (0, 1))):
                        yy, xx = ys + dy, xs + dx
                        ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
                        ok[ok] &= self.filled[yy[ok], xx[ok]]
                        nbs[ok, j] = labels[yy[ok], xx[ok]]
                    valid = (nbs >= 0) & (nbs != cur[:, None])
                    d = self.pal_lin[np.maximum(nbs, 0)] - self.pal_lin[cur][:, None, :]  # n x 4 x 3
                    q = self.Q[ys, xs]
                    d_blur = 2.0 * np.einsum("nkc,nc->nk", d, g_mr) + np.einsum("nkc,ncd,nkd->nk", d, q, d)
                    d_data = self.data_weight * (
                        ciede2000(self.target_lab[ys, xs][:, None, :], self.pal_lab[np.maximum(nbs, 0)]) ** 2
                        - (ciede2000(self.target_lab[ys, xs], self.pal_lab[cur]) ** 2)[:, None])
                    cost = np.where(valid, d_blur + d_data, np.inf)
                    j = np.argmin(cost, axis=1)
                    best = cost[np.arange(len(ys)), j]
                    go = best < penalty
                    labels[ys[go], xs[go]] = nbs[np.arange(len(ys)), j][go]
                    moved += int(go.sum())
            if not moved:
                break
        for _ in range(passes):
            new_iso = isolated_mask(labels, ~self.filled) & ~was_isolated & (labels != before)
            # an isolated cell that did not move was isolated by a neighbour's move: undo its neighbours' moves
            lonely = isolated_mask(labels, ~self.filled) & ~was_isolated & (labels == before)
            undo = new_iso | (ndimage.binary_dilation(lonely) & (labels != before))
            if not undo.any():
                break
            labels[undo] = before[undo]
        return labels

    def _phase(self, ys: np.ndarray, xs: np.ndarray, st: "_SolverState") -> tuple[np.ndarray, np.ndarray]:
        """Evaluate every candidate move for one independent set of cells and apply the improving ones."""
        r = self.radius
        n = len(ys)
        rows = np.arange(n)
        cur = st.labels[ys, xs]
        lp = st.lab_pad
        py, px = ys + 2, xs + 2
        nbs = lp[py[:, None] + _N4_DY, px[:, None] + _N4_DX]  # up, down, left, right
        valid = nbs >= 0  # -1 is off the grid or empty
        cand = np.concatenate([self.cand[ys, xs], np.where(valid, nbs, cur[:, None])], axis=1)
        k = self.cand.shape[2]
        # data term: precomputed for the k nearest colours, CIEDE2000 on the fly for neighbours' colours
        dcost = np.empty(cand.shape)
        dcost[:, :k] = self.cand_cost[ys, xs]
        dcost[:, k:] = self._neighbour_data_cost(ys, xs, cand[:, k:])
        d_data = self.data_weight * (dcost - st.data[ys, xs][:, None])
        # blur term: 2 d.s + d^T Q d with s = sum_q g(q - p) M_q r_q gathered around each cell
        wp = st.resid.shape[1]
        win = ((ys + r) * wp + xs + r)[:, None] + self.win_flat_offsets(wp)  # n x window, flat padded index
        s = np.matmul(self.win_g, st.mr.reshape(-1, 3)[win])  # n x 3
        delta = self.pal_lin[cand] - self.pal_lin[cur][:, None, :]
        qd = np.matmul(delta, self.Q[ys, xs])  # Q is symmetric
        d_blur = ((2.0 * s[:, None, :] + qd) * delta).sum(axis=2)
        # Potts term: change in the number of differing filled neighbours
        eq = (nbs[:, None, :] == cand[:, :, None]) & valid[:, None, :]  # n x candidates x 4
        same_after = eq.sum(2)
        same_now = ((nbs == cur[:, None]) & valid).sum(1)
        total = d_blur + d_data + self.potts * (same_now[:, None] - same_after)
        if self.iso > 0:
            total += self.iso * self._isolation_change(py, px, cur, nbs, valid, lp, eq, same_after, same_now)
        best = np.argmin(total, axis=1)
        move = (total[rows, best] < -1e-9) & (cand[rows, best] != cur)
        if not move.any():
            return ys[:0], xs[:0]
        my, mx, pick = ys[move], xs[move], best[move]
        new = cand[move, pick]
        dl = delta[move, pick]
        st.labels[my, mx] = new
        lp[my + 2, mx + 2] = new
        st.data[my, mx] = dcost[move, pick]
        touched = win[move].ravel()
        add = (self.win_g[None, :, None] * dl[:, None, :]).reshape(-1, 3)
        size = st.resid.shape[0] * wp
        resid, mr = st.resid.reshape(-1, 3), st.mr.reshape(-1, 3)
        for c in range(3):  # windows in one phase may overlap: accumulate with bincount
            resid[:, c] += np.bincount(touched, weights=add[:, c], minlength=size)
        mr[touched] = np.matmul(st.M_pad.reshape(-1, 3, 3)[touched], resid[touched][:, :, None])[:, :, 0]
        return my, mx

    def win_flat_offsets(self, padded_width: int) -> np.ndarray:
        """Offsets of the blur window in a flattened padded array of the given width."""
        return self.win_dy * padded_width + self.win_dx


    def _neighbour_data_cost(self, ys: np.ndarray, xs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Squared CIEDE2000 from each cell's target to the given labels (n x j), from the table if known."""
        known = self.known_idx[ys, xs]  # n x m
        hit = known[:, :, None] == labels[:, None, :]  # n x m x j
        found = hit.any(axis=1)
        out = np.einsum("nm,nmj->nj", self.known_cost[ys, xs], hit.astype(np.float64))
        if not found.all():
            rows, cols = np.nonzero(~found)
            out[rows, cols] = ciede2000(self.target_lab[ys[rows], xs[rows]], self.pal_lab[labels[rows, cols]]) ** 2
        return out

    @staticmethod
    def _isolation_change(py, px, cur, nbs, valid, lp, eq, same_after, same_now) -> np.ndarray:
        """Change in the number of isolated cells (the cell and its 4 neighbours) for each candidate."""
        has_nb = valid.any(1)
        change = (has_nb[:, None] & (same_after == 0)).astype(np.int64) - (has_nb & (same_now == 0))[:, None]
        # each neighbour q: isolated unless one of its other neighbours, or this cell, has its colour
        second = lp[py[:, None, None] + _NN_DY, px[:, None, None] + _NN_DX]  # n x 4 (q) x 3 (q's others)
        q_keeps = ((second == nbs[:, :, None]) & (second >= 0)).any(2)  # n x 4
        q_free = valid & ~q_keeps
        q_now = (q_free & (nbs != cur[:, None])).sum(1)
        q_after = q_free.sum(1)[:, None] - (eq & q_free[:, None, :]).sum(2)
        return change + (q_after - q_now[:, None])


_N4_DY = np.array([-1, 1, 0, 0])
_N4_DX = np.array([0, 0, -1, 1])
# for each 4-neighbour q = p + d, q's three other 4-neighbours (p itself left out)
_NN_DY = np.array([[dy + ey for ey, ex in zip(_N4_DY, _N4_DX) if (ey, ex) != (-dy, -dx)]
                   for dy, dx in zip(_N4_DY, _N4_DX)])
_NN_DX = np.array([[dx + ex for ey, ex in zip(_N4_DY, _N4_DX) if (ey, ex) != (-dy, -dx)]
                   for dy, dx in zip(_N4_DY, _N4_DX)])


@dataclass
class _SolverState:
    labels: np.ndarray
    lab_pad: np.ndarray
    resid: np.ndarray
    mr: np.ndarray
    M_pad: np.ndarray
    data: np.ndarray


def cleanup(labels: np.ndarray, target_lin: np.ndarray, palette_rgb: np.ndarray, strength: float = 0.5,
            empty: np.ndarray | None = None, config: CleanupConfig | None = None,
            cancel: CancelToken | None = None, target_lab: np.ndarray | None = None,
            candidates: tuple[np.ndarray, np.ndarray] | None = None, patch_penalty: float = 0.0,
            keep: np.ndarray | None = None) -> np.ndarray:
    """Confetti cleanup of an index map (see the module docstring); returns the improved index map.

    With ``patch_penalty`` > 0, same-colour patches of up to 3 cells are then absorbed into a neighbour's colour
    wherever that costs less than the penalty (``CleanupProblem.absorb_small_patches``); ``keep`` cells stay.

    ``target_lin`` is the H x W x 3 linear-RGB picture the labels approximate, ``palette_rgb`` the
    palette's n x 3 sRGB in [0, 1]; ``strength`` 0 keeps fidelity only, 1 removes the most confetti.
    ``candidates`` may pass precomputed ``nearest_candidates(target_lab, palette_lab, k)`` results.
    """
    cfg = replace(config or CleanupConfig(), strength=float(np.clip(strength, 0.0, 1.0)))
    problem = CleanupProblem(target_lin, palette_rgb, empty, cfg, target_lab, candidates)
    labels = problem.solve(labels, cancel)
    if patch_penalty > 0:
        labels = problem.absorb_small_patches(labels, patch_penalty, keep)
    return labels
