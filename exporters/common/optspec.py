"""Exporter options declared once, as dataclass fields whose metadata says how every front-end shows them.

An exporter's options are one dataclass; each field is made with :func:`option`::

    @dataclass
    class PngOptions:
        scale: int = option(1, flag="--scale", label="Pixels per cell", unit="px", formats=("png",),
                            minimum=1, help="each cell becomes a square of this many pixels")

From that one declaration:

* :func:`add_arguments` adds the argparse flags of the CLI ``export`` command (type, choices, help, range);
* :func:`from_args` / :func:`from_values` build the options object from parsed CLI arguments or from the values
  of the app's export widgets (one :func:`coerce` for both: text is parsed, numbers are range-checked);
* :func:`option_specs` gives the app what it needs for a widget: plain-words label, unit, choices with their
  labels (and swatches), and the formats the option applies to - an explicit tuple, never guessed from help text.

The same flag may be declared by several exporters (``--spares`` for counts, bead charts and parts lists):
:func:`merge_specs` joins such declarations into one option whose formats are the union, and refuses two
declarations that disagree on anything else. No Qt here.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import typing
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from exporters.common.errors import ExportError

META_KEY = "pixl_option"

KIND_FLAG, KIND_CHOICE, KIND_INT, KIND_FLOAT, KIND_TEXT = "flag", "choice", "int", "float", "text"
KIND_PATH = "path"  # a file name: text with a file chooser in the app
KINDS = (KIND_FLAG, KIND_CHOICE, KIND_INT, KIND_FLOAT, KIND_TEXT, KIND_PATH)


@dataclass(frozen=True, eq=False)
class OptionSpec:
    """One option as every front-end shows it.

    ``name`` is the dataclass field and argparse destination (``bag_size``); ``flag`` the CLI spelling
    (``--bag-size``); ``label`` plain words for the app ("Beads per bag"); ``kind`` one of :data:`KINDS`;
    ``formats`` the formats it applies to; ``choices`` the allowed values with ``choice_labels`` (value -> words)
    and optional ``swatches`` (value -> ``#rrggbb``); ``parse`` turns typed text into the value (the CLI's
    argparse ``type``; with choices it also admits values outside them, e.g. a custom ``29x29`` board).
    A flag whose default is True is written ``--no-...`` on the command line and shown as a ticked box.
    """

    name: str
    flag: str
    label: str
    help: str
    formats: tuple[str, ...]
    default: Any
    kind: str
    unit: str = ""
    choices: tuple = ()
    choice_labels: Mapping[Any, str] = field(default_factory=dict)
    swatches: Mapping[Any, str] = field(default_factory=dict)
    group: str = ""
    minimum: float | None = None
    maximum: float | None = None
    parse: Callable[[str], Any] | None = None
    metavar: str = ""

    @property
    def dest(self) -> str:
        """The argparse destination (same as ``name``)."""
        return self.name

    @property
    def help_text(self) -> str:
        """The help in plain words (no flags)."""
        return self.help

    def choice_label(self, value: Any) -> str:
        """Plain words for one choice (its label, else the value itself)."""
        if value in self.choice_labels:
            return self.choice_labels[value]
        return "default" if value is None else str(value)

    def applies_to(self, formats: Iterable[str]) -> bool:
        """True when the option matters for any of ``formats``."""
        return bool(set(formats) & set(self.formats))


def option(default: Any, *, flag: str, label: str, help: str, formats: tuple[str, ...], unit: str = "",
           choices: Iterable = (), choice_labels: Mapping[Any, str] | None = None, kind: str | None = None,
           group: str = "", minimum: float | None = None, maximum: float | None = None,
           parse: Callable[[str], Any] | None = None, swatches: Mapping[Any, str] | None = None,
           metavar: str = "") -> Any:
    """A dataclass field carrying an option's metadata (see the module docstring). ``formats`` is required and
    explicit; ``kind`` is inferred from the field type when left out (bool -> flag, choices -> choice, int, float,
    else text)."""
    if not flag.startswith("--"):
        raise ValueError(f"option flag {flag!r} must start with --")
    if isinstance(formats, str) or not formats or not all(isinstance(f, str) for f in formats):
        raise ValueError(f"option {flag}: formats must be a non-empty tuple of format names, got {formats!r}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"option {flag}: kind must be one of {KINDS}, got {kind!r}")
    meta = {"flag": flag, "label": label, "help": help, "formats": tuple(formats), "unit": unit,
            "choices": tuple(choices), "choice_labels": MappingProxyType(dict(choice_labels or {})),
            "swatches": MappingProxyType(dict(swatches or {})), "kind": kind, "group": group,
            "minimum": minimum, "maximum": maximum, "parse": parse, "metavar": metavar}
    return field(default=default, metadata={META_KEY: meta})


def _kind_from_type(tp: Any, default: Any) -> str:
    if isinstance(tp, str):  # an annotation that could not be resolved: read the words
        words = tp.replace(" ", "").split("|")
        names = {w for w in words if w != "None"}
        tp = {"bool": bool, "int": int, "float": float}.get(next(iter(names), ""), str) if len(names) == 1 else str
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if args:
        tp = args[0] if len(args) == 1 else str
    if tp is bool or isinstance(default, bool):
        return KIND_FLAG
    if tp is int:
        return KIND_INT
    if tp is float:
        return KIND_FLOAT
    return KIND_TEXT


def option_specs(options_cls: type) -> list[OptionSpec]:
    """The options of an options dataclass, in declaration order (fields without metadata are not options)."""
    try:
        hints = typing.get_type_hints(options_cls)
    except Exception:  # noqa: BLE001 - an unresolvable annotation: fall back to its text
        hints = {}
    specs = []
    for f in dataclasses.fields(options_cls):
        meta = f.metadata.get(META_KEY)
        if meta is None:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        kind = meta["kind"] or (KIND_CHOICE if meta["choices"] else _kind_from_type(hints.get(f.name, f.type),
                                                                                    default))
        specs.append(OptionSpec(name=f.name, flag=meta["flag"], label=meta["label"], help=meta["help"],
                                formats=meta["formats"], default=default, kind=kind, unit=meta["unit"],
                                choices=meta["choices"], choice_labels=meta["choice_labels"],
                                swatches=meta["swatches"], group=meta["group"], minimum=meta["minimum"],
                                maximum=meta["maximum"], parse=meta["parse"], metavar=meta["metavar"]))
    return specs


def merge_specs(specs: Iterable[OptionSpec]) -> list[OptionSpec]:
    """One spec per option name, formats joined, in first-seen order. Two declarations of one name must agree
    on flag, kind, default and choices (else RuntimeError: a programming error, caught by the tests)."""
    out: dict[str, OptionSpec] = {}
    for s in specs:
        old = out.get(s.name)
        if old is None:
            out[s.name] = s
            continue
        if (old.flag, old.kind, old.default, tuple(old.choices)) != (s.flag, s.kind, s.default, tuple(s.choices)):
            raise RuntimeError(f"option {s.flag} is declared twice with different flag, kind, default or choices")
        joined = old.formats + tuple(f for f in s.formats if f not in old.formats)
        out[s.name] = dataclasses.replace(old, formats=joined)
    flags: dict[str, str] = {}
    for s in out.values():
        if flags.setdefault(s.flag, s.name) != s.name:
            raise RuntimeError(f"flag {s.flag} is used by two options ({flags[s.flag]}, {s.name})")
    return list(out.values())


# ----------------------------------------------------------------------------- values


def _range_text(spec: OptionSpec) -> str:
    lo, hi = spec.minimum, spec.maximum
    if lo is not None and hi is not None:
        return f"from {lo:g} to {hi:g}"
    return f"at least {lo:g}" if lo is not None else f"at most {hi:g}"


def _said_once(label: str, message: str) -> str:
    """A parse error with the option's label in front, unless the message already starts by naming it
    ("design size must look like ..." stays as it is; "'A7' is not a paper size" becomes "Paper: 'A7' ...")."""
    return message if message.lower().startswith(label.lower()) else f"{label}: {message}"


def coerce(spec: OptionSpec, value: Any) -> Any:
    """``value`` (typed text from a widget or the command line, or a value) as the option's value: text parsed,
    numbers finite and in range, choices checked. Raises ExportError with a one-line message."""
    if value is None or (isinstance(value, str) and not value.strip() and spec.kind not in (KIND_TEXT, KIND_CHOICE)):
        return None if spec.kind != KIND_FLAG else bool(spec.default)
    if spec.kind == KIND_FLAG:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(value, str) and spec.parse is not None:
        if not value.strip():  # an emptied text box: the declared default
            return spec.default
        try:
            value = spec.parse(value.strip())
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ExportError(_said_once(spec.label, str(exc))) from None
    elif spec.kind in (KIND_INT, KIND_FLOAT) or (spec.kind == KIND_CHOICE and spec.choices
                                                  and isinstance(value, str)):
        value = _number_or_choice(spec, value)
    if spec.kind in (KIND_INT, KIND_FLOAT) and isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ExportError(f"{spec.label} must be a finite number, got {value}")
        if ((spec.minimum is not None and value < spec.minimum)
                or (spec.maximum is not None and value > spec.maximum)):
            raise ExportError(f"{spec.label} must be {_range_text(spec)}{' ' + spec.unit if spec.unit else ''}, "
                              f"got {value:g}")
    if spec.kind == KIND_CHOICE and spec.parse is None and spec.choices and value not in spec.choices:
        raise ExportError(f"{spec.label}: {value!r} is not one of "
                          + ", ".join(spec.choice_label(c) for c in spec.choices))
    return value


def _number_or_choice(spec: OptionSpec, value: Any) -> Any:
    if spec.kind == KIND_CHOICE:  # choices of numbers given as text (e.g. "90")
        for c in spec.choices:
            if str(c) == str(value).strip():
                return c
        return value
    want = int if spec.kind == KIND_INT else float
    if isinstance(value, bool):
        raise ExportError(f"{spec.label} must be a number, got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if want is int and isinstance(value, float):
            if not value.is_integer():
                raise ExportError(f"{spec.label} must be a whole number, got {value:g}")
            return int(value)
        return want(value)
    from engine.core.sizes import parse_number

    try:
        return parse_number(str(value), spec.label, integer=want is int, unit=spec.unit)
    except ValueError as exc:
        raise ExportError(str(exc)) from None


def from_values(options_cls: type, values: Mapping[str, Any]) -> Any:
    """An ``options_cls`` from option values by name (widget values, remembered settings); missing ones keep
    their defaults, unknown names are ignored."""
    kwargs = {}
    for spec in option_specs(options_cls):
        if spec.name in values:
            kwargs[spec.name] = coerce(spec, values[spec.name])
    return options_cls(**kwargs)


def from_args(options_cls: type, namespace: argparse.Namespace) -> Any:
    """An ``options_cls`` from parsed CLI arguments (options the namespace lacks keep their defaults)."""
    return from_values(options_cls, vars(namespace))


# ----------------------------------------------------------------------------- argparse


def _argparse_type(spec: OptionSpec) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return coerce(spec, text)
        except ExportError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = spec.kind  # argparse names the type in some messages
    return convert


def cli_help(spec: OptionSpec) -> str:
    """The CLI help of one option: its help, the unit, the choices, the default and the formats."""
    text = spec.help
    if spec.choices:
        text += " (" + ", ".join(f"{c}" + (f" = {spec.choice_labels[c]}" if c in spec.choice_labels
                                              and spec.choice_labels[c] != str(c) else "")
                                 for c in spec.choices if c is not None) + ")"
    if spec.kind != KIND_FLAG and spec.default not in (None, ""):
        text += f"; default {spec.default}{' ' + spec.unit if spec.unit else ''}"
    elif spec.unit:
        text += f"; in {spec.unit}"
    return f"{text} [{', '.join(spec.formats)}]".replace("%", "%%")


def add_spec_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                       specs: Iterable[OptionSpec]) -> None:
    """Add one argparse flag per spec (see :func:`add_arguments`)."""
    for spec in specs:
        kw: dict[str, Any] = {"dest": spec.name, "help": cli_help(spec), "default": spec.default}
        if spec.kind == KIND_FLAG:
            kw["action"] = "store_false" if spec.default else "store_true"
            kw["default"] = bool(spec.default)
        else:
            kw["type"] = _argparse_type(spec)
            if spec.metavar:
                kw["metavar"] = spec.metavar
            elif spec.kind == KIND_CHOICE and spec.parse is None:
                kw["metavar"] = "{" + ",".join(str(c) for c in spec.choices if c is not None) + "}"
        parser.add_argument(spec.flag, **kw)


def add_arguments(parser: argparse.ArgumentParser, options_cls: type) -> None:
    """Add the argparse flags of an options dataclass to ``parser`` (help, range and choices included)."""
    add_spec_arguments(parser, option_specs(options_cls))


__all__ = ["OptionSpec", "option", "option_specs", "merge_specs", "coerce", "from_values", "from_args",
           "add_arguments", "add_spec_arguments", "cli_help", "KINDS", "KIND_FLAG", "KIND_CHOICE",
           "KIND_INT", "KIND_FLOAT", "KIND_TEXT", "KIND_PATH"]
