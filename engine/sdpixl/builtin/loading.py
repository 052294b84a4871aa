"""Load the built-in model (``resources/models/emoji32``): config JSON, vocabulary and fp16 safetensors weights."""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.sdpixl.builtin.files import BUILTIN_DIR, BUILTIN_NAME, FILES  # noqa: F401 (re-exported)
from engine.sdpixl.builtin.model import BuiltinDiffusion, BuiltinModelConfig
from engine.sdpixl.builtin.vocab import Vocabulary
from engine.sdpixl.guidance.loading import ModelLoadError

log = logging.getLogger(__name__)



@dataclass
class BuiltinModel:
    """The loaded model: networks (fp32, eval, frozen), vocabulary, noise schedule and where it came from."""

    net: BuiltinDiffusion
    vocab: Vocabulary
    config: BuiltinModelConfig
    alphas_cumprod: torch.Tensor
    folder: Path

    @property
    def name(self) -> str:
        return f"builtin:{self.folder.name}"

    @torch.no_grad()
    def encode(self, ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token id rows -> (hidden states, mask) for the UNet's cross-attention."""
        return self.net.encode(torch.tensor(ids, dtype=torch.long))


def noise_schedule(config: BuiltinModelConfig) -> torch.Tensor:
    """alphas_cumprod of the training scheduler (diffusers' DDPMScheduler with the config's betas)."""
    from diffusers import DDPMScheduler

    sched = DDPMScheduler(num_train_timesteps=config.num_train_timesteps, beta_schedule=config.beta_schedule,
                          prediction_type=config.prediction_type)
    return sched.alphas_cumprod.clone().float()


def load_builtin_model(folder: str | Path | None = None) -> BuiltinModel:
    """Read the model folder (default: the shipped one); ``ModelLoadError`` says what is missing or wrong."""
    return _load(str(Path(folder).resolve() if folder else BUILTIN_DIR))


@functools.lru_cache(maxsize=2)
def _load(folder_text: str) -> BuiltinModel:
    folder = Path(folder_text)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(f"the built-in model folder {folder} lacks {', '.join(missing)}; reinstall piXL Studio "
                             f"(pip install -e .) or give a model with --model")
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise ModelLoadError("the built-in model needs the safetensors package: pip install -e \".[diffusion]\"") \
            from None
    try:
        config = BuiltinModelConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        vocab = Vocabulary.load(folder / "vocab.json", config.max_words)
        state = load_file(str(folder / "model.safetensors"))
    except (OSError, ValueError, TypeError) as exc:
        raise ModelLoadError(f"the built-in model in {folder} cannot be read ({exc}); reinstall piXL Studio") from None
    if len(vocab.words) != config.vocab_size:
        raise ModelLoadError(f"the built-in model's vocabulary has {len(vocab.words)} entries, its config "
                             f"{config.vocab_size}; the folder {folder} is inconsistent")
    net = BuiltinDiffusion(config)
    try:
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        raise ModelLoadError(f"the built-in model's weights do not fit its config ({str(exc)[:200]})") from None
    net.eval().requires_grad_(False)
    log.info("loaded the built-in model %s (%d words)", folder.name, len(vocab))
    return BuiltinModel(net, vocab, config, noise_schedule(config), folder)
