"""Stitch previews: a faithful raster of what the machine sews, and a thread legend.

Every stitch (a move between two needle positions that leaves thread) is painted in sewing order as
a thread of ``THREAD_WIDTH_MM`` with round ends: a pixel takes the colour of the last stitch whose
centre line passes within half a thread width of the pixel centre. Jumps and trims leave no thread.
Vectorised with numpy (stitch boxes as ragged pixel lists), so large designs render in seconds.
"""

from __future__ import annotations

import numpy as np
import pyembroidery as pe

from engine.core import limits

FABRIC_RGB = (242, 239, 230)
# Width a sewn 40 wt machine thread covers (mm): a little more than the 0.4 mm row spacing, so fills close.
THREAD_WIDTH_MM = 0.45
LEGEND_ROW_PX = 18
LEGEND_MIN_WIDTH_PX = 420
_CHUNK_PIXELS = 4_000_000


def stitch_segments(cmds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) record indices of every stitch: each STITCH record ends a stitch that starts at the
    previous record when that is a STITCH or a JUMP (the needle lands where the jump ended), and is a
    single needle point (start == end) otherwise."""
    cmds = np.asarray(cmds, dtype=np.int64) & pe.COMMAND_MASK
    i = np.flatnonzero(cmds == pe.STITCH)
    prev_ok = np.zeros(i.size, dtype=bool)
    prev_ok[i > 0] = np.isin(cmds[i[i > 0] - 1], (pe.STITCH, pe.JUMP))
    return np.where(prev_ok, i - 1, i), i


def rasterise(a: np.ndarray, b: np.ndarray, color: np.ndarray, shape: tuple[int, int], half_width: float
              ) -> np.ndarray:
    """Paint segments a -> b (pixel coordinates, in order) of width 2 * half_width with round ends.
    Returns an (h, w) int image of the colour index of the last segment covering each pixel (-1: none)."""
    h, w = shape
    out = np.full(h * w, -1, dtype=np.int64)
    if len(a) == 0:
        return out.reshape(h, w)
    x0 = np.clip(np.floor(np.minimum(a[:, 0], b[:, 0]) - half_width).astype(np.int64), 0, w)
    x1 = np.clip(np.ceil(np.maximum(a[:, 0], b[:, 0]) + half_width).astype(np.int64) + 1, 0, w)
    y0 = np.clip(np.floor(np.minimum(a[:, 1], b[:, 1]) - half_width).astype(np.int64), 0, h)
    y1 = np.clip(np.ceil(np.maximum(a[:, 1], b[:, 1]) + half_width).astype(np.int64) + 1, 0, h)
    bw, bh = x1 - x0, y1 - y0
    n_px = bw * bh
    ends = np.cumsum(n_px)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    hw2 = np.float32(half_width * half_width)
    start = 0
    while start < len(a):  # chunks in sewing order, so later stitches still paint over earlier ones
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + _CHUNK_PIXELS, side="right"))
        stop = max(stop, start + 1)
        cnt = n_px[start:stop]
        owner = np.repeat(np.arange(start, stop, dtype=np.int32), cnt)
        k = np.arange(owner.size, dtype=np.int32) - np.repeat((ends[start:stop] - cnt - base).astype(np.int32), cnt)
        row, col = np.divmod(k, bw[owner].astype(np.int32))
        px = x0[owner].astype(np.int32) + col
        py = y0[owner].astype(np.int32) + row
        ax, ay = a32[owner, 0], a32[owner, 1]
        dx, dy = b32[owner, 0] - ax, b32[owner, 1] - ay
        rx, ry = px.astype(np.float32) + np.float32(0.5) - ax, py.astype(np.float32) + np.float32(0.5) - ay
        ll = dx * dx + dy * dy
        t = np.clip((rx * dx + ry * dy) / np.maximum(ll, np.float32(1e-12)), 0.0, 1.0)
        t[ll <= 0] = 0.0
        ex, ey = t * dx - rx, t * dy - ry
        inside = ex * ex + ey * ey <= hw2
        # numpy keeps the last of repeated indices in one assignment, i.e. the latest stitch
        out[(py * w + px)[inside]] = color[owner[inside]]
        start = stop
    return out.reshape(h, w)


def preview_geometry(units: np.ndarray, cmds: np.ndarray, px_per_mm: float | None, margin_mm: float
                     ) -> tuple[np.ndarray, float, tuple[int, int]]:
    """(origin in mm, scale in px/mm, (width, height) in px) of a preview of these stitches."""
    xy = np.asarray(units, dtype=np.float64).reshape(-1, 2) / 10.0
    stitch = (np.asarray(cmds, dtype=np.int64) & pe.COMMAND_MASK) == pe.STITCH
    lo, hi = xy[stitch].min(axis=0) - margin_mm, xy[stitch].max(axis=0) + margin_mm
    span = hi - lo
    scale = px_per_mm or min(8.0, limits.MAX_PREVIEW_SIDE.value / max(float(span.max()), 1e-6))
    size = np.maximum(np.ceil(span * scale).astype(int), 1)
    return lo, float(scale), (int(size[0]), int(size[1]))


def draw_plan(units: np.ndarray, cmds: np.ndarray, colors: list[tuple[int, int, int]],
              px_per_mm: float | None = None, margin_mm: float = 2.0):
    """A PIL image of stitches (0.1 mm units, commands) in thread colours on a fabric background.
    Jumps are not drawn; each colour block uses the next colour."""
    from PIL import Image

    units = np.asarray(units, dtype=np.float64).reshape(-1, 2)
    cmds = np.asarray(cmds, dtype=np.int64) & pe.COMMAND_MASK
    if not (cmds == pe.STITCH).any():
        return Image.new("RGB", (16, 16), FABRIC_RGB)
    lo, scale, (w, h) = preview_geometry(units, cmds, px_per_mm, margin_mm)
    px = (units / 10.0 - lo) * scale
    block = np.cumsum(cmds == pe.COLOR_CHANGE)
    j, i = stitch_segments(cmds)
    a = px[j]
    palette = np.array(list(colors) or [(0, 0, 0)], dtype=np.uint8)
    color = np.minimum(block[i], len(palette) - 1)
    idx = rasterise(a, px[i], color, (h, w), max(THREAD_WIDTH_MM * scale / 2, 0.5))
    rgb = np.where(idx[..., None] >= 0, palette[np.maximum(idx, 0)], np.array(FABRIC_RGB, dtype=np.uint8))
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def add_legend(img, threads: list, stitches: list[int], title: str = ""):
    """The stitch image with a thread legend below it: a swatch, brand, code, name and stitch count
    per thread, in sewing order."""
    from PIL import Image, ImageDraw, ImageFont

    width = max(img.width, LEGEND_MIN_WIDTH_PX)
    row = max(LEGEND_ROW_PX, width // 60)  # legible on large previews too
    try:
        font = ImageFont.load_default(size=int(row * 0.6))
    except TypeError:  # Pillow without scalable default font
        font = ImageFont.load_default()
    rows = len(threads) + (1 if title else 0)
    out = Image.new("RGB", (width, img.height + 8 + rows * row + 4), (255, 255, 255))
    out.paste(img, (0, 0))
    draw = ImageDraw.Draw(out)
    y = img.height + 8
    if title:
        draw.text((6, y + 2), title, fill=(0, 0, 0), font=font)
        y += row
    swatch = int(row * 1.4)
    for n, (t, count) in enumerate(zip(threads, stitches)):
        draw.rectangle([6, y + 2, 6 + swatch, y + row - 4], fill=tuple(t.rgb), outline=(0, 0, 0))
        draw.text((14 + swatch, y + 3), f"{n + 1}. {t.brand} {t.code} {t.name} - {count:,} stitches", fill=(0, 0, 0),
                  font=font)
        y += row
    return out
