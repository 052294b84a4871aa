"""The guidance planner: automatic choice of pixel / latent / patch-wise guidance, estimates from the real
architecture configs (FLOPs counted on the meta device), and the CLI that prints them before a run."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tiny_if_models import build_cached_if
from tiny_models import build_cached

from engine.core.pattern import Pattern
from engine.sdpixl.costs import ARCHS, MODEL_COSTS, unet_cost
from engine.sdpixl.planner import DEVICES, ENCODER_FWD_BWD, STEP_OVERHEAD_S, if_model_available, plan_guidance
from main import main


@pytest.mark.parametrize("size, available, mode", [
    ((29, 29), True, "pixel"), ((64, 40), True, "pixel"), ((29, 29), False, "latent"), ((65, 65), True, "latent"),
    ((128, 100), True, "latent"), ((290, 290), True, "patch"), ((200, 60), False, "patch"),
])
def test_automatic_choice(size, available, mode):
    plan = plan_guidance(*size, device="H100", pixel_available=available)
    assert plan.mode == mode
    if mode == "patch":
        scale = max(8, -(-1024 // min(size)))  # >= 8 px per cell and at least one 1024 px crop
        assert plan.px_per_cell == scale and plan.canvas == (size[1] * scale, size[0] * scale)
        assert plan.crops_per_sweep > 1
    if mode == "latent" and not available and max(size) <= 64:
        assert "not available" in plan.reason


def test_controlnets_keep_small_designs_in_latent_space():
    plan = plan_guidance(29, 29, device="H100", pixel_available=True, controlnets=1)
    assert plan.mode == "latent" and "ControlNets" in plan.reason


def test_explicit_choice_and_bad_input():
    assert plan_guidance(29, 29, "latent", device="H100", pixel_available=True).mode == "latent"
    forced = plan_guidance(100, 100, "pixel", device="H100")
    assert forced.mode == "pixel" and any("exceed" in w for w in forced.warnings)
    with pytest.raises(ValueError, match="unknown guidance"):
        plan_guidance(10, 10, "vae")
    with pytest.raises(ValueError, match="positive"):
        plan_guidance(0, 10)


def test_estimates_follow_the_flop_counts_and_device():
    unet, cn, enc = MODEL_COSTS["sdxl-unet"], MODEL_COSTS["sdxl-controlnet"], MODEL_COSTS["taesdxl-encoder"]
    plan = plan_guidance(100, 100, "latent", device="H100", controlnets=2, steps=1000, controlnet_size="full")
    flops = 2 * unet.flops + 2 * 2 * cn.flops + ENCODER_FWD_BWD * enc.flops
    assert plan.tflop_per_step == pytest.approx(flops / 1e12)
    expected = flops / (DEVICES["H100"].tflops_half * 1e12) + STEP_OVERHEAD_S["cuda"]
    assert plan.seconds_per_step == pytest.approx(expected)
    assert plan.total_seconds == pytest.approx(1000 * plan.seconds_per_step)
    weights = (unet.params + 2 * cn.params + enc.params) * 2 / 2**30
    assert weights < plan.peak_gib < weights + 10
    slower = plan_guidance(100, 100, "latent", device="A100", controlnets=2, controlnet_size="full")
    assert slower.seconds_per_step > 2 * plan.seconds_per_step
    assert plan_guidance(100, 100, "latent", device="H100").tflop_per_step < plan.tflop_per_step  # no ControlNets
    pixel = plan_guidance(32, 32, "pixel", device="H100")
    assert pixel.tflop_per_step == pytest.approx(2 * MODEL_COSTS["if-I-XL"].flops / 1e12)
    assert pixel.seconds_per_step < plan.seconds_per_step
    assert pixel.load_peak_gib > pixel.peak_gib  # T5-XXL at load time, freed before the loop
    stage2 = plan_guidance(32, 32, "pixel", device="H100", stage2=True)
    assert stage2.peak_gib > pixel.peak_gib and stage2.render == (256, 256)
    small_gpu = plan_guidance(100, 100, "latent", device="T4", controlnets=2, half=False)  # fp32: ~26 GiB
    assert small_gpu.peak_gib > 16 and any("exceeds" in w for w in small_gpu.warnings)
    text = plan.summary()
    assert "guidance: latent" in text and "s/step" in text and "GiB" in text and "NVIDIA H100" in text


def test_cost_table_matches_the_configs():
    """The planner's table is what counting the real diffusers modules on the meta device gives (one entry
    recomputed here; ``benchmarks/sds_guidance_paths.py --flops`` recomputes all)."""
    fresh = unet_cost(ARCHS["if-I-L"], memory=False)
    table = MODEL_COSTS["if-I-L"]
    assert fresh.params == table.params
    assert fresh.flops == pytest.approx(table.flops, rel=1e-5)
    assert abs(MODEL_COSTS["if-I-XL"].params - 4.3e9) < 0.05e9  # the model card's size
    assert 2 * MODEL_COSTS["sdxl-unet"].flops == pytest.approx(13.5e12, rel=0.01)  # SDXL UNet, CFG batch 2


def test_meta_flop_count_equals_a_real_forward_count():
    """Counting on the meta device gives the same FLOPs as running the real (tiny) module."""
    from diffusers import UNet2DConditionModel
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    cfg = dict(sample_size=16, in_channels=3, out_channels=6, layers_per_block=1, block_out_channels=(16, 32),
               down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
               mid_block_type="UNetMidBlock2DSimpleCrossAttn",
               up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"), cross_attention_dim=32,
               encoder_hid_dim=32, attention_head_dim=8, addition_embed_type="text", addition_embed_type_num_heads=2,
               cross_attention_norm="group_norm", resnet_time_scale_shift="scale_shift", act_fn="gelu",
               norm_num_groups=8)
    meta = unet_cost(cfg)
    unet = UNet2DConditionModel(**cfg)
    # the math attention kernel: the flop counter has no formula for the fused CPU attention kernel
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        unet(torch.zeros(1, 3, 16, 16), torch.zeros(1, dtype=torch.long), encoder_hidden_states=torch.zeros(1, 77, 32))
    assert meta.flops == fc.get_total_flops() > 0
    assert meta.params == sum(p.numel() for p in unet.parameters())


def test_model_availability(tiny_root, tmp_path):
    assert if_model_available(str(build_cached_if("if", tiny_root)))
    assert not if_model_available(str(tmp_path))  # a folder without model_index.json
    assert not if_model_available("nobody/no-such-model")


def _args(model, out, *extra):
    return ["generate", "--prompt", "a red fox", "--palette", "perler", "--steps", "3", "--model", str(model),
            "--seed", "2", "--device", "cpu", "--out", str(out), *extra]


def test_cli_prints_the_plan_and_runs_the_chosen_path(tiny_root, tmp_path, capsys):
    model = build_cached("sd15", tiny_root)
    out = tmp_path / "mural.pixl"
    assert main(_args(model, out, "--size", "290x290", "--plan-only")) == 0
    text = capsys.readouterr().out
    assert "guidance: patch" in text and "px per cell" in text and "s/step" in text
    assert not out.exists()
    tiny_if = build_cached_if("if", tiny_root)
    small = tmp_path / "fox.pixl"
    code = main(_args(model, small, "--size", "20x16", "--pixel-model", str(tiny_if)))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "guidance: pixel" in captured.out and f"wrote {small}" in captured.out
    pattern = Pattern.load(small)
    assert pattern.shape == (16, 20) and pattern.metadata["model"] == str(tiny_if)
    code = main(_args(model, tmp_path / "x.pixl", "--size", "20x16", "--guidance", "patch", "--detail-from", "2"))
    assert code == 2 and "--detail-from" in capsys.readouterr().err


def test_default_mid_controlnets_cost_less_than_full_ones():
    from engine.sdpixl.guidance.sdxl import ControlNetSpec
    from engine.sdpixl.planner import controlnet_size

    mid = plan_guidance(100, 100, "latent", device="H100", controlnets=2)
    full = plan_guidance(100, 100, "latent", device="H100", controlnets=2, controlnet_size="full")
    cn_mid, cn_full = MODEL_COSTS["sdxl-controlnet-mid"], MODEL_COSTS["sdxl-controlnet"]
    assert full.tflop_per_step - mid.tflop_per_step == pytest.approx(4 * (cn_full.flops - cn_mid.flops) / 1e12)
    assert mid.peak_gib < full.peak_gib
    assert controlnet_size([ControlNetSpec("canny")]) == "mid"  # the family default is the -mid net
    assert controlnet_size([ControlNetSpec("depth", "diffusers/controlnet-depth-sdxl-1.0")]) == "full"


def _config_only_sd15(folder):
    """A folder with SD 1.5's published UNet and VAE configs (no weights): what the planner reads."""
    import json

    from engine.sdpixl.costs import SD15_UNET

    (folder / "unet").mkdir(parents=True)
    (folder / "vae").mkdir()
    (folder / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel", **SD15_UNET}))
    (folder / "vae" / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL",
                                                            "block_out_channels": [128, 256, 512, 512]}))
    return folder


def test_the_plan_follows_the_loaded_model(tiny_root, tmp_path):
    from engine.sdpixl.latent_profile import latent_profile
    from engine.sdpixl.optimize import make_config
    from engine.sdpixl.planner import plan_for_run

    sdxl = plan_guidance(100, 100, "latent", device="cpu")
    assert sdxl.render == (1024, 1024) and sdxl.tflop_per_step == pytest.approx(14.5, abs=0.1)
    sd15_folder = _config_only_sd15(tmp_path / "sd15")
    profile = latent_profile(str(sd15_folder))
    assert (profile.family, profile.resolution, profile.size_multiple) == ("sd15", 512, 64)
    assert profile.unet == MODEL_COSTS["sd15-unet"]  # a known architecture: the table's figures
    config = make_config("fast", prompt="a fox", width=50, height=50, guidance_mode="latent",
                         guidance=replace(make_config().guidance, model=str(sd15_folder), device="cpu"))
    plan = plan_for_run(config)
    enc = MODEL_COSTS["taesdxl-encoder"].flops / 4  # TAESD at 512^2: a quarter of 1024^2's pixels
    assert plan.render == (512, 512) and plan.px_per_cell == pytest.approx(512 / 50)
    assert plan.tflop_per_step * 1e12 == pytest.approx(2 * MODEL_COSTS["sd15-unet"].flops + ENCODER_FWD_BWD * enc)
    assert plan.tflop_per_step < sdxl.tflop_per_step / 5 and plan.peak_gib < sdxl.peak_gib
    assert "sd15" in plan.summary() and "512" in plan.summary()
    # auto: 100 cells a side get 5.1 px per cell at 512 px (patch-wise), 10.2 px at SDXL's 1024 px (latent)
    assert plan_for_run(replace(config, width=100, height=100, guidance_mode="auto")).mode == "patch"
    assert plan_guidance(100, 100, device="cpu", pixel_available=False).mode == "latent"


@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
def test_tiny_pipelines_are_planned_from_their_own_configs(tiny_root, kind):
    from diffusers import UNet2DConditionModel

    from engine.sdpixl.costs import unet_cost
    from engine.sdpixl.latent_profile import latent_profile, unet_init_args

    folder = build_cached(kind, tiny_root)
    profile = latent_profile(str(folder))
    unet = UNet2DConditionModel.from_pretrained(str(folder / "unet"))
    assert profile.family == kind and profile.resolution == 32  # sample_size 16 x VAE factor 2
    assert profile.unet.params == sum(p.numel() for p in unet.parameters())
    assert profile.unet.flops == unet_cost(unet_init_args(dict(unet.config)), memory=False).flops
    plan = plan_guidance(4, 4, "latent", device="cpu", latent=profile)
    assert plan.render == (32, 32) and plan.tflop_per_step < 1e-3


def test_single_file_checkpoints_are_planned_by_their_family(tiny_root, tmp_path):
    from tiny_models import save_tiny_sd15_single_file

    from engine.sdpixl.latent_profile import latent_profile

    folder = build_cached("sd15", tiny_root)
    single = save_tiny_sd15_single_file(folder, tmp_path / "model.safetensors")
    alone = latent_profile(str(single))  # no config folder: SD 1.5's published architecture (from the tensor names)
    assert (alone.family, alone.resolution, alone.unet) == ("sd15", 512, MODEL_COSTS["sd15-unet"])
    assert latent_profile(str(single), str(folder)).resolution == 32  # with its config folder: the real one
    unknown = latent_profile("nobody/not-cached")
    assert unknown.assumed and unknown.family == "sdxl"
    assert any("assume SDXL" in w for w in plan_guidance(100, 100, "latent", device="cpu", latent=unknown).warnings)


def test_cli_plan_only_prints_the_loaded_model_s_figures(tiny_root, tmp_path, capsys):
    folder = _config_only_sd15(tmp_path / "sd15")
    assert main(_args(folder, tmp_path / "p.pixl", "--size", "50x50", "--guidance", "latent", "--plan-only")) == 0
    text = capsys.readouterr().out
    assert "model input 512x512 px" in text and "14.5 TFLOP" not in text and "sd15" in text
