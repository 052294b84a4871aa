"""Score-distillation guidance from SDXL (or SD 1.5-family) with optional ControlNets and LoRA.

threestudio-style: a dataclass config, a constructor that loads once and freezes everything, and a
``__call__(rgb, step_fraction)`` that returns ``{"loss_sds", "t", "grad_norm"}``; the optimiser weights
each ``loss_*`` by its own config weight. Runs on CPU (tests, tiny models) and CUDA alike.
"""

from __future__ import annotations

import gc
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from engine.sdpixl.generator import letterbox_array, render_size, upsample_for_model
from engine.sdpixl.guidance.augment import AugmentConfig, DeviceAugment
from engine.sdpixl.guidance.controls import canny, estimate_depth, normalise_depth, to_condition, to_gray
from engine.sdpixl.guidance.loading import (
    DEFAULT_CONTROLNETS,
    DEFAULT_DEPTH_MODEL,
    DEFAULT_MODELS,
    ModelLoadError,
    load_controlnet,
    load_depth_model,
    load_lora,
    load_pipeline,
    load_tiny_vae,
    resolve_device,
    resolve_dtype,
)
from engine.sdpixl.guidance.sds import eps_from_v, sample_timestep_t, sds_grad, sds_loss, sds_weight
from engine.sdpixl.latent_profile import MAX_ASPECT

log = logging.getLogger(__name__)

CONTROL_KINDS = ("canny", "depth")
PREDICTION_TYPES = ("epsilon", "v_prediction")


@dataclass
class ControlNetSpec:
    """One ControlNet: its kind (``canny`` or ``depth``), source (None = the family's default) and scale."""

    kind: str
    source: str | None = None
    scale: float = 0.15

    def __post_init__(self) -> None:
        if self.kind not in CONTROL_KINDS:
            raise ValueError(f"unknown ControlNet kind {self.kind!r}; choose {' or '.join(CONTROL_KINDS)}")


@dataclass
class SDXLGuidanceConfig:
    """Everything the guidance needs; defaults are the reference's values."""

    model: str = DEFAULT_MODELS["sdxl"]
    family: str = "auto"  # "auto", "sdxl" or "sd15"
    model_config: str | None = None  # diffusers folder / hub id matching a single-file checkpoint
    tiny_vae: str = "auto"  # "auto" (sub-folder or cached TAESD, else pipeline VAE), "none", or a source
    device: str = "auto"
    dtype: str = "auto"  # auto: fp16 on CUDA, fp32 on CPU
    prompt: str = ""
    negative_prompt: str = ""
    # The reference writes grad = w[(e_c - e) + 40 (e_c - e_u)]; in diffusers' form e_u + s (e_c - e_u) that is s = 41.
    guidance_scale: float = 41.0
    t_min: int = 20
    t_max_start: float = 0.98
    t_max_end: float = 0.8
    t_anneal_until: float = 0.5  # t_max reaches t_max_end at this fraction of the run
    weighting: str = "sds"  # w(t) = 1 - alpha_bar_t
    controlnets: list[ControlNetSpec] = field(default_factory=list)
    depth_model: str = DEFAULT_DEPTH_MODEL
    canny_low: float = 100.0
    canny_high: float = 200.0
    lora: str | None = None
    lora_scale: float = 1.0
    resolution: int | None = None  # None: the UNet's native size (1024 SDXL, 512 SD 1.5)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    batch_cfg: bool = True  # both CFG branches in one UNet batch
    reference_third_branch: bool = False  # mimic the reference's unused third UNet branch (benchmarks only)
    channels_last: bool = False
    compile: bool = False  # torch.compile the UNet, ControlNets and encoder (opt-in; first steps compile)
    compile_mode: str = "default"  # or "reduce-overhead" (CUDA graphs for the no-grad UNet/ControlNets)
    tf32: bool = False  # allow TF32 matmuls/convolutions on CUDA for fp32 weights (the reference preset)
    seed: int | None = None


class SDXLGuidance:
    """SDS guidance for SDXL and SD 1.5-family pipelines (the family is detected from the model)."""

    def __init__(self, config: SDXLGuidanceConfig, height: int | None = None, width: int | None = None) -> None:
        self._init_runtime(config)
        pipe, self.family = load_pipeline(config.model, config.family, self.dtype, config.model_config)
        if config.lora:
            load_lora(pipe, config.lora, config.lora_scale)
        self._encode_prompts(pipe, config.prompt, config.negative_prompt)

        vae_scale_factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
        tiny = load_tiny_vae(config.tiny_vae, self.family, config.model, self.dtype)
        if tiny is not None:
            encoder, enc_dtype = tiny, self.dtype
        else:
            encoder, enc_dtype = pipe.vae, full_vae_dtype(self.dtype, self.device)
            if hasattr(encoder, "enable_gradient_checkpointing"):
                encoder.enable_gradient_checkpointing()
            log.warning("encoding with the full VAE in %s with gradient checkpointing (TAESD%s not used)",
                        str(enc_dtype).replace("torch.", ""), "XL" if self.family == "sdxl" else "")
        self.prediction_type = check_prediction_type(pipe.scheduler.config)
        controlnets = []
        for spec in config.controlnets:
            source = spec.source or DEFAULT_CONTROLNETS[self.family][spec.kind]
            controlnets.append(load_controlnet(source, self.dtype))
        unet, scheduler = pipe.unet, pipe.scheduler
        del pipe
        gc.collect()
        self._setup(unet, encoder, tiny is not None, enc_dtype, controlnets, scheduler.alphas_cumprod,
                    int(scheduler.config.num_train_timesteps), vae_scale_factor, height, width)

    @classmethod
    def from_components(cls, config: SDXLGuidanceConfig, unet: Any, encoder: Any, alphas_cumprod: torch.Tensor,
                        embeddings: torch.Tensor, pooled: torch.Tensor | None = None, controlnets: list | None = None,
                        tiny: bool = True, vae_scale_factor: int = 8, height: int | None = None,
                        width: int | None = None, prediction_type: str = "epsilon",
                        encoder_dtype: torch.dtype | None = None) -> "SDXLGuidance":
        """Build from ready modules (no loading): ``embeddings`` / ``pooled`` are the [uncond, cond] text
        encodings; ``encoder_dtype`` defaults to the run's dtype (a full VAE: see ``full_vae_dtype``). For
        benchmarks, tests and callers that keep models in memory between runs."""
        self = cls.__new__(cls)
        self._init_runtime(config)
        self.family = "sd15" if pooled is None else "sdxl"
        self.prediction_type = check_prediction_type({"prediction_type": prediction_type})
        self.embeddings = embeddings.to(self.device, self.dtype)
        self.pooled = None if pooled is None else pooled.to(self.device, self.dtype)
        nets = [_as_dtype(net, self.dtype) for net in controlnets or []]
        self._setup(_as_dtype(unet, self.dtype), encoder, tiny, encoder_dtype or self.dtype, nets, alphas_cumprod,
                    len(alphas_cumprod), vae_scale_factor, height, width)
        return self

    def _init_runtime(self, config: SDXLGuidanceConfig) -> None:
        """Config, device, dtype and the seeded noise generator (shared by both constructors)."""
        self.config = config
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config.dtype, self.device)
        seed = config.seed if config.seed is not None else random.randrange(2**31)
        # Every random number of a step (augmentation, timestep, noise) is drawn on the device: no host traffic.
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # shapes are fixed for a whole run
            if config.tf32:
                torch.backends.cuda.matmul.allow_tf32 = True
                torch.backends.cudnn.allow_tf32 = True

    def _setup(self, unet: Any, encoder: Any, tiny: bool, encoder_dtype: torch.dtype, controlnets: list,
               alphas_cumprod: torch.Tensor, num_train_timesteps: int, vae_scale_factor: int,
               height: int | None, width: int | None) -> None:
        """Move the frozen modules to the device, apply the speed options, pick the render size."""
        config = self.config
        self.unet = unet.to(self.device).requires_grad_(False).eval()
        self.encoder = _as_dtype(encoder, encoder_dtype).to(self.device).requires_grad_(False).eval()
        self.encoder_dtype = encoder_dtype
        self.tiny = tiny
        self.controlnets = [net.to(self.device).requires_grad_(False).eval() for net in controlnets]
        self.alphas_cumprod = alphas_cumprod.to(self.device, torch.float32)
        self.num_train_timesteps = num_train_timesteps
        self.vae_scale_factor = vae_scale_factor
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        if config.channels_last:
            for module in [self.unet, self.encoder, *self.controlnets]:
                module.to(memory_format=torch.channels_last)
        self._unet_call = self.unet
        self._controlnet_calls = list(self.controlnets)
        if config.compile:
            self._compile()
        down = len(self.unet.config.block_out_channels) - 1
        self.size_multiple = self.vae_scale_factor * 2**down
        self.resolution = config.resolution or int(self.unet.config.sample_size) * self.vae_scale_factor
        self.max_aspect = MAX_ASPECT.get(self.family)
        self.t_max_cap = 1.0  # fraction of T capping the timestep range (patch-wise crop steps lower it)
        self.conditions: list[torch.Tensor] = []
        self.set_target_size(height or self.resolution, width or self.resolution)

    def _compile(self) -> None:
        """torch.compile the UNet and ControlNets (no-grad; ``compile_mode`` "reduce-overhead" = CUDA graphs)
        and the encoder's convolution stack (it runs forward and backward, so never with CUDA graphs)."""
        mode = self.config.compile_mode
        self._unet_call = torch.compile(self.unet, mode=mode, dynamic=False)
        self._controlnet_calls = [torch.compile(net, mode=mode, dynamic=False) for net in self.controlnets]
        enc_mode = "default" if mode == "reduce-overhead" else mode
        if hasattr(self.encoder, "encoder"):
            self.encoder.encoder = torch.compile(self.encoder.encoder, mode=enc_mode, dynamic=False)

    # ----------------------------------------------------------------- setup
    @torch.no_grad()
    def _encode_prompts(self, pipe: Any, prompt: str, negative: str) -> None:
        """Encode (prompt, negative) once, then free the text encoders."""
        for name in ("text_encoder", "text_encoder_2"):
            enc = getattr(pipe, name, None)
            if enc is not None:
                enc.to(self.device)
        if hasattr(pipe, "text_encoder_2"):
            pos, neg, pooled, neg_pooled = pipe.encode_prompt(
                prompt, device=self.device, num_images_per_prompt=1, do_classifier_free_guidance=True,
                negative_prompt=negative)
            self.pooled = torch.cat([neg_pooled, pooled]).to(self.device, self.dtype)
            self.text_encoder_projection_dim = int(pipe.text_encoder_2.config.projection_dim)
        else:
            pos, neg = pipe.encode_prompt(prompt, self.device, 1, True, negative_prompt=negative)
            self.pooled = None
        self.embeddings = torch.cat([neg, pos]).to(self.device, self.dtype)  # [uncond, cond]
        for name in ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"):
            if hasattr(pipe, name):
                setattr(pipe, name, None)

    def set_target_size(self, height: int, width: int) -> tuple[int, int]:
        """Choose the model resolution for an H x W pattern (same aspect, clamped to the family's trained range,
        about resolution^2 pixels) and precompute what depends on it: SDXL time ids and the augmentation grid."""
        self.render_hw = render_size(height, width, self.resolution, self.size_multiple, self.max_aspect)
        h, w = self.render_hw
        self.time_ids = torch.tensor([[h, w, 0, 0, h, w]], device=self.device, dtype=self.dtype)
        self.augment = DeviceAugment(self.config.augment, h, w, self.device)
        return self.render_hw

    def prepare_conditions(self, image: np.ndarray | None, depth_image: np.ndarray | None = None) -> None:
        """Compute the ControlNet condition images at the render size from the input image (H x W x 3 uint8).

        Canny edges come from the image; depth from ``depth_image`` when given, else from the depth model.
        """
        self.conditions = []
        if not self.controlnets:
            return
        if image is None:
            raise ValueError("ControlNet guidance needs an input image (or run without --controlnet)")
        h, w = self.render_hw
        big = letterbox_array(image, (h, w))
        upscale = min(h / image.shape[0], w / image.shape[1])  # > 1: a small picture enlarged to the render
        depth_model = None
        for spec in self.config.controlnets:
            if spec.kind == "canny":
                plane = canny(big, self.config.canny_low, self.config.canny_high, upscale=upscale)
            elif depth_image is not None:
                plane = normalise_depth(to_gray(letterbox_array(depth_image, (h, w))))
            else:
                if depth_model is None:
                    depth_model = load_depth_model(self.config.depth_model)
                    depth_model[0].to(self.device)
                plane = estimate_depth(big, depth_model[0], depth_model[1], (h, w))
            self.conditions.append(to_condition(plane).to(self.device))
        del depth_model
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # ----------------------------------------------------------------- the step
    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        """B x 3 x H x W in [0, 1] -> scaled latents (gradients flow through the encoder)."""
        x = (rgb * 2.0 - 1.0).to(self.encoder_dtype)
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.tiny:
            z = self.encoder.encode(x).latents
            return z * float(self.encoder.config.scaling_factor)
        z = self.encoder.encode(x).latent_dist.mean
        shift = getattr(self.encoder.config, "shift_factor", None) or 0.0
        return (z - shift) * float(self.encoder.config.scaling_factor)

    def _branch_inputs(self, branches: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Text embeddings (and SDXL pooled embeddings) for a string of branches: "u" uncond, "c" cond."""
        # slices, not a list index: indexing with a Python list copies the list to the device every step
        def pick(t: torch.Tensor) -> torch.Tensor:
            rows = [t[:1] if b == "u" else t[1:2] for b in branches]
            return t if branches == "uc" else torch.cat(rows)

        return pick(self.embeddings), None if self.pooled is None else pick(self.pooled)

    def _predict(self, z_t: torch.Tensor, t: torch.Tensor, conditions: list[torch.Tensor],
                 branches: str) -> torch.Tensor:
        """One UNet (+ControlNets) pass over one copy of z_t per branch; returns all noise predictions."""
        b, k = z_t.shape[0], len(branches)
        sample = z_t.repeat(k, 1, 1, 1)
        if self.config.channels_last:
            sample = sample.contiguous(memory_format=torch.channels_last)
        emb, pooled = self._branch_inputs(branches)
        kwargs: dict[str, Any] = {"encoder_hidden_states": emb.repeat_interleave(b, dim=0)}
        if pooled is not None:
            kwargs["added_cond_kwargs"] = {"text_embeds": pooled.repeat_interleave(b, dim=0),
                                           "time_ids": self.time_ids.expand(k * b, -1)}
        down_res, mid_res = None, None
        for net, spec, cond in zip(self._controlnet_calls, self.config.controlnets, conditions):
            # With one image the condition is passed once: its encoder runs on 1 copy and broadcasts over the
            # CFG branches instead of running on k identical copies.
            cond = cond.to(self.dtype) if b == 1 else cond.repeat(k, 1, 1, 1).to(self.dtype)
            d, m = net(sample, t, controlnet_cond=cond, conditioning_scale=spec.scale, return_dict=False,
                       **kwargs)
            down_res = list(d) if down_res is None else [a + c for a, c in zip(down_res, d)]
            mid_res = m if mid_res is None else mid_res + m
        if down_res is not None:
            kwargs["down_block_additional_residuals"] = down_res
            kwargs["mid_block_additional_residual"] = mid_res
        out = self._unet_call(sample, t, return_dict=False, **kwargs)[0]
        if self.prediction_type == "v_prediction":
            alpha_bar = self.alphas_cumprod[t].reshape(-1, 1, 1, 1).to(out.dtype)
            out = eps_from_v(out, sample, alpha_bar)
        return out

    def noise_predictions(self, z_t: torch.Tensor, t: torch.Tensor,
                          conditions: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(eps_uncond, eps_cond) for noisy latents z_t at timestep t."""
        b = z_t.shape[0]
        if self.config.reference_third_branch:  # the reference's batch: [uncond, cond, unused cond]
            eps = self._predict(z_t, t, conditions, "ucc")
            return eps[:b], eps[b: 2 * b]
        if self.config.batch_cfg:
            eps = self._predict(z_t, t, conditions, "uc")
            return eps[:b], eps[b:]
        return self._predict(z_t, t, conditions, "u"), self._predict(z_t, t, conditions, "c")

    def __call__(self, rgb: torch.Tensor, step_fraction: float,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """SDS on a B x 3 x H x W render in [0, 1]; returns ``loss_sds`` (differentiable), ``t``, ``grad_norm``.

        Everything stays on the device: random draws use a generator of the device, ``t`` and ``grad_norm`` are
        device tensors (read them only when needed: reading forces a sync).
        """
        g = generator or self.generator
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise ValueError(f"guidance expects B x 3 x H x W images, got {tuple(rgb.shape)}")
        rgb = rgb.to(self.device, torch.float32)
        if tuple(rgb.shape[-2:]) != self.render_hw:
            rgb = upsample_for_model(rgb, self.render_hw)
        rgb, conds = self.augment(rgb, list(self.conditions), g)
        z = self.encode(rgb)
        t = sample_timestep_t(step_fraction, self.num_train_timesteps, self.config.t_min, self.config.t_max_start,
                              self.config.t_max_end, self.config.t_anneal_until, g, self.device, self.t_max_cap)
        noise = torch.randn(z.shape, generator=g, device=self.device, dtype=torch.float32)
        alpha_bar = self.alphas_cumprod[t].reshape(())
        with torch.no_grad():
            z_t = alpha_bar.sqrt() * z.detach().float() + (1.0 - alpha_bar).sqrt() * noise
            eps_u, eps_c = self.noise_predictions(z_t.to(self.dtype), t, conds)
            grad = sds_grad(eps_u.float(), eps_c.float(), noise, sds_weight(alpha_bar, self.config.weighting),
                            self.config.guidance_scale)
        return {"loss_sds": sds_loss(z, grad), "t": t.reshape(()), "grad_norm": grad.norm()}


def full_vae_dtype(dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """The full VAE's encoding dtype: bf16 on CUDA (fp16 overflows in the SDXL VAE, fp32 would take ~14 GiB of
    activations), else the run's dtype (fp32 on the CPU)."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return dtype


def check_prediction_type(scheduler_config: Any) -> str:
    """The model's prediction type (eps or v; v is converted to eps in the step), or a clear ModelLoadError."""
    get = scheduler_config.get if hasattr(scheduler_config, "get") else lambda k, d=None: getattr(
        scheduler_config, k, d)
    kind = get("prediction_type", "epsilon") or "epsilon"
    if kind not in PREDICTION_TYPES:
        raise ModelLoadError(f"the model predicts {kind!r}; score distillation here needs an epsilon- or "
                             f"v-prediction model (e.g. SDXL base 1.0)")
    return kind


def _as_dtype(module: Any, dtype: torch.dtype) -> Any:
    """Cast a module's weights to ``dtype`` only when they differ (avoids needless copies and warnings)."""
    if next(module.parameters()).dtype != dtype:
        module.to(dtype=dtype)
    return module
