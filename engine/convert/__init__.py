"""The fast CPU converter: picture -> Pattern by resampling, dithering and region cleanup."""

from engine.core.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "ConvertConfig": "pipeline",
    "ConvertError": "pipeline",
    "convert_image": "pipeline",
    "parse_size": "pipeline",
    "downsample_area": "pipeline",
    "DITHER_METHODS": "dither",
    "CleanupConfig": "cleanup",
    "AUTO_SIZE": "pipeline",
    "PixelGrid": "grid",
    "detect_grid": "grid",
    "sample_grid": "grid",
    "summary_lines": "pipeline",
    "allowed_colors": "pipeline",
    "INTENTS": "intent",
    "choose_intent": "intent",
    "DEFAULT_MAX_COLORS": "budget",
    "default_min_count": "budget",
    "read_stash": "stash",
    "parse_stash": "stash",
    "format_stash": "stash",
    "StashError": "stash",
    "lego_sets": "stash",
    "load_set": "stash",
    "set_palette": "stash",
})
