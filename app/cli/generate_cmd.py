"""`generate`: SD-piXL, a pattern from a prompt (and optionally a picture) by score distillation.

    python main.py generate --prompt "a red fox" --palette perler --size 48x48 --out fox.pixl
        [--image IMG] [--controlnet canny,depth] [--lora FILE --lora-scale 0.8] [--preset fast]

Progress goes to stderr as a one-line bar. Ctrl-C stops between steps and still saves the current design
(and a checkpoint when --checkpoint is given, for --resume); the exit code is then 130.
"""

from __future__ import annotations

import argparse
import copy
import logging
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from engine.core.atomic import OutputPathError, atomic_path, check_writable_dir
from engine.core.palette_io import load_palette
from engine.core.progress import CancelToken, Progress


def _optimize():
    """engine.sdpixl.optimize, imported on use: it pulls in torch, which other subcommands must not pay for."""
    import engine.sdpixl.optimize

    return engine.sdpixl.optimize


def register(sub) -> None:
    p = sub.add_parser("generate", help="SD-piXL: generate a pattern from a prompt (diffusion model, slow)",
                       description="Optimise a palette-quantised pattern with score distillation from Stable "
                                   "Diffusion XL or 1.5 (optionally guided by ControlNets and a LoRA).")
    p.add_argument("--prompt", required=True, help="what the picture should show")
    p.add_argument("--negative-prompt", default="", help="what to avoid")
    p.add_argument("--image", help="input picture: initialises the design and feeds the ControlNets")
    p.add_argument("--palette", required=True, help="palette key (see `pixl palettes`) or a palette file")
    p.add_argument("--size", default="48x48",
                   help="pattern size: cells (48x32), boards (2x2boards) or cm/mm at the pitch (30x20cm)")
    p.add_argument("--steps", type=int, help="optimisation steps (default: the preset's)")
    p.add_argument("--preset", default="fast",
                   help="reference: the paper's settings (fp32, 10,001 steps); fast: fewer steps, half precision")
    p.add_argument("--model", help="hub id, diffusers folder or .safetensors checkpoint (default: the built-in "
                                   "emoji model, offline on a CPU; stabilityai/stable-diffusion-xl-base-1.0 for SDXL)")
    p.add_argument("--method", choices=["sdpixl", "fast"], default="sdpixl",
                   help="with the built-in model: sdpixl (score distillation, about 30 s) or fast (sample, then "
                        "map to the palette: seconds)")
    p.add_argument("--model-config", help="diffusers folder or hub id matching a single-file --model checkpoint")
    p.add_argument("--tiny-vae", default="auto",
                   help="tiny autoencoder for encoding: auto (TAESD(XL), downloaded with the model when online), "
                        "none (the full VAE in bf16 with gradient checkpointing: slower), or a folder/hub id")
    p.add_argument("--controlnet", default="", help="comma-separated ControlNets to use: canny, depth")
    p.add_argument("--controlnet-model", action="append", default=[], metavar="KIND=SOURCE",
                   help="use SOURCE (hub id, folder or file) for the canny or depth ControlNet; repeatable")
    p.add_argument("--controlnet-scale", type=float, default=0.15, help="conditioning scale per ControlNet (0.15)")
    p.add_argument("--depth-image", help="a depth map to use instead of estimating one (with --controlnet depth)")
    p.add_argument("--depth-model", help="transformers depth model (hub id or folder); default DPT-hybrid MiDaS")
    p.add_argument("--lora", help="a LoRA .safetensors file (or folder / hub id) to fuse into the model")
    p.add_argument("--lora-scale", type=float, default=1.0, help="LoRA strength (default 1.0)")
    p.add_argument("--guidance-scale", type=float, help="CFG scale in diffusers' form (default 41 = the paper's 40)")
    p.add_argument("--init", choices=["auto", "bilinear", "ciede2000", "converter", "sample", "random"],
                   default="auto",
                   help="how to start: from the image (bilinear/ciede2000/converter); without one, auto samples "
                        "candidate images and keeps the best by CLIP (sample), or random logits (random)")
    p.add_argument("--init-samples", type=int,
                   help="text-only runs: candidate images to sample and rank by CLIP (default: the preset's, "
                        "10 reference / 4 fast; 0 starts from random logits)")
    p.add_argument("--init-sample-steps", type=int, help="denoising steps per candidate image (default 50)")
    p.add_argument("--clip-model", help="CLIP model ranking the candidates (hub id or folder; default "
                                        "openai/clip-vit-base-patch32)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the UNet, ControlNets and encoder (GPU; the first steps are slow)")
    p.add_argument("--compile-mode", choices=["default", "reduce-overhead", "max-autotune"], default="default",
                   help="torch.compile mode with --compile; reduce-overhead adds CUDA graphs (default: default)")
    p.add_argument("--fft-weight", type=float, help="smoothness weight (default 20)")
    p.add_argument("--fidelity-weight", type=float, help="weight of closeness to --image (default 0)")
    p.add_argument("--seed", type=int, help="random seed for a repeatable run")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--dtype", help="auto, fp32, fp16 or bf16 (default: the preset's)")
    p.add_argument("--out", "-o", required=True, help="output .pixl project file")
    p.add_argument("--frames", help="folder to write a PNG preview every --preview-every steps")
    p.add_argument("--preview-every", type=int, default=10, help="steps between progress reports (10)")
    p.add_argument("--checkpoint", help="checkpoint file to write (for --resume)")
    p.add_argument("--checkpoint-every", type=int, default=0, help="steps between checkpoints (0: at the end only)")
    p.add_argument("--resume", help="continue from a checkpoint file")
    from app.cli.guidance_args import add_guidance_arguments  # the guidance path options (issue 15)

    add_guidance_arguments(p)
    p.set_defaults(func=run)


def parse_size(text: str, palette) -> tuple[int, int]:
    """--size in cells, boards or cm/mm of the palette's medium (the converter's parser) -> (w, h)."""
    from engine.convert.pipeline import AUTO_SIZE, ConvertError
    from engine.convert.pipeline import parse_size as parse_target_size

    try:
        size = parse_target_size(text, palette.medium)
    except ConvertError as exc:
        raise _optimize().OptimizeError(f"--size must look like 48x32, 2x2boards or 30x20cm: {exc}") from None
    if size == AUTO_SIZE:
        raise _optimize().OptimizeError("--size auto only applies to converting pixel art; give a size, e.g. 48x48")
    return size


def _controlnets(args: argparse.Namespace):
    from engine.sdpixl.guidance.sdxl import CONTROL_KINDS, ControlNetSpec

    kinds = [k.strip().lower() for k in args.controlnet.split(",") if k.strip()]
    sources: dict[str, str] = {}
    for item in args.controlnet_model:
        kind, sep, source = item.partition("=")
        if not sep or kind.strip().lower() not in CONTROL_KINDS:
            raise _optimize().OptimizeError(
                f"--controlnet-model must look like canny=SOURCE or depth=SOURCE, got {item!r}")
        sources[kind.strip().lower()] = source.strip()
    specs = []
    for kind in dict.fromkeys(kinds):
        if kind not in CONTROL_KINDS:
            raise _optimize().OptimizeError(f"unknown ControlNet {kind!r}; choose from {', '.join(CONTROL_KINDS)}")
        specs.append(ControlNetSpec(kind, sources.get(kind), args.controlnet_scale))
    if args.depth_image and "depth" not in kinds:
        raise _optimize().OptimizeError("--depth-image is only used with --controlnet depth")
    return specs


def build_config(args: argparse.Namespace):
    """Turn parsed arguments into a RunConfig (no models are loaded here)."""
    palette = load_palette(args.palette)
    width, height = parse_size(args.size, palette)
    base = _optimize().make_config(args.preset)
    g = copy.deepcopy(base.guidance)
    changes = {"tiny_vae": args.tiny_vae, "device": args.device, "controlnets": _controlnets(args),
               "lora": args.lora, "lora_scale": args.lora_scale, "model_config": args.model_config}
    if args.compile:
        changes["compile"] = True
        changes["compile_mode"] = args.compile_mode
    for name, value in (("model", args.model), ("dtype", args.dtype), ("guidance_scale", args.guidance_scale),
                        ("depth_model", args.depth_model)):
        if value is not None:
            changes[name] = value
    g = replace(g, **changes)
    run = {"prompt": args.prompt, "negative_prompt": args.negative_prompt, "image": args.image,
           "depth_image": args.depth_image, "width": width, "height": height, "palette": palette,
           "init": args.init, "seed": args.seed, "preview_every": max(1, args.preview_every), "guidance": g,
           "checkpoint_path": args.checkpoint, "checkpoint_every": args.checkpoint_every, "resume": args.resume}
    for name, value in (("steps", args.steps), ("fft_weight", args.fft_weight),
                        ("fidelity_weight", args.fidelity_weight), ("init_samples", args.init_samples)):
        if value is not None:
            run[name] = value
    sample = base.sample_init
    if args.clip_model:
        sample = replace(sample, clip_model=args.clip_model)
    if args.init_sample_steps is not None:
        sample = replace(sample, inference_steps=args.init_sample_steps)
    run["sample_init"] = sample
    return replace(base, **run)


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class ProgressBar:
    """A one-line progress bar on stderr; also writes preview frames when asked."""

    def __init__(self, frames: Path | None, stream=None, width: int = 24) -> None:
        self.frames, self.stream, self.width = frames, stream or sys.stderr, width

    def __call__(self, p: Progress) -> None:
        filled = int(round(self.width * p.fraction))
        bar = "#" * filled + "-" * (self.width - filled)
        loss = "  ".join(f"{k} {p.losses[k]:.3g}" for k in ("sds", "fft", "fidelity") if k in p.losses)
        line = f"\r[{bar}] {p.step}/{p.total}  {loss}  {_fmt_time(p.elapsed)} elapsed, ETA {_fmt_time(p.eta)} "
        self.stream.write(line)
        if p.pattern is not None:
            self.stream.write("\n")
        self.stream.flush()
        if self.frames is not None and p.preview is not None:
            write_frame(self.frames / f"frame_{p.step:06d}.png", p.preview)


def write_frame(path: Path, preview) -> Path:
    """Save a preview (cells, H x W x 3 uint8) as a PNG, enlarged with square cells, atomically."""
    from PIL import Image

    h, w = preview.shape[:2]
    scale = max(1, 256 // max(h, w))
    img = Image.fromarray(preview).resize((w * scale, h * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path


def quiet_libraries() -> None:
    """Silence the diffusion libraries' own progress bars, notices and deprecation warnings (use -v to see)."""
    import warnings

    for name in ("diffusers", "transformers", "huggingface_hub", "accelerate"):
        warnings.filterwarnings("ignore", module=name)
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        dlog.set_verbosity_error()
        dlog.disable_progress_bar()
        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    except ImportError:  # reported properly when the model is loaded
        pass


def run(args: argparse.Namespace) -> int:
    out = check_writable_dir(args.out)
    if not getattr(args, "verbose", False):
        quiet_libraries()
    frames = Path(args.frames) if args.frames else None
    if frames is not None:
        if frames.exists() and not frames.is_dir():
            raise OutputPathError(f"--frames {frames} is a file; give a folder for the preview frames")
        frames.mkdir(parents=True, exist_ok=True)
    if args.checkpoint:
        check_writable_dir(args.checkpoint)
    from app.cli.guidance_args import announce_plan, apply_guidance_arguments

    builtin = args.model is None and args.guidance == "auto"  # no model named: the built-in one (issue 22)
    config = build_config(args) if builtin else announce_plan(apply_guidance_arguments(args, build_config(args)))
    if args.plan_only:
        return 0
    cancel = CancelToken()
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame) -> None:  # first Ctrl-C stops gently, a second one aborts
        cancel.cancel()
        signal.signal(signal.SIGINT, previous)

    in_main_thread = True
    try:
        signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread (e.g. called from a test runner thread)
        in_main_thread = False
    t0 = time.perf_counter()
    try:
        if builtin:
            from engine.sdpixl.builtin.run import generate_builtin

            pattern = generate_builtin(config, args.method, args.steps, ProgressBar(frames), cancel,
                                       guidance_scale=args.guidance_scale)
        else:
            pattern = _optimize().run_optimization(config, progress=ProgressBar(frames), cancel=cancel)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
    pattern.save(out)
    state = "stopped" if pattern.metadata.get("cancelled") else "finished"
    print(f"{state} after {pattern.metadata.get('steps')} steps in {_fmt_time(time.perf_counter() - t0)}; "
          f"wrote {out} ({pattern.width}x{pattern.height}, {len(pattern.used_indices())} colours)")
    return 130 if pattern.metadata.get("cancelled") else 0
