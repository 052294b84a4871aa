"""Loaded diffusion models kept between runs, so a second Start with the same model does not reload SDXL.

``GuidanceCache.guidance_for(run_config)`` returns a ready guidance for a RunConfig (latent, patch-wise or pixel
path). The latent models (UNet, VAE, text encoders, scheduler; LoRA fused) are kept under the key
``(model, model_config, family, dtype, device, lora, lora_scale)``, with the ControlNets by source and the tiny
autoencoder by setting; a new prompt is encoded with the kept text encoders (moved to the CPU between encodings on
a GPU, so they cost no GPU memory). One model set is kept at a time: another key frees the previous one first.
The pixel path (DeepFloyd IF) is built afresh each run. ``shared_cache()`` is the process-wide cache the app uses.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from engine.sdpixl.guidance.loading import (
    DEFAULT_CONTROLNETS,
    ModelLoadError,
    load_controlnet,
    load_lora,
    load_pipeline,
    load_tiny_vae,
    offline,
    resolve_device,
    resolve_dtype,
    resolve_source,
)
from engine.sdpixl.guidance.sdxl import SDXLGuidance, SDXLGuidanceConfig, check_prediction_type, full_vae_dtype

log = logging.getLogger(__name__)

MAX_PROMPTS = 16  # prompt encodings kept per model set


@dataclass
class LoadedModels:
    """One model set: the pipeline's modules and what was derived from them."""

    key: tuple
    pipe: Any
    family: str
    prediction_type: str
    vae_scale_factor: int
    controlnets: dict[str, Any] = field(default_factory=dict)  # source -> ControlNet
    tiny: dict[str, Any] = field(default_factory=dict)  # tiny_vae setting -> AutoencoderTiny or None
    prompts: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor | None]] = field(default_factory=dict)


def model_key(config: SDXLGuidanceConfig) -> tuple:
    """What a model set is keyed by: model, its config, family, dtype and device (resolved), LoRA and its scale."""
    device = resolve_device(config.device)
    dtype = resolve_dtype(config.dtype, device)
    return (str(config.model), config.model_config, config.family, str(dtype), str(device), config.lora,
            float(config.lora_scale))


class GuidanceCache:
    """Keeps one loaded model set for reuse by later runs. ``loads`` counts the
    model-set loads, for callers that want to say "reusing the loaded model"."""

    def __init__(self) -> None:
        self.models: LoadedModels | None = None
        self.loads = 0

    def clear(self) -> None:
        """Forget every loaded model (frees its memory once no run holds a guidance built from it)."""
        self.models = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def has(self, config: SDXLGuidanceConfig) -> bool:
        """True when the model set for ``config`` is loaded (a run would load nothing new but prompts/nets)."""
        return self.models is not None and self.models.key == model_key(config)

    # ----------------------------------------------------------------- runs
    def guidance_for(self, run: Any) -> Any:
        """A ready guidance for a RunConfig (engine.sdpixl.optimize): its prompt, seed, size and guidance path
        ("auto" resolved by the planner). Default ControlNets (``run.auto_controlnets``) missing offline are left
        out with a warning; asked-for ones that are missing raise ModelLoadError."""
        mode = run.guidance_mode
        if mode == "auto":
            from engine.sdpixl.planner import plan_for_run

            mode = plan_for_run(run).mode
        gcfg = replace(run.guidance, prompt=run.prompt, negative_prompt=run.negative_prompt, seed=run.seed)
        if mode == "pixel":
            return self._pixel_guidance(run)
        inner = self.latent(gcfg, run.height, run.width, optional_controlnets=bool(run.auto_controlnets),
                            depth_map=bool(run.depth_image))
        if mode == "patch":
            from engine.sdpixl.guidance.patch import PatchGuidance

            return PatchGuidance(inner, run.patch, run.height, run.width)
        if mode != "latent":
            raise ValueError(f"unknown guidance {mode!r}; choose latent, pixel or patch")
        return inner

    def latent(self, config: SDXLGuidanceConfig, height: int | None = None, width: int | None = None,
               optional_controlnets: bool = False, depth_map: bool = False) -> SDXLGuidance:
        """An SDXLGuidance for ``config`` (prompt and seed set) built from the kept modules, loading what is not
        kept yet. ``optional_controlnets``: ControlNets (or, without a user ``depth_map``, the depth estimator)
        missing offline are left out with a warning instead of failing."""
        models = self._models(config)
        device = resolve_device(config.device)
        dtype = resolve_dtype(config.dtype, device)
        embeddings, pooled = self._encode(models, config.prompt, config.negative_prompt, device)
        if config.tiny_vae not in models.tiny:
            models.tiny[config.tiny_vae] = load_tiny_vae(config.tiny_vae, models.family, config.model, dtype)
        tiny = models.tiny[config.tiny_vae]
        if tiny is not None:
            encoder, enc_dtype = tiny, dtype
        else:
            encoder, enc_dtype = models.pipe.vae, full_vae_dtype(dtype, device)
            if hasattr(encoder, "enable_gradient_checkpointing"):
                encoder.enable_gradient_checkpointing()
            log.warning("encoding with the full VAE in %s with gradient checkpointing (TAESD not used)",
                        str(enc_dtype).replace("torch.", ""))
        nets, specs = [], []
        for spec in config.controlnets:
            if optional_controlnets and spec.kind == "depth" and not depth_map and not available(config.depth_model):
                log.warning("running without the depth ControlNet: the depth model %s is not on this computer",
                            config.depth_model)
                continue
            source = spec.source or DEFAULT_CONTROLNETS[models.family][spec.kind]
            if source not in models.controlnets:
                try:
                    models.controlnets[source] = load_controlnet(source, dtype)
                except ModelLoadError as exc:
                    if not optional_controlnets:
                        raise
                    log.warning("running without the %s ControlNet: %s", spec.kind, str(exc).splitlines()[0])
                    continue
            nets.append(models.controlnets[source])
            specs.append(spec)
        config = replace(config, controlnets=specs)
        scheduler = models.pipe.scheduler
        return SDXLGuidance.from_components(
            config, models.pipe.unet, encoder, scheduler.alphas_cumprod, embeddings, pooled, nets,
            tiny=tiny is not None, vae_scale_factor=models.vae_scale_factor, height=height, width=width,
            prediction_type=models.prediction_type, encoder_dtype=enc_dtype)

    def sampling_pipeline(self, run: Any) -> tuple[Any, str]:
        """The run's text-to-image pipeline for sampling init candidates (``select_init.sample_candidates``'s
        ``loaded``), built on the kept modules: a text-only run loads its model once for sampling and guidance.
        Call ``after_sampling`` when done."""
        models = self._models(run.guidance)
        pipe = type(models.pipe)(**models.pipe.components)  # the same modules; setting its VAE leaves ours alone
        return pipe, models.family

    def after_sampling(self) -> None:
        """Move the text encoders back to the CPU after sampling on a GPU (they are needed again only for a new
        prompt)."""
        if self.models is None:
            return
        for name in ("text_encoder", "text_encoder_2"):
            enc = getattr(self.models.pipe, name, None)
            if enc is not None and next(enc.parameters()).device.type != "cpu":
                enc.to("cpu")
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ----------------------------------------------------------------- loading
    def _models(self, config: SDXLGuidanceConfig) -> LoadedModels:
        key = model_key(config)
        if self.models is not None and self.models.key == key:
            log.info("reusing the loaded %s", config.model)
            return self.models
        self.clear()  # one model set at a time: free the old one before loading the next
        device = resolve_device(config.device)
        dtype = resolve_dtype(config.dtype, device)
        pipe, family = load_pipeline(config.model, config.family, dtype, config.model_config)
        if config.lora:
            load_lora(pipe, config.lora, config.lora_scale)
        prediction = check_prediction_type(pipe.scheduler.config)
        vae_scale = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
        self.models = LoadedModels(key, pipe, family, prediction, vae_scale)
        self.loads += 1
        return self.models

    @torch.no_grad()
    def _encode(self, models: LoadedModels, prompt: str, negative: str,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """[uncond, cond] text encodings (and SDXL's pooled ones) of a prompt, kept for the next run."""
        hit = models.prompts.get((prompt, negative))
        if hit is not None:
            return hit
        pipe = models.pipe
        encoders = [e for e in (getattr(pipe, "text_encoder", None), getattr(pipe, "text_encoder_2", None)) if e]
        for enc in encoders:
            enc.to(device)
        try:
            if getattr(pipe, "text_encoder_2", None) is not None:
                pos, neg, pooled, neg_pooled = pipe.encode_prompt(
                    prompt, device=device, num_images_per_prompt=1, do_classifier_free_guidance=True,
                    negative_prompt=negative)
                result = (torch.cat([neg, pos]), torch.cat([neg_pooled, pooled]))
            else:
                pos, neg = pipe.encode_prompt(prompt, device, 1, True, negative_prompt=negative)
                result = (torch.cat([neg, pos]), None)
        finally:
            if device.type != "cpu":
                for enc in encoders:
                    enc.to("cpu")  # between encodings the text encoders take no GPU memory
        if len(models.prompts) >= MAX_PROMPTS:
            models.prompts.pop(next(iter(models.prompts)))
        models.prompts[(prompt, negative)] = result
        return result

    def _pixel_guidance(self, run: Any) -> Any:
        """Pixel-space guidance is built afresh (its stage-II state belongs to one run); the latent models are
        freed first so both never share the memory."""
        from engine.sdpixl.planner import resolve_and_build

        self.clear()
        latent = replace(run.guidance, prompt=run.prompt, negative_prompt=run.negative_prompt, seed=run.seed)
        return resolve_and_build(replace(run, guidance_mode="pixel"), latent)


def available(source: str, marker: str = "config.json") -> bool:
    """True when a model can be loaded now: a local folder, or a hub id when the hub is reachable or its ``marker``
    file is in the Hugging Face cache."""
    try:
        src = resolve_source(source, "model")
    except ModelLoadError:
        return False
    if src.kind != "hub":
        return True
    if not offline():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(src.location, marker), str)
    except Exception:  # malformed ids and friends: not available
        return False


_SHARED: GuidanceCache | None = None


def shared_cache() -> GuidanceCache:
    """The process-wide cache (the app's: every Start reuses what the previous one loaded)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = GuidanceCache()
    return _SHARED
