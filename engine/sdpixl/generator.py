"""The SD-piXL image generator: per-cell palette logits rendered with a Gumbel-softmax.

One trainable tensor, ``logits`` (H x W x n, fp32), against a fixed palette (n x 3 sRGB in [0, 1]).
Renders: a stochastic soft image (training), the noise-free soft preview, the hard argmax image and the
index map / Pattern. Initialisations follow the reference (palette-bilinear, random) plus a CIEDE2000
variant and an init from the fast converter's Pattern.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.core.color import ciede2000_t, srgb_to_lab_t
from engine.core.palette import Palette
from engine.core.pattern import Pattern

log = logging.getLogger(__name__)

INIT_MODES = ("bilinear", "ciede2000", "converter", "random")


@dataclass
class TauSchedule:
    """Gumbel-softmax temperature per step.

    ``mode="random"`` (the reference): tau ~ U(low, high) redrawn every step.
    ``mode="anneal"``: geometric decay from ``high`` to ``low`` over the run.
    """

    mode: str = "random"
    low: float = 0.5
    high: float = 1.5

    def __post_init__(self) -> None:
        if self.mode not in ("random", "anneal"):
            raise ValueError(f"tau schedule mode must be 'random' or 'anneal', got {self.mode!r}")
        if not 0 < self.low <= self.high:
            raise ValueError(f"tau range must satisfy 0 < low <= high, got {self.low}..{self.high}")

    def value(self, fraction: float, generator: torch.Generator | None = None) -> float:
        """Temperature at run fraction ``fraction`` in [0, 1]."""
        if self.mode == "random":
            u = float(torch.rand((), generator=generator))
            return self.low + (self.high - self.low) * u
        f = min(max(fraction, 0.0), 1.0)
        return self.high * (self.low / self.high) ** f

    def value_t(self, fraction: float, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu") -> torch.Tensor | float:
        """As ``value`` but the random draw stays on ``device`` (a 0-dim tensor; no host sync)."""
        if self.mode == "random":
            u = torch.rand((), generator=generator, device=device)
            return self.low + (self.high - self.low) * u
        return self.value(fraction)


def _palette_tensor(palette: Palette | np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(palette, Palette):
        rgb = palette.rgb
    else:
        rgb = palette
    t = torch.as_tensor(np.asarray(rgb, dtype=np.float32))
    if t.ndim != 2 or t.shape[1] != 3 or t.shape[0] < 1:
        raise ValueError(f"a palette must be n x 3 sRGB values, got shape {tuple(t.shape)}")
    return t


def center_and_rescale(logits: torch.Tensor, norm: float | None = None) -> torch.Tensor:
    """Subtract each cell's mean logit, then scale every cell's vector to ``norm`` (default: the mean norm)."""
    centred = logits - logits.mean(dim=-1, keepdim=True)
    norms = centred.norm(dim=-1, keepdim=True)
    target = norms.mean() if norm is None else torch.as_tensor(norm, dtype=logits.dtype)
    return centred * (target / norms.clamp_min(1e-8))


def downsample_image(image: np.ndarray, height: int, width: int, antialias: bool = True) -> torch.Tensor:
    """Bilinear resize of an H x W x 3 image (uint8 or float in [0, 1]) to height x width (H x W x 3 float).

    ``antialias=True`` averages over each cell's footprint; False is plain bilinear sampling, which on a photo much
    larger than the grid reads only the few pixels nearest each cell centre (its noise passes through unaveraged).
    """
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise ValueError(f"expected an H x W x 3 image, got shape {arr.shape}")
    arr = arr[..., :3]
    x = torch.as_tensor(arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0))
    x = x.permute(2, 0, 1)[None]
    small = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=antialias)
    return small[0].permute(1, 2, 0).clamp(0.0, 1.0)


def init_colours(image: np.ndarray, height: int, width: int) -> torch.Tensor:
    """The colour each cell starts from (height x width x 3 float): the mean of the picture over the cell's
    footprint when the picture is larger than the grid, bilinear otherwise.

    The reference first resizes the input to the model's 1024 px (an averaging resize) and then samples it
    bilinearly; sampling a 3000 px photo bilinearly without averaging keeps several times the reference's pixel
    noise in the init, and a bilinear anti-aliasing filter would blend each cell with its neighbours.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] >= height and arr.shape[1] >= width:
        x = torch.as_tensor(arr[..., :3].astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0))
        small = F.adaptive_avg_pool2d(x.permute(2, 0, 1)[None], (height, width))
        return small[0].permute(1, 2, 0).clamp(0.0, 1.0)
    return downsample_image(image, height, width, antialias=False)


def logits_bilinear(image: np.ndarray, palette_rgb: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The reference's palette-bilinear init: lambda_k = -sqrt(n) * ||c - C_k||_1, centred, mean-norm rescaled,
    with c from ``init_colours`` (averaged over each cell's footprint)."""
    c = init_colours(image, height, width)
    n = palette_rgb.shape[0]
    dist = (c[:, :, None, :] - palette_rgb[None, None]).abs().sum(-1)
    return center_and_rescale(-math.sqrt(n) * dist)


def logits_ciede2000(image: np.ndarray, palette_rgb: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Our variant: the same construction with perceptual CIEDE2000 distances (scaled to the L1 range), on an
    area-averaged (anti-aliased) downsample."""
    c = downsample_image(image, height, width)
    n = palette_rgb.shape[0]
    lab = srgb_to_lab_t(c.double())[:, :, None, :]
    pal = srgb_to_lab_t(palette_rgb.double())[None, None]
    # CIEDE2000 spans roughly 0..100 where the sRGB L1 distance spans 0..3.
    dist = (ciede2000_t(lab, pal) * (3.0 / 100.0)).float()
    return center_and_rescale(-math.sqrt(n) * dist)


def logits_from_index(index: np.ndarray, n: int, confidence: float = 0.9) -> torch.Tensor:
    """Logits whose softmax gives probability ``confidence`` to the colour in ``index`` (H x W ints)."""
    idx = torch.as_tensor(np.asarray(index, dtype=np.int64))
    if n == 1:
        return torch.zeros(idx.shape + (1,))
    confidence = min(max(confidence, 1.0 / n + 1e-3), 1.0 - 1e-6)
    margin = math.log(confidence * (n - 1) / (1.0 - confidence))
    logits = F.one_hot(idx, n).float() * margin
    return logits - logits.mean(dim=-1, keepdim=True)


def logits_random(height: int, width: int, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """The reference's random init: N(0, 1), centred per cell, each cell rescaled to norm sqrt(n)."""
    raw = torch.randn(height, width, n, generator=generator)
    return center_and_rescale(raw, norm=math.sqrt(n))


def gumbel_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard Gumbel noise shaped like ``x``, drawn on ``x``'s device (``generator`` must live there too)."""
    u = torch.rand(x.shape, generator=generator, dtype=torch.float32, device=x.device).clamp_(1e-10, 1.0 - 1e-7)
    return (-torch.log(-torch.log(u))).to(dtype=x.dtype)


class PaletteGenerator(nn.Module):
    """Trainable logits over a fixed palette; renders soft, hard and straight-through images."""

    def __init__(self, logits: torch.Tensor, palette: Palette | np.ndarray | torch.Tensor) -> None:
        super().__init__()
        pal = _palette_tensor(palette)
        logits = torch.as_tensor(logits, dtype=torch.float32)
        if logits.ndim != 3 or logits.shape[-1] != pal.shape[0]:
            raise ValueError(f"logits must be H x W x {pal.shape[0]}, got {tuple(logits.shape)}")
        self.logits = nn.Parameter(logits.clone().float())
        self.register_buffer("palette_rgb", pal)
        self.palette = palette if isinstance(palette, Palette) else None

    # ----------------------------------------------------------------- construction
    @classmethod
    def create(cls, palette: Palette, height: int, width: int, mode: str = "bilinear",
               image: np.ndarray | None = None, pattern: Pattern | None = None,
               generator: torch.Generator | None = None) -> "PaletteGenerator":
        """Build a generator with one of ``INIT_MODES``.

        ``bilinear``/``ciede2000`` need ``image`` (H x W x 3); ``converter`` needs ``pattern`` (a Pattern of the
        target size on the same palette); ``random`` needs nothing.
        """
        if height < 1 or width < 1:
            raise ValueError(f"pattern size must be at least 1x1, got {width}x{height}")
        pal = _palette_tensor(palette)
        n = pal.shape[0]
        if mode == "random":
            logits = logits_random(height, width, n, generator)
        elif mode in ("bilinear", "ciede2000"):
            if image is None:
                raise ValueError(f"init mode {mode!r} needs an input image")
            fn = logits_bilinear if mode == "bilinear" else logits_ciede2000
            logits = fn(image, pal, height, width)
        elif mode == "converter":
            if pattern is None:
                raise ValueError("init mode 'converter' needs a Pattern from the fast converter")
            if pattern.shape != (height, width):
                pattern = pattern.resized(width, height)
            logits = logits_from_index(pattern.index, n)
        else:
            raise ValueError(f"unknown init mode {mode!r}; choose one of {', '.join(INIT_MODES)}")
        log.debug("initialised %dx%d logits over %d colours (%s)", width, height, n, mode)
        return cls(logits, palette)

    # ----------------------------------------------------------------- shape
    @property
    def height(self) -> int:
        return int(self.logits.shape[0])

    @property
    def width(self) -> int:
        return int(self.logits.shape[1])

    @property
    def n_colors(self) -> int:
        return int(self.logits.shape[2])

    # ----------------------------------------------------------------- renders
    def forward(self, tau: float | torch.Tensor = 1.0, hard: bool = False, generator: torch.Generator | None = None,
                noise: bool = True) -> torch.Tensor:
        """Gumbel-softmax render, H x W x 3 in [0, 1] (differentiable w.r.t. the logits).

        ``hard=True`` gives the straight-through estimator: the forward value is one palette colour per
        cell, the gradient is the soft one's.
        """
        z = self.logits
        if noise:
            z = z + gumbel_like(z, generator)
        probs = torch.softmax(z / tau, dim=-1)
        if hard:
            one_hot = F.one_hot(probs.argmax(-1), self.n_colors).to(probs.dtype)
            probs = one_hot - probs.detach() + probs
        return probs @ self.palette_rgb

    def soft_image(self) -> torch.Tensor:
        """Noise-free soft preview softmax(logits) . C, H x W x 3."""
        return torch.softmax(self.logits, dim=-1) @ self.palette_rgb

    @torch.no_grad()
    def hard_render(self) -> torch.Tensor:
        """The clean design as a tensor: the palette colour of each cell's argmax (no noise), H x W x 3 on the
        logits' device."""
        return self.palette_rgb[self.logits.argmax(-1)]

    def index_map(self) -> np.ndarray:
        """argmax colour per cell (no noise), H x W uint16."""
        return self.logits.detach().argmax(-1).cpu().numpy().astype(np.uint16)

    def hard_image(self) -> np.ndarray:
        """The final look: palette colour of the argmax per cell, H x W x 3 uint8."""
        rgb = (self.palette_rgb.detach().cpu().numpy() * 255.0).round().clip(0, 255).astype(np.uint8)
        return rgb[self.index_map()]

    def to_pattern(self, palette: Palette | None = None, metadata: dict | None = None) -> Pattern:
        """The current argmax design as a Pattern on ``palette`` (default: the palette given at construction)."""
        palette = palette or self.palette
        if palette is None:
            raise ValueError("to_pattern needs the Palette this generator was built with")
        return Pattern(self.index_map(), palette, metadata=dict(metadata or {}))

    @torch.no_grad()
    def center_(self) -> None:
        """Subtract each cell's mean logit (done after every optimiser step; keeps logits bounded)."""
        self.logits.sub_(self.logits.mean(dim=-1, keepdim=True))


def render_size(height: int, width: int, base: int, multiple: int = 64,
                max_aspect: float | None = None) -> tuple[int, int]:
    """A model resolution with about ``base``^2 pixels and the pattern's aspect ratio (sides multiples of
    ``multiple``), so non-square patterns are never stretched.

    ``max_aspect`` (e.g. 4 for SDXL, whose training buckets run from 512x2048 to 2048x512): a more extreme
    pattern gets a render clamped to that aspect, and ``upsample_for_model`` letterboxes it inside."""
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {width}x{height}")
    aspect = width / height
    if max_aspect:
        aspect = min(max(aspect, 1.0 / max_aspect), max_aspect)
    h = base / math.sqrt(aspect)
    w = base * math.sqrt(aspect)
    hh = max(multiple, int(round(h / multiple)) * multiple)
    ww = max(multiple, int(round(w / multiple)) * multiple)
    return hh, ww


def letterbox_box(height: int, width: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, left, content_h, content_w): the largest aspect-exact placement of height x width in ``size``."""
    big_h, big_w = size
    scale = min(big_h / height, big_w / width)
    ch = min(big_h, max(1, int(round(height * scale))))
    cw = min(big_w, max(1, int(round(width * scale))))
    return (big_h - ch) // 2, (big_w - cw) // 2, ch, cw


LETTERBOX_REPLICATE_MAX = 8  # pads up to this many pixels (rounding slack) repeat the edge; wider bands are grey
LETTERBOX_FILL = 0.5  # neutral grey (zero after the model's [-1, 1] scaling)


def upsample_for_model(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """B x 3 x h x w (or h x w x 3) render -> B x 3 x size: bilinear (as the reference) at the exact aspect,
    never stretched. The few rounding pixels left over repeat the edge; wider bands (an aspect beyond what the
    model was trained on, clamped by ``render_size``) are letterboxed in neutral grey, so edge cells get no
    extra weight."""
    x = image.permute(2, 0, 1)[None] if image.ndim == 3 else image
    top, left, ch, cw = letterbox_box(x.shape[-2], x.shape[-1], size)
    x = F.interpolate(x, size=(ch, cw), mode="bilinear", align_corners=False)
    pad = (left, size[1] - cw - left, top, size[0] - ch - top)
    if any(pad):
        mode = "replicate" if max(pad) <= LETTERBOX_REPLICATE_MAX else "constant"
        x = F.pad(x, pad, mode=mode, **({"value": LETTERBOX_FILL} if mode == "constant" else {}))
    return x


def letterbox_array(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an image (uint8 or float [0, 1], H x W [x C]) into ``size`` at the exact aspect (bicubic), filling
    the rest as ``upsample_for_model`` does (edge for rounding slack, grey bands); returns uint8."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    top, left, ch, cw = letterbox_box(arr.shape[0], arr.shape[1], size)
    small = np.asarray(Image.fromarray(arr).resize((cw, ch), Image.BICUBIC))
    pad = [(top, size[0] - ch - top), (left, size[1] - cw - left)] + [(0, 0)] * (small.ndim - 2)
    if max(max(p) for p in pad) <= LETTERBOX_REPLICATE_MAX:
        return np.pad(small, pad, mode="edge")
    return np.pad(small, pad, mode="constant", constant_values=int(round(LETTERBOX_FILL * 255)))
