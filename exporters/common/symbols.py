"""Chart symbols: one short, stable text symbol per palette colour (printable in the PDF base fonts)."""

from __future__ import annotations

from itertools import product

from engine.core.palette import Palette

# Single characters that read well in a small cell and exist in the PDF base-14 fonts (WinAnsi).
_SINGLES = (
    "ABCDEFGHJKLMNPQRSTUVWXYZ"
    "abdefghkmnpqrtuy"
    "23456789"
    "#$%&*+=?@<>/\\!~^"
    "\u00a7\u00b6\u00a9\u00ae\u00d8\u00df\u00c6\u00e6\u00a5\u00a3\u00b1\u00f7\u00d7\u00bf"
)


def fallback_symbols(n: int) -> list[str]:
    """The first ``n`` symbols of the deterministic fallback sequence (singles, then two-letter pairs)."""
    out = list(_SINGLES[:n])
    if len(out) < n:
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        for a, b in product(letters, "abdefghkmnpqrtuy23456789"):
            out.append(a + b)
            if len(out) >= n:
                break
    if len(out) < n:
        raise ValueError(f"cannot make {n} distinct chart symbols")
    return out


def symbols_for(palette: Palette, indices: list[int]) -> dict[int, str]:
    """Palette index -> symbol for the colours ``indices``.

    A colour keeps the palette's own ``symbol`` when it has one (so charts agree with the maker's
    colour cards). Colours without one get a deterministic fallback: by palette position when the
    palette is small enough for single characters, else by order among ``indices``. Duplicates are
    resolved so that every colour on a chart has its own symbol.
    """
    indices = sorted({int(i) for i in indices})
    result: dict[int, str] = {}
    taken: set[str] = set()
    for i in indices:
        sym = palette[i].symbol
        if sym and sym.strip() and sym not in taken:
            result[i] = sym
            taken.add(sym)
    missing = [i for i in indices if i not in result]
    if not missing:
        return result
    pool = [s for s in fallback_symbols(len(_SINGLES) + 24 * 24) if s not in taken]
    if len(palette) <= len(pool):
        for i in missing:  # by palette position: the same colour gets the same symbol in every design
            cand = pool[i]
            if cand not in taken:
                result[i] = cand
                taken.add(cand)
        missing = [i for i in missing if i not in result]
    free = iter(s for s in pool if s not in taken)
    for i in missing:
        result[i] = next(free)
    return result
