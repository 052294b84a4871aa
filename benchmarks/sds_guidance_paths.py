"""The three SD-piXL guidance paths side by side: latent (SDXL + TAESD), pixel space (DeepFloyd IF stage I,
optionally stage II) and patch-wise (SDXL on native-resolution crops of a mural canvas).

    python benchmarks/sds_guidance_paths.py --flops     # FLOPs / parameters / activations from the real configs
                                                        # (meta device, no weights) and the planner's estimates
    python benchmarks/sds_guidance_paths.py             # timings: GPU full-size random weights, else CPU tiny
    python benchmarks/sds_guidance_paths.py --tiny --steps 4

Timings are whole optimiser steps (render -> guidance -> loss -> backward -> AdamW), median of the timed steps,
with every path measured in the same run (ratios are robust to a busy machine). CPU runs use small models of the
same families and say nothing about GPU speed. Peak memory: CUDA's max allocated on a GPU; on the CPU, the
allocator's peak during one guidance step (torch profiler), which shows whether memory follows the design size.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.palette_io import load_palette  # noqa: E402
from engine.sdpixl.costs import ARCHS, MODEL_COSTS, SDXL_UNET, measure_costs  # noqa: E402
from engine.sdpixl.generator import PaletteGenerator  # noqa: E402
from engine.sdpixl.guidance.augment import AugmentConfig  # noqa: E402
from engine.sdpixl.guidance.patch import PatchGuidance, PatchGuidanceConfig  # noqa: E402
from engine.sdpixl.guidance.pixel import PixelGuidance, PixelGuidanceConfig  # noqa: E402
from engine.sdpixl.guidance.sdxl import SDXLGuidance, SDXLGuidanceConfig  # noqa: E402
from engine.sdpixl.losses import fft_smoothness_loss  # noqa: E402
from engine.sdpixl.planner import plan_guidance  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sds_speed import tiny_arch  # noqa: E402

TINY_ARCH = tiny_arch()  # the same small SDXL-shaped model as sds_speed.py
TINY_SDXL, TINY_TAESD = TINY_ARCH.unet, TINY_ARCH.taesd
TINY_IF = dict(ARCHS["if-I-L"], block_out_channels=(32, 64, 64, 64), encoder_hid_dim=64, cross_attention_dim=64,
               attention_head_dim=16, addition_embed_type_num_heads=4, layers_per_block=1, norm_num_groups=16)
TINY_IF_II = dict(ARCHS["if-II-L"], block_out_channels=(16, 16, 32, 64, 64), encoder_hid_dim=64,
                  cross_attention_dim=64, attention_head_dim=16, addition_embed_type_num_heads=4, layers_per_block=1,
                  norm_num_groups=8, time_embedding_dim=64)


def flops_report() -> None:
    """Recompute the cost table from the configs and print it with the per-step figures of each path."""
    t0 = time.perf_counter()
    fresh = measure_costs()
    print(f"costs from the architecture configs on the meta device ({time.perf_counter() - t0:.0f} s, no weights):")
    print(f"  {'module':<18}{'params':>10}{'fwd TFLOP':>11}{'act GiB fp32':>14}{'saved GiB':>11}  table")
    for name, c in fresh.items():
        same = MODEL_COSTS.get(name) is not None and abs(MODEL_COSTS[name].flops / c.flops - 1) < 1e-5
        print(f"  {name:<18}{c.params / 1e9:>9.2f}B{c.flops / 1e12:>11.3f}{c.act_bytes / 2**30:>14.2f}"
              f"{c.saved_bytes / 2**30:>11.2f}  {'same' if same else 'DIFFERS: update MODEL_COSTS'}")
    print("per SDS step (CFG batch 2, half precision) and the planner's estimate on an H100:")
    cases = [("latent, 2 ControlNets", dict(width=100, height=100, mode="latent", controlnets=2)),
             ("latent, no ControlNet", dict(width=100, height=100, mode="latent")),
             ("pixel, IF-I-XL", dict(width=32, height=32, mode="pixel")),
             ("pixel, IF-I-L", dict(width=32, height=32, mode="pixel", pixel_model="DeepFloyd/IF-I-L-v1.0")),
             ("pixel, IF-I-XL + II-L (half the run)", dict(width=32, height=32, mode="pixel", stage2=True)),
             ("patch, 290x290 mural, 2 ControlNets", dict(width=290, height=290, mode="patch", controlnets=2))]
    for label, kw in cases:
        p = plan_guidance(device="H100", **kw)
        extra = f", sweep {p.crops_per_sweep} crops" if p.crops_per_sweep else ""
        print(f"  {label:<40}{p.tflop_per_step:7.1f} TFLOP  {p.seconds_per_step * 1000:6.0f} ms/step  "
              f"peak ~{p.peak_gib:4.1f} GiB  load ~{p.load_peak_gib:4.1f} GiB{extra}")


def _models(tiny: bool, seed: int = 0):
    from diffusers import AutoencoderTiny, DDPMScheduler, UNet2DConditionModel

    torch.manual_seed(seed)
    sdxl = UNet2DConditionModel(**(TINY_SDXL if tiny else SDXL_UNET))
    taesd = AutoencoderTiny(**(TINY_TAESD if tiny else {}))
    if_i = UNet2DConditionModel(**(TINY_IF if tiny else ARCHS["if-I-XL"]))
    if_ii = UNet2DConditionModel(**(TINY_IF_II if tiny else ARCHS["if-II-L"]))
    latent_alphas = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear").alphas_cumprod
    pixel_alphas = DDPMScheduler(beta_schedule="squaredcos_cap_v2").alphas_cumprod
    return sdxl, taesd, if_i, if_ii, latent_alphas, pixel_alphas


def _step_timer(guidance, cells: int, device: torch.device, steps: int, warmup: int, fraction: float) -> float:
    palette = load_palette("perler")
    gen = PaletteGenerator.create(palette, cells, cells, "random", generator=torch.Generator().manual_seed(0))
    gen.to(device)
    opt = torch.optim.AdamW([gen.logits], lr=0.025, weight_decay=0.01)

    def step(i: int) -> None:
        img = gen(tau=1.0, generator=torch.Generator().manual_seed(i))
        loss = guidance(img.permute(2, 0, 1)[None], fraction)["loss_sds"] + 20.0 * fft_smoothness_loss(img)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        gen.center_()

    times = []
    for i in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step(i)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _cpu_peak(guidance, cells: int, fraction: float) -> int:
    """Allocator peak (bytes) during one guidance forward + backward on the CPU."""
    from torch.profiler import ProfilerActivity, profile

    rgb = torch.rand(1, 3, cells, cells, requires_grad=True)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        guidance(rgb, fraction)["loss_sds"].backward()
    live = peak = 0
    for _, n in sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                       if e.name() == "[memory]"):
        live += n
        peak = max(peak, live)
    return peak


def timings(tiny: bool, device: torch.device, steps: int, warmup: int, mural: int) -> None:
    """Time the paths in one run (same machine state) and report peaks."""
    sdxl, taesd, if_i, if_ii, la, pa = _models(tiny)
    half = "fp16" if device.type == "cuda" else "fp32"
    text = 64 if tiny else 2048
    emb, pooled = torch.randn(2, 77, text) * 0.5, torch.randn(2, 32 if tiny else 1280) * 0.5
    t5 = torch.randn(2, 77, 64 if tiny else 4096) * 0.5
    res = 128 if tiny else 1024
    lcfg = SDXLGuidanceConfig(dtype=half, device=str(device), resolution=res, seed=0)
    latent = SDXLGuidance.from_components(lcfg, sdxl, taesd, la, emb, pooled, [], tiny=True, vae_scale_factor=8)
    pcfg = PixelGuidanceConfig(dtype=half, device=str(device), seed=0, augment=AugmentConfig(p_perspective=0.0))
    pixel = PixelGuidance.from_components(pcfg, if_i, pa, t5, unet2=if_ii, alphas_cumprod2=pa)
    patch = PatchGuidance(latent, PatchGuidanceConfig(detail_from=0.0, global_every=4))
    rows = []

    def record(label: str, guidance, cells: int, fraction: float) -> None:
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        if hasattr(guidance, "set_target_size"):
            guidance.set_target_size(cells, cells)
        s = _step_timer(guidance, cells, device, steps, warmup, fraction)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else _cpu_peak(guidance, cells,
                                                                                                    fraction) / 2**20
        rows.append((label, s, peak))
        unit = "GiB (CUDA max allocated)" if device.type == "cuda" else "MiB (CPU allocator, one step)"
        print(f"  {label:<46}{1 / s:8.2f} it/s  {s * 1000:8.1f} ms/step  peak {peak:8.2f} {unit}", flush=True)

    record("latent, 32x32 cells", latent, 32, 0.3)
    record("pixel stage I, 32x32 cells", pixel, 32, 0.3)
    record("pixel stage II (frozen condition), 32x32", pixel, 32, 0.9)
    record(f"patch-wise, {mural // 3}x{mural // 3} cells", patch, mural // 3, 0.5)
    record(f"patch-wise, {mural}x{mural} cells (mural)", patch, mural, 0.5)
    base = rows[0][1]
    print("time per step relative to latent (same run): " + ", ".join(f"{label.split(',')[0]} "
                                                                      f"{s / base:.2f}x" for label, s, _ in rows[1:]))
    print(f"patch-wise peak, {mural}x{mural} vs {mural // 3}x{mural // 3} cells: {rows[4][2] / rows[3][2]:.2f}x "
          f"(a whole-canvas render would be {(mural / (mural // 3)) ** 2:.0f}x)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flops", action="store_true", help="only the FLOP / memory figures from the configs")
    p.add_argument("--tiny", action="store_true", help="small models on the CPU (automatic without CUDA)")
    p.add_argument("--steps", type=int, help="timed steps; the median is reported (10 GPU, 3 CPU)")
    p.add_argument("--warmup", type=int, help="untimed warm-up steps (3 GPU, 1 CPU)")
    p.add_argument("--mural", type=int, default=290, help="cells a side of the large design (290)")
    args = p.parse_args(argv)
    from diffusers.utils import logging as dlog

    dlog.set_verbosity_error()
    if args.flops:
        flops_report()
        return 0
    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    if not cuda:
        torch.set_num_threads(1)
    steps = args.steps or (10 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else (3 if cuda else 1)
    where = torch.cuda.get_device_name(0) if cuda else "CPU, 1 thread (small models; NOT a GPU figure)"
    print(f"device: {where}; median of {steps} steps after {warmup} warm-up; "
          f"{'full-size random-weight SDXL / IF-I-XL / IF-II-L' if cuda else 'tiny SDXL- and IF-shaped models'}")
    timings(not cuda, device, steps, warmup, args.mural)
    return 0


if __name__ == "__main__":
    sys.exit(main())
