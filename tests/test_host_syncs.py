"""No host round trips inside a guidance step (CPU check with the tiny models).

On a GPU, building a tensor from Python data (``torch.tensor([...], device=...)``) is a host-to-device copy and
reading a tensor into Python (``float(t)``, ``bool(t)``, ``.item()``) waits for the device. Both show up in
PyTorch's dispatcher as ``aten.lift_fresh`` and ``aten._local_scalar_dense``; a dispatch mode counts them during one
step, after a first step that may set things up. (On a CUDA machine the same check is
``torch.cuda.set_sync_debug_mode("error")`` around a step, or capturing the step in a CUDA graph.)
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from tiny_if_models import build_cached_if
from tiny_models import build_cached
from torch.utils._python_dispatch import TorchDispatchMode

from engine.sdpixl.guidance.augment import AugmentConfig, DeviceAugment
from engine.sdpixl.guidance.pixel import PixelGuidance, PixelGuidanceConfig
from engine.sdpixl.guidance.sdxl import ControlNetSpec, SDXLGuidance, SDXLGuidanceConfig

HOST_OPS = ("aten.lift_fresh", "aten._local_scalar_dense")
ALWAYS = AugmentConfig(p_grayscale=1.0, p_perspective=1.0, p_hflip=1.0)


class HostTraffic(TorchDispatchMode):
    """Counts the dispatcher ops that copy Python data to a tensor or read a tensor back into Python."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        if name.startswith(HOST_OPS):
            self.counts[name.rsplit(".", 1)[0]] += 1
        return func(*args, **(kwargs or {}))


def host_traffic(step) -> Counter:
    """Run ``step`` once to warm up, then count its host ops on a second run."""
    step()
    with HostTraffic() as mode:
        step()
    return mode.counts


def test_the_augmentation_draw_stays_on_the_device():
    aug = DeviceAugment(ALWAYS, 16, 24, "cpu")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 16, 24)
    assert host_traffic(lambda: aug(x, [x.clone()], g)) == Counter()


def test_a_latent_guidance_step_has_no_host_round_trip(tiny_root):
    cn = str(build_cached("controlnet-sdxl", tiny_root))
    g = SDXLGuidance(SDXLGuidanceConfig(model=str(build_cached("sdxl", tiny_root)), prompt="a fox", seed=0,
                                        augment=ALWAYS, controlnets=[ControlNetSpec("canny", cn)]), 12, 18)
    g.conditions = [torch.rand(1, 3, *g.render_hw)]
    rgb = torch.rand(1, 3, 12, 18, requires_grad=True)
    assert host_traffic(lambda: g(rgb, 0.3)["loss_sds"].backward()) == Counter()


@pytest.mark.parametrize("fraction", [0.2, 0.8])  # stage I, stage II
def test_a_pixel_guidance_step_has_no_host_round_trip(tiny_root, fraction):
    stage1, stage2 = str(build_cached_if("if", tiny_root)), str(build_cached_if("if-sr", tiny_root))
    g = PixelGuidance(PixelGuidanceConfig(model=stage1, stage2=True, stage2_model=stage2, prompt="a fox", seed=0,
                                          augment=AugmentConfig(p_grayscale=1.0, p_perspective=0.0, p_hflip=1.0)))
    rgb = torch.rand(1, 3, 16, 16, requires_grad=True)
    assert host_traffic(lambda: g(rgb, fraction)["loss_sds"].backward()) == Counter()


def test_a_patch_crop_is_cut_without_reading_the_device():
    from engine.sdpixl.guidance.patch import crop_from_cells

    rgb = torch.rand(1, 3, 13, 21)
    assert host_traffic(lambda: crop_from_cells(rgb, 8, 37, 51, 32)) == Counter()
