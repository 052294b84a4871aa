"""Proof that the SD-piXL loop converges, without real weights: an exact denoiser through the real loop.

The "UNet" is the exact epsilon-predictor of a one-point data distribution: for the prompt's branch the data is a
known target latent z_A, so eps(z_t, t) = (z_t - sqrt(a_t) z_A) / sqrt(1 - a_t); the negative prompt's branch has
its own target (grey, or another pattern). The encoder is a fixed linear map (orthonormal 3 -> 4 channels, 2x2
average pooling), so a palette colour's latent is distinct and the SDS gradient, pulled back to RGB, points at the
target colour. Everything else is the production code: run_optimization, SDXLGuidance (from_components), the
Gumbel-softmax generator, FFT regulariser, AdamW, warm-up, clipping. Augmentation is off: the exact denoiser of
the augmented distribution would be a mixture, not a known closed form.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from engine.core.palette import Palette, PaletteColor
from engine.sdpixl.generator import upsample_for_model
from engine.sdpixl.guidance.augment import AugmentConfig
from engine.sdpixl.guidance.sdxl import ControlNetSpec, SDXLGuidance, SDXLGuidanceConfig
from engine.sdpixl.optimize import make_config, run_optimization

CORNERS = [(r, g, b) for r in (0, 255) for g in (0, 255) for b in (0, 255)]  # 8 colours, equal distance to grey
UNCOND, PROMPT_A, PROMPT_B = 0, 1, 2  # markers carried by the text embeddings


def _palette() -> Palette:
    return Palette("cube corners", tuple(PaletteColor(f"c{i}", f"corner {i}", rgb) for i, rgb in enumerate(CORNERS)))


class LinearEncoder(torch.nn.Module):
    """latent = avg_pool_2x2(M (2 rgb - 1)) with orthonormal M (4 x 3): M^T M = I, so RGB directions survive."""

    def __init__(self) -> None:
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(0)))
        self.proj = torch.nn.Conv2d(3, 4, 1, bias=False)
        with torch.no_grad():
            self.proj.weight.copy_(q[:, :3, None, None])
        self.config = SimpleNamespace(scaling_factor=1.0)

    def encode(self, x: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(latents=F.avg_pool2d(self.proj(x), 2))


class ExactDenoiser(torch.nn.Module):
    """eps for a one-point distribution per branch: the branch's marker picks its target latent."""

    def __init__(self, alphas: torch.Tensor, targets: torch.Tensor, latent_size: int) -> None:
        super().__init__()
        self.alphas, self.targets = alphas, targets  # targets: K x 4 x h x w, indexed by marker
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.config = SimpleNamespace(block_out_channels=(4, 4), sample_size=latent_size)
        self.residual_batches: list[int] = []

    def forward(self, sample, t, encoder_hidden_states=None, return_dict=False, added_cond_kwargs=None,
                down_block_additional_residuals=None, mid_block_additional_residual=None):
        a = self.alphas[t].reshape(-1, 1, 1, 1)
        z0 = self.targets[encoder_hidden_states[:, 0, 0].round().long()]
        if mid_block_additional_residual is not None:  # ControlNet residuals arrive batched like the sample
            assert mid_block_additional_residual.shape[0] == sample.shape[0]
            assert all(r.shape[0] == sample.shape[0] for r in down_block_additional_residuals)
            self.residual_batches.append(sample.shape[0])
        return ((sample - a.sqrt() * z0) / (1 - a).sqrt(),)


class ConditionNet(torch.nn.Module):
    """A ControlNet stand-in: residuals computed from the (augmented, letterboxed) condition image."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.cond_batches: list[int] = []

    def forward(self, sample, t, controlnet_cond=None, conditioning_scale=1.0, return_dict=False, **kwargs):
        self.cond_batches.append(controlnet_cond.shape[0])
        pooled = F.adaptive_avg_pool2d(controlnet_cond.mean(1, keepdim=True), sample.shape[-2:])
        res = conditioning_scale * pooled.expand(sample.shape[0], sample.shape[1], -1, -1)
        return [res, res], res


def _blocky_target(h: int, w: int, seed: int) -> np.ndarray:
    """A pattern of 4 x 4 blocks of random palette indices (smooth enough for the FFT regulariser)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, len(CORNERS), size=(-(-h // 4), -(-w // 4)))
    return np.kron(blocks, np.ones((4, 4), dtype=np.int64))[:h, :w]


def _setup(h: int, w: int, negative_target: bool = False, controlnets: int = 0):
    palette = _palette()
    rgb = torch.tensor(CORNERS, dtype=torch.float32) / 255.0
    alphas = torch.cumprod(1 - torch.linspace(0.00085**0.5, 0.012**0.5, 1000) ** 2, 0)
    specs = [ControlNetSpec("canny"), ControlNetSpec("depth")][:controlnets]
    gcfg = SDXLGuidanceConfig(device="cpu", dtype="fp32", augment=AugmentConfig(enabled=False), controlnets=specs,
                              seed=0)
    encoder = LinearEncoder()
    emb = torch.zeros(2, 1, 8)
    emb[0, 0, 0] = PROMPT_B if negative_target else UNCOND
    emb[1, 0, 0] = PROMPT_A
    unet = ExactDenoiser(alphas, torch.zeros(3, 4, 1, 1), latent_size=16)
    nets = [ConditionNet() for _ in range(controlnets)]
    guidance = SDXLGuidance.from_components(gcfg, unet, encoder, alphas, emb, controlnets=nets, tiny=True,
                                            vae_scale_factor=2, height=h, width=w)
    idx_a, idx_b = _blocky_target(h, w, 1), _blocky_target(h, w, 2)

    def latent(index: np.ndarray) -> torch.Tensor:
        img = rgb[torch.as_tensor(index)].permute(2, 0, 1)[None]
        with torch.no_grad():
            return guidance.encode(upsample_for_model(img, guidance.render_hw))[0]

    unet.targets = torch.stack([torch.zeros_like(latent(idx_a)), latent(idx_a), latent(idx_b)])
    return palette, guidance, idx_a, idx_b, unet, nets


def _run(guidance, palette, h, w, steps=300, every=50, **overrides):
    """Run the real loop; returns the argmax index map every ``every`` steps (and at step 0)."""
    config = make_config("reference", prompt="the target", palette=palette, width=w, height=h, steps=steps,
                         seed=5, init="random", preview_every=10**6, **overrides)
    maps = []
    first = {}

    def on_step(info):
        if info.step == 1:
            first["map"] = info.generator.index_map()
        if info.step % every == 0:
            maps.append(info.generator.index_map())

    pattern = run_optimization(config, guidance=guidance, callback_on_step_end=on_step)
    return [first["map"], *maps], pattern


def _agreement(maps, target):
    return [float(np.mean(m == target)) for m in maps]


def _steady_rise(curve):
    return all(b >= a - 0.03 for a, b in zip(curve, curve[1:]))


def test_exact_denoiser_drives_the_loop_to_the_prompt_target():
    h = w = 16
    palette, guidance, idx_a, _, _, _ = _setup(h, w)
    maps, pattern = _run(guidance, palette, h, w)
    curve = _agreement(maps, idx_a)
    assert 0.03 < curve[0] < 0.25, curve  # chance level for 8 colours is 12.5 %
    assert curve[-1] >= 0.4 and _steady_rise(curve), curve
    assert np.array_equal(pattern.index, maps[-1])


def test_flipped_sign_control_diverges():
    h = w = 16
    palette, guidance, idx_a, _, _, _ = _setup(h, w)
    maps, _ = _run(guidance, palette, h, w, sds_weight=-1.0)
    curve = _agreement(maps, idx_a)
    assert curve[-1] < min(0.05, curve[0] / 2), curve


def test_negative_prompt_pushes_away_from_its_target():
    h = w = 16
    palette, guidance, idx_a, idx_b, _, _ = _setup(h, w, negative_target=True)
    maps, _ = _run(guidance, palette, h, w)
    away, toward = _agreement(maps, idx_b), _agreement(maps, idx_a)
    assert away[-1] < min(0.05, away[0] / 2), away
    assert toward[-1] >= 0.4, toward


def test_converges_with_two_controlnets_at_a_non_square_size(tmp_path):
    h, w = 12, 20
    palette, guidance, idx_a, _, unet, nets = _setup(h, w, controlnets=2)
    assert guidance.render_hw == (24, 40)  # the pattern's aspect, not a square
    image = tmp_path / "input.png"
    Image.fromarray((np.asarray(CORNERS, dtype=np.uint8)[_blocky_target(h, w, 7)])).resize((100, 60)).save(image)
    depth = tmp_path / "depth.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 100, dtype=np.uint8), (60, 1))).save(depth)
    maps, pattern = _run(guidance, palette, h, w, image=str(image), depth_image=str(depth))
    curve = _agreement(maps, idx_a)
    assert pattern.shape == (12, 20)
    assert curve[-1] >= 0.4 and _steady_rise(curve), curve
    assert len(unet.residual_batches) == 300 and set(unet.residual_batches) == {2}  # both CFG branches
    assert all(set(n.cond_batches) == {1} for n in nets)  # the condition is encoded once, not per branch
