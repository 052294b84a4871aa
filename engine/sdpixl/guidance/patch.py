"""Patch-wise score distillation for large designs (murals): SDS on native-resolution crops of a big render.

The design (H x W cells) is seen at ``s`` px per cell (``s >= cell_px``, default 8), a canvas of ``sH x sW`` px
that is never built: each step renders only one ``patch x patch`` crop straight from the cells it covers
(bilinear, identical to cropping the full upsample), so memory is bounded by one patch whatever the design size.

- Crops come from a per-epoch plan: an overlapping grid of positions (spacing ``patch * (1 - overlap)``, first
  and last flush with the canvas edges, inner ones jittered), visited in a shuffled order, so every cell is
  covered once per epoch (``positions`` steps) and uniformly over time.
- ControlNet conditions are computed once at canvas size (on the CPU, one byte per pixel) and cropped the same way
  as the render.
- A global pass (the wrapped guidance at its native resolution on the whole design) keeps the structure: every
  step before the slider ``detail_from`` (a run fraction), then one step in ``global_every`` afterwards.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.sdpixl.generator import letterbox_array

log = logging.getLogger(__name__)


@dataclass
class PatchGuidanceConfig:
    """Patch-wise guidance settings (the wrapped latent guidance keeps its own config)."""

    cell_px: int = 8  # at least this many canvas pixels per cell
    patch: int | None = None  # crop side in px (None: the wrapped model's native resolution)
    overlap: float = 0.5  # fraction of a crop shared with its neighbour in the position grid
    detail_from: float = 0.25  # the slider: run fraction where patch detail takes over from the global pass
    global_every: int = 4  # after the slider, one step in this many is still a global pass (0: never)


def axis_positions(length: int, patch: int, overlap: float) -> list[int]:
    """Evenly spaced crop starts along one axis covering [0, length) with crops of ``patch`` (first at 0, last
    at ``length - patch``), spacing at most ``patch * (1 - overlap)``."""
    if length <= patch:
        return [0]
    step = max(1.0, patch * (1.0 - overlap))
    n = int(math.ceil((length - patch) / step)) + 1
    return [int(round(k * (length - patch) / (n - 1))) for k in range(n)]


def crop_from_cells(rgb: torch.Tensor, scale: int, top: int, left: int, size: int) -> torch.Tensor:
    """The ``size`` x ``size`` crop at (top, left) of the bilinear upsample of ``rgb`` (B x 3 x H x W) by the
    integer ``scale``, computed from the few cells it covers only (equal to cropping ``F.interpolate``'s output,
    align_corners=False)."""
    _, _, h, w = rgb.shape

    def coords(start: int, n: int, cells: int) -> tuple[int, int, torch.Tensor]:
        pix = torch.arange(start, start + n, dtype=torch.float64, device=rgb.device)
        src = ((pix + 0.5) / scale - 0.5).clamp(0, cells - 1)
        lo = int(math.floor(float(src[0])))
        hi = min(cells - 1, int(math.floor(float(src[-1]))) + 1)
        return lo, hi, src - lo

    y0, y1, sy = coords(top, size, h)
    x0, x1, sx = coords(left, size, w)
    window = rgb[:, :, y0: y1 + 1, x0: x1 + 1]
    wh, ww = window.shape[-2:]
    gy = sy / max(wh - 1, 1) * 2 - 1 if wh > 1 else torch.zeros_like(sy)
    gx = sx / max(ww - 1, 1) * 2 - 1 if ww > 1 else torch.zeros_like(sx)
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1).to(rgb.dtype)
    grid = grid[None].expand(rgb.shape[0], -1, -1, -1)
    return F.grid_sample(window, grid, mode="bilinear", padding_mode="border", align_corners=True)


class PatchGuidance:
    """Wraps an SDXL-like guidance (``render_hw``, ``conditions``, ``prepare_conditions``, ``__call__``) and
    applies it to native-resolution crops of a large canvas plus global passes."""

    def __init__(self, inner: Any, config: PatchGuidanceConfig | None = None, height: int | None = None,
                 width: int | None = None) -> None:
        self.inner = inner
        self.config = config or PatchGuidanceConfig()
        self.device = getattr(inner, "device", torch.device("cpu"))
        self.generator = getattr(inner, "generator", None) or torch.Generator().manual_seed(0)
        self.crop_generator = torch.Generator()  # CPU: crop plans are host-side integers; seeded once per run
        self._seeded = False
        self.global_hw = tuple(inner.render_hw)
        multiple = int(getattr(inner, "size_multiple", 8))
        native = int(getattr(inner, "resolution", self.global_hw[0]))
        side = self.config.patch or native
        self.patch = max(multiple, side // multiple * multiple)
        self.global_conditions: list[torch.Tensor] = []
        self.canvas_planes: list[np.ndarray] = []
        self._plan: list[tuple[int, int]] = []
        self.visits: np.ndarray | None = None  # times each canvas crop position was used (for reports)
        self.last_box: tuple[int, int, int, int] | None = None
        if height and width:
            self.set_target_size(height, width)

    # ----------------------------------------------------------------- geometry
    def set_target_size(self, height: int, width: int) -> tuple[int, int]:
        """Choose the canvas (integer px per cell, at least ``cell_px`` and at least one crop) and the global
        render size; returns the canvas size (H, W)."""
        self.cells = (height, width)
        self.scale = max(self.config.cell_px, int(math.ceil(self.patch / min(height, width))))
        self.canvas_hw = (height * self.scale, width * self.scale)
        self._crop_state = self._size_state(1, 1, self.patch)  # the wrapped guidance set up for one square crop
        self._global_state = self._size_state(height, width)
        self.global_hw = tuple(self._global_state["render_hw"])
        self.ys = axis_positions(self.canvas_hw[0], self.patch, self.config.overlap)
        self.xs = axis_positions(self.canvas_hw[1], self.patch, self.config.overlap)
        self._plan = []
        self._step = -1  # a new run starts its slider schedule and crop plan afresh
        self._seeded = False
        return self.canvas_hw

    def _size_state(self, height: int, width: int, resolution: int | None = None) -> dict[str, Any]:
        """Set the wrapped guidance up for a height x width design (at ``resolution`` when given) and return every
        attribute that this changed (render size, and whatever it precomputes for it: time ids, augmentation
        grids...), so crop and global steps can swap between two ready states without recomputing them."""
        inner = self.inner
        if not hasattr(inner, "set_target_size"):
            return {"render_hw": (self.patch, self.patch) if resolution else tuple(inner.render_hw)}
        saved_res = getattr(inner, "resolution", None)
        if resolution is not None and saved_res is not None:
            inner.resolution = resolution
        before = dict(vars(inner))
        try:
            inner.set_target_size(height, width)
        finally:
            if saved_res is not None:
                inner.resolution = saved_res
        after = vars(inner)
        state = {k: v for k, v in after.items() if k not in before or v is not before[k]}
        state["render_hw"] = tuple(after["render_hw"])
        if resolution is not None:
            state["render_hw"] = (resolution, resolution)
        return state

    def _apply_state(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self.inner, key, value)

    @property
    def positions_per_epoch(self) -> int:
        """Crops in one sweep over the canvas (every cell is covered once per sweep)."""
        return len(self.ys) * len(self.xs)

    def _crop_rng(self, g: torch.Generator) -> torch.Generator:
        """The CPU generator of the crop plan, seeded once per run from the guidance's (seeded) generator, so a
        run with the same seed visits the same crops."""
        if not self._seeded:
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g, device=g.device))
            self.crop_generator.manual_seed(seed)
            self._seeded = True
        return self.crop_generator

    def next_crop(self, g: torch.Generator) -> tuple[int, int]:
        """The next crop start (top, left) in canvas px from this sweep's shuffled plan (a new sweep when empty)."""
        if not self._plan:
            order = torch.randperm(self.positions_per_epoch, generator=g).tolist()
            plan = []
            for k in order:
                i, j = divmod(k, len(self.xs))
                plan.append((self._jitter(self.ys, i, self.canvas_hw[0], g),
                             self._jitter(self.xs, j, self.canvas_hw[1], g)))
            self._plan = plan
        return self._plan.pop()

    def _jitter(self, starts: list[int], i: int, length: int, g: torch.Generator) -> int:
        """Move an inner crop start by up to half the slack between neighbours (edges stay flush), so crops
        still overlap their neighbours and the canvas stays covered."""
        if i == 0 or i == len(starts) - 1:
            return starts[i]
        spacing = starts[1] - starts[0]
        slack = max(0, (self.patch - spacing) // 2)
        shift = int(torch.randint(-slack, slack + 1, (1,), generator=g)) if slack else 0
        return min(max(starts[i] + shift, 0), length - self.patch)

    # ----------------------------------------------------------------- conditions
    def prepare_conditions(self, image: np.ndarray | None, depth_image: np.ndarray | None = None) -> None:
        """Conditions for both passes: the wrapped guidance's at its global size, and the same planes at canvas
        size (kept on the CPU as bytes) for cropping."""
        if not hasattr(self.inner, "prepare_conditions"):
            return
        self.inner.prepare_conditions(image, depth_image)
        self.global_conditions = list(getattr(self.inner, "conditions", []))
        self.canvas_planes = []
        if not self.global_conditions or image is None:
            return
        from engine.sdpixl.guidance.controls import canny, normalise_depth, to_gray

        big = letterbox_array(image, self.canvas_hw)
        cfg = getattr(self.inner, "config", None)
        for spec, cond in zip(getattr(cfg, "controlnets", []), self.global_conditions):
            if spec.kind == "canny":
                plane = canny(big, cfg.canny_low, cfg.canny_high)
            elif depth_image is not None:
                plane = normalise_depth(to_gray(letterbox_array(depth_image, self.canvas_hw)))
            else:  # estimated depth: upsample the global estimate (depth is smooth)
                plane = F.interpolate(cond[:, :1].float().cpu(), size=self.canvas_hw, mode="bilinear",
                                      align_corners=False)[0, 0].numpy()
            self.canvas_planes.append((np.clip(plane, 0.0, 1.0) * 255.0).round().astype(np.uint8))

    def _crop_conditions(self, top: int, left: int) -> list[torch.Tensor]:
        p = self.patch
        out = []
        for plane in self.canvas_planes:
            crop = torch.from_numpy(plane[top: top + p, left: left + p].astype(np.float32) / 255.0)
            out.append(crop[None, None].expand(1, 3, p, p).to(self.device))
        return out

    # ----------------------------------------------------------------- the step
    def is_global(self, step: int, step_fraction: float) -> bool:
        """Whether this step is a global pass (before the slider, or every ``global_every``-th step after)."""
        if step_fraction < self.config.detail_from:
            return True
        return self.config.global_every > 0 and step % self.config.global_every == 0

    def __call__(self, rgb: torch.Tensor, step_fraction: float,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """One SDS step: a global pass or one crop; returns the wrapped guidance's outputs plus ``patch``
        (1 for a crop) and the crop box in ``last_box`` (top, left, height, width in canvas px)."""
        g = generator or self.generator
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise ValueError(f"guidance expects B x 3 x H x W images, got {tuple(rgb.shape)}")
        if tuple(rgb.shape[-2:]) != getattr(self, "cells", None):
            self.set_target_size(rgb.shape[-2], rgb.shape[-1])
        self._step += 1
        if self.is_global(self._step, step_fraction):
            self.last_box = None
            self._apply_state(self._global_state)
            self.inner.conditions = self.global_conditions
            out = dict(self.inner(rgb, step_fraction, g))
            out["patch"] = torch.tensor(0)
            return out
        top, left = self.next_crop(self._crop_rng(g))
        p = self.patch
        self.last_box = (top, left, p, p)
        crop = crop_from_cells(rgb.to(self.device, torch.float32), self.scale, top, left, p)
        conditions = getattr(self.inner, "conditions", [])
        prev_ids = getattr(self.inner, "time_ids", None)
        self._apply_state(self._crop_state)
        self.inner.conditions = self._crop_conditions(top, left)
        ids = getattr(self.inner, "time_ids", None)
        if ids is not None:  # SDXL micro-conditioning: original size = the canvas, crop top-left, target = the crop
            ch, cw = self.canvas_hw
            self.inner.time_ids = torch.tensor([[ch, cw, top, left, p, p]], device=ids.device, dtype=ids.dtype)
        try:
            out = dict(self.inner(crop, step_fraction, g))
        finally:  # leave the wrapped guidance as the run set it up (global size, global conditions)
            self._apply_state(self._global_state)
            self.inner.conditions = conditions
            if prev_ids is not None and "time_ids" not in self._global_state:
                self.inner.time_ids = prev_ids
        out["patch"] = torch.tensor(1)
        return out
