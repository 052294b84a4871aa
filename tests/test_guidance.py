"""Score-distillation guidance: the maths, Canny, the joint augmentation, model loading and the tiny models."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from tiny_models import build_cached

from engine.sdpixl.guidance.augment import AugmentConfig, AugmentParams, apply, homography, joint_augment, perspective
from engine.sdpixl.guidance.controls import canny, normalise_depth, to_condition
from engine.sdpixl.guidance.loading import ModelLoadError, load_pipeline, resolve_source
from engine.sdpixl.guidance.sds import cfg, reference_grad, sample_timestep, sds_grad, sds_loss, sds_weight, t_max_at
from engine.sdpixl.guidance.sdxl import ControlNetSpec, SDXLGuidance, SDXLGuidanceConfig


@pytest.fixture(scope="module")
def sdxl_guidance(tiny_root):
    cfg_ = SDXLGuidanceConfig(model=str(build_cached("sdxl", tiny_root)), prompt="a red fox", seed=0,
                              controlnets=[ControlNetSpec("canny", str(build_cached("controlnet-sdxl", tiny_root)))])
    return SDXLGuidance(cfg_, 12, 18)


# --------------------------------------------------------------------------- maths
def test_diffusers_cfg_41_equals_reference_form_40():
    g = torch.Generator().manual_seed(0)
    eu, ec, noise = (torch.randn(2, 4, 8, 8, generator=g) for _ in range(3))
    w = torch.tensor(0.7)
    ours = sds_grad(eu, ec, noise, w, 41.0)
    theirs = reference_grad(eu, ec, noise, w, 40.0)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.allclose(cfg(eu, ec, 1.0), ec, atol=1e-6)


def test_nans_are_zeroed():
    eu = torch.tensor([1.0, float("nan"), 2.0])
    grad = sds_grad(eu, torch.ones(3), torch.zeros(3), torch.tensor(1.0), 41.0)
    assert torch.isfinite(grad).all() and grad[1] == 0


def test_sds_loss_gradient_is_the_given_grad():
    z = torch.randn(1, 4, 6, 6, requires_grad=True)
    grad = torch.randn(1, 4, 6, 6)
    loss = sds_loss(z, grad)
    loss.backward()
    assert torch.allclose(z.grad, grad, atol=1e-6)
    assert loss.item() == pytest.approx(0.5 * float((grad**2).sum()), rel=1e-5)


def test_timestep_schedule():
    assert t_max_at(0.0) == pytest.approx(0.98)
    assert t_max_at(0.25) == pytest.approx(0.89)
    assert t_max_at(0.5) == pytest.approx(0.8) and t_max_at(0.9) == pytest.approx(0.8)
    g = torch.Generator().manual_seed(1)
    early = [sample_timestep(0.0, generator=g) for _ in range(400)]
    late = [sample_timestep(0.8, generator=g) for _ in range(400)]
    assert min(early) >= 20 and max(early) <= 980 and max(early) > 900
    assert min(late) >= 20 and max(late) <= 800 and max(late) > 750
    assert min(early + late) < 60


def test_weighting():
    ab = torch.tensor([0.9, 0.1])
    assert torch.allclose(sds_weight(ab), torch.tensor([0.1, 0.9]))
    assert torch.allclose(sds_weight(ab, "uniform"), torch.ones(2))
    with pytest.raises(ValueError):
        sds_weight(ab, "bogus")


# --------------------------------------------------------------------------- condition images
def test_canny_finds_a_step_edge_only():
    img = np.zeros((32, 32, 3), dtype=np.uint8)
    img[:, 16:] = 255
    edges = canny(img)
    cols = np.flatnonzero(edges.any(0))
    assert edges.sum() >= 28  # a (nearly) full-height line
    assert set(cols) <= {15, 16}
    assert canny(np.full((20, 20, 3), 90, dtype=np.uint8)).sum() == 0


def test_canny_hysteresis_keeps_weak_edges_connected_to_strong_ones():
    img = np.zeros((40, 40), dtype=np.float64)
    img[:, 20:] = 120.0  # step of 120 -> Sobel L1 magnitude 480: strong
    img[:20, 20:] = 30.0  # upper half: step of 30 -> magnitude 120: weak, connected to the strong part
    img[:, :4] = 0
    rgb = np.repeat(img[..., None], 3, -1).astype(np.uint8)
    edges = canny(rgb, low=100, high=200, blur_sigma=0)
    assert edges[5:15, 19:21].any()  # weak part survives through the connection
    lone = np.zeros((40, 40, 3), dtype=np.uint8)
    lone[:, 20:] = 30  # only a weak edge anywhere: removed
    assert canny(lone, low=100, high=200, blur_sigma=0).sum() == 0


def test_depth_normalisation_and_condition_layout():
    d = normalise_depth(np.array([[2.0, 4.0], [6.0, 10.0]]))
    assert d.min() == 0 and d.max() == 1 and d[0, 1] == pytest.approx(0.25)
    assert normalise_depth(np.ones((3, 3))).max() == 0
    c = to_condition(d)
    assert c.shape == (1, 3, 2, 2) and torch.equal(c[0, 0], c[0, 2])


# --------------------------------------------------------------------------- augmentation
def test_homography_maps_the_corners():
    src = [(0, 0), (9, 0), (9, 9), (0, 9)]
    dst = [(1, 2), (8, 0), (9, 7), (0, 9)]
    h = homography(src, dst)
    for (x, y), (u, v) in zip(src, dst):
        p = h @ torch.tensor([x, y, 1.0], dtype=torch.float64)
        assert p[0] / p[2] == pytest.approx(u, abs=1e-9) and p[1] / p[2] == pytest.approx(v, abs=1e-9)


def test_identity_perspective_and_flip_and_grayscale():
    x = torch.rand(1, 3, 9, 11)
    corners = [(0, 0), (10, 0), (10, 8), (0, 8)]
    assert torch.allclose(perspective(x, corners, corners), x, atol=1e-5)
    flipped = apply(x, AugmentParams(grayscale=False, hflip=True))
    assert torch.equal(flipped, x.flip(-1))
    gray = apply(x, AugmentParams(grayscale=True, hflip=False))
    assert torch.allclose(gray[:, 0], gray[:, 2]) and torch.allclose(gray[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1]
                                                                      + 0.114 * x[:, 2])


def test_joint_augmentation_moves_render_and_conditions_together():
    g = torch.Generator().manual_seed(0)
    cfg_ = AugmentConfig(p_grayscale=0.0, p_perspective=1.0, p_hflip=1.0)
    x = torch.rand(1, 3, 16, 24, requires_grad=True)
    render, (cond,) = joint_augment(x, [x.detach().clone()], cfg_, g)
    assert torch.allclose(render.detach(), cond, atol=1e-6)
    assert not torch.allclose(render.detach(), x.detach())
    render.sum().backward()
    assert x.grad.abs().sum() > 0
    off = AugmentConfig(enabled=False)
    same, _ = joint_augment(x, [], off, g)
    assert torch.equal(same, x)


# --------------------------------------------------------------------------- loading
def test_missing_hub_model_offline_says_how_to_get_it():
    with pytest.raises(ModelLoadError, match="hf download nobody/no-such-model"):
        load_pipeline("nobody/no-such-model", family="sdxl")


def test_bad_sources(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        resolve_source(str(tmp_path / "missing.safetensors"))
    with pytest.raises(ModelLoadError, match="neither"):
        resolve_source("not a model")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ModelLoadError, match="not a weights file"):
        resolve_source(str(tmp_path / "notes.txt"))
    with pytest.raises(ModelLoadError, match="model_index.json"):
        load_pipeline(str(tmp_path))
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not really safetensors")
    with pytest.raises(ModelLoadError, match="broken.safetensors"):
        load_pipeline(str(bad), family="sd15")


def test_single_file_of_diffusers_weights_needs_a_config(tiny_root, tmp_path):
    """A single file without a matching config (offline) fails with a message naming --model-config."""
    from safetensors.torch import save_file

    ckpt = tmp_path / "model.safetensors"
    save_file({"model.diffusion_model.out.2.weight": torch.zeros(4, 4, 3, 3)}, str(ckpt))
    with pytest.raises(ModelLoadError, match="--model-config"):
        load_pipeline(str(ckpt))


def test_single_file_checkpoint_loads_like_the_folder(tiny_root, tmp_path):
    from tiny_models import save_tiny_sd15_single_file

    folder = build_cached("sd15", tiny_root)
    ckpt = save_tiny_sd15_single_file(folder, tmp_path / "tiny-sd15.safetensors")
    with pytest.raises(ModelLoadError, match="--model-config"):
        load_pipeline(str(ckpt))  # offline and no config given: says what to pass
    base = SDXLGuidanceConfig(model=str(folder), prompt="a boat", seed=0, tiny_vae="none")
    from_folder = SDXLGuidance(base, 16, 16)
    from_file = SDXLGuidance(replace(base, model=str(ckpt), model_config=str(folder)), 16, 16)
    assert from_file.family == "sd15"
    assert torch.allclose(from_file.embeddings, from_folder.embeddings, atol=1e-6)
    z = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = from_folder.noise_predictions(z, torch.tensor(250), [])
        b = from_file.noise_predictions(z, torch.tensor(250), [])
    assert torch.allclose(a[1], b[1], atol=1e-5)
    x = torch.rand(1, 3, 16, 16)
    assert torch.allclose(from_file.encode(x), from_folder.encode(x), atol=1e-5)


# --------------------------------------------------------------------------- the guidance on tiny models
def test_sdxl_guidance_loads_frozen_and_frees_text_encoders(sdxl_guidance):
    g = sdxl_guidance
    assert g.family == "sdxl" and g.tiny  # the taesd/ sub-folder was found
    for module in [g.unet, g.encoder, *g.controlnets]:
        assert not any(p.requires_grad for p in module.parameters())
    assert not hasattr(g, "text_encoder") and not hasattr(g, "pipe")
    assert g.embeddings.shape[0] == 2 and g.pooled.shape[0] == 2
    h, w = g.render_hw
    assert abs((w / h) / (18 / 12) - 1) < 0.15


def test_sdxl_guidance_step_gives_finite_loss_and_gradient(sdxl_guidance):
    g = sdxl_guidance
    rng = np.random.default_rng(0)
    g.prepare_conditions((rng.random((40, 60, 3)) * 255).astype(np.uint8))
    assert len(g.conditions) == 1 and g.conditions[0].shape[-2:] == g.render_hw
    x = torch.rand(1, 3, 12, 18, requires_grad=True)
    out = g(x, 0.3, generator=torch.Generator().manual_seed(5))
    assert set(out) == {"loss_sds", "t", "grad_norm"}
    assert torch.isfinite(out["loss_sds"]) and out["loss_sds"] > 0
    assert 20 <= int(out["t"]) <= 980 - 54  # t_max at 0.3 is 0.872
    out["loss_sds"].backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    again = g(x.detach(), 0.3, generator=torch.Generator().manual_seed(5))
    assert again["loss_sds"].item() == pytest.approx(out["loss_sds"].item(), rel=1e-5)


def test_controlnet_condition_changes_the_prediction(sdxl_guidance):
    g = sdxl_guidance
    z = torch.randn(1, 4, *[s // g.vae_scale_factor for s in g.render_hw], generator=torch.Generator().manual_seed(0))
    t = torch.tensor(500)
    edges = torch.zeros(1, 3, *g.render_hw)
    edges[..., ::4, :] = 1.0
    with torch.no_grad():
        _, with_edges = g.noise_predictions(z, t, [edges])
        _, blank = g.noise_predictions(z, t, [torch.zeros_like(edges)])
    assert not torch.allclose(with_edges, blank, atol=1e-6)


def test_batched_and_separate_cfg_agree(sdxl_guidance):
    g = sdxl_guidance
    z = torch.randn(1, 4, *[s // g.vae_scale_factor for s in g.render_hw], generator=torch.Generator().manual_seed(1))
    t = torch.tensor(300)
    conds = [torch.zeros(1, 3, *g.render_hw)]
    with torch.no_grad():
        batched = g.noise_predictions(z, t, conds)
        g.config.batch_cfg = False
        try:
            separate = g.noise_predictions(z, t, conds)
        finally:
            g.config.batch_cfg = True
    assert torch.allclose(batched[0], separate[0], atol=1e-4) and torch.allclose(batched[1], separate[1], atol=1e-4)
    assert not torch.allclose(batched[0], batched[1])  # prompt and negative differ


def test_sd15_guidance_same_interface_and_lora_changes_it(tiny_root):
    pytest.importorskip("peft")
    model = str(build_cached("sd15", tiny_root))
    base = SDXLGuidanceConfig(model=model, prompt="a castle", seed=0, tiny_vae="none")
    plain = SDXLGuidance(base, 16, 16)
    assert plain.family == "sd15" and not plain.tiny and plain.pooled is None
    styled = SDXLGuidance(replace(base, lora=str(build_cached("lora-sd15", tiny_root)), lora_scale=1.0), 16, 16)
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    out = plain(x, 0.0)
    out["loss_sds"].backward()
    assert torch.isfinite(out["loss_sds"]) and x.grad.abs().sum() > 0
    z = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = plain.noise_predictions(z, torch.tensor(400), [])[1]
        b = styled.noise_predictions(z, torch.tensor(400), [])[1]
    assert not torch.allclose(a, b, atol=1e-5)
    for p in styled.unet.parameters():
        assert not p.requires_grad
    assert not any("lora" in name for name, _ in styled.unet.named_parameters())  # fused, then unloaded


def test_depth_condition_from_dpt_or_from_a_user_image(tiny_root, tmp_path):
    from PIL import Image
    from tiny_models import make_tiny_depth_image

    cfg_ = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)),
                              depth_model=str(build_cached("dpt", tiny_root)),
                              controlnets=[ControlNetSpec("depth", str(build_cached("controlnet-sd15", tiny_root)))])
    g = SDXLGuidance(cfg_, 12, 18)
    rng = np.random.default_rng(1)
    photo = (rng.random((24, 36, 3)) * 255).astype(np.uint8)
    g.prepare_conditions(photo)
    (estimated,) = g.conditions
    assert estimated.shape == (1, 3, *g.render_hw)
    assert float(estimated.min()) == pytest.approx(0.0) and float(estimated.max()) == pytest.approx(1.0)
    depth_path = make_tiny_depth_image(tmp_path / "d.png", (36, 24))
    g.prepare_conditions(photo, np.asarray(Image.open(depth_path)))
    (given,) = g.conditions
    assert not torch.allclose(given, estimated)
    h, w = g.render_hw
    assert given[0, 0, h // 2, w // 2] > given[0, 0, 0, 0]  # the radial map is nearest in the middle
    with pytest.raises(ValueError, match="input image"):
        g.prepare_conditions(None)


def test_missing_lora_and_controlnet_are_model_load_errors(tiny_root, tmp_path):
    model = str(build_cached("sd15", tiny_root))
    with pytest.raises(ModelLoadError, match="LoRA"):
        SDXLGuidance(SDXLGuidanceConfig(model=model, lora=str(tmp_path / "nope.safetensors")))
    with pytest.raises(ModelLoadError, match="hf download nobody/cn"):
        SDXLGuidance(SDXLGuidanceConfig(model=model, controlnets=[ControlNetSpec("depth", "nobody/cn")]))


def test_tiny_models_folder_layout(tiny_root):
    folder = build_cached("sdxl", tiny_root)
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionXLPipeline"
    assert (folder / "taesd" / "config.json").is_file()
    assert build_cached("sdxl", tiny_root) == folder  # cached, not rebuilt


# --------------------------------------------------------------------------- reference defaults, v-prediction, offline
def test_controlnet_defaults_are_the_reference_mid_nets_at_015():
    from engine.sdpixl.guidance.loading import DEFAULT_CONTROLNETS

    assert DEFAULT_CONTROLNETS["sdxl"] == {"canny": "diffusers/controlnet-canny-sdxl-1.0-mid",
                                           "depth": "diffusers/controlnet-depth-sdxl-1.0-mid"}
    assert ControlNetSpec("canny").scale == 0.15 and ControlNetSpec("depth").scale == 0.15


class _VOracle(torch.nn.Module):
    """A 'UNet' that returns the v-prediction of a known eps: v = sqrt(a) eps - sqrt(1 - a) z0, with
    z0 = (z_t - sqrt(1 - a) eps) / sqrt(a)."""

    def __init__(self, alphas, eps):
        super().__init__()
        self.alphas, self.eps = alphas, eps
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.config = type("C", (), {"block_out_channels": (4, 4), "sample_size": 8})()

    def forward(self, sample, t, return_dict=False, **kwargs):
        a = self.alphas[t].reshape(-1, 1, 1, 1)
        z0 = (sample - (1 - a).sqrt() * self.eps) / a.sqrt()
        return (a.sqrt() * self.eps - (1 - a).sqrt() * z0,)


def test_v_prediction_is_converted_to_eps_and_other_kinds_refused():
    from engine.sdpixl.guidance.sdxl import check_prediction_type

    alphas = torch.linspace(0.999, 0.01, 1000)
    eps = torch.randn(1, 4, 8, 8)
    enc = torch.nn.Conv2d(3, 4, 1)
    cfg_ = SDXLGuidanceConfig(device="cpu")
    g = SDXLGuidance.from_components(cfg_, _VOracle(alphas, eps), enc, alphas, torch.zeros(2, 3, 8), tiny=True,
                                     vae_scale_factor=1, prediction_type="v_prediction")
    z_t = torch.randn(1, 4, 8, 8)
    for t in (30, 500, 900):
        eu, ec = g.noise_predictions(z_t, torch.tensor([t]), [])
        assert torch.allclose(ec, eps, atol=1e-4) and torch.allclose(eu, eps, atol=1e-4)
    assert check_prediction_type({"prediction_type": "epsilon"}) == "epsilon"
    with pytest.raises(ModelLoadError, match="epsilon- or v-prediction"):
        check_prediction_type({"prediction_type": "sample"})


def test_offline_is_detected_fast_and_named_in_plain_words(monkeypatch):
    import time

    from engine.sdpixl.guidance import loading

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: like no network
    loading._REACH_CACHE.clear()
    t0 = time.perf_counter()
    with pytest.raises(loading.ModelOfflineError) as info:
        load_pipeline("nobody/no-such-model", family="sdxl")
    assert time.perf_counter() - t0 < 10  # one quick check, no minute of retries
    err = info.value
    assert "hf download nobody/no-such-model" in str(err) and "no connection to the model hub" in str(err)
    assert err.command == "hf download nobody/no-such-model" and err.repo == "nobody/no-such-model"
    assert "not on this computer" in err.plain and "hf download" in err.plain and ".safetensors" in err.plain
    import pickle

    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, loading.ModelOfflineError) and again.plain == err.plain
    assert loading.download_command("a/b") == "hf download a/b"  # the installed huggingface_hub ships `hf`
    loading._REACH_CACHE.clear()


def test_without_taesd_offline_the_full_vae_runs_checkpointed_in_bf16(tiny_root, tmp_path, monkeypatch, caplog):
    import shutil

    from engine.sdpixl.guidance import sdxl as sdxl_mod
    from engine.sdpixl.guidance.loading import load_tiny_vae

    folder = tmp_path / "no-taesd"
    shutil.copytree(build_cached("sdxl", tiny_root), folder)
    shutil.rmtree(folder / "taesd")
    with caplog.at_level("WARNING"):
        assert load_tiny_vae("auto", "sdxl", str(folder)) is None
    assert "hf download madebyollin/taesdxl" in caplog.text and "--tiny-vae none" in caplog.text
    g = SDXLGuidance(SDXLGuidanceConfig(model=str(folder), prompt="a fox", seed=0), 8, 8)
    assert g.tiny is False and g.encoder.encoder.gradient_checkpointing is True
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert sdxl_mod.full_vae_dtype(torch.float16, torch.device("cuda")) == torch.bfloat16
    assert sdxl_mod.full_vae_dtype(torch.float32, torch.device("cuda")) == torch.bfloat16  # never fp32 on GPU
    out = g(torch.rand(1, 3, 8, 8, requires_grad=True), 0.1)
    assert torch.isfinite(out["loss_sds"])


def test_compile_is_opt_in_and_wraps_unet_controlnets_and_encoder(tiny_root):
    from engine.sdpixl.optimize import PRESETS

    assert PRESETS["fast"].guidance.compile is False and PRESETS["reference"].guidance.tf32 is True
    cn = str(build_cached("controlnet-sdxl", tiny_root))
    cfg_ = SDXLGuidanceConfig(model=str(build_cached("sdxl", tiny_root)), prompt="a fox", seed=0, compile=True,
                              controlnets=[ControlNetSpec("canny", cn)])
    g = SDXLGuidance(cfg_, 12, 18)  # compiling happens lazily at the first call; only the wrapping is checked
    compiled = torch._dynamo.eval_frame.OptimizedModule
    assert isinstance(g._unet_call, compiled) and all(isinstance(c, compiled) for c in g._controlnet_calls)
    assert isinstance(g.encoder.encoder, compiled)
    assert g.time_ids.tolist() == [[*g.render_hw, 0, 0, *g.render_hw]]  # precomputed once per size


def test_device_augmentation_matches_the_reference_distributions():
    from engine.sdpixl.guidance.augment import DeviceAugment

    aug = DeviceAugment(AugmentConfig(), 32, 48, "cpu")
    g = torch.Generator().manual_seed(0)
    draws = [aug.draw(g) for _ in range(2000)]
    for key, p in (("gray", 0.2), ("persp", 0.5), ("flip", 0.5)):
        rate = float(np.mean([bool(d[key]) for d in draws]))
        assert abs(rate - p) < 0.04, (key, rate)
    # perspective off: identity; on: the four corners move inwards by at most distortion * size / 2
    x = torch.rand(1, 3, 32, 48)
    off = {"gray": torch.tensor(False), "persp": torch.tensor(False), "flip": torch.tensor(False),
           "grid": aug.identity_grid}
    assert torch.equal(aug.apply(x, off), x)
    d = next(d for d in draws if bool(d["persp"]))
    corners = d["grid"][[0, 0, -1, -1], [0, -1, -1, 0]]  # where the output corners sample the input
    px = (corners[:, 0] + 1) / 2 * 47
    py = (corners[:, 1] + 1) / 2 * 31
    assert bool(((px < -1e-3) | (px > 47 + 1e-3) | (py < -1e-3) | (py > 31 + 1e-3)).any())  # zoomed-out frame
    # same draw on render and condition: they stay aligned
    r, (c,) = aug(x, [x.clone()], torch.Generator().manual_seed(3))
    assert torch.allclose(r, c)


def test_canny_condition_of_a_small_photo_keeps_its_edges(tiny_root, sample_image_path):
    """A small photo enlarged to the render: edges per pixel of the render fall under the thresholds (the
    reference's 1024 px condition of the 451 px sample photo has 0.0002 of its pixels on edges); they are measured
    per pixel of the photo instead."""
    from PIL import Image

    from engine.sdpixl.optimize import load_rgb

    cn = str(build_cached("controlnet-sd15", tiny_root))
    g = SDXLGuidance(SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)), prompt="a cat", seed=0,
                                        resolution=256, controlnets=[ControlNetSpec("canny", cn)]), 256, 256)
    photo = np.asarray(Image.fromarray(load_rgb(sample_image_path)).resize((90, 60), Image.BILINEAR))
    g.prepare_conditions(photo)
    fraction = float(g.conditions[0][0, 0].mean())
    native = float(canny(photo).mean())
    scale = min(g.render_hw[0] / photo.shape[0], g.render_hw[1] / photo.shape[1])
    assert scale > 2 and fraction > 0.5 * native / scale
