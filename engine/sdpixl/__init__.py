"""SD-πXL: palette logits optimised by score distillation from a diffusion model (generator, losses, loop)."""

from engine.core.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "RunConfig": "optimize",
    "PRESETS": "optimize",
    "make_config": "optimize",
    "run_optimization": "optimize",
    "OptimizeError": "optimize",
    "run_settings": "optimize",
    "RunSettings": "settings",
    "build_run_config": "settings",
    "format_duration": "settings",
    "run_files": "settings",
    "SampleInitConfig": "select_init",
    "sample_and_select": "select_init",
    "PaletteGenerator": "generator",
    "TauSchedule": "generator",
    "fft_smoothness_loss": "losses",
    "fidelity_loss": "losses",
    "plan_guidance": "planner",
    "GuidancePlan": "planner",
})
