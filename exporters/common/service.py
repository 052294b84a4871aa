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

TEMPORARY: modules still in the old style (``add_cli_arguments`` / ``export_cli`` / ``describe_export``) are
wrapped by :class:`_LegacyExporter` until their owners convert them to the typed interface; it is the only place
that reads option formats from help text and warnings from "warning: " lines. Delete it with the last of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import math
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping

from engine.core import limits
from engine.core.outputs import FORMAT_SUFFIXES, check_outputs
from engine.core.pattern import Pattern
from engine.core.sizes import SizeError, parse_number
from exporters.common import limits_check
from exporters.common.errors import ExportError
from exporters.common.optspec import (
    KIND_CHOICE,
    KIND_FLAG,
    KIND_FLOAT,
    KIND_INT,
    KIND_TEXT,
    OptionSpec,
    add_spec_arguments,
    coerce,
    from_values,
    merge_specs,
)
from exporters.common.optspec import option_specs as class_specs
from exporters.common.registry import exporter_modules, is_typed
from exporters.common.result import ExportResult

log = logging.getLogger(__name__)

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


class _TypedExporter:
    """An exporter module of the typed interface."""

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


# TEMPORARY (until beads, bricks and embroidery are converted): options they read that another module declares,
# with the formats they use them for.
_LEGACY_SHARED: dict[str, dict[str, tuple[str, ...]]] = {
    "exporters.beads.chart": {"bag_size": ("bead-pdf",), "spares": ("bead-pdf",), "spares_min": ("bead-pdf",)},
    "exporters.bricks.mosaic": {n: ("parts-csv", "bricklink-xml", "rebrickable-csv", "build-pdf")
                                for n in ("spares", "spares_min")},
}
_WARNING = "warning: "


def _legacy_kind(action: argparse.Action) -> str:
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        return KIND_FLAG
    if action.choices:
        return KIND_CHOICE
    return {int: KIND_INT, float: KIND_FLOAT}.get(action.type, KIND_TEXT)


def _plain(text: str) -> str:
    """Help or description without its "fmt, fmt:" prefix and without parentheses naming --flags."""
    text = re.sub(r"^\s*[\w\-, /]+:\s*", "", text or "")
    return re.sub(r"\s*\([^()]*--[^()]*\)", "", text).strip()


class _LegacyExporter:
    """TEMPORARY adapter for an old-style module: options read from its argparse declarations, the module gets
    an argparse namespace with every option, warnings are its "warning: " summary lines."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.formats = {f: _plain(d) for f, d in module.FORMATS.items()}

    def specs(self) -> list[OptionSpec]:
        parser = argparse.ArgumentParser(add_help=False)
        self.module.add_cli_arguments(parser)
        known = set(_formats_table())
        groups = {id(a): g.title or "" for g in parser._action_groups for a in g._group_actions}
        specs = []
        for action in parser._actions:
            if not action.option_strings:
                continue
            m = re.match(r"^\s*([\w\-, /]+):", action.help or "")
            named = [w for w in re.split(r"[,/\s]+", m.group(1)) if w in known] if m else []
            in_title = [w for w in re.split(r"[,/\s]+", groups.get(id(action), "")) if w in known]
            flag = next((s for s in action.option_strings if s.startswith("--")), action.option_strings[0])
            kind = _legacy_kind(action)
            parse = action.type if kind == KIND_TEXT and callable(action.type) else None
            specs.append(OptionSpec(name=action.dest, flag=flag, label=flag[2:].replace("-", " ").capitalize(),
                                    help=_plain(action.help or ""), formats=tuple(named or in_title or self.formats),
                                    default=action.default, kind=kind, choices=tuple(action.choices or ()),
                                    parse=parse, metavar=action.metavar or ""))
        return specs

    def build(self, values: Mapping[str, Any]) -> argparse.Namespace:
        ns = argparse.Namespace(**{s.name: s.default for s in option_specs()})
        for spec in option_specs():
            if spec.name in values:
                setattr(ns, spec.name, coerce(spec, values[spec.name]))
        return ns

    def check(self, pattern: Pattern, fmt: str, options: argparse.Namespace) -> None:
        _legacy_limits(pattern, fmt, options)

    def export(self, pattern: Pattern, fmt: str, out: Path, options: argparse.Namespace) -> ExportResult:
        files = [Path(p) for p in self.module.export_cli(pattern, fmt, out, options)]
        describe = getattr(self.module, "describe_export", None)
        lines: list[str] = []
        if callable(describe):
            try:
                lines = [str(line) for line in describe(pattern, fmt, list(files), options)]
            except Exception as exc:  # noqa: BLE001 - a summary that fails must not hide files that were written
                log.warning("no summary for %s: %s", fmt, exc)
        else:
            lines = [f"{p.name}: {format_size(p.stat().st_size)}" for p in files if p.is_file()]
        warnings = [ln.split(_WARNING, 1)[1].strip() for ln in lines if _WARNING in ln]
        return ExportResult(files, [ln for ln in lines if _WARNING not in ln], list(dict.fromkeys(warnings)))


def _int(value, name: str, low: int = 1) -> int | None:
    if value is None:
        return None
    try:
        v = value if isinstance(value, int) else parse_number(str(value), name, integer=True)
    except SizeError as exc:
        raise ExportError(str(exc)) from None
    if v < low:
        raise ExportError(f"{name} must be at least {low}, got {v}")
    return int(v)


def _legacy_limits(pattern: Pattern, fmt: str, args: argparse.Namespace) -> None:
    """TEMPORARY: the limits of an old-style exporter's export, from its namespace (a typed exporter's ``check``
    calls exporters.common.limits_check itself). Clips a long ``title`` in place."""
    values = vars(args)
    limits_check.check_finite(values)
    if isinstance(values.get("title"), str) and isinstance(args, argparse.Namespace):
        args.title = limits.clip_title(args.title)
    w, h = pattern.width, pattern.height
    if fmt == "chart-png":
        s = _int(values.get("cell_px", 24), "cell size") or 24
        limits_check.check_image(w * s, h * s, f"the chart PNG at {s} pixels per cell",
                                 limits.MAX_CHART_SIDE)
    elif fmt == "bead-pdf":
        from exporters.beads.chart import resolve_board

        board = resolve_board(pattern, values.get("board"))
        pages = math.ceil(w / board.width) * math.ceil(h / board.height) + 2
        limits_check.check_pdf_pages(pages, f"the bead chart on {board.name} boards")
    elif fmt == "build-pdf":
        s = _int(values.get("section", 16), "section size") or 16
        limits_check.check_pdf_pages(math.ceil(w / s) * math.ceil(h / s) + 2, f"the build PDF with {s}-stud sections")
    elif fmt in limits_check.EMBROIDERY_FORMATS:
        limits_check.check_embroidery(pattern, values.get("cell_mm"), values.get("design_mm"),
                                      values.get("row_spacing", 0.4), values.get("max_stitch", 3.0))


@functools.lru_cache(maxsize=1)
def _exporters_cached() -> tuple:
    return tuple(_TypedExporter(m) if is_typed(m) else _LegacyExporter(m) for m in exporter_modules())


def exporters() -> tuple:
    """Every installed exporter (typed, or wrapped by the temporary adapter), in registry order."""
    return _exporters_cached()


def _formats_table() -> dict[str, str]:
    out: dict[str, str] = {}
    for mod in exporter_modules():
        for fmt, desc in mod.FORMATS.items():
            if fmt in out:
                raise RuntimeError(f"export format {fmt!r} is claimed by two modules")
            out[fmt] = desc
    return out


def legacy_formats() -> list[str]:
    """TEMPORARY: the formats still served by the old-style adapter (empty once every exporter is converted)."""
    return [fmt for ex in exporters() if isinstance(ex, _LegacyExporter) for fmt in ex.formats]


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
    merged = merge_specs(specs)
    by_name = {s.name: s for s in merged}
    extra = []
    for ex in exporters():  # TEMPORARY: shared options read by old-style modules
        for name, fmts in _LEGACY_SHARED.get(ex.module.__name__, {}).items() if isinstance(ex, _LegacyExporter) \
                else ():
            if name in by_name:
                extra.append(dataclasses.replace(by_name[name], formats=fmts))
    return tuple(merge_specs(merged + extra))


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


def format_size(n: int) -> str:
    """'812 bytes', '14.2 KB', '3.1 MB'."""
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"
