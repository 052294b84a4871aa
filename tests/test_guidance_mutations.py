"""Tests that kill mutations the rest of the suite let live: a ControlNet scale that is ignored, a timestep range
that does not follow the run fraction (tiny models, CPU). The stage-II noise augmentation has its own test in
test_pixel_stage2.py."""

from __future__ import annotations

import pytest
import torch
from tiny_if_models import build_cached_if
from tiny_models import build_cached

from engine.sdpixl.guidance.augment import AugmentConfig
from engine.sdpixl.guidance.pixel import PixelGuidance, PixelGuidanceConfig
from engine.sdpixl.guidance.sdxl import ControlNetSpec, SDXLGuidance, SDXLGuidanceConfig

NO_AUG = AugmentConfig(enabled=False)


@pytest.fixture(scope="module")
def controlled(tiny_root):
    cn = str(build_cached("controlnet-sdxl", tiny_root))
    cfg = SDXLGuidanceConfig(model=str(build_cached("sdxl", tiny_root)), prompt="a red fox", seed=0, augment=NO_AUG,
                             controlnets=[ControlNetSpec("canny", cn, scale=0.15)])
    return SDXLGuidance(cfg, 16, 16)


def test_the_controlnet_residuals_are_scaled_by_the_spec_scale(controlled):
    g = controlled
    z = torch.randn(1, 4, *[s // g.vae_scale_factor for s in g.render_hw], generator=torch.Generator().manual_seed(0))
    t = torch.tensor(400)
    edges = torch.zeros(1, 3, *g.render_hw)
    edges[..., ::3, :] = 1.0
    calls, given = [], []
    net = g._controlnet_calls[0]
    unet = g._unet_call

    def spy_net(*args, **kwargs):
        calls.append((args, kwargs))
        return net(*args, **kwargs)

    def spy_unet(*args, **kwargs):
        given.append(kwargs.get("down_block_additional_residuals"))
        return unet(*args, **kwargs)

    g._controlnet_calls, g._unet_call = [spy_net], spy_unet
    try:
        with torch.no_grad():
            scaled = g.noise_predictions(z, t, [edges])
            args, kwargs = calls[-1]
            full, _ = net(*args, **{**kwargs, "conditioning_scale": 1.0})
            g.config.controlnets[0].scale = 0.0
            off = g.noise_predictions(z, t, [edges])
            without = g.noise_predictions(z, t, [])
    finally:
        g._controlnet_calls, g._unet_call = [net], unet
        g.config.controlnets[0].scale = 0.15
    residuals = given[0]
    assert len(residuals) == len(full)
    for got, ref in zip(residuals, full):
        assert torch.allclose(got, 0.15 * ref, atol=1e-6)  # the residuals the UNet adds are 0.15 x the net's
    assert not torch.allclose(scaled[1], without[1], atol=1e-6)
    assert torch.allclose(off[1], without[1], atol=1e-6)  # scale 0: as if there were no ControlNet


def _timesteps(guidance, rgb: torch.Tensor, fraction: float, n: int) -> list[int]:
    guidance.generator.manual_seed(3)
    return [int(guidance(rgb, fraction)["t"]) for _ in range(n)]


# t_max falls from 0.98 to 0.1 over the first half of the run: a guidance that ignores the run fraction (or anneals
# nothing) draws far above 100 late in the run.
ANNEAL = dict(t_min=20, t_max_start=0.98, t_max_end=0.1, t_anneal_until=0.5)


def test_latent_guidance_anneals_the_timestep_range_with_the_run(tiny_root):
    g = SDXLGuidance(SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)), prompt="a fox", seed=0,
                                        augment=NO_AUG, **ANNEAL), 16, 16)
    rgb = torch.rand(1, 3, 16, 16)
    early, middle, late = (_timesteps(g, rgb, f, 24) for f in (0.0, 0.25, 0.75))
    assert max(early) > 540 and all(20 <= t <= 980 for t in early)
    assert all(20 <= t <= 540 for t in middle) and max(middle) > 100  # t_max(0.25) = 0.54
    assert all(20 <= t <= 100 for t in late)


def test_pixel_guidance_anneals_the_timestep_range_with_the_run(tiny_root):
    g = PixelGuidance(PixelGuidanceConfig(model=str(build_cached_if("if", tiny_root)), prompt="a fox", seed=0,
                                          augment=NO_AUG, **ANNEAL))
    rgb = torch.rand(1, 3, 16, 16)
    early, late = _timesteps(g, rgb, 0.0, 24), _timesteps(g, rgb, 0.75, 24)
    assert max(early) > 540 and all(20 <= t <= 100 for t in late)
