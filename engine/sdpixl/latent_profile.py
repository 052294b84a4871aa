"""What the planner needs to know about the latent model a run will load, read from the model's own config files
(no weights): its family, native render size, size multiple, and the compute cost of its UNet, ControlNets and
encoder.

``latent_profile(model, model_config=None, resolution=None)`` reads ``unet/config.json`` and ``vae/config.json`` of a
diffusers folder (or of a hub id already in the Hugging Face cache, or of ``model_config`` for a single-file
checkpoint). Known architectures (SDXL base, SD 1.5) take their figures from ``engine.sdpixl.costs.MODEL_COSTS``;
any other UNet is counted on the meta device once (``engine.sdpixl.costs``). When no config can be read offline the
profile is SDXL base's, and ``assumed`` says so.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.sdpixl.costs import ARCHS, MODEL_COSTS, ModelCost

log = logging.getLogger(__name__)

DEFAULT_VAE_SCALE = 8
# Widest render aspect per family: SDXL's training buckets run from 512x2048 to 2048x512; SD 1.5 trained square.
MAX_ASPECT = {"sdxl": 4.0, "sd15": 2.0}
_KNOWN = {"sdxl-unet": ("sdxl", "sdxl-controlnet", "sdxl-controlnet-mid"),
          "sd15-unet": ("sd15", "sd15-controlnet", "sd15-controlnet")}


@dataclass(frozen=True)
class LatentProfile:
    """The latent model as the planner sees it. Costs are per image at ``resolution``^2 (batch 1, fp32 bytes)."""

    name: str  # what was read: the model id or folder name, or "SDXL base (assumed)"
    family: str  # "sdxl" or "sd15"
    resolution: int  # native render side in px: UNet sample_size x VAE scale factor
    size_multiple: int  # render sides are multiples of this
    unet: ModelCost
    controlnet: ModelCost  # a full ControlNet of this UNet
    controlnet_mid: ModelCost  # the "-mid" ControlNet (SDXL); the full one elsewhere
    encoder: ModelCost  # the tiny autoencoder's encoder at ``resolution``, with the bytes saved for backward
    assumed: bool = False  # True when no config could be read and SDXL base is assumed

    @property
    def max_aspect(self) -> float:
        return MAX_ASPECT.get(self.family, 2.0)


def _sdxl_default() -> LatentProfile:
    return LatentProfile("SDXL base", "sdxl", 1024, 64, MODEL_COSTS["sdxl-unet"], MODEL_COSTS["sdxl-controlnet"],
                         MODEL_COSTS["sdxl-controlnet-mid"], MODEL_COSTS["taesdxl-encoder"])


SDXL_DEFAULT = _sdxl_default()


def _sd15_default() -> LatentProfile:
    return LatentProfile("SD 1.5", "sd15", 512, 64, MODEL_COSTS["sd15-unet"], MODEL_COSTS["sd15-controlnet"],
                         MODEL_COSTS["sd15-controlnet"], _encoder(None, 512))


def _single_file_family(model: str) -> str | None:
    """The family of a single-file checkpoint from its tensor names (no weights read), or None."""
    if not Path(str(model)).is_file():
        return None
    try:
        from engine.sdpixl.guidance.loading import detect_family, resolve_source

        return detect_family(resolve_source(str(model)))
    except Exception:  # unreadable file: the run itself will say what is wrong
        return None


def _read_json(path: Path | str | None) -> dict | None:
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _config_file(source: str, name: str) -> str | None:
    """``name`` (e.g. "unet/config.json") of a diffusers folder, or of a hub id in the local cache, or None."""
    path = Path(str(source)).expanduser()
    if path.is_dir():
        target = path / name
        return str(target) if target.is_file() else None
    if path.suffix.lower() in (".safetensors", ".ckpt", ".bin", ".pt", ".pth") or path.exists():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(str(source), name)
    except Exception:  # malformed ids and friends: nothing cached
        return None
    return hit if isinstance(hit, str) else None


def _same(a: Any, b: Any) -> bool:
    def norm(v: Any) -> Any:
        return list(v) if isinstance(v, (list, tuple)) else v

    return norm(a) == norm(b)


def _known_arch(unet_config: dict) -> str | None:
    for name in _KNOWN:
        arch = ARCHS.get(name)
        if arch and all(_same(unet_config.get(k), v) for k, v in arch.items()):
            return name
    return None


def unet_init_args(config: dict) -> dict:
    """The keys of a saved UNet config that ``UNet2DConditionModel`` takes (lists as saved)."""
    from diffusers import UNet2DConditionModel

    params = inspect.signature(UNet2DConditionModel.__init__).parameters
    return {k: v for k, v in config.items() if k in params and k != "self"}


@functools.lru_cache(maxsize=16)
def _measured(unet_json: str, vae_scale: int) -> tuple[ModelCost, ModelCost]:
    """(UNet, full ControlNet) costs of an unknown UNet config, counted on the meta device once per config."""
    from engine.sdpixl.costs import controlnet_cost, unet_cost

    config = unet_init_args(json.loads(unet_json))
    log.info("counting the cost of an unlisted UNet architecture on the meta device")
    return unet_cost(config), controlnet_cost(config, vae_scale)


@functools.lru_cache(maxsize=16)
def _encoder(taesd_json: str | None, resolution: int) -> ModelCost:
    """The tiny autoencoder's encoder at ``resolution``: TAESD(XL)'s table figures scaled by the pixel count, or
    a custom TAESD config counted on the meta device."""
    if taesd_json is None:
        base = MODEL_COSTS["taesdxl-encoder"]  # TAESD and TAESDXL share the architecture; costs scale with pixels
        k = (resolution / 1024) ** 2
        return ModelCost(base.params, base.flops * k, base.act_bytes * k, base.saved_bytes * k)
    from engine.sdpixl.costs import taesd_encoder_cost

    return taesd_encoder_cost(resolution, json.loads(taesd_json))


def latent_profile(model: str | None, model_config: str | None = None, resolution: int | None = None,
                   tiny_vae: str = "auto") -> LatentProfile:
    """The profile of the latent model ``model`` (hub id, diffusers folder, or single file with ``model_config``);
    ``resolution`` overrides the native render size as the guidance's config does."""
    source = model_config if model_config and not Path(str(model)).is_dir() else model
    unet = _read_json(_config_file(source, "unet/config.json")) if source else None
    if unet is None:
        family = _single_file_family(model) if model else None
        if family is not None:  # a single file: its family's published architecture
            default = SDXL_DEFAULT if family == "sdxl" else _sd15_default()
            return _at_resolution(replace(default, name=Path(str(model)).name), resolution)
        default = SDXL_DEFAULT
        if model and "stable-diffusion-xl-base" not in str(model):
            default = replace(default, name="SDXL base (assumed)", assumed=True)
        return _at_resolution(default, resolution)
    vae = _read_json(_config_file(source, "vae/config.json")) or {}
    vae_scale = 2 ** (len(vae["block_out_channels"]) - 1) if vae.get("block_out_channels") else DEFAULT_VAE_SCALE
    family = "sdxl" if unet.get("addition_embed_type") == "text_time" else "sd15"
    native = int(unet.get("sample_size", 128)) * vae_scale
    multiple = vae_scale * 2 ** (len(unet.get("block_out_channels", (0, 0, 0))) - 1)
    known = _known_arch(unet)
    if known:
        _, full, mid = _KNOWN[known]
        unet_c, cn, cn_mid = MODEL_COSTS[known], MODEL_COSTS[full], MODEL_COSTS[mid]
    else:
        unet_c, cn = _measured(json.dumps(unet, sort_keys=True), vae_scale)
        cn_mid = cn
    taesd = None
    if tiny_vae in ("auto", None) and Path(str(model)).is_dir():
        taesd = _read_json(Path(str(model)) / "taesd" / "config.json")
    res = resolution or native
    name = Path(str(model)).name if Path(str(model)).exists() else str(model)
    return LatentProfile(name, family, res, multiple, unet_c, cn, cn_mid,
                         _encoder(json.dumps(taesd, sort_keys=True) if taesd else None, res))


def _at_resolution(profile: LatentProfile, resolution: int | None) -> LatentProfile:
    if not resolution or resolution == profile.resolution:
        return profile
    return replace(profile, resolution=resolution, encoder=_encoder(None, resolution))
