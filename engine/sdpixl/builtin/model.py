"""The built-in model's networks: a small bag-of-words text encoder and a diffusers UNet over 32 x 32 RGBA.

The UNet sees the picture folded 2 x 2 into channels (``pixel_unshuffle``: 32 x 32 x 4 -> 16 x 16 x 16), a
lossless rearrangement of the same pixels, so diffusion still runs in pixel space while the convolutions work on
a quarter of the positions (what makes training on two CPU cores possible).

Both are built from one ``BuiltinModelConfig`` (stored as JSON next to the weights), so training and loading
can never disagree about the architecture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

PAD, START = 0, 1  # token ids: padding, and the start token every prompt begins with (the empty prompt is just it)


@dataclass
class BuiltinModelConfig:
    """Architecture and noise schedule of the built-in model."""

    vocab_size: int = 3000
    max_words: int = 12  # prompt words kept (after the start token)
    text_dim: int = 96
    text_layers: int = 2
    text_heads: int = 4
    sample_size: int = 32
    channels: int = 4  # RGB composited over white, then alpha; all in [-1, 1]
    unshuffle: int = 2  # pixels folded into channels before the UNet (1: none)
    block_out_channels: tuple[int, ...] = (32, 64, 96)
    layers_per_block: int = 1
    attention_heads: int = 4  # diffusers' (legacy) ``attention_head_dim`` argument is the number of heads
    norm_num_groups: int = 16
    # attention (self and cross) at 8 x 8 and 4 x 4 (of the folded 16 x 16); the top level is convolutions only
    down_block_types: tuple[str, ...] = ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D")
    up_block_types: tuple[str, ...] = ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D")
    pooled: bool = True  # also add the mean of the prompt's word states to the timestep embedding (every block)
    num_train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    prediction_type: str = "v_prediction"  # v = sqrt(a) noise - sqrt(1 - a) x0: stable at high noise
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes (training facts)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("block_out_channels", "down_block_types", "up_block_types"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BuiltinModelConfig":
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        for k in ("block_out_channels", "down_block_types", "up_block_types"):
            if k in kwargs:
                kwargs[k] = tuple(kwargs[k])
        return cls(**kwargs)


class TextEncoder(nn.Module):
    """Word embeddings (order-free: no positions) refined by a small transformer; padding is masked out."""

    def __init__(self, config: BuiltinModelConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.text_dim, padding_idx=PAD)
        layer = nn.TransformerEncoderLayer(config.text_dim, config.text_heads, config.text_dim * 2, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.text_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.text_dim)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """B x L token ids (first START) -> (B x L x D hidden states, B x L mask: 1 for words, 0 for padding)."""
        mask = tokens != PAD
        h = self.encoder(self.embed(tokens), src_key_padding_mask=~mask)
        return self.norm(h), mask.to(torch.float32)


def build_unet(config: BuiltinModelConfig) -> nn.Module:
    """The diffusers ``UNet2DConditionModel`` of ``config`` (random weights)."""
    from diffusers import UNet2DConditionModel

    f = config.unshuffle
    pooled = {"class_embed_type": "projection", "projection_class_embeddings_input_dim": config.text_dim} \
        if config.pooled else {}
    return UNet2DConditionModel(**pooled,
        sample_size=config.sample_size // f, in_channels=config.channels * f * f,
        out_channels=config.channels * f * f,
        block_out_channels=tuple(config.block_out_channels), layers_per_block=config.layers_per_block,
        down_block_types=tuple(config.down_block_types), up_block_types=tuple(config.up_block_types),
        mid_block_type="UNetMidBlock2DCrossAttn", cross_attention_dim=config.text_dim,
        attention_head_dim=config.attention_heads, norm_num_groups=config.norm_num_groups)


class BuiltinDiffusion(nn.Module):
    """Text encoder + UNet: ``forward(x_t, t, tokens) -> the prediction (noise or v)``."""

    def __init__(self, config: BuiltinModelConfig) -> None:
        super().__init__()
        self.config = config
        self.text = TextEncoder(config)
        self.unet = build_unet(config)
        if config.pooled:  # the pooled path starts silent, so a warm start from a model without it is unchanged
            nn.init.zeros_(self.unet.class_embedding.linear_2.weight)
            nn.init.zeros_(self.unet.class_embedding.linear_2.bias)

    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.text(tokens)

    def predict(self, x_t: torch.Tensor, t: torch.Tensor, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The UNet's output for x_t (B x 4 x 32 x 32) at timesteps t, given encoded prompts: the noise or v,
        as ``config.prediction_type`` says."""
        f = self.config.unshuffle
        x = F.pixel_unshuffle(x_t, f) if f > 1 else x_t
        kwargs = {}
        if self.config.pooled:  # masked mean over the words (the start token included: the empty prompt has one)
            kwargs["class_labels"] = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
        out = self.unet(x, t, encoder_hidden_states=hidden, encoder_attention_mask=mask, return_dict=False,
                        **kwargs)[0]
        return F.pixel_shuffle(out, f) if f > 1 else out

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        hidden, mask = self.encode(tokens)
        return self.predict(x_t, t, hidden, mask)
