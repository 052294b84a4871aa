"""Qt-free editing helpers for patterns: the flood-fill region of a cell."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

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
