"""What every medium shares: format registry, export errors, PDF helpers, chart symbols, counts, shopping."""

from engine.core.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "all_formats": "registry",
    "exporter_modules": "registry",
    "ExportError": "errors",
    "ExportResult": "result",
    "option": "optspec",
    "OptionSpec": "optspec",
    "export_png": "basic",
    "export_gpl": "basic",
    "export_counts_csv": "basic",
    "symbols_for": "symbols",
    "SpareRule": "shopping",
    "shopping_list": "shopping",
    "coverage": "shopping",
})
