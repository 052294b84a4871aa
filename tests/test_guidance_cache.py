"""A loaded diffusion guidance is kept and reused across runs (engine.sdpixl.guidance.cache), keyed by model,
dtype and device; a new prompt is encoded with the kept text encoders."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tiny_models import build_cached

import engine.sdpixl.guidance.cache as cache_mod
from engine.sdpixl.guidance.cache import GuidanceCache
from engine.sdpixl.guidance.sdxl import ControlNetSpec, SDXLGuidance, SDXLGuidanceConfig
from engine.sdpixl.optimize import make_config, run_optimization


@pytest.fixture
def counted(monkeypatch):
    """Count pipeline and ControlNet loads."""
    calls = {"pipeline": 0, "controlnet": 0}
    load_pipeline, load_controlnet = cache_mod.load_pipeline, cache_mod.load_controlnet

    def pipeline(*a, **k):
        calls["pipeline"] += 1
        return load_pipeline(*a, **k)

    def controlnet(*a, **k):
        calls["controlnet"] += 1
        return load_controlnet(*a, **k)

    monkeypatch.setattr(cache_mod, "load_pipeline", pipeline)
    monkeypatch.setattr(cache_mod, "load_controlnet", controlnet)
    return calls


def test_second_guidance_loads_nothing_and_encodes_the_new_prompt(tiny_root, counted):
    model = str(build_cached("sdxl", tiny_root))
    cn = str(build_cached("controlnet-sdxl", tiny_root))
    cfg = SDXLGuidanceConfig(model=model, device="cpu", prompt="a cat", seed=1,
                             controlnets=[ControlNetSpec("canny", cn)])
    cache = GuidanceCache()
    first = cache.latent(cfg, 10, 12)
    second = cache.latent(replace(cfg, prompt="a lighthouse"), 10, 12)
    assert counted == {"pipeline": 1, "controlnet": 1} and cache.loads == 1
    assert second.unet is first.unet and second.controlnets[0] is first.controlnets[0]
    assert not torch.equal(first.embeddings, second.embeddings)
    fresh = SDXLGuidance(replace(cfg, prompt="a lighthouse"), 10, 12)  # what a full load gives
    assert torch.allclose(second.embeddings, fresh.embeddings, atol=1e-6)
    assert torch.allclose(second.pooled, fresh.pooled, atol=1e-6)
    x = torch.rand(1, 3, 10, 12, generator=torch.Generator().manual_seed(0))
    second.generator.manual_seed(3)
    fresh.generator.manual_seed(3)
    assert torch.allclose(second(x, 0.3)["loss_sds"], fresh(x, 0.3)["loss_sds"], rtol=1e-4)
    # Another dtype is another model set: loaded, and the previous one let go.
    cache.latent(replace(cfg, dtype="bf16"), 10, 12)
    assert counted["pipeline"] == 2 and cache.loads == 2


def test_runs_through_the_cache_reuse_the_loaded_model(tiny_root, perler, sample_image_path, counted):
    g = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)), device="cpu")
    config = make_config("fast", prompt="a cat", palette=perler.subset(list(range(8))), width=12, height=10,
                         steps=2, image=str(sample_image_path), seed=7, guidance=g, guidance_mode="latent")
    cache = GuidanceCache()
    a = run_optimization(config, guidance_cache=cache)
    b = run_optimization(replace(config, prompt="a dog"), guidance_cache=cache)
    assert counted["pipeline"] == 1
    assert a.shape == b.shape == (10, 12)
    # the same run with and without the cache gives the same design (nothing of the first run leaks)
    again = run_optimization(replace(config, prompt="a dog"))
    assert (again.index == b.index).all()


def test_missing_default_controlnets_are_left_out_asked_ones_fail(tiny_root, counted):
    from engine.sdpixl.guidance.loading import ModelLoadError

    cfg = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)), device="cpu", prompt="a cat",
                             controlnets=[ControlNetSpec("canny", "nobody/no-controlnet")])
    cache = GuidanceCache()
    g = cache.latent(cfg, 10, 12, optional_controlnets=True)
    assert g.controlnets == [] and g.config.controlnets == []
    with pytest.raises(ModelLoadError, match="nobody/no-controlnet"):
        cache.latent(cfg, 10, 12)


def test_a_text_only_run_loads_its_model_once_for_sampling_and_guidance(tiny_root, perler, monkeypatch):
    """Sampling the init candidates and the guidance share one load (today's CLI: two loads per text-only run)."""
    import engine.sdpixl.guidance.loading as loading
    from engine.sdpixl.select_init import SampleInitConfig, sample_candidates

    loads = []
    real = loading.load_pipeline

    def counting(*a, **k):
        loads.append(a[0])
        return real(*a, **k)

    monkeypatch.setattr(loading, "load_pipeline", counting)
    monkeypatch.setattr(cache_mod, "load_pipeline", counting)
    g = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)), device="cpu")
    config = make_config("fast", prompt="a cat", palette=perler.subset(list(range(8))), width=12, height=10,
                         steps=1, seed=7, guidance=g, guidance_mode="latent", init_samples=2,
                         sample_init=SampleInitConfig(clip_model=str(build_cached("clip", tiny_root)),
                                                      inference_steps=2))
    pattern = run_optimization(config)
    assert pattern.metadata["init"] == "sample" and len(loads) == 1
    cache = GuidanceCache()
    shared = sample_candidates(config, 2, loaded=cache.sampling_pipeline(config))
    own = sample_candidates(config, 2)  # its own load: the same candidates
    assert all((a == b).all() for a, b in zip(shared, own))


def test_default_depth_controlnet_needs_a_depth_model_or_map(tiny_root, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cn = str(build_cached("controlnet-sd15", tiny_root))
    base = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)), device="cpu", prompt="a cat",
                              controlnets=[ControlNetSpec("canny", cn), ControlNetSpec("depth", cn)],
                              depth_model="nobody/no-depth-model")
    cache = GuidanceCache()
    kinds = [c.kind for c in cache.latent(base, 10, 12, optional_controlnets=True).config.controlnets]
    assert kinds == ["canny"]  # no depth estimator offline: the default depth net is left out
    kinds = [c.kind for c in cache.latent(base, 10, 12, optional_controlnets=True, depth_map=True).config.controlnets]
    assert kinds == ["canny", "depth"]  # a user depth map needs no estimator
    dpt = replace(base, depth_model=str(build_cached("dpt", tiny_root)))
    assert len(cache.latent(dpt, 10, 12, optional_controlnets=True).controlnets) == 2
