"""The one parser for sizes and numbers typed by a user: "100x100", "100×100", "100 x 100 mm", "12.5 cm", "3".

Every option that takes a width x height (design size, hoop, custom board) or a number with a unit goes through
:func:`parse_pair` / :func:`parse_number`, so every input accepts the same spellings and is refused the same way:
a :class:`SizeError` (a ValueError) with one line saying what was expected.

Lengths are converted between mm, cm and inches when the caller asks for a length unit; any other unit ("px",
"cells") may only be written as itself or left out.
"""

from __future__ import annotations

import math
import re

LENGTH_UNITS = {"mm": 1.0, "cm": 10.0, "in": 25.4, '"': 25.4}
MAX_TEXT = 60  # longer inputs are refused before any parsing (hundreds of digits are not a size)

_NUM = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:e[+-]?\d+)?"
_UNIT = r"[a-z\"%²]*"
_PAIR_RE = re.compile(rf"^\s*({_NUM})\s*({_UNIT})\s*(?:x|×|\*|by)\s*({_NUM})\s*({_UNIT})\s*$", re.IGNORECASE)
_ONE_RE = re.compile(rf"^\s*({_NUM})\s*({_UNIT})\s*$", re.IGNORECASE)
_NOT_FINITE_RE = re.compile(r"[+-]?(inf|infinity|nan)", re.IGNORECASE)


class SizeError(ValueError):
    """A size or number could not be read; the message says what was expected."""


def _factor(unit_text: str, unit: str, text: str, what: str) -> float:
    u = unit_text.strip().lower()
    if not u or u == unit.lower():
        return 1.0
    if unit in LENGTH_UNITS and u in LENGTH_UNITS:
        return LENGTH_UNITS[u] / LENGTH_UNITS[unit]
    allowed = sorted({unit, *(LENGTH_UNITS if unit in LENGTH_UNITS else ())} - {'"'})
    raise SizeError(f"{what}: unknown unit {unit_text!r} in {text!r}; use {' or '.join(allowed) or 'no unit'}")


def decimal_value(text: str) -> float:
    """A number as the parsers read it: a decimal point or a decimal comma ("12,5")."""
    return float(text.replace(",", "."))


def split_pair(text: str) -> tuple[str, str, str, str] | None:
    """The pieces of ``"W [unit] x H [unit]"`` as typed: (width, its unit, height, its unit), a unit left out
    being ""; None when ``text`` is not such a pair. For callers with units of their own (cells, boards)."""
    s = str(text)
    m = _PAIR_RE.match(s) if len(s) <= MAX_TEXT else None
    return m.groups() if m else None  # type: ignore[return-value]


def split_number(text: str) -> tuple[str, str] | None:
    """The pieces of ``"N [unit]"`` as typed: (number, unit or ""); None when ``text`` is not one number."""
    s = str(text)
    m = _ONE_RE.match(s) if len(s) <= MAX_TEXT else None
    return m.groups() if m else None  # type: ignore[return-value]


def _checked(value: float, text: str, what: str, integer: bool, positive: bool) -> float:
    if not math.isfinite(value):
        raise SizeError(f"{what} must be a finite number, got {text!r}")
    if positive and value <= 0:
        raise SizeError(f"{what} must be more than 0, got {text!r}")
    if integer and not float(value).is_integer():
        raise SizeError(f"{what} must be whole numbers, got {text!r}")
    return value


def parse_pair(text: str, what: str = "size", unit: str = "mm", integer: bool = False,
               positive: bool = True) -> tuple[float, float]:
    """``"WIDTHxHEIGHT"`` -> (width, height) in ``unit``.

    Accepts ``x``, ``X``, ``×``, ``*`` or ``by`` between the numbers, spaces anywhere, a unit after either
    number (``"10 cm x 8 cm"``, ``"100x80mm"``) and a decimal comma. With ``integer`` the results are ints.
    """
    s = str(text)
    example = "130x180" if unit in LENGTH_UNITS else "29x29"
    hint = f"{what} must look like WIDTHxHEIGHT{' in ' + unit if unit else ''} (e.g. {example}), got {s[:40]!r}"
    m = split_pair(s)
    if not m:
        if any(_NOT_FINITE_RE.fullmatch(part.strip()) for part in re.split(r"x|×|\*", s, flags=re.IGNORECASE)):
            raise SizeError(f"{what} must be finite numbers, got {s[:40]!r}")
        raise SizeError(hint)
    w_txt, w_unit, h_txt, h_unit = m
    if w_unit and not h_unit:
        h_unit = w_unit
    if h_unit and not w_unit:
        w_unit = h_unit
    try:
        w = decimal_value(w_txt) * _factor(w_unit, unit, s, what)
        h = decimal_value(h_txt) * _factor(h_unit, unit, s, what)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, SizeError):
            raise
        raise SizeError(hint) from None
    w, h = (_checked(v, s, what, integer, positive) for v in (w, h))
    return (int(w), int(h)) if integer else (w, h)


def parse_number(text: str, what: str = "number", unit: str = "", integer: bool = False,
                 positive: bool = False) -> float:
    """One number, optionally followed by ``unit`` (or, for lengths, another length unit converted to it)."""
    s = str(text)
    kind = "a whole number" if integer else "a number"
    hint = f"{what} must be {kind}{' in ' + unit if unit else ''}, got {s[:40]!r}"
    m = split_number(s)
    if not m:
        if _NOT_FINITE_RE.fullmatch(s.strip()):
            raise SizeError(f"{what} must be a finite number, got {s[:40]!r}")
        raise SizeError(hint)
    try:
        value = decimal_value(m[0]) * _factor(m[1], unit, s, what)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, SizeError):
            raise
        raise SizeError(hint) from None
    value = _checked(value, s, what, False, positive)
    if integer:
        if not float(value).is_integer():
            raise SizeError(hint)
        return int(value)
    return value


def format_pair(width: float, height: float, unit: str = "mm") -> str:
    """``120 x 90 mm`` (the way sizes are written back to the user)."""
    return f"{width:g} x {height:g}{' ' + unit if unit else ''}"
