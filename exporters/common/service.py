"""The export service: the one path from a pattern and option values to files, used by the CLI ``export`` command
and the app's export dialog alike.

    specs = option_specs(["bead-pdf"])                  # what to ask for (flags, labels, units, choices)
    result = export(pattern, "bead-pdf", Path("fox-beads.pdf"), {"paper": "A3"}, inputs=[project])
    result.files, result.report, result.warnings         # an ExportResult

Steps of :func:`export`: the output path is checked against the inputs and its format
(``engine.core.outputs.check_outputs``), the options object is built from the values (:func:`build_options`:
argparse namespace or a name -> value mapping; text is parsed, numbers range-checked), the exporter's ``check``
runs every limit, then its ``export`` writes and returns the ExportResult. It also says which formats fit a
medium, which to propose, and the default file name of each format (distinct per format).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping

from engine.core import limits
from engine.core.outputs import FORMAT_SUFFIXES, check_outputs
from engine.core.pattern import Pattern
from exporters.common.errors import ExportError
from exporters.common.optspec import OptionSpec, add_spec_arguments, from_values, merge_specs
from exporters.common.optspec import option_specs as class_specs
from exporters.common.registry import exporter_modules, is_typed
from exporters.common.result import ExportResult

# Which exporter module serves which medium kind (engine.core.medium.MEDIUM_KINDS); exporters.common.basic
# (png, gpl, counts-csv) fits every medium.
MEDIUM_MODULES: dict[str, tuple[str, ...]] = {
    "bead": ("exporters.beads.chart",),
    "brick": ("exporters.bricks.mosaic",),
    "thread": ("exporters.embroidery.export",),
    "pixel": (),
}
GENERAL_MODULE = "exporters.common.basic"

# What to propose when the user has not chosen yet: what a maker of that medium needs first.
DEFAULT_FORMATS: dict[str, tuple[str, ...]] = {
    "bead": ("bead-pdf",),
    "brick": ("build-pdf", "bricklink-xml"),
    "thread": ("pes",),  # keeps the thread list, read by most home machines
    "pixel": ("png",),
}

# The word a default file name gets per format ("fox-beads.pdf"); formats not listed use the part of their name
# before the suffix ("parts-csv" -> "parts"), and a format that is its own suffix ("png", "pes") adds nothing.
FILE_WORDS: dict[str, str] = {"bead-pdf": "beads", "chart-png": "chart", "stitch-png": "stitches",
                              "counts-csv": "colours", "gpl": "colours"}


# ----------------------------------------------------------------------------- exporters


class _Exporter:
    """An exporter module (the typed interface of exporters.common.registry) as the service uses it."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.formats: dict[str, str] = dict(module.FORMATS)
        self.options_cls: type = module.OPTIONS

    def specs(self) -> list[OptionSpec]:
        return class_specs(self.options_cls)

    def build(self, values: Mapping[str, Any]) -> Any:
        options = from_values(self.options_cls, values)
        title = getattr(options, "title", None)
        if isinstance(title, str) and dataclasses.is_dataclass(options):  # one clip for every title
            options = dataclasses.replace(options, title=limits.clip_title(title))
        return options

    def check(self, pattern: Pattern, fmt: str, options: Any) -> None:
        self.module.check(pattern, fmt, options)

    def export(self, pattern: Pattern, fmt: str, out: Path, options: Any) -> ExportResult:
        result = self.module.export(pattern, fmt, out, options)
        if not isinstance(result, ExportResult):
            raise TypeError(f"{self.module.__name__}.export must return an ExportResult, got {type(result)}")
        return result


@functools.lru_cache(maxsize=1)
def _exporters_cached() -> tuple:
    untyped = [m.__name__ for m in exporter_modules() if not is_typed(m)]
    if untyped:
        raise TypeError(f"exporter modules without the typed interface (FORMATS, OPTIONS, check, export): {untyped}")
    return tuple(_Exporter(m) for m in exporter_modules())


def exporters() -> tuple[_Exporter, ...]:
    """Every installed exporter, in registry order."""
    return _exporters_cached()


def formats() -> dict[str, str]:
    """format name -> description in plain words, registry order."""
    return {fmt: desc for ex in exporters() for fmt, desc in ex.formats.items()}


def exporter_for(fmt: str):
    """The exporter writing ``fmt``; ExportError naming the known formats otherwise."""
    for ex in exporters():
        if fmt in ex.formats:
            return ex
    raise ExportError(f"unknown export format {fmt!r}; choose one of: {', '.join(formats())}")


# ----------------------------------------------------------------------------- options


@functools.lru_cache(maxsize=1)
def _merged_specs() -> tuple[OptionSpec, ...]:
    specs: list[OptionSpec] = []
    for ex in exporters():
        specs += ex.specs()
    return tuple(merge_specs(specs))


def option_specs(formats: list[str] | tuple[str, ...] | None = None) -> list[OptionSpec]:
    """Every exporter option (one per name, formats joined), or those that apply to any of ``formats``."""
    specs = list(_merged_specs())
    return specs if formats is None else [s for s in specs if s.applies_to(formats)]


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """The CLI flags of every exporter option, grouped by the exporter that declares them first."""
    seen: set[str] = set()
    specs = option_specs()
    for ex in exporters():
        own = {s.name for s in ex.specs()}
        group_specs = [s for s in specs if s.name in own and s.name not in seen]
        if not group_specs:
            continue
        seen |= {s.name for s in group_specs}
        add_spec_arguments(parser.add_argument_group(" / ".join(ex.formats) + " options"), group_specs)


def _values(values: Mapping[str, Any] | argparse.Namespace | None) -> dict[str, Any]:
    if values is None:
        return {}
    if isinstance(values, argparse.Namespace):
        return vars(values)
    return dict(values)


def build_options(fmt: str, values: Mapping[str, Any] | argparse.Namespace | None = None) -> Any:
    """The options object of ``fmt``'s exporter from option values by name (defaults for the rest)."""
    return exporter_for(fmt).build(_values(values))


def check(pattern: Pattern, fmt: str, values: Mapping[str, Any] | argparse.Namespace | None = None) -> Any:
    """Build the options and run the exporter's checks (limits included); returns the options object."""
    ex = exporter_for(fmt)
    options = ex.build(_values(values))
    ex.check(pattern, fmt, options)
    return options


def export(pattern: Pattern, fmt: str, out: str | Path, values: Mapping[str, Any] | argparse.Namespace | None = None,
           inputs: list[str | Path | None] | tuple = ()) -> ExportResult:
    """Check then write ``fmt`` to ``out``; nothing is written when a check fails (ExportError and its kin)."""
    ex = exporter_for(fmt)
    check_outputs(list(inputs), [(out, fmt)])
    options = ex.build(_values(values))
    ex.check(pattern, fmt, options)
    return ex.export(pattern, fmt, Path(out), options)


def preflight(pattern: Pattern | None, inputs: list[str | Path | None] | tuple, paths: Mapping[str, Path],
              values: Mapping[str, Any] | None = None) -> list[str]:
    """Every reason exporting ``paths`` (format -> file) would be refused, before anything is written: outputs
    that are an input or each other, wrong suffixes, missing folders, bad options and limits. Empty when fine."""
    errors: list[str] = []
    try:
        check_outputs(list(inputs), [(p, fmt) for fmt, p in paths.items()])
    except (OSError, ValueError) as exc:  # OutputPathError and its kin: one line for the user
        errors.append(str(exc))
    if pattern is not None:
        for fmt in paths:
            try:
                check(pattern, fmt, values)
            except (OSError, ValueError, RuntimeError) as exc:  # ExportError, LimitError...
                errors.append(f"{fmt}: {exc}")
    return errors


# ----------------------------------------------------------------------------- formats per medium, file names


def formats_for_medium(kind: str | None) -> tuple[list[str], list[str]]:
    """(formats made for this medium kind, then the general ones; every other format), registry order."""
    mods = set(MEDIUM_MODULES.get(kind or "pixel", ()))
    specific, general, other = [], [], []
    for ex in exporters():
        name = ex.module.__name__
        for fmt in ex.formats:
            (specific if name in mods else general if name == GENERAL_MODULE else other).append(fmt)
    return specific + general, other


def default_formats(kind: str | None) -> list[str]:
    """The formats proposed for a medium kind when the user has not chosen (only ones that exist)."""
    known = formats()
    return [f for f in DEFAULT_FORMATS.get(kind or "pixel", ("png",)) if f in known] or ["png"]


def suffix_for(fmt: str) -> str:
    """File suffix of a format (``bead-pdf`` -> ``.pdf``; engine.core.outputs.FORMAT_SUFFIXES first)."""
    if fmt in FORMAT_SUFFIXES:
        return FORMAT_SUFFIXES[fmt][0]
    return "." + fmt.rsplit("-", 1)[-1].lower()


def file_word(fmt: str) -> str:
    """The word a default file name adds for ``fmt`` ("beads", "parts"; "" for "png", "pes")."""
    if fmt in FILE_WORDS:
        return FILE_WORDS[fmt]
    return fmt.rsplit("-", 1)[0] if "-" in fmt else ""


def default_file_name(base: str, fmt: str) -> str:
    """``fox`` + ``bead-pdf`` -> ``fox-beads.pdf``; ``fox`` + ``png`` -> ``fox.png``."""
    word = file_word(fmt)
    return f"{base}-{word}{suffix_for(fmt)}" if word else f"{base}{suffix_for(fmt)}"

