"""`generate` options for the guidance path (latent SDXL, pixel-space DeepFloyd IF, patch-wise for murals) and the
planner's estimate printed before a run. Kept apart from generate_cmd.py so each stays small."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any


def add_guidance_arguments(p: argparse.ArgumentParser) -> None:
    """Register --guidance and the pixel-space / patch-wise options on the `generate` parser."""
    g = p.add_argument_group("guidance path (see `engine.sdpixl.planner`)")
    g.add_argument("--guidance", choices=["auto", "latent", "pixel", "patch"], default="auto",
                   help="auto: pixel space (DeepFloyd IF) for designs up to 64 cells a side when the IF model is "
                        "available, patch-wise above 128 cells a side, else latent (SDXL)")
    g.add_argument("--pixel-model", help="DeepFloyd IF stage I: hub id or folder (default DeepFloyd/IF-I-XL-v1.0)")
    g.add_argument("--stage2", action="store_true", help="pixel space: refine at 256x256 with IF stage II, "
                                                         "conditioned on the frozen stage-I design")
    g.add_argument("--stage2-model", help="DeepFloyd IF stage II: hub id or folder (default DeepFloyd/IF-II-L-v1.0)")
    g.add_argument("--stage2-from", type=float, default=0.5, help="run fraction where stage II takes over (0.5)")
    g.add_argument("--cell-px", type=int, default=8, help="patch-wise: at least this many pixels per cell (8)")
    g.add_argument("--detail-from", type=float, default=0.25,
                   help="patch-wise slider: run fraction where crop detail takes over from the global pass (0.25)")
    g.add_argument("--global-every", type=int, default=4,
                   help="patch-wise: after the slider, one step in this many is still a global pass (4; 0: never)")
    g.add_argument("--plan-only", action="store_true", help="print the guidance choice and estimates, then exit")


def apply_guidance_arguments(args: argparse.Namespace, config: Any) -> Any:
    """The RunConfig with the guidance options of ``args`` applied."""
    from engine.sdpixl.optimize import OptimizeError

    for name in ("stage2_from", "detail_from"):
        value = getattr(args, name)
        if not 0.0 <= value <= 1.0:
            raise OptimizeError(f"--{name.replace('_', '-')} must be a run fraction between 0 and 1, got {value}")
    if args.cell_px < 1 or args.global_every < 0:
        raise OptimizeError("--cell-px must be at least 1 and --global-every at least 0")
    pixel = replace(config.pixel, stage2=args.stage2, stage2_from=args.stage2_from, device=config.guidance.device,
                    dtype=config.guidance.dtype)
    if args.pixel_model:
        pixel = replace(pixel, model=args.pixel_model)
    if args.stage2_model:
        pixel = replace(pixel, stage2_model=args.stage2_model)
    patch = replace(config.patch, cell_px=args.cell_px, detail_from=args.detail_from, global_every=args.global_every)
    return replace(config, guidance_mode=args.guidance, pixel=pixel, patch=patch)


def announce_plan(config: Any, stream=None) -> Any:
    """Print the planner's choice and estimate (what will run, TFLOP and seconds per step, peak memory) and return
    the config with "auto" resolved to that choice (default ControlNets settled), so the run does what was
    announced."""
    from engine.sdpixl.optimize import resolve_guidance_mode

    config, plan = resolve_guidance_mode(config)
    print(plan.summary(), file=stream or sys.stdout, flush=True)
    return config
