"""The reference's joint augmentation in plain torch (no torchvision): one random draw per step is
applied to the render and to every ControlNet condition alike, so edges and depth stay aligned.

grayscale (p=0.2), random perspective (p=0.5, distortion 0.3, zero fill), horizontal flip (p=0.5).
Everything is differentiable with respect to the images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentConfig:
    """Probabilities and strength of the joint augmentation (reference defaults)."""

    p_grayscale: float = 0.2
    p_perspective: float = 0.5
    distortion: float = 0.3
    p_hflip: float = 0.5
    enabled: bool = True


@dataclass
class AugmentParams:
    """One draw: which transforms apply, and the perspective corner points (x, y) in pixels."""

    grayscale: bool
    hflip: bool
    start: list[tuple[float, float]] | None = None
    end: list[tuple[float, float]] | None = None


def _randint(high_inclusive: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(0, max(0, high_inclusive) + 1, (1,), generator=generator))


def draw_params(height: int, width: int, cfg: AugmentConfig, generator: torch.Generator | None = None) -> AugmentParams:
    """Draw one set of augmentation parameters for images of height x width."""
    def coin(p: float) -> bool:
        return bool(torch.rand((), generator=generator) < p)

    gray = cfg.enabled and coin(cfg.p_grayscale)
    persp = cfg.enabled and coin(cfg.p_perspective)
    flip = cfg.enabled and coin(cfg.p_hflip)
    params = AugmentParams(grayscale=gray, hflip=flip)
    if persp and cfg.distortion > 0:
        dx = int(cfg.distortion * width / 2)
        dy = int(cfg.distortion * height / 2)
        w1, h1 = width - 1, height - 1
        params.start = [(0, 0), (w1, 0), (w1, h1), (0, h1)]
        params.end = [
            (_randint(dx, generator), _randint(dy, generator)),
            (w1 - _randint(dx, generator), _randint(dy, generator)),
            (w1 - _randint(dx, generator), h1 - _randint(dy, generator)),
            (_randint(dx, generator), h1 - _randint(dy, generator)),
        ]
    return params


def homography(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> torch.Tensor:
    """3 x 3 matrix H (float64) with H @ (x, y, 1) ~ (x', y', 1) for the four point pairs src -> dst."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    a = torch.tensor(rows, dtype=torch.float64)
    b = torch.tensor(rhs, dtype=torch.float64)
    h = torch.linalg.solve(a, b)
    return torch.cat([h, torch.ones(1, dtype=torch.float64)]).view(3, 3)


def perspective(x: torch.Tensor, start, end) -> torch.Tensor:
    """Warp B x C x H x W so the image corners ``start`` land on ``end`` (bilinear, zero outside)."""
    b, _, h, w = x.shape
    inv = homography(end, start)  # output pixel -> input pixel
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    pts = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1) @ inv.T
    sx = pts[..., 0] / pts[..., 2]
    sy = pts[..., 1] / pts[..., 2]
    # grid_sample's normalised coordinates with align_corners=True: -1 is pixel 0, +1 is pixel size-1.
    gx = sx / max(w - 1, 1) * 2 - 1
    gy = sy / max(h - 1, 1) * 2 - 1
    grid = torch.stack([gx, gy], dim=-1).to(device=x.device, dtype=x.dtype)[None].expand(b, h, w, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def apply(x: torch.Tensor, params: AugmentParams) -> torch.Tensor:
    """Apply one draw to a B x 3 x H x W tensor."""
    if params.grayscale:
        luma = x[:, 0:1] * 0.299 + x[:, 1:2] * 0.587 + x[:, 2:3] * 0.114
        x = luma.expand_as(x)
    if params.start is not None and params.end is not None:
        x = perspective(x, params.start, params.end)
    if params.hflip:
        x = x.flip(-1)
    return x


def joint_augment(render: torch.Tensor, conditions: list[torch.Tensor], cfg: AugmentConfig,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One random draw applied to the render and to each condition (all B x 3 x H x W, same H x W)."""
    params = draw_params(render.shape[-2], render.shape[-1], cfg, generator)
    return apply(render, params), [apply(c, params) for c in conditions]


# --------------------------------------------------------------------------- on the device, no host sync
def _homographies_t(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """3 x 3 homography mapping the four points ``src`` (4 x 2) onto ``dst`` (4 x 2), solved on their device.

    Uses ``solve_ex`` (no error check, so no device-to-host sync); float64 except on MPS (float32 there).
    """
    x, y = src[:, 0], src[:, 1]
    u, v = dst[:, 0], dst[:, 1]
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rows_u = torch.stack([x, y, one, zero, zero, zero, -u * x, -u * y], dim=-1)
    rows_v = torch.stack([zero, zero, zero, x, y, one, -v * x, -v * y], dim=-1)
    a = torch.stack([rows_u, rows_v], dim=1).reshape(8, 8)
    b = torch.stack([u, v], dim=1).reshape(8, 1)
    h = torch.linalg.solve_ex(a, b)[0][:, 0]
    return torch.cat([h, torch.ones_like(h[:1])]).view(3, 3)


class DeviceAugment:
    """The joint augmentation with every random number drawn on the images' device and no host round trip.

    Per step: one draw of 3 coins and 8 corner offsets (same distributions as ``draw_params``), one sampling
    grid built on the device, shared by the render and every condition. Transforms are blended with
    ``torch.where`` on device flags instead of Python branches, so a step's work does not depend on the draw
    (and could be captured in a CUDA graph).
    """

    def __init__(self, cfg: AugmentConfig, height: int, width: int, device: torch.device | str) -> None:
        self.cfg, self.height, self.width = cfg, height, width
        self.device = torch.device(device)
        fdt = torch.float32 if self.device.type == "mps" else torch.float64
        self.solve_dtype = fdt
        ys, xs = torch.meshgrid(torch.arange(height, device=self.device, dtype=fdt),
                                torch.arange(width, device=self.device, dtype=fdt), indexing="ij")
        self.pixels = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1)  # H x W x 3 homogeneous pixel centres
        w1, h1 = width - 1, height - 1
        self.corners = torch.tensor([[0, 0], [w1, 0], [w1, h1], [0, h1]], device=self.device, dtype=fdt)
        dx, dy = int(cfg.distortion * width / 2), int(cfg.distortion * height / 2)
        self.max_offset = torch.tensor([dx, dy], device=self.device, dtype=fdt)
        # offsets move each corner inwards: +x/+y for top-left, -x/+y top-right, -x/-y bottom-right, +x/-y left
        self.signs = torch.tensor([[1, 1], [-1, 1], [-1, -1], [1, -1]], device=self.device, dtype=fdt)
        self.scale = torch.tensor([2.0 / max(w1, 1), 2.0 / max(h1, 1)], device=self.device, dtype=fdt)
        self.identity_grid = (self.pixels[..., :2] * self.scale - 1).float()
        # made once: building it from a Python list every step would be a host-to-device copy per step
        self.probs = torch.tensor([cfg.p_grayscale, cfg.p_perspective, cfg.p_hflip], device=self.device)

    def draw(self, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """One draw on the device: flags (grayscale, perspective, flip) and the sampling grid (H x W x 2)."""
        cfg = self.cfg
        coins = torch.rand(3, device=self.device, generator=generator)
        u = torch.rand(4, 2, device=self.device, generator=generator, dtype=self.solve_dtype)
        flags = (coins < self.probs) & cfg.enabled
        # integer offsets uniform in 0..max (as torch.randint(0, max + 1)), drawn from uniforms on the device
        offsets = torch.floor(u * (self.max_offset + 1)).clamp_max(self.max_offset)
        end = self.corners + self.signs * offsets
        inv = _homographies_t(end, self.corners)  # output pixel -> input pixel
        pts = self.pixels @ inv.T
        warped = (pts[..., :2] / pts[..., 2:3] * self.scale - 1).float()
        use = flags[1] & (cfg.distortion > 0)
        grid = torch.where(use, warped, self.identity_grid)
        return {"gray": flags[0], "persp": use, "flip": flags[2], "grid": grid}

    def apply(self, x: torch.Tensor, draw: dict[str, torch.Tensor]) -> torch.Tensor:
        """Apply one draw to a B x C x H x W tensor (C = 3)."""
        luma = (x[:, 0:1] * 0.299 + x[:, 1:2] * 0.587 + x[:, 2:3] * 0.114).expand_as(x)
        x = torch.where(draw["gray"], luma, x)
        grid = draw["grid"].to(x.dtype)[None].expand(x.shape[0], -1, -1, -1)
        warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        x = torch.where(draw["persp"], warped, x)
        return torch.where(draw["flip"], x.flip(-1), x)

    def __call__(self, render: torch.Tensor, conditions: list[torch.Tensor],
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One random draw applied to the render and to each condition."""
        if not self.cfg.enabled:
            return render, conditions
        draw = self.draw(generator)
        return self.apply(render, draw), [self.apply(c, draw) for c in conditions]
