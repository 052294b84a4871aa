"""Intent modes: what kind of picture this is and the region rules that make a buildable pattern of it.

- ``photo``: optical mixing where the source has texture or gradients, but no confetti: same-colour patches of
  at most ``SMALL_PATCH`` cells are absorbed into a neighbouring colour unless the cell is a high-contrast
  detail (its target differs strongly from every neighbour: a pupil, a star, a highlight); flat source regions
  (neighbours within ``PHOTO_FLAT_DE``) take one colour each.
- ``flat``: cartoons, logos, text. Only the picture's own flat colours (``flat_colors``: the fills' colours,
  mapped to the palette) are used; each cell takes the one most of its pixels are nearest to, so an anti-aliased
  edge cell gets one side's colour, never a blend; a gradient's steps are flat colours too, so it keeps bands.
- ``pixel-art``: sprites sampled on their own grid (engine.convert.grid, when present).
- ``auto``: picks one from image statistics (``choose_intent``) and says why.
"""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from engine.convert.cleanup import small_patch_mask
from engine.core.color import ciede2000
from engine.core.palette_select import nearest_candidates

log = logging.getLogger(__name__)

INTENTS = ("auto", "photo", "flat", "pixel-art")
PHOTO_FLAT_DE = 1.2  # photo intent: only truly flat areas (sky, backdrop) are forced to one colour
PHOTO_FLAT_SPREAD = 4.0  # ... whose cells all lie within this (CIE76) of the area's mean: a gradient is not flat
MIN_REGION = 4  # regions smaller than this are left to per-cell mapping
SMALL_PATCH = 3  # photo: same-colour patches of at most this many cells count as "small"
BLEND_DE = 6.0  # a cell this close (CIE76) to a mix of two neighbouring colours is an edge blend, not a detail
DETAIL_DE = 14.0  # a cell whose target differs from every 4-neighbour's by more than this is a detail
SUBCELL_DE = 20.0  # L* contrast of a sub-cell feature kept by flat intent
AUTO_FLAT_PIXELS = 0.7  # auto: flat when at least this share of source pixels sit in flat fills,
# auto picks pixel-art from this grid confidence (and grid.OCCUPIED_LINES): generated sprites score 0.48-0.78, the
# sample photos and drawn flat art 0.01-0.13, real photos at most 0.24 (0.8 before: no sprite was ever taken)
AUTO_PIXEL_ART_CONFIDENCE = 0.4
AUTO_FLAT_COLOURS = 0.85  # ... the 24 commonest source colours cover this share of the pixels
AUTO_FLAT_SHARE = 0.5  # ... and at least this share of cells lie in flat regions


def grid_available() -> bool:
    """Whether pixel-art grid detection (engine.convert.grid) is installed."""
    return importlib.util.find_spec("engine.convert.grid") is not None


def _neighbour_de(target_lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CIE76 between each cell and its right / lower neighbour."""
    return (np.linalg.norm(target_lab[:, 1:] - target_lab[:, :-1], axis=-1),
            np.linalg.norm(target_lab[1:] - target_lab[:-1], axis=-1))


def flat_regions(target_lab: np.ndarray, threshold: float, empty: np.ndarray | None = None) -> np.ndarray:
    """Region id per cell: 4-connected cells joined while neighbours differ by less than ``threshold`` (-1 empty)."""
    h, w = target_lab.shape[:2]
    filled = np.ones((h, w), dtype=bool) if empty is None else ~np.asarray(empty, dtype=bool)
    idx = np.arange(h * w).reshape(h, w)
    dx, dy = _neighbour_de(target_lab)
    ex = (dx < threshold) & filled[:, 1:] & filled[:, :-1]
    ey = (dy < threshold) & filled[1:] & filled[:-1]
    rows = np.concatenate([idx[:, :-1][ex], idx[:-1][ey]])
    cols = np.concatenate([idx[:, 1:][ex], idx[1:][ey]])
    graph = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(h * w, h * w))
    _, comp = csgraph.connected_components(graph, directed=False)
    comp = comp.reshape(h, w)
    comp[~filled] = -1
    return comp


def flatten_regions(labels: np.ndarray, target_lab: np.ndarray, palette_lab: np.ndarray, threshold: float,
                    empty: np.ndarray | None = None, candidates: int = 4,
                    spread: float | None = None) -> np.ndarray:
    """Give every flat source region of at least ``MIN_REGION`` cells the single colour that fits it best.

    "Best" is the least summed CIEDE2000 over the region's cells among the ``candidates`` palette colours
    nearest the region's mean colour. With ``spread``, a region some of whose cells lie farther than that (CIE76)
    from its mean colour is not flat but a gradient (small steps chain from dark to light) and keeps its cells'
    own colours.
    """
    comp = flat_regions(target_lab, threshold, empty)
    flat = comp.ravel()
    ok = flat >= 0
    sizes = np.bincount(flat[ok])
    big = np.flatnonzero(sizes >= MIN_REGION)
    if not len(big):
        return labels
    lab = target_lab.reshape(-1, 3)
    sums = np.stack([np.bincount(flat[ok], weights=lab[ok, c]) for c in range(3)], axis=1)
    mean = sums / np.maximum(sizes, 1)[:, None]
    if spread is not None:
        far = np.zeros(len(sizes))
        np.maximum.at(far, flat[ok], np.linalg.norm(lab[ok] - mean[flat[ok]], axis=1))
        big = big[far[big] <= spread]
        if not len(big):
            return labels
    cand, _ = nearest_candidates(mean[big], palette_lab, min(candidates, len(palette_lab)))
    remap = np.full(len(sizes), -1)
    remap[big] = np.arange(len(big))
    cells = np.flatnonzero(ok & (remap[np.where(ok, flat, 0)] >= 0))
    region = remap[flat[cells]]
    cost = ciede2000(lab[cells][:, None, :], np.asarray(palette_lab)[cand[region]])  # cells x candidates
    sums = np.stack([np.bincount(region, weights=cost[:, j], minlength=len(big)) for j in range(cand.shape[1])], 1)
    best = cand[np.arange(len(big)), np.argmin(sums, axis=1)]
    out = np.array(labels, copy=True).reshape(-1)
    out[cells] = best[region]
    return out.reshape(labels.shape)


FLAT_PIXEL_LEVELS = 6  # a source pixel within this many levels of its right and lower neighbours is in a flat fill
FLAT_COLOUR_SHARE = 0.002  # a flat colour covers at least this share of the flat-fill pixels ...
FLAT_COLOUR_CELLS = 0.5  # ... and at least this many cells' worth of pixels
FLAT_COLOUR_MERGE = 8.0  # a minor fill colour this close (CIE76) to a bigger one is its noise, not a colour


def flat_colors(rgb: np.ndarray, cells: int, max_pixels: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
    """The picture's own flat colours (``rgb`` H x W x 3 or 4 uint8): ``(Lab colours k x 3, pixel counts k)``.

    Pixels in flat fills (within ``FLAT_PIXEL_LEVELS`` of their right and lower neighbours; anti-aliased edges
    are not) are binned at 4 bits per channel; a bin is a colour when it covers at least ``FLAT_COLOUR_SHARE``
    of the fills and half a cell's pixels, and a minor bin near a bigger one is folded into it. A smooth
    gradient is flat pixel by pixel, so its steps come out as several colours (bands), not one.
    """
    from engine.core.color import srgb8_to_lab

    rgb = np.asarray(rgb)
    h, w = rgb.shape[:2]
    step = max(1, int(np.ceil(np.sqrt(h * w / max_pixels))))
    x = rgb[::step, ::step, :3].astype(np.int16)
    if x.shape[0] < 2 or x.shape[1] < 2:
        return np.zeros((0, 3)), np.zeros(0)
    c = x[:-1, :-1]
    flat = ((np.abs(x[:-1, 1:] - c).max(-1) <= FLAT_PIXEL_LEVELS)
            & (np.abs(x[1:, :-1] - c).max(-1) <= FLAT_PIXEL_LEVELS))
    if rgb.shape[-1] == 4:  # only opaque pixels have a colour of their own
        flat &= rgb[::step, ::step, 3][:-1, :-1] == 255
    px = c[flat].astype(np.int64)
    if not len(px):
        return np.zeros((0, 3)), np.zeros(0)
    keys = ((px[:, 0] >> 4) << 8) | ((px[:, 1] >> 4) << 4) | (px[:, 2] >> 4)
    counts = np.bincount(keys, minlength=4096)
    sums = np.stack([np.bincount(keys, weights=px[:, i], minlength=4096) for i in range(3)], axis=1)
    per_cell = flat.size / max(cells, 1)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= max(FLAT_COLOUR_SHARE * len(px), FLAT_COLOUR_CELLS * per_cell, 1)]
    if not len(order):
        return np.zeros((0, 3)), np.zeros(0)
    lab = srgb8_to_lab(np.clip(np.rint(sums[order] / counts[order, None]), 0, 255).astype(np.uint8))
    keep_lab, keep_n = [], []
    for col, n in zip(lab, counts[order]):
        if keep_lab:
            d = np.linalg.norm(np.asarray(keep_lab) - col, axis=1)
            j = int(np.argmin(d))
            if d[j] < (FLAT_COLOUR_MERGE if n < 0.01 * len(px) else FLAT_COLOUR_MERGE / 2):
                keep_n[j] += n
                continue
        keep_lab.append(col)
        keep_n.append(n)
    return np.asarray(keep_lab), np.asarray(keep_n, dtype=np.float64)


def detail_mask(target_lab: np.ndarray, threshold: float = DETAIL_DE) -> np.ndarray:
    """Cells whose target differs from every existing 4-neighbour's by more than ``threshold`` (CIEDE2000)."""
    h, w = target_lab.shape[:2]
    least = np.full((h, w), np.inf)
    de_x = ciede2000(target_lab[:, 1:], target_lab[:, :-1])
    de_y = ciede2000(target_lab[1:], target_lab[:-1])
    least[:, 1:] = np.minimum(least[:, 1:], de_x)
    least[:, :-1] = np.minimum(least[:, :-1], de_x)
    least[1:] = np.minimum(least[1:], de_y)
    least[:-1] = np.minimum(least[:-1], de_y)
    out = np.isfinite(least) & (least > threshold)
    ys, xs = np.nonzero(out)
    if len(ys):
        # an anti-aliased edge cell differs from all its neighbours too, but its colour is a mix of two of them
        nb = np.full((len(ys), 4, 3), np.nan)
        for j, (dy, dx) in enumerate(((-1, 0), (1, 0), (0, -1), (0, 1))):
            yy, xx = ys + dy, xs + dx
            ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            nb[ok, j] = target_lab[yy[ok], xx[ok]]
        out[ys, xs] = ~_near_mix(target_lab[ys, xs], nb)
    return out


def _near_mix(target: np.ndarray, colours: np.ndarray, tolerance: float = BLEND_DE) -> np.ndarray:
    """Per row: whether ``target`` lies within ``tolerance`` (CIE76) of the segment between two of ``colours``
    (n x k x 3, NaN rows absent)."""
    out = np.zeros(len(target), dtype=bool)
    k = colours.shape[1]
    for a in range(k):
        for b in range(a + 1, k):
            pa, pb = colours[:, a], colours[:, b]
            ok = ~(np.isnan(pa).any(1) | np.isnan(pb).any(1))
            if not ok.any():
                continue
            pa, pb = np.nan_to_num(pa), np.nan_to_num(pb)
            v = pb - pa
            t = np.clip(((target - pa) * v).sum(1) / np.maximum((v * v).sum(1), 1e-9), 0.0, 1.0)
            out |= ok & (np.linalg.norm(pa + t[:, None] * v - target, axis=1) < tolerance)
    return out


def absorb_small_patches(labels: np.ndarray, target_lab: np.ndarray, palette_lab: np.ndarray,
                         empty: np.ndarray | None = None, passes: int = 3,
                         keep: np.ndarray | None = None, max_de: float = DETAIL_DE,
                         size: int = SMALL_PATCH) -> np.ndarray:
    """Merge same-colour patches of at most ``size`` cells (default ``SMALL_PATCH``) into a neighbouring colour.

    Each small-patch cell takes the adjacent colour closest to its target (preferring the colour most of its
    neighbours share), but only if that colour is within ``max_de`` CIEDE2000 of the target: a patch unlike
    everything around it is a detail, not noise. Cells in ``keep`` are left as they are. A few passes, since a
    merge can leave a neighbour's patch small.
    """
    labels = np.array(labels, dtype=np.int64, copy=True)
    h, w = labels.shape
    filled = np.ones((h, w), dtype=bool) if empty is None else ~np.asarray(empty, dtype=bool)
    pal = np.asarray(palette_lab, dtype=np.float64)
    keep = np.zeros((h, w), dtype=bool) if keep is None else keep
    for _ in range(passes):
        small = small_patch_mask(labels, empty, size) & ~keep
        if not small.any():
            break
        # candidate colours: the 4-neighbours' colours (other than the cell's own)
        nbs = []
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nb = np.full((h, w), -1, dtype=np.int64)
            ys = slice(max(dy, 0), h + min(dy, 0))
            yd = slice(max(-dy, 0), h + min(-dy, 0))
            xs = slice(max(dx, 0), w + min(dx, 0))
            xd = slice(max(-dx, 0), w + min(-dx, 0))
            nb[yd, xd] = np.where(filled[ys, xs], labels[ys, xs], -1)
            nbs.append(nb)
        nbs = np.stack(nbs, axis=-1)  # h x w x 4
        ys, xs = np.nonzero(small)
        cand = nbs[ys, xs]
        valid = (cand >= 0) & (cand != labels[ys, xs][:, None])
        cost = ciede2000(target_lab[ys, xs][:, None, :], pal[np.maximum(cand, 0)])
        # prefer the colour most neighbours share: it closes the patch rather than making a new one
        same = (cand[:, :, None] == cand[:, None, :]).sum(axis=2)
        cost = cost - 2.0 * same
        cost[~valid] = np.inf
        j = np.argmin(cost, axis=1)
        rows = np.arange(len(ys))
        # a patch far from every neighbouring colour is a detail (pupil, line, highlight): it stays, unless its
        # target is a blend of two neighbouring colours (an anti-aliased edge cell)
        close = cost[rows, j] + 2.0 * same[rows, j] < max_de
        can = np.isfinite(cost[rows, j]) & (close | _is_blend(target_lab[ys, xs], pal, cand, cand >= 0))
        new = labels.copy()
        new[ys[can], xs[can]] = cand[np.arange(len(ys)), j][can]
        if (new == labels).all():
            break
        labels = new
    return labels


def _is_blend(target: np.ndarray, pal: np.ndarray, cand: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per cell: whether its target lies near the segment between two of its neighbours' palette colours."""
    colours = np.where(valid[..., None], pal[np.maximum(cand, 0)], np.nan)
    return _near_mix(target, colours)


def keep_subcell_details(samples_lab: np.ndarray, target_lab: np.ndarray, contrast: float = SUBCELL_DE,
                         min_share: float = 0.2) -> np.ndarray:
    """Targets where a dark or light feature smaller than a cell (a pupil, an outline, a highlight) is kept.

    ``samples_lab`` holds S sub-cell samples per cell (H x W x S x 3). A cell whose darkest (lightest) samples
    make up at least ``min_share`` of it, differ from the cell's mean by more than ``contrast`` in L*, and are
    darker (lighter) than every 4-neighbour's mean takes the mean of those samples as its target, as a
    contrast-aware downscale does; everything else keeps the area mean.
    """
    out = np.array(target_lab, copy=True)
    h, w = target_lab.shape[:2]
    L = samples_lab[..., 0]
    mean_l = target_lab[..., 0]
    pad = np.pad(mean_l, 1, mode="edge")
    nb = np.stack([pad[:-2, 1:-1], pad[2:, 1:-1], pad[1:-1, :-2], pad[1:-1, 2:]], axis=-1)
    for sign in (1.0, -1.0):  # dark features, then light ones
        extreme = (L * sign).min(axis=-1) * sign
        near = np.abs(L - extreme[..., None]) < contrast / 3
        share = near.mean(axis=-1)
        isolated = (nb * sign > (extreme[..., None] + sign * contrast / 2) * sign).all(axis=-1)
        pick = (share >= min_share) & (share <= 0.5) & ((mean_l - extreme) * sign > contrast) & isolated
        if pick.any():
            cnt = near[pick].sum(axis=-1, keepdims=True)
            out[pick] = (samples_lab[pick] * near[pick][..., None]).sum(axis=1) / cnt
    log.debug("sub-cell details kept in %d cells", int((out != target_lab).any(axis=-1).sum()))
    return out


def choose_intent(rgb: np.ndarray | None, target_lab: np.ndarray, empty: np.ndarray | None = None) -> tuple[str, str]:
    """``(intent, reason)`` for ``auto``: pixel-art if a pixel grid is found, flat for few-colour flat art, else photo.

    ``rgb`` is the source picture (H x W x 3 uint8) or None; ``target_lab`` the area-averaged cells.
    """
    if rgb is not None and grid_available():
        try:
            from engine.convert.grid import OCCUPIED_LINES, detect_grid, line_occupancy

            grid = detect_grid(rgb)
            if grid.confidence >= AUTO_PIXEL_ART_CONFIDENCE and grid.cols >= 4 and grid.rows >= 4:
                occupied = line_occupancy(rgb, grid)
                if occupied >= OCCUPIED_LINES:
                    return "pixel-art", (f"pixel grid {grid.cols}x{grid.rows} found (confidence "
                                         f"{grid.confidence:.2f}, edges on {occupied:.0%} of its lines)")
        except Exception as exc:  # noqa: BLE001 - a failed detection only means "not pixel art"
            log.info("grid detection failed: %s", exc)
    comp = flat_regions(target_lab, PHOTO_FLAT_DE * 2, empty)
    ok = comp >= 0
    sizes = np.bincount(comp[ok])
    cell_flat = float((sizes[comp[ok]] >= 8).mean()) if ok.any() else 0.0
    if rgb is None:
        stats = f"{cell_flat:.0%} of cells in flat regions"
        return ("flat" if cell_flat >= AUTO_FLAT_SHARE else "photo"), stats
    pix_flat, coverage = _pixel_stats(np.asarray(rgb)[..., :3])
    stats = (f"{pix_flat:.0%} of pixels in flat fills, 24 colours cover {coverage:.0%}, "
             f"{cell_flat:.0%} of cells in flat regions")
    if pix_flat >= AUTO_FLAT_PIXELS and coverage >= AUTO_FLAT_COLOURS and cell_flat >= AUTO_FLAT_SHARE:
        return "flat", stats
    return "photo", stats


def _pixel_stats(rgb: np.ndarray) -> tuple[float, float]:
    """(share of pixels equal to their right and lower neighbours within 3 levels, share of the 24 commonest
    colours at 5 bits per channel), on a nearest-neighbour reduction to at most 512 px per side."""
    h, w = rgb.shape[:2]
    step = max(1, int(np.ceil(max(h, w) / 512)))
    x = rgb[::step, ::step].astype(np.int16)
    if x.shape[0] < 2 or x.shape[1] < 2:
        return 0.0, 0.0
    dx = np.abs(x[:-1, 1:] - x[:-1, :-1]).max(axis=-1)
    dy = np.abs(x[1:, :-1] - x[:-1, :-1]).max(axis=-1)
    flat = float(((dx <= 3) & (dy <= 3)).mean())
    q = (x.reshape(-1, 3) >> 3).astype(np.int64)
    counts = np.sort(np.bincount((q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]))[::-1]
    return flat, float(counts[:24].sum() / counts.sum())
