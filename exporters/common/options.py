"""Exporter options described for user interfaces, read from the exporters' own argparse declarations.

Every exporter declares its options once, in ``add_cli_arguments(parser)`` (CONTRACTS item 2). This module
introspects those argparse actions into :class:`OptionSpec` records (name, kind, default, choices, help, which
formats use it) so the GUI export dialog builds a widget per option without repeating any of them, and it says
which formats fit a pattern's medium and which ones to propose by default. No Qt here.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporters.common.registry import all_formats, exporter_modules

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

# File suffix per format where it is not the format name's last part.
_SUFFIXES = {"png": ".png", "gpl": ".gpl", "counts-csv": ".csv", "chart-png": ".png", "stitch-png": ".png"}

KIND_FLAG, KIND_CHOICE, KIND_INT, KIND_FLOAT, KIND_TEXT = "flag", "choice", "int", "float", "text"


@dataclass(frozen=True)
class OptionSpec:
    """One exporter option as a user interface shows it.

    ``dest`` is the argparse destination (``bag_size``), ``flag`` the CLI spelling (``--bag-size``), ``kind`` one
    of flag/choice/int/float/text, ``formats`` the formats it applies to.
    """

    dest: str
    flag: str
    kind: str
    default: Any
    help: str = ""
    choices: tuple = ()
    formats: tuple[str, ...] = field(default_factory=tuple)
    group: str = ""

    @property
    def label(self) -> str:
        """A readable label: ``--true-scale`` -> ``True scale``."""
        return self.flag.lstrip("-").replace("-", " ").capitalize()

    @property
    def help_text(self) -> str:
        """The help without its ``formats:`` prefix."""
        return _strip_prefix(self.help)

    def to_cli(self, value: Any) -> list[str]:
        """CLI words that set this option to ``value`` (empty when it is the default)."""
        if self.kind == KIND_FLAG:
            return [self.flag] if value else []
        if value is None or value == "" or value == self.default:
            return []
        return [self.flag, str(value)]


def suffix_for(fmt: str) -> str:
    """File suffix for a format name (``bead-pdf`` -> ``.pdf``, ``parts-csv`` -> ``.csv``)."""
    if fmt in _SUFFIXES:
        return _SUFFIXES[fmt]
    return "." + fmt.rsplit("-", 1)[-1].lower()


def _prefix_words(text: str) -> list[str]:
    m = re.match(r"^\s*([\w\-, /]+):", text or "")
    return re.split(r"[,/\s]+", m.group(1).strip()) if m else []


def _strip_prefix(text: str) -> str:
    m = re.match(r"^\s*[\w\-, /]+:\s*", text or "")
    return (text[m.end():] if m else text or "").strip()


def _kind(action: argparse.Action) -> str:
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        return KIND_FLAG
    if action.choices:
        return KIND_CHOICE
    if action.type is int:
        return KIND_INT
    if action.type is float:
        return KIND_FLOAT
    return KIND_TEXT


def option_specs() -> list[OptionSpec]:
    """Every exporter option, in declaration order, with the formats it applies to.

    The formats come from the help's ``fmt, fmt:`` prefix when it names formats, else from the argparse group
    title (``bead-pdf / chart-png``), else every format of the module that declared it.
    """
    known = set(all_formats())
    specs: list[OptionSpec] = []
    for mod in exporter_modules():
        parser = argparse.ArgumentParser(add_help=False)
        mod.add_cli_arguments(parser)
        groups = {id(a): g.title or "" for g in parser._action_groups for a in g._group_actions}
        for action in parser._actions:
            if not action.option_strings:
                continue
            title = groups.get(id(action), "")
            named = [w for w in _prefix_words(action.help or "") if w in known]
            in_title = [w for w in re.split(r"[,/\s]+", title) if w in known]
            formats = tuple(named or in_title or mod.FORMATS)
            flag = next((s for s in action.option_strings if s.startswith("--")), action.option_strings[0])
            specs.append(OptionSpec(dest=action.dest, flag=flag, kind=_kind(action), default=action.default,
                                    help=action.help or "", choices=tuple(action.choices or ()),
                                    formats=formats, group=title))
    return specs


def options_for(formats: list[str] | tuple[str, ...]) -> list[OptionSpec]:
    """The options that matter for any of ``formats``."""
    wanted = set(formats)
    return [s for s in option_specs() if wanted & set(s.formats)]


def formats_for_medium(kind: str | None) -> tuple[list[str], list[str]]:
    """(formats made for this medium kind plus the general ones, every other format), registry order."""
    mods = set(MEDIUM_MODULES.get(kind or "pixel", ())) | {GENERAL_MODULE}
    fitting, other = [], []
    for fmt, (mod, _desc) in all_formats().items():
        (fitting if mod.__name__ in mods else other).append(fmt)
    specific = [f for f in fitting if all_formats()[f][0].__name__ != GENERAL_MODULE]
    general = [f for f in fitting if f not in specific]
    return specific + general, other


def default_formats(kind: str | None) -> list[str]:
    """The formats proposed for a medium kind when the user has not chosen (only ones that exist)."""
    known = all_formats()
    return [f for f in DEFAULT_FORMATS.get(kind or "pixel", ("png",)) if f in known] or ["png"]


def describe_written(pattern, fmt: str, paths: list[Path], args: argparse.Namespace) -> list[str]:
    """Summary lines for files just written: the exporter's ``describe_export`` when it has one (CONTRACTS
    item 1), else each file's size."""
    mod = all_formats()[fmt][0]
    describe = getattr(mod, "describe_export", None)
    if callable(describe):
        return [str(line) for line in describe(pattern, fmt, list(paths), args)]
    return [f"{Path(p).name}: {format_size(Path(p).stat().st_size)}" for p in paths if Path(p).is_file()]


def format_size(n: int) -> str:
    """'812 bytes', '14.2 KB', '3.1 MB'."""
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"
