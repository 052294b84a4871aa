"""The fast CPU converter: picture -> palette pattern (downsample, map by CIEDE2000, dither, cleanup).

Pipeline: load (engine.core.image_io) -> fit to the grid (crop / pad / stretch) -> downsample to cells
("area": alpha-weighted mean in linear light; "dominant": the most common palette colour among each
cell's pixels) -> empty cells from transparency and optional background removal -> optional best-k
colour subset (engine.core.palette_select) -> nearest colour or dithering (engine.convert.dither) -> optional confetti
cleanup (engine.convert.cleanup) -> Pattern.

By intent: flat art uses only the picture's own flat colours (engine.convert.intent.flat_colors), each cell the one
most of its pixels are nearest to; pixel art keeps every colour of its grid unless a budget is given; photos get the
colour budget plus colours for details and small features, and cleanup keeps every colour within ``HOME_REACH``
cells of where it is the nearest; with at most ``RESTRICTED_COLOURS`` allowed colours (an owned set) all are used
and only lone beads are merged. Pictures over ``WORK_PIXELS`` are box-reduced first. The metadata's ``notes`` say
in plain words how the picture was fitted (a crop to the pattern's shape).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from scipy import ndimage, sparse
from scipy.spatial import cKDTree

from engine.convert.budget import DEFAULT_MAX_COLORS, choose_colors, default_min_count, enforce_capacity, fold_rare
from engine.convert.cleanup import CleanupConfig
from engine.convert.cleanup import cleanup as cleanup_labels
from engine.convert.dither import DITHER_METHODS, dither
from engine.convert.grid import MIN_CONFIDENCE, GridError, detect_grid, map_cells, sample_cells
from engine.convert.grid import over_white as composite_over_white
from engine.convert.intent import (
    DETAIL_DE,
    INTENTS,
    PHOTO_FLAT_DE,
    PHOTO_FLAT_SPREAD,
    absorb_small_patches,
    choose_intent,
    detail_mask,
    flat_colors,
    flatten_regions,
    grid_available,
    keep_subcell_details,
)
from engine.core import limits, sizes
from engine.core.color import (
    ciede2000,
    lab_to_xyz,
    linear_to_lab,
    linear_to_srgb,
    srgb8_to_lab,
    srgb_to_linear,
    xyz_to_linear,
)
from engine.core.image_io import FIT_MODES, ImageLoadError, ImageSource, fit_layout, load_image
from engine.core.medium import Medium
from engine.core.palette import DEFAULT_FINISHES, Palette, PaletteError, parse_finishes
from engine.core.palette_select import PRESELECT, nearest_candidates, nearest_index, select_colors
from engine.core.pattern import Pattern
from engine.core.progress import CancelToken, Progress

log = logging.getLogger(__name__)

RESAMPLE_MODES = ("area", "dominant")
MAX_SIDE = limits.MAX_SIDE.value  # cells per side (budget declared in engine.core.limits)
_DENSE_VOTES = 20_000_000  # above this many (cell, colour) pairs, dominant votes are counted sparsely
_LINEAR_LUT = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)

AUTO_SIZE = (0, 0)  # parse_size("auto"): detect the pixel-art grid and make one cell per grid cell

__all__ = ["AUTO_SIZE", "ConvertConfig", "ConvertError", "convert_image", "parse_size", "ImageLoadError",
           "allowed_colors", "summary_lines", "DEFAULT_MAX_COLORS"]
RESTRICTED_COLOURS = 16  # at most this many allowed colours (an owned set, a small palette): all are used, no dither
CLEANUP_CANDIDATES = 1  # cleanup moves: the nearest colour or a 4-neighbour's (engine.convert.cleanup default: 6)
WORK_PIXELS = 16_000_000  # bigger pictures are box-reduced first (memory; still >= 8 px per cell side at 512 cells)
CROP_NOTE_SHARE = 0.99  # a crop that keeps less of the picture than this is said (a pixel or two is rounding)
HOME_REACH = 2  # photo cleanup: a colour reaches at most this many cells beyond where it is the nearest colour
FEATURE_DE = 12.0  # photo budget: cells this far (CIEDE2000) from every chosen colour are a feature it misses
MAX_FEATURE_COLOURS = 3  # ... and at most this many colours are added for such features
PHOTO_CLEANUP = 0.5  # cleanup strength of the photo intent when none is given
PATCH_PENALTY = 250.0  # photo: squared-dE units per cell of a same-colour patch of <= 3 cells, at cleanup 1


class ConvertError(ValueError):
    """Conversion settings or input cannot be used; the message says what was wrong and what to do."""


@dataclass
class ConvertConfig:
    """Settings of one conversion (sizes in cells; width = height = 0, i.e. AUTO_SIZE, detects a pixel-art grid).

    Colours: ``owned`` (codes) or else the palette's colours of ``finishes`` (default solid only: no clear,
    translucent, glow, neon, pearl... beads unless asked for), further limited to colours with stock when a
    ``stash`` ``{code: count}`` is given (then no colour is used more often than owned). ``max_colors`` uses the
    best K; otherwise the count is chosen at the knee of the error curve (at most ``DEFAULT_MAX_COLORS``) unless
    ``all_colors``. No colour is used fewer than ``min_count`` times (default from the pattern size; 1 with
    ``all_colors``). ``intent`` is photo, flat, pixel-art or auto; ``cleanup`` None means "as the intent says".
    """

    width: int
    height: int
    fit: str = "crop"
    resample: str = "area"
    dither: str = "none"
    dither_strength: float = 1.0
    cleanup: float | None = None
    alpha_to_empty: bool = True
    remove_background: bool = False
    background_tolerance: float = 8.0
    max_colors: int | None = None
    intent: str = "auto"
    finishes: tuple[str, ...] = DEFAULT_FINISHES
    owned: tuple[str, ...] | None = None
    all_colors: bool = False
    min_count: int | None = None
    stash: dict[str, int] | None = None

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
        if self.cleanup is not None and not 0.0 <= float(self.cleanup) <= 1.0:
            raise ConvertError(f"cleanup strength must be between 0 and 1, got {self.cleanup}")
        if not float(self.background_tolerance) >= 0.0:
            raise ConvertError(f"background tolerance must be 0 or more, got {self.background_tolerance}")
        if self.max_colors is not None and (not isinstance(self.max_colors, (int, np.integer)) or self.max_colors < 1):
            raise ConvertError(f"max colours must be a whole number of at least 1, got {self.max_colors!r}")
        if self.min_count is not None and (not isinstance(self.min_count, (int, np.integer)) or self.min_count < 1):
            raise ConvertError(f"minimum count must be a whole number of at least 1, got {self.min_count!r}")
        if self.intent not in INTENTS:
            raise ConvertError(f"unknown intent {self.intent!r}; use one of {', '.join(INTENTS)}")
        try:
            parse_finishes(self.finishes)
        except PaletteError as exc:
            raise ConvertError(str(exc)) from None
        if self.stash is not None and any(int(v) < 0 for v in self.stash.values()):
            raise ConvertError("stash counts must be 0 or more")


SIZE_UNITS = ("cell", "board", "cm", "mm")  # what a target size may be given in (Medium.cells_per_unit)


def _size_unit(typed: str) -> str:
    """A typed size unit by its singular name ("cells" -> "cell"); "" when none was typed."""
    u = typed.strip().lower()
    return u[:-1] if u in ("cells", "boards") else u


def parse_size(text: str, medium: Medium | None = None) -> tuple[int, int]:
    """Parse a target size -> (w, h) cells.

    ``"48x48"`` or ``"48"`` (square) are cells; ``"2x2boards"`` counts ``medium``'s default board;
    ``"30x20cm"`` / ``"300x200mm"`` are physical sizes at the medium's pitch (rounded to whole cells);
    ``"auto"`` gives AUTO_SIZE (one cell per detected pixel-art cell).
    """
    if str(text).strip().lower() == "auto":
        return AUTO_SIZE
    # the house size parser (engine.core.sizes) splits "30 cm x 20 cm" / "48x48" / "12cm"; the units are ours
    short = len(str(text)) <= 40  # hundreds of digits: refused, not overflowed
    parts = sizes.split_pair(text) if short else None
    if parts is None:
        one = sizes.split_number(text) if short else None
        parts = (one[0], "", one[0], one[1]) if one else None  # "12cm": a square
    units = {_size_unit(u) for u in parts[1::2] if u} if parts else set()
    if parts is None or not units <= set(SIZE_UNITS):
        raise ConvertError(
            f"bad size {text!r}: give WIDTHxHEIGHT in cells (e.g. 48x48), boards (e.g. 2x2boards), cm (e.g. 30x20cm) "
            "or auto (pixel art)"
        )
    if len(units) > 1:
        raise ConvertError(f"bad size {text!r}: give both sides in the same unit (e.g. 30x20cm)")
    unit = units.pop() if units else "cell"
    try:
        w_num, h_num = sizes.decimal_value(parts[0]), sizes.decimal_value(parts[2])
    except ValueError:
        raise ConvertError(f"bad size {text!r}: the sides must be numbers, e.g. 48x48") from None
    if not (math.isfinite(w_num) and math.isfinite(h_num)):
        raise ConvertError(f"bad size {text!r}: the sides must be finite numbers")
    if unit == "cell" and not (w_num.is_integer() and h_num.is_integer()):
        comma = " (a comma is a decimal comma: write 48x48)" if "," in str(text) else ""
        raise ConvertError(f"bad size {text!r}: cells are whole numbers{comma}")
    if unit != "cell" and medium is None:
        raise ConvertError(f"size {text!r} needs a palette's medium to convert {unit} to cells; give cells")
    try:
        fx, fy = medium.cells_per_unit(unit) if medium is not None else (1.0, 1.0)
    except ValueError as exc:
        raise ConvertError(f"size {text!r}: {exc}") from None
    w_cells, h_cells = w_num * fx, h_num * fy
    if not all(math.isfinite(v) and abs(v) < 1e9 for v in (w_cells, h_cells)):
        raise ConvertError(f"size {text!r} is far too large; each side must be 1 to {MAX_SIDE} cells")
    w, h = int(round(w_cells)), int(round(h_cells))
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


def _stay_home(labels: np.ndarray, nearest: np.ndarray, empty: np.ndarray, reach: int = HOME_REACH) -> np.ndarray:
    """Cells whose colour is not the nearest colour of any cell within ``reach`` cells go back to their nearest.

    Cleanup may grow a colour into its neighbours; this keeps the growth local, so a colour kept for a small
    feature (eyes, a highlight) stays in that feature instead of spreading over the texture around it.
    """
    out = np.array(labels, copy=True)
    size = 2 * reach + 1
    for c in np.unique(labels[~empty]):
        home = ndimage.maximum_filter((nearest == c).astype(np.uint8), size=size, mode="constant") > 0
        away = (labels == c) & ~home & ~empty
        out[away] = nearest[away]
    return out


def _reduce_for_work(img: Image.Image) -> tuple[Image.Image, int]:
    """The picture box-reduced by a whole factor to at most ``WORK_PIXELS`` (a 90 MP photo would otherwise hold
    several full-size copies at once); the area average to cells is the same up to the reduction's rounding.
    Returns ``(picture, factor)``."""
    if img.width * img.height <= WORK_PIXELS:
        return img, 1
    factor = int(np.ceil(np.sqrt(img.width * img.height / WORK_PIXELS)))
    log.info("picture of %.0f MP reduced by %d for conversion", img.width * img.height / 1e6, factor)
    small = img.reduce(factor)
    small.info.update(img.info)
    return small, factor


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
    src_w, src_h = img.width, img.height
    src_layout = fit_layout(src_w, src_h, W, H, config.fit)  # in the picture's own pixels, for the metadata
    img, _ = _reduce_for_work(img)
    layout = fit_layout(img.width, img.height, W, H, config.fit)
    region = np.asarray(img.crop(layout.crop_box))
    del img
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

    all_clear = bool(empty.all())  # a fully transparent picture gives an empty pattern, not an error
    if config.remove_background:
        bg = background_mask(target_lab, ~empty, float(config.background_tolerance))
        log.info("background removal: %d cells", int(bg.sum()))
        empty |= bg
    if empty.all() and not all_clear:
        raise ConvertError("every cell came out empty (transparent picture or background removal took all); "
                           "turn off background removal or lower its tolerance")
    if all_clear:
        log.info("the picture is fully transparent: an empty pattern")
        metadata = {"method": "convert", "convert": asdict(config), "palette": palette.name,
                    "source_size": [src_w, src_h], "crop_box": list(src_layout.crop_box),
                    "intent": config.intent, "intent_reason": "fully transparent picture", "min_count": 0,
                    "merged": []}
        pattern = Pattern(np.zeros((H, W), dtype=np.int64), palette, empty, palette.medium, metadata)
        report("done", preview=pattern.to_rgb(), pattern=pattern)
        return pattern

    n_filled = int((~empty).sum())
    intent, intent_reason = config.intent, "chosen by the user"
    if intent == "auto":
        intent, intent_reason = choose_intent(region[..., :3], target_lab, empty)
    flat_path = intent == "flat" and config.resample == "area"
    sharp_cells = np.zeros((H, W), dtype=bool)  # flat intent: cells whose target is a sub-cell detail's colour
    if intent == "pixel-art":
        target_lab, target_lin = _pixel_art_target(region, layout, target_lab, target_lin, config)
    elif flat_path and min(region.shape[0] // ch, region.shape[1] // cw) >= 4:
        n = 8 if min(region.shape[0] // ch, region.shape[1] // cw) >= 8 else 4  # sub-samples per cell side
        sp, sa = downsample_area(region, cw * n, ch * n)
        sub = linear_to_lab(_unpremultiply(sp, sa, over_white)).reshape(ch, n, cw, n, 3)
        sub = sub.transpose(0, 2, 1, 3, 4).reshape(ch, cw, n * n, 3)
        sharp = target_lab.copy()
        sharp[cy:cy + ch, cx:cx + cw] = keep_subcell_details(sub, target_lab[cy:cy + ch, cx:cx + cw])
        sharp_cells = (sharp != target_lab).any(axis=-1)
        target_lab = sharp
        target_lin = xyz_to_linear(lab_to_xyz(target_lab))
    log.info("intent %s (%s)", intent, intent_reason)

    allowed = allowed_colors(palette, config)
    capacity = None
    if config.stash is not None:
        capacity = _capacity(palette, config.stash)
        have = int(capacity[allowed].sum())
        if have < n_filled:
            raise ConvertError(f"the stash has {have} pieces in these colours but the pattern needs {n_filled} "
                               f"cells: short by {n_filled - have}; make the pattern smaller, remove the background "
                               f"or add pieces to the stash")
    sub_lab = palette.lab[allowed]
    sel_lab = target_lab[~empty]
    if config.resample == "dominant" and intent != "pixel-art" and len(allowed) > 1:
        # colours are chosen from what the cells' pixels vote for, not from their mean colours
        fallback = nearest_index(target_lab, sub_lab)
        votes = fallback.copy()
        votes[cy:cy + ch, cx:cx + cw] = dominant_labels(region, cw, ch, sub_lab, over_white,
                                                        fallback[cy:cy + ch, cx:cx + cw])
        sel_lab = sub_lab[votes[~empty]]
    # pixel art keeps every colour of its grid (nearest palette colour per cell) unless the user sets a budget
    keep_all = intent == "pixel-art" and config.max_colors is None
    # an owned set is the maker's own budget already: cutting it further only trades shades for dither speckle
    owned_all = config.max_colors is None and len(allowed) <= RESTRICTED_COLOURS
    flat_lab, flat_n = np.zeros((0, 3)), np.zeros(0)
    if flat_path:
        flat_lab, flat_n = flat_colors(region if config.alpha_to_empty else composite_over_white(region), cw * ch)
    if len(flat_lab):  # flat art: the picture's own flat colours, each mapped to the palette
        if config.max_colors is not None and config.max_colors < len(allowed):
            pick = select_colors(flat_lab, sub_lab, int(config.max_colors), weights=flat_n)
        else:
            nearest_flat = nearest_index(flat_lab, sub_lab)
            pick = sorted(dict.fromkeys(int(i) for i in nearest_flat[:DEFAULT_MAX_COLORS]))
        log.info("flat art: %d flat colours -> %d palette colours", len(flat_lab), len(pick))
    elif config.max_colors is not None and config.max_colors < len(allowed):
        pick = select_colors(sel_lab, sub_lab, int(config.max_colors))
    elif config.all_colors or len(allowed) == 1 or keep_all or owned_all:
        pick = list(range(len(allowed)))
    else:
        pick, _ = choose_colors(sel_lab, sub_lab, DEFAULT_MAX_COLORS)
    chosen = [allowed[i] for i in pick]
    if config.max_colors is None and not config.all_colors and intent == "photo":
        chosen = _add_detail_colors(chosen, allowed, palette, target_lab, empty,
                                    config.min_count or default_min_count(n_filled),
                                    features=config.resample == "area")
    if capacity is not None:
        chosen = _cover_stock(chosen, allowed, capacity, n_filled)
    report("colours chosen")

    cleanup = config.cleanup if config.cleanup is not None else (PHOTO_CLEANUP if intent == "photo" else 0.0)

    def map_cells(chosen: list[int]) -> np.ndarray:
        work = palette if len(chosen) == len(palette) else palette.subset(chosen)
        candidates = None
        if flat_path:
            # each cell takes the flat colour most of its pixels are nearest to: an anti-aliased edge cell gets
            # one of the two sides' colours, never the blend; sub-cell details keep their own colour
            fallback = nearest_index(target_lab, work.lab)
            labels = fallback.copy()
            labels[cy:cy + ch, cx:cx + cw] = dominant_labels(region, cw, ch, work.lab, over_white,
                                                             fallback[cy:cy + ch, cx:cx + cw])
            labels[sharp_cells] = fallback[sharp_cells]
            labels = absorb_small_patches(labels, target_lab, work.lab, empty, keep=detail_mask(target_lab))
        elif config.resample == "dominant" and intent != "pixel-art":
            fallback = nearest_index(target_lab, work.lab)
            labels = fallback.copy()
            labels[cy:cy + ch, cx:cx + cw] = dominant_labels(region, cw, ch, work.lab, over_white,
                                                             fallback[cy:cy + ch, cx:cx + cw])
            if config.dither != "none":
                log.info("dithering is not used with the dominant-colour mode")
        elif config.dither == "none" or config.dither_strength <= 0 or intent in ("flat", "pixel-art"):
            cand, de = nearest_candidates(target_lab.reshape(-1, 3), work.lab, PRESELECT)
            candidates = cand.reshape(H, W, -1), de.reshape(H, W, -1)
            labels = candidates[0][..., 0].copy()
        else:
            labels = dither(target_lab, work.lab, config.dither, float(config.dither_strength), empty)
        if keep_all and config.min_count is None:
            # pixel art keeps its rare colours, but a rare colour on a lone cell that is a blend of (or close to)
            # its neighbours' colours is JPEG or blur noise of the grid sampling: it takes the neighbour's colour
            counts = np.bincount(labels[~empty], minlength=len(work))
            rare = (counts[labels] < default_min_count(n_filled)) & ~empty
            labels = absorb_small_patches(labels, target_lab, work.lab, empty, keep=~rare, size=1)
        if cleanup > 0 and intent == "photo" and owned_all and config.dither == "none":
            # a few owned colours: mixing them for the eye makes speckle and mazes a maker removes by hand, so
            # the clean version: nearest colours with lone beads merged into a neighbour's colour (details kept;
            # merging 2-3 cell patches too cost more blurred error than nearest's, measured on the starter kit)
            labels = absorb_small_patches(labels, target_lab, work.lab, empty, keep=detail_mask(target_lab),
                                          size=1)
        elif cleanup > 0 and intent != "pixel-art":
            patches = intent == "photo" and config.resample == "area" and config.dither == "none"
            # a cell moves only to its nearest colour or a neighbour's: cleanup smooths, it does not sprinkle a
            # second-nearest colour (a feature's colour over fur, dither dots over a gradient)
            labels = cleanup_labels(labels, target_lin, work.rgb, float(cleanup), empty,
                                    config=CleanupConfig(candidates=CLEANUP_CANDIDATES),
                                    cancel=cancel, target_lab=target_lab, candidates=candidates,
                                    patch_penalty=PATCH_PENALTY * float(cleanup) if patches else 0.0,
                                    keep=detail_mask(target_lab) if patches else None)
        if intent == "photo" and candidates is not None and cleanup > 0:
            labels = _stay_home(labels, candidates[0][..., 0], empty)
        if intent == "photo" and config.resample == "area" and cleanup > 0:
            labels = flatten_regions(labels, target_lab, work.lab, PHOTO_FLAT_DE, empty, spread=PHOTO_FLAT_SPREAD)
        return np.asarray(chosen, dtype=np.int64)[labels]

    index = map_cells(chosen)
    report("colours mapped")
    first = index.copy()

    min_count = config.min_count if config.min_count is not None else (
        1 if config.all_colors or keep_all else default_min_count(n_filled))
    if capacity is not None:
        index, _ = enforce_capacity(index, target_lab, palette.lab, capacity, empty)
    index, _ = fold_rare(index, target_lab, palette.lab, min_count, empty, capacity)
    report("cleanup done" if cleanup > 0 else "colours counted")

    index[empty] = index[~empty][0]  # any used colour; empty.all() was refused above
    metadata = {
        "method": "convert",
        "convert": asdict(config),
        "palette": palette.name,
        "source_size": [src_w, src_h],
        "crop_box": list(src_layout.crop_box),
        "intent": intent,
        "intent_reason": intent_reason,
        "min_count": int(min_count),
        "merged": _merges(palette, first, index, empty, capacity),
        "notes": fit_notes(src_w, src_h, src_layout, W, H, config.fit),
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
    colours), matched to the allowed palette colours by CIEDE2000 with near ties going to the sprite's common
    colours (engine.convert.grid.map_cells). The cell picture, now in palette colours, goes 1:1 through the normal
    pipeline with the pixel-art intent, so the colour budget, minimum count, stash and background removal still
    apply. The pattern's metadata gets ``grid`` (cols, rows, pitch, phase, confidence, bounds).
    """
    img = load_image(source)
    src_size = [img.width, img.height]
    work, factor = _reduce_for_work(img)  # a huge picture: its grid is found on a whole-factor reduction
    del img
    rgba = np.asarray(work)
    opaque = bool((rgba[..., 3] == 255).all())
    flat = composite_over_white(rgba)
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
    allowed = np.asarray(allowed_colors(palette, config), dtype=np.int64)  # owned / finishes / stash
    labels = map_cells(cells[..., :3], palette.lab[allowed], mask=cells[..., 3] >= 128)
    cells[..., :3] = palette.rgb8[allowed[labels]]
    cell_img = Image.fromarray(cells, "RGBA")
    name = _source_name(source)
    if name:
        cell_img.info["source_name"] = name
    inner = replace(config, width=grid.cols, height=grid.rows, fit="stretch", resample="area", intent="pixel-art")
    pattern = convert_image(cell_img, palette, inner, progress, cancel)
    summary = grid.summary()
    if factor != 1:  # in the picture's own pixels
        summary.update({k: round(summary[k] * factor, 3) for k in ("pitch_x", "pitch_y", "phase_x", "phase_y")})
        summary["bounds"] = [int(round(v * factor)) for v in summary["bounds"]]
    pattern.metadata.update(source_size=src_size, grid=summary, crop_box=summary["bounds"],
                            intent_reason=f"size auto: pixel grid {grid.cols}x{grid.rows} found "
                                          f"(confidence {grid.confidence:.2f})")
    log.info("pixel grid %dx%d cells (pitch %.2f x %.2f px)", grid.cols, grid.rows, grid.pitch_x, grid.pitch_y)
    return pattern


# --------------------------------------------------------------------------- colours, stash, summary


def allowed_colors(palette: Palette, config: ConvertConfig) -> list[int]:
    """Palette positions a conversion may use: ``owned`` codes, else the colours of ``finishes``; with a stash,
    only colours with stock. Raises ConvertError when nothing is left."""
    try:
        if config.owned:
            allowed = sorted({palette.index_of(str(c)) for c in config.owned})
        else:
            allowed = palette.finish_indices(config.finishes)
    except PaletteError as exc:
        raise ConvertError(str(exc)) from None
    if config.stash is not None:
        codes = {palette[palette.index_of(c)].code for c, n in config.stash.items() if int(n) > 0
                 if _has_code(palette, c)}
        allowed = [i for i in allowed if palette[i].code in codes]
    if not allowed:
        what = "owned colours" if config.owned else f"colours of finish {', '.join(parse_finishes(config.finishes))}"
        if config.stash is not None:
            what += " with stock in the stash"
        raise ConvertError(f"palette {palette.name!r} has no {what}; its finishes are {', '.join(palette.finishes)} "
                           f"(add some with --finishes)")
    return allowed


def _add_detail_colors(chosen: list[int], allowed: list[int], palette: Palette, target_lab: np.ndarray,
                       empty: np.ndarray, min_count: int, features: bool = True) -> list[int]:
    """Add the nearest allowed colour of high-contrast one-cell details and small features the chosen colours
    cannot show.

    The error curve weighs cells by number, so a star or a highlight hardly counts there; a detail whose best
    chosen colour is more than half the detail contrast away gets its own colour (the min-count rule may still
    fold it into the nearest colour in use). With ``features``, cells farther than ``FEATURE_DE`` from every
    chosen colour (a pair of green eyes) add their own nearest colour when it would cover ``min_count`` cells
    (at most ``MAX_FEATURE_COLOURS`` of them).
    """
    details = detail_mask(target_lab) & ~empty
    extra: set[int] = set()
    if details.any():
        lab = target_lab[details]
        _, de = nearest_candidates(lab, palette.lab[chosen], 1)
        far = de[:, 0] > DETAIL_DE / 2
        if far.any():
            extra = {allowed[i] for i in nearest_index(lab[far], palette.lab[allowed])}
    # small features (a pair of green eyes): a few cells far from every chosen colour whose own nearest colour
    # covers at least min_count of them; the photo cleanup keeps such a colour near where it is the nearest
    if not features:
        return sorted(set(chosen) | extra)
    lab = target_lab[~empty]
    # CIEDE2000 rarely exceeds plain Lab distance: only cells over FEATURE_DE in Lab are checked by CIEDE2000
    maybe = cKDTree(palette.lab[chosen]).query(lab, k=1)[0] > FEATURE_DE
    lab = lab[maybe]
    far = nearest_candidates(lab, palette.lab[chosen], 1)[1][:, 0] > FEATURE_DE if len(lab) else np.zeros(0, bool)
    if far.any():
        own = np.asarray(allowed)[nearest_index(lab[far], palette.lab[allowed])]
        codes, counts = np.unique(own, return_counts=True)
        order = np.argsort(-counts)
        extra |= {int(codes[i]) for i in order[:MAX_FEATURE_COLOURS] if counts[i] >= min_count}
    if extra - set(chosen):
        log.info("colour budget: %d colour(s) added for details and small features", len(extra - set(chosen)))
    return sorted(set(chosen) | extra)


def _has_code(palette: Palette, code: str) -> bool:
    try:
        palette.index_of(str(code))
        return True
    except PaletteError:
        return False


def _capacity(palette: Palette, stash: dict[str, int]) -> np.ndarray:
    """Pieces owned per palette position (0 where the stash does not list the colour)."""
    cap = np.zeros(len(palette), dtype=np.int64)
    for code, n in stash.items():
        if not _has_code(palette, code):
            raise ConvertError(f"stash colour {code!r} is not in palette {palette.name!r}")
        cap[palette.index_of(str(code))] += int(n)
    return cap


def _cover_stock(chosen: list[int], allowed: list[int], capacity: np.ndarray, cells: int) -> list[int]:
    """Add allowed colours (most stock first) until the chosen colours' stock covers every cell."""
    chosen = list(chosen)
    rest = sorted((i for i in allowed if i not in chosen), key=lambda i: -capacity[i])
    while capacity[chosen].sum() < cells and rest:
        chosen.append(rest.pop(0))
    return sorted(chosen)


def _merges(palette: Palette, first: np.ndarray, final: np.ndarray, empty: np.ndarray,
            capacity: np.ndarray | None) -> list[dict]:
    """Colours the first mapping used that the final pattern dropped (min count) or cut back (stock)."""
    filled = ~empty
    n = len(palette)
    c0 = np.bincount(first[filled], minlength=n)
    c1 = np.bincount(final[filled], minlength=n)
    out = []
    for i in np.flatnonzero(c0 > c1):
        cells = filled & (first == i) & (final != i)
        dest = np.bincount(final[cells], minlength=n)
        reason = "min-count" if c1[i] == 0 else "stock"
        if capacity is not None and c1[i] == 0 and c0[i] > capacity[i]:
            reason = "stock"
        out.append({"code": palette[i].code, "cells": int(cells.sum()), "reason": reason,
                    "into": {palette[j].code: int(dest[j]) for j in np.flatnonzero(dest)}})
    return out


def fit_notes(src_w: int, src_h: int, layout, width: int, height: int, fit: str) -> list[str]:
    """Plain-words notes on how the picture was fitted to the grid (a crop to the pattern's shape, padding)."""
    x0, y0, x1, y1 = layout.crop_box
    kept_w, kept_h = x1 - x0, y1 - y0
    share = kept_w * kept_h / (src_w * src_h)
    if fit == "crop" and share < CROP_NOTE_SHARE:
        sides = "left and right" if kept_w < src_w else "top and bottom"
        return [f"cropped to the pattern's shape ({width}x{height} cells): the {src_w}x{src_h} px picture lost "
                f"its {sides} edges; {share:.0%} of it is used (pixels {x0}-{x1} x {y0}-{y1}); set fit to pad or "
                f"stretch to keep all of it"]
    cx, cy, cw, ch = layout.cells
    if fit == "pad" and (cw, ch) != (width, height):
        return [f"padded to the pattern's shape: the picture fills {cw}x{ch} of the {width}x{height} cells, "
                f"the rest is empty"]
    return []


def summary_lines(pattern: Pattern, notes: bool = True) -> list[str]:
    """Human-readable lines on how a conversion chose its colours: fit notes, intent, budget, merges (for CLI and
    GUI). ``notes=False`` leaves out the fit notes (the app shows them beside the picture)."""
    md = pattern.metadata
    lines = list(md.get("notes", [])) if notes else []
    if "intent" in md:
        lines.append(f"intent: {md['intent']} ({md.get('intent_reason', '')})")
    if "min_count" in md:
        lines.append(f"minimum {md['min_count']} cells per colour")
    for m in md.get("merged", []):
        into = ", ".join(f"{c} x{n}" for c, n in sorted(m["into"].items(), key=lambda kv: -kv[1]))
        if m["reason"] == "min-count":
            lines.append(f"merged {m['code']}: {m['cells']} cell(s), used fewer than the minimum -> {into}")
        else:
            lines.append(f"stock: {m['cells']} cell(s) of {m['code']} beyond the pieces owned -> {into}")
    return lines


def _pixel_art_target(region: np.ndarray, layout, target_lab: np.ndarray, target_lin: np.ndarray,
                      config: ConvertConfig) -> tuple[np.ndarray, np.ndarray]:
    """Targets for pixel-art input: one colour per source pixel-art cell, sampled on the detected grid.

    Without engine.convert.grid the area-averaged targets are kept (use ``resample="dominant"`` then).
    """
    if not grid_available():
        log.info("pixel-art intent without grid detection: per-cell area average")
        return target_lab, target_lin
    if region.shape[:2] == tuple(layout.cells[2:][::-1]):  # one source pixel per cell (size auto): nothing to do
        return target_lab, target_lin
    from engine.convert.grid import detect_grid, sample_grid

    rgb = np.ascontiguousarray(region[..., :3])
    cells = sample_grid(rgb, detect_grid(rgb))
    cx, cy, cw, ch = layout.cells
    ys = (np.arange(ch) * cells.shape[0]) // ch
    xs = (np.arange(cw) * cells.shape[1]) // cw
    sampled = cells[ys][:, xs]
    lin = target_lin.copy()
    lin[cy:cy + ch, cx:cx + cw] = srgb_to_linear(sampled / 255.0)
    return linear_to_lab(lin), lin
