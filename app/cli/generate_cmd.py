"""`generate`: SD-piXL, a pattern from a prompt (and optionally a picture) by score distillation.

    python main.py generate --prompt "a red fox" --palette perler --size 48x48 --out fox.pixl
        [--image IMG] [--controlnet auto|none|canny,depth] [--lora FILE --lora-scale 0.8] [--preset fast]
        [--owned CODES] [--max-colors K] [--stash FILE] [--set 31199]

Progress goes to stderr as a one-line bar (model loading and candidate sampling included). The run keeps its work
beside the output: ``fox.run/checkpoint.pt`` (every --checkpoint-every steps and when it stops) and the latest
preview ``fox.preview.png``; ``--resume`` continues from that checkpoint. Ctrl-C stops between steps and still saves
the current design and a checkpoint; the exit code is then 130.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from app.cli.colour_args import add_colour_arguments, colour_choice
from engine.core.atomic import OutputPathError, atomic_path, check_writable_dir
from engine.core.palette_io import load_palette
from engine.core.progress import CancelToken, Progress
from engine.sdpixl.settings import CHECKPOINT_EVERY, CHECKPOINT_SECONDS, RunSettings, format_duration, run_files


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
    p.add_argument("--controlnet", default="auto",
                   help="auto (default, the reference's): canny + depth '-mid' ControlNets at 0.15 on the latent "
                        "path, following --image or, for a text-only run, the selected init sample; none; or a "
                        "comma-separated list of canny, depth")
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
    p.add_argument("--frames", help="folder to write a PNG preview every --preview-every steps (the latest one is "
                                    "always written beside the output as OUT.preview.png)")
    p.add_argument("--preview-every", type=int, default=10, help="steps between progress reports (10)")
    p.add_argument("--checkpoint", help="checkpoint file to write (default: OUT.run/checkpoint.pt beside the "
                                        "output; 'none' for no checkpoint)")
    p.add_argument("--checkpoint-every", type=int, default=CHECKPOINT_EVERY,
                   help=f"steps between checkpoints ({CHECKPOINT_EVERY}, and at least one every "
                        f"{CHECKPOINT_SECONDS / 60:g} minutes; 0: only when the run stops, ends or fails)")
    p.add_argument("--resume", nargs="?", const="auto", metavar="CHECKPOINT",
                   help="continue a run: from its checkpoint beside --out (no value) or from this file")
    from app.cli.guidance_args import add_guidance_arguments  # the guidance path options (issue 15)

    add_guidance_arguments(p)
    add_colour_arguments(p)
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


def _controlnet_sources(args: argparse.Namespace) -> dict[str, str]:
    sources: dict[str, str] = {}
    for item in args.controlnet_model:
        kind, sep, source = item.partition("=")
        if not sep or kind.strip().lower() not in ("canny", "depth"):
            raise _optimize().OptimizeError(
                f"--controlnet-model must look like canny=SOURCE or depth=SOURCE, got {item!r}")
        sources[kind.strip().lower()] = source.strip()
    return sources


def run_settings(args: argparse.Namespace) -> RunSettings:
    """The RunSettings of parsed arguments (engine.sdpixl.settings builds the RunConfig, as the app does)."""
    palette = load_palette(args.palette)
    width, height = parse_size(args.size, palette)
    return RunSettings(
        prompt=args.prompt, negative_prompt=args.negative_prompt, image=args.image, depth_image=args.depth_image,
        palette=palette, width=width, height=height, preset=args.preset, steps=args.steps, seed=args.seed,
        model=args.model, model_config=args.model_config, tiny_vae=args.tiny_vae, device=args.device,
        dtype=args.dtype, controlnets=args.controlnet, controlnet_sources=_controlnet_sources(args),
        controlnet_scale=args.controlnet_scale, depth_model=args.depth_model, lora=args.lora,
        lora_scale=args.lora_scale, guidance_scale=args.guidance_scale, init=args.init,
        init_samples=args.init_samples, init_sample_steps=args.init_sample_steps, clip_model=args.clip_model,
        compile=args.compile, compile_mode=args.compile_mode, fft_weight=args.fft_weight,
        fidelity_weight=args.fidelity_weight, preview_every=args.preview_every,
        checkpoint_every=args.checkpoint_every, checkpoint_seconds=CHECKPOINT_SECONDS, colours=colour_choice(args))


def build_config(args: argparse.Namespace):
    """Turn parsed arguments into a RunConfig (no models are loaded here)."""
    from engine.sdpixl.settings import RunSettingsError, build_run_config

    try:
        return build_run_config(run_settings(args))
    except RunSettingsError as exc:
        raise _optimize().OptimizeError(str(exc)) from None


class ProgressBar:
    """A one-line progress bar on stderr (losses and the logits' entropy during the run); what is loading or being
    sampled before the first step is shown in the bar on a terminal, else as plain lines on stdout (so stderr
    holds only the bar and errors). Writes the latest preview beside the output and frames when asked."""

    def __init__(self, frames: Path | None, stream=None, width: int = 24, latest: Path | None = None,
                 notes=None) -> None:
        self.frames, self.stream, self.width, self.latest = frames, stream or sys.stderr, width, latest
        self.notes = notes or sys.stdout
        self.open_line = False
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def end_line(self) -> None:
        """End a bar line still open (before an error message, which then starts on its own line)."""
        if self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = False

    def __call__(self, p: Progress) -> None:
        if p.step == 0 and p.pattern is None and p.preview is None and not self.tty:
            print(p.message, file=self.notes, flush=True)  # loading, sampling: one plain line each
            return
        filled = int(round(self.width * p.fraction))
        bar = "#" * filled + "-" * (self.width - filled)
        note = "" if not p.message or p.message.startswith("step ") else f"  {p.message}"
        values = "  ".join(f"{k} {p.losses[k]:.3g}" for k in ("sds", "fft", "fidelity", "entropy") if k in p.losses)
        timing = ""
        if p.elapsed or p.eta is not None:
            timing = f"  {format_duration(p.elapsed)} elapsed"
            if p.eta is not None:
                timing += f", ETA {format_duration(p.eta)}"
        self.stream.write(f"\r[{bar}] {p.step}/{p.total}{note}  {values}{timing}".ljust(100))
        self.open_line = True
        if p.pattern is not None:
            self.end_line()
        self.stream.flush()
        if p.preview is not None:
            if self.latest is not None:
                write_frame(self.latest, p.preview)
            if self.frames is not None:
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


def _checkpoint_paths(args: argparse.Namespace, out: Path) -> tuple[str | None, str | None]:
    """(checkpoint to write, checkpoint to resume from): by default both in the run folder beside the output. A new
    run never overwrites an earlier run's checkpoint: it is kept as checkpoint-previous.pt and said so."""
    files = run_files(out)
    write = None if args.checkpoint and args.checkpoint.lower() == "none" else (args.checkpoint or
                                                                                   str(files.checkpoint))
    resume = args.resume
    if resume == "auto":
        found = Path(write) if write else files.checkpoint
        if not found.is_file():
            raise _optimize().OptimizeError(f"--resume: no checkpoint at {found}; run without --resume to start, "
                                            f"or give the checkpoint file (--resume FILE)")
        resume = str(found)
    if write:
        target = Path(write)
        target.parent.mkdir(parents=True, exist_ok=True)
        check_writable_dir(target)
        if target.is_file() and (resume is None or Path(resume).resolve() != target.resolve()):
            kept = target.with_name(target.stem + "-previous" + target.suffix)
            target.replace(kept)
            print(f"note: the earlier run's checkpoint is kept as {kept} (--resume {kept} continues it)")
    return write, resume


def run(args: argparse.Namespace) -> int:
    out = check_writable_dir(args.out)
    frames = Path(args.frames) if args.frames else None
    if frames is not None and frames.exists() and not frames.is_dir():
        raise OutputPathError(f"--frames {frames} is a file; give a folder for the preview frames")
    from app.cli.guidance_args import announce_plan, apply_guidance_arguments
    from engine.sdpixl.guidance.loading import check_local_model

    check_local_model(getattr(args, "model", None))  # a damaged model folder: one line before any planning
    if not getattr(args, "verbose", False):
        quiet_libraries()  # imports diffusers (seconds): only once the inputs are known to be usable
    builtin = args.model is None and args.guidance == "auto"  # no model named: the built-in one (issue 22)
    config = build_config(args) if builtin else announce_plan(apply_guidance_arguments(args, build_config(args)))
    if args.plan_only:
        return 0
    checkpoint, resume = _checkpoint_paths(args, Path(out))
    config = replace(config, checkpoint_path=checkpoint, resume=resume)
    if frames is not None:
        frames.mkdir(parents=True, exist_ok=True)
    for line in colour_notes(config):
        print(line)
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
    latest = run_files(out).preview
    bar = ProgressBar(frames, latest=latest)
    try:
        if builtin:
            from engine.sdpixl.builtin.run import generate_builtin

            pattern = generate_builtin(config, args.method, args.steps, bar, cancel,
                                       guidance_scale=args.guidance_scale)
        else:
            pattern = _optimize().run_optimization(config, progress=bar, cancel=cancel)
    finally:
        bar.end_line()
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
    pattern.save(out)
    write_frame(latest, pattern.to_rgb())
    state = "stopped" if pattern.metadata.get("cancelled") else "finished"
    n_used = len(pattern.used_indices())
    print(f"{state} after {pattern.metadata.get('steps')} steps in {format_duration(time.perf_counter() - t0)}; "
          f"wrote {out} ({pattern.width}x{pattern.height}, {n_used} colour{'' if n_used == 1 else 's'}) "
          f"and {latest.name}")
    for m in pattern.metadata.get("merged", []):
        into = ", ".join(f"{c} x{n}" for c, n in m["into"].items())
        print(f"merged {m['code']}: {m['cells']} cell(s), used fewer than the minimum "
              f"{pattern.metadata.get('min_count')} -> {into}")
    if checkpoint and Path(checkpoint).is_file():  # the fast path of the built-in model writes none
        print(f"checkpoint: {checkpoint} (--resume continues this run)")
    return 130 if pattern.metadata.get("cancelled") else 0


def colour_notes(config) -> list[str]:
    """One line on the run's colour budget (what the K colours come from, the minimum count)."""
    budget = config.colour_budget
    if budget is None:
        return []
    if budget.all_colors and budget.max_colors is None:
        what = "every allowed colour"
    elif budget.max_colors:
        what = f"the best {budget.max_colors} colours"
    else:
        what = "as many colours as the picture needs"
    if config.image:
        source = "the picture"
    elif config.init_samples > 0 and config.init in ("auto", "sample"):
        source = "the selected init sample"
    else:
        source = "the finished design (no picture to pick them from)"
    return [f"colours: {what} of {config.palette.name} from {source}, at least "
            f"{budget.min_count_for(config.width * config.height)} cells each"]
