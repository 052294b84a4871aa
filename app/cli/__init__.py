"""Headless CLI subcommands (no Qt imports here). Each module has ``register(subparsers)``."""

from __future__ import annotations

import errno
import importlib
import sys

# Error classes whose message is meant for the user (printed as one line, exit code 2), by module.
# They are looked up only in modules already imported: an error of a class can only exist once its
# module is loaded, and importing e.g. engine.sdpixl.optimize here would make every command pay for torch.
_USER_ERRORS = (
    ("engine.core.palette", "PaletteError"),
    ("engine.core.pattern", "PatternError"),
    ("engine.core.atomic", "OutputPathError"),
    ("engine.core.limits", "LimitError"),
    ("engine.core.image_io", "ImageLoadError"),
    ("engine.convert.pipeline", "ConvertError"),
    ("exporters.common.errors", "ExportError"),
    ("engine.sdpixl.optimize", "OptimizeError"),
    ("engine.sdpixl.guidance.loading", "ModelLoadError"),
)


def is_user_error(exc: BaseException) -> bool:
    """True for errors whose message tells the user what was wrong (no traceback needed)."""
    if isinstance(exc, OSError) and exc.errno is not None:  # missing file, permission, disk full...
        return True
    for module_name, attr in _USER_ERRORS:
        cls = getattr(sys.modules.get(module_name), attr, None)
        if cls is not None and isinstance(exc, cls):
            return True
    return False


def user_message(exc: BaseException) -> str:
    """The one line shown for a user error: OS errors name the file and the reason; long texts keep line one."""
    if isinstance(exc, OSError) and exc.errno is not None and exc.filename:
        from engine.core.atomic import describe_os_error

        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EROFS):  # writing
            return describe_os_error(exc, exc.filename)
        return f"cannot use {exc.filename}: {exc.strerror}"
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()] or [type(exc).__name__]
    text = lines[0]
    if len(lines) > 1:
        text += " (run with -v for details)"
    return text


def _command_modules() -> list:
    mods = []
    for name in ("palettes_cmd", "convert_cmd", "generate_cmd", "export_cmd"):
        mods.append(importlib.import_module(f"app.cli.{name}"))
    return mods


COMMAND_MODULES = _command_modules()
