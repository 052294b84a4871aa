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
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from engine.core import limits
from engine.core.atomic import atomic_path
from engine.core.image_io import ImageLoadError, fit_layout, load_image
from engine.core.palette import Palette
from engine.core.pattern import Pattern
from engine.core.progress import CancelToken, Progress, ProgressCallback
from engine.sdpixl.generator import INIT_MODES, PaletteGenerator, TauSchedule, downsample_image
from engine.sdpixl.guidance.loading import resolve_device
from engine.sdpixl.guidance.patch import PatchGuidanceConfig
from engine.sdpixl.guidance.pixel import PixelGuidanceConfig
from engine.sdpixl.guidance.sdxl import SDXLGuidance, SDXLGuidanceConfig
from engine.sdpixl.losses import fft_smoothness_loss, fidelity_loss
from engine.sdpixl.select_init import SampleInitConfig, sample_and_select

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 3  # 2: the run's settings are stored and checked on resume; 3: + guidance path and state
MAX_SIDE = limits.MAX_SDPIXL_SIDE.value  # cells per side (declared in engine.core.limits)


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
    init: str = "auto"  # auto: bilinear with an image; without: sample-and-select (or random); or one of INIT_MODES
    init_samples: int = 10  # text-only "auto" init: candidate images sampled and ranked by CLIP (0: random logits)
    sample_init: SampleInitConfig = field(default_factory=SampleInitConfig)
    init_pattern: Pattern | None = None  # for init "converter": start from this Pattern instead of converting
    guidance: SDXLGuidanceConfig = field(default_factory=SDXLGuidanceConfig)
    guidance_mode: str = "auto"  # "auto" | "latent" | "pixel" | "patch" (auto: engine.sdpixl.planner decides)
    pixel: PixelGuidanceConfig = field(default_factory=PixelGuidanceConfig)  # pixel-space (DeepFloyd IF) settings
    patch: PatchGuidanceConfig = field(default_factory=PatchGuidanceConfig)  # patch-wise settings (large designs)
    seed: int | None = None
    preview_every: int = 10
    checkpoint_path: str | None = None
    checkpoint_every: int = 0  # steps between checkpoints (0: only on stop/finish when a path is set)
    checkpoint_seconds: float = 0.0  # also a checkpoint when this long has passed since the last (0: off)
    resume: str | None = None  # checkpoint file to continue from
    # The maker's colour budget (engine.convert.colour_choice.ColourBudget): the run's K colours are picked from
    # the picture or the selected init sample as the converter picks them, and the final pattern obeys the minimum
    # count and the stash. None: every colour of ``palette``, no minimum.
    colour_budget: Any = None
    # The ControlNets in ``guidance.controlnets`` are the defaults (the reference's canny + depth): dropped on the
    # pixel path, when there is no picture to condition on, or when one is missing offline (with a warning).
    auto_controlnets: bool = False


PRESETS: dict[str, RunConfig] = {
    # The paper's implementation: fp32 weights (TF32 matmuls on CUDA), 10,001 steps, 10 candidate init images.
    "reference": RunConfig(guidance=SDXLGuidanceConfig(dtype="fp32", tf32=True)),
    # Ours: half precision on GPU, channels-last, batched two-branch CFG, 1,500 steps with a short warm-up,
    # 4 candidate init images; torch.compile is opt-in (compile=True in the guidance config, --compile).
    "fast": RunConfig(steps=1500, warmup=100, init_samples=4,
                      guidance=SDXLGuidanceConfig(dtype="auto", channels_last=True)),
}


def make_config(preset: str = "reference", **overrides: Any) -> RunConfig:
    """A fresh copy of a named preset with fields replaced (``guidance`` fields via a ``guidance=`` config)."""
    if preset not in PRESETS:
        raise OptimizeError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return replace(copy.deepcopy(PRESETS[preset]), **overrides)


class DeviceLosses(Mapping):
    """Loss values kept as device tensors; a value is copied to the host (a sync) only when it is read."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self._tensors = tensors

    def __getitem__(self, key: str) -> float:
        return float(self._tensors[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)


@dataclass
class StepInfo:
    """What ``callback_on_step_end`` receives after each optimiser step (``losses`` read lazily)."""

    step: int
    total: int
    losses: Mapping[str, float]
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
    if init not in ("auto", "sample") and init not in INIT_MODES:
        raise OptimizeError(f"unknown init {init!r}; choose auto, sample or one of {', '.join(INIT_MODES)}")
    if config.init_samples < 0:
        raise OptimizeError(f"init samples must be 0 (skip) or more, got {config.init_samples}")
    if init in ("bilinear", "ciede2000") or (init == "converter" and config.init_pattern is None):
        if not config.image:
            raise OptimizeError(f"init {init!r} needs an input image (--image)")
    if config.init_pattern is not None and config.palette is not None:
        if list(config.init_pattern.palette.codes) != list(config.palette.codes):
            raise OptimizeError("the starting pattern uses another palette than the run; use the same palette")
    if config.guidance.controlnets and not config.image and not config.auto_controlnets and not _samples(config):
        raise OptimizeError(CONTROLNET_NEEDS_PICTURE)
    if config.fidelity_weight > 0 and not config.image:
        raise OptimizeError("the fidelity term needs an input image (--image)")
    if not config.prompt.strip():
        raise OptimizeError("an empty prompt gives the model nothing to aim for: pass --prompt")
    resolve_device(config.guidance.device)  # a bad device is one clear error, before any model or init sampling


CONTROLNET_NEEDS_PICTURE = ("ControlNet guidance needs an input image (--image) or a selected init sample "
                            "(--init-samples above 0 and a CLIP model), or leave out --controlnet")


def _samples(config: RunConfig) -> bool:
    """True when a text-only run is set to start from a selected sample (so ControlNets have a picture)."""
    return config.init in ("auto", "sample") and config.init_samples > 0 and not config.resume


def resolve_guidance_mode(config: RunConfig) -> tuple[RunConfig, Any]:
    """The config with ``guidance_mode`` "auto" resolved by the planner and default ControlNets settled (kept on
    the latent and patch paths, dropped on the pixel path), and the plan: what the run will do."""
    from engine.sdpixl.planner import plan_for_run

    try:
        if config.auto_controlnets and config.guidance.controlnets and config.guidance_mode in ("auto", "pixel"):
            bare = replace(config, guidance=replace(config.guidance, controlnets=[]), auto_controlnets=False)
            plan = plan_for_run(bare)
            if plan.mode == "pixel":
                log.info("pixel-space guidance: no ControlNets")
                return replace(bare, guidance_mode="pixel"), plan
        plan = plan_for_run(config)
    except ValueError as exc:  # an unknown guidance path or size: one clear error
        raise OptimizeError(str(exc)) from None
    return replace(config, guidance_mode=plan.mode), plan


def logit_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean per-cell entropy of softmax(logits) as a fraction of its maximum log(n) (1: undecided, 0: every cell
    has chosen its colour): the authors' convergence signal. A device scalar (no sync)."""
    logp = torch.log_softmax(logits.detach().float(), dim=-1)
    n = logits.shape[-1]
    h = -(logp.exp() * logp).sum(-1).mean()
    return h / float(np.log(n)) if n > 1 else h * 0.0


def _remap(index: np.ndarray, source: Palette, target: Palette) -> np.ndarray:
    """Positions in ``source`` -> positions of the same codes in ``target``."""
    where = {c: i for i, c in enumerate(target.codes)}
    table = np.asarray([where.get(c, -1) for c in source.codes], dtype=np.int64)
    missing = np.flatnonzero(table < 0)
    if missing.size:  # colours of ``source`` that ``target`` lacks (unused ones, or left out): the nearest in Lab
        d = ((source.lab[missing, None, :] - target.lab[None, :, :]) ** 2).sum(-1)
        table[missing] = d.argmin(1)
    return table[np.asarray(index, dtype=np.int64)]


def _converter_pattern(image_path: str, palette: Palette, width: int, height: int, budget: Any = None) -> Pattern:
    """Run the fast converter (engine.convert.pipeline, imported lazily) for the 'converter' init (with the run's
    colour budget when it has one)."""
    from engine.convert.pipeline import ConvertConfig, convert_image

    fields = budget.convert_fields() if budget is not None else {}
    return convert_image(image_path, palette, ConvertConfig(width=width, height=height, **fields))


# --------------------------------------------------------------------------- checkpoints
def run_settings(config: RunConfig) -> dict[str, Any]:
    """What makes a run's objective: stored in checkpoints and compared on resume (plain Python values)."""
    g = config.guidance
    return {
        "prompt": config.prompt,
        "negative_prompt": config.negative_prompt,
        "model": str(g.model),
        "model_config": g.model_config,
        "lora": g.lora,
        "lora_scale": float(g.lora_scale),
        "controlnets": [[c.kind, c.source, float(c.scale)] for c in g.controlnets],
        "guidance_scale": float(g.guidance_scale),
        "weighting": g.weighting,
        "t_range": [g.t_min, g.t_max_start, g.t_max_end, g.t_anneal_until],
        "resolution": g.resolution,
        "augment": asdict(g.augment),
        "weights": {"sds": config.sds_weight, "fft": config.fft_weight, "fidelity": config.fidelity_weight},
        "tau": [config.tau.mode, config.tau.low, config.tau.high],
        "hard": config.hard,
        "image": Path(config.image).name if config.image else None,
        **guidance_path_settings(config),
    }


def guidance_path_settings(config: RunConfig) -> dict[str, Any]:
    """The guidance path of a run (``auto`` resolved by the planner) and, for pixel space, the IF models and
    stage-II settings: part of ``run_settings``."""
    mode = config.guidance_mode
    if mode == "auto":
        from engine.sdpixl.planner import plan_for_run

        mode = plan_for_run(config).mode
    pixel = config.pixel
    stage2 = [pixel.stage2_model, pixel.stage2_from, pixel.stage2_noise_level] if pixel.stage2 else None
    return {"guidance_mode": mode,
            "pixel_model": [str(pixel.model), float(pixel.guidance_scale), stage2] if mode == "pixel" else None}


def save_checkpoint(path: str | Path, gen: PaletteGenerator, optimizer: torch.optim.Optimizer, scheduler: Any,
                    step: int, rng: torch.Generator, guidance: Any, config: RunConfig,
                    colours_picked: bool = True) -> Path:
    """Write logits, optimiser/scheduler state, the step, RNG states and the run's settings atomically
    (``colours_picked``: the run's colours came from a picture, else the end picks them from the design)."""
    state = {
        "version": CHECKPOINT_VERSION,
        "step": int(step),
        "steps": int(config.steps),
        "logits": gen.logits.detach().cpu(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng.get_state(),
        "guidance_rng": guidance.generator.get_state() if hasattr(guidance, "generator") else None,
        "palette_codes": list(config.palette.codes) if config.palette else [],
        "run_codes": list(gen.palette.codes) if gen.palette is not None else None,  # the run's K colours
        "colours_picked": bool(colours_picked),
        "size": [config.height, config.width],
        "seed": config.seed,
        "settings": run_settings(config),
        "device": gen.logits.device.type,  # the generator states belong to this device type
        "guidance_state": guidance.checkpoint_state() if hasattr(guidance, "checkpoint_state") else None,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    log.info("checkpoint at step %d written to %s", step, path)
    return path


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_checkpoint(path: str | Path, config: RunConfig) -> dict:
    """Read a checkpoint and check it matches the run: size, palette and every setting of ``run_settings``."""
    path = Path(path)
    if not path.is_file():
        raise OptimizeError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises a variety of unpickling errors; its advice (weights_only) is not ours
        log.debug("torch could not read %s: %s", path, exc)
        raise OptimizeError(f"checkpoint {path.name} is damaged or is not an SD-piXL checkpoint; give --resume a "
                            f"checkpoint this program wrote, or start a new run without --resume") from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise OptimizeError(f"{path.name} is not an SD-piXL checkpoint of a version this program reads "
                            f"(checkpoints from before settings were recorded cannot be resumed); start a new run")
    if list(state["size"]) != [config.height, config.width]:
        h, w = state["size"]
        raise OptimizeError(f"checkpoint {path.name} is for a {w}x{h} pattern, not {config.width}x{config.height}")
    if config.palette is not None and list(state["palette_codes"]) != list(config.palette.codes):
        raise OptimizeError(f"checkpoint {path.name} was made with a different palette; use the same --palette")
    saved, now = state.get("settings") or {}, run_settings(config)
    diffs = [f"{key}: {_short(saved.get(key))} then, {_short(now[key])} now"
             for key in now if saved.get(key) != now[key]]
    if diffs:
        raise OptimizeError(f"checkpoint {path.name} was made with other settings ({'; '.join(diffs)}); "
                            f"resume with the same settings or start a new run")
    if int(state.get("steps", config.steps)) != config.steps:
        log.warning("resuming a %s-step run as a %d-step run: the timestep schedule changes from here on",
                    state.get("steps"), config.steps)
    return state


# --------------------------------------------------------------------------- the run
def effective_warmup(config: "RunConfig") -> int:
    """Warm-up steps actually used: ``config.warmup``, but at most a tenth of the run, so short runs still
    reach the full learning rate (the reference's 250 of 10,001 steps is unchanged)."""
    return max(0, min(config.warmup, config.steps // 10))


def _warmup_factor(warmup: int) -> Callable[[int], float]:
    return lambda i: 1.0 if warmup <= 0 else min(1.0, (i + 1) / warmup)


def build_guidance(config: RunConfig, cache: Any = None) -> SDXLGuidance:
    """Load the guidance model for ``config`` (prompt and seed copied from the run); ``guidance_mode`` picks latent
    (SDXL), pixel (DeepFloyd IF) or patch-wise guidance, "auto" asks ``engine.sdpixl.planner``. With ``cache``
    (``engine.sdpixl.guidance.cache.GuidanceCache``) loaded models are kept and reused by later runs; without one
    they are loaded for this run only. Default ControlNets (``auto_controlnets``) missing offline are left out with a
    warning."""
    from engine.sdpixl.guidance.cache import GuidanceCache

    try:
        return (cache if cache is not None else GuidanceCache()).guidance_for(config)
    except ValueError as exc:
        raise OptimizeError(str(exc)) from None


def _guarded_step(optimizer: torch.optim.Optimizer, param: torch.nn.Parameter, finite: torch.Tensor) -> None:
    """One optimiser step that leaves the parameter and its Adam moments unchanged when ``finite`` (a device
    bool) is False: decided with ``torch.where`` on the device, never read on the host."""
    state = optimizer.state.get(param) or {}
    saved = [(param, param.detach().clone())]
    saved += [(state[k], state[k].clone()) for k in ("exp_avg", "exp_avg_sq") if k in state]
    if param.grad is not None:
        param.grad = torch.where(finite, param.grad, torch.zeros_like(param.grad))
    optimizer.step()
    with torch.no_grad():
        for tensor, old in saved:
            tensor.copy_(torch.where(finite, tensor, old))


def _report_values(sums: dict[str, torch.Tensor], count: int, last: dict[str, torch.Tensor]) -> dict[str, float]:
    """Window means of the accumulated losses plus the last step's t / grad_norm, in ONE device-to-host copy."""
    keys = list(sums) + list(last)
    if not keys:
        return {}
    stacked = torch.stack([sums[k] / max(count, 1) for k in sums] + [last[k].float() for k in last])
    return dict(zip(keys, stacked.detach().cpu().tolist()))


def run_optimization(config: RunConfig, progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                     guidance: Any = None, callback_on_step_end: Callable[[StepInfo], None] | None = None,
                     guidance_cache: Any = None) -> Pattern:
    """Run SD-piXL and return the final (or, when cancelled, the current) Pattern.

    ``guidance``: a ready guidance object (``SDXLGuidance`` or anything with the same ``__call__``); built
    from ``config.guidance`` when None, through ``guidance_cache`` (an ``engine.sdpixl.guidance.cache.
    GuidanceCache``) when given, so a second run with the same model, dtype and device loads nothing.
    ``progress`` gets step-0 reports while models load and init candidates are sampled, a Progress every
    ``preview_every`` steps (preview = hard image, H x W x 3 uint8) and a final one with ``pattern`` set; ``losses``
    holds the means since the previous report of ``sds``, ``fft`` (and ``fidelity``) and their weighted ``total``,
    the last step's diffusion timestep ``t`` and SDS ``grad_norm``, and ``entropy`` (``logit_entropy``).
    ``callback_on_step_end`` is called after every step (its ``losses`` are read lazily).
    Cancelling returns the current Pattern with ``metadata["cancelled"] = True`` (no exception).

    With ``config.colour_budget`` the run optimises over the K colours the converter picks from the picture (or
    the selected init sample) and the final pattern, on ``config.palette``, obeys the minimum count and stash.

    The step itself does no host work: random numbers come from device generators, losses are accumulated on
    the device and copied to the host only when a report, checkpoint or callback read is due, and a non-finite
    loss skips its update on the device (counted and logged at the next report).
    """
    validate(config)
    palette = config.palette
    assert palette is not None
    seed = config.seed if config.seed is not None else random.randrange(2**31)
    config = replace(config, seed=seed)
    init_rng = torch.Generator().manual_seed(seed)
    config, _plan = resolve_guidance_mode(config)
    budget = config.colour_budget

    def say(message: str) -> None:
        log.info("%s", message)
        if progress is not None:
            progress(Progress(0, config.steps, message))

    state = load_checkpoint(config.resume, config) if config.resume else None
    image = None
    if config.image:
        image = crop_to_aspect(load_rgb(config.image), config.width, config.height)
    depth = None
    if config.depth_image:
        depth = crop_to_aspect(load_rgb(config.depth_image), config.width, config.height)

    init = config.init
    init_image = image
    if init == "auto":
        if image is not None:
            init = "bilinear"
        elif config.init_samples > 0 and not config.resume and config.guidance_mode != "pixel":
            init = "sample"
        else:
            init = "random"
    if init == "sample" and config.resume:
        init = "random"  # the checkpoint's logits replace the init: do not sample for nothing
    init_note = None
    missing_clip = False
    if init == "sample":
        # "auto" is best effort (no CLIP on this computer: random logits, said in the log and the metadata);
        # an explicit init "sample" must work.
        say(f"init: loading the model to sample {max(1, config.init_samples)} candidate images")
        if guidance is None and guidance_cache is None:
            from engine.sdpixl.guidance.cache import GuidanceCache

            guidance_cache = GuidanceCache()  # this run's only: the model is loaded once for sampling and guidance
        shared = guidance_cache if guidance is None and config.guidance_mode != "pixel" else None
        try:
            best = sample_and_select(config, progress=progress, optional=config.init == "auto",
                                     pipeline=(lambda: shared.sampling_pipeline(config)) if shared else None)
        finally:
            if shared is not None:
                shared.after_sampling()
        if best is None:
            init, init_note = "random", f"no CLIP model {config.sample_init.clip_model!r}: random start"
            missing_clip = True
        else:
            init_image, scores = best
            log.info("init: kept candidate %d of %d (CLIP similarity %.3f)", int(np.argmax(scores)), len(scores),
                     max(scores))
            init_note = f"best of {len(scores)} candidates by CLIP (similarity {max(scores):.3f})"
            init_image = crop_to_aspect(init_image, config.width, config.height)
    # What the ControlNets follow: the picture, or for a text-only run the selected sample (as the reference does).
    condition = image if image is not None else (init_image if init == "sample" else None)
    if condition is None and config.guidance.controlnets and guidance is None:
        if not config.auto_controlnets:
            raise OptimizeError(CONTROLNET_NEEDS_PICTURE)
        log.info("no picture to condition on: running without ControlNets")
        config = replace(config, guidance=replace(config.guidance, controlnets=[]))

    run_palette = palette
    picked = False  # True once the run's colours were picked from a picture (else the end picks from the design)
    pattern0 = None
    if init == "converter":
        pattern0 = config.init_pattern or _converter_pattern(config.image, palette, config.width, config.height,
                                                             budget)
    if state is not None and state.get("run_codes"):
        run_palette = palette.subset(state["run_codes"], name=palette.name)
        picked = bool(state.get("colours_picked", True))
    elif budget is not None and pattern0 is not None:
        used = sorted(set(pattern0.index[~pattern0.empty_mask].ravel().tolist()))
        run_palette = palette.subset([pattern0.palette.codes[i] for i in used], name=palette.name)
        picked = True
    elif budget is not None:
        from engine.convert.colour_choice import allowed_palette, pick_colours

        picture = image if image is not None else (init_image if init == "sample" else None)
        if picture is not None:
            say("choosing the colours from the " + ("picture" if image is not None else "selected sample"))
            run_palette = pick_colours(picture, palette, budget, config.width, config.height)
            picked = True
        else:
            run_palette = allowed_palette(palette, budget)
        log.info("the run uses %d of the palette's %d colours", len(run_palette), len(palette))
    if pattern0 is not None and pattern0.palette is not run_palette:  # the init pattern's own palette may differ
        pattern0 = Pattern(_remap(pattern0.index, pattern0.palette, run_palette), run_palette)
    gen = PaletteGenerator.create(run_palette, config.height, config.width,
                                  "bilinear" if init == "sample" else init, image=init_image, pattern=pattern0,
                                  generator=init_rng)
    target = downsample_image(image, config.height, config.width) if config.fidelity_weight > 0 else None

    if guidance is None:
        say("loading the diffusion model")
        guidance = build_guidance(config, guidance_cache)
    if missing_clip:  # said once the model has loaded, so a model error is never preceded by this warning
        log.warning("no sample-and-select init (%s); starting from random logits", init_note)
    if hasattr(guidance, "set_target_size"):
        guidance.set_target_size(config.height, config.width)
    if hasattr(guidance, "prepare_conditions"):
        if getattr(guidance, "controlnets", None):
            say("preparing the ControlNet conditions (edges, depth)")
        try:
            guidance.prepare_conditions(condition, depth)
        except ValueError as exc:
            message = str(exc)
            if condition is None and "ControlNet" in message:
                message = CONTROLNET_NEEDS_PICTURE
            raise OptimizeError(message) from None
    if hasattr(guidance, "generator"):
        guidance.generator.manual_seed(seed + 1)
    if hasattr(guidance, "bind_design"):  # stage II freezes its condition from the clean (argmax) design
        guidance.bind_design(gen.hard_render)
    device = torch.device(getattr(guidance, "device", "cpu"))
    rng = torch.Generator(device=device).manual_seed(seed)  # the loop's draws (temperature, Gumbel noise)
    gen.to(device)
    if target is not None:
        target = target.to(device)

    optimizer = torch.optim.AdamW([gen.logits], lr=config.lr, betas=config.betas, eps=config.eps,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_factor(effective_warmup(config)))
    start = 0
    if state is not None:
        if state.get("device", device.type) != device.type:
            raise OptimizeError(f"checkpoint {Path(config.resume).name} was written on {state['device']}, this run "
                                f"is on {device.type}: resume on the same kind of device (--device)")
        if tuple(state["logits"].shape) != tuple(gen.logits.shape):
            raise OptimizeError(f"checkpoint {Path(config.resume).name} holds {state['logits'].shape[-1]} colours, "
                                f"this run {gen.n_colors}: resume with the same colour choices")
        with torch.no_grad():
            gen.logits.copy_(state["logits"].to(device))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng.set_state(state["rng"])
        if state.get("guidance_rng") is not None and hasattr(guidance, "generator"):
            guidance.generator.set_state(state["guidance_rng"])
        if state.get("guidance_state") is not None and hasattr(guidance, "load_checkpoint_state"):
            guidance.load_checkpoint_state(state["guidance_state"])  # e.g. the frozen stage-II condition
        start = int(state["step"])
        log.info("resumed from %s at step %d", config.resume, start)

    def checkpoint(step: int) -> None:
        if config.checkpoint_path:
            save_checkpoint(config.checkpoint_path, gen, optimizer, scheduler, step, rng, guidance, config, picked)

    total = config.steps
    every = max(1, config.preview_every)
    t0 = time.perf_counter()
    sums: dict[str, torch.Tensor] = {}  # loss sums since the last report, on the device
    last: dict[str, torch.Tensor] = {}  # the last step's t and grad_norm
    count = 0
    skipped = torch.zeros((), device=device, dtype=torch.int64)
    logged = [0]
    losses: dict[str, float] = {}
    step = start
    cancelled = False
    last_checkpoint = time.perf_counter()
    try:
        while step < total:
            if cancel is not None and cancel.cancelled:
                cancelled = True
                break
            frac = step / total
            tau = config.tau.value_t(frac, rng, device)
            img = gen(tau=tau, hard=config.hard, generator=rng)
            out = guidance(img.permute(2, 0, 1)[None], frac)
            loss = torch.zeros((), device=device)
            terms: dict[str, torch.Tensor] = {}
            for name, value in out.items():
                if name.startswith("loss_"):
                    weight = getattr(config, name[5:] + "_weight", 1.0)
                    loss = loss + weight * value.to(device)
                    terms[name[5:]] = value.detach()
            if config.fft_weight:
                fft = fft_smoothness_loss(img)
                loss = loss + config.fft_weight * fft
                terms["fft"] = fft.detach()
            if target is not None:
                fid = fidelity_loss(img, target, config.fidelity_sigma)
                loss = loss + config.fidelity_weight * fid
                terms["fidelity"] = fid.detach()
            terms["total"] = loss.detach()
            for key in ("t", "grad_norm"):
                if key in out:
                    last[key] = torch.as_tensor(out[key]).detach()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            finite = torch.isfinite(loss)
            skipped += (~finite).long()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_([gen.logits], config.grad_clip)
            _guarded_step(optimizer, gen.logits, finite)
            scheduler.step()
            gen.center_()
            for key, value in terms.items():
                sums[key] = value.float() if key not in sums else sums[key] + value.float()
            count += 1
            step += 1
            if callback_on_step_end is not None:
                callback_on_step_end(StepInfo(step, total, DeviceLosses({**terms, **last}), gen))
            due = config.checkpoint_every > 0 and step % config.checkpoint_every == 0
            if config.checkpoint_seconds > 0 and time.perf_counter() - last_checkpoint >= config.checkpoint_seconds:
                due = True
            if due and step < total:
                checkpoint(step)
                last_checkpoint = time.perf_counter()
            if progress is not None and step % every == 0 and step < total:
                losses = _report_values(sums, count, {**last, "entropy": logit_entropy(gen.logits)})
                _log_skipped(skipped, step, logged)
                sums, count = {}, 0
                elapsed = time.perf_counter() - t0
                eta = elapsed / (step - start) * (total - step)
                progress(Progress(step, total, f"step {step}/{total}", dict(losses), elapsed, eta, gen.hard_image()))
    except BaseException:  # a crash or a second Ctrl-C: keep the steps done so far (resumable)
        if step > start:
            checkpoint(step)
        raise
    checkpoint(step)
    if count or progress is not None:
        losses = _report_values(sums, count, {**last, "entropy": logit_entropy(gen.logits)})
    _log_skipped(skipped, step, logged)

    # a patch-wise guidance wraps the latent one, whose config names the model and ControlNets
    base_config = getattr(getattr(guidance, "inner", guidance), "config", None)
    metadata = {
        "method": "sd-pixl",
        "prompt": config.prompt,
        "negative_prompt": config.negative_prompt,
        "seed": seed,
        "steps": step,
        "steps_planned": total,
        "model": getattr(base_config, "model", None),
        "guidance": config.guidance_mode,
        "controlnets": [c.kind for c in getattr(base_config, "controlnets", None) or []],
        "init": init,
        "init_note": init_note,
        "source_image": Path(config.image).name if config.image else None,
        "cancelled": cancelled,
    }
    pattern = _final_pattern(gen, palette, run_palette, budget, metadata, picked)
    if progress is not None:
        elapsed = time.perf_counter() - t0
        message = "stopped" if cancelled else "done"
        progress(Progress(step, total, message, losses, elapsed, 0.0, pattern.to_rgb(), pattern))
    log.info("SD-piXL %s after %d/%d steps (%.1fs)", "stopped" if cancelled else "finished", step, total,
             time.perf_counter() - t0)
    return pattern


def _final_pattern(gen: PaletteGenerator, palette: Palette, run_palette: Palette, budget: Any,
                   metadata: dict, picked: bool = True) -> Pattern:
    """The argmax design on ``palette``; with a colour budget, rare colours folded and the stash obeyed (cells
    move to the colour nearest their soft render, the design's second choice). When no picture gave the run its
    colours (a random start), the budget's colours are picked from the design itself now (its argmax render, as
    the converter would pick them) and each cell takes its most likely colour among them."""
    index = gen.index_map().astype(np.int64)
    soft = None
    if budget is not None:
        with torch.no_grad():
            soft = gen.soft_image().float().cpu().numpy()
    if budget is not None and not picked:
        from engine.convert.colour_choice import pick_colours

        chosen = set(pick_colours(gen.hard_image(), run_palette, budget, gen.width, gen.height).codes)
        keep = torch.tensor([c in chosen for c in run_palette.codes])
        with torch.no_grad():
            logits = gen.logits.detach().float().cpu().masked_fill(~keep, float("-inf"))
        index = logits.argmax(-1).numpy().astype(np.int64)
        metadata["colours_from"] = "the design (no picture to pick them from)"
    if run_palette is not palette:
        index = _remap(index, run_palette, palette)
    if budget is not None:
        from engine.convert.colour_choice import obey_budget
        from engine.core.color import srgb_to_lab

        first = index.copy()
        index, merged = obey_budget(index, srgb_to_lab(soft), palette, budget)
        metadata["min_count"] = budget.min_count_for(index.size)
        metadata["merged"] = [{"code": palette[int(k)].code, "cells": int(sum(v.values())),
                               "into": {palette[int(j)].code: int(n) for j, n in v.items()}}
                              for k, v in merged.items() if v]
        metadata["changed_cells"] = int((first != index).sum())
    return Pattern(index, palette, metadata=metadata)


def _log_skipped(skipped: torch.Tensor, step: int, logged: list[int]) -> None:
    """Log steps newly skipped for a non-finite loss (reads one device scalar; ``logged`` holds the count so far)."""
    n = int(skipped)
    if n > logged[0]:
        log.warning("%d step(s) up to step %d had a non-finite loss; their updates were skipped", n - logged[0], step)
        logged[0] = n
