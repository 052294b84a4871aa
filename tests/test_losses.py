"""FFT smoothness and fidelity losses, checked against answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.sdpixl.losses import fft_smoothness_loss, fidelity_loss, gaussian_blur, high_frequency_mask


def _mask_count(h: int, w: int) -> int:
    """Cells at or beyond radius min/(4 sqrt 2) from (h/2, w/2), in exact integer arithmetic (d^2 >= min^2 / 32)."""
    return sum(1 for y in range(h) for x in range(w)
               if 8 * ((2 * y - h) ** 2 + (2 * x - w) ** 2) >= min(h, w) ** 2)


def _reference_fft_loss(img: torch.Tensor) -> torch.Tensor:
    """A transcription of the reference's FFT_Loss (float centre H/2, W/2; distance < radius is inside; the mask
    repeated over the 3 channels; sum(M |F|) / (sum M + 1e-8)) for an H x W x 3 image."""
    h, w = img.shape[:2]
    mask = torch.ones((h, w))
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    dist = torch.sqrt((xx - w / 2.0) ** 2 + (yy - h / 2.0) ** 2)
    mask[dist < min(h, w) / (4 * math.sqrt(2))] = 0
    mask = mask.unsqueeze(0).repeat(3, 1, 1)
    spectrum = torch.fft.fftshift(torch.fft.fft2(img.permute(2, 0, 1)))
    return (spectrum.abs() * mask).sum() / (mask.sum() + 1e-8)


@pytest.mark.parametrize("h,w", [(64, 64), (32, 32), (24, 40), (47, 33), (16, 16), (9, 12)])
def test_fft_loss_equals_the_reference_formula(h, w):
    g = torch.Generator().manual_seed(h * 100 + w)
    for _ in range(3):
        img = torch.rand(h, w, 3, generator=g)
        ratio = fft_smoothness_loss(img).item() / _reference_fft_loss(img).item()
        assert ratio == pytest.approx(1.0, abs=5e-6)


def test_mask_is_one_outside_the_disk():
    m = high_frequency_mask(32, 32)
    r = 32 / (4 * math.sqrt(2))  # 5.657
    assert m[16, 16] == 0  # the DC term (after fftshift) is inside
    assert m[16, 16 + 5] == 0 and m[16, 16 + 6] == 1  # just inside / just outside the radius
    assert m[16 + 4, 16 + 4] == 1  # exactly on the circle (distance 4 sqrt 2 = r) counts as outside, as the reference
    assert m[0, 0] == 1
    assert int(m.sum()) == _mask_count(32, 32)
    assert r == pytest.approx(5.6569, abs=1e-3)


def test_constant_image_has_no_high_frequency_energy():
    img = torch.full((24, 40, 3), 0.37)
    assert fft_smoothness_loss(img).item() == pytest.approx(0.0, abs=1e-5)


def test_checkerboard_value_is_known():
    h, w, a = 16, 16, 0.25
    yy, xx = np.mgrid[0:h, 0:w]
    sign = np.where((yy + xx) % 2 == 0, 1.0, -1.0)
    img = torch.as_tensor(0.5 + a * sign, dtype=torch.float32)[..., None].expand(h, w, 3)
    # All energy sits at the Nyquist frequency: |F| = a*H*W per channel, and it lies outside the disk; the
    # denominator counts the mask once per channel (3x the 2-D count).
    expected = 3 * a * h * w / (3 * _mask_count(h, w))
    assert fft_smoothness_loss(img).item() == pytest.approx(expected, rel=1e-5)


def test_low_frequencies_cost_nothing_high_ones_do():
    h = w = 32
    x = torch.arange(w, dtype=torch.float32)
    slow = (0.5 + 0.3 * torch.cos(2 * math.pi * 2 * x / w)).expand(h, w)  # 2 cycles: inside the disk
    fast = (0.5 + 0.3 * torch.cos(2 * math.pi * 12 * x / w)).expand(h, w)  # 12 cycles: outside
    slow_img = slow[..., None].expand(h, w, 3)
    fast_img = fast[..., None].expand(h, w, 3)
    assert fft_smoothness_loss(slow_img).item() == pytest.approx(0.0, abs=1e-4)
    # cos gives two peaks of 0.3/2*H*W each per channel.
    expected = 3 * 2 * (0.3 / 2 * h * w) / (3 * _mask_count(h, w))
    assert fft_smoothness_loss(fast_img).item() == pytest.approx(expected, rel=1e-4)


def test_fft_loss_accepts_model_layout_and_has_gradients():
    img = torch.rand(1, 3, 12, 20, requires_grad=True)
    loss = fft_smoothness_loss(img)
    loss.backward()
    assert torch.isfinite(loss) and img.grad.abs().sum() > 0
    same = fft_smoothness_loss(img.detach()[0].permute(1, 2, 0))
    assert same.item() == pytest.approx(loss.item(), rel=1e-6)
    with pytest.raises(ValueError):
        fft_smoothness_loss(torch.rand(2, 3, 4, 4))


def test_blur_preserves_constants_and_mean():
    x = torch.full((3, 9, 11), 0.4)
    assert torch.allclose(gaussian_blur(x, 1.5), x, atol=1e-6)
    noise = torch.rand(3, 20, 20)
    assert gaussian_blur(noise, 1.0).std() < noise.std()


def test_fidelity_zero_for_identical_and_rewards_dithering():
    rng = np.random.default_rng(0)
    target = torch.as_tensor(rng.random((10, 12, 3)), dtype=torch.float32)
    assert fidelity_loss(target, target).item() == pytest.approx(0.0, abs=1e-5)
    grey = torch.full((16, 16, 3), 0.5)
    yy, xx = np.mgrid[0:16, 0:16]
    checker = torch.as_tensor(np.where((yy + xx) % 2 == 0, 0.0, 1.0), dtype=torch.float32)[..., None].expand(16, 16, 3)
    black = torch.zeros(16, 16, 3)
    # A black/white dither averages to grey; flat black does not.
    assert fidelity_loss(checker, grey, sigma=1.5) < 0.25 * fidelity_loss(black, grey, sigma=1.5)
    with pytest.raises(ValueError):
        fidelity_loss(grey, torch.zeros(8, 8, 3))
