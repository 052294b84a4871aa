"""Score distillation against the built-in model, in pixel space at its native 32 x 32, with a learned alpha.

Same contract as the other guidance objects (``engine.sdpixl.guidance``): a config dataclass, a constructor that
loads once and freezes the model, ``set_target_size`` and ``__call__(rgb, step_fraction) -> {"loss_sds", "t",
"grad_norm"}`` for ``engine.sdpixl.optimize.run_optimization``.

The model's picture is RGBA: colour composited over white, then alpha. The palette render gives the colour; the
alpha is one logit per cell held here (``alpha_logits``, H x W), so the design's empty cells are optimised by
the same SDS loss: x = [rgb * a + (1 - a), a], letterboxed into 32 x 32 (outside the design: white and
transparent) and mapped to [-1, 1]. The loop's ``loss.backward()`` fills the alpha's gradient; this object
applies it with its own Adam step at the start of the next call. ``empty_mask()`` gives the cells left empty.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from engine.sdpixl.builtin.loading import BuiltinModel, load_builtin_model
from engine.sdpixl.generator import letterbox_box
from engine.sdpixl.guidance.sds import eps_from_v, sample_timestep, sds_grad, sds_loss, sds_weight

log = logging.getLogger(__name__)


@dataclass
class BuiltinGuidanceConfig:
    """SDS settings for the built-in model. ``model``: its folder (None: the shipped one)."""

    model: str | None = None
    prompt: str = ""
    negative_prompt: str = ""  # the unconditional branch: the empty prompt unless given
    guidance_scale: float = 10.0  # the SDXL preset's 41 over-saturates this small model
    t_min: int = 20
    t_max_start: float = 0.98
    t_max_end: float = 0.5
    t_anneal_until: float = 0.6
    weighting: str = "sds"
    alpha_lr: float = 0.1  # Adam learning rate of the per-cell alpha logits
    device: str = "cpu"
    seed: int | None = None


def resize_to_box(x: torch.Tensor, ch: int, cw: int) -> torch.Tensor:
    """B x C x h x w -> B x C x ch x cw: area average when shrinking, bilinear when enlarging (differentiable)."""
    if tuple(x.shape[-2:]) == (ch, cw):
        return x
    if ch <= x.shape[-2] and cw <= x.shape[-1]:
        return F.adaptive_avg_pool2d(x, (ch, cw))
    return F.interpolate(x, size=(ch, cw), mode="bilinear", align_corners=False)


def to_model_input(rgb: torch.Tensor, alpha: torch.Tensor, size: int) -> torch.Tensor:
    """Design colour (B x 3 x h x w, [0, 1]) and alpha (B x 1 x h x w) -> the model's B x 4 x size x size in
    [-1, 1]: colour over white, then alpha; letterboxed at the exact aspect (outside: white, transparent)."""
    top, left, ch, cw = letterbox_box(rgb.shape[-2], rgb.shape[-1], (size, size))
    comp = rgb * alpha + (1.0 - alpha)
    comp, a = resize_to_box(comp, ch, cw), resize_to_box(alpha, ch, cw)
    pad = (left, size - cw - left, top, size - ch - top)
    if any(pad):
        comp = F.pad(comp, pad, value=1.0)
        a = F.pad(a, pad, value=0.0)
    return torch.cat([comp, a], dim=1) * 2.0 - 1.0


class BuiltinGuidance:
    """SDS guidance from the built-in emoji model (pixel space, 32 x 32 RGBA)."""

    def __init__(self, config: BuiltinGuidanceConfig, model: BuiltinModel | None = None,
                 height: int | None = None, width: int | None = None) -> None:
        self.config = config
        self.model = model or load_builtin_model(config.model)
        self.device = torch.device(config.device)
        self.dtype = torch.float32
        self.net = self.model.net.to(self.device)
        self.alphas_cumprod = self.model.alphas_cumprod.to(self.device)
        self.resolution = self.model.config.sample_size
        seed = config.seed if config.seed is not None else random.randrange(2**31)
        self.generator = torch.Generator().manual_seed(seed)
        vocab = self.model.vocab
        cond = vocab.encode(config.prompt)
        self.unknown_words = cond.unknown
        if cond.unknown:
            log.warning("%s", vocab.unknown_message(cond.unknown))
        neg = vocab.encode(config.negative_prompt)
        hidden, mask = self.model.encode([neg.ids, cond.ids])
        self.hidden, self.mask = hidden.to(self.device), mask.to(self.device)
        self.alpha_logits: torch.Tensor | None = None
        self._alpha_opt: torch.optim.Optimizer | None = None
        self._init_alpha: torch.Tensor | None = None
        if height and width:
            self.set_target_size(height, width)

    # ----------------------------------------------------------------- alpha
    def set_initial_alpha(self, alpha: torch.Tensor) -> None:
        """Start the alpha from an H x W map in [0, 1] (e.g. a sample's), instead of 'all filled'."""
        self._init_alpha = alpha.detach().float().clamp(0.02, 0.98)
        if self.alpha_logits is not None:
            self.set_target_size(*self.alpha_logits.shape)

    def set_target_size(self, height: int, width: int) -> tuple[int, int]:
        """(Re)create the per-cell alpha logits for a height x width design; returns the model's input size."""
        if self._init_alpha is not None:
            a = resize_to_box(self._init_alpha[None, None], height, width)[0, 0].clamp(0.02, 0.98)
            logits = torch.log(a / (1 - a))
        else:
            logits = torch.full((height, width), 2.0)  # start mostly filled: the design decides what to clear
        self.alpha_logits = logits.to(self.device).requires_grad_(True)
        self._alpha_opt = torch.optim.Adam([self.alpha_logits], lr=self.config.alpha_lr)
        return self.resolution, self.resolution

    def alpha(self) -> torch.Tensor:
        """Current per-cell alpha, H x W in (0, 1)."""
        assert self.alpha_logits is not None, "set_target_size first"
        return torch.sigmoid(self.alpha_logits)

    def empty_mask(self):
        """H x W bool numpy array: the cells the run leaves empty (alpha below one half)."""
        return (self.alpha().detach() < 0.5).cpu().numpy()

    def _apply_alpha_grad(self) -> None:
        if self.alpha_logits is not None and self.alpha_logits.grad is not None:
            assert self._alpha_opt is not None
            self._alpha_opt.step()
            self._alpha_opt.zero_grad(set_to_none=True)

    # ----------------------------------------------------------------- the step
    def __call__(self, rgb: torch.Tensor, step_fraction: float,
                 generator: torch.Generator | None = None) -> dict[str, Any]:
        """SDS on a B x 3 x H x W render in [0, 1]; the loss is differentiable w.r.t. ``rgb`` and the alpha."""
        g = generator or self.generator
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise ValueError(f"guidance expects B x 3 x H x W images, got {tuple(rgb.shape)}")
        if self.alpha_logits is None or tuple(self.alpha_logits.shape) != tuple(rgb.shape[-2:]):
            self.set_target_size(rgb.shape[-2], rgb.shape[-1])
        self._apply_alpha_grad()
        rgb = rgb.to(self.device, torch.float32)
        b = rgb.shape[0]
        alpha = self.alpha()[None, None].expand(b, 1, -1, -1)
        x = to_model_input(rgb, alpha, self.resolution)
        c = self.config
        t_int = sample_timestep(step_fraction, len(self.alphas_cumprod), c.t_min, c.t_max_start, c.t_max_end,
                                c.t_anneal_until, g)
        noise = torch.randn(x.shape, generator=g).to(self.device)
        alpha_bar = self.alphas_cumprod[t_int]
        with torch.no_grad():
            x_t = alpha_bar.sqrt() * x.detach() + (1.0 - alpha_bar).sqrt() * noise
            t = torch.full((2 * b,), t_int, device=self.device, dtype=torch.long)
            hidden = self.hidden.repeat_interleave(b, dim=0)
            mask = self.mask.repeat_interleave(b, dim=0)
            x_in = x_t.repeat(2, 1, 1, 1)
            eps = self.net.predict(x_in, t, hidden, mask)
            if self.model.config.prediction_type == "v_prediction":
                eps = eps_from_v(eps, x_in, alpha_bar)
            eps_u, eps_c = eps[:b], eps[b:]
            grad = sds_grad(eps_u, eps_c, noise, sds_weight(alpha_bar, c.weighting), c.guidance_scale)
        return {"loss_sds": sds_loss(x, grad), "t": torch.tensor(t_int), "grad_norm": grad.norm().detach()}
