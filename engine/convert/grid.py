"""Pixel-grid detection for pixel-art input ("pseudo pixel art": upscaled or AI-made sprites).

A sprite upscaled by a possibly non-integer factor, with its block edges jittered by a pixel, then blurred,
noised and JPEG-compressed, still has almost all of its gradient energy on the lines between blocks. Per axis:

1. profile: per pixel step, the summed absolute channel difference above a soft noise threshold, summed along
   the other axis (the gradient energy at each possible cell edge); JPEG's 8 px block seams are subtracted;
2. edges: the profile's prominent local maxima (positions and weights);
3. pitch candidates: local maxima of the edges' phase coherence ``|sum w exp(-2 pi i x / p)|`` over
   ``MIN_PITCH..side/4`` px (non-integer), those near the best;
4. fit per candidate: phase from the coherence angle, lines ``phase + i * pitch`` snapped to the nearest edge
   (following +-1 px jitter), pitch and phase refitted by weighted least squares; scored by the edge weight the
   lines explain beyond chance. The x and y candidates are paired by the best summed score, preferring square
   cells; lines with no edge keep their fitted place;
5. extent: a uniform frame whose inner edge runs the full side is a border, not cells (unless it is a whole
   number of cells wide); slivers narrower than half a pitch at the picture's edges are dropped.

``confidence`` (0..1) is the share of the profile's energy on the lines (+-1 px) beyond what lines this dense
catch by chance (the smaller of the two axes); under ``MIN_CONFIDENCE`` the picture is not pixel art.
:func:`sample_grid` takes each cell's colour as the per-channel median of an 8 x 8 sample lattice inside the cell
(a margin of CELL_MARGIN of the cell is skipped, where blur and JPEG ringing live); :func:`map_cells` matches
cell colours to a palette.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from engine.core.color import srgb8_to_lab
from engine.core.palette_select import nearest_candidates

log = logging.getLogger(__name__)

MIN_PITCH = 3.0  # px per cell, smallest detected
MAX_PITCH_FRACTION = 0.25  # the pitch is at most this share of the side (at least 4 cells)
OCCUPIED_LINES = 0.5  # line_occupancy of pixel art (generated sprites 0.61-1.0, flat art drawn large 0.36-0.45)
MIN_CONFIDENCE = 0.3  # below: not pixel art (sprites and upscales >= x4 measure >= 0.35, photos <= 0.24)
SAMPLES_PER_SIDE = 8  # sample lattice per cell side in sample_grid
CELL_MARGIN = 0.15  # share of the cell size skipped at each cell edge by the sample lattice (blur, JPEG)
NEAR_TIE = 5.0  # map_cells: ΔE2000 within which a much more used palette colour wins a near tie
USAGE_RATIO = 5  # map_cells: how many times more cells that colour must already have
_SQUARE_PENALTY = 3.0  # fit-score penalty per unit of |log(pitch_x / pitch_y)| (capped at 0.3)
_BORDER_CLOSE = 24  # max channel difference (0..255) of a pixel still "the border colour"

__all__ = ["PixelGrid", "GridError", "detect_grid", "sample_grid", "sample_cells", "map_cells", "MIN_CONFIDENCE"]


class GridError(ValueError):
    """The picture has no pixel grid that can be detected (too small, or not pixel art)."""


@dataclass(frozen=True)
class PixelGrid:
    """A detected pixel grid: cell edges in picture pixels (``xs``: cols + 1, ``ys``: rows + 1, increasing)."""

    cols: int
    rows: int
    pitch_x: float
    pitch_y: float
    phase_x: float
    phase_y: float
    xs: np.ndarray
    ys: np.ndarray
    confidence: float

    @property
    def is_pixel_art(self) -> bool:
        """True when the confidence is high enough to sample the picture on this grid."""
        return self.confidence >= MIN_CONFIDENCE

    def summary(self) -> dict:
        """JSON-friendly description (for a pattern's metadata)."""
        return {"cols": self.cols, "rows": self.rows, "pitch_x": round(self.pitch_x, 3),
                "pitch_y": round(self.pitch_y, 3), "phase_x": round(self.phase_x, 3),
                "phase_y": round(self.phase_y, 3), "confidence": round(self.confidence, 3),
                "bounds": [int(self.xs[0]), int(self.ys[0]), int(self.xs[-1]), int(self.ys[-1])]}


@dataclass
class _Axis:
    pitch: float
    phase: float
    edges: np.ndarray
    confidence: float
    score: float


def line_occupancy(rgb: np.ndarray, grid: "PixelGrid") -> float:
    """Share of the grid's inner lines that carry a colour edge somewhere along them (the worse axis).

    Pixel art changes colour on most lines of its grid; flat art drawn large has a few long straight edges that
    a coarse grid can pass through with a high ``confidence``, but most of that grid's lines cross flat colour.
    """
    gray = _as_rgb(rgb).astype(np.float64).sum(axis=2)
    shares = []
    for axis, lines in ((1, grid.xs), (0, grid.ys)):
        profile = np.abs(np.diff(gray, axis=axis)).sum(axis=1 - axis)  # index j: the edge at j + 1
        inner = np.round(np.asarray(lines, dtype=np.float64)[1:-1]).astype(int)
        if len(inner) == 0:
            return 0.0
        near = np.array([profile[max(0, i - 2):max(1, i + 1)].max() for i in inner])  # the line +-1 px
        positive = near[near > 0]
        if len(positive) == 0:
            return 0.0
        shares.append(float((near > 0.25 * np.median(positive)).mean()))
    return min(shares)


def over_white(rgba: np.ndarray) -> np.ndarray:
    """An H x W x 4 uint8 picture flattened over white (the picture itself when it is opaque), for detection."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or bool((rgba[..., 3] == 255).all()):
        return rgba[..., :3] if rgba.ndim == 3 else rgba
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise GridError(f"expected an H x W x 3 picture, got shape {arr.shape}")
    return arr[..., :3] if arr.shape[2] >= 3 else np.repeat(arr, 3, axis=2)


def _profile(img: np.ndarray, axis: int) -> np.ndarray:
    """Gradient energy between neighbouring columns (axis=1) or rows (axis=0); index j = edge at j + 1.

    Each pixel step (summed absolute channel difference) counts only above a soft threshold of 2.5 times
    the picture's median step, so noise and JPEG's 8 px block seams in flat areas add next to nothing
    while colour edges between cells add almost fully.
    """
    # along the lines, every other pixel of a big picture is enough (a cell is at least MIN_PITCH px long)
    step = 2 if img.shape[1 - axis] > 512 else 1
    sub = img[::step] if axis == 1 else img[:, ::step]
    d = np.abs(np.diff(sub, axis=axis)).sum(axis=2, dtype=np.int16)  # <= 765, fits
    tau = max(6, int(round(2.5 * float(np.median(d.ravel()[::7])))))
    d -= tau
    np.maximum(d, 0, out=d)
    return _remove_jpeg_seams(d.sum(axis=0 if axis == 1 else 1, dtype=np.int64).astype(np.float64))


def _remove_jpeg_seams(g: np.ndarray) -> np.ndarray:
    """Subtract the excess energy JPEG puts on its 8 px block seams (edges at multiples of 8 px).

    The excess is the median profile value on the seams over the median elsewhere: most seams lie in
    flat areas, so real edges that happen to sit on a seam stay.
    """
    if len(g) < 32:
        return g
    seam = (np.arange(len(g)) + 1) % 8 == 0
    excess = float(np.median(g[seam]) - np.median(g[~seam]))
    if excess <= 0:
        return g
    out = g.copy()
    out[seam] = np.maximum(out[seam] - excess, 0.0)
    return out


def _border(img: np.ndarray) -> tuple[int, int, int, int]:
    """Content bounds (x0, y0, x1, y1) inside a uniform frame (the content differing along >= 40 % of its edge)."""
    h, w = img.shape[:2]

    def strip(lines: np.ndarray, limit: int) -> int:
        # lines: n x L x 3, outermost first; measured in chunks as most pictures have no border, on every
        # 4th pixel of a long line
        if lines.shape[1] > 256:
            lines = lines[:, ::4]
        ref = np.median(lines[0], axis=0).astype(np.int16)
        close = np.zeros(0)
        k = 0
        while True:
            if len(close) < k + 3:
                chunk = lines[len(close):len(close) + 16].astype(np.int16)
                close = np.r_[close, (np.abs(chunk - ref).max(axis=2) <= _BORDER_CLOSE).mean(axis=1)]
            if k >= limit or k >= len(close) or close[k] < 0.95:
                break
            k += 1
        if k == 0 or k + 2 >= len(close):
            return 0
        # the content must differ from the frame along most of the inner edge (>= 40 %), past the blur; a strip
        # a whole number of cells wide is taken back as cells later (detect_grid)
        return k if min(close[k + 1], close[k + 2]) <= 0.6 else 0

    lim_x, lim_y = w // 4, h // 4
    left = strip(img[:, :lim_x + 3].transpose(1, 0, 2), lim_x)
    right = strip(img[:, ::-1][:, :lim_x + 3].transpose(1, 0, 2), lim_x)
    top = strip(img[:lim_y + 3], lim_y)
    bottom = strip(img[::-1][:lim_y + 3], lim_y)
    return left, top, w - right, h - bottom


def _edge_peaks(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prominent local maxima of the profile: edge positions (j + 1) and weights (prominence).

    A peak is the maximum within +-2 px and rises above the lowest value within +-4 px by more than four
    noise levels (the noise level from the steps between the profile's low values).
    """
    pad = np.pad(g, 4, mode="constant", constant_values=float(g.min()))
    win = np.lib.stride_tricks.sliding_window_view(pad, 9)  # n x 9, centred on each position
    is_max = (g >= win[:, 2:7].max(axis=1)) & (g > win[:, 3])
    prom = g - win.min(axis=1)
    # noise: robust spread of the steps between neighbours that are both in the profile's lower 40 % (cell
    # interiors; edges may be anywhere from a few to most of the rest)
    low = g <= np.percentile(g, 40)
    both = low[1:] & low[:-1]
    steps = np.abs(np.diff(g))[both] if both.sum() >= 8 else np.abs(np.diff(g))
    noise = 1.4826 * float(np.median(steps)) / np.sqrt(2.0) + 1e-9
    keep = is_max & (prom > max(4.0 * noise, 0.01 * float(prom.max())))
    j = np.flatnonzero(keep)
    return (j + 1).astype(np.float64), np.sqrt(prom[j])


def _coherence(pos: np.ndarray, w: np.ndarray, pitches: np.ndarray) -> np.ndarray:
    """|sum w exp(-2 pi i pos / p)| / sum w for each pitch: 1 when every edge sits on a line of that pitch."""
    out = np.empty(len(pitches))
    step = max(1, 2_000_000 // max(1, len(pos)))
    for a in range(0, len(pitches), step):
        ph = np.exp(-2j * np.pi * pos[None, :] / pitches[a:a + step, None])
        out[a:a + step] = np.abs(ph @ w)
    return out / max(float(w.sum()), 1e-12)


def _pitch_candidates(pos: np.ndarray, w: np.ndarray, pmin: float, pmax: float) -> list[float]:
    """Candidate grid periods of the edge positions: coherence peaks near the best, largest pitch first.

    A grid's edges are also coherent at half or a third of its pitch (less so with jitter), never at twice it;
    the final choice between candidates is made by how much edge strength their fitted lines explain.
    """
    if len(pos) < 3 or pmax <= pmin:
        return []
    ps = np.geomspace(pmin, pmax, int(np.log(pmax / pmin) / 0.002) + 2)
    coh = _coherence(pos, w, ps)
    peak = np.r_[False, (coh[1:-1] >= coh[:-2]) & (coh[1:-1] >= coh[2:]), False]
    peak |= np.r_[coh[0] > coh[1], np.zeros(len(coh) - 2, bool), coh[-1] > coh[-2]]
    good = np.flatnonzero(peak & (coh >= 0.75 * coh.max()))
    good = sorted(good, key=lambda k: -coh[k])[:4]
    out = []
    for k in sorted(good, reverse=True):
        fine = np.linspace(ps[max(0, k - 1)], ps[min(len(ps) - 1, k + 1)], 41)
        out.append(float(fine[int(np.argmax(_coherence(pos, w, fine)))]))
    return out


def _lines(n: int, pitch: float, phase: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices and positions of the predicted lines phase + i * pitch inside (0.5, n + 0.5)."""
    i = np.arange(int(np.floor(-phase / pitch)), int(np.ceil((n + 1 - phase) / pitch)) + 1)
    pred = phase + i * pitch
    keep = (pred > 0.5) & (pred < n + 0.5)
    return i[keep], pred[keep]


def _match(pos: np.ndarray, w: np.ndarray, pred: np.ndarray, radius: float,
           nearest: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """For each predicted line, the strongest (or ``nearest``) edge peak within +-radius: (index or -1, position)."""
    lo = np.searchsorted(pos, pred - radius, side="left")
    hi = np.searchsorted(pos, pred + radius, side="right")
    idx = np.full(len(pred), -1, dtype=np.int64)
    for t in np.flatnonzero(hi > lo):
        if nearest:
            idx[t] = lo[t] + int(np.argmin(np.abs(pos[lo[t]:hi[t]] - pred[t])))
        else:
            idx[t] = lo[t] + int(np.argmax(w[lo[t]:hi[t]]))
    # a peak claimed by two lines belongs to the nearer one; the other keeps its predicted place
    for t in np.flatnonzero((idx[1:] >= 0) & (idx[1:] == idx[:-1])):
        far = t if abs(pos[idx[t]] - pred[t]) > abs(pos[idx[t]] - pred[t + 1]) else t + 1
        idx[far] = -1
    return idx, np.where(idx >= 0, pos[np.maximum(idx, 0)], np.rint(pred))


def _fit(n: int, pos: np.ndarray, w: np.ndarray, pitch: float) -> tuple[float, float, np.ndarray, float]:
    """Fit lines of about ``pitch`` to the edge peaks: (pitch, phase, line positions, score).

    Phase from the coherence angle; each line snaps to the strongest peak near it (a wide window, then the
    jitter window) and pitch and phase are refitted by weighted least squares on the snapped lines. The score
    is the share of edge strength on lines minus the share lines this dense would catch by chance.
    """
    c = np.sum(w * np.exp(-2j * np.pi * pos / pitch))
    phase = float((-np.angle(c) / (2 * np.pi) * pitch) % pitch)
    jitter_r = max(1.0, min(2.0, 0.3 * pitch))
    for radius in (0.3 * pitch, jitter_r, 1.5):
        i, pred = _lines(n, pitch, phase)
        if len(pred) < 2:
            return pitch, phase, np.zeros(0), -1.0
        idx, _ = _match(pos, w, pred, radius)
        ok = idx >= 0
        if ok.sum() >= 3 and len(np.unique(i[ok])) >= 2:
            pitch, phase = (float(v) for v in np.polyfit(i[ok], pos[idx[ok]], 1, w=np.sqrt(w[idx[ok]])))
            if pitch < MIN_PITCH:
                return pitch, phase, np.zeros(0), -1.0
    i, pred = _lines(n, pitch, phase)
    idx, _ = _match(pos, w, pred, 1.5)  # +-1 px jitter plus rounding of a non-integer line
    share = float(w[np.unique(idx[idx >= 0])].sum() / max(w.sum(), 1e-12))
    _, lines = _match(pos, w, pred, 1.5, nearest=True)
    chance = min(1.0, 3.0 / pitch)
    return pitch, phase % pitch, lines, share - chance


def _axis(g: np.ndarray, start: int, stop: int) -> list[_Axis]:
    """Candidate grids (pitch, phase, cell edges, fit score) along one axis of the content span [start, stop)."""
    g = np.convolve(g, [0.25, 0.5, 0.25], mode="same")[start:max(start, stop - 1)]  # smoothed, then cut
    n = len(g)
    pmax = max(MIN_PITCH + 1, MAX_PITCH_FRACTION * (n + 1))
    if n < 8:
        return []
    pos, strength = _edge_peaks(g)
    out = []
    for p in _pitch_candidates(pos, strength, MIN_PITCH, pmax):
        pitch, phase, lines, score = _fit(n, pos, strength, p)
        if len(lines):
            out.append(_axis_result(g, start, pitch, phase, lines, score))
    return out


def _axis_result(g: np.ndarray, start: int, pitch: float, phase: float, lines: np.ndarray, score: float) -> _Axis:
    n = len(g)
    base = float(np.median(g))
    # confidence: profile energy on the lines (+-1 px, or exactly on them for cells under 6 px, where +-1 px
    # would cover most of the period) beyond the share lines this dense catch by chance
    excess = np.maximum(g - base, 0.0)
    on = np.zeros(n, dtype=bool)
    for d in (-1, 0, 1) if pitch >= 6 else (0,):
        on[np.clip(lines.astype(np.int64) - 1 + d, 0, n - 1)] = True
    inner = np.zeros(n, dtype=bool)  # the span's outer 3 px carry a border's blurred edge, not grid evidence
    inner[3:n - 3] = True
    excess, on = excess[inner], on[inner]
    total = excess.sum()
    share = float(excess[on].sum() / total) if total > 0 else 0.0
    chance = float(on.mean()) if len(on) else 1.0
    confidence = max(0.0, (share - chance) / max(1e-9, 1.0 - chance))
    # cell edges: picture edge, lines, picture edge; slivers under half a pitch are not cells
    edges = [0.0] + [v for v in lines if 0 < v < n + 1] + [float(n + 1)]
    edges = np.unique(np.asarray(edges))
    if len(edges) >= 3 and edges[1] - edges[0] < 0.5 * pitch:
        edges = edges[1:]
    if len(edges) >= 3 and edges[-1] - edges[-2] < 0.5 * pitch:
        edges = edges[:-1]
    return _Axis(pitch=float(pitch), phase=float(phase % pitch) + start, edges=edges.astype(np.int64) + start,
                 confidence=confidence, score=score)


def _best_pair(xs: list[_Axis], ys: list[_Axis]) -> tuple[_Axis, _Axis]:
    """The x and y candidates with the best summed fit score, preferring square cells (pixel art's norm)."""
    def total(a: _Axis, b: _Axis) -> float:
        return a.score + b.score - min(_SQUARE_PENALTY * abs(np.log(a.pitch / b.pitch)), 0.3)
    return max(((a, b) for a in xs for b in ys), key=lambda ab: total(*ab))


def _strip_edges(edges: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """The content span's ends moved to the grid lines within 3 px inside them, if there are any."""
    inner = edges[(edges > lo) & (edges < hi)]
    if len(inner) and inner[0] <= lo + 3:
        lo = int(inner[0])
    if len(inner) and inner[-1] >= hi - 3:
        hi = int(inner[-1])
    return lo, hi


def _aligned(strip: int, pitch: float) -> bool:
    """Is a border strip (px) within max(2.5 px, a sixth of a cell) of a whole number (>= 1) of cells?

    (2.5 px: jitter and rounding move a line by up to 1.5 px, and a little more for the fit.)
    """
    k = round(strip / pitch)
    return k >= 1 and abs(strip - k * pitch) <= max(2.5, pitch / 6)


def detect_grid(rgb: np.ndarray) -> PixelGrid:
    """Detect the pixel grid of an H x W x 3 (or x 4, or grey) picture.

    Always returns the best grid found; check ``grid.is_pixel_art`` (``confidence >= MIN_CONFIDENCE``) before
    trusting it. Raises GridError when the picture is too small to hold a grid.
    """
    img = _as_rgb(rgb)
    h, w = img.shape[:2]
    if min(h, w) < 12:
        raise GridError(f"picture is {w}x{h} px; too small to detect a pixel grid")
    x0, y0, x1, y1 = _border(img)
    if x1 - x0 < 12 or y1 - y0 < 12:
        x0, y0, x1, y1 = 0, 0, w, h
    work = img.astype(np.int16)
    cx = _axis(_profile(work[y0:y1], axis=1), x0, x1)
    cy = _axis(_profile(work[:, x0:x1], axis=0), y0, y1)
    if not cx or not cy:
        raise GridError(f"picture is {w}x{h} px; no pixel grid could be measured")
    ax, ay = _best_pair(cx, cy)
    # a uniform strip a whole number of cells wide is cells of that colour, not a border: measure again with it
    # (measured to the grid line at the strip's inner edge: blur and JPEG ringing make the strip look narrower)
    sx0, sx1 = _strip_edges(ax.edges, x0, x1)
    sy0, sy1 = _strip_edges(ay.edges, y0, y1)
    keep = [_aligned(sx0, ax.pitch), _aligned(sy0, ay.pitch), _aligned(w - sx1, ax.pitch), _aligned(h - sy1, ay.pitch)]
    if any(keep):
        x0, y0 = (0 if keep[0] else x0), (0 if keep[1] else y0)
        x1, y1 = (w if keep[2] else x1), (h if keep[3] else y1)
        cx = _axis(_profile(work[y0:y1], axis=1), x0, x1) or cx
        cy = _axis(_profile(work[:, x0:x1], axis=0), y0, y1) or cy
        ax, ay = _best_pair(cx, cy)
    conf = min(ax.confidence, ay.confidence)
    ratio = max(ax.pitch, ay.pitch) / min(ax.pitch, ay.pitch)
    if ratio > 1.5:  # pixel art has (nearly) square cells
        conf *= 1.5 / ratio
    grid = PixelGrid(cols=len(ax.edges) - 1, rows=len(ay.edges) - 1, pitch_x=ax.pitch, pitch_y=ay.pitch,
                     phase_x=ax.phase, phase_y=ay.phase, xs=ax.edges, ys=ay.edges, confidence=float(conf))
    log.info("pixel grid %dx%d cells, pitch %.2f x %.2f px, confidence %.2f", grid.cols, grid.rows,
             grid.pitch_x, grid.pitch_y, grid.confidence)
    return grid


def _lattice(edges: np.ndarray, k: int) -> np.ndarray:
    """k sample positions inside each cell, skipping a CELL_MARGIN margin (at least 1 px, if it fits)."""
    lo, hi = edges[:-1].astype(np.float64), edges[1:].astype(np.float64)
    size = hi - lo
    margin = np.minimum(np.maximum(1.0, np.floor(CELL_MARGIN * size + 0.5)), np.floor((size - 1) / 2))
    a, b = lo + margin, hi - margin  # interior [a, b)
    t = (np.arange(k) + 0.5) / k
    pos = np.floor(a[:, None] + t[None, :] * (b - a)[:, None]).astype(np.int64)
    return np.clip(pos, lo[:, None].astype(np.int64), hi[:, None].astype(np.int64) - 1)


def cell_samples(arr: np.ndarray, grid: PixelGrid) -> np.ndarray:
    """The sample lattice inside every cell: rows x cols x k x k x C (k = SAMPLES_PER_SIDE), same dtype."""
    a = np.asarray(arr)
    if a.ndim == 2:
        a = a[..., None]
    h, w = a.shape[:2]
    k = SAMPLES_PER_SIDE
    px = np.clip(_lattice(np.asarray(grid.xs), k), 0, w - 1)  # cols x k
    py = np.clip(_lattice(np.asarray(grid.ys), k), 0, h - 1)  # rows x k
    return a[py[:, None, :, None], px[None, :, None, :]]


def sample_cells(arr: np.ndarray, grid: PixelGrid) -> np.ndarray:
    """Per cell, the per-channel median over the lattice inside the cell: rows x cols x C float64."""
    samples = cell_samples(arr, grid)
    return np.median(samples.reshape(grid.rows, grid.cols, -1, samples.shape[-1]), axis=2)


def map_cells(cells: np.ndarray, palette_lab: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Palette index per cell (rows x cols): nearest by CIEDE2000, near ties going to the sprite's common colours.

    Pixel art uses few colours, each in many cells; JPEG's halved chroma and blur shift the colour of small
    features (outlines, dots) by a few units, enough to tip the match to a near neighbour in a big palette.
    So after a plain nearest pass, a cell whose second or third nearest colour is within ``NEAR_TIE`` ΔE2000 of
    its nearest and used at least ``USAGE_RATIO`` times as often takes that colour. A lone detail with a colour
    of its own keeps it (no common colour is that close). ``mask`` (rows x cols bool): the cells that count
    (e.g. the opaque ones); all by default.
    """
    flat = np.asarray(cells, dtype=np.uint8).reshape(-1, 3)
    k = min(3, len(palette_lab))
    uniq, inv = np.unique(flat, axis=0, return_inverse=True)
    cand_u, de_u = nearest_candidates(srgb8_to_lab(uniq), palette_lab, k)
    cand, de = cand_u[inv.reshape(-1)], de_u[inv.reshape(-1)]
    first = cand[:, 0]
    labels = first.copy()
    counted = first if mask is None else first[np.asarray(mask, dtype=bool).ravel()]
    count = np.bincount(counted, minlength=len(palette_lab))
    for j in range(k - 1, 0, -1):  # the nearer of two qualifying candidates wins
        tie = (de[:, j] - de[:, 0] < NEAR_TIE) & (count[cand[:, j]] >= USAGE_RATIO * np.maximum(count[first], 1))
        labels = np.where(tie, cand[:, j], labels)
    return labels.reshape(np.shape(cells)[:2])


def sample_grid(rgb: np.ndarray, grid: PixelGrid) -> np.ndarray:
    """Per-cell dominant colour (rows x cols x 3 uint8): the median of the cell's interior, robust to blur/JPEG."""
    img = _as_rgb(rgb)
    return np.clip(np.rint(sample_cells(img, grid)), 0, 255).astype(np.uint8)
