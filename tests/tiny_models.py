"""Tiny, randomly initialised diffusion models saved to disk, for CPU tests (no download, no GPU).

Public, stable helpers (the GUI tests call them too):

- ``make_tiny_sd15(folder) -> Path``: an SD 1.5-family diffusers pipeline folder (UNet, VAE, CLIP text
  encoder + tokenizer, DDPM scheduler) with a tiny ``AutoencoderTiny`` in ``<folder>/taesd``.
- ``make_tiny_sdxl(folder) -> Path``: the same for SDXL (two text encoders, text-time UNet conditioning).
- ``make_tiny_controlnet(pipeline_folder, folder) -> Path``: a ControlNet matching a tiny pipeline's UNet.
- ``make_tiny_lora(pipeline_folder, folder) -> Path``: a LoRA (``.safetensors``) for that UNet, non-zero.
- ``make_tiny_dpt(folder) -> Path``: a tiny DPT depth estimator (transformers) for the depth ControlNet.
- ``make_tiny_depth_image(path, size)``: a smooth greyscale depth image.
- ``make_tiny_clip(folder) -> Path``: a tiny CLIP (text + vision towers, tokenizer, image processor) for the
  sample-and-select init's ranking.
- ``save_tiny_sd15_single_file(pipeline_folder, path) -> Path``: the SD 1.5 pipeline as one original-layout
  ``.safetensors`` (load with ``config=pipeline_folder``).
- ``build_cached(kind, root) -> Path``: build once per test session and reuse.

Every builder is deterministic (fixed seeds) and writes only under the folder it is given. The latent
grid of these models is half the image size (VAE down-sampling factor 2), so images of 16-32 px work.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

TEXT_HIDDEN = 32
MAX_TOKENS = 77
VOCAB_SIZE = 1000


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for raw bytes (printable bytes map to themselves)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    symbols: dict[int, str] = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in symbols:
            symbols[b] = chr(256 + extra)
            extra += 1
    return [symbols[b] for b in range(256)]


def write_tiny_clip_vocab(folder: Path) -> tuple[Path, Path]:
    """Write a small CLIP BPE vocabulary (every byte, with and without ``</w>``, a few merges)."""
    folder.mkdir(parents=True, exist_ok=True)
    symbols = _byte_symbols()
    merges = [("t", "h"), ("th", "e</w>"), ("a", "n"), ("i", "n"), ("o", "n</w>"), ("e", "r</w>")]
    tokens = ["<|startoftext|>", "<|endoftext|>"] + symbols + [s + "</w>" for s in symbols]
    tokens += [a + b for a, b in merges]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(tokens))}
    assert len(vocab) <= VOCAB_SIZE
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab_path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_path.write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n", encoding="utf-8")
    return vocab_path, merges_path


def _tokenizer(work: Path, pad_token: str = "<|endoftext|>"):
    from transformers import CLIPTokenizer

    vocab, merges = write_tiny_clip_vocab(work)
    return CLIPTokenizer(str(vocab), str(merges), model_max_length=MAX_TOKENS, pad_token=pad_token)


def _clip_config(**extra):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=TEXT_HIDDEN, intermediate_size=37,
        layer_norm_eps=1e-5, num_attention_heads=4, num_hidden_layers=2, vocab_size=VOCAB_SIZE,
        max_position_embeddings=MAX_TOKENS, hidden_act="gelu", projection_dim=TEXT_HIDDEN, **extra,
    )


def _scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                         num_train_timesteps=1000, prediction_type="epsilon", clip_sample=False,
                         steps_offset=1)


def _vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=(16, 32), in_channels=3, out_channels=3, latent_channels=4,
                         down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                         norm_num_groups=8, sample_size=32)


def _taesd():
    from diffusers import AutoencoderTiny

    return AutoencoderTiny(encoder_block_out_channels=(16, 16), decoder_block_out_channels=(16, 16),
                           num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1), latent_channels=4)


def _save_pipeline(pipe, folder: Path) -> Path:
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    for scratch in folder.glob("_vocab*"):
        shutil.rmtree(scratch)
    _taesd().save_pretrained(str(folder / "taesd"), safe_serialization=True)
    return folder


def make_tiny_sd15(folder: str | Path) -> Path:
    """Build and save a tiny SD 1.5-family pipeline (plus ``taesd/``) to ``folder``; returns the folder."""
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    folder = Path(folder)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_HIDDEN, attention_head_dim=4, norm_num_groups=8,
    )
    pipe = StableDiffusionPipeline(
        vae=_vae(), text_encoder=CLIPTextModel(_clip_config()), tokenizer=_tokenizer(folder / "_vocab"),
        unet=unet, scheduler=_scheduler(), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    return _save_pipeline(pipe, folder)


def make_tiny_sdxl(folder: str | Path) -> Path:
    """Build and save a tiny SDXL pipeline (two CLIP encoders, text-time conditioning, ``taesd/``)."""
    import torch
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    folder = Path(folder)
    torch.manual_seed(0)
    time_dim = 8
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=time_dim, transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=time_dim * 6 + TEXT_HIDDEN, cross_attention_dim=2 * TEXT_HIDDEN,
        norm_num_groups=8,
    )
    pipe = StableDiffusionXLPipeline(
        vae=_vae(), text_encoder=CLIPTextModel(_clip_config()),
        text_encoder_2=CLIPTextModelWithProjection(_clip_config()),
        tokenizer=_tokenizer(folder / "_vocab"), tokenizer_2=_tokenizer(folder / "_vocab2", pad_token="!"),
        unet=unet, scheduler=_scheduler(),
    )
    return _save_pipeline(pipe, folder)


def make_tiny_controlnet(pipeline_folder: str | Path, folder: str | Path, seed: int = 1) -> Path:
    """Save a random ControlNet shaped like the UNet in ``pipeline_folder`` (condition image at full size)."""
    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(str(Path(pipeline_folder) / "unet"))
    torch.manual_seed(seed)
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 16), load_weights_from_unet=True)
    with torch.no_grad():  # the zero-initialised convolutions would make the ControlNet a no-op
        zeroed = list(net.controlnet_down_blocks) + [net.controlnet_mid_block, net.controlnet_cond_embedding.conv_out]
        for module in zeroed:
            module.weight.normal_(0.0, 0.05)
    folder = Path(folder)
    net.save_pretrained(str(folder), safe_serialization=True)
    return folder


def make_tiny_lora(pipeline_folder: str | Path, folder: str | Path, rank: int = 4, seed: int = 2) -> Path:
    """Save a LoRA for the attention layers of the UNet in ``pipeline_folder``; returns the .safetensors path.

    The LoRA ``B`` matrices are random (not zero) so loading it really changes the UNet's output.
    Needs ``peft`` (as diffusers' own LoRA loading does).
    """
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(str(Path(pipeline_folder) / "unet"))
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
                                init_lora_weights=True))
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in unet.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.2)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    StableDiffusionPipeline.save_lora_weights(str(folder), unet_lora_layers=get_peft_model_state_dict(unet),
                                              safe_serialization=True)
    return folder / "pytorch_lora_weights.safetensors"


def make_tiny_dpt(folder: str | Path) -> Path:
    """Save a tiny random DPT depth estimator (transformers) with its image processor (32 x 32 input)."""
    import torch
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    cfg = DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=4, intermediate_size=37, image_size=32,
                    patch_size=8, neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16,
                    backbone_out_indices=[0, 1, 2, 3], head_in_index=-1)
    torch.manual_seed(3)
    folder = Path(folder)
    DPTForDepthEstimation(cfg).save_pretrained(str(folder))
    DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False).save_pretrained(str(folder))
    return folder


def make_tiny_clip(folder: str | Path) -> Path:
    """Save a tiny random CLIPModel with its processor (tokenizer + 32 x 32 image processor) to ``folder``."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPVisionConfig

    folder = Path(folder)
    text = _clip_config().to_dict()
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                              image_size=32, patch_size=8, projection_dim=TEXT_HIDDEN).to_dict()
    torch.manual_seed(4)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=TEXT_HIDDEN))
    model.save_pretrained(str(folder))
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=_tokenizer(folder / "_vocab")).save_pretrained(str(folder))
    import shutil

    shutil.rmtree(folder / "_vocab", ignore_errors=True)
    return folder


def make_tiny_depth_image(path: str | Path, size: tuple[int, int] = (32, 24)) -> Path:
    """Write a greyscale PNG depth map (a radial gradient) of ``size`` = (width, height)."""
    from PIL import Image

    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((xx - w / 2) / w, (yy - h / 2) / h)
    depth = (255 * (1 - r / r.max())).astype(np.uint8)
    path = Path(path)
    Image.fromarray(depth, "L").save(path)
    return path


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block: tiny models gain nothing from threads, and on a busy shared
    machine the thread pool's spin-waiting makes them many times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_cached(kind: str, root: str | Path) -> Path:
    """Build one tiny model under ``root`` once and reuse it afterwards; returns its path.

    ``kind``: ``sd15``, ``sdxl``, ``controlnet-sd15``, ``controlnet-sdxl``, ``lora-sd15``, ``lora-sdxl``, ``dpt``
    or ``clip``.
    Test files call this from a session-scoped fixture with ``tmp_path_factory.getbasetemp()`` as root, so
    every test file of a session shares the same models.
    """
    root = Path(root) / "tiny_models"
    target = root / kind
    done = root / f"{kind}.done"
    if done.is_file():
        return Path(done.read_text(encoding="utf-8"))
    family = kind.rsplit("-", 1)[-1]
    if kind == "sd15":
        path = make_tiny_sd15(target)
    elif kind == "sdxl":
        path = make_tiny_sdxl(target)
    elif kind == "dpt":
        path = make_tiny_dpt(target)
    elif kind == "clip":
        path = make_tiny_clip(target)
    elif kind.startswith("controlnet-"):
        path = make_tiny_controlnet(build_cached(family, root.parent), target)
    elif kind.startswith("lora-"):
        path = make_tiny_lora(build_cached(family, root.parent), target)
    else:
        raise ValueError(f"unknown tiny model kind {kind!r}")
    done.write_text(str(path), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- single-file (original SD layout)
_RESNET_LDM = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0", "conv2": "out_layers.3",
               "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection"}
_UNET_TOP_LDM = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
                 "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
                 "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2"}
_VAE_ATTN_LDM = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
_VAE_TOP_LDM = {"conv_norm_out": "norm_out"}


def _resnet_rest(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return f"{_RESNET_LDM.get(head, head)}.{tail}"


def _unet_key_to_ldm(key: str, layers: int, up_has_attention: list[bool]) -> str:
    """Diffusers UNet parameter name -> the original (LDM) name, for the layout of SD 1.x / SDXL UNets."""
    import re

    for new, old in _UNET_TOP_LDM.items():
        if key.startswith(new + "."):
            return old + key[len(new):]
    if m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        i, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        idx = 1 + i * (layers + 1) + j
        return f"input_blocks.{idx}.0.{_resnet_rest(rest)}" if kind == "resnets" else f"input_blocks.{idx}.1.{rest}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"input_blocks.{(int(m[1]) + 1) * (layers + 1)}.0.op.{m[2]}"
    if m := re.fullmatch(r"mid_block\.(resnets|attentions)\.(\d+)\.(.+)", key):
        kind, j, rest = m[1], int(m[2]), m[3]
        return f"middle_block.{2 * j}.{_resnet_rest(rest)}" if kind == "resnets" else f"middle_block.1.{rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        i, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        idx = i * (layers + 1) + j
        return f"output_blocks.{idx}.0.{_resnet_rest(rest)}" if kind == "resnets" else f"output_blocks.{idx}.1.{rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        i = int(m[1])
        return f"output_blocks.{i * (layers + 1) + layers}.{2 if up_has_attention[i] else 1}.conv.{m[2]}"
    raise KeyError(f"no original-layout name for UNet parameter {key}")


def _vae_key_to_ldm(key: str, n_up: int) -> str:
    """Diffusers AutoencoderKL parameter name -> the original (LDM) name."""
    import re

    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)\.(weight|bias)", key):
        return f"{m[1]}.mid.attn_1.{_VAE_ATTN_LDM[m[2]]}.{m[3]}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        return f"encoder.down.{m[1]}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        return f"decoder.up.{n_up - 1 - int(m[1])}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        return f"decoder.up.{n_up - 1 - int(m[1])}.upsample.conv.{m[2]}"
    if m := re.fullmatch(r"(encoder|decoder)\.(conv_norm_out)\.(.+)", key):
        return f"{m[1]}.{_VAE_TOP_LDM[m[2]]}.{m[3]}"
    return key  # conv_in, conv_out, quant_conv, post_quant_conv keep their names


def save_tiny_sd15_single_file(pipeline_folder: str | Path, path: str | Path) -> Path:
    """Write a tiny SD 1.5 pipeline folder as ONE .safetensors in the original Stable Diffusion layout
    (``model.diffusion_model.*``, ``first_stage_model.*``, ``cond_stage_model.transformer.*``), the kind of file
    ``from_single_file`` reads. Load it back with ``config=pipeline_folder``."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextModel

    folder = Path(pipeline_folder)
    unet = UNet2DConditionModel.from_pretrained(str(folder / "unet"))
    vae = AutoencoderKL.from_pretrained(str(folder / "vae"))
    text = CLIPTextModel.from_pretrained(str(folder / "text_encoder"))
    layers = int(unet.config.layers_per_block)
    up_attn = [hasattr(block, "attentions") and block.attentions is not None for block in unet.up_blocks]
    state: dict = {}
    for key, value in unet.state_dict().items():
        state["model.diffusion_model." + _unet_key_to_ldm(key, layers, up_attn)] = value.contiguous()
    n_up = len(vae.config.up_block_types)
    for key, value in vae.state_dict().items():
        state["first_stage_model." + _vae_key_to_ldm(key, n_up)] = value.contiguous()
    for key, value in text.state_dict().items():  # original files name the CLIP weights text_model.*
        name = key if key.startswith("text_model.") else "text_model." + key
        state["cond_stage_model.transformer." + name] = value.contiguous()
    path = Path(path)
    save_file(state, str(path))
    return path
