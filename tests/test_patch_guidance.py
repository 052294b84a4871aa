"""Patch-wise guidance for large designs, on the tiny SD 1.5-family model (CPU): exact crops, coverage of every
cell, cropped control images, the slider, and memory that does not grow with the design."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny_models import build_cached

from engine.sdpixl.guidance.augment import AugmentConfig
from engine.sdpixl.guidance.patch import PatchGuidance, PatchGuidanceConfig, axis_positions, crop_from_cells
from engine.sdpixl.guidance.sdxl import ControlNetSpec, SDXLGuidance, SDXLGuidanceConfig
from engine.sdpixl.optimize import build_guidance, make_config, run_optimization

DETAIL_ONLY = PatchGuidanceConfig(detail_from=0.0, global_every=0)


@pytest.fixture(scope="module")
def inner(tiny_root):
    cfg = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)), prompt="a castle", seed=0,
                             augment=AugmentConfig(enabled=False))
    return SDXLGuidance(cfg)


def test_crop_from_cells_equals_cropping_the_full_upsample():
    x = torch.rand(1, 3, 13, 21, generator=torch.Generator().manual_seed(0))
    for scale in (8, 11):
        big = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
        for top, left, size in [(0, 0, 32), (5, 17, 40), (13 * scale - 32, 21 * scale - 32, 32)]:
            crop = crop_from_cells(x, scale, top, left, size)
            assert torch.allclose(crop, big[..., top: top + size, left: left + size], atol=2e-6)


def test_one_sweep_covers_a_mural_canvas_evenly():
    fake = SimpleNamespace(render_hw=(1024, 1024), resolution=1024, size_multiple=64, generator=None,
                           set_target_size=lambda h, w: (1024, 1024))
    g = PatchGuidance(fake, PatchGuidanceConfig(), 290, 290)
    assert g.scale == 8 and g.canvas_hw == (2320, 2320)  # at least 8 px per cell
    gen = torch.Generator().manual_seed(0)
    hits = np.zeros(g.canvas_hw, dtype=np.int32)
    for _ in range(g.positions_per_epoch):
        top, left = g.next_crop(gen)
        assert 0 <= top <= 2320 - 1024 and 0 <= left <= 2320 - 1024
        hits[top: top + 1024, left: left + 1024] += 1
    assert hits.min() >= 1  # every pixel (so every cell) inside one sweep
    assert hits.max() <= 4 * hits.min() + 4
    assert axis_positions(2320, 1024, 0.5) == [0, 432, 864, 1296]


def test_every_cell_gets_gradient_within_one_sweep(inner):
    g = PatchGuidance(inner, DETAIL_ONLY, 12, 10)
    assert g.patch == 32 and g.canvas_hw == (96, 80)
    bound = g.positions_per_epoch
    assert bound == 20
    seen = torch.zeros(12, 10, dtype=torch.bool)
    rgb0 = torch.rand(1, 3, 12, 10, generator=torch.Generator().manual_seed(1))
    steps = 0
    while not bool(seen.all()):
        assert steps < bound, f"cells still without gradient after {steps} steps"
        rgb = rgb0.clone().requires_grad_(True)
        out = g(rgb, 0.5)
        assert int(out["patch"]) == 1 and g.last_box[2:] == (32, 32)
        out["loss_sds"].backward()
        touched = rgb.grad.abs().sum(1)[0] > 0
        top, left, _, _ = g.last_box
        inside = torch.zeros_like(touched)
        def support(start: int) -> slice:  # cells the bilinear samples of pixels start..start+31 read
            return slice(max(0, math.floor((start + 0.5) / 8 - 0.5)), math.floor((start + 31.5) / 8 - 0.5) + 2)

        inside[support(top), support(left)] = True
        assert not bool((touched & ~inside).any())  # a crop only moves the cells it shows
        seen |= touched
        steps += 1
    assert steps <= bound


def test_slider_and_global_passes(inner):
    g = PatchGuidance(inner, PatchGuidanceConfig(detail_from=0.5, global_every=3), 12, 10)
    kinds = [int(g(torch.rand(1, 3, 12, 10), f)["patch"]) for f in (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
    # steps 0..2 before the slider are global; afterwards step % 3 == 0 is global (steps 3 and 6)
    assert kinds == [0, 0, 0, 0, 1, 1, 0, 1]
    assert inner.render_hw == g.global_hw  # the wrapped guidance is left as it was


def test_control_images_are_cropped_like_the_render(tiny_root, sample_image_path):
    from engine.sdpixl.optimize import crop_to_aspect, load_rgb

    cn = str(build_cached("controlnet-sd15", tiny_root))
    cfg = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)), prompt="a cat", seed=0,
                             controlnets=[ControlNetSpec("canny", cn)])
    g = PatchGuidance(SDXLGuidance(cfg), DETAIL_ONLY, 12, 16)
    photo = crop_to_aspect(load_rgb(sample_image_path), 16, 12)
    g.prepare_conditions(photo)
    (plane,) = g.canvas_planes
    assert plane.shape == g.canvas_hw and plane.dtype == np.uint8 and 0 < plane.mean() < 255
    (crop,) = g._crop_conditions(40, 24)
    assert torch.allclose(crop[0, 0], torch.from_numpy(plane[40:72, 24:56] / 255.0).float())
    out = g(torch.rand(1, 3, 12, 16, requires_grad=True), 0.5)
    assert torch.isfinite(out["loss_sds"])
    assert len(g.inner.conditions) == 1 and g.inner.conditions[0].shape[-1] == g.global_hw[1]  # restored


def _peak_step_bytes(guidance, cells: tuple[int, int]) -> int:
    """Peak CPU memory allocated during one guidance step (forward + backward), from the allocator's events."""
    from torch.profiler import ProfilerActivity, profile

    rgb = torch.rand(1, 3, *cells, generator=torch.Generator().manual_seed(0), requires_grad=True)
    guidance.generator.manual_seed(0)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        guidance(rgb, 0.5)["loss_sds"].backward()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]")
    live = peak = 0
    for _, n in events:
        live += n
        peak = max(peak, live)
    return peak


def test_patch_step_memory_does_not_grow_with_the_design(inner):
    small, large = (12, 10), (48, 40)  # canvases 96 x 80 and 384 x 320 px
    patched = [_peak_step_bytes(PatchGuidance(inner, DETAIL_ONLY, *size), size) for size in (small, large)]
    cell_bytes = 3 * 4 * (large[0] * large[1])  # the design's own render/gradient, unavoidable
    assert patched[1] <= patched[0] * 1.05 + 4 * cell_bytes
    # Control: the same model run on the whole canvas at once does grow with the design.
    whole = []
    for h, w in (small, large):
        inner.set_target_size(h, w)
        inner.render_hw = (h * 8, w * 8)
        whole.append(_peak_step_bytes(inner, (h, w)))
    inner.set_target_size(32, 32)
    assert whole[1] > 8 * whole[0]
    assert patched[1] < whole[1] / 8


def test_run_loop_with_patch_guidance(tiny_root, perler):
    g = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)))
    config = make_config("fast", prompt="a castle", palette=perler.subset(list(range(6))), width=12, height=10,
                         steps=4, warmup=0, seed=3, guidance=g, guidance_mode="patch",
                         patch=replace(DETAIL_ONLY, detail_from=0.5, global_every=2))
    guidance = build_guidance(config)
    assert isinstance(guidance, PatchGuidance) and guidance.canvas_hw == (80, 96)
    seen = []
    pattern = run_optimization(config, guidance=guidance, callback_on_step_end=lambda i: seen.append(i.losses))
    assert pattern.shape == (10, 12) and len(seen) == 4
    assert all(np.isfinite(s["sds"]) and s["grad_norm"] > 0 for s in seen)


class RecordingInner:
    """A stand-in for an SDXL guidance with precomputed micro-conditioning ``time_ids``: records what each call
    sees and returns a loss that reads every pixel."""

    def __init__(self) -> None:
        self.render_hw = (32, 32)
        self.resolution, self.size_multiple = 32, 4
        self.generator = torch.Generator()
        self.conditions: list[torch.Tensor] = []
        self.time_ids = torch.tensor([[32.0, 32.0, 0.0, 0.0, 32.0, 32.0]])
        self.seen: list[tuple] = []

    def set_target_size(self, height: int, width: int) -> tuple[int, int]:
        return self.render_hw

    def __call__(self, rgb, step_fraction, generator=None):
        self.seen.append((tuple(rgb.shape[-2:]), self.time_ids.tolist()[0]))
        return {"loss_sds": rgb.sum(), "t": torch.tensor(500), "grad_norm": torch.tensor(1.0)}


def test_crops_repeat_with_the_seed_and_carry_sdxl_crop_conditioning():
    inner = RecordingInner()
    g = PatchGuidance(inner, DETAIL_ONLY)

    def boxes(seed: int) -> list[tuple]:
        g.set_target_size(12, 10)  # what the run loop does at the start of every run
        inner.generator.manual_seed(seed)
        out = []
        for _ in range(6):
            g(torch.rand(1, 3, 12, 10), 0.5)
            out.append(g.last_box)
        return out

    first, again, other = boxes(1), boxes(1), boxes(2)
    assert first == again and first != other
    (hw, ids) = inner.seen[-1]
    top, left, p, _ = g.last_box
    assert hw == (32, 32) and ids == [96.0, 80.0, float(top), float(left), 32.0, 32.0]  # canvas, crop corner, crop
    assert inner.time_ids.tolist()[0] == [32.0, 32.0, 0.0, 0.0, 32.0, 32.0]  # restored after the step


def test_crop_steps_draw_t_from_the_capped_range(inner):
    g = PatchGuidance(inner, replace(DETAIL_ONLY, crop_t_max=0.3), 12, 10)
    ts = [int(g(torch.rand(1, 3, 12, 10), 0.0)["t"]) for _ in range(16)]  # t_max is 0.98 at the run's start
    assert all(20 <= t <= 300 for t in ts) and len(set(ts)) > 3
    assert inner.t_max_cap == 1.0  # the wrapped guidance keeps its full range for global passes
    inner.generator.manual_seed(0)
    assert max(int(inner(torch.rand(1, 3, 12, 10), 0.0)["t"]) for _ in range(16)) > 300
    assert PatchGuidanceConfig().crop_t_max == 0.6  # Pixelsmith's x2 slider: crops free below t ~ 600


def test_crop_time_ids_stay_within_sdxl_s_trained_offsets():
    inner = RecordingInner()
    g = PatchGuidance(inner, DETAIL_ONLY, 100, 100)  # canvas 800 px, crops of 32 px: corners up to 768 px
    assert g.canvas_hw == (800, 800)
    assert g.crop_offsets(0, 0) == (0, 0) and g.crop_offsets(768, 768) == (512, 512)
    assert g.crop_offsets(384, 100) == (256, round(100 * 512 / 768))  # scaled, order kept
    small = PatchGuidance(RecordingInner(), DETAIL_ONLY, 12, 10)
    assert small.crop_offsets(64, 48) == (64, 48)  # within range: unchanged
    for _ in range(12):
        g(torch.rand(1, 3, 100, 100), 0.5)
        top, left, _, _ = g.last_box
        ids = inner.seen[-1][1]
        assert ids[:2] == [800.0, 800.0] and ids[2:4] == list(map(float, g.crop_offsets(top, left)))
        assert 0 <= ids[2] <= 512 and 0 <= ids[3] <= 512


def test_canny_for_crops_finds_the_photo_s_edges_on_an_upscaled_canvas(tiny_root, sample_image_path):
    """A small photo on a big canvas: Canny at canvas pixels with the usual thresholds found no edges at all; the
    canvas edges must be the photo's own edges (most native edges have a canvas edge in their footprint)."""
    from PIL import Image

    from engine.sdpixl.guidance.controls import canny
    from engine.sdpixl.optimize import crop_to_aspect, load_rgb

    cn = str(build_cached("controlnet-sd15", tiny_root))
    cfg = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)), prompt="a cat", seed=0,
                             controlnets=[ControlNetSpec("canny", cn)])
    g = PatchGuidance(SDXLGuidance(cfg), replace(DETAIL_ONLY, cell_px=40), 12, 16)
    photo = crop_to_aspect(load_rgb(sample_image_path), 16, 12)
    photo = np.asarray(Image.fromarray(photo).resize((128, 96), Image.BILINEAR))  # canvas 480 x 640: 5x the photo
    g.prepare_conditions(photo)
    (plane,) = g.canvas_planes
    s = g.canvas_hw[0] // photo.shape[0]
    assert plane.shape == g.canvas_hw and s == 5
    native = canny(photo) > 0
    edges = plane > 127
    fraction = edges.mean()
    assert fraction > 0.4 * native.mean() / s  # thin lines at canvas scale: about native fraction / s
    pooled = edges.reshape(photo.shape[0], s, photo.shape[1], s).any(axis=(1, 3))
    near = ndimage_dilate(pooled)
    assert (near & native).sum() >= 0.6 * native.sum()  # the photo's own edges


def ndimage_dilate(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(mask, structure=np.ones((3, 3), dtype=bool))


def test_a_resumed_patch_wise_run_continues_like_an_uninterrupted_one(tiny_root, perler, tmp_path):
    from engine.core.progress import CancelToken

    g = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)))
    config = make_config("fast", prompt="a castle", palette=perler.subset(list(range(6))), width=12, height=10,
                         steps=6, warmup=0, seed=3, guidance=g, guidance_mode="patch",
                         patch=replace(DETAIL_ONLY, detail_from=0.2, global_every=3))
    finals, boxes = {}, {"full": [], "resumed": []}

    def watch(name, guidance, token=None):
        def on_step(info):
            boxes[name].append(guidance.last_box)
            finals[name] = info.generator.logits.detach().clone()
            if token is not None and info.step == 3:
                token.cancel()
        return on_step

    full = build_guidance(config)
    run_optimization(config, guidance=full, callback_on_step_end=watch("full", full))
    ckpt, token = tmp_path / "mural.ckpt", CancelToken()
    first = build_guidance(config)
    run_optimization(replace(config, checkpoint_path=str(ckpt)), guidance=first, cancel=token,
                     callback_on_step_end=watch("resumed", first, token))
    assert boxes["resumed"] == boxes["full"][:3]
    again = build_guidance(config)
    run_optimization(replace(config, resume=str(ckpt)), guidance=again, callback_on_step_end=watch("resumed", again))
    assert boxes["resumed"] == boxes["full"]  # the same crops after the resume
    assert torch.allclose(finals["resumed"], finals["full"], atol=1e-5)
