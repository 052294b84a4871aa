"""Test pictures of the project's own making, with known truth, for the converter's maker figures (issue 21).

Every generator is deterministic (a seed) and needs only numpy and Pillow, so tests and benchmarks share them:

- ``logo``: anti-aliased flat art with known flat colours (bars, rings, bold letters, drawn 4x and reduced).
- ``sky`` / ``sunset``: gradients: a blue sky from L* 30 to 57 with sensor noise, a clean sunset.
- ``fur_eyes``: brown fur texture with two small yellow-green eyes (and the eyes' mask).
- ``sprite``: pseudo pixel art (6-11 px blocks, JPEG-blurred) with rare colours of 2-6 cells (eyes, highlights).
- ``lattice``: a sky with a lattice tower, a mast and a fence whose bars are 1-2 cells wide at the target scale.

The figures (``foreign_cells``, ``bands``, ``fur_speckle``, ``exact_cells``, ``line_widths``) are measured on
palette index maps; benchmarks/convert_quality.py prints them for our converter against plain nearest colour.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

STARTER_KIT = ("White", "Yellow", "Orange", "Red", "Purple", "Dark Blue", "Light Blue", "Brown", "Black", "Tan",
               "Green", "Pink")  # Perler colour names of a 12-colour starter kit


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy()


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the small bitmap font
        return ImageFont.load_default()


# --------------------------------------------------------------------------- flat art


@dataclass
class Logo:
    """An anti-aliased logo and the flat colours it was drawn with (k x 3 uint8)."""

    image: np.ndarray
    colors: np.ndarray


def logo(seed: int = 0, size: tuple[int, int] = (768, 384), jpeg: int | None = None) -> Logo:
    """A 6-colour logo: white ground, a blue bar, red and yellow rings, bold black letters; drawn at 4x, reduced."""
    rng = np.random.default_rng(seed)
    w, h = size
    s = 4
    schemes = [
        [(255, 255, 255), (24, 64, 160), (214, 40, 40), (250, 200, 30), (20, 20, 20), (40, 150, 70)],
        [(250, 246, 235), (120, 40, 140), (240, 120, 30), (80, 180, 220), (25, 25, 35), (230, 90, 150)],
        [(255, 255, 255), (10, 110, 90), (250, 210, 0), (200, 30, 60), (30, 30, 30), (60, 100, 200)],
    ]
    cols = [tuple(c) for c in schemes[seed % len(schemes)]]
    img = Image.new("RGB", (w * s, h * s), cols[0])
    d = ImageDraw.Draw(img)
    bar_y = int(h * s * rng.uniform(0.72, 0.8))
    d.rectangle([0, bar_y, w * s, bar_y + int(h * s * 0.1)], fill=cols[1])
    cx, cy, r = int(w * s * 0.2), int(h * s * 0.38), int(h * s * 0.26)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=cols[2])
    r2 = int(r * 0.62)
    d.ellipse([cx - r2, cy - r2, cx + r2, cy + r2], fill=cols[3])
    r3 = int(r * 0.3)
    d.ellipse([cx - r3, cy - r3, cx + r3, cy + r3], fill=cols[5])
    text = ["PIXL", "BEAD", "LOGO"][seed % 3]
    font = _font(int(h * s * 0.42))
    d.text((int(w * s * 0.42), int(h * s * 0.12)), text, fill=cols[4], font=font, stroke_width=int(s * 3),
           stroke_fill=cols[4])
    d.polygon([(w * s * 0.45, h * s * 0.66), (w * s * 0.95, h * s * 0.62), (w * s * 0.95, h * s * 0.68)],
              fill=cols[5])
    rgb = np.asarray(img.resize((w, h), Image.Resampling.LANCZOS))
    if jpeg:
        rgb = _jpeg(rgb, jpeg)
    return Logo(rgb, np.array(cols, dtype=np.uint8))


# --------------------------------------------------------------------------- gradients


def _lab_to_srgb8(lab: np.ndarray) -> np.ndarray:
    from engine.core.color import lab_to_xyz, linear_to_srgb, xyz_to_linear

    return np.clip(np.rint(linear_to_srgb(np.clip(xyz_to_linear(lab_to_xyz(lab)), 0, 1)) * 255), 0, 255
                   ).astype(np.uint8)


def sky(seed: int = 0, size: int = 512, noise: float = 6.0) -> np.ndarray:
    """A blue sky from L* 30 (top) to 57 (bottom) with sensor noise (per-pixel plus a little blotchy noise)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, size)[:, None] * np.ones((1, size))
    lab = np.stack([30 + 27 * t, -2 + 6 * t, -42 + 12 * t], axis=-1)
    rgb = _lab_to_srgb8(lab).astype(np.float64)
    blotch = np.asarray(Image.fromarray(rng.normal(128, 40, (size // 16, size // 16)).clip(0, 255).astype(np.uint8))
                        .resize((size, size), Image.Resampling.BICUBIC)).astype(np.float64) - 128
    rgb += rng.normal(0, noise, rgb.shape) + 0.08 * blotch[..., None]
    return _jpeg(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), 90)


def sunset(size: int = 512) -> np.ndarray:
    """A clean sunset gradient: deep purple at the top through red and orange to yellow at the bottom."""
    stops = np.array([[60, 30, 90], [170, 50, 90], [230, 90, 50], [250, 170, 60], [255, 225, 120]], dtype=float)
    t = np.linspace(0.0, len(stops) - 1, size)
    i = np.minimum(t.astype(int), len(stops) - 2)
    f = (t - i)[:, None]
    rows = stops[i] * (1 - f) + stops[i + 1] * f
    return np.repeat(np.rint(rows)[:, None, :], size, axis=1).astype(np.uint8)


# --------------------------------------------------------------------------- small features in texture

FUR_BROWN = (135, 100, 45)
FUR_EYE = (140, 170, 40)


def fur_eyes(seed: int = 0, size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Brown fur (streaky texture) with two small yellow-green eyes; returns ``(rgb, eye mask at size x size)``."""
    rng = np.random.default_rng(seed)
    base = np.array(FUR_BROWN, dtype=float)
    streak = rng.normal(0, 1, (size // 2, size // 16))
    streak = np.asarray(Image.fromarray(((streak * 40) + 128).clip(0, 255).astype(np.uint8))
                        .resize((size, size), Image.Resampling.BICUBIC)).astype(float) - 128
    fine = rng.normal(0, 10, (size, size))
    shade = np.linspace(-12, 12, size)[None, :]
    rgb = base[None, None, :] + (0.5 * streak + fine + shade)[..., None] * np.array([1.0, 0.75, 0.5])
    img = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
    mask = Image.new("L", (size, size), 0)
    d, dm = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    r = size * 0.014  # about 2.3 cells across at 64 cells
    for ex in (0.4, 0.6):
        box = [size * ex - r * 1.3, size * 0.45 - r, size * ex + r * 1.3, size * 0.45 + r]
        d.ellipse(box, fill=FUR_EYE)
        dm.ellipse(box, fill=255)
    rgb8 = np.asarray(img.filter(ImageFilter.GaussianBlur(0.7)))
    return _jpeg(rgb8, 90), np.asarray(mask) > 127


# --------------------------------------------------------------------------- sprites


@dataclass
class Sprite:
    """A degraded sprite and its truth (rows x cols labels into ``colors``)."""

    image: np.ndarray
    labels: np.ndarray
    colors: np.ndarray


def sprite(seed: int, colors: np.ndarray, n_colors: int = 9) -> Sprite:
    """Pseudo pixel art at 6-11 px blocks, JPEG-blurred, with 2-3 rare colours of 2-6 cells (eyes, highlights)."""
    from benchmarks.pixelart_inputs import PixelArtSpec, block_edges, degrade, distinct_colors, make_sprite

    rng = np.random.default_rng(1000 + seed)
    cols, rows = (int(v) for v in rng.integers(24, 48, 2))
    pitch = float(rng.uniform(6.0, 11.0))
    pick = distinct_colors(colors, n_colors + 3, rng, min_dist=60.0)
    dark = int(np.argmin(pick.astype(float).sum(axis=1)))
    order = [i for i in range(len(pick)) if i != dark]
    pick = pick[[order[0], dark] + order[1:]]
    labels = make_sprite(cols, rows, n_colors, rng)
    labels[labels >= n_colors] = 0
    for k in range(n_colors, len(pick)):  # rare colours: 2-6 cells each (a pair of eyes, a highlight)
        n = int(rng.integers(2, 7))
        y, x = int(rng.integers(2, rows - 3)), int(rng.integers(2, cols - 4))
        cells = [(y, x + j) for j in range(min(n, 3))] + [(y + 1, x + j) for j in range(max(0, n - 3))]
        for yy, xx in cells:
            labels[yy, xx] = k
    xs = block_edges(cols, pitch, 1, rng)
    ys = block_edges(rows, pitch, 1, rng)
    col_of = np.repeat(np.arange(cols), np.diff(xs))
    row_of = np.repeat(np.arange(rows), np.diff(ys))
    img = pick[labels[row_of[:, None], col_of[None, :]]]
    spec = PixelArtSpec(blur=0.8, noise=3.0, jpeg=80)
    return Sprite(degrade(img, spec, rng), labels, pick)


# --------------------------------------------------------------------------- thin lattices


@dataclass
class Lattice:
    """A sky with thin dark structures; ``line_mask`` (cells x cells) marks where the structures are."""

    image: np.ndarray
    cells: int
    mast_cols: tuple[int, int]  # cell columns of the mast's bar (1-2 cells wide)
    tower_cols: tuple[int, int]  # the tower's two legs (each 1 cell wide), cell columns
    rows: tuple[int, int]  # cell rows where the mast and tower stand (top, bottom)


def lattice(seed: int = 0, cells: int = 64, px: int = 8) -> Lattice:
    """A sky gradient with a lattice tower (two legs 1 cell wide, 0.7 with odd seeds; braces), a mast and a fence."""
    rng = np.random.default_rng(seed)
    size = cells * px
    t = np.linspace(0, 1, size)[:, None] * np.ones((1, size))
    lab = np.stack([62 + 22 * t, -6 + 3 * t, -30 + 18 * t], axis=-1)
    rgb = _lab_to_srgb8(lab).astype(float) + rng.normal(0, 3, (size, size, 3))
    img = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    dark = (45, 45, 50)
    top, bottom = 10, 56
    # mast: 2 cells wide (offset half a cell: it straddles 3 cells' columns in part)
    mx = 12 * px + px // 2
    d.rectangle([mx, top * px, mx + int(1.6 * px) - 1, bottom * px], fill=dark)
    # tower: two legs 1 cell wide, braces 1 px less than a cell
    lx, rx = 34 * px, 44 * px
    leg = int(round(px * (0.7 if seed % 2 else 1.0)))  # seed 1: legs thinner than a cell
    d.rectangle([lx, top * px, lx + leg - 1, bottom * px], fill=dark)
    d.rectangle([rx, top * px, rx + leg - 1, bottom * px], fill=dark)
    for yb in range(top, bottom, 8):
        d.line([(lx, yb * px), (rx + px, (yb + 8) * px)], fill=dark, width=max(2, leg - 3))
        d.line([(rx + px, yb * px), (lx, (yb + 8) * px)], fill=dark, width=max(2, leg - 3))
    # fence: posts and two rails near the bottom
    for x in range(52, 63, 3):
        d.rectangle([x * px, 50 * px, x * px + px - 2, 62 * px], fill=(90, 60, 35))
    for y in (53, 58):
        d.rectangle([50 * px, y * px, 64 * px, y * px + px - 2], fill=(90, 60, 35))
    d.rectangle([0, 62 * px, size, size], fill=(70, 110, 50))
    return Lattice(_jpeg(np.asarray(img), 92), cells, (12, 14), (34, 44), (top, bottom))


# --------------------------------------------------------------------------- figures


def foreign_cells(index: np.ndarray, allowed: set[int]) -> tuple[int, int]:
    """(colours used outside ``allowed``, cells in them)."""
    used, counts = np.unique(index, return_counts=True)
    bad = [i for i in range(len(used)) if int(used[i]) not in allowed]
    return len(bad), int(sum(counts[i] for i in bad))


def bands(index: np.ndarray, palette_lab: np.ndarray) -> tuple[int, bool]:
    """Distinct colours of the row-modal colours from top to bottom, and whether their L* keeps one direction.

    ``(number of bands, ordered)``: a band is a run of rows with the same modal colour; ordered means the
    bands' L* rises (or falls) monotonically and no colour comes back after another.
    """
    modal = [int(np.bincount(row).argmax()) for row in index]
    runs = [modal[0]] + [m for a, m in zip(modal, modal[1:]) if m != a]
    L = np.asarray(palette_lab)[runs, 0]
    d = np.diff(L)
    ordered = len(set(runs)) == len(runs) and (bool((d >= 0).all()) or bool((d <= 0).all()))
    return len(runs), ordered


def fur_speckle(index: np.ndarray, eye_cells: np.ndarray) -> tuple[float, bool]:
    """``(share of fur cells in a colour used on the eyes, eyes kept)``.

    The eyes' colours are those used on eye cells other than the fur's commonest colour; fur cells are those
    more than 2 cells from an eye. The eyes are kept when any eye cell has an eye colour.
    """
    from scipy import ndimage

    fur = ~ndimage.binary_dilation(eye_cells, iterations=2)
    fur_main = int(np.bincount(index[fur]).argmax())
    eye_cols = [int(c) for c in np.unique(index[eye_cells]) if c != fur_main]
    return float(np.isin(index[fur], eye_cols).mean()), bool(eye_cols)


def exact_cells(index_rgb: np.ndarray, truth_rgb: np.ndarray) -> float:
    """Share of cells whose colour equals the truth's (0 when the sizes differ)."""
    if index_rgb.shape != truth_rgb.shape:
        return 0.0
    return float((index_rgb == truth_rgb).all(axis=-1).mean())


def line_widths(index: np.ndarray, palette_lab: np.ndarray, lat: Lattice) -> dict[str, float]:
    """Per structure: the share of its rows where it shows, and its mean and max width in cells there.

    A cell belongs to a structure when its L* is at least 12 below the row's sky (the row's median L*).
    Mast: columns ``mast_cols`` +- 2; tower legs: +-2 columns around each leg, between the braces' crossings.
    """
    L = np.asarray(palette_lab)[index, 0]
    out = {}
    top, bottom = lat.rows
    for name, (c0, c1) in (("mast", lat.mast_cols), ("leg", (lat.tower_cols[0], lat.tower_cols[0] + 1))):
        shown, widths = 0, []
        for y in range(top + 1, bottom - 1):
            sky_l = float(np.median(L[y, :30])) if name == "mast" else float(np.median(L[y, :8]))
            dark = L[y, max(0, c0 - 2):c1 + 2] < sky_l - 12
            if dark.any():
                shown += 1
                widths.append(int(dark.sum()))
        n = bottom - top - 2
        out[f"{name} shown"] = shown / n
        out[f"{name} width"] = float(np.mean(widths)) if widths else 0.0
        out[f"{name} max"] = float(max(widths)) if widths else 0.0
    return out
