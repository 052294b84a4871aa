"""Which guidance a design gets (pixel / latent / patch-wise), and honest estimates before the run starts.

``plan_guidance(width, height, ...) -> GuidancePlan`` picks the path from the design size, whether a DeepFloyd IF
model is available, and the device; it predicts seconds per step and peak device memory from the FLOP and memory
figures of the real architecture configs (``engine.sdpixl.costs``) and a throughput assumption for the device.
``make_guidance(mode, ...)`` builds the chosen guidance object. The CLI prints ``plan_for_run(config).summary()``
before a run; the GUI can show the same.

Rules (``mode="auto"``): designs up to ``PIXEL_MAX_SIDE`` cells a side get pixel-space guidance when an IF model is
available and no ControlNet is asked for (one cell per model pixel or more at 64 x 64); designs whose cells would
get fewer than ``MIN_CELL_PX`` pixels in the latent model's native render get patch-wise guidance; everything else
latent guidance.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.sdpixl.costs import MODEL_COSTS, T5_XXL_PARAMS
from engine.sdpixl.latent_profile import SDXL_DEFAULT, LatentProfile, latent_profile

log = logging.getLogger(__name__)

MODES = ("auto", "latent", "pixel", "patch")
PIXEL_MAX_SIDE = 64  # IF stage I's native 64 x 64: at most this many cells a side for >= 1 px per cell
MIN_CELL_PX = 8  # below this many render pixels per cell the latent model cannot shape single cells
PIXEL_NATIVE = 64
STEP_OVERHEAD_S = {"cuda": 0.012, "mps": 0.03, "cpu": 0.05}  # per-step host work, launches, optimiser
ENCODER_FWD_BWD = 2.0  # encoder forward + backward to its input ~ 2 forwards (frozen weights)
IF_MODEL_COST = {"IF-I-XL": "if-I-XL", "IF-I-L": "if-I-L", "IF-II-L": "if-II-L"}


@dataclass(frozen=True)
class DeviceSpec:
    """Throughput assumptions: *sustained* TFLOP/s reached by diffusion UNets (about 40 % of the data-sheet
    dense peak on GPUs), and memory."""

    name: str
    kind: str  # "cuda", "mps" or "cpu"
    tflops_half: float
    tflops_fp32: float
    memory_gib: float


DEVICES: dict[str, DeviceSpec] = {
    "H200": DeviceSpec("NVIDIA H200", "cuda", 400.0, 200.0, 141.0),
    "H100": DeviceSpec("NVIDIA H100", "cuda", 400.0, 200.0, 80.0),
    "A100": DeviceSpec("NVIDIA A100", "cuda", 125.0, 60.0, 80.0),
    "L40S": DeviceSpec("NVIDIA L40S", "cuda", 145.0, 36.0, 48.0),
    "4090": DeviceSpec("NVIDIA GeForce RTX 4090", "cuda", 66.0, 33.0, 24.0),
    "A10G": DeviceSpec("NVIDIA A10G", "cuda", 50.0, 12.0, 24.0),
    "T4": DeviceSpec("NVIDIA T4", "cuda", 20.0, 3.0, 16.0),
    "cuda": DeviceSpec("a CUDA GPU (unknown model)", "cuda", 60.0, 15.0, 24.0),
    "mps": DeviceSpec("Apple GPU (MPS)", "mps", 8.0, 4.0, 16.0),
    "cpu": DeviceSpec("CPU", "cpu", 0.1, 0.1, 16.0),
}


def detect_device(device: str = "auto") -> DeviceSpec:
    """The DeviceSpec for ``device`` ("auto", "cpu", "cuda", "mps", or a DEVICES key such as "H100")."""
    import torch

    if device in DEVICES and device not in ("cuda", "cpu", "mps"):
        return DEVICES[device]
    if device in ("auto", "cuda") and torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        mem = torch.cuda.get_device_properties(0).total_memory / 2**30
        for key, spec in DEVICES.items():
            if key in name:
                return replace(spec, name=name, memory_gib=mem)
        return replace(DEVICES["cuda"], name=name, memory_gib=mem)
    mps = getattr(torch.backends, "mps", None)
    if device in ("auto", "mps") and mps is not None and mps.is_available():
        return DEVICES["mps"]
    return replace(DEVICES["cpu"], memory_gib=_ram_gib())


def _ram_gib() -> float:
    """Physical memory of this machine (16 GiB when the OS does not say)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return 16.0


def if_model_available(source: str) -> bool:
    """True when the IF model ``source`` can be loaded without the network: a local diffusers folder, or a hub id
    whose model_index.json is in the Hugging Face cache."""
    path = Path(str(source)).expanduser()
    if path.is_dir():
        return (path / "model_index.json").is_file()
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(str(source), "model_index.json")
    except Exception:  # malformed ids and friends: simply not available
        return False
    return isinstance(hit, str)


def _if_cost_key(source: str, stage: str) -> str:
    for tag, key in IF_MODEL_COST.items():
        if tag in str(source):
            return key
    return "if-I-XL" if stage == "I" else "if-II-L"


@dataclass
class GuidancePlan:
    """The chosen guidance and its predicted cost. Times in seconds, memory in GiB (device memory)."""

    mode: str
    reason: str
    device: str
    width: int
    height: int
    render: tuple[int, int]  # model input (H, W): the latent render, the 64^2 pixel input, or one crop
    px_per_cell: float
    tflop_per_step: float
    seconds_per_step: float
    peak_gib: float
    load_peak_gib: float
    steps: int
    canvas: tuple[int, int] | None = None  # patch-wise: the canvas (H, W) in px
    crops_per_sweep: int = 0  # patch-wise: steps of one sweep over the canvas
    warnings: list[str] = field(default_factory=list)
    model: str = ""  # the model whose figures these are (latent and patch-wise: the latent profile's name)

    @property
    def total_seconds(self) -> float:
        return self.seconds_per_step * self.steps

    def summary(self) -> str:
        """A few human-readable lines for the CLI and the GUI."""
        def hms(s: float) -> str:
            s = int(round(s))
            return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"

        lines = [f"guidance: {self.mode} ({self.reason})" + (f"; model {self.model}" if self.model else ""),
                 f"model input {self.render[1]}x{self.render[0]} px, {self.px_per_cell:.1f} px per cell"]
        if self.canvas is not None:
            lines.append(f"canvas {self.canvas[1]}x{self.canvas[0]} px seen through {self.render[1]} px crops; "
                         f"one sweep = {self.crops_per_sweep} crop steps")
        lines.append(f"estimate on {self.device}: {self.tflop_per_step:.1f} TFLOP/step, "
                     f"{self.seconds_per_step:.2f} s/step, {self.steps} steps ~ {hms(self.total_seconds)}; "
                     f"peak memory ~{self.peak_gib:.1f} GiB (loading ~{self.load_peak_gib:.1f} GiB)")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _gib(n: float) -> float:
    return n / 2**30


def latent_cost(controlnets: int, half: bool, controlnet_size: str = "mid",
                model: LatentProfile | None = None) -> tuple[float, float, float]:
    """(FLOPs, peak bytes, weight bytes) of one latent SDS step of ``model`` (default SDXL base at 1024^2) with
    ``controlnets`` ControlNets of ``controlnet_size`` ("mid", SDXL's default nets, or "full")."""
    model = model or SDXL_DEFAULT
    unet, enc = model.unet, model.encoder
    cn = model.controlnet_mid if controlnet_size == "mid" else model.controlnet
    b = 2 if half else 4
    flops = 2 * unet.flops + controlnets * 2 * cn.flops + ENCODER_FWD_BWD * enc.flops
    weights = (unet.params + controlnets * cn.params + enc.params) * b
    acts = (2 * max(unet.act_bytes, cn.act_bytes if controlnets else 0.0) + enc.saved_bytes) * b / 4
    return flops, weights + acts, weights


def pixel_cost(model: str, stage2_model: str | None, half: bool) -> tuple[float, float, float, float]:
    """(FLOPs stage I, FLOPs stage II or 0, peak bytes, load peak bytes) of pixel-space SDS steps (CFG batch 2)."""
    b = 2 if half else 4
    s1 = MODEL_COSTS[_if_cost_key(model, "I")]
    s2 = MODEL_COSTS[_if_cost_key(stage2_model, "II")] if stage2_model else None
    weights = (s1.params + (s2.params if s2 else 0)) * b
    acts = 2 * max(s1.act_bytes, s2.act_bytes if s2 else 0.0) * b / 4
    load = max(T5_XXL_PARAMS * b, weights)
    return 2 * s1.flops, (2 * s2.flops if s2 else 0.0), weights + acts, load


def plan_guidance(width: int, height: int, mode: str = "auto", device: str = "auto", steps: int = 1500,
                  pixel_model: str | None = None, pixel_available: bool | None = None, stage2: bool = False,
                  stage2_model: str | None = None, controlnets: int = 0, half: bool | None = None,
                  patch_config: Any = None, controlnet_size: str = "mid",
                  latent: LatentProfile | None = None) -> GuidancePlan:
    """Choose the guidance for a width x height design and predict its cost (nothing is loaded).

    ``pixel_available``: whether the IF model can be loaded (None: look for ``pixel_model`` locally / in the cache).
    ``half``: half precision (None: on GPUs). ``patch_config``: a ``PatchGuidanceConfig`` (defaults otherwise).
    ``controlnet_size``: "mid" (the default ControlNets) or "full". ``latent``: the latent model's profile
    (``engine.sdpixl.latent_profile``; default SDXL base): its native size, render multiple and costs.
    """
    from engine.sdpixl.generator import render_size
    from engine.sdpixl.guidance.patch import PatchGuidanceConfig, axis_positions
    from engine.sdpixl.guidance.pixel import DEFAULT_IF_MODELS

    latent = latent or SDXL_DEFAULT
    native = latent.resolution

    if mode not in MODES:
        raise ValueError(f"unknown guidance {mode!r}; choose {', '.join(MODES)}")
    if width < 1 or height < 1:
        raise ValueError(f"design size must be positive, got {width}x{height}")
    spec = detect_device(device)
    half = spec.kind != "cpu" if half is None else half
    pixel_model = pixel_model or DEFAULT_IF_MODELS["I"]
    stage2_model = (stage2_model or DEFAULT_IF_MODELS["II"]) if stage2 else None
    side = max(width, height)
    latent_px = native / side
    warnings: list[str] = []
    reason = "chosen"
    if mode == "auto":
        available = if_model_available(pixel_model) if pixel_available is None else pixel_available
        if side <= PIXEL_MAX_SIDE and available and not controlnets:
            mode, reason = "pixel", f"{side} cells a side fit IF's 64x64 at >= 1 px per cell; no VAE"
        elif latent_px < MIN_CELL_PX:
            mode, reason = "patch", f"{latent_px:.1f} px per cell at {native}^2 is under {MIN_CELL_PX}"
        else:
            mode, reason = "latent", f"{latent_px:.1f} px per cell at {native}^2"
            if side <= PIXEL_MAX_SIDE and controlnets:
                reason += "; ControlNets need latent guidance"
            elif side <= PIXEL_MAX_SIDE and not available:
                reason += f"; pixel-space guidance would fit but {pixel_model} is not available offline"
    elif mode == "pixel" and side > PIXEL_MAX_SIDE:
        warnings.append(f"{side} cells a side exceed IF's 64x64: several cells share a model pixel")
    tput = (spec.tflops_half if half else spec.tflops_fp32) * 1e12
    overhead = STEP_OVERHEAD_S.get(spec.kind, 0.05)
    canvas, sweep = None, 0
    if mode == "pixel":
        f1, f2, peak, load = pixel_cost(pixel_model, stage2_model, half)
        flops = f1 if not stage2 else (f1 + f2) / 2  # stage II runs over half the run by default
        render, px = (PIXEL_NATIVE, PIXEL_NATIVE), PIXEL_NATIVE / side
        if stage2:
            render = (PIXEL_NATIVE * 4, PIXEL_NATIVE * 4)
    else:
        flops, peak, load = latent_cost(controlnets, half, controlnet_size, latent)
        render = render_size(height, width, native, latent.size_multiple, latent.max_aspect)
        px = min(render[0] / height, render[1] / width)
        if mode == "patch":
            pc = patch_config or PatchGuidanceConfig()
            patch = pc.patch or native
            scale = max(pc.cell_px, math.ceil(patch / min(width, height)))
            canvas = (height * scale, width * scale)
            sweep = len(axis_positions(canvas[0], patch, pc.overlap)) * len(axis_positions(canvas[1], patch,
                                                                                          pc.overlap))
            render, px = (patch, patch), float(scale)
    seconds = flops / tput + overhead
    plan = GuidancePlan(mode, reason, spec.name, width, height, render, px, flops / 1e12, seconds, _gib(peak),
                        _gib(max(load, peak)), steps, canvas, sweep, warnings,
                        f"{latent.name} ({latent.family}, {native} px)" if mode != "pixel" else "")
    if latent.assumed and mode != "pixel":
        warnings.append("the model's architecture could not be read offline: figures assume SDXL base")
    if plan.peak_gib > spec.memory_gib:
        warnings.append(f"predicted peak {plan.peak_gib:.1f} GiB exceeds the device's {spec.memory_gib:.0f} GiB")
    if spec.kind == "cpu":
        warnings.append("no GPU: figures assume a CPU and will be very slow with full-size models")
    return plan


def make_guidance(mode: str, latent: Any, pixel: Any = None, patch: Any = None, height: int | None = None,
                  width: int | None = None) -> Any:
    """Build the guidance for a resolved ``mode`` ("latent", "pixel" or "patch") from the configs of each path
    (``SDXLGuidanceConfig``, ``PixelGuidanceConfig``, ``PatchGuidanceConfig``); prompt and seed must already be
    set on them."""
    if mode == "pixel":
        from engine.sdpixl.guidance.pixel import PixelGuidance

        return PixelGuidance(pixel, height, width)
    from engine.sdpixl.guidance.sdxl import SDXLGuidance

    inner = SDXLGuidance(latent, height, width)
    if mode == "patch":
        from engine.sdpixl.guidance.patch import PatchGuidance

        return PatchGuidance(inner, patch, height, width)
    if mode != "latent":
        raise ValueError(f"unknown guidance {mode!r}; choose latent, pixel or patch")
    return inner


def plan_for_run(config: Any, device: str | None = None) -> GuidancePlan:
    """``plan_guidance`` for a RunConfig (engine.sdpixl.optimize): its size, mode, models, steps, ControlNets."""
    latent = config.guidance
    half = None if latent.dtype == "auto" else latent.dtype in ("fp16", "bf16")
    profile = latent_profile(latent.model, latent.model_config, latent.resolution, latent.tiny_vae)
    return plan_guidance(config.width, config.height, config.guidance_mode, device or latent.device, config.steps,
                         pixel_model=config.pixel.model, stage2=config.pixel.stage2,
                         stage2_model=config.pixel.stage2_model, controlnets=len(latent.controlnets), half=half,
                         patch_config=config.patch, controlnet_size=controlnet_size(latent.controlnets),
                         latent=profile)


def controlnet_size(specs: Any) -> str:
    """ "full" when any ControlNet source names a full net, else "mid" (the defaults are the "-mid" nets)."""
    sources = [str(s.source) for s in specs if s.source]
    return "full" if any("-mid" not in src for src in sources) else "mid"


def resolve_and_build(config: Any, latent: Any) -> Any:
    """Build the guidance a RunConfig asks for (``guidance_mode``, "auto" resolved by ``plan_for_run``), with the
    run's prompt and seed; ``latent`` is the run's SDXLGuidanceConfig with prompt and seed already set."""
    mode = config.guidance_mode
    if mode not in MODES:
        raise ValueError(f"unknown guidance {mode!r}; choose {', '.join(MODES)}")
    if mode == "auto":
        plan = plan_for_run(config)
        mode = plan.mode
        log.info("%s", plan.summary())
    pixel = replace(config.pixel, prompt=config.prompt, negative_prompt=config.negative_prompt, seed=config.seed,
                    device=latent.device if config.pixel.device == "auto" else config.pixel.device)
    if mode == "pixel" and config.image and latent.controlnets:
        raise ValueError("pixel-space guidance has no ControlNets: leave out --controlnet or use --guidance latent")
    return make_guidance(mode, latent, pixel, config.patch, config.height, config.width)
