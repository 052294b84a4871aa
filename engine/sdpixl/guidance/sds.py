"""Score-distillation maths, model-free: timestep schedule, weighting, CFG and the SDS loss trick."""

from __future__ import annotations

import math

import torch


def t_max_at(step_fraction: float, start: float = 0.98, end: float = 0.8, anneal_until: float = 0.5) -> float:
    """Upper timestep bound (fraction of 1000): ``start`` -> ``end`` linearly until ``anneal_until``, then ``end``."""
    if anneal_until <= 0:
        return end
    f = min(max(step_fraction / anneal_until, 0.0), 1.0)
    return start + (end - start) * f


def sample_timestep(step_fraction: float, num_train_timesteps: int = 1000, t_min: int = 20,
                    t_max_start: float = 0.98, t_max_end: float = 0.8, anneal_until: float = 0.5,
                    generator: torch.Generator | None = None) -> int:
    """Integer t uniform in [t_min, floor(T * t_max(step_fraction))] (both ends included)."""
    hi = int(math.floor(num_train_timesteps * t_max_at(step_fraction, t_max_start, t_max_end, anneal_until)))
    hi = min(max(hi, t_min), num_train_timesteps - 1)
    return int(torch.randint(t_min, hi + 1, (1,), generator=generator))


def sample_timestep_t(step_fraction: float, num_train_timesteps: int = 1000, t_min: int = 20,
                      t_max_start: float = 0.98, t_max_end: float = 0.8, anneal_until: float = 0.5,
                      generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                      t_cap: float = 1.0) -> torch.Tensor:
    """As ``sample_timestep`` but drawn on ``device`` with a generator of that device: a (1,) int64 tensor, so
    the value never has to travel to the host (the bounds are host arithmetic on the run fraction). ``t_cap``
    (a fraction of T) caps the upper bound further (patch-wise crop steps)."""
    t_max = min(t_max_at(step_fraction, t_max_start, t_max_end, anneal_until), t_cap)
    hi = int(math.floor(num_train_timesteps * t_max))
    hi = min(max(hi, t_min), num_train_timesteps - 1)
    return torch.randint(t_min, hi + 1, (1,), generator=generator, device=device)


def eps_from_v(v: torch.Tensor, z_t: torch.Tensor, alpha_bar_t: torch.Tensor) -> torch.Tensor:
    """Noise prediction from a v-prediction: eps = sqrt(a) v + sqrt(1 - a) z_t (v = sqrt(a) eps - sqrt(1 - a) z0)."""
    return alpha_bar_t.sqrt() * v + (1.0 - alpha_bar_t).sqrt() * z_t


def sds_weight(alpha_bar_t: torch.Tensor, weighting: str = "sds") -> torch.Tensor:
    """w(t): ``sds`` = 1 - alpha_bar (the reference), ``uniform`` = 1, ``fantasia`` = sqrt(alpha_bar)(1 - alpha_bar)."""
    if weighting == "sds":
        return 1.0 - alpha_bar_t
    if weighting == "uniform":
        return torch.ones_like(alpha_bar_t)
    if weighting == "fantasia":
        return alpha_bar_t.sqrt() * (1.0 - alpha_bar_t)
    raise ValueError(f"unknown SDS weighting {weighting!r}; choose sds, uniform or fantasia")


def cfg(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance in the diffusers form: eps_u + s * (eps_c - eps_u)."""
    return eps_uncond + scale * (eps_cond - eps_uncond)


def sds_grad(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, noise: torch.Tensor, weight: torch.Tensor,
             guidance_scale: float) -> torch.Tensor:
    """w(t) * (cfg(eps) - noise) with NaNs (and infinities) zeroed.

    The reference writes w * [(eps_c - noise) + 40 (eps_c - eps_u)], which is this with s = 41.
    """
    grad = weight * (cfg(eps_uncond, eps_cond, guidance_scale) - noise)
    return torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)


def reference_grad(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, noise: torch.Tensor, weight: torch.Tensor,
                   reference_scale: float = 40.0) -> torch.Tensor:
    """The reference's exact expression, kept to test the equivalence (not used in the loop)."""
    grad = weight * ((eps_cond - noise) + reference_scale * (eps_cond - eps_uncond))
    return torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)


def sds_loss(latents: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """0.5 * sum (z - stopgrad(z - grad))^2 per image: its gradient w.r.t. z is exactly ``grad``."""
    z = latents.float()
    target = (z - grad.float()).detach()
    return 0.5 * ((z - target) ** 2).sum() / z.shape[0]
