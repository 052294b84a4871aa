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
    """1 outside a disk of radius min(H, W) / (4 sqrt 2) around (H / 2, W / 2) of the fftshift-ed spectrum.

    As the reference: the centre is (H / 2, W / 2) (a half cell off the DC term for odd sides) and a cell counts
    as inside only when its distance is strictly below the radius, so cells exactly on the circle are outside.
    Compared exactly in integers on doubled coordinates: outside when 8 ((2y - H)^2 + (2x - W)^2) >= min(H, W)^2.
    The DC term is always excluded (the reference's offset centre would otherwise count it on sides <= 4, making
    a constant tiny image cost something); on larger sides it lies inside the disk anyway.
    """
    yy = 2 * torch.arange(height, device=device, dtype=torch.int64)[:, None] - height
    xx = 2 * torch.arange(width, device=device, dtype=torch.int64)[None, :] - width
    mask = (8 * (yy**2 + xx**2) >= min(height, width) ** 2).float()
    mask[height // 2, width // 2] = 0.0
    return mask


def fft_smoothness_loss(image: torch.Tensor) -> torch.Tensor:
    """The reference's FFT regulariser: per channel F = fftshift(fft2(x_c)); L = sum(M |F|) / sum(M).

    The mask M is the H x W disk mask repeated over the three channels, so ``sum(M)`` is three times the 2-D
    mask's count: the loss is the mean high-frequency magnitude per masked spectrum cell and channel.
    Zero for a constant image.
    """
    x = _channels_first(image).float()
    c, h, w = x.shape
    spectrum = torch.fft.fftshift(torch.fft.fft2(x), dim=(-2, -1))
    return (_cached_mask(h, w, x.device) * spectrum.abs()).sum() / _mask_denominator(h, w, c)


_MASKS: dict[tuple[int, int, str], torch.Tensor] = {}


def _cached_mask(height: int, width: int, device: torch.device) -> torch.Tensor:
    """The mask built once per size and device (the optimiser calls the loss every step)."""
    key = (height, width, str(device))
    if key not in _MASKS:
        if len(_MASKS) > 16:
            _MASKS.clear()
        _MASKS[key] = high_frequency_mask(height, width, device=device)
    return _MASKS[key]


def _mask_denominator(height: int, width: int, channels: int) -> float:
    """Sum of the channel-repeated mask (host integers, cached per size: no device sync in the loop); at least
    1, so a 1 x 1 or 2 x 2 image (no band above the cut-off) gives a zero loss."""
    return float(max(1, channels * _mask_count(height, width)))


def _mask_count(height: int, width: int) -> int:
    """Number of cells outside the disk (pure integer maths, cached per size)."""
    key = (height, width)
    if key not in _MASK_COUNTS:
        _MASK_COUNTS[key] = int(high_frequency_mask(height, width).sum())
    return _MASK_COUNTS[key]


_MASK_COUNTS: dict[tuple[int, int], int] = {}


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
