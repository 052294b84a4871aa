"""Pattern -> files, one package per medium (beads, bricks, embroidery) plus common formats and the registry."""

from engine.core.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "all_formats": "common.registry",
    "exporter_modules": "common.registry",
    "ExportError": "common.errors",
})
