"""Palettes of physical colours (beads, bricks, threads): the Palette and PaletteColor types."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from engine.core.color import srgb8_to_lab
from engine.core.limits import MAX_COLORS
from engine.core.medium import PIXEL, Medium

log = logging.getLogger(__name__)


# Bead finishes (PaletteColor.finish). Speciality finishes are left out of a conversion unless asked for.
FINISHES = ("solid", "clear", "translucent", "glow", "neon", "pearl", "glitter", "metallic", "striped", "iridescent")
DEFAULT_FINISHES = ("solid",)


def parse_finishes(value) -> tuple[str, ...]:
    """Finishes from ``"pearl,neon"``, ``"all"`` or a list; always includes ``solid``; unknown names are refused."""
    items = [v.strip().lower() for v in (value.split(",") if isinstance(value, str) else value) if str(v).strip()]
    if "all" in items:
        return FINISHES
    bad = [v for v in items if v not in FINISHES]
    if bad:
        raise PaletteError(f"unknown finish {', '.join(bad)}; use some of {', '.join(FINISHES)} or 'all'")
    return tuple(f for f in FINISHES if f == "solid" or f in items)


class PaletteError(ValueError):
    """A palette could not be found, read or used; the message says what to do."""


@dataclass(frozen=True)
class PaletteColor:
    """One buyable colour: maker's code, name, 8-bit sRGB, chart symbol and ids in other catalogues."""

    code: str
    name: str
    rgb: tuple[int, int, int]
    symbol: str | None = None
    ids: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    retired: bool = False
    finish: str = "solid"  # solid, clear, translucent, glow, neon, pearl, glitter, metallic, striped...
    parts: tuple[str, ...] = ()  # brick colours: the piece kinds this colour is made in (empty: not recorded)
    note: str = ""  # where a value came from or why it differs from a second source

    @property
    def hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)

    def to_dict(self) -> dict:
        d: dict = {"code": self.code, "name": self.name, "hex": self.hex}
        if self.symbol:
            d["symbol"] = self.symbol
        if self.ids:
            d["ids"] = dict(self.ids)
        if self.retired:
            d["retired"] = True
        if self.finish != "solid":
            d["finish"] = self.finish
        if self.parts:
            d["parts"] = list(self.parts)
        if self.note:
            d["note"] = self.note
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PaletteColor":
        return cls(
            code=str(d["code"]),
            name=str(d.get("name", d["code"])),
            rgb=parse_hex_color(d["hex"]),
            symbol=d.get("symbol") or None,
            ids={str(k): str(v) for k, v in (d.get("ids") or {}).items()},
            retired=bool(d.get("retired", False)),
            finish=str(d.get("finish", "solid")),
            parts=tuple(str(p) for p in d.get("parts") or ()),
            note=str(d.get("note", "")),
        )


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def parse_hex_color(text: str) -> tuple[int, int, int]:
    """Parse ``#RRGGBB`` / ``RRGGBB`` (case-insensitive) into an 8-bit RGB tuple."""
    s = str(text).strip().lstrip("#")
    if len(s) != 6 or any(ch not in _HEX_DIGITS for ch in s):  # int(..., 16) alone takes "-f", "+f" and " f"
        raise ValueError(f"expected a colour like #RRGGBB, got {text!r}")
    return (int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16))


@dataclass(frozen=True)
class Palette:
    """An ordered list of colours plus the medium they are made of and where the data came from."""

    name: str
    colors: tuple[PaletteColor, ...]
    medium: Medium = PIXEL
    key: str = ""
    group: str = ""
    source: str = ""
    license: str = ""

    def __post_init__(self) -> None:
        if not self.colors:
            raise PaletteError(f"palette {self.name!r} has no colours")
        most = min(MAX_COLORS.value, 65_536)  # pattern indices are 16-bit: never let them wrap
        if len(self.colors) > most:
            raise PaletteError(f"palette {self.name[:60]!r} has {len(self.colors):,} colours, more than the limit "
                               f"of {most:,}; use a smaller palette")
        codes = [c.code for c in self.colors]
        if len(set(codes)) != len(codes):
            dupes = sorted({c for c in codes if codes.count(c) > 1})
            raise PaletteError(f"palette {self.name!r} has duplicate colour codes: {', '.join(dupes[:5])}")
        object.__setattr__(self, "colors", tuple(self.colors))

    def __len__(self) -> int:
        return len(self.colors)

    def __iter__(self):
        return iter(self.colors)

    def __getitem__(self, i: int) -> PaletteColor:
        return self.colors[i]

    @cached_property
    def rgb8(self) -> np.ndarray:
        """n x 3 uint8 sRGB."""
        return np.array([c.rgb for c in self.colors], dtype=np.uint8)

    @cached_property
    def rgb(self) -> np.ndarray:
        """n x 3 float sRGB in [0, 1]."""
        return self.rgb8.astype(np.float64) / 255.0

    @cached_property
    def lab(self) -> np.ndarray:
        """n x 3 CIELAB (D65), computed from the sRGB values."""
        return srgb8_to_lab(self.rgb8)

    @property
    def codes(self) -> list[str]:
        return [c.code for c in self.colors]

    def index_of(self, code: str) -> int:
        """Position of the colour with this code (exact, then case-insensitive)."""
        for i, c in enumerate(self.colors):
            if c.code == code:
                return i
        low = code.lower()
        for i, c in enumerate(self.colors):
            if c.code.lower() == low:
                return i
        raise PaletteError(f"colour code {code!r} is not in palette {self.name!r}")

    def subset(self, indices_or_codes, name: str | None = None) -> "Palette":
        """A new palette with only the given colours (indices or codes), in palette order."""
        idx = set()
        for item in indices_or_codes:
            idx.add(int(item) if isinstance(item, (int, np.integer)) else self.index_of(str(item)))
        if not idx:
            raise PaletteError("a palette subset needs at least one colour")
        keep = [self.colors[i] for i in sorted(idx)]
        return Palette(
            name=name or f"{self.name} ({len(keep)} colours)",
            colors=tuple(keep),
            medium=self.medium,
            key=self.key,
            group=self.group,
            source=self.source,
            license=self.license,
        )

    def owned(self, codes) -> "Palette":
        """The "colours I own" subset: codes may be a list or a comma-separated string."""
        if isinstance(codes, str):
            codes = [c.strip() for c in codes.split(",") if c.strip()]
        return self.subset(list(codes), name=f"{self.name} (owned)")

    def current(self) -> "Palette":
        """Only colours still produced (drops ones flagged retired)."""
        keep = [i for i, c in enumerate(self.colors) if not c.retired]
        return self if len(keep) == len(self.colors) else self.subset(keep, name=self.name)

    @property
    def finishes(self) -> tuple[str, ...]:
        """The finishes present in this palette (known ones in FINISHES order, then any others)."""
        present = {c.finish for c in self.colors}
        return tuple(f for f in FINISHES if f in present) + tuple(sorted(present - set(FINISHES)))

    def finish_indices(self, finishes=DEFAULT_FINISHES) -> list[int]:
        """Positions of the colours whose finish is one of ``finishes`` (see ``parse_finishes``)."""
        allowed = set(parse_finishes(finishes))
        return [i for i, c in enumerate(self.colors) if c.finish in allowed]

    def with_finishes(self, finishes=DEFAULT_FINISHES) -> "Palette":
        """Only the colours of these finishes (default: solid), e.g. the default "owned" set of a bead brand."""
        keep = self.finish_indices(finishes)
        if not keep:
            raise PaletteError(f"palette {self.name!r} has no colours of finish {', '.join(parse_finishes(finishes))}; "
                               f"its finishes are {', '.join(self.finishes)}")
        return self if len(keep) == len(self.colors) else self.subset(keep, name=self.name)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "key": self.key,
            "group": self.group,
            "medium": self.medium.to_dict(),
            "source": self.source,
            "license": self.license,
            "colors": [c.to_dict() for c in self.colors],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Palette":
        try:
            return cls(
                name=str(d["name"]),
                colors=tuple(PaletteColor.from_dict(c) for c in d["colors"]),
                medium=Medium.from_dict(d.get("medium") or {}),
                key=str(d.get("key", "")),
                group=str(d.get("group", "")),
                source=str(d.get("source", "")),
                license=str(d.get("license", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, PaletteError):
                raise
            raise PaletteError(f"palette data is damaged: {exc}") from exc
