"""Compute cost of the guidance models from their architecture configs alone (no weights): parameters, forward
FLOPs and peak activation memory, measured by running the real diffusers modules on PyTorch's "meta" device.

The planner (``engine.sdpixl.planner``) uses a table of these figures (``MODEL_COSTS``); ``measure_costs()`` recomputes
it from ``ARCHS`` (``benchmarks/sds_guidance_paths.py --flops`` prints both, and a test checks they agree).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch

# SDXL base 1.0's UNet, as published with the model.
SDXL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048,
    use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,
)
# Stable Diffusion 1.5's UNet, as published with the model (512 px: 64 x 64 latents).
SD15_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, attention_head_dim=8, cross_attention_dim=768,
)
_IF_I = dict(
    sample_size=64, in_channels=3, out_channels=6, layers_per_block=3, encoder_hid_dim=4096, attention_head_dim=64,
    down_block_types=("ResnetDownsampleBlock2D",) + ("SimpleCrossAttnDownBlock2D",) * 3,
    up_block_types=("SimpleCrossAttnUpBlock2D",) * 3 + ("ResnetUpsampleBlock2D",),
    mid_block_type="UNetMidBlock2DSimpleCrossAttn", addition_embed_type="text", addition_embed_type_num_heads=64,
    cross_attention_norm="group_norm", resnet_time_scale_shift="scale_shift", act_fn="gelu",
)
# DeepFloyd IF stage I: widths as in the published UNets (parameter counts 4.30 B for XL, 0.94 B for L, matching
# the model cards' 4.3 B and 900 M).
IF_I_XL_UNET = {**_IF_I, "block_out_channels": (704, 1408, 2112, 2816), "cross_attention_dim": 2816}
IF_I_L_UNET = {**_IF_I, "block_out_channels": (320, 640, 960, 1280), "cross_attention_dim": 1280}
# IF stage II (super-resolution, 256^2): a reconstruction (1.09 B parameters; the model card says 1.2 B).
IF_II_L_UNET = dict(
    _IF_I, sample_size=256, in_channels=6, block_out_channels=(128, 256, 640, 1280, 1280), cross_attention_dim=1280,
    down_block_types=("ResnetDownsampleBlock2D",) * 3 + ("SimpleCrossAttnDownBlock2D",) * 2,
    up_block_types=("SimpleCrossAttnUpBlock2D",) * 2 + ("ResnetUpsampleBlock2D",) * 3,
    class_embed_type="timestep", mid_block_scale_factor=1.414, time_embedding_act_fn="gelu", time_embedding_dim=1280,
)
T5_XXL_PARAMS = 4_762_310_656  # google/t5-v1_1-xxl encoder (IF's text encoder), fp16 9.5 GB

ARCHS: dict[str, dict] = {"sdxl-unet": SDXL_UNET, "sd15-unet": SD15_UNET, "if-I-XL": IF_I_XL_UNET,
                          "if-I-L": IF_I_L_UNET, "if-II-L": IF_II_L_UNET}


@dataclass(frozen=True)
class ModelCost:
    """One module at its native input size, batch 1: parameters, forward FLOPs, peak activation bytes (fp32;
    half precision halves them) of a forward pass without gradients, and bytes saved for a backward pass."""

    params: int
    flops: float
    act_bytes: float
    saved_bytes: float = 0.0


# The "-mid" SDXL ControlNets (the reference's and our default) keep one transformer layer in the deepest block.
MID_TRANSFORMER_LAYERS = (0, 0, 1)

# Figures from measure_costs() (torch 2.13, diffusers 0.42); see benchmarks/sds_guidance_paths.py --flops.
MODEL_COSTS: dict[str, ModelCost] = {
    "sdxl-unet": ModelCost(2_567_463_684, 6.761236e12, 2.228236e9),
    "sd15-unet": ModelCost(859_520_964, 8.032734e11, 1.694505e9),
    "sd15-controlnet": ModelCost(361_279_120, 2.832920e11, 1.684019e9),
    "if-I-XL": ModelCost(4_304_695_110, 2.879015e12, 4.248471e8),
    "if-I-L": ModelCost(935_365_830, 6.120519e11, 1.931123e8),
    "if-II-L": ModelCost(1_088_825_606, 2.972674e12, 5.686656e8),
    "sdxl-controlnet": ModelCost(1_251_014_160, 3.020382e12, 2.217773e9),
    "sdxl-controlnet-mid": ModelCost(272_586_000, 7.937470e11, 4.273298e8),
    "taesdxl-encoder": ModelCost(1_222_532, 4.892991e11, 1.971323e9, 3.570041e9),
}


class _LiveBytes(torch.utils._python_dispatch.TorchDispatchMode):
    """Tracks the bytes of live tensors created inside the mode (views excluded) and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0

    def _release(self, n: int) -> None:
        self.live -= n

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and not t._is_view():
                n = t.numel() * t.element_size()
                self.live += n
                self.peak = max(self.peak, self.live)
                weakref.finalize(t, self._release, n)
        return out


def _count(module: Any, inputs: tuple, kwargs: dict, grad_input: torch.Tensor | None = None,
           memory: bool = True) -> tuple[float, int, int]:
    """(FLOPs, peak live bytes, bytes saved for backward) of one call; ``memory=False`` skips the (slow) memory
    tracking and reports 0 bytes."""
    import contextlib

    from torch.utils.flop_counter import FlopCounterMode

    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    live = _LiveBytes()
    with FlopCounterMode(display=False) as fc, (live if memory else contextlib.nullcontext()):
        if grad_input is None:
            with torch.no_grad():
                module(*inputs, **kwargs)
        else:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                module(*inputs, **kwargs)
    return float(fc.get_total_flops()), live.peak, saved[0]


def unet_cost(config: dict, text_len: int = 77, text_dim: int | None = None, memory: bool = True) -> ModelCost:
    """Cost of one UNet2DConditionModel forward (batch 1, native size) built from ``config`` on the meta device
    (``memory=False``: FLOPs and parameters only, several times faster)."""
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(**config)
        s = int(config["sample_size"])
        x = torch.zeros(1, int(config["in_channels"]), s, s)
        dim = text_dim or int(config.get("encoder_hid_dim") or config["cross_attention_dim"])
        kwargs: dict[str, Any] = {"encoder_hidden_states": torch.zeros(1, text_len, dim)}
        if config.get("addition_embed_type") == "text_time":
            kwargs["added_cond_kwargs"] = _text_time_inputs(config)
        if config.get("class_embed_type") == "timestep":
            kwargs["class_labels"] = torch.zeros(1, dtype=torch.long)
        flops, peak, _ = _count(unet, (x, torch.zeros(1, dtype=torch.long)), kwargs, memory=memory)
    return ModelCost(sum(p.numel() for p in unet.parameters()), flops, float(peak))


def _text_time_inputs(config: dict) -> dict[str, torch.Tensor]:
    """SDXL's added conditions: pooled text embeddings (the projection input less the six embedded time ids)."""
    width = int(config["projection_class_embeddings_input_dim"]) - 6 * int(config["addition_time_embed_dim"])
    return {"text_embeds": torch.zeros(1, width), "time_ids": torch.zeros(1, 6)}


def controlnet_cost(unet_config: dict, vae_scale: int = 8) -> ModelCost:
    """Cost of a full ControlNet made from the UNet ``unet_config`` (SDXL ControlNets copy the UNet's encoder);
    its condition image is ``vae_scale`` times the latent size."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    with torch.device("meta"):
        # the condition encoder halves the image once per step after the first: log2(vae_scale) + 1 widths
        widths = (16, 32, 96, 256)[: max(1, vae_scale.bit_length())]
        net = ControlNetModel.from_unet(UNet2DConditionModel(**unet_config), load_weights_from_unet=False,
                                        conditioning_embedding_out_channels=widths)
        s = int(unet_config["sample_size"])
        kwargs: dict[str, Any] = {
            "encoder_hidden_states": torch.zeros(1, 77, int(unet_config["cross_attention_dim"])),
            "controlnet_cond": torch.zeros(1, 3, vae_scale * s, vae_scale * s)}
        if unet_config.get("addition_embed_type") == "text_time":
            kwargs["added_cond_kwargs"] = _text_time_inputs(unet_config)
        latent = torch.zeros(1, int(unet_config.get("in_channels", 4)), s, s)
        flops, peak, _ = _count(net, (latent, torch.zeros(1, dtype=torch.long)), kwargs)
    return ModelCost(sum(p.numel() for p in net.parameters()), flops, float(peak))


def taesd_encoder_cost(resolution: int = 1024, config: dict | None = None) -> ModelCost:
    """Cost of TAESD(XL)'s encoder (or of an ``AutoencoderTiny`` with ``config``) at ``resolution``^2 with the
    bytes it saves for the backward to the image."""
    from diffusers import AutoencoderTiny

    with torch.device("meta"):
        vae = AutoencoderTiny.from_config(config) if config else AutoencoderTiny()
        x = torch.zeros(1, 3, resolution, resolution, requires_grad=True)
        flops, peak, saved = _count(lambda v: vae.encode(v), (x,), {}, grad_input=x)
    return ModelCost(sum(p.numel() for p in vae.encoder.parameters()), flops, float(peak), float(saved))


def measure_costs() -> dict[str, ModelCost]:
    """Recompute every entry of ``MODEL_COSTS`` from the configs (a few seconds on the CPU, no weights)."""
    costs = {name: unet_cost(cfg, text_dim=2048 if name == "sdxl-unet" else None) for name, cfg in ARCHS.items()}
    costs["sdxl-controlnet"] = controlnet_cost(SDXL_UNET)
    costs["sdxl-controlnet-mid"] = controlnet_cost(dict(SDXL_UNET, transformer_layers_per_block=MID_TRANSFORMER_LAYERS))
    costs["sd15-controlnet"] = controlnet_cost(SD15_UNET)
    costs["taesdxl-encoder"] = taesd_encoder_cost(1024)
    return costs
