"""Palette files: the shipped palette registry and user files (.hex (Lospec), .gpl (GIMP), .csv, our .json)."""

from __future__ import annotations

import csv
import json
import os
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.core import limits
from engine.core.atomic import atomic_write_text
from engine.core.medium import PIXEL, Medium
from engine.core.palette import Palette, PaletteColor, PaletteError, parse_hex_color

PALETTE_DIR = Path(__file__).resolve().parents[2] / "resources" / "palettes"


def read_palette_file(path: str | Path, medium: Medium = PIXEL) -> Palette:
    """Read a palette file, choosing the reader by extension."""
    path = Path(path)
    ext = path.suffix.lower()
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise PaletteError(f"{path} is not a regular file (a folder, pipe or device); give a palette file")
        limits.MAX_PALETTE_FILE_BYTES.check(st.st_size, f"palette file {path.name}")
        text = path.read_text(encoding="utf-8-sig")
    except limits.LimitError as exc:
        raise PaletteError(str(exc)) from None
    except UnicodeDecodeError:
        raise PaletteError(f"{path.name}: not a text file; expected a .hex, .gpl, .csv or .json palette") from None
    except OSError as exc:
        raise PaletteError(f"cannot read palette file {path}: {exc.strerror or exc}") from None
    if ext == ".json":
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise PaletteError(f"{path.name}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
        except (ValueError, RecursionError) as exc:
            raise PaletteError(f"{path.name}: not a palette ({str(exc)[:80]})") from None
        if not isinstance(data, dict) or not isinstance(data.get("colors"), list) \
                or not all(isinstance(c, dict) for c in data["colors"]):
            raise PaletteError(f"{path.name}: a JSON palette is an object with a list of colour objects")
        return Palette.from_dict(data)
    readers = {".hex": parse_hex, ".gpl": parse_gpl, ".csv": parse_csv}
    if ext not in readers:
        raise PaletteError(f"{path.name}: unknown palette format {ext!r}; use .hex, .gpl, .csv or .json")
    return readers[ext](text, name=path.stem, medium=medium)


def _reject_constant(value: str):
    raise ValueError(f"{value} is not a number a palette may hold")


def _bad(name: str, lineno: int, what: str) -> PaletteError:
    return PaletteError(f"{name}, line {lineno}: {what}")


def parse_hex(text: str, name: str = "palette", medium: Medium = PIXEL) -> Palette:
    """One ``RRGGBB`` per line (optional '#'); blank lines and ';'/'//' comments ignored."""
    colors = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith((";", "//")):
            continue
        try:
            rgb = parse_hex_color(line)
        except ValueError:
            raise _bad(name, lineno, f"{line!r} is not a colour; write one RRGGBB hex value per line") from None
        colors.append(PaletteColor(code=str(len(colors) + 1), name="#" + line.lstrip("#").upper(), rgb=rgb))
    if not colors:
        raise PaletteError(f"{name}: no colours found; write one RRGGBB hex value per line")
    return Palette(name=name, colors=tuple(colors), medium=medium, source="imported .hex")


def parse_gpl(text: str, name: str = "palette", medium: Medium = PIXEL) -> Palette:
    """GIMP palette: 'GIMP Palette' header, optional Name:/Columns:, then 'R G B name' rows."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "GIMP Palette":
        raise _bad(name, 1, "a GIMP palette must start with the line 'GIMP Palette'")
    colors = []
    pal_name = name
    for lineno, raw in enumerate(lines[1:], 2):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("name:"):
            pal_name = line.split(":", 1)[1].strip() or name
            continue
        if line.lower().startswith("columns:"):
            continue
        parts = line.split(None, 3)
        try:
            rgb = tuple(int(p) for p in parts[:3])
            if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
                raise ValueError
        except (ValueError, OverflowError):
            raise _bad(name, lineno, f"{line[:60]!r}: expected three numbers 0-255 then an optional name") from None
        label = parts[3].strip() if len(parts) > 3 else ""
        code = str(len(colors) + 1)
        colors.append(PaletteColor(code=code, name=label or code, rgb=rgb))  # type: ignore[arg-type]
    if not colors:
        raise PaletteError(f"{name}: the GIMP palette lists no colours")
    return Palette(name=pal_name, colors=tuple(colors), medium=medium, source="imported .gpl")


_HEADER_ALIASES = {
    "code": "code", "id": "code", "reference_code": "code", "dmc": "code", "number": "code",
    "name": "name", "colour": "name", "color": "name",
    "hex": "hex", "rgb": "hex", "r": "r", "red": "r", "g": "g", "green": "g", "b": "b", "blue": "b",
    "symbol": "symbol",
}


def parse_csv(text: str, name: str = "palette", medium: Medium = PIXEL) -> Palette:
    """CSV palette. With a header: columns code, name and either hex or r,g,b (symbol optional).

    Without a header: ``code,name,#RRGGBB`` or the bead-colour layout ``code,name,symbol,r,g,b,...``.
    """
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise PaletteError(f"{name}: the CSV file is empty")
    header = [h.strip().lower() for h in rows[0]]
    mapped = [_HEADER_ALIASES.get(h) for h in header]
    has_header = "code" in mapped or "hex" in mapped or "r" in mapped
    colors: list[PaletteColor] = []
    start = 2 if has_header else 1
    for lineno, row in enumerate(rows[1:] if has_header else rows, start):
        if not row or all(not c.strip() for c in row):
            continue
        cells = [c.strip() for c in row]
        try:
            if has_header:
                rec = {m: cells[i] for i, m in enumerate(mapped) if m and i < len(cells)}
                if "hex" in rec:
                    rgb = parse_hex_color(rec["hex"])
                else:
                    rgb = tuple(int(float(rec[k])) for k in ("r", "g", "b"))
                code = rec.get("code") or str(len(colors) + 1)
                label, symbol = rec.get("name") or code, rec.get("symbol") or None
            elif len(cells) >= 6:
                code, label, symbol = cells[0], cells[1], cells[2] or None
                rgb = tuple(int(float(v)) for v in cells[3:6])
            elif len(cells) >= 3:
                code, label, symbol = cells[0], cells[1], None
                rgb = parse_hex_color(cells[2])
            else:
                raise ValueError
            if not all(0 <= v <= 255 for v in rgb):
                raise ValueError
        except (ValueError, KeyError, OverflowError):
            raise _bad(
                name, lineno,
                f"{','.join(row)[:80]!r} is not a colour row; use 'code,name,#RRGGBB' or a header with code,name,r,g,b",
            ) from None
        colors.append(PaletteColor(code=code, name=label, rgb=rgb, symbol=symbol))  # type: ignore[arg-type]
    if not colors:
        raise PaletteError(f"{name}: the CSV file lists no colours")
    try:
        return Palette(name=name, colors=tuple(colors), medium=medium, source="imported .csv")
    except PaletteError as exc:
        raise PaletteError(f"{name}: {exc}") from None


def format_gpl(palette: Palette) -> str:
    """GIMP .gpl text for a palette (name column holds 'code name')."""
    lines = ["GIMP Palette", f"Name: {palette.name}", "Columns: 8", "#"]
    for c in palette.colors:
        r, g, b = c.rgb
        lines.append(f"{r:3d} {g:3d} {b:3d}\t{c.code} {c.name}".rstrip())
    return "\n".join(lines) + "\n"


def write_gpl(palette: Palette, path: str | Path) -> None:
    """Write a GIMP palette atomically."""
    atomic_write_text(Path(path), format_gpl(palette))


def write_json(palette: Palette, path: str | Path) -> None:
    """Write our JSON palette format atomically."""
    atomic_write_text(Path(path), json.dumps(palette.to_dict(), indent=1, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class PaletteInfo:
    """What the palette list shows without loading every colour."""

    key: str
    name: str
    group: str
    kind: str
    count: int
    path: Path


def list_palettes(directory: Path = PALETTE_DIR) -> list[PaletteInfo]:
    """All shipped palettes, sorted by group then name (the folder is read once per process)."""
    return list(_scan_palettes(Path(directory)))


@lru_cache(maxsize=4)
def _scan_palettes(directory: Path) -> tuple[PaletteInfo, ...]:
    out = []
    for path in sorted(directory.glob("*/*.json")):
        with open(path, encoding="utf-8") as fh:
            d = json.load(fh)
        n = sum(1 for c in d["colors"] if not c.get("retired"))
        out.append(PaletteInfo(d["key"], d["name"], d.get("group", path.parent.name),
                               d["medium"]["kind"], n, path))
    return tuple(sorted(out, key=lambda p: (p.group, p.name.lower())))


def load_palette(name_or_path: str | Path, include_retired: bool = False) -> Palette:
    """Load a shipped palette by key (e.g. ``perler``, ``lego``, ``dmc``) or a file (.json/.hex/.gpl/.csv).

    Retired colours (LEGO) are left out unless ``include_retired`` is true.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix.lower() in (".json", ".hex", ".gpl", ".csv") or path.exists():
        if not path.exists():
            raise PaletteError(f"palette file not found: {path}")
        pal = read_palette_file(path)
    else:
        infos = list_palettes()
        match = [i for i in infos if i.key.lower() == text.lower()]
        if not match:
            known = ", ".join(i.key for i in infos)
            raise PaletteError(f"unknown palette {text!r}. Known palettes: {known} (or give a .hex/.gpl/.csv file)")
        with open(match[0].path, encoding="utf-8") as fh:
            pal = Palette.from_dict(json.load(fh))
    return pal if include_retired else pal.current()
