"""IF stage II in a run: the condition follows the render's augmentation draw, is frozen from the clean design,
is noised as IF does, and travels in checkpoints with the guidance path (tiny IF models, CPU)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tiny_if_models import build_cached_if

from engine.core.progress import CancelToken
from engine.sdpixl.guidance.augment import AugmentConfig
from engine.sdpixl.guidance.pixel import PixelGuidance, PixelGuidanceConfig, letterbox_render
from engine.sdpixl.optimize import load_checkpoint, make_config, run_optimization


@pytest.fixture(scope="module")
def if_models(tiny_root):
    return str(build_cached_if("if", tiny_root)), str(build_cached_if("if-sr", tiny_root))


def _guidance(if_models, augment: AugmentConfig, **extra) -> PixelGuidance:
    stage1, stage2 = if_models
    return PixelGuidance(PixelGuidanceConfig(model=stage1, stage2=True, stage2_model=stage2, prompt="a red fox",
                                             seed=0, augment=augment, stage2_from=0.5, **extra))


def _record_stage2(g: PixelGuidance) -> list[dict]:
    """Record what the stage-II UNet is given (its 6-channel sample and the noise-level labels)."""
    seen: list[dict] = []

    def hook(module, args, kwargs):
        seen.append({"sample": args[0].detach().clone(), "labels": kwargs["class_labels"].clone()})

    g.stage2.unet.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


def _asymmetric_design() -> torch.Tensor:
    rgb = torch.zeros(1, 3, 16, 16)
    rgb[:, 0, :, :5] = 1.0  # a red band on the left
    rgb[:, 2, 4:9, 10:] = 0.8  # a blue block on the right
    return rgb


@pytest.mark.parametrize("kind", ["hflip", "grayscale"])
def test_the_stage_two_condition_gets_the_render_s_augmentation_draw(if_models, kind):
    """Two guidances with the same seed, one always applying the transform and one never: the draws consume the
    same random numbers, so the difference of what the UNet sees is the transform alone, on the render AND on the
    low-resolution condition."""
    never = AugmentConfig(p_grayscale=0.0, p_perspective=0.0, p_hflip=0.0)
    always = replace(never, **({"p_hflip": 1.0} if kind == "hflip" else {"p_grayscale": 1.0}))
    design = _asymmetric_design()
    inputs = []
    for aug in (never, always):
        g = _guidance(if_models, aug)
        seen = _record_stage2(g)
        g.freeze_condition(design)
        g(design, 0.8)
        inputs.append(seen[-1]["sample"][:1])  # the uncond copy of the CFG batch
    plain, moved = inputs
    assert not torch.allclose(plain[:, 3:], moved[:, 3:], atol=1e-3)  # the condition was transformed too
    ab = g.image_alphas_cumprod[g.config.stage2_noise_level]
    up = g._condition_up * 0.5 + 0.5  # the condition in [0, 1], as the augmentation sees it
    if kind == "hflip":
        expected = (up.flip(-1) - up) * 2
    else:
        luma = up[:, 0:1] * 0.299 + up[:, 1:2] * 0.587 + up[:, 2:3] * 0.114
        expected = (luma.expand_as(up) - up) * 2
    assert torch.allclose(moved[:, 3:] - plain[:, 3:], ab.sqrt() * expected, atol=1e-4)  # same noise, same draw


def test_stage_two_adds_if_noise_augmentation_to_the_condition(if_models):
    g = _guidance(if_models, AugmentConfig(enabled=False), stage2_noise_level=250)
    seen = _record_stage2(g)
    design = _asymmetric_design()
    g.freeze_condition(design)
    g(design, 0.8)
    sample, labels = seen[-1]["sample"], seen[-1]["labels"]
    assert labels.tolist() == [250, 250]  # the noise level reaches the UNet as its class label
    a = g.image_alphas_cumprod[250]
    residual = sample[:1, 3:] - a.sqrt() * g._condition_up
    assert float(residual.std()) == pytest.approx(float((1 - a).sqrt()), rel=0.05)  # N(0, 1 - a) noise
    assert abs(float(residual.mean())) < 0.05


def _stage2_config(if_models, perler, **extra):
    stage1, stage2 = if_models
    pixel = PixelGuidanceConfig(model=stage1, stage2=True, stage2_model=stage2, stage2_from=0.5, seed=0)
    return make_config("fast", prompt="a red fox", palette=perler.subset(list(range(6))), width=12, height=10,
                       steps=4, warmup=0, seed=7, guidance_mode="pixel", pixel=pixel, **extra)


def test_the_condition_is_frozen_from_the_clean_design(if_models, perler):
    config = _stage2_config(if_models, perler)
    guidance = _guidance(if_models, AugmentConfig(enabled=False))
    designs = []
    run_optimization(config, guidance=guidance,
                     callback_on_step_end=lambda info: designs.append(info.generator.hard_render().clone()))
    # steps 0 and 1 are stage I; step 2 (fraction 0.5) freezes the design left by step 2's predecessor
    clean = letterbox_render(designs[1].permute(2, 0, 1)[None], 32) * 2 - 1
    assert guidance.condition is not None
    assert torch.allclose(guidance.condition, clean, atol=1e-6)


def test_checkpoints_keep_the_condition_and_the_guidance_path(if_models, perler, tmp_path):
    ckpt = tmp_path / "fox.ckpt"
    config = _stage2_config(if_models, perler)
    finals = {}

    def keep(name):
        return lambda info: finals.__setitem__(name, info.generator.logits.detach().clone())

    run_optimization(config, guidance=_guidance(if_models, AugmentConfig(enabled=False)),
                     callback_on_step_end=keep("full"))
    token = CancelToken()

    def stop_after_three(info):
        if info.step == 3:
            token.cancel()

    run_optimization(replace(config, checkpoint_path=str(ckpt)), cancel=token, callback_on_step_end=stop_after_three,
                     guidance=_guidance(if_models, AugmentConfig(enabled=False)))
    state = load_checkpoint(ckpt, config)
    assert state["step"] == 3
    frozen = state["guidance_state"]["stage2_condition"]
    assert frozen is not None and frozen.shape == (1, 3, 32, 32)
    settings = state["settings"]
    assert settings["guidance_mode"] == "pixel" and settings["pixel_model"][0] == config.pixel.model
    assert settings["pixel_model"][2][0] == config.pixel.stage2_model
    # a fresh guidance resumed from the checkpoint continues with the stored condition, like the uninterrupted run
    fresh = _guidance(if_models, AugmentConfig(enabled=False))
    run_optimization(replace(config, resume=str(ckpt)), guidance=fresh, callback_on_step_end=keep("resumed"))
    assert torch.equal(fresh.condition, frozen)
    assert torch.allclose(finals["resumed"], finals["full"], atol=1e-5)
