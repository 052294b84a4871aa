"""Reading .pixl project files defensively: every size, type and number is checked before it is allocated.

A .pixl file is a zip with ``manifest.json`` (JSON object), ``cells.npz`` (index and empty arrays, no pickles)
and ``preview.png`` (never read here). Hostile files (zip bombs, zip-slip names, pickles, huge declared
sizes, NaN/inf, wrong types) end in PatternError within the budgets of engine.core.limits.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import struct
import unicodedata
import zipfile
import zlib
from pathlib import Path

import numpy as np

from engine.core import limits
from engine.core.medium import MEDIUM_KINDS, Medium
from engine.core.palette import Palette, PaletteError

SCHEMA_VERSION = 1  # the .pixl file version this code writes and reads (engine.core.pattern re-exports it)


class PatternError(ValueError):
    """A pattern operation or project file failed; the message says what was wrong and what to do."""

_MANIFEST = "manifest.json"
_CELLS = "cells.npz"
_MAX_MEMBERS = limits.MAX_PROJECT_MEMBERS.value  # declared in engine.core.limits
_TEXT_KEYS = ("title", "name")


def _bad(name: str, what: str) -> PatternError:
    return PatternError(f"{name} is damaged: {what}")


def _read_member(zf: zipfile.ZipFile, member: str, budget: int, name: str) -> bytes:
    """A member's bytes, refusing (by header and by actual decompressed size) more than ``budget``."""
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise _bad(name, f"it has no {member}") from None
    if info.file_size > budget:
        raise PatternError(f"{name}: {member} declares {info.file_size:,} bytes, more than the limit of {budget:,} "
                           "(a damaged or hostile file)")
    with zf.open(info) as fh:
        data = fh.read(budget + 1)
    if len(data) > budget:
        raise PatternError(f"{name}: {member} unpacks to more than {budget:,} bytes (a zip bomb?); refused")
    return data


def _reject_constant(value: str):
    raise ValueError(f"{value} is not allowed in a project file")


def _check_names(zf: zipfile.ZipFile, name: str) -> None:
    infos = zf.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise _bad(name, f"it holds {len(infos)} members (a project has 3)")
    for info in infos:
        n = info.filename
        if n.startswith(("/", "\\")) or ".." in n.replace("\\", "/").split("/") or ":" in n or "\x00" in n:
            raise PatternError(f"{name} holds an unsafe member name {n[:60]!r} (path traversal); refused")


def _int_field(manifest: dict, key: str, name: str) -> int:
    v = manifest.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad(name, f"{key} must be a whole number, got {str(v)[:40]!r}")
    return v


def _read_npy(npz: zipfile.ZipFile, member: str, shape: tuple[int, int], kinds: str, name: str) -> np.ndarray:
    """One array of an npz, header checked (dtype kind, shape, no pickles) before the data is read."""
    budget = shape[0] * shape[1] * 8 + 4096
    data = _read_member(npz, member, budget, name)
    fh = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            hshape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            hshape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported array format {version}")
    except ValueError as exc:
        raise _bad(name, f"{member} is not a plain array ({str(exc)[:80]})") from None
    if dtype.hasobject or dtype.kind not in kinds:
        raise _bad(name, f"{member} holds {dtype} values (pickled objects, text or floats are not allowed)")
    if tuple(hshape) != tuple(shape):
        raise _bad(name, f"{member} is {tuple(hshape)} but the manifest says {shape[0]} x {shape[1]} cells")
    fh.seek(0)
    try:
        return np.lib.format.read_array(fh, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _bad(name, f"{member} is truncated ({str(exc)[:80]})") from None


def _medium(d, name: str) -> Medium | None:
    if d is None:
        return None
    if not isinstance(d, dict):
        raise _bad(name, "medium must be an object")
    pitch = d.get("pitch_mm", 5.0)
    if isinstance(pitch, bool) or not isinstance(pitch, (int, float)) or not math.isfinite(pitch) \
            or not 0 < pitch <= 1000:
        raise _bad(name, f"medium pitch must be a number of millimetres (0-1000], got {str(pitch)[:40]!r}")
    boards = d.get("boards", ())
    if not isinstance(boards, (list, tuple)) or not all(isinstance(b, str) for b in boards):
        raise _bad(name, "medium boards must be a list of names")
    if d.get("kind", "pixel") not in MEDIUM_KINDS:
        raise _bad(name, f"unknown medium kind {str(d.get('kind'))[:40]!r}")
    try:
        return Medium.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise _bad(name, f"medium: {exc}") from None


def clean_text(text: str) -> str:
    """Printable text for charts and file headers: control characters dropped, clipped to the title budget."""
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch == " ")
    return limits.clip_title(text)


def _metadata(d, name: str) -> dict:
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise _bad(name, f"metadata must be an object, got {type(d).__name__}")
    d = dict(d)
    for key in _TEXT_KEYS:
        if key in d:
            if d[key] is None:
                del d[key]
            elif not isinstance(d[key], str):
                raise _bad(name, f"metadata {key} must be text, got {type(d[key]).__name__}")
            else:
                d[key] = clean_text(d[key])
    return d


def read_project(path: Path) -> tuple[np.ndarray, np.ndarray, Palette, Medium | None, dict]:
    """(index, empty, palette, medium, metadata) from a .pixl file, or PatternError."""
    name = path.name or str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise PatternError(f"project file not found: {path}") from None
    except OSError as exc:
        raise PatternError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise PatternError(f"{path} is a folder, not a project file")
    if not stat.S_ISREG(st.st_mode):
        raise PatternError(f"{path} is not a regular file (a pipe or device); give a .pixl project file")
    limits.MAX_PROJECT_BYTES.check(st.st_size, f"project {name}")
    try:
        with zipfile.ZipFile(path) as zf:
            _check_names(zf, name)
            raw = _read_member(zf, _MANIFEST, limits.MAX_MANIFEST_BYTES.value, name)
            try:
                manifest = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
            except RecursionError:
                raise _bad(name, "the manifest is nested too deeply") from None
            if not isinstance(manifest, dict) or manifest.get("format") != "pixl":
                raise PatternError(f"{name} is not a piXL Studio project (no pixl manifest)")
            version = manifest.get("schema_version")
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise _bad(name, f"schema_version must be a whole number of at least 1, got {str(version)[:40]!r}")
            if version > SCHEMA_VERSION:
                raise PatternError(
                    f"{name} was saved by a newer piXL Studio (file version {version}, this one reads "
                    f"up to {SCHEMA_VERSION}); update piXL Studio to open it"
                )
            width, height = _int_field(manifest, "width", name), _int_field(manifest, "height", name)
            try:
                limits.check_cells(width, height, f"project {name}")
            except limits.LimitError as exc:
                raise PatternError(str(exc)) from None
            pal = manifest.get("palette")
            if not isinstance(pal, dict) or not isinstance(pal.get("colors"), list):
                raise _bad(name, "the palette must be an object with a list of colours")
            if not all(isinstance(c, dict) for c in pal["colors"]):
                raise _bad(name, "every palette colour must be an object")
            try:
                limits.check_colors(len(pal["colors"]), f"the palette of {name}")
            except limits.LimitError as exc:
                raise PatternError(str(exc)) from None
            palette = Palette.from_dict(pal)
            medium = _medium(manifest.get("medium"), name)
            metadata = _metadata(manifest.get("metadata"), name)
            cells_raw = _read_member(zf, _CELLS, limits.MAX_MEMBER_BYTES.value, name)
        with zipfile.ZipFile(io.BytesIO(cells_raw)) as npz:
            _check_names(npz, name)
            index = _read_npy(npz, "index.npy", (height, width), "iu", name)
            empty = _read_npy(npz, "empty.npy", (height, width), "bu", name)
    except PatternError:
        raise
    except zipfile.BadZipFile:
        raise PatternError(f"{name} is damaged or not a piXL project (not a valid zip file)") from None
    except PaletteError as exc:
        raise _bad(name, str(exc)) from None
    except (KeyError, ValueError, TypeError, OSError, EOFError, NotImplementedError, RuntimeError, zlib.error,
            struct.error, zipfile.LargeZipFile, MemoryError, OverflowError) as exc:
        raise _bad(name, f"{type(exc).__name__}: {str(exc)[:120]}") from None
    if index.size and (int(index.max()) >= len(palette)):
        raise _bad(name, f"the index map refers to colour {int(index.max())} but the palette has {len(palette)}")
    return index, empty.astype(bool), palette, medium, metadata
