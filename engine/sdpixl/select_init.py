"""Sample-and-select init for text-only runs (the reference's): draw N candidate images from the same
text-to-image pipeline, rank them by CLIP similarity to the prompt, and start from the best one.

``sample_and_select(config) -> (image, scores)``; ``sample_candidates`` and ``clip_scores`` are the two halves.
The pipeline decodes with the tiny autoencoder when one is available (as the reference does) and is freed
before the optimisation loads its own guidance.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.core.progress import Progress, ProgressCallback

RunConfig = Any  # engine.sdpixl.optimize.RunConfig (not imported: optimize imports this module)
log = logging.getLogger(__name__)

DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"  # the reference ranks with CLIP ViT-B/32


@dataclass
class SampleInitConfig:
    """How the candidates are drawn and ranked (the reference's values: 50 denoising steps, CFG 7.5)."""

    clip_model: str = DEFAULT_CLIP_MODEL
    inference_steps: int = 50
    guidance_scale: float = 7.5


def _sampling_size(pipe: Any, family: str, height: int, width: int) -> tuple[int, int]:
    """The model's native resolution at the pattern's aspect (clamped to the trained range), sides % 8 == 0."""
    from engine.sdpixl.generator import render_size
    from engine.sdpixl.guidance.sdxl import MAX_ASPECT

    vae_scale = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    multiple = max(8, vae_scale * 2 ** (len(pipe.unet.config.block_out_channels) - 1))
    base = int(pipe.unet.config.sample_size) * vae_scale
    return render_size(height, width, base, multiple, MAX_ASPECT.get(family))


def load_sampling_pipeline(config: "RunConfig") -> tuple[Any, str]:
    """The run's text-to-image pipeline (model + LoRA) on the run's device, in the run's dtype."""
    from engine.sdpixl.guidance.loading import load_lora, load_pipeline, resolve_device, resolve_dtype

    g = config.guidance
    device = resolve_device(g.device)
    pipe, family = load_pipeline(g.model, g.family, resolve_dtype(g.dtype, device), g.model_config)
    if g.lora:
        load_lora(pipe, g.lora, g.lora_scale)
    return pipe, family


def sample_candidates(config: "RunConfig", count: int, progress: ProgressCallback | None = None,
                      loaded: tuple[Any, str] | None = None) -> list[np.ndarray]:
    """``count`` images (H x W x 3 uint8) for the run's prompt from the run's model (and LoRA), seeded.
    ``loaded``: a ``load_sampling_pipeline`` result to use (freed at the end)."""
    from engine.sdpixl.guidance.loading import load_tiny_vae, resolve_device, resolve_dtype

    g = config.guidance
    device = resolve_device(g.device)
    dtype = resolve_dtype(g.dtype, device)
    pipe, family = loaded or load_sampling_pipeline(config)
    del loaded
    height, width = _sampling_size(pipe, family, config.height, config.width)
    tiny = load_tiny_vae(g.tiny_vae, family, g.model, dtype)
    if tiny is not None:
        pipe.vae = tiny  # decode with TAESD(XL), as the reference does
    pipe.to(device)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator(device=device).manual_seed(int(config.seed or 0) + 2)
    images = []
    try:
        for i in range(count):
            if progress is not None:
                progress(Progress(0, config.steps, f"init: sampling candidate image {i + 1}/{count}"))
            out = pipe(prompt=config.prompt, negative_prompt=config.negative_prompt or None, height=height,
                       width=width, num_inference_steps=config.sample_init.inference_steps,
                       guidance_scale=config.sample_init.guidance_scale, generator=generator, output_type="np")
            images.append((np.clip(out.images[0], 0.0, 1.0) * 255.0).round().astype(np.uint8))
    finally:
        del pipe
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return images


def load_clip(clip_model: str = DEFAULT_CLIP_MODEL, device: str | torch.device = "cpu") -> tuple[Any, Any]:
    """A transformers CLIP model and its processor from a hub id or folder (ModelLoadError when missing)."""
    from transformers import CLIPModel, CLIPProcessor

    from engine.sdpixl.guidance.loading import _fail, _loader_errors, offline, resolve_source

    src = resolve_source(clip_model, "CLIP model")
    local = src.kind == "folder" or offline()
    try:
        model = CLIPModel.from_pretrained(src.location, local_files_only=local).to(device).eval()
        processor = CLIPProcessor.from_pretrained(src.location, local_files_only=local)
    except _loader_errors() as exc:
        raise _fail(src, "CLIP model", exc) from None
    return model, processor


@torch.no_grad()
def clip_scores(images: list[np.ndarray], prompt: str, clip: tuple[Any, Any]) -> list[float]:
    """Cosine similarity between the CLIP embeddings of ``prompt`` and of each image (higher = closer);
    ``clip`` is ``load_clip``'s (model, processor)."""
    from PIL import Image

    model, processor = clip
    device = next(model.parameters()).device
    inputs = processor(text=[prompt], images=[Image.fromarray(im) for im in images], return_tensors="pt",
                       padding=True, truncation=True)
    inputs = {k: v.to(device) for k, v in inputs.items()}
    text = _embeds(model.get_text_features(input_ids=inputs["input_ids"],
                                           attention_mask=inputs.get("attention_mask")))
    pics = _embeds(model.get_image_features(pixel_values=inputs["pixel_values"]))
    text = text / text.norm(dim=-1, keepdim=True)
    pics = pics / pics.norm(dim=-1, keepdim=True)
    return (pics @ text[0]).float().cpu().tolist()


def _embeds(out: Any) -> torch.Tensor:
    """transformers 5 returns a model output from get_*_features; older versions a tensor."""
    if isinstance(out, torch.Tensor):
        return out
    for name in ("pooler_output", "text_embeds", "image_embeds"):
        value = getattr(out, name, None)
        if isinstance(value, torch.Tensor):
            return value
    raise TypeError(f"unexpected CLIP output {type(out).__name__}")


def sample_and_select(config: "RunConfig", progress: ProgressCallback | None = None,
                      optional: bool = False, pipeline: Any = None) -> tuple[np.ndarray, list[float]] | None:
    """Sample ``config.init_samples`` candidates and return the one CLIP ranks closest to the prompt, with all
    candidates' scores (in sampling order). CLIP is loaded first, so a missing CLIP fails before any sampling;
    with ``optional=True`` a missing CLIP returns None (the caller starts from random logits) after a warning.
    ``pipeline``: a callable returning a ``load_sampling_pipeline`` result (e.g. from a guidance cache), called
    only once CLIP is there."""
    from engine.sdpixl.guidance.loading import ModelLoadError, resolve_device

    try:
        clip = load_clip(config.sample_init.clip_model, resolve_device(config.guidance.device))
    except ModelLoadError as exc:
        if not optional:
            raise
        log.debug("no sample-and-select init (%s); starting from random logits", exc)  # the run warns later
        return None
    count = max(1, int(config.init_samples))
    images = sample_candidates(config, count, progress, loaded=pipeline() if pipeline is not None else None)
    scores = clip_scores(images, config.prompt, clip)
    del clip
    return images[int(np.argmax(scores))], scores
