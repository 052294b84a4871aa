"""Pixel-space score distillation with DeepFloyd IF (no VAE): stage I at 64 x 64, optional stage II at 256 x 256.

Same contract as ``SDXLGuidance``: a dataclass config, a constructor that loads once and freezes everything, and
``__call__(rgb, step_fraction) -> {"loss_sds", "t", "grad_norm"}``.

- The palette render (cells) is letterboxed into the model's square input (bilinear, constant fill outside the
  design, so the fill never sends gradient to edge cells) and mapped to [-1, 1]: the diffusion variable *is* the
  image, so d loss / d x = w(t) (eps_hat - eps) exactly, with eps_hat the first three of IF's six output channels
  (the other three are its learned variance).
- The T5 text encoder runs once for [negative, prompt] and is freed; stage II reuses those embeddings (IF's
  stages share the T5 encoder).
- Stage II (cascaded pixel-space SDS): from ``stage2_from`` of the run on, SDS runs on the 256 x 256 render with
  IF-II, conditioned on the *frozen* stage-I render x_cond = g(theta_0) captured when stage II starts (upscaled and
  noised at ``stage2_noise_level`` as IF does). The condition never follows the moving parameters. It is frozen
  from the clean design (the argmax palette render, given by ``bind_design``), not from the step's Gumbel sample,
  and travels in checkpoints (``checkpoint_state``).
- The joint augmentation of the reference (one draw for the render and every spatially aligned condition) covers
  the stage-II condition too: IF-II's low-resolution input is aligned with the render like a ControlNet condition,
  so a flipped or greyed render gets a flipped or greyed condition (before the condition is noised, as IF noises
  the upscaled image it is given).
- A step does no host round trip: random draws use a generator on the device, the timestep stays a device tensor,
  and the constant tensors (noise-level labels, stage ids) are made once.
"""

from __future__ import annotations

import gc
import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from engine.sdpixl.generator import letterbox_box
from engine.sdpixl.guidance.augment import AugmentConfig, DeviceAugment
from engine.sdpixl.guidance.loading import (
    ModelLoadError,
    _fail,
    _loader_errors,
    offline,
    resolve_device,
    resolve_dtype,
    resolve_source,
)
from engine.sdpixl.guidance.sds import sample_timestep_t, sds_grad, sds_loss, sds_weight

log = logging.getLogger(__name__)

DEFAULT_IF_MODELS = {"I": "DeepFloyd/IF-I-XL-v1.0", "II": "DeepFloyd/IF-II-L-v1.0"}


@dataclass
class PixelGuidanceConfig:
    """Pixel-space SDS settings. ``model`` / ``stage2_model``: hub id or local diffusers folder of IF stage I / II."""

    model: str = DEFAULT_IF_MODELS["I"]
    stage2: bool = False  # refine at 256 x 256 with IF stage II from ``stage2_from`` of the run on
    stage2_model: str = DEFAULT_IF_MODELS["II"]
    stage2_from: float = 0.5  # run fraction where stage II takes over (the stage-I render is frozen then)
    stage2_noise_level: int = 250  # IF's default augmentation of the low-resolution condition
    device: str = "auto"
    dtype: str = "auto"  # auto: fp16 on CUDA, fp32 elsewhere
    variant: str | None = "auto"  # weights variant; auto: "fp16" for half precision from the hub
    prompt: str = ""
    negative_prompt: str = ""
    guidance_scale: float = 20.0  # diffusers form; pixel-space SDS with IF is usually run at 20
    t_min: int = 20
    t_max_start: float = 0.98
    t_max_end: float = 0.8
    t_anneal_until: float = 0.5
    weighting: str = "sds"
    fill: float = 1.0  # letterbox fill (sRGB 0..1) around non-square designs
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(p_perspective=0.0))
    seed: int | None = None


def letterbox_render(rgb: torch.Tensor, size: int, fill: float = 1.0) -> torch.Tensor:
    """B x 3 x h x w render in [0, 1] -> B x 3 x size x size: bilinear at the exact aspect, ``fill`` around it.

    The fill is a constant, so the padding carries no gradient back to the design's edge cells.
    """
    top, left, ch, cw = letterbox_box(rgb.shape[-2], rgb.shape[-1], (size, size))
    x = rgb if (ch, cw) == tuple(rgb.shape[-2:]) else F.interpolate(rgb, size=(ch, cw), mode="bilinear",
                                                                     align_corners=False)
    pad = (left, size - cw - left, top, size - ch - top)
    return F.pad(x, pad, mode="constant", value=fill) if any(pad) else x


def _variant(cfg: PixelGuidanceConfig, dtype: torch.dtype, source_kind: str) -> str | None:
    if cfg.variant != "auto":
        return cfg.variant
    return "fp16" if dtype == torch.float16 and source_kind == "hub" else None


def load_if_pipeline(source: str, stage: str, dtype: torch.dtype, variant: str | None = None,
                     with_text_encoder: bool = True) -> Any:
    """Load an IF stage I (``IFPipeline``) or II (``IFSuperResolutionPipeline``) from a hub id or a diffusers
    folder, without safety checker and watermarker (never used here); ``ModelLoadError`` says what to do."""
    from diffusers import IFPipeline, IFSuperResolutionPipeline

    src = resolve_source(source, "model")
    if src.kind == "file":
        raise ModelLoadError(f"DeepFloyd IF model {src.location}: give its diffusers folder or hub id, not a file")
    cls = IFPipeline if stage == "I" else IFSuperResolutionPipeline
    want = "stage I (text to 64x64)" if stage == "I" else "stage II (super-resolution)"
    index = Path(src.location) / "model_index.json"
    if src.kind == "folder" and index.is_file():
        name = json.loads(index.read_text(encoding="utf-8")).get("_class_name", "")
        if not name.startswith("IF") or (("SuperResolution" in name) != (stage == "II")):
            raise ModelLoadError(f"{src.location} is not a DeepFloyd IF {want} pipeline ({name or 'unknown'}); "
                                 f"point the option at an IF-{stage} model, e.g. {DEFAULT_IF_MODELS[stage]}")
    kwargs: dict[str, Any] = {"torch_dtype": dtype, "safety_checker": None, "feature_extractor": None,
                              "watermarker": None, "requires_safety_checker": False}
    if not with_text_encoder:
        kwargs.update(text_encoder=None, tokenizer=None)
    if variant:
        kwargs["variant"] = variant
    try:
        pipe = cls.from_pretrained(src.location, local_files_only=src.kind == "folder" or offline(), **kwargs)
    except ImportError as exc:
        raise ModelLoadError(f"loading {src.describe()} needs a missing package: {exc}") from None
    except _loader_errors() as exc:
        err = _fail(src, "model", exc)  # the shared wording; name the option that points at this model
        option = "--pixel-model" if stage == "I" else "--stage2-model"
        err.args = (str(err).replace("--model", option),) + tuple(err.args[1:])
        raise err from None
    unet_in = int(pipe.unet.config.in_channels)
    if (stage == "I") != (unet_in == 3):
        raise ModelLoadError(f"{src.location} is not a DeepFloyd IF {want} model (UNet takes {unet_in} channels)")
    log.info("loaded IF stage %s from %s (%s)", stage, src.describe(), dtype)
    return pipe


@dataclass
class _Stage:
    """One frozen IF UNet and its noise schedule."""

    unet: Any
    alphas_cumprod: torch.Tensor
    num_train_timesteps: int
    resolution: int


class PixelGuidance:
    """SDS guidance in pixel space from DeepFloyd IF (stage I, optionally stage II on a frozen condition)."""

    def __init__(self, config: PixelGuidanceConfig, height: int | None = None, width: int | None = None) -> None:
        self._init_runtime(config)
        pipe = load_if_pipeline(config.model, "I", self.dtype, _variant(config, self.dtype,
                                                                         resolve_source(config.model).kind))
        self._encode_prompts(pipe, config.prompt, config.negative_prompt)
        stage1 = self._stage(pipe.unet, pipe.scheduler)
        del pipe
        stage2 = None
        image_alphas = None
        if config.stage2:
            pipe2 = load_if_pipeline(config.stage2_model, "II", self.dtype,
                                     _variant(config, self.dtype, resolve_source(config.stage2_model).kind),
                                     with_text_encoder=False)
            stage2 = self._stage(pipe2.unet, pipe2.scheduler)
            image_alphas = pipe2.image_noising_scheduler.alphas_cumprod
            del pipe2
        gc.collect()
        self._setup(stage1, stage2, image_alphas, height, width)

    @classmethod
    def from_components(cls, config: PixelGuidanceConfig, unet: Any, alphas_cumprod: torch.Tensor,
                        embeddings: torch.Tensor, unet2: Any = None, alphas_cumprod2: torch.Tensor | None = None,
                        image_alphas_cumprod: torch.Tensor | None = None, height: int | None = None,
                        width: int | None = None) -> "PixelGuidance":
        """Build from ready modules (no loading); ``embeddings`` are the [uncond, cond] T5 encodings."""
        self = cls.__new__(cls)
        self._init_runtime(config)
        self.embeddings = embeddings.to(self.device, self.dtype)
        stage2 = None
        if unet2 is not None:
            stage2 = _Stage(unet2.to(self.dtype), alphas_cumprod2 if alphas_cumprod2 is not None else alphas_cumprod,
                            len(alphas_cumprod), int(unet2.config.sample_size))
        stage1 = _Stage(unet.to(self.dtype), alphas_cumprod, len(alphas_cumprod), int(unet.config.sample_size))
        self._setup(stage1, stage2, image_alphas_cumprod, height, width)
        return self

    def _init_runtime(self, config: PixelGuidanceConfig) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config.dtype, self.device)
        seed = config.seed if config.seed is not None else random.randrange(2**31)
        # every random number of a step (augmentation, timestep, noise) is drawn on the device: no host traffic
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    @staticmethod
    def _stage(unet: Any, scheduler: Any) -> _Stage:
        return _Stage(unet, scheduler.alphas_cumprod, int(scheduler.config.num_train_timesteps),
                      int(unet.config.sample_size))

    def _setup(self, stage1: _Stage, stage2: _Stage | None, image_alphas: torch.Tensor | None,
               height: int | None, width: int | None) -> None:
        for stage in (stage1, stage2):
            if stage is not None:
                stage.unet = stage.unet.to(self.device).requires_grad_(False).eval()
                stage.alphas_cumprod = stage.alphas_cumprod.to(self.device, torch.float32)
        self.stage1, self.stage2 = stage1, stage2
        if stage2 is not None and image_alphas is None:
            image_alphas = stage2.alphas_cumprod
        self.image_alphas_cumprod = None if image_alphas is None else image_alphas.to(self.device, torch.float32)
        self.resolution = stage1.resolution
        self.render_hw = (stage1.resolution, stage1.resolution)
        self.condition: torch.Tensor | None = None  # the frozen stage-I render (B x 3 x 64 x 64, [-1, 1])
        self._condition_up: torch.Tensor | None = None  # the same, upscaled to stage II's size (made once)
        self.last_stage2_input: torch.Tensor | None = None
        self.target_hw = (height, width) if height and width else None
        self._design: Callable[[], torch.Tensor] | None = None
        self.augments = {s.resolution: DeviceAugment(self.config.augment, s.resolution, s.resolution, self.device)
                         for s in (stage1, stage2) if s is not None}
        level = int(self.config.stage2_noise_level)
        self._noise_labels = torch.tensor([level], device=self.device)
        self._stage_ids = {1: torch.tensor(1), 2: torch.tensor(2)}
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    @torch.no_grad()
    def _encode_prompts(self, pipe: Any, prompt: str, negative: str) -> None:
        """T5-encode [negative, prompt] once, then free the text encoder and tokenizer."""
        pipe.text_encoder.to(self.device)
        pos, neg = pipe.encode_prompt(prompt, do_classifier_free_guidance=True, num_images_per_prompt=1,
                                      device=self.device, negative_prompt=negative, clean_caption=False)
        self.embeddings = torch.cat([neg, pos]).to(self.device, self.dtype)  # [uncond, cond]
        pipe.text_encoder = None
        pipe.tokenizer = None

    def set_target_size(self, height: int, width: int) -> tuple[int, int]:
        """Remember the design size (the model input stays the native square; non-square designs are
        letterboxed)."""
        self.target_hw = (height, width)
        return self.render_hw

    # ----------------------------------------------------------------- the step
    def stage_at(self, step_fraction: float) -> int:
        """1 or 2: which stage guides at this point of the run."""
        if self.stage2 is not None and step_fraction >= self.config.stage2_from:
            return 2
        return 1

    def bind_design(self, render: Callable[[], torch.Tensor]) -> None:
        """Where to read the clean design when stage II starts: ``render()`` returns the current argmax palette
        render (H x W x 3 in [0, 1]); without it the condition is frozen from the step's own render. Binding
        starts a new run: a condition frozen by an earlier run is dropped (a resumed run restores its own)."""
        self._design = render
        self.set_condition(None)

    def freeze_condition(self, rgb: torch.Tensor) -> torch.Tensor:
        """Freeze x_cond = g(theta_0): the stage-I-size render of ``rgb`` (B x 3 x h x w, or h x w x 3, in [0, 1]),
        detached."""
        rgb = rgb.detach().to(self.device, torch.float32)
        if rgb.ndim == 3:
            rgb = rgb.permute(2, 0, 1)[None]
        small = letterbox_render(rgb, self.stage1.resolution, self.config.fill)
        self.set_condition(small * 2.0 - 1.0)
        log.info("stage II starts: condition frozen from the current design")
        return self.condition

    def set_condition(self, condition: torch.Tensor | None) -> None:
        """Set (or clear) the frozen stage-I condition (B x 3 x 64 x 64 in [-1, 1]) and its stage-II upscale."""
        if condition is None:
            self.condition = self._condition_up = None
            return
        self.condition = condition.detach().to(self.device, torch.float32).clone()
        if self.stage2 is not None:
            size = self.stage2.resolution
            self._condition_up = F.interpolate(self.condition, size=(size, size), mode="bilinear", align_corners=True)

    def checkpoint_state(self) -> dict[str, Any]:
        """What a checkpoint must keep to resume the run exactly: the frozen stage-II condition."""
        return {"stage2_condition": None if self.condition is None else self.condition.cpu()}

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        """Restore ``checkpoint_state``."""
        self.set_condition(state.get("stage2_condition"))

    def _eps(self, stage: _Stage, x_t: torch.Tensor, t: torch.Tensor,
             extra: torch.Tensor | None = None, class_labels: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """(eps_uncond, eps_cond): both CFG branches in one batch, first 3 of IF's 6 output channels."""
        b = x_t.shape[0]
        sample = x_t if extra is None else torch.cat([x_t, extra], dim=1)
        sample = sample.repeat(2, 1, 1, 1).to(self.dtype)
        emb = self.embeddings.repeat_interleave(b, dim=0)
        kwargs: dict[str, Any] = {"encoder_hidden_states": emb}
        if class_labels is not None:
            kwargs["class_labels"] = class_labels.repeat(2 * b)
        out = stage.unet(sample, t, return_dict=False, **kwargs)[0][:, :3].float()
        return out[:b], out[b:]

    def __call__(self, rgb: torch.Tensor, step_fraction: float,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """SDS on a B x 3 x H x W render in [0, 1]; returns ``loss_sds`` (differentiable), ``t``, ``grad_norm``
        (and ``stage``), all device tensors (reading them forces a sync)."""
        g = generator or self.generator
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise ValueError(f"guidance expects B x 3 x H x W images, got {tuple(rgb.shape)}")
        rgb = rgb.to(self.device, torch.float32)
        stage_no = self.stage_at(step_fraction)
        if stage_no == 2 and self.condition is None:
            self.freeze_condition(self._design() if self._design is not None else rgb)
        stage = self.stage1 if stage_no == 1 else self.stage2
        assert stage is not None
        x = letterbox_render(rgb, stage.resolution, self.config.fill)
        conditions = [] if stage_no == 1 else [self._condition_up.expand(x.shape[0], -1, -1, -1) * 0.5 + 0.5]
        x, conditions = self.augments[stage.resolution](x, conditions, g)  # one draw for render and condition
        x = x * 2.0 - 1.0
        t = sample_timestep_t(step_fraction, stage.num_train_timesteps, self.config.t_min, self.config.t_max_start,
                              self.config.t_max_end, self.config.t_anneal_until, g, self.device)
        noise = torch.randn(x.shape, generator=g, device=self.device, dtype=torch.float32)
        extra, labels = None, None
        if stage_no == 2:
            extra, labels = self._stage2_condition(conditions[0] * 2.0 - 1.0, g)
        alpha_bar = stage.alphas_cumprod[t].reshape(())
        with torch.no_grad():
            x_t = alpha_bar.sqrt() * x.detach() + (1.0 - alpha_bar).sqrt() * noise
            eps_u, eps_c = self._eps(stage, x_t, t, extra, labels)
            grad = sds_grad(eps_u, eps_c, noise, sds_weight(alpha_bar, self.config.weighting),
                            self.config.guidance_scale)
        # t and grad_norm stay on the device (a loop that accumulates on the device reads them without a sync)
        return {"loss_sds": sds_loss(x, grad), "t": t.reshape(()), "grad_norm": grad.norm().detach(),
                "stage": self._stage_ids[stage_no]}

    def _stage2_condition(self, up: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """IF-II's second input: the (augmented) upscaled frozen condition in [-1, 1], noised at the noise level
        as IF does, and the noise-level class labels."""
        assert self.image_alphas_cumprod is not None
        a = self.image_alphas_cumprod[int(self.config.stage2_noise_level)]
        noise = torch.randn(up.shape, generator=g, device=self.device, dtype=torch.float32)
        noisy = a.sqrt() * up + (1.0 - a).sqrt() * noise
        self.last_stage2_input = noisy
        return noisy, self._noise_labels
