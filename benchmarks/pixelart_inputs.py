"""Synthetic "pseudo pixel art" with a known ground truth, for grid-detection tests and benchmarks.

A sprite (flat regions, one-cell outlines, thin lines and one-cell dots, drawn from given colours) is upscaled
by a possibly non-integer pitch with each interior block edge jittered by up to +-``jitter`` px, optionally
framed by a border, then Gaussian-blurred, noised and JPEG-compressed, like sprites made by image generators
or upscaled with uneven scaling. Needs only numpy and Pillow (no engine code), so tests and benchmarks share it.

    from benchmarks.pixelart_inputs import SETS, make_sample
    s = make_sample("x10.67-jitter", seed=0, colors=palette_rgb)   # s.image, s.labels, s.xs, s.ys ...
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class PixelArtSpec:
    """How one set of synthetic inputs is made (pitch in px per cell; ``pitch_range`` draws it per seed)."""

    pitch: float | None = None
    pitch_range: tuple[float, float] | None = None
    jitter: int = 0
    border: bool = False
    blur: float = 0.8  # Gaussian radius, px
    noise: float = 4.0  # Gaussian noise sigma, 0..255 levels
    jpeg: int = 75  # JPEG quality
    cells: tuple[int, int] = (24, 64)  # cols and rows are drawn from this range


SETS: dict[str, PixelArtSpec] = {
    "x8": PixelArtSpec(pitch=8.0),
    "x10.67-jitter": PixelArtSpec(pitch=32 / 3, jitter=1),
    "random-6-10": PixelArtSpec(pitch_range=(6.0, 10.0), jitter=1),
    "x9.4-border": PixelArtSpec(pitch=9.4, jitter=1, border=True),
}


@dataclass
class PixelArtSample:
    """A degraded sprite and its ground truth: ``labels`` (rows x cols) index ``colors`` (k x 3 uint8)."""

    image: np.ndarray  # H x W x 3 uint8
    labels: np.ndarray
    colors: np.ndarray
    xs: np.ndarray  # true cell edges in image px (cols + 1)
    ys: np.ndarray
    pitch: float

    @property
    def size(self) -> tuple[int, int]:
        """(cols, rows) of the ground truth."""
        return self.labels.shape[1], self.labels.shape[0]

    @property
    def truth_rgb(self) -> np.ndarray:
        """Ground-truth cell colours, rows x cols x 3 uint8."""
        return self.colors[self.labels]


def distinct_colors(table: np.ndarray, k: int, rng: np.random.Generator, min_dist: float = 70.0) -> np.ndarray:
    """Pick ``k`` rows of ``table`` (n x 3 uint8) that are at least ``min_dist`` apart in RGB (greedy, random)."""
    table = np.asarray(table, dtype=np.uint8)
    chosen: list[int] = []
    for i in rng.permutation(len(table)):
        d = np.linalg.norm(table[chosen].astype(float) - table[i].astype(float), axis=1) if chosen else [np.inf]
        if np.min(d) >= min_dist:
            chosen.append(int(i))
            if len(chosen) == k:
                break
    return table[chosen]


def make_sprite(cols: int, rows: int, n_colors: int, rng: np.random.Generator) -> np.ndarray:
    """Label image rows x cols in 0..n_colors-1: background 0, shapes, dark outlines (1), lines and dots."""
    lab = np.zeros((rows, cols), dtype=np.int64)
    yy, xx = np.mgrid[0:rows, 0:cols]
    fills = list(range(2, n_colors))
    for _ in range(int(rng.integers(3, 6))):
        c = int(rng.choice(fills))
        cx, cy = rng.uniform(0.15, 0.85) * cols, rng.uniform(0.15, 0.85) * rows
        rx, ry = rng.uniform(0.08, 0.3) * cols, rng.uniform(0.08, 0.3) * rows
        if rng.random() < 0.5:
            shape = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
        else:
            shape = (np.abs(xx - cx) <= rx) & (np.abs(yy - cy) <= ry)
        inner = shape.copy()
        inner[1:, :] &= shape[:-1, :]
        inner[:-1, :] &= shape[1:, :]
        inner[:, 1:] &= shape[:, :-1]
        inner[:, :-1] &= shape[:, 1:]
        lab[shape] = 1  # one-cell dark outline
        lab[inner] = c
    for _ in range(int(rng.integers(1, 4))):  # thin lines, one cell wide
        c = int(rng.choice(fills))
        if rng.random() < 0.5:
            y = int(rng.integers(1, rows - 1))
            x0, x1 = sorted(rng.integers(0, cols, 2))
            lab[y, x0:x1 + 1] = c
        else:
            x = int(rng.integers(1, cols - 1))
            y0, y1 = sorted(rng.integers(0, rows, 2))
            lab[y0:y1 + 1, x] = c
    n_dots = int(rng.integers(6, 14))  # one-cell details: eyes, highlights, stars
    lab[rng.integers(0, rows, n_dots), rng.integers(0, cols, n_dots)] = rng.choice(np.arange(1, n_colors), n_dots)
    return lab


def block_edges(n: int, pitch: float, jitter: int, rng: np.random.Generator) -> np.ndarray:
    """n + 1 block edges at ``round(i * pitch)``, interior ones moved by up to +-jitter (blocks stay >= 2 px)."""
    edges = np.rint(np.arange(n + 1) * pitch).astype(np.int64)
    if jitter:
        edges[1:-1] += rng.integers(-jitter, jitter + 1, n - 1)
    for i in range(1, n + 1):  # keep every block at least 2 px wide
        edges[i] = max(edges[i], edges[i - 1] + 2)
    return edges


def degrade(img: np.ndarray, spec: PixelArtSpec, rng: np.random.Generator) -> np.ndarray:
    """Blur, noise and JPEG-compress an H x W x 3 uint8 picture."""
    pil = Image.fromarray(img)
    if spec.blur > 0:
        pil = pil.filter(ImageFilter.GaussianBlur(spec.blur))
    arr = np.asarray(pil).astype(np.float64)
    if spec.noise > 0:
        arr = arr + rng.normal(0.0, spec.noise, arr.shape)
    pil = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=spec.jpeg)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy()


def make_sample(name: str, seed: int, colors: np.ndarray, n_colors: int = 10) -> PixelArtSample:
    """One degraded sprite of set ``name`` (a key of SETS) drawn from ``colors`` (n x 3 uint8, e.g. a palette)."""
    spec = SETS[name]
    rng = np.random.default_rng(seed)
    cols, rows = (int(v) for v in rng.integers(spec.cells[0], spec.cells[1] + 1, 2))
    pitch = spec.pitch if spec.pitch is not None else float(rng.uniform(*spec.pitch_range))
    pick = distinct_colors(colors, n_colors, rng)
    dark = np.argmin(pick.astype(float).sum(axis=1))
    order = [int(i) for i in range(len(pick)) if i != dark]
    pick = pick[[order[0], dark] + order[1:]]  # label 0 background, 1 the darkest (outlines)
    labels = make_sprite(cols, rows, len(pick), rng)
    xs = block_edges(cols, pitch, spec.jitter, rng)
    ys = block_edges(rows, pitch, spec.jitter, rng)
    col_of = np.repeat(np.arange(cols), np.diff(xs))
    row_of = np.repeat(np.arange(rows), np.diff(ys))
    img = pick[labels[row_of[:, None], col_of[None, :]]]
    if spec.border:
        # a frame of a colour far from the sprite's background, not a whole number of cells wide
        bg = pick[0].astype(float)
        frame = np.array([255, 255, 255] if bg.sum() < 384 else [20, 20, 20], dtype=np.uint8)
        # left, top, right, bottom: 0.4..0.6 of a cell past a whole number of cells (a whole number of cells
        # wide, a frame is indistinguishable from cells of the frame's colour)
        b = [int(round((rng.integers(0, 3) + rng.uniform(0.4, 0.6)) * pitch)) for _ in range(4)]
        h, w = img.shape[:2]
        out = np.empty((h + b[1] + b[3], w + b[0] + b[2], 3), dtype=np.uint8)
        out[:] = frame
        out[b[1]:b[1] + h, b[0]:b[0] + w] = img
        img, xs, ys = out, xs + b[0], ys + b[1]
    return PixelArtSample(image=degrade(img, spec, rng), labels=labels, colors=pick, xs=xs, ys=ys, pitch=pitch)
