"""Speed and memory of one full SD-piXL step: render -> encode -> UNet (+ControlNets) -> backward to the logits.

Builds the architectures from config with random weights (no download): full-size SDXL UNet, two SDXL
ControlNets, TAESDXL, at 1024^2 on CUDA; small SDXL-shaped models at 128^2 on the CPU (``--tiny``, automatic
without CUDA; those figures say nothing about GPU speed and are labelled as CPU figures).

Compares, in the same run:
  reference  fp32 weights, three UNet branches (the reference's unused third one), no channels-last
  optimised  half precision (fp16, or --half bf16), two CFG branches batched, channels-last, optionally
             torch.compile (--compile)
Both use PyTorch's scaled-dot-product attention (diffusers' default) and TAESD(XL) for encoding, as the
reference does.

    python benchmarks/sds_speed.py                 # auto: GPU full size, else CPU tiny
    python benchmarks/sds_speed.py --tiny --steps 4
    python benchmarks/sds_speed.py --controlnets 0 --compile
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.palette import load_palette  # noqa: E402
from engine.sdpixl.generator import PaletteGenerator  # noqa: E402
from engine.sdpixl.guidance.sdxl import ControlNetSpec, SDXLGuidance, SDXLGuidanceConfig  # noqa: E402
from engine.sdpixl.losses import fft_smoothness_loss  # noqa: E402


@dataclass
class Arch:
    """UNet / text sizes of the benchmark models."""

    unet: dict
    text_dim: int
    pooled_dim: int
    taesd: dict
    resolution: int


def sdxl_arch() -> Arch:
    """SDXL base 1.0's UNet configuration (as published with the model), TAESDXL defaults, 1024^2."""
    unet = dict(
        sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048,
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
    )
    return Arch(unet, 2048, 1280, {}, 1024)


def tiny_arch() -> Arch:
    """A small SDXL-shaped model for CPU runs (same block structure, narrow channels), 128^2."""
    unet = dict(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 1, 2), attention_head_dim=(2, 4, 4), cross_attention_dim=64,
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=8 * 6 + 32, norm_num_groups=16,
    )
    taesd = dict(encoder_block_out_channels=(16, 16, 16, 16), decoder_block_out_channels=(16, 16, 16, 16))
    return Arch(unet, 64, 32, taesd, 128)


def build_models(arch: Arch, controlnets: int, seed: int = 0):
    """Random-weight UNet, TAESD and ControlNets (fp32, CPU) plus random text encodings."""
    from diffusers import AutoencoderTiny, ControlNetModel, DDPMScheduler, UNet2DConditionModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**arch.unet)
    taesd = AutoencoderTiny(**arch.taesd)
    nets = [ControlNetModel.from_unet(unet, load_weights_from_unet=False) for _ in range(controlnets)]
    sched = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    emb = torch.randn(2, 77, arch.text_dim) * 0.5
    pooled = torch.randn(2, arch.pooled_dim) * 0.5
    return unet, taesd, nets, sched.alphas_cumprod, emb, pooled


def measure(name: str, arch: Arch, cfg: SDXLGuidanceConfig, n_controlnets: int, steps: int, warmup: int,
            cells: int, device: torch.device) -> dict:
    """Build fresh models for ``cfg`` and time ``steps`` full optimiser steps after ``warmup`` ones."""
    unet, taesd, nets, alphas, emb, pooled = build_models(arch, n_controlnets)
    guidance = SDXLGuidance.from_components(cfg, unet, taesd, alphas, emb, pooled, nets, tiny=True,
                                            vae_scale_factor=8, height=cells, width=cells)
    del unet, taesd, nets
    gc.collect()
    palette = load_palette("perler")
    gen = PaletteGenerator.create(palette, cells, cells, "random", generator=torch.Generator().manual_seed(0))
    gen.to(device)
    opt = torch.optim.AdamW([gen.logits], lr=0.025, weight_decay=0.01)
    side = guidance.render_hw[0]
    planes = [torch.rand(1, 3, side, side, device=device) for _ in range(n_controlnets)]
    guidance.conditions = planes

    def step(i: int) -> None:
        img = gen(tau=1.0, generator=torch.Generator().manual_seed(i))
        out = guidance(img.permute(2, 0, 1)[None], i / max(1, steps))
        loss = out["loss_sds"] + 20.0 * fft_smoothness_loss(img)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([gen.logits], 1.0)
        opt.step()
        gen.center_()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for i in range(warmup):
        step(i)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        step(warmup + i)
        sync()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)  # robust to spikes from other work on a shared machine
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    result = {"name": name, "it_s": 1.0 / median, "s_per_it": median, "peak_gib": peak,
              "render": guidance.render_hw}
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="small models on the CPU (automatic without CUDA)")
    p.add_argument("--steps", type=int, default=None, help="timed steps; the median is reported (20 GPU, 5 CPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps (default 3 GPU, 1 CPU)")
    p.add_argument("--controlnets", type=int, default=2, choices=[0, 1, 2], help="ControlNets to run (2)")
    p.add_argument("--cells", type=int, default=64, help="pattern side in cells (64)")
    p.add_argument("--half", choices=["fp16", "bf16"], default="fp16", help="optimised precision (fp16)")
    p.add_argument("--compile", action="store_true", help="torch.compile the UNet in the optimised mode")
    p.add_argument("--skip-reference", action="store_true", help="only the optimised mode (no speed-up figure)")
    args = p.parse_args(argv)
    from diffusers.utils import logging as dlog

    dlog.set_verbosity_error()

    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    arch = sdxl_arch() if cuda else tiny_arch()
    steps = args.steps or (20 if cuda else 5)
    if not cuda:
        torch.set_num_threads(1)  # small models: threads only add contention on a shared CPU
    warmup = args.warmup if args.warmup is not None else (3 if cuda else 1)
    where = torch.cuda.get_device_name(0) if cuda else "CPU (small SDXL-shaped models; NOT a GPU figure)"
    threads = "" if cuda else ", 1 CPU thread"
    print(f"device: {where}; render {arch.resolution}^2; {args.controlnets} ControlNet(s); "
          f"{args.cells}x{args.cells} cells; median of {steps} timed steps after {warmup} warm-up{threads}")

    specs = [ControlNetSpec(k) for k in ("canny", "depth")[: args.controlnets]]
    common = dict(device=str(device), controlnets=specs, resolution=arch.resolution, seed=0)
    half = args.half if cuda else "fp32"  # CPU half precision is not a meaningful speed-up
    modes = []
    if not args.skip_reference:
        modes.append(("reference (fp32, 3 branches)",
                      SDXLGuidanceConfig(dtype="fp32", reference_third_branch=True, **common)))
    # channels-last helps GPU convolutions; on the CPU it only adds layout conversions.
    extras = (", channels-last" if cuda else "") + (", compiled" if args.compile else "")
    modes.append((f"optimised ({half}, 2 branches batched{extras})",
                  SDXLGuidanceConfig(dtype=half, batch_cfg=True, channels_last=cuda, compile=args.compile, **common)))
    results = []
    for name, cfg in modes:
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
        r = measure(name, arch, cfg, args.controlnets, steps, warmup, args.cells, device)
        results.append(r)
        mem = f", peak {r['peak_gib']:.2f} GiB" if cuda else ""
        print(f"  {name:<62} {r['it_s']:7.3f} it/s  ({r['s_per_it'] * 1000:8.1f} ms/step{mem})", flush=True)
    if len(results) == 2:
        print(f"speed-up over the fp32 reference (same run): {results[1]['it_s'] / results[0]['it_s']:.2f}x")
    if not cuda:
        print("note: CPU figure with small models; the goals (>= 6 it/s, <= 12 GB on one H100 with both "
              "ControlNets) can only be checked on a GPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
