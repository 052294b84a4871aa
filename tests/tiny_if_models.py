"""Tiny, randomly initialised DeepFloyd IF-like pipelines saved to disk, for CPU tests (no download, no GPU).

- ``make_tiny_if(folder)``: an ``IFPipeline`` folder (tiny T5 encoder + fast tokenizer, a UNet shaped like IF
  stage I: 3 input channels, 6 output channels = eps + learned variance, simple cross-attention blocks, text
  addition embedding; cosine DDPM schedule with learned-range variance), 32 x 32 images.
- ``make_tiny_if_sr(folder)``: an ``IFSuperResolutionPipeline`` folder (UNet with 6 input channels = noisy image +
  noised low-resolution condition, timestep class embedding for the noise level; image-noising scheduler),
  64 x 64 images, no text encoder (IF's stage II reuses stage I's T5 encodings).
- ``build_cached_if(kind, root)``: build once per test session (``kind``: ``if`` or ``if-sr``).
"""

from __future__ import annotations

import json
from pathlib import Path

T5_DIM = 32
WORDS = ("a red fox cat castle tree house blue green pixel art of the in on with sky sea dog bird flower").split()


def _tokenizer():
    """A T5-style Unigram tokenizer over a few words and the letters (<pad>=0, </s>=1, <unk>=2; appends </s>)."""
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [("\u2581" + w, -1.0) for w in WORDS]
    vocab += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz"]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=77)


def _t5():
    from transformers import T5Config, T5EncoderModel

    cfg = T5Config(vocab_size=64, d_model=T5_DIM, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                   relative_attention_num_buckets=8, dropout_rate=0.0, pad_token_id=0, eos_token_id=1)
    return T5EncoderModel(cfg)


def _if_unet(in_channels: int, sample_size: int, superres: bool):
    from diffusers import UNet2DConditionModel

    extra = dict(class_embed_type="timestep", mid_block_scale_factor=1.414, time_embedding_act_fn="gelu",
                 time_embedding_dim=32) if superres else {}
    return UNet2DConditionModel(
        sample_size=sample_size, layers_per_block=1, block_out_channels=(16, 32), in_channels=in_channels,
        out_channels=6, down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"), cross_attention_dim=32,
        encoder_hid_dim=T5_DIM, attention_head_dim=8, addition_embed_type="text", addition_embed_type_num_heads=2,
        cross_attention_norm="group_norm", resnet_time_scale_shift="scale_shift", act_fn="gelu", norm_num_groups=8,
        **extra,
    )


def _scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", beta_start=0.0001,
                         beta_end=0.02, thresholding=True, dynamic_thresholding_ratio=0.95, sample_max_value=1.0,
                         prediction_type="epsilon", variance_type="learned_range")


def make_tiny_if(folder: str | Path) -> Path:
    """Save a tiny IF stage-I pipeline (T5 + tokenizer + 32 x 32 UNet + scheduler) to ``folder``."""
    import torch
    from diffusers import IFPipeline

    folder = Path(folder)
    torch.manual_seed(0)
    pipe = IFPipeline(tokenizer=_tokenizer(), text_encoder=_t5(), unet=_if_unet(3, 32, False),
                      scheduler=_scheduler(), safety_checker=None, feature_extractor=None, watermarker=None,
                      requires_safety_checker=False)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def make_tiny_if_sr(folder: str | Path) -> Path:
    """Save a tiny IF stage-II (super-resolution) pipeline, 64 x 64, without text encoder."""
    import torch
    from diffusers import DDPMScheduler, IFSuperResolutionPipeline

    folder = Path(folder)
    torch.manual_seed(1)
    noising = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", beta_start=0.0001,
                            beta_end=0.02)
    pipe = IFSuperResolutionPipeline(tokenizer=None, text_encoder=None, unet=_if_unet(6, 64, True),
                                     scheduler=_scheduler(), image_noising_scheduler=noising, safety_checker=None,
                                     feature_extractor=None, watermarker=None, requires_safety_checker=False)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def build_cached_if(kind: str, root: str | Path) -> Path:
    """Build one tiny IF model under ``root`` once per session and reuse it; ``kind``: ``if`` or ``if-sr``."""
    root = Path(root) / "tiny_models"
    target = root / kind
    done = root / f"{kind}.done"
    if done.is_file():
        return Path(done.read_text(encoding="utf-8"))
    if kind == "if":
        path = make_tiny_if(target)
    elif kind == "if-sr":
        path = make_tiny_if_sr(target)
    else:
        raise ValueError(f"unknown tiny IF model kind {kind!r}")
    done.parent.mkdir(parents=True, exist_ok=True)
    done.write_text(str(path), encoding="utf-8")
    return path


def model_index(folder: str | Path) -> dict:
    """The saved pipeline's model_index.json."""
    return json.loads((Path(folder) / "model_index.json").read_text(encoding="utf-8"))
