"""Headless CLI subcommands (no Qt imports here). Each module has ``register(subparsers)``."""

from __future__ import annotations

import importlib

from engine.atomic import OutputPathError
from engine.palette import PaletteError
from engine.pattern import PatternError

# Errors whose message is meant for the user: printed as one line, exit code 2.
_USER_ERROR_TYPES: list[type[BaseException]] = [PaletteError, PatternError, OutputPathError, FileNotFoundError]


def _optional(name: str, attr: str) -> None:
    try:
        _USER_ERROR_TYPES.append(getattr(importlib.import_module(name), attr))
    except (ImportError, AttributeError):
        pass


_optional("engine.image_io", "ImageLoadError")
_optional("engine.convert", "ConvertError")
_optional("exporters.errors", "ExportError")
_optional("engine.optimize", "OptimizeError")
_optional("engine.guidance.loading", "ModelLoadError")

UserError = tuple(_USER_ERROR_TYPES)


def _command_modules() -> list:
    mods = []
    for name in ("palettes_cmd", "convert_cmd", "generate_cmd", "export_cmd"):
        try:
            mods.append(importlib.import_module(f"app.cli.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"app.cli.{name}":
                raise
    return mods


COMMAND_MODULES = _command_modules()
