"""The SD-piXL run: optimise palette logits with score distillation + FFT smoothness, report, checkpoint.

``run_optimization(config, progress, cancel, guidance) -> Pattern``. Stopping: when ``cancel`` is set the
loop stops between steps and returns the *current* design as a Pattern whose metadata has
``"cancelled": True`` (it does not raise ``Cancelled``), after writing a checkpoint if one is configured,
so a stopped run can be resumed.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from engine.core.atomic import atomic_path
from engine.core.image_io import ImageLoadError, fit_layout, load_image
from engine.core.palette import Palette
from engine.core.pattern import Pattern
from engine.core.progress import CancelToken, Progress, ProgressCallback
from engine.sdpixl.generator import INIT_MODES, PaletteGenerator, TauSchedule, downsample_image
from engine.sdpixl.losses import fft_smoothness_loss, fidelity_loss

from .guidance.patch import PatchGuidanceConfig
from .guidance.pixel import PixelGuidanceConfig
from .guidance.sdxl import SDXLGuidance, SDXLGuidanceConfig

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1
MAX_SIDE = 512


class OptimizeError(ValueError):
    """A run could not start or go on (bad settings, unreadable image, mismatched checkpoint)."""


@dataclass
class RunConfig:
    """One SD-piXL run. Defaults are the reference's values (10,001 AdamW steps, lr 0.025, FFT weight 20)."""

    prompt: str = ""
    negative_prompt: str = ""
    image: str | None = None  # input image path (init, ControlNet conditions, fidelity target)
    depth_image: str | None = None  # user-supplied depth map for the depth ControlNet
    width: int = 64
    height: int = 64
    palette: Palette | None = None
    steps: int = 10001
    lr: float = 0.025
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.01
    warmup: int = 250  # linear learning-rate warm-up steps, then constant (capped at a tenth of the run)
    grad_clip: float = 1.0  # max gradient norm (0 disables)
    tau: TauSchedule = field(default_factory=TauSchedule)
    hard: bool = False  # straight-through hard Gumbel-softmax instead of the reference's soft one
    sds_weight: float = 1.0
    fft_weight: float = 20.0
    fidelity_weight: float = 0.0
    fidelity_sigma: float = 1.0
    init: str = "auto"  # auto: bilinear with an image, random without; or one of INIT_MODES
    init_pattern: Pattern | None = None  # for init "converter": start from this Pattern instead of converting
    guidance: SDXLGuidanceConfig = field(default_factory=SDXLGuidanceConfig)
    guidance_mode: str = "auto"  # "auto" | "latent" | "pixel" | "patch" (auto: engine.sdpixl.planner decides)
    pixel: PixelGuidanceConfig = field(default_factory=PixelGuidanceConfig)  # pixel-space (DeepFloyd IF) settings
    patch: PatchGuidanceConfig = field(default_factory=PatchGuidanceConfig)  # patch-wise settings (large designs)
    seed: int | None = None
    preview_every: int = 10
    checkpoint_path: str | None = None
    checkpoint_every: int = 0  # steps between checkpoints (0: only on stop/finish when a path is set)
    resume: str | None = None  # checkpoint file to continue from


PRESETS: dict[str, RunConfig] = {
    # The paper's implementation: fp32 weights, 10,001 steps.
    "reference": RunConfig(guidance=SDXLGuidanceConfig(dtype="fp32")),
    # Ours: half precision on GPU, channels-last, batched two-branch CFG, 1,500 steps with a short warm-up.
    "fast": RunConfig(steps=1500, warmup=100, guidance=SDXLGuidanceConfig(dtype="auto", channels_last=True)),
}


def make_config(preset: str = "reference", **overrides: Any) -> RunConfig:
    """A fresh copy of a named preset with fields replaced (``guidance`` fields via a ``guidance=`` config)."""
    if preset not in PRESETS:
        raise OptimizeError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return replace(copy.deepcopy(PRESETS[preset]), **overrides)


@dataclass
class StepInfo:
    """What ``callback_on_step_end`` receives after each optimiser step."""

    step: int
    total: int
    losses: dict[str, float]
    generator: PaletteGenerator


# --------------------------------------------------------------------------- inputs
def load_rgb(path: str | Path) -> np.ndarray:
    """Read a picture as H x W x 3 uint8 (upright; transparent parts composited on white)."""
    from PIL import Image

    try:
        rgba = load_image(path)
    except ImageLoadError as exc:
        raise OptimizeError(str(exc)) from None
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))


def crop_to_aspect(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop ``image`` to the aspect ratio width:height (so nothing is stretched)."""
    left, top, right, bottom = fit_layout(image.shape[1], image.shape[0], width, height, "crop").crop_box
    return image[top:bottom, left:right]


def validate(config: RunConfig) -> None:
    """Raise OptimizeError for settings that cannot work, before anything heavy is loaded."""
    if config.palette is None or len(config.palette) == 0:
        raise OptimizeError("no palette given: choose one with --palette (see `pixl palettes`)")
    if not (1 <= config.width <= MAX_SIDE and 1 <= config.height <= MAX_SIDE):
        raise OptimizeError(f"size {config.width}x{config.height} is out of range: each side must be 1..{MAX_SIDE}")
    if config.steps < 1:
        raise OptimizeError(f"steps must be at least 1, got {config.steps}")
    if config.lr <= 0:
        raise OptimizeError(f"learning rate must be positive, got {config.lr}")
    init = config.init
    if init != "auto" and init not in INIT_MODES:
        raise OptimizeError(f"unknown init {init!r}; choose auto or one of {', '.join(INIT_MODES)}")
    if init in ("bilinear", "ciede2000") or (init == "converter" and config.init_pattern is None):
        if not config.image:
            raise OptimizeError(f"init {init!r} needs an input image (--image)")
    if config.init_pattern is not None and config.palette is not None:
        if list(config.init_pattern.palette.codes) != list(config.palette.codes):
            raise OptimizeError("the starting pattern uses another palette than the run; use the same palette")
    if config.guidance.controlnets and not config.image:
        raise OptimizeError("ControlNet guidance needs an input image (--image), or leave out --controlnet")
    if config.fidelity_weight > 0 and not config.image:
        raise OptimizeError("the fidelity term needs an input image (--image)")
    if not config.prompt.strip():
        raise OptimizeError("an empty prompt gives the model nothing to aim for: pass --prompt")


def _converter_pattern(image_path: str, palette: Palette, width: int, height: int) -> Pattern:
    """Run the fast converter (engine.convert.pipeline, imported lazily) for the 'converter' init."""
    from engine.convert.pipeline import ConvertConfig, convert_image

    return convert_image(image_path, palette, ConvertConfig(width=width, height=height))


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: str | Path, gen: PaletteGenerator, optimizer: torch.optim.Optimizer, scheduler: Any,
                    step: int, rng: torch.Generator, guidance: Any, config: RunConfig) -> Path:
    """Write logits, optimiser/scheduler state, the step and RNG states to ``path`` atomically."""
    state = {
        "version": CHECKPOINT_VERSION,
        "step": int(step),
        "logits": gen.logits.detach().cpu(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng.get_state(),
        "guidance_rng": guidance.generator.get_state() if hasattr(guidance, "generator") else None,
        "palette_codes": list(config.palette.codes) if config.palette else [],
        "size": [config.height, config.width],
        "seed": config.seed,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    log.info("checkpoint at step %d written to %s", step, path)
    return path


def load_checkpoint(path: str | Path, config: RunConfig) -> dict:
    """Read a checkpoint and check it matches the run's size and palette."""
    path = Path(path)
    if not path.is_file():
        raise OptimizeError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises a variety of unpickling errors
        raise OptimizeError(f"{path.name} is not a readable SD-piXL checkpoint: {exc}") from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise OptimizeError(f"{path.name} is not an SD-piXL checkpoint of a version this program reads")
    if list(state["size"]) != [config.height, config.width]:
        h, w = state["size"]
        raise OptimizeError(f"checkpoint {path.name} is for a {w}x{h} pattern, not {config.width}x{config.height}")
    if config.palette is not None and list(state["palette_codes"]) != list(config.palette.codes):
        raise OptimizeError(f"checkpoint {path.name} was made with a different palette; use the same --palette")
    return state


# --------------------------------------------------------------------------- the run
def effective_warmup(config: "RunConfig") -> int:
    """Warm-up steps actually used: ``config.warmup``, but at most a tenth of the run, so short runs still
    reach the full learning rate (the reference's 250 of 10,001 steps is unchanged)."""
    return max(0, min(config.warmup, config.steps // 10))


def _warmup_factor(warmup: int) -> Callable[[int], float]:
    return lambda i: 1.0 if warmup <= 0 else min(1.0, (i + 1) / warmup)


def build_guidance(config: RunConfig) -> SDXLGuidance:
    """Load the guidance model for ``config`` (prompt and seed copied from the run); ``guidance_mode`` picks latent
    (SDXL), pixel (DeepFloyd IF) or patch-wise guidance, "auto" asks ``engine.sdpixl.planner``."""
    gcfg = replace(config.guidance, prompt=config.prompt, negative_prompt=config.negative_prompt, seed=config.seed)
    if config.guidance_mode != "latent":
        from .planner import resolve_and_build

        try:
            return resolve_and_build(config, gcfg)
        except ValueError as exc:
            raise OptimizeError(str(exc)) from None
    return SDXLGuidance(gcfg, config.height, config.width)


def run_optimization(config: RunConfig, progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                     guidance: Any = None, callback_on_step_end: Callable[[StepInfo], None] | None = None) -> Pattern:
    """Run SD-piXL and return the final (or, when cancelled, the current) Pattern.

    ``guidance``: a ready guidance object (``SDXLGuidance`` or anything with the same ``__call__``); built
    from ``config.guidance`` when None (a guidance can be reused across runs with the same prompt and model).
    ``progress`` gets a Progress every ``preview_every`` steps (preview = hard image, H x W x 3 uint8) and a final
    one with ``pattern`` set; ``losses`` holds ``sds``, ``fft`` (and ``fidelity``), their weighted ``total``, plus the
    step's diffusion timestep ``t`` and SDS ``grad_norm``. ``callback_on_step_end`` is called after every step.
    Cancelling returns the current Pattern with ``metadata["cancelled"] = True`` (no exception).
    """
    validate(config)
    palette = config.palette
    assert palette is not None
    seed = config.seed if config.seed is not None else random.randrange(2**31)
    config = replace(config, seed=seed)
    rng = torch.Generator().manual_seed(seed)

    image = None
    if config.image:
        image = crop_to_aspect(load_rgb(config.image), config.width, config.height)
    depth = None
    if config.depth_image:
        depth = crop_to_aspect(load_rgb(config.depth_image), config.width, config.height)

    init = config.init if config.init != "auto" else ("bilinear" if image is not None else "random")
    pattern0 = None
    if init == "converter":
        pattern0 = config.init_pattern or _converter_pattern(config.image, palette, config.width, config.height)
    gen = PaletteGenerator.create(palette, config.height, config.width, init, image=image, pattern=pattern0,
                                  generator=rng)
    target = downsample_image(image, config.height, config.width) if config.fidelity_weight > 0 else None

    if guidance is None:
        guidance = build_guidance(config)
    if hasattr(guidance, "set_target_size"):
        guidance.set_target_size(config.height, config.width)
    if hasattr(guidance, "prepare_conditions"):
        try:
            guidance.prepare_conditions(image, depth)
        except ValueError as exc:
            raise OptimizeError(str(exc)) from None
    if hasattr(guidance, "generator"):
        guidance.generator.manual_seed(seed + 1)
    device = getattr(guidance, "device", torch.device("cpu"))
    gen.to(device)
    if target is not None:
        target = target.to(device)

    optimizer = torch.optim.AdamW([gen.logits], lr=config.lr, betas=config.betas, eps=config.eps,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_factor(effective_warmup(config)))
    start = 0
    if config.resume:
        state = load_checkpoint(config.resume, config)
        with torch.no_grad():
            gen.logits.copy_(state["logits"].to(device))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng.set_state(state["rng"])
        if state.get("guidance_rng") is not None and hasattr(guidance, "generator"):
            guidance.generator.set_state(state["guidance_rng"])
        start = int(state["step"])
        log.info("resumed from %s at step %d", config.resume, start)

    def checkpoint(step: int) -> None:
        if config.checkpoint_path:
            save_checkpoint(config.checkpoint_path, gen, optimizer, scheduler, step, rng, guidance, config)

    total = config.steps
    t0 = time.perf_counter()
    losses: dict[str, float] = {}
    step = start
    cancelled = False
    while step < total:
        if cancel is not None and cancel.cancelled:
            cancelled = True
            break
        frac = step / total
        tau = config.tau.value(frac, rng)
        img = gen(tau=tau, hard=config.hard, generator=rng)
        out = guidance(img.permute(2, 0, 1)[None], frac)
        loss = torch.zeros((), device=device)
        losses = {}
        for name, value in out.items():
            if name.startswith("loss_"):
                weight = getattr(config, name[5:] + "_weight", 1.0)
                loss = loss + weight * value.to(device)
                losses[name[5:]] = float(value.detach())
        if config.fft_weight:
            fft = fft_smoothness_loss(img)
            loss = loss + config.fft_weight * fft
            losses["fft"] = float(fft.detach())
        if target is not None:
            fid = fidelity_loss(img, target, config.fidelity_sigma)
            loss = loss + config.fidelity_weight * fid
            losses["fidelity"] = float(fid.detach())
        losses["total"] = float(loss.detach())
        for key in ("t", "grad_norm"):
            if key in out:
                losses[key] = float(out[key])
        optimizer.zero_grad(set_to_none=True)
        if torch.isfinite(loss):
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_([gen.logits], config.grad_clip)
            optimizer.step()
        else:
            log.warning("non-finite loss at step %d; step skipped", step)
        scheduler.step()
        gen.center_()
        step += 1
        if callback_on_step_end is not None:
            callback_on_step_end(StepInfo(step, total, dict(losses), gen))
        if config.checkpoint_every > 0 and step % config.checkpoint_every == 0 and step < total:
            checkpoint(step)
        if progress is not None and step % max(1, config.preview_every) == 0 and step < total:
            elapsed = time.perf_counter() - t0
            eta = elapsed / (step - start) * (total - step)
            progress(Progress(step, total, f"step {step}/{total}", dict(losses), elapsed, eta, gen.hard_image()))
    checkpoint(step)

    metadata = {
        "method": "sd-pixl",
        "prompt": config.prompt,
        "negative_prompt": config.negative_prompt,
        "seed": seed,
        "steps": step,
        "steps_planned": total,
        "model": getattr(getattr(guidance, "config", None), "model", None),
        "init": init,
        "source_image": Path(config.image).name if config.image else None,
        "cancelled": cancelled,
    }
    pattern = gen.to_pattern(palette, metadata)
    if progress is not None:
        elapsed = time.perf_counter() - t0
        message = "stopped" if cancelled else "done"
        progress(Progress(step, total, message, losses, elapsed, 0.0, pattern.to_rgb(), pattern))
    log.info("SD-piXL %s after %d/%d steps (%.1fs)", "stopped" if cancelled else "finished", step, total,
             time.perf_counter() - t0)
    return pattern

