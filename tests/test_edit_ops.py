"""flood_fill_cells: 4-connected regions, empty cells, no-op fills; adopt_palette: subset -> full palette."""

from __future__ import annotations

import numpy as np

from engine.core.edit import adopt_palette, flood_fill_cells


def test_fill_stays_inside_four_connected_region():
    index = np.array([
        [1, 1, 2, 1],
        [2, 1, 2, 1],
        [1, 2, 1, 1],
    ])
    mask = flood_fill_cells(index, None, 0, 0, 5)
    expected = np.array([
        [1, 1, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 0, 0],
    ], dtype=bool)
    np.testing.assert_array_equal(mask, expected)
    # the right-hand region of 1s touches (2, 2) but not (0, 0) diagonally
    right = flood_fill_cells(index, None, 0, 3, 5)
    assert right.sum() == 4 and right[2, 2] and not right[0, 0] and not right[2, 0]


def test_fill_with_same_colour_changes_nothing():
    index = np.zeros((4, 4), dtype=np.uint16)
    assert not flood_fill_cells(index, None, 1, 1, 0).any()
    assert flood_fill_cells(index, None, 1, 1, 3).all()


def test_empty_cells_are_their_own_region(small_pattern):
    p = small_pattern
    # empty cell at (0, 0) only; filling it paints only that cell
    mask = flood_fill_cells(p.index, p.empty, 0, 0, 5)
    assert mask.sum() == 1 and mask[0, 0]
    # filling a coloured region never spills into empty cells
    colour_mask = flood_fill_cells(p.index, p.empty, 0, 1, 7)
    assert not (colour_mask & p.empty_mask).any()
    assert (p.index[colour_mask] == p.index[0, 1]).all()
    # erasing an empty cell is a no-op
    assert not flood_fill_cells(p.index, p.empty, 0, 0, None).any()


def test_outside_seed_returns_empty_mask():
    index = np.ones((3, 3), dtype=np.uint16)
    assert not flood_fill_cells(index, None, 5, 0, 2).any()
    assert flood_fill_cells(index, None, 5, 0, 2).shape == (3, 3)


def test_adopt_palette_maps_subset_indices_back_to_full_palette(small_pattern, perler):
    sub = perler.subset([0, 5, 9, 20])  # subsets keep palette order
    remap = {0: 0, 5: 1, 9: 2, 20: 3}  # full index -> subset index
    index = np.vectorize(remap.get)(small_pattern.index).astype(np.uint16)
    from engine.core.pattern import Pattern

    converted = Pattern(index, sub, small_pattern.empty.copy(), metadata={"source": "x"})
    adopted = adopt_palette(converted, perler)
    assert adopted.palette is perler
    np.testing.assert_array_equal(adopted.index, small_pattern.index)
    np.testing.assert_array_equal(adopted.empty, small_pattern.empty)
    assert adopted.metadata == {"source": "x"}


def test_adopt_palette_keeps_pattern_when_a_code_is_missing(small_pattern, perler):
    other = perler.subset([0, 5, 9])
    assert adopt_palette(small_pattern, other) is small_pattern
    assert adopt_palette(small_pattern, None) is small_pattern
