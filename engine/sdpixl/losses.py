"""Regularisers for the SD-piXL optimiser: FFT smoothness (the reference's) and an optional fidelity term."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from engine.core.color import srgb_to_lab_t


def _channels_first(image: torch.Tensor) -> torch.Tensor:
    """H x W x 3 (a generator render) or 1 x 3 x H x W (a model input) -> 3 x H x W."""
    if image.ndim == 4 and image.shape[0] == 1:
        return image[0]
    if image.ndim == 3 and image.shape[-1] == 3:
        return image.permute(2, 0, 1)
    raise ValueError(f"expected an H x W x 3 or 1 x 3 x H x W image, got shape {tuple(image.shape)}")


def high_frequency_mask(height: int, width: int, device: torch.device | str | None = None) -> torch.Tensor:
    """1 outside a disk of radius min(H, W) / (4 sqrt 2) around the centre of the fftshift-ed spectrum.

    Compared exactly in integers (32 d^2 > min(H, W)^2), so cells lying on the circle count as inside.
    """
    yy = torch.arange(height, device=device, dtype=torch.int64)[:, None] - height // 2
    xx = torch.arange(width, device=device, dtype=torch.int64)[None, :] - width // 2
    return (32 * (yy**2 + xx**2) > min(height, width) ** 2).float()


def fft_smoothness_loss(image: torch.Tensor) -> torch.Tensor:
    """The reference's FFT regulariser: per channel F = fftshift(fft2(x_c)); L = sum(M |F|) / sum(M).

    The sum runs over the three channels and the spectrum; ``sum(M)`` counts the mask once (H x W), as
    the reference broadcasts one mask over the channels. Zero for a constant image.
    """
    x = _channels_first(image).float()
    _, h, w = x.shape
    spectrum = torch.fft.fftshift(torch.fft.fft2(x), dim=(-2, -1))
    mask = high_frequency_mask(h, w, device=x.device)
    denom = mask.sum()
    if denom == 0:  # a 1 x 1 or 2 x 2 image has no band above the cut-off
        return x.sum() * 0.0
    return (mask * spectrum.abs()).sum() / denom


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a C x H x W tensor (reflect padding); ``sigma`` in cells."""
    if sigma <= 0:
        return x
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[0]
    y = x[None]
    pad_h = min(radius, x.shape[1] - 1)
    pad_w = min(radius, x.shape[2] - 1)
    kw = k[radius - pad_w: radius + pad_w + 1]
    kh = k[radius - pad_h: radius + pad_h + 1]
    kw, kh = kw / kw.sum(), kh / kh.sum()
    if pad_w > 0:
        y = F.pad(y, (pad_w, pad_w, 0, 0), mode="reflect")
        y = F.conv2d(y, kw.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    if pad_h > 0:
        y = F.pad(y, (0, 0, pad_h, pad_h), mode="reflect")
        y = F.conv2d(y, kh.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return y[0]


def fidelity_loss(image: torch.Tensor, target: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Mean CIELAB distance (Delta E 1976, divided by 100) between the blurred render and the blurred input.

    Both are H x W x 3 (or 3 x H x W) sRGB in [0, 1] of the same size. Blurring compares local averages, so
    dithering that averages to the input colour is not punished.
    """
    a = gaussian_blur(_channels_first(image).float(), sigma).permute(1, 2, 0)
    b = gaussian_blur(_channels_first(target).float().to(a.device), sigma).permute(1, 2, 0)
    if a.shape != b.shape:
        raise ValueError(f"render {tuple(a.shape)} and target {tuple(b.shape)} differ in size")
    diff = srgb_to_lab_t(a) - srgb_to_lab_t(b)
    return torch.sqrt((diff**2).sum(-1) + 1e-8).mean() / 100.0
