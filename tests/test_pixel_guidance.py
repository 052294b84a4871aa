"""Pixel-space SDS with DeepFloyd IF on tiny random IF-like pipelines (CPU, saved and loaded through the real
loading code): the exact gradient, letterboxing, the frozen stage-II condition, the run loop and convergence."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tiny_if_models import build_cached_if, model_index

from engine.sdpixl.guidance.augment import AugmentConfig
from engine.sdpixl.guidance.loading import ModelLoadError
from engine.sdpixl.guidance.pixel import PixelGuidance, PixelGuidanceConfig, letterbox_render
from engine.sdpixl.guidance.sds import cfg, sample_timestep
from engine.sdpixl.optimize import OptimizeError, RunConfig, build_guidance, make_config, run_optimization

NO_AUG = AugmentConfig(enabled=False)


@pytest.fixture(scope="module")
def if_models(tiny_root):
    return str(build_cached_if("if", tiny_root)), str(build_cached_if("if-sr", tiny_root))


@pytest.fixture(scope="module")
def guidance(if_models):
    stage1, stage2 = if_models
    return PixelGuidance(PixelGuidanceConfig(model=stage1, stage2=True, stage2_model=stage2, prompt="a red fox",
                                             seed=0, augment=NO_AUG, guidance_scale=7.5))


def test_loads_from_folders_encodes_once_and_frees_t5(if_models, guidance):
    from transformers import AutoTokenizer, T5EncoderModel

    stage1, _ = if_models
    assert model_index(stage1)["_class_name"] == "IFPipeline"
    assert guidance.embeddings.shape == (2, 77, 32)  # [negative, prompt], T5 width
    tok = AutoTokenizer.from_pretrained(stage1, subfolder="tokenizer")
    t5 = T5EncoderModel.from_pretrained(stage1, subfolder="text_encoder")
    ids = tok(["", "a red fox"], padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    with torch.no_grad():
        expected = t5(ids.input_ids, attention_mask=ids.attention_mask)[0]
    assert torch.allclose(guidance.embeddings, expected, atol=1e-5)
    modules = [v for v in vars(guidance).values() if isinstance(v, torch.nn.Module)]
    assert modules == []  # no text encoder kept (the UNets live in the stages)
    assert guidance.stage1.unet.config.out_channels == 6 and guidance.stage2.unet.config.in_channels == 6
    assert all(not p.requires_grad for p in guidance.stage1.unet.parameters())


def test_sds_gradient_is_w_times_eps_hat_minus_eps_on_the_image(guidance):
    s1 = guidance.stage1
    rgb = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3), requires_grad=True)
    guidance.generator.manual_seed(11)
    state = guidance.generator.get_state()
    out = guidance(rgb, 0.2)
    out["loss_sds"].backward()
    g = torch.Generator().manual_seed(0)
    g.set_state(state)
    t = sample_timestep(0.2, 1000, 20, 0.98, 0.8, 0.5, g)
    noise = torch.randn(1, 3, 32, 32, generator=g)
    assert int(out["t"]) == t
    x = rgb.detach() * 2 - 1
    ab = s1.alphas_cumprod[t]
    x_t = ab.sqrt() * x + (1 - ab).sqrt() * noise
    with torch.no_grad():
        pred = s1.unet(torch.cat([x_t, x_t]), torch.tensor(t), encoder_hidden_states=guidance.embeddings).sample
    assert pred.shape[1] == 6  # eps and the learned variance
    eps_hat = cfg(pred[:1, :3], pred[1:, :3], 7.5)
    expected = (1 - ab) * (eps_hat - noise)  # w(t) (eps_hat - eps), in the model's [-1, 1] image space
    assert torch.allclose(rgb.grad, 2 * expected, rtol=1e-4, atol=1e-5)  # x = 2 rgb - 1
    assert float(out["grad_norm"]) == pytest.approx(float(expected.norm()), rel=1e-4)


def test_non_square_designs_are_letterboxed_without_stretching(guidance):
    rgb = torch.rand(1, 3, 20, 10, requires_grad=True)
    box = letterbox_render(rgb.detach(), 32, fill=1.0)
    assert box.shape == (1, 3, 32, 32)
    assert torch.all(box[..., :, :8] == 1.0) and torch.all(box[..., :, 24:] == 1.0)  # 16 px wide content
    out = guidance(rgb, 0.1)
    out["loss_sds"].backward()
    assert torch.all(rgb.grad.abs().sum(1) > 0)  # every cell is seen
    assert int(out["stage"]) == 1


def test_stage_two_uses_the_frozen_stage_one_render(if_models):
    stage1, stage2 = if_models
    g = PixelGuidance(PixelGuidanceConfig(model=stage1, stage2=True, stage2_model=stage2, prompt="a cat", seed=0,
                                          augment=NO_AUG, stage2_from=0.5))
    first = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1), requires_grad=True)
    assert int(g(first, 0.3)["stage"]) == 1 and g.condition is None
    out = g(first, 0.5)
    assert int(out["stage"]) == 2 and g.condition is not None
    frozen = g.condition.clone()
    assert not frozen.requires_grad
    assert torch.allclose(frozen, letterbox_render(first.detach(), 32) * 2 - 1)  # x_cond = g(theta_0)
    inputs = []
    for seed in (5, 6):  # the parameters move: the condition must not
        moved = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(seed), requires_grad=True)
        g.generator.manual_seed(99)
        res = g(moved, 0.8)
        res["loss_sds"].backward()
        assert moved.grad.abs().sum() > 0
        assert torch.equal(g.condition, frozen)
        inputs.append(g.last_stage2_input.clone())
    assert inputs[0].shape == (1, 3, 64, 64)
    assert torch.equal(inputs[0], inputs[1])  # same noise draw, same condition whatever the render
    g.freeze_condition(torch.zeros(1, 3, 16, 16))
    g.generator.manual_seed(99)
    g(first, 0.8)
    assert not torch.equal(g.last_stage2_input, inputs[0])  # the condition input really comes from the frozen image


def test_run_loop_with_pixel_guidance_and_auto_choice(if_models, perler, tiny_root):
    stage1, _ = if_models
    palette = perler.subset(list(range(8)))
    config = make_config("fast", prompt="a red fox", palette=palette, width=12, height=9, steps=3, warmup=0,
                         seed=4, guidance_mode="pixel", pixel=PixelGuidanceConfig(model=stage1))
    guidance = build_guidance(config)
    assert isinstance(guidance, PixelGuidance) and guidance.config.prompt == "a red fox"
    seen = []
    pattern = run_optimization(config, guidance=guidance, callback_on_step_end=lambda i: seen.append(i.losses))
    assert pattern.shape == (9, 12) and len(seen) == 3
    assert all(np.isfinite(s["sds"]) and s["grad_norm"] > 0 for s in seen)
    auto = build_guidance(replace(config, guidance_mode="auto"))
    assert isinstance(auto, PixelGuidance)  # small design + IF model available -> pixel space
    with pytest.raises(OptimizeError, match="unknown guidance"):
        build_guidance(replace(config, guidance_mode="magic"))
    with pytest.raises(ModelLoadError, match="download.*nobody/no-if-here.*--pixel-model"):
        build_guidance(replace(config, pixel=PixelGuidanceConfig(model="nobody/no-if-here")))
    from tests.tiny_models import build_cached

    with pytest.raises(ModelLoadError, match="not a DeepFloyd IF"):
        PixelGuidance(PixelGuidanceConfig(model=stage1, stage2=True,
                                          stage2_model=str(build_cached("sd15", tiny_root))))


class OracleIF(torch.nn.Module):
    """An exact IF-shaped denoiser for one target image: eps = (x_t - sqrt(ab) x*) / sqrt(1 - ab), plus a dummy
    variance half (6 channels, as IF)."""

    def __init__(self, target: torch.Tensor, alphas_cumprod: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target)
        self.register_buffer("ab", alphas_cumprod)
        self.anchor = torch.nn.Parameter(torch.zeros(()))
        self.config = SimpleNamespace(sample_size=target.shape[-1], in_channels=3, out_channels=6)

    def forward(self, sample, t, return_dict=False, **kwargs):
        ab = self.ab[t]
        eps = (sample - ab.sqrt() * self.target) / (1 - ab).sqrt()
        return (torch.cat([eps, torch.zeros_like(eps)], dim=1),)


def test_oracle_denoiser_converges_through_the_run_loop(perler):
    """Exact denoiser for a target design: agreement with the target rises from chance to (nearly) all cells;
    the same run with the oracle of another target does not approach the first one (control)."""
    from diffusers import DDPMScheduler

    palette = perler.subset([0, 5, 9, 20])
    rng = np.random.default_rng(0)
    target_index = rng.integers(0, 4, size=(16, 16))
    alphas = DDPMScheduler(beta_schedule="squaredcos_cap_v2").alphas_cumprod

    def run(index: np.ndarray) -> list[float]:
        rgb = torch.as_tensor(palette.rgb[index], dtype=torch.float32).permute(2, 0, 1)[None]
        oracle = OracleIF(letterbox_render(rgb, 32) * 2 - 1, alphas)
        # No augmentation: the oracle knows one image, not its flips and grey versions.
        g = PixelGuidance.from_components(PixelGuidanceConfig(guidance_scale=1.0, device="cpu", seed=0,
                                                              augment=NO_AUG), oracle, alphas, torch.zeros(2, 4, 8))
        config = RunConfig(prompt="target", palette=palette, width=16, height=16, steps=150, warmup=0, lr=0.1,
                           fft_weight=0.0, seed=1, preview_every=1000)
        agreement: list[float] = []
        run_optimization(config, guidance=g, callback_on_step_end=lambda i: agreement.append(
            float(np.mean(i.generator.index_map() == target_index))))
        return agreement

    agreement = run(target_index)
    assert agreement[0] < 0.5
    assert agreement[-1] >= 0.95
    assert np.mean(agreement[-20:]) > np.mean(agreement[:20]) + 0.4
    other = run((target_index + 1) % 4)
    assert max(other[-20:]) < 0.2


def test_pixel_space_runs_never_sample_an_sdxl_init(if_models, perler, monkeypatch):
    # sample-and-select draws candidates from the SDXL pipeline; a pixel-space run starts from random logits
    import engine.sdpixl.optimize as opt

    def no_sampling(*args, **kwargs):
        raise AssertionError("sample-and-select ran for a pixel-space run")

    monkeypatch.setattr(opt, "sample_and_select", no_sampling)
    stage1, _ = if_models
    config = make_config("fast", prompt="a red fox", palette=perler.subset(list(range(8))), width=12, height=9,
                         steps=2, warmup=0, seed=4, guidance_mode="pixel", pixel=PixelGuidanceConfig(model=stage1))
    assert config.init == "auto" and config.init_samples > 0 and not config.image
    for mode in ("pixel", "auto"):  # auto resolves to pixel for a 12x9 design with the IF model available
        run = replace(config, guidance_mode=mode)
        pattern = run_optimization(run, guidance=build_guidance(run))
        assert pattern.shape == (9, 12)
