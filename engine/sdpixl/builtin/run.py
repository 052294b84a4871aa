"""Generate a pattern with the built-in model: SD-piXL proper (score distillation through the usual loop) or the
fast path (sample, then map to the palette).

``generate_builtin(config, method)`` takes the same ``RunConfig`` as ``run_optimization``; the SDXL-only parts
(ControlNets, LoRA) are refused with one line. SD-piXL starts, like the reference's sample-and-select, from a
sample of the model mapped to the palette (``init="auto"``; ``"random"`` starts from random logits) and its alpha.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import torch

from engine.core.palette import Palette
from engine.core.pattern import Pattern
from engine.core.progress import CancelToken, Progress, ProgressCallback
from engine.sdpixl.builtin.guidance import BuiltinGuidance, BuiltinGuidanceConfig
from engine.sdpixl.builtin.loading import BuiltinModel, load_builtin_model
from engine.sdpixl.builtin.sampling import SampleConfig, picture_to_pattern, sample_rgba
from engine.sdpixl.optimize import OptimizeError, RunConfig, run_optimization, validate

log = logging.getLogger(__name__)

METHODS = ("sdpixl", "fast")
DEFAULT_STEPS = 200  # SD-piXL steps with the built-in model (benchmarks/builtin_model.py times them)
FAST = SampleConfig()
# The model's operations are small (batch 2 at 16 x 16): split over threads they wait on each other, and on a
# busy machine two threads measured 15-30x slower than one (benchmarks/builtin_model.py prints both).
BUILTIN_THREADS = 1


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads, then restore the previous setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def check_builtin(config: RunConfig, method: str) -> None:
    """Refuse what the built-in model cannot do, in one line each (before anything is loaded)."""
    if method not in METHODS:
        raise OptimizeError(f"unknown method {method!r}; choose {' or '.join(METHODS)}")
    if config.guidance.controlnets:
        raise OptimizeError("ControlNets need an SDXL model: give one with --model, or leave out --controlnet")
    if config.guidance.lora:
        raise OptimizeError("a LoRA needs the model it was trained for: give it with --model, or leave out --lora")
    if config.resume and method == "fast":
        raise OptimizeError("the fast path has no checkpoints to resume; use the sdpixl method")
    validate(config)


def unknown_words(prompt: str, model: BuiltinModel | None = None) -> tuple[list[str], str | None]:
    """(words the built-in model does not know, the message naming them and their nearest known words)."""
    model = model or load_builtin_model()
    enc = model.vocab.encode(prompt)
    return enc.unknown, (model.vocab.unknown_message(enc.unknown) if enc.unknown else None)


def fast_pattern(prompt: str, palette: Palette, width: int, height: int, seed: int | None = None,
                 sample: SampleConfig = FAST, model: BuiltinModel | None = None,
                 negative_prompt: str = "") -> tuple[Pattern, torch.Tensor]:
    """Fast path: (the sampled picture mapped to ``palette`` as pixel art, the picture 4 x 32 x 32 in [0, 1])."""
    model = model or load_builtin_model()
    seed = seed if seed is not None else int(np.random.default_rng().integers(2**31))
    with torch_threads(BUILTIN_THREADS):
        picture = sample_rgba(model, prompt, replace(sample, seed=seed, count=1), negative_prompt)[0]
    meta = {"method": "builtin-fast", "prompt": prompt, "seed": seed, "model": model.name,
            "steps": sample.steps, "guidance_scale": sample.guidance_scale}
    return picture_to_pattern(picture, palette, width, height, meta), picture


def generate_builtin(config: RunConfig, method: str = "sdpixl", steps: int | None = None,
                     progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                     model: BuiltinModel | None = None, guidance_scale: float | None = None,
                     threads: int = BUILTIN_THREADS) -> Pattern:
    """A pattern for ``config.prompt`` with the built-in model. ``steps``: SD-piXL steps (default
    ``DEFAULT_STEPS``); ``guidance_scale``: the SDS CFG scale (default ``BuiltinGuidanceConfig``'s); ``threads``: torch
    threads while it runs."""
    if config.auto_controlnets:  # the default ControlNets are SDXL's: the built-in model runs without them
        config = replace(config, guidance=replace(config.guidance, controlnets=[]), auto_controlnets=False)
    check_builtin(config, method)
    with torch_threads(threads):
        return _generate(config, method, steps, progress, cancel, model, guidance_scale)


def _generate(config: RunConfig, method: str, steps: int | None, progress: ProgressCallback | None,
              cancel: CancelToken | None, model: BuiltinModel | None, guidance_scale: float | None) -> Pattern:
    model = model or load_builtin_model()
    palette = config.palette
    assert palette is not None
    enc = model.vocab.encode(config.prompt)
    unknown = enc.unknown
    if unknown:
        message = model.vocab.unknown_message(unknown)
        if not enc.known:
            raise OptimizeError(f"{message}; use some of the words it knows")
        log.warning("%s", message)
    seed = config.seed if config.seed is not None else int(np.random.default_rng().integers(2**31))
    config = replace(config, seed=seed)
    t0 = time.perf_counter()
    if method == "fast":
        pattern, _ = fast_pattern(config.prompt, palette, config.width, config.height, seed, model=model,
                                  negative_prompt=config.negative_prompt)
        if unknown:
            pattern.metadata["unknown_words"] = unknown
        if progress is not None:
            progress(Progress(1, 1, "done", {}, time.perf_counter() - t0, 0.0, pattern.to_rgb(), pattern))
        return pattern

    gcfg = BuiltinGuidanceConfig(prompt=config.prompt, negative_prompt=config.negative_prompt, seed=seed,
                                 guidance_scale=guidance_scale or BuiltinGuidanceConfig.guidance_scale,
                                 model=str(model.folder))
    guidance = BuiltinGuidance(gcfg, model, config.height, config.width)
    run = replace(config, steps=steps or DEFAULT_STEPS, guidance_mode="latent", init_samples=0)
    init_note = None
    if config.init == "auto" and not config.image and not config.resume:
        start, picture = fast_pattern(config.prompt, palette, config.width, config.height, seed, model=model,
                                      negative_prompt=config.negative_prompt)
        if start.filled_cells > 0:
            guidance.set_initial_alpha(_design_alpha(picture, config.height, config.width))
            run = replace(run, init="converter", init_pattern=start)
            init_note = "a sample of the built-in model mapped to the palette"
        else:
            run = replace(run, init="random")
    pattern = run_optimization(run, progress=progress, cancel=cancel, guidance=guidance)
    pattern = Pattern(pattern.index, pattern.palette, guidance.empty_mask(), pattern.medium, dict(pattern.metadata))
    pattern.metadata.update({"method": "builtin-sd-pixl", "model": model.name, "guidance_scale": gcfg.guidance_scale})
    if init_note:
        pattern.metadata.update({"init": "sample", "init_note": init_note})
    if unknown:
        pattern.metadata["unknown_words"] = unknown
    return pattern


def _design_alpha(picture: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The sample's alpha (32 x 32) at the design's size (aspect kept as the converter's 'pad' fit does)."""
    from engine.sdpixl.builtin.guidance import resize_to_box
    from engine.sdpixl.generator import letterbox_box

    a = picture[3][None, None]
    size = a.shape[-1]
    top, left, ch, cw = letterbox_box(size, size, (height, width))
    out = torch.zeros(1, 1, height, width)
    out[..., top:top + ch, left:left + cw] = resize_to_box(a, ch, cw)
    return out[0, 0]
