"""The palette-logit generator: inits, renders, centring, aspect-preserving upsampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.core.color import nearest_palette_index, srgb_to_lab
from engine.core.pattern import Pattern
from engine.sdpixl.generator import (
    PaletteGenerator,
    TauSchedule,
    letterbox_array,
    letterbox_box,
    logits_bilinear,
    render_size,
    upsample_for_model,
)


@pytest.fixture
def small_palette(perler):
    return perler.subset(list(range(8)))


def _block_image(palette, index: np.ndarray, block: int) -> np.ndarray:
    """An image whose block x block tiles are exactly the palette colours in ``index``."""
    return np.kron(palette.rgb8[index], np.ones((block, block, 1), dtype=np.uint8)).astype(np.uint8)


def test_random_init_is_centred_with_norm_sqrt_n(small_palette):
    gen = PaletteGenerator.create(small_palette, 6, 9, "random", generator=torch.Generator().manual_seed(0))
    n = len(small_palette)
    lam = gen.logits.detach()
    assert lam.shape == (6, 9, n)
    assert torch.allclose(lam.mean(-1), torch.zeros(6, 9), atol=1e-5)
    assert torch.allclose(lam.norm(dim=-1), torch.full((6, 9), math.sqrt(n)), atol=1e-4)
    again = PaletteGenerator.create(small_palette, 6, 9, "random", generator=torch.Generator().manual_seed(0))
    other = PaletteGenerator.create(small_palette, 6, 9, "random", generator=torch.Generator().manual_seed(1))
    assert torch.equal(lam, again.logits.detach())
    assert not torch.equal(lam, other.logits.detach())


def test_bilinear_init_follows_the_reference_formula(small_palette):
    rng = np.random.default_rng(3)
    index = rng.integers(0, len(small_palette), size=(5, 7))
    image = _block_image(small_palette, index, 4)
    gen = PaletteGenerator.create(small_palette, 5, 7, "bilinear", image=image)
    lam = gen.logits.detach()
    # Every cell was exactly one palette colour, so the argmax recovers it.
    assert np.array_equal(gen.index_map(), index)
    # Centred, and every cell rescaled to the same (mean) norm.
    assert torch.allclose(lam.mean(-1), torch.zeros(5, 7), atol=1e-5)
    norms = lam.norm(dim=-1)
    assert torch.allclose(norms, norms.mean().expand_as(norms), atol=1e-4)
    # Within a cell, logit differences are proportional to L1 distance differences (factor -sqrt(n) * s).
    c = small_palette.rgb[index[2, 3]]
    dist = np.abs(small_palette.rgb - c).sum(1)
    ratio = (lam[2, 3] - lam[2, 3].mean()).numpy() / -(dist - dist.mean())
    assert np.allclose(ratio, ratio[0], rtol=1e-3)


def test_bilinear_logits_before_rescale_match_formula(small_palette):
    pal = torch.as_tensor(small_palette.rgb, dtype=torch.float32)
    flat = np.full((4, 4, 3), 0.5, dtype=np.float32)
    lam = logits_bilinear(flat, pal, 1, 1)[0, 0]
    n = len(small_palette)
    raw = -math.sqrt(n) * np.abs(small_palette.rgb - 0.5).sum(1)
    raw -= raw.mean()
    # A single cell: the mean norm is its own norm, so the formula's logits come back unchanged.
    assert np.allclose(lam.numpy(), raw, atol=1e-4)


def test_ciede2000_init_picks_the_perceptually_nearest_colour(small_palette):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, size=(6, 6, 3)).astype(np.uint8)
    gen = PaletteGenerator.create(small_palette, 6, 6, "ciede2000", image=image)  # same size: no resampling
    expected = nearest_palette_index(srgb_to_lab(image / 255.0), small_palette.lab)
    assert np.array_equal(gen.index_map(), expected)


def test_converter_init_from_pattern(small_palette):
    index = np.arange(12).reshape(3, 4) % len(small_palette)
    pattern = Pattern(index, small_palette)
    gen = PaletteGenerator.create(small_palette, 3, 4, "converter", pattern=pattern)
    assert np.array_equal(gen.index_map(), index)
    probs = torch.softmax(gen.logits.detach(), -1).max(-1).values
    assert torch.allclose(probs, torch.full((3, 4), 0.9), atol=1e-4)
    # A pattern of another size is resized to the target first.
    gen2 = PaletteGenerator.create(small_palette, 6, 8, "converter", pattern=pattern)
    assert np.array_equal(gen2.index_map(), pattern.resized(8, 6).index)


def test_init_errors(small_palette):
    with pytest.raises(ValueError, match="needs an input image"):
        PaletteGenerator.create(small_palette, 4, 4, "bilinear")
    with pytest.raises(ValueError, match="unknown init mode"):
        PaletteGenerator.create(small_palette, 4, 4, "sparkle")
    with pytest.raises(ValueError, match="at least 1x1"):
        PaletteGenerator.create(small_palette, 0, 4, "random")


def test_soft_render_is_a_convex_mix_and_differentiable(small_palette):
    gen = PaletteGenerator.create(small_palette, 5, 5, "random", generator=torch.Generator().manual_seed(2))
    img = gen(tau=1.0, generator=torch.Generator().manual_seed(0))
    assert img.shape == (5, 5, 3)
    lo, hi = small_palette.rgb.min(0), small_palette.rgb.max(0)
    assert np.all(img.detach().numpy() >= lo - 1e-6) and np.all(img.detach().numpy() <= hi + 1e-6)
    img.sum().backward()
    assert gen.logits.grad is not None and gen.logits.grad.abs().sum() > 0


def test_hard_render_is_palette_colours_with_straight_through_gradient(small_palette):
    gen = PaletteGenerator.create(small_palette, 4, 6, "random", generator=torch.Generator().manual_seed(2))
    img = gen(tau=0.7, hard=True, generator=torch.Generator().manual_seed(1))
    pixels = img.detach().reshape(-1, 3).numpy()
    dists = np.abs(pixels[:, None, :] - small_palette.rgb[None]).sum(-1).min(1)
    assert dists.max() < 1e-5
    (img * torch.linspace(0, 1, 3)).sum().backward()
    assert gen.logits.grad.abs().sum() > 0


def test_noise_free_low_temperature_render_equals_hard_image(small_palette):
    gen = PaletteGenerator.create(small_palette, 4, 4, "random", generator=torch.Generator().manual_seed(7))
    img = gen(tau=1e-4, noise=False).detach().numpy()
    assert np.abs(img * 255 - gen.hard_image()).max() < 0.51


def test_centre_keeps_the_argmax(small_palette):
    gen = PaletteGenerator.create(small_palette, 3, 3, "random", generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        gen.logits.add_(torch.arange(9.0).view(3, 3, 1))
    before = gen.index_map()
    gen.center_()
    assert torch.allclose(gen.logits.mean(-1), torch.zeros(3, 3), atol=1e-5)
    assert np.array_equal(before, gen.index_map())


def test_to_pattern_uses_only_palette_colours(small_palette):
    gen = PaletteGenerator.create(small_palette, 7, 5, "random", generator=torch.Generator().manual_seed(9))
    pattern = gen.to_pattern(metadata={"seed": 9})
    assert pattern.shape == (7, 5) and pattern.palette is small_palette
    assert set(np.unique(pattern.index)) <= set(range(len(small_palette)))
    assert np.array_equal(pattern.to_rgb(), gen.hard_image())
    assert pattern.metadata == {"seed": 9}


def test_tau_schedule():
    g = torch.Generator().manual_seed(0)
    draws = [TauSchedule().value(0.3, g) for _ in range(200)]
    assert 0.5 <= min(draws) < 0.6 and 1.4 < max(draws) <= 1.5
    ann = TauSchedule(mode="anneal", low=0.5, high=2.0)
    assert ann.value(0.0) == pytest.approx(2.0) and ann.value(1.0) == pytest.approx(0.5)
    assert ann.value(0.5) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        TauSchedule(mode="wobble")


@pytest.mark.parametrize("h,w", [(48, 48), (30, 60), (64, 24), (13, 97)])
def test_render_size_keeps_the_aspect(h, w):
    rh, rw = render_size(h, w, 1024, 64)
    assert rh % 64 == 0 and rw % 64 == 0
    assert abs(rh * rw - 1024 * 1024) / (1024 * 1024) < 0.2
    assert abs((rw / rh) / (w / h) - 1) < 0.1


def test_upsample_letterboxes_instead_of_stretching():
    img = torch.zeros(10, 30, 3)
    img[:, :, 0] = torch.linspace(0, 1, 30)  # a horizontal ramp
    out = upsample_for_model(img, (32, 32))
    assert out.shape == (1, 3, 32, 32)
    top, left, ch, cw = letterbox_box(10, 30, (32, 32))
    top0 = top
    assert (ch, cw) == (11, 32) and left == 0
    # Wide bands (10 rows here) are neutral grey letterbox bars: no new content, no stretching, no extra weight
    # on the edge rows.
    assert torch.all(out[0, :, :top] == 0.5) and torch.all(out[0, :, top + ch:] == 0.5)
    assert torch.allclose(out[0, 0, top + ch // 2], torch.linspace(0, 1, 32), atol=0.05)
    # A few pixels of rounding slack repeat the content's edge rows instead.
    slim = upsample_for_model(img, (12, 32))
    top, left, ch, cw = letterbox_box(10, 30, (12, 32))
    assert 0 < 12 - ch <= 8
    assert torch.equal(slim[0, :, :top], slim[0, :, top:top + 1].expand(-1, top, -1))
    assert torch.equal(slim[0, :, top + ch:], slim[0, :, top + ch - 1:top + ch].expand(-1, 12 - top - ch, -1))
    arr = letterbox_array((np.ones((10, 30, 3)) * 0.5), (32, 32))
    assert arr.shape == (32, 32, 3) and arr.dtype == np.uint8 and np.all(arr == 128)
    bars = letterbox_array(np.zeros((10, 30, 3), dtype=np.uint8), (32, 32))
    assert np.all(bars[:top0] == 128) and np.all(bars[top0:top0 + 11] == 0)


def test_extreme_aspects_are_clamped_to_the_trained_range_and_letterboxed():
    # 16 x 512 (aspect 32) would need a 5792 x 192 render; SDXL is trained up to 4:1.
    rh, rw = render_size(16, 512, 1024, 64, max_aspect=4.0)
    assert (rh, rw) == (512, 2048)
    assert render_size(512, 16, 1024, 64, max_aspect=4.0) == (2048, 512)
    assert render_size(48, 64, 1024, 64, max_aspect=4.0) == render_size(48, 64, 1024, 64)  # inside: unchanged
    img = torch.rand(16, 512, 3)
    out = upsample_for_model(img, (rh, rw))
    top, left, ch, cw = letterbox_box(16, 512, (rh, rw))
    assert (ch, cw) == (64, 2048) and top == 224
    assert torch.all(out[0, :, :top] == 0.5) and torch.all(out[0, :, top + ch:] == 0.5)


def test_bilinear_init_of_a_large_noisy_photo_is_no_noisier_than_the_reference():
    """The reference resizes the picture to 1024 px (PIL bilinear, which averages) and then samples it bilinearly;
    the init here must average at least as much: sampling a 2000 px photo without averaging kept ~4x the noise."""
    import torch.nn.functional as F
    from PIL import Image

    from engine.sdpixl.generator import init_colours

    rng = np.random.default_rng(0)
    photo = (np.clip(0.5 + 0.1 * rng.standard_normal((2000, 2000, 3)), 0, 1) * 255).round().astype(np.uint8)
    resized = np.asarray(Image.fromarray(photo).resize((1024, 1024), Image.BILINEAR), dtype=np.float32) / 255
    reference = F.interpolate(torch.from_numpy(resized).permute(2, 0, 1)[None], size=(64, 64), mode="bilinear",
                              align_corners=False)[0].permute(1, 2, 0)
    ours = init_colours(photo, 64, 64)
    ratio = float(ours.std()) / float(reference.std())
    assert ratio < 1.0, f"init noise {ratio:.2f}x the reference's"
    assert abs(float(ours.mean()) - 0.5) < 0.01
    # the init's logits are the reference formula on these colours
    pal = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]])
    raw = -math.sqrt(3) * (ours[:, :, None, :] - pal[None, None]).abs().sum(-1)
    from engine.sdpixl.generator import center_and_rescale

    assert torch.allclose(logits_bilinear(photo, pal, 64, 64), center_and_rescale(raw), atol=1e-5)
