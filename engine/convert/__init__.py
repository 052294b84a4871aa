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
})
