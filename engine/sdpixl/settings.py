"""SD-piXL run settings in plain values, turned into a RunConfig in one place for the CLI and the app (Qt-free).

``RunSettings`` holds what a user chooses (prompt, size, palette and colour choices, model, ControlNets, steps...);
``build_run_config(settings) -> RunConfig`` applies it to a preset, resolving the colour choices with the
converter's rules (``engine.convert.colour_choice``). ``format_duration`` is the one way times are written;
``run_files(out)`` names the run folder, checkpoint and preview beside an output file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.core.palette import Palette

DEFAULT_CONTROLNETS = ("canny", "depth")  # the reference's pair ("-mid" nets at 0.15), on the latent path
CONTROLNET_CHOICES = ("auto", "none", "canny", "depth")
CHECKPOINT_EVERY = 100  # steps between checkpoints of a CLI run (plus one when it stops, ends or fails)
CHECKPOINT_SECONDS = 300.0  # ... and at least one every 5 minutes on a slow machine


class RunSettingsError(ValueError):
    """A setting cannot be used; the message says what to do."""


@dataclass
class RunSettings:
    """One SD-piXL run as a user describes it. ``None`` means "the preset's value"."""

    prompt: str
    palette: Palette
    width: int = 48
    height: int = 48
    negative_prompt: str = ""
    image: str | None = None
    depth_image: str | None = None
    preset: str = "fast"
    steps: int | None = None
    seed: int | None = None
    model: str | None = None
    model_config: str | None = None
    tiny_vae: str = "auto"
    device: str = "auto"
    dtype: str | None = None
    # "auto": canny + depth on the latent and patch paths, conditioned on the picture or, for text-only runs, on
    # the selected init sample (none on the pixel path or without either); "none"; or a list of kinds.
    controlnets: str | tuple[str, ...] | list[str] = "auto"
    controlnet_sources: dict[str, str] = field(default_factory=dict)
    controlnet_scale: float = 0.15
    depth_model: str | None = None
    lora: str | None = None
    lora_scale: float = 1.0
    guidance_scale: float | None = None
    guidance_mode: str = "auto"
    init: str = "auto"
    init_samples: int | None = None
    init_sample_steps: int | None = None
    clip_model: str | None = None
    compile: bool = False
    compile_mode: str = "default"
    fft_weight: float | None = None
    fidelity_weight: float | None = None
    preview_every: int = 10
    checkpoint_path: str | None = None
    checkpoint_every: int = 0
    checkpoint_seconds: float = 0.0
    resume: str | None = None
    colours: Any = None  # engine.convert.colour_choice.ColourChoice; None: every colour of the palette


def controlnet_kinds(value: str | tuple[str, ...] | list[str]) -> tuple[tuple[str, ...], bool]:
    """(kinds, auto) from "auto", "none", "canny,depth" or a list; unknown kinds are refused."""
    items = [k.strip().lower() for k in (value.split(",") if isinstance(value, str) else value) if str(k).strip()]
    if items == ["auto"]:
        return DEFAULT_CONTROLNETS, True
    if not items or items == ["none"]:
        return (), False
    bad = [k for k in items if k not in DEFAULT_CONTROLNETS]
    if bad:
        raise RunSettingsError(f"unknown ControlNet {bad[0]!r}; choose auto, none or {', '.join(DEFAULT_CONTROLNETS)}")
    return tuple(dict.fromkeys(items)), False


def build_run_config(s: RunSettings) -> Any:
    """The RunConfig (engine.sdpixl.optimize) for these settings; no model is loaded."""
    from engine.sdpixl.guidance.sdxl import ControlNetSpec
    from engine.sdpixl.optimize import OptimizeError, make_config

    kinds, auto = controlnet_kinds(s.controlnets)
    for kind in s.controlnet_sources:
        if kind not in DEFAULT_CONTROLNETS:
            raise OptimizeError(f"--controlnet-model must look like canny=SOURCE or depth=SOURCE, got {kind!r}")
    if s.depth_image and "depth" not in kinds:
        raise OptimizeError("--depth-image is only used with --controlnet depth")
    base = make_config(s.preset)
    g = copy.deepcopy(base.guidance)
    changes: dict[str, Any] = {
        "tiny_vae": s.tiny_vae, "device": s.device, "lora": s.lora, "lora_scale": s.lora_scale,
        "model_config": s.model_config,
        "controlnets": [ControlNetSpec(k, s.controlnet_sources.get(k), s.controlnet_scale) for k in kinds]}
    if s.compile:
        changes.update(compile=True, compile_mode=s.compile_mode)
    for name, value in (("model", s.model), ("dtype", s.dtype), ("guidance_scale", s.guidance_scale),
                        ("depth_model", s.depth_model)):
        if value is not None:
            changes[name] = value
    palette, budget = s.palette, None
    if s.colours is not None:
        from engine.convert.colour_choice import resolve_colours
        from engine.convert.pipeline import ConvertError

        try:
            resolved = resolve_colours(palette, s.colours)
        except ConvertError as exc:
            raise OptimizeError(str(exc)) from None
        palette, budget = resolved.palette, resolved.budget
    run: dict[str, Any] = {
        "prompt": s.prompt, "negative_prompt": s.negative_prompt, "image": s.image, "depth_image": s.depth_image,
        "width": s.width, "height": s.height, "palette": palette, "colour_budget": budget, "init": s.init,
        "seed": s.seed, "preview_every": max(1, s.preview_every), "guidance": replace(g, **changes),
        "auto_controlnets": auto, "guidance_mode": s.guidance_mode, "checkpoint_path": s.checkpoint_path,
        "checkpoint_every": s.checkpoint_every, "checkpoint_seconds": s.checkpoint_seconds, "resume": s.resume}
    for name, value in (("steps", s.steps), ("fft_weight", s.fft_weight), ("fidelity_weight", s.fidelity_weight),
                        ("init_samples", s.init_samples)):
        if value is not None:
            run[name] = value
    sample = base.sample_init
    if s.clip_model:
        sample = replace(sample, clip_model=s.clip_model)
    if s.init_sample_steps is not None:
        sample = replace(sample, inference_steps=s.init_sample_steps)
    run["sample_init"] = sample
    return replace(base, **run)


def format_duration(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min' ('?' when unknown): the one time format of the CLI and the app."""
    if seconds is None:
        return "?"
    s = int(max(0, round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


@dataclass(frozen=True)
class RunFiles:
    """Where a run keeps its work beside the output ``fox.pixl``: ``fox.run/checkpoint.pt`` and ``fox.preview.png``."""

    folder: Path
    checkpoint: Path
    preview: Path


def run_files(out: str | Path) -> RunFiles:
    """The run folder, checkpoint and latest-preview paths for the output file ``out``."""
    out = Path(out)
    folder = out.with_name(out.stem + ".run")
    return RunFiles(folder, folder / "checkpoint.pt", out.with_name(out.stem + ".preview.png"))
