"""Purchase quantities: what a design needs, plus spares, rounded up to bags/packs, less what the user owns.

The one place where counts become quantities to buy. The counts CSV, bead legends, brick parts lists and
BrickLink/Rebrickable orders all call ``purchase`` / ``shopping_list``; the GUI shopping list can too.

    rule = SpareRule(percent=5, minimum=2)
    lines = shopping_list([("H01", "White", 420), ("H18", "Black", 37)], rule, pack_size=1000,
                          stash={"H01": 600})
    lines[0].to_buy == 0 and lines[0].covered          # the stash covers White (420 + 21 spares)
    lines[1].spares == 2 and lines[1].to_buy == 39     # 5 % of 37 is 1.85 -> 2 (the minimum is 2 as well)
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from exporters.common.errors import ExportError


@dataclass(frozen=True)
class SpareRule:
    """Extra pieces per colour/part: ``percent`` of the count (rounded up), at least ``minimum``."""

    percent: float = 0.0
    minimum: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.percent, (int, float)) and 0 <= self.percent <= 100):
            raise ExportError(f"spares must be 0 to 100 percent, got {self.percent!r}")
        if not isinstance(self.minimum, int) or self.minimum < 0:
            raise ExportError(f"the minimum of spares must be a whole number of 0 or more, got {self.minimum!r}")

    @property
    def active(self) -> bool:
        return self.percent > 0 or self.minimum > 0

    def spares(self, count: int) -> int:
        """Spares for ``count`` pieces (none for a colour that is not used)."""
        if count <= 0:
            return 0
        return max(self.minimum, math.ceil(count * self.percent / 100 - 1e-9))

    def describe(self) -> str:
        parts = []
        if self.percent:
            parts.append(f"{self.percent:g} %")
        if self.minimum:
            parts.append(f"at least {self.minimum}")
        return "spares: " + ", ".join(parts) if parts else "no spares"


NO_SPARES = SpareRule()


@dataclass(frozen=True)
class Purchase:
    """One line to buy: the design needs ``needed``; with spares ``total``; ``to_buy`` after the stash."""

    code: str
    name: str
    needed: int
    spares: int
    owned: int
    to_buy: int
    pack_size: int | None
    packs: int | None

    @property
    def total(self) -> int:
        """Pieces wanted: needed + spares."""
        return self.needed + self.spares

    @property
    def covered(self) -> bool:
        """True when the stash holds everything wanted."""
        return self.to_buy == 0

    @property
    def shortfall(self) -> int:
        """Pieces missing from the stash (same as ``to_buy``)."""
        return self.to_buy


def check_pack_size(pack_size: int | None) -> None:
    """Raise ExportError unless ``pack_size`` is None or a whole number above 0."""
    if pack_size is not None and (not isinstance(pack_size, int) or pack_size < 1):
        raise ExportError(f"bag size must be a whole number of beads above 0, got {pack_size!r}")


def packs_needed(count: int, pack_size: int) -> int:
    """How many bags/packs of ``pack_size`` cover ``count`` pieces."""
    return math.ceil(count / pack_size)


def purchase(code: str, name: str, needed: int, rule: SpareRule = NO_SPARES, pack_size: int | None = None,
             owned: int = 0) -> Purchase:
    """The purchase line for one colour/part."""
    check_pack_size(pack_size)
    spares = rule.spares(int(needed))
    to_buy = max(0, int(needed) + spares - max(0, int(owned)))
    packs = packs_needed(to_buy, pack_size) if pack_size else None
    return Purchase(str(code), str(name), int(needed), spares, max(0, int(owned)), to_buy, pack_size, packs)


def shopping_list(counts: Iterable[tuple[str, str, int]], rule: SpareRule = NO_SPARES,
                  pack_size: int | None = None, stash: Mapping[str, int] | None = None) -> list[Purchase]:
    """Purchase lines for (code, name, needed) triples, in the given order; ``stash`` maps code -> pieces owned."""
    stash = stash or {}
    return [purchase(code, name, n, rule, pack_size, int(stash.get(code, 0))) for code, name, n in counts]


@dataclass(frozen=True)
class Coverage:
    """How far a stash covers a shopping list."""

    lines: int
    covered_lines: int
    wanted: int
    to_buy: int

    def describe(self) -> str:
        return (f"your stash covers {self.covered_lines} of {self.lines} colours; "
                f"{self.to_buy:,} of {self.wanted:,} pieces still to buy")


def coverage(lines: Iterable[Purchase]) -> Coverage:
    """Summary of a shopping list against the stash it was made with."""
    lines = list(lines)
    return Coverage(len(lines), sum(p.covered for p in lines), sum(p.total for p in lines),
                    sum(p.to_buy for p in lines))


def read_stash(path: str | Path) -> dict[str, int]:
    """A stash file: CSV rows ``code,count`` (a header row is skipped; codes as in the palette)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ExportError(f"cannot read the stash file {path}: {exc.strerror or exc}") from None
    stash: dict[str, int] = {}
    for n, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not row[0].strip() or row[0].startswith("#"):
            continue
        if len(row) < 2:
            raise ExportError(f"stash file {path.name}, line {n}: expected 'code,count'")
        try:
            stash[row[0].strip()] = stash.get(row[0].strip(), 0) + int(row[1].strip())
        except ValueError:
            if n == 1:
                continue  # header
            raise ExportError(f"stash file {path.name}, line {n}: count {row[1]!r} is not a whole number") from None
    return stash

