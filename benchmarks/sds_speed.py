"""SD-piXL speed and memory: the real ``run_optimization`` loop over a matrix of configurations.

One script, nothing downloaded: every model is built from its configuration with random weights directly on the
device (full-size SDXL UNet, SDXL ControlNets "-mid" and full, TAESDXL, SDXL VAE at 1024^2 on CUDA; small
SDXL-shaped models at 128^2 on the CPU with ``--tiny``, automatic without CUDA; CPU figures say nothing about GPU
speed and are labelled so).

Per row: mean it/s over ALL steps of the loop (steps / loop time, first steps and compilation included), the
steady it/s after the first report, peak reserved GPU memory, and the FLOPs of one step (forward + backward,
counted by torch.utils.flop_counter on the real modules). Rows:

  ControlNets 0 / 1 / 2 "-mid" and 2 full (fast preset: fp16, TAESDXL), full VAE (bf16, gradient checkpointing)
  instead of TAESDXL, the reference preset (fp32 weights, TF32), and torch.compile on (fast preset).

The default configuration (what `generate` runs: SDXL + both "-mid" ControlNets + TAESDXL at 1024^2) is row 1.
Each row's loop stops after ``--row-budget-s`` (45 s) and the whole matrix stops starting rows at ``--budget-s``
(420 s), so a run ends within 8 minutes; rows that would not fit, and the torch.compile row where torch.compile
cannot run (no Triton), are listed as skipped. Goals on one H100-class GPU at 1024^2 with both mid ControlNets:
>= 10 it/s, peak <= 10 GB. On a GPU machine without diffusers or network, see benchmarks/wheelhouse.py.

    python benchmarks/sds_speed.py                 # auto: GPU full size, else CPU tiny
    python benchmarks/sds_speed.py --tiny --steps 6
    python benchmarks/sds_speed.py --flops-only    # FLOPs of the full-size configurations, on any machine
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.core.palette_io import load_palette  # noqa: E402
from engine.core.progress import CancelToken  # noqa: E402
from engine.sdpixl.costs import SDXL_UNET  # noqa: E402
from engine.sdpixl.guidance.augment import AugmentConfig  # noqa: E402
from engine.sdpixl.guidance.sdxl import ControlNetSpec, SDXLGuidance  # noqa: E402
from engine.sdpixl.optimize import make_config, run_optimization  # noqa: E402

SAMPLE = ROOT / "resources" / "samples" / "chelsea.jpg"


@dataclass
class Arch:
    """Model configurations of one benchmark size."""

    unet: dict
    controlnet_mid: dict  # overrides of the full ControlNet (a copy of the UNet's encoder half)
    taesd: dict
    vae: dict
    text_dim: int
    pooled_dim: int
    resolution: int


def sdxl_arch() -> Arch:
    """SDXL base 1.0's UNet and VAE configurations (as published with the model), TAESDXL defaults, 1024^2.

    The "-mid" ControlNet: its config.json from the HF cache when present; otherwise transformer layers
    (0, 0, 1): 273 M parameters, matching the published ~545 MB fp16 file and the full net's 4.6x memory."""
    unet = dict(SDXL_UNET)
    mid = {"transformer_layers_per_block": (0, 0, 1)}
    try:
        from diffusers import ControlNetModel

        cached = ControlNetModel.load_config("diffusers/controlnet-canny-sdxl-1.0-mid", local_files_only=True)
        mid = {"transformer_layers_per_block": tuple(cached["transformer_layers_per_block"])}
    except Exception:  # not cached: the approximation above
        pass
    vae = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
               down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
               layers_per_block=2, sample_size=1024, scaling_factor=0.13025, force_upcast=True)
    return Arch(unet, mid, {}, vae, 2048, 1280, 1024)


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
    vae = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32, 32, 32),
               down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
               layers_per_block=1, norm_num_groups=8, sample_size=128, scaling_factor=0.13025)
    return Arch(unet, {"transformer_layers_per_block": (0, 0, 1)}, taesd, vae, 64, 32, 128)


@dataclass
class Row:
    """One configuration of the matrix."""

    name: str
    preset: str
    controlnets: int
    cn_size: str = "mid"  # "mid" or "full"
    tiny_vae: bool = True
    compile: bool = False


DEFAULT_ROW = "fast, TAESDXL, 2 mid ControlNets"  # what `generate` runs by default: measured first


def matrix() -> list[Row]:
    return [
        Row(DEFAULT_ROW, "fast", 2),
        Row("fast, TAESDXL, no ControlNet", "fast", 0),
        Row("fast, TAESDXL, 1 mid ControlNet", "fast", 1),
        Row("fast, TAESDXL, 2 full ControlNets", "fast", 2, "full"),
        Row("fast, full VAE (bf16, ckpt), 2 mid", "fast", 2, tiny_vae=False),
        Row("reference (fp32+TF32), TAESDXL, 2 mid", "reference", 2),
        Row("fast, TAESDXL, 2 mid, torch.compile", "fast", 2, compile=True),
    ]


def build(arch: Arch, row: Row, dtype: torch.dtype, device: torch.device, seed: int = 0):
    """Random-weight UNet, encoder and ControlNets built on ``device`` in ``dtype``, plus random text encodings."""
    from diffusers import AutoencoderKL, AutoencoderTiny, ControlNetModel, DDPMScheduler, UNet2DConditionModel

    torch.manual_seed(seed)
    with torch.device(device):
        unet = UNet2DConditionModel(**arch.unet).to(dtype)
        if row.tiny_vae:
            encoder = AutoencoderTiny(**arch.taesd).to(dtype)
        else:
            encoder = AutoencoderKL(**arch.vae)
        cn_cfg = dict(arch.unet)
        for key in ("out_channels", "up_block_types", "sample_size"):
            cn_cfg.pop(key, None)
        if row.cn_size == "mid":
            cn_cfg.update(arch.controlnet_mid)
        nets = [ControlNetModel(**cn_cfg, conditioning_embedding_out_channels=(16, 32, 96, 256)).to(dtype)
                for _ in range(row.controlnets)]
    sched = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    emb = torch.randn(2, 77, arch.text_dim, device=device) * 0.5
    pooled = torch.randn(2, arch.pooled_dim, device=device) * 0.5
    return unet, encoder, nets, sched.alphas_cumprod, emb, pooled


def count_flops(guidance: SDXLGuidance, cells: int) -> float:
    """FLOPs of one SDS step (render upsample, augmentation, encoder fwd+bwd, UNet + ControlNets) on the device."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 3, cells, cells, device=guidance.device, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        out = guidance(x, 0.5)
        out["loss_sds"].backward()
    return float(counter.get_total_flops())


def flops_table(arch: Arch) -> None:
    """FLOPs per step of each row's real full-size configuration, counted on the meta device (no memory, no
    GPU): UNet (2 CFG branches), ControlNets, encoder forward + backward at the render size."""
    from torch.utils.flop_counter import FlopCounterMode

    meta = torch.device("meta")
    side, lat = arch.resolution, arch.resolution // 8
    print(f"{'#':>2} {'configuration':<40} {'UNet':>6} {'CNs':>6} {'encoder':>8} {'total TFLOP':>11} "
          f"{'CN params':>10}")
    for i, row in enumerate(matrix(), 1):
        if row.compile or row.preset == "reference":
            continue  # the same FLOPs as row 1
        unet, encoder, nets, _, emb, pooled = build(arch, row, torch.float32, meta)
        z = torch.zeros(2, 4, lat, lat, device=meta)
        t = torch.zeros(1, device=meta, dtype=torch.long)
        kw = {"encoder_hidden_states": emb, "added_cond_kwargs": {"text_embeds": pooled,
                                                                  "time_ids": torch.zeros(2, 6, device=meta)}}
        counts = []
        for part in ("unet", "cn", "enc"):
            with FlopCounterMode(display=False) as counter:
                if part == "unet":
                    with torch.no_grad():
                        unet(z, t, return_dict=False, **kw)
                elif part == "cn":
                    with torch.no_grad():
                        for net in nets:
                            net(z, t, controlnet_cond=torch.zeros(1, 3, side, side, device=meta),
                                conditioning_scale=0.15, return_dict=False, **kw)
                else:
                    x = torch.zeros(1, 3, side, side, device=meta, requires_grad=True)
                    enc = encoder.encode(x)
                    (enc.latents if row.tiny_vae else enc.latent_dist.mean).sum().backward()
            counts.append(counter.get_total_flops() / 1e12)
        cn_params = sum(p.numel() for n in nets for p in n.parameters()) / 1e6
        print(f"{i:>2} {row.name:<40} {counts[0]:6.2f} {counts[1]:6.2f} {counts[2]:8.2f} {sum(counts):11.2f} "
              f"{cn_params:9.0f}M", flush=True)


def compile_unavailable(device: torch.device) -> str | None:
    """Why torch.compile cannot run here (None when it can): no dynamo, or no Triton for CUDA kernels."""
    import importlib.util

    if not hasattr(torch, "compile"):
        return "this torch has no torch.compile"
    if device.type == "cuda" and importlib.util.find_spec("triton") is None:
        return "torch.compile needs Triton, which is not installed"
    if device.type != "cuda":
        return "torch.compile is a GPU option (needs a C++ toolchain on CPU)"
    return None


def measure(row: Row, arch: Arch, device: torch.device, steps: int, cells: int, half: str, work: Path,
            budget_s: float = float("inf")) -> dict:
    """Build the row's models, count one step's FLOPs, run the real loop (at most ``steps`` steps, stopping
    between steps once ``budget_s`` seconds of loop time are spent), return the figures."""
    base = make_config(row.preset)
    dtype_name = "fp32" if row.preset == "reference" or device.type == "cpu" else half
    specs = [ControlNetSpec(k) for k in ("canny", "depth")[: row.controlnets]]
    gcfg = replace(base.guidance, device=str(device), dtype=dtype_name, controlnets=specs,
                   resolution=arch.resolution, seed=0, compile=row.compile, augment=AugmentConfig(),
                   channels_last=base.guidance.channels_last and device.type == "cuda",
                   tiny_vae="auto" if row.tiny_vae else "none")
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype_name]
    unet, encoder, nets, alphas, emb, pooled = build(arch, row, dtype, device)
    enc_dtype = dtype
    if not row.tiny_vae:  # what SDXLGuidance does without TAESDXL: bf16 on GPU, gradient checkpointing
        from engine.sdpixl.guidance.sdxl import full_vae_dtype

        encoder.enable_gradient_checkpointing()
        enc_dtype = full_vae_dtype(dtype, device)
    guidance = SDXLGuidance.from_components(gcfg, unet, encoder, alphas, emb, pooled, nets, tiny=row.tiny_vae,
                                            vae_scale_factor=8, height=cells, width=cells, encoder_dtype=enc_dtype)
    del unet, encoder, nets
    gc.collect()
    params = sum(p.numel() for m in [guidance.unet, *guidance.controlnets] for p in m.parameters())
    flops = float("nan")
    if not row.compile:  # the same FLOPs as the eager row; counting would trigger compilation here
        guidance.conditions = [torch.rand(1, 3, *guidance.render_hw, device=device) for _ in specs]
        flops = count_flops(guidance, cells)
        guidance.conditions = []
    depth = work / "depth.png"
    if not depth.exists():
        from PIL import Image

        Image.fromarray(np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (256, 1))).save(depth)
    every = max(1, min(10, steps // 3))
    config = replace(base, prompt="benchmark", palette=load_palette("perler"), width=cells, height=cells,
                     steps=steps, warmup=min(base.warmup, steps // 10), image=str(SAMPLE),
                     depth_image=str(depth) if row.controlnets > 1 else None, init="bilinear", seed=1,
                     preview_every=every, guidance=gcfg, guidance_mode="latent")
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    reports = []
    cancel = CancelToken()
    t_run = time.perf_counter()

    def on_step(info) -> None:  # the row's time budget (compilation included): stop between steps
        if time.perf_counter() - t_run > budget_s:
            cancel.cancel()

    pattern = run_optimization(config, progress=reports.append, guidance=guidance, cancel=cancel,
                               callback_on_step_end=on_step)
    done = int(pattern.metadata["steps"])
    reports = [r for r in reports if r.step]  # leave out the step-0 "preparing" reports
    final = reports[-1]
    first = reports[0]
    peak = torch.cuda.max_memory_reserved() / 1e9 if device.type == "cuda" else float("nan")
    steady = (done - first.step) / max(1e-9, final.elapsed - first.elapsed) if len(reports) > 1 else float("nan")
    result = {"it_s": done / final.elapsed, "steady": steady, "peak_gb": peak, "flops": flops, "steps": done,
              "params": params, "render": guidance.render_hw, "first_step_s": first.elapsed / max(1, first.step)}
    del guidance
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="small models on the CPU (automatic without CUDA)")
    p.add_argument("--steps", type=int, default=None, help="loop steps per row (default 60 GPU, 6 CPU)")
    p.add_argument("--cells", type=int, default=64, help="pattern side in cells (64)")
    p.add_argument("--half", choices=["fp16", "bf16"], default="fp16", help="half precision of the fast preset")
    p.add_argument("--budget-s", type=float, default=420.0,
                   help="stop starting rows after this many seconds (420: the whole run stays under 8 minutes)")
    p.add_argument("--row-budget-s", type=float, default=45.0,
                   help="loop seconds per row: a row stops between steps after this long (45)")
    p.add_argument("--rows", help="comma-separated row numbers to run (1-based; default all)")
    p.add_argument("--flops-only", action="store_true",
                   help="only count FLOPs per step of the full-size configurations (meta device: any machine)")
    args = p.parse_args(argv)
    import logging

    from diffusers.utils import logging as dlog

    dlog.set_verbosity_error()
    logging.getLogger("diffusers").setLevel(logging.ERROR)
    if args.flops_only:
        flops_table(sdxl_arch())
        return 0
    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    arch = sdxl_arch() if cuda else tiny_arch()
    steps = args.steps or (60 if cuda else 6)
    if not cuda:
        torch.set_num_threads(1)  # small models: threads only add contention on a shared CPU
    where = (f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}" if cuda
             else f"CPU, 1 thread, torch {torch.__version__} (small SDXL-shaped models; NOT a GPU figure)")
    print(f"device: {where}; render {arch.resolution}^2; {args.cells}x{args.cells} cells; {steps} loop steps per "
          f"row; mean it/s = steps / loop time (all steps, warm-up and compilation included)", flush=True)
    rows = matrix()
    chosen = [int(x) for x in args.rows.split(",")] if args.rows else list(range(1, len(rows) + 1))
    t_start = time.perf_counter()
    header = f"{'#':>2} {'configuration':<40} {'mean it/s':>9} {'steady':>7} {'peak GB':>8} {'GFLOP/step':>10}"
    print(header + f" {'params (UNet+CN)':>17}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, row in enumerate(rows, 1):
            if i not in chosen:
                continue
            why = compile_unavailable(device) if row.compile else None
            if why:
                print(f"{i:>2} {row.name:<40} skipped: {why}")
                continue
            spent = time.perf_counter() - t_start
            need = 240.0 if row.compile else args.row_budget_s + 15.0  # compiling the SDXL UNet takes minutes
            if cuda and spent + need > args.budget_s:
                print(f"{i:>2} {row.name:<40} skipped: {spent:.0f} s spent of the {args.budget_s:.0f} s budget")
                continue
            try:
                row_budget = max(args.row_budget_s, args.budget_s + 20.0 - spent) if row.compile else args.row_budget_s
                r = measure(row, arch, device, steps, args.cells, args.half, Path(tmp), row_budget)
            except Exception as exc:  # one failing row must not lose the others' figures
                print(f"{i:>2} {row.name:<40} FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                gc.collect()
                if cuda:
                    torch.cuda.empty_cache()
                continue
            results.append((row, r))
            peak = f"{r['peak_gb']:8.2f}" if cuda else f"{'-':>8}"
            print(f"{i:>2} {row.name:<40} {r['it_s']:9.3f} {r['steady']:7.3f} {peak} {r['flops'] / 1e9:10.1f} "
                  f"{r['params'] / 1e6:15.0f} M  ({r['steps']} steps)", flush=True)
    base = next((r for row, r in results if row.name == DEFAULT_ROW), None)
    if base is not None:
        goal = "met" if base["it_s"] >= 10 and base["peak_gb"] <= 10 else "NOT met"
        peak = f"{base['peak_gb']:.2f} GB" if cuda else "- (CPU)"
        print(f"default configuration (SDXL + 2 mid ControlNets + TAESDXL, {arch.resolution}^2): mean "
              f"{base['it_s']:.2f} it/s, steady {base['steady']:.2f} it/s, peak {peak}; goals "
              f">= 10 it/s and <= 10 GB: {goal if cuda else 'not measurable on the CPU'}")
        print("ratios to row 1 (same run): " + ", ".join(
            f"#{rows.index(row) + 1} {r['steady'] / base['steady']:.2f}x" for row, r in results if r is not base))
    print(f"total {time.perf_counter() - t_start:.0f} s")
    if not cuda:
        print("note: CPU figures with small models; the goals (>= 10 it/s, <= 10 GB peak on one H100-class GPU at "
              "1024^2 with both mid ControlNets) can only be checked on a GPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
