"""Which exporter module writes which format, and the interface every exporter module provides.

The interface (one per medium, plus the common formats)::

    FORMATS: dict[str, str]
        format name -> one-line description in plain words (shown in the app and in `export --help`; no
        command-line flags in it). Names are unique across modules.
    OPTIONS: type
        the module's options dataclass; every field is made with ``exporters.common.optspec.option(...)``:
        flag, plain-words label, help, the formats it applies to (an explicit tuple), unit, choices with
        plain-words labels (and swatches), kind, minimum/maximum, parse (text -> value). Options shared by
        several modules (title, spares, bag size, stash) come from ``exporters.common.shared_options``.
    check(pattern, fmt, options) -> None
        every limit and option check for writing ``fmt`` with ``options`` (an OPTIONS instance), run BEFORE
        anything is allocated or written; raises ``ExportError`` with a one-line message. Resource limits go
        through ``exporters.common.limits_check`` (check_image, check_pdf_pages, check_embroidery).
    export(pattern, fmt, out: Path, options) -> ExportResult
        write ``fmt`` to ``out`` (plus companions such as a preview) and return
        ``ExportResult(files, report, warnings)``: the files written, summary lines, and warnings as their own
        plain-words list (never inside ``report``, never prefixed with "warning: ").

The CLI ``export`` command and the app's export dialog use these only through ``exporters.common.service``
(argparse flags, widgets, ``from_args``/``from_values`` are generated from ``OPTIONS``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXPORTER_MODULES = (
    "exporters.common.basic",
    "exporters.beads.chart",
    "exporters.bricks.mosaic",
    "exporters.embroidery.export",
)

TYPED_API = ("FORMATS", "OPTIONS", "check", "export")


def exporter_modules() -> list[ModuleType]:
    """The importable exporter modules, in a stable order."""
    mods = []
    for name in EXPORTER_MODULES:
        try:
            mods.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return mods


def is_typed(module: ModuleType) -> bool:
    """True when ``module`` provides the typed interface (FORMATS, OPTIONS, check, export)."""
    return all(hasattr(module, name) for name in TYPED_API)


def all_formats() -> dict[str, tuple[ModuleType, str]]:
    """format name -> (module, description)."""
    out: dict[str, tuple[ModuleType, str]] = {}
    for mod in exporter_modules():
        for fmt, desc in mod.FORMATS.items():
            if fmt in out:
                raise RuntimeError(f"export format {fmt!r} is claimed by two modules")
            out[fmt] = (mod, desc)
    return out
