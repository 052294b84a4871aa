"""Qt-free editing helpers for patterns: the flood-fill region of a cell, re-expressing a pattern in a palette."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from engine.core.palette import Palette
from engine.core.pattern import Pattern

_FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def flood_fill_cells(index: np.ndarray, empty: np.ndarray | None, y: int, x: int, new: int | None) -> np.ndarray:
    """Cells a flood fill from (y, x) would change: the 4-connected region of the seed's colour.

    ``empty`` marks empty cells (None = none); an empty seed fills its connected empty region.
    ``new`` is the colour to paint (None = make empty). Returns an H x W bool mask, all False when
    the seed already has the new value or lies outside the pattern.
    """
    index = np.asarray(index)
    h, w = index.shape
    if not (0 <= y < h and 0 <= x < w):
        return np.zeros((h, w), dtype=bool)
    empty_mask = np.zeros((h, w), dtype=bool) if empty is None else np.asarray(empty, dtype=bool)
    seed_empty = bool(empty_mask[y, x])
    if seed_empty:
        same = empty_mask
        if new is None:
            return np.zeros((h, w), dtype=bool)
    else:
        seed = int(index[y, x])
        if new is not None and int(new) == seed:
            return np.zeros((h, w), dtype=bool)
        same = (index == seed) & ~empty_mask
    labels, _ = ndimage.label(same, structure=_FOUR_CONNECTED)
    return labels == labels[y, x]


def adopt_palette(pattern: Pattern, palette: Palette | None) -> Pattern:
    """Re-express ``pattern`` in the full ``palette`` when all its colour codes are there.

    Conversions run on the owned / limited subset; mapping back to the full palette lets the palette
    panel and edit tools use any colour of the brand. Returns ``pattern`` unchanged otherwise.
    """
    if palette is None or pattern.palette is palette:
        return pattern
    codes = {c: i for i, c in enumerate(palette.codes)}
    try:
        remap = np.array([codes[c] for c in pattern.palette.codes], dtype=np.uint16)
    except KeyError:
        return pattern
    return Pattern(remap[pattern.index], palette, pattern.empty, pattern.medium, dict(pattern.metadata))
