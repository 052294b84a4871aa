"""Diffusion guidance objects (SDXL score distillation with ControlNets and LoRA) and model loading."""

from engine.core.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "SDXLGuidance": "sdxl",
    "SDXLGuidanceConfig": "sdxl",
    "ControlNetSpec": "sdxl",
    "ModelLoadError": "loading",
    "ModelOfflineError": "loading",
    "download_command": "loading",
    "hub_reachable": "loading",
    "load_pipeline": "loading",
    "resolve_source": "loading",
    "PixelGuidance": "pixel",
    "PixelGuidanceConfig": "pixel",
    "PatchGuidance": "patch",
    "PatchGuidanceConfig": "patch",
    "GuidanceCache": "cache",
    "shared_cache": "cache",
})
