"""Brick-mosaic output: parts lists (CSV, BrickLink XML) and build PDFs, with plate/tile merging."""

from engine.core.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "BrickOptions": "mosaic",
    "plan_parts": "mosaic",
    "export_parts_csv": "mosaic",
    "export_bricklink_xml": "mosaic",
    "export_build_pdf": "mosaic",
    "optimal_cover": "cover",
    "greedy_cover": "cover",
})
