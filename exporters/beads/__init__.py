"""Fuse-bead output: printable pegboard charts (PDF, PNG)."""

from engine.core.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "BeadChartOptions": "chart",
    "export_bead_chart_pdf": "chart",
    "export_chart_png": "chart",
    "resolve_board": "chart",
})
