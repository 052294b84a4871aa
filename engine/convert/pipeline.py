"""The fast CPU converter: picture -> palette pattern (downsample, map by CIEDE2000, dither, cleanup).

Pipeline: load (engine.core.image_io) -> fit to the grid (crop / pad / stretch) -> downsample to cells
("area": alpha-weighted mean in linear light; "dominant": the most common palette colour among each
cell's pixels) -> empty cells from transparency and optional background removal -> optional best-k
colour subset (engine.core.palette_select) -> nearest colour or dithering (engine.convert.dither) -> optional confetti
cleanup (engine.convert.cleanup) -> Pattern.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from scipy import ndimage, sparse

from engine.convert.cleanup import cleanup as cleanup_labels
from engine.convert.dither import DITHER_METHODS, dither
from engine.convert.grid import MIN_CONFIDENCE, GridError, detect_grid, map_cells, sample_cells
from engine.core.color import ciede2000, linear_to_lab, linear_to_srgb, srgb8_to_lab, srgb_to_linear
from engine.core.image_io import FIT_MODES, ImageLoadError, ImageSource, fit_layout, load_image
from engine.core.medium import Medium
from engine.core.palette import Palette
from engine.core.palette_select import PRESELECT, nearest_candidates, nearest_index, select_colors
from engine.core.pattern import Pattern
from engine.core.progress import CancelToken, Progress

log = logging.getLogger(__name__)

RESAMPLE_MODES = ("area", "dominant")
MAX_SIDE = 2048  # cells per side
_DENSE_VOTES = 20_000_000  # above this many (cell, colour) pairs, dominant votes are counted sparsely
_LINEAR_LUT = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)

AUTO_SIZE = (0, 0)  # parse_size("auto"): detect the pixel-art grid and make one cell per grid cell

__all__ = ["AUTO_SIZE", "ConvertConfig", "ConvertError", "convert_image", "parse_size", "ImageLoadError"]


class ConvertError(ValueError):
    """Conversion settings or input cannot be used; the message says what was wrong and what to do."""


@dataclass
class ConvertConfig:
    """Settings of one conversion (sizes in cells; width = height = 0, i.e. AUTO_SIZE, detects a pixel-art grid)."""

    width: int
    height: int
    fit: str = "crop"
    resample: str = "area"
    dither: str = "none"
    dither_strength: float = 1.0
    cleanup: float = 0.0
    alpha_to_empty: bool = True
    remove_background: bool = False
    background_tolerance: float = 8.0
    max_colors: int | None = None

    @property
    def auto_size(self) -> bool:
        """True for AUTO_SIZE: the size is the detected pixel grid's (pixel-art input)."""
        return (self.width, self.height) == AUTO_SIZE

    def validate(self) -> None:
        """Raise ConvertError for any setting out of range."""
        for name in () if self.auto_size else ("width", "height"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or not 1 <= v <= MAX_SIDE:
                raise ConvertError(f"pattern {name} must be a whole number from 1 to {MAX_SIDE} cells, got {v!r}")
        if self.fit not in FIT_MODES:
            raise ConvertError(f"unknown fit {self.fit!r}; use one of {', '.join(FIT_MODES)}")
        if self.resample not in RESAMPLE_MODES:
            raise ConvertError(f"unknown resample mode {self.resample!r}; use one of {', '.join(RESAMPLE_MODES)}")
        if self.dither not in DITHER_METHODS:
            raise ConvertError(f"unknown dithering {self.dither!r}; use one of {', '.join(DITHER_METHODS)}")
        if not 0.0 <= float(self.dither_strength) <= 1.0:
            raise ConvertError(f"dither strength must be between 0 and 1, got {self.dither_strength}")
        if not 0.0 <= float(self.cleanup) <= 1.0:
            raise ConvertError(f"cleanup strength must be between 0 and 1, got {self.cleanup}")
        if not float(self.background_tolerance) >= 0.0:
            raise ConvertError(f"background tolerance must be 0 or more, got {self.background_tolerance}")
        if self.max_colors is not None and (not isinstance(self.max_colors, (int, np.integer)) or self.max_colors < 1):
            raise ConvertError(f"max colours must be a whole number of at least 1, got {self.max_colors!r}")


_SIZE_RE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(?:[x\u00d7*,]\s*(\d+(?:\.\d+)?))?\s*(boards?|cm|mm|cells?)?\s*$", re.IGNORECASE
)


def parse_size(text: str, medium: Medium | None = None) -> tuple[int, int]:
    """Parse a target size -> (w, h) cells.

    ``"48x48"`` or ``"48"`` (square) are cells; ``"2x2boards"`` counts ``medium``'s default board;
    ``"30x20cm"`` / ``"300x200mm"`` are physical sizes at the medium's pitch (rounded to whole cells);
    ``"auto"`` gives AUTO_SIZE (one cell per detected pixel-art cell).
    """
    if str(text).strip().lower() == "auto":
        return AUTO_SIZE
    m = _SIZE_RE.match(str(text))
    if not m:
        raise ConvertError(
            f"bad size {text!r}: give WIDTHxHEIGHT in cells (e.g. 48x48), boards (e.g. 2x2boards), cm (e.g. 30x20cm) "
            "or auto (pixel art)"
        )
    unit = (m.group(3) or "cells").lower()
    if unit.startswith("cell") and ("." in m.group(1) or "." in (m.group(2) or "")):
        raise ConvertError(f"bad size {text!r}: cells are whole numbers")
    if not unit.startswith("cell") and medium is None:
        raise ConvertError(f"size {text!r} needs a palette's medium to convert {unit} to cells; give cells")
    try:
        fx, fy = medium.cells_per_unit(unit) if medium is not None else (1.0, 1.0)
    except ValueError as exc:
        raise ConvertError(f"size {text!r}: {exc}") from None
    w = int(round(float(m.group(1)) * fx))
    h = int(round(float(m.group(2) or m.group(1)) * fy))
    if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
        raise ConvertError(f"size {text!r} gives {w}x{h} cells; each side must be 1 to {MAX_SIDE} cells")
    return w, h


# --------------------------------------------------------------------------- downsampling


def area_weights(n_src: int, n_dst: int) -> sparse.csr_matrix:
    """n_dst x n_src sparse matrix of box-filter weights: each output cell averages the source span it covers."""
    scale = n_src / n_dst
    span = int(np.ceil(scale)) + 1  # source pixels one output cell can touch
    lo = np.arange(n_dst) * scale
    first = np.floor(lo).astype(np.int64)
    src = np.minimum(first[:, None] + np.arange(span)[None, :], n_src - 1)
    overlap = np.clip(np.minimum(src + 1, lo[:, None] + scale) - np.maximum(src, lo[:, None]), 0.0, None)
    overlap[:, 1:][src[:, 1:] == src[:, :-1]] = 0.0  # clamped duplicates at the right edge
    overlap /= overlap.sum(axis=1, keepdims=True)
    rows = np.repeat(np.arange(n_dst), span)
    m = sparse.csr_matrix((overlap.ravel().astype(np.float32), (rows, src.ravel())), shape=(n_dst, n_src))
    m.eliminate_zeros()
    return m


def downsample_area(rgba: np.ndarray, width: int, height: int, strip: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Area-average an h x w x 4 uint8 picture to ``height`` x ``width`` cells in linear light.

    Returns ``(premultiplied linear RGB [H, W, 3], coverage alpha [H, W])``, both float64.
    Works in strips of source rows so big pictures need little memory.
    """
    h, w = rgba.shape[:2]
    wy = area_weights(h, height).tocsc()
    wx_t = area_weights(w, width).T.tocsr()  # w x width
    acc = np.zeros((height, width * 4), dtype=np.float64)
    opaque = bool((rgba[..., 3] == 255).all())
    for y0 in range(0, h, strip):
        part = rgba[y0:y0 + strip]
        block = np.empty((len(part), 4, w), dtype=np.float32)  # channels first: rows of w samples
        lin = _LINEAR_LUT[part[..., :3]]
        if opaque:
            block[:, :3] = lin.transpose(0, 2, 1)
            block[:, 3] = 1.0
        else:
            alpha = part[..., 3].astype(np.float32) / 255.0
            block[:, :3] = (lin * alpha[..., None]).transpose(0, 2, 1)
            block[:, 3] = alpha
        cols = (wx_t.T @ block.reshape(-1, w).T).T  # (rows * 4) x width, sparse x dense
        acc += wy[:, y0:y0 + len(part)] @ cols.reshape(len(part), -1).astype(np.float64)
    acc = acc.reshape(height, 4, width).transpose(0, 2, 1)
    return acc[..., :3], np.clip(acc[..., 3], 0.0, 1.0)


def _unpremultiply(premult: np.ndarray, alpha: np.ndarray, over_white: bool) -> np.ndarray:
    if over_white:
        return np.clip(premult + (1.0 - alpha)[..., None], 0.0, 1.0)
    return np.clip(premult / np.maximum(alpha, 1e-6)[..., None], 0.0, 1.0)


def dominant_labels(rgba: np.ndarray, width: int, height: int, palette_lab: np.ndarray,
                    over_white: bool, fallback: np.ndarray) -> np.ndarray:
    """Per cell, the palette colour that is the nearest match for most of its (opaque) pixels.

    Pixels are matched through a 64-level-per-channel colour grid (only occupied bins are matched);
    pictures with more than 16 pixels per cell side are first area-reduced to 8 samples per cell side.
    ``fallback`` labels cells no pixel votes for (fully transparent).
    """
    h, w = rgba.shape[:2]
    if h > 16 * height or w > 16 * width:
        sw, sh = min(w, 8 * width), min(h, 8 * height)
        premult, alpha = downsample_area(rgba, sw, sh)
        rgb = np.round(linear_to_srgb(_unpremultiply(premult, alpha, over_white)) * 255).astype(np.uint8)
        weight = alpha.astype(np.float64)
    else:
        sw, sh = w, h
        alpha8 = rgba[..., 3].astype(np.float64) / 255.0
        rgb = rgba[..., :3]
        if over_white:
            lin = _LINEAR_LUT[rgb] * alpha8[..., None] + (1.0 - alpha8[..., None])
            rgb = np.round(linear_to_srgb(lin) * 255).astype(np.uint8)
        weight = alpha8
    q = (rgb >> 2).astype(np.int64)
    keys = ((q[..., 0] << 12) | (q[..., 1] << 6) | q[..., 2]).ravel()
    occupied = np.flatnonzero(np.bincount(keys, minlength=1 << 18))
    centres = np.stack([occupied >> 12, (occupied >> 6) & 63, occupied & 63], axis=1) * 4 + 2
    lut = np.zeros(1 << 18, dtype=np.int64)
    lut[occupied] = nearest_index(srgb8_to_lab(centres), palette_lab)
    pix_label = lut[keys]
    cy = (np.arange(sh) * height) // sh
    cx = (np.arange(sw) * width) // sw
    cell = (cy[:, None] * width + cx[None, :]).ravel()
    n = len(palette_lab)
    wts = np.ones(weight.size) if over_white else weight.ravel()
    combo = cell * n + pix_label
    if height * width * n <= _DENSE_VOTES:
        votes = np.bincount(combo, weights=wts, minlength=height * width * n).reshape(height * width, n)
        best = votes.argmax(axis=1)
        has = votes.max(axis=1) > 0
    else:
        uniq, inv = np.unique(combo, return_inverse=True)
        tot = np.bincount(inv.reshape(-1), weights=wts)
        order = np.lexsort((-tot, uniq // n))
        u_cell = uniq[order] // n
        first = np.r_[True, u_cell[1:] != u_cell[:-1]]
        best = np.asarray(fallback, dtype=np.int64).ravel().copy()
        has = np.zeros(height * width, dtype=bool)
        sel = order[first]
        keep = tot[sel] > 0
        best[uniq[sel][keep] // n] = uniq[sel][keep] % n
        has[uniq[sel][keep] // n] = True
    return np.where(has, best, np.asarray(fallback).ravel()).reshape(height, width)


# --------------------------------------------------------------------------- background


def background_mask(lab: np.ndarray, filled: np.ndarray, tolerance: float) -> np.ndarray:
    """Cells connected to the border whose colour is within ``tolerance`` (CIEDE2000) of the background.

    The border is the grid's edge plus any cell next to an empty one (letterbox padding, transparency).
    The background colour is the border colour that most other border cells match within the tolerance.
    """
    h, w = filled.shape
    border = np.zeros((h, w), dtype=bool)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    border |= ndimage.binary_dilation(~filled)
    seeds = border & filled
    if not seeds.any():
        return np.zeros((h, w), dtype=bool)
    border_lab = lab[seeds]
    if len(border_lab) > 400:
        border_lab = border_lab[np.linspace(0, len(border_lab) - 1, 400).astype(int)]
    agree = (ciede2000(border_lab[:, None, :], border_lab[None, :, :]) <= tolerance).sum(axis=1)
    ref = border_lab[int(np.argmax(agree))]
    close = filled & (ciede2000(lab, ref) <= tolerance)
    regions, _ = ndimage.label(close)
    touching = np.unique(regions[border & close])
    touching = touching[touching > 0]
    return np.isin(regions, touching)


# --------------------------------------------------------------------------- pipeline


def _source_name(source: ImageSource) -> str | None:
    """The picture's file name if it is known."""
    if isinstance(source, (str, Path)):
        return Path(source).name
    if isinstance(source, Image.Image):
        name = source.info.get("source_name") or getattr(source, "filename", "")
        return Path(name).name if name else None
    return None


def convert_image(source: ImageSource, palette: Palette, config: ConvertConfig,
                  progress: Callable[[Progress], None] | None = None,
                  cancel: CancelToken | None = None) -> Pattern:
    """Convert a picture (path, Pillow image or numpy array) to a Pattern in ``palette``.

    Checks ``cancel`` between stages (raising ``Cancelled``) and reports each stage to ``progress``.
    The pattern keeps the full ``palette``; with ``max_colors`` only the chosen colours are used.
    """
    config.validate()
    if config.auto_size:
        return _convert_on_grid(source, palette, config, progress, cancel)
    start = time.perf_counter()
    total = 6
    stage = 0

    def report(message: str, **extra) -> None:
        nonlocal stage
        stage += 1
        if cancel is not None:
            cancel.raise_if_cancelled()
        if progress is not None:
            progress(Progress(step=min(stage, total), total=total, message=message,
                              elapsed=time.perf_counter() - start, **extra))

    img = load_image(source)
    report("picture loaded")
    W, H = config.width, config.height
    layout = fit_layout(img.width, img.height, W, H, config.fit)
    region = np.asarray(img.crop(layout.crop_box))
    cx, cy, cw, ch = layout.cells
    premult, alpha = downsample_area(region, cw, ch)
    over_white = not config.alpha_to_empty
    colour = _unpremultiply(premult, alpha, over_white)
    target_lin = np.ones((H, W, 3))
    target_lin[cy:cy + ch, cx:cx + cw] = colour
    empty = np.ones((H, W), dtype=bool)
    empty[cy:cy + ch, cx:cx + cw] = (alpha < 0.5) if config.alpha_to_empty else False
    target_lab = linear_to_lab(target_lin)
    report("picture resampled")

    if config.remove_background:
        bg = background_mask(target_lab, ~empty, float(config.background_tolerance))
        log.info("background removal: %d cells", int(bg.sum()))
        empty |= bg
    if empty.all():
        raise ConvertError("every cell came out empty (transparent picture or background removal took all); "
                           "turn off background removal or lower its tolerance")

    chosen: list[int] = list(range(len(palette)))
    if config.max_colors is not None and config.max_colors < len(palette):
        chosen = select_colors(target_lab[~empty], palette.lab, int(config.max_colors))
    work = palette if len(chosen) == len(palette) else palette.subset(chosen)
    report("colours chosen")

    candidates = None
    if config.resample == "dominant":
        fallback = nearest_index(target_lab, work.lab)
        labels = fallback.copy()
        labels[cy:cy + ch, cx:cx + cw] = dominant_labels(region, cw, ch, work.lab, over_white,
                                                         fallback[cy:cy + ch, cx:cx + cw])
        if config.dither != "none":
            log.info("dithering is not used with the dominant-colour mode")
    elif config.dither == "none" or config.dither_strength <= 0:
        cand, de = nearest_candidates(target_lab.reshape(-1, 3), work.lab, PRESELECT)
        candidates = cand.reshape(H, W, -1), de.reshape(H, W, -1)
        labels = candidates[0][..., 0].copy()
    else:
        labels = dither(target_lab, work.lab, config.dither, float(config.dither_strength), empty)
    report("colours mapped")

    if config.cleanup > 0:
        labels = cleanup_labels(labels, target_lin, work.rgb, float(config.cleanup), empty,
                                cancel=cancel, target_lab=target_lab, candidates=candidates)
    report("cleanup done" if config.cleanup > 0 else "no cleanup")

    index = np.asarray(chosen, dtype=np.int64)[labels]
    index[empty] = index[~empty][0]  # any used colour; empty.all() was refused above
    metadata = {
        "method": "convert",
        "convert": asdict(config),
        "palette": palette.name,
        "source_size": [img.width, img.height],
        "crop_box": list(layout.crop_box),
    }
    name = _source_name(source)
    if name:
        metadata["source"] = name
    if len(chosen) < len(palette):
        metadata["selected_colors"] = [palette[i].code for i in chosen]
    pattern = Pattern(index, palette, empty, palette.medium, metadata)
    log.info("converted %s to %dx%d in %.2f s", name or "picture", W, H, time.perf_counter() - start)
    report("done", preview=pattern.to_rgb(), pattern=pattern)
    return pattern


# --------------------------------------------------------------------------- pixel-art input (size "auto")


def _convert_on_grid(source: ImageSource, palette: Palette, config: ConvertConfig,
                     progress: Callable[[Progress], None] | None, cancel: CancelToken | None) -> Pattern:
    """Size "auto": detect the picture's pixel grid, then give each grid cell its dominant colour.

    Each cell's colour is the per-channel median of a sample lattice inside it (a margin near the edges skipped,
    engine.convert.grid.sample_cells; measured more robust to JPEG chroma bleed than a vote of per-pixel nearest
    colours), matched to the palette by CIEDE2000 with near ties going to the sprite's common colours
    (engine.convert.grid.map_cells). The cell picture, now in palette colours, goes 1:1 through the normal
    pipeline, so palette choice (--max-colors), background removal and cleanup settings still apply. The
    pattern's metadata gets ``grid`` (cols, rows, pitch, phase, confidence, bounds).
    """
    img = load_image(source)
    rgba = np.asarray(img)
    opaque = bool((rgba[..., 3] == 255).all())
    if opaque:
        flat = rgba[..., :3]
    else:  # over white for detection
        alpha = rgba[..., 3:4].astype(np.float32) / 255.0
        flat = np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    try:
        grid = detect_grid(flat)
    except GridError as exc:
        raise ConvertError(f"{exc}; give the size by hand, e.g. --size 48x48") from None
    if cancel is not None:
        cancel.raise_if_cancelled()
    if not grid.is_pixel_art:
        raise ConvertError(f"this picture does not look like pixel art (grid confidence {grid.confidence:.2f} < "
                           f"{MIN_CONFIDENCE}); give --size WxH")
    if max(grid.cols, grid.rows) > MAX_SIDE:
        raise ConvertError(f"detected grid {grid.cols}x{grid.rows} has more than {MAX_SIDE} cells a side; "
                           "give --size WxH")
    if opaque:  # per-cell interior median
        cells = np.full((grid.rows, grid.cols, 4), 255, dtype=np.uint8)
        cells[..., :3] = np.clip(np.rint(sample_cells(flat, grid)), 0, 255)
    else:
        cells = np.clip(np.rint(sample_cells(rgba, grid)), 0, 255).astype(np.uint8)
    cells[..., :3] = palette.rgb8[map_cells(cells[..., :3], palette.lab, mask=cells[..., 3] >= 128)]
    cell_img = Image.fromarray(cells, "RGBA")
    name = _source_name(source)
    if name:
        cell_img.info["source_name"] = name
    inner = replace(config, width=grid.cols, height=grid.rows, fit="stretch", resample="area")
    pattern = convert_image(cell_img, palette, inner, progress, cancel)
    pattern.metadata.update(source_size=[img.width, img.height], grid=grid.summary(),
                            crop_box=grid.summary()["bounds"])
    log.info("pixel grid %dx%d cells (pitch %.2f x %.2f px)", grid.cols, grid.rows, grid.pitch_x, grid.pitch_y)
    return pattern
