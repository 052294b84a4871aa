"""Which exporter module writes which format (used by the CLI `export` command and the GUI).

Every exporter module listed here provides:

* ``FORMATS: dict[str, str]`` - format name -> one-line description (names are unique across modules);
* ``add_cli_arguments(parser)`` - its own CLI options (option names unique across modules);
* ``export_cli(pattern, fmt, out, args) -> list[Path]`` - write ``fmt`` to ``out``, return the files written.
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


def all_formats() -> dict[str, tuple[ModuleType, str]]:
    """format name -> (module, description)."""
    out: dict[str, tuple[ModuleType, str]] = {}
    for mod in exporter_modules():
        for fmt, desc in mod.FORMATS.items():
            if fmt in out:
                raise RuntimeError(f"export format {fmt!r} is claimed by two modules")
            out[fmt] = (mod, desc)
    return out
