"""The user's stash: colours owned with quantities (a CSV ``code,count``) and LEGO Art set inventories.

``read_stash`` reads a stash file against a palette; ``load_set`` finds a LEGO Art set in the shipped
inventories (resources/sets/lego_art.json) by key, set number or name; ``set_palette`` turns a set into the
palette of its colours plus the stash of its pieces ("rebuild from the set I own").
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.core.palette import Palette, PaletteColor, PaletteError, parse_hex_color

SETS_FILE = Path(__file__).resolve().parents[2] / "resources" / "sets" / "lego_art.json"


class StashError(ValueError):
    """A stash file or set name could not be used; the message says what to do."""


def parse_stash(text: str, palette: Palette, name: str = "stash") -> dict[str, int]:
    """Stash counts ``{code: count}`` from CSV text ``code,count`` (a header line is allowed; codes as in ``palette``).

    Repeated codes add up. Unknown codes, counts that are not whole numbers >= 0 and empty files are refused.
    """
    stash: dict[str, int] = {}
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2:
            raise StashError(f"{name} line {lineno}: expected 'code,count', got {','.join(row)!r}")
        code, count = row[0].strip(), row[1].strip()
        if lineno == 1 and not count.lstrip("-").isdigit():
            continue  # header
        try:
            n = int(count)
        except ValueError:
            raise StashError(f"{name} line {lineno}: count {count!r} is not a whole number") from None
        if n < 0:
            raise StashError(f"{name} line {lineno}: count {n} is negative")
        try:
            real = palette[palette.index_of(code)].code
        except PaletteError:
            raise StashError(f"{name} line {lineno}: colour code {code!r} is not in palette {palette.name!r}") from None
        stash[real] = stash.get(real, 0) + n
    if not stash:
        raise StashError(f"{name} lists no colours; write one 'code,count' line per colour you own")
    return stash


def read_stash(path: str | Path, palette: Palette) -> dict[str, int]:
    """Read a stash CSV file (``code,count`` per line) for ``palette``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise StashError(f"cannot read stash file {p}: {exc.strerror or exc}") from None
    return parse_stash(text, palette, p.name)


def format_stash(stash: dict[str, int]) -> str:
    """CSV text of a stash (header ``code,count``), e.g. to save what the GUI's "In stock" column holds."""
    return "code,count\n" + "".join(f"{code},{count}\n" for code, count in stash.items())


@dataclass(frozen=True)
class LegoSet:
    """One LEGO Art / DOTS set's pieces: BrickLink colour id -> (name, hex, count)."""

    key: str
    name: str
    number: str
    pieces: tuple[tuple[int, str, str, int], ...]  # (bricklink id, name, hex, count)

    @property
    def total(self) -> int:
        return sum(p[3] for p in self.pieces)


@lru_cache(maxsize=1)
def lego_sets() -> tuple[LegoSet, ...]:
    """All shipped LEGO Art set inventories."""
    data = json.loads(SETS_FILE.read_text(encoding="utf-8"))
    return tuple(LegoSet(s["key"], s["name"], s["number"],
                         tuple((int(p["bricklink"]), p["name"], p["hex"], int(p["count"])) for p in s["pieces"]))
                 for s in data["sets"])


def load_set(name_or_id: str) -> LegoSet:
    """The set with this key (``iron_man``), set number (``31199``) or name (case-insensitive, a unique part)."""
    want = str(name_or_id).strip().lower()
    sets = lego_sets()
    hits = [s for s in sets if want == s.key]
    hits = hits or [s for s in sets if want == s.number]
    hits = hits or [s for s in sets if want and want in s.name.lower()]
    if len(hits) == 1:
        return hits[0]
    listing = ", ".join(f"{s.key} ({s.number})" for s in sets)
    if hits:
        raise StashError(f"set {name_or_id!r} matches {len(hits)} sets: {', '.join(s.key for s in hits)}; be exact")
    raise StashError(f"unknown set {name_or_id!r}; known sets: {listing}")


def set_palette(lego_set: LegoSet, base: Palette) -> tuple[Palette, dict[str, int]]:
    """The palette of the set's colours and its stash ``{code: count}``.

    A colour is taken from ``base`` (matched by BrickLink id) so codes and catalogue ids are the palette's;
    a colour ``base`` lacks is made from the set's own hex and BrickLink id (code ``BL<id>``).
    """
    if base.medium.kind != "brick":
        raise StashError(f"a LEGO set needs a brick palette (e.g. --palette lego), not {base.name!r}")
    by_bl = {c.ids.get("bricklink"): c for c in base.colors if c.ids.get("bricklink")}
    colors: list[PaletteColor] = []
    stash: dict[str, int] = {}
    for bl, name, hexv, count in lego_set.pieces:
        color = by_bl.get(str(bl))
        if color is None:
            color = PaletteColor(f"BL{bl}", name, parse_hex_color(hexv), None, {"bricklink": str(bl)},
                                 note=f"colour from the {lego_set.number} set inventory")
        if color.code in stash:
            stash[color.code] += count
            continue
        colors.append(color)
        stash[color.code] = count
    pal = Palette(f"{lego_set.name} pieces", tuple(colors), base.medium, base.key, base.group, base.source,
                  base.license)
    return pal, stash
