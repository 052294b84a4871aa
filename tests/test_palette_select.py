"""engine.core.palette_select: CIEDE2000 nearest matches and the best-k colour subset."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.core.color import ciede2000, srgb8_to_lab
from engine.core.palette_select import (
    color_histogram,
    mapping_error,
    most_frequent_nearest,
    nearest_candidates,
    nearest_index,
    select_colors,
)

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


def _photo_lab(path, size=(64, 43)):
    img = Image.open(path).convert("RGB").resize(size, Image.BOX)
    return srgb8_to_lab(np.asarray(img).reshape(-1, 3))


def test_palette_colours_map_to_themselves(perler):
    assert list(nearest_index(perler.lab, perler.lab)) == list(range(len(perler)))


def test_nearest_candidates_agree_with_full_search(perler):
    lab = srgb8_to_lab(np.random.default_rng(1).integers(0, 256, (3000, 3)))
    full = np.argmin(ciede2000(lab[:, None, :], perler.lab[None]), axis=1)
    idx, de = nearest_candidates(lab, perler.lab, 4)
    assert idx.shape == de.shape == (3000, 4)
    assert (np.diff(de, axis=1) >= 0).all()  # sorted nearest first
    assert (idx[:, 0] == full).mean() > 0.995
    # where the short list missed, the miss is a near tie
    full_de = ciede2000(lab, perler.lab[full])
    assert (de[:, 0] - full_de).max() < 1.5
    np.testing.assert_allclose(de[:, 0], ciede2000(lab, perler.lab[idx[:, 0]]))


def test_histogram_keeps_total_weight(sample_image_path):
    lab = _photo_lab(sample_image_path)
    colors, w = color_histogram(lab, max_colors=500)
    assert len(colors) <= 500
    assert w.sum() == pytest.approx(len(lab))


def test_best_k_beats_most_frequent_nearest_on_a_photo(perler):
    lab = _photo_lab(SAMPLES / "astronaut.jpg", (64, 64))
    gains = []
    for k in (4, 8, 16):
        ours = select_colors(lab, perler.lab, k)
        base = most_frequent_nearest(lab, perler.lab, k)
        assert len(ours) == k == len(set(ours)) and ours == sorted(ours)
        err_ours = mapping_error(lab, perler.lab, ours)
        err_base = mapping_error(lab, perler.lab, base)
        assert err_ours < err_base, (k, err_ours, err_base)
        gains.append(1.0 - err_ours / err_base)
    assert max(gains) > 0.05  # clearly better where the choice matters most (few colours)


def test_matches_brute_force_on_a_small_case():
    rng = np.random.default_rng(3)
    pal = srgb8_to_lab(rng.integers(0, 256, (9, 3)))
    lab = srgb8_to_lab(rng.integers(0, 256, (300, 3)))
    w = rng.random(300)
    best = min(mapping_error(lab, pal, list(c), w) for c in combinations(range(9), 3))
    ours = mapping_error(lab, pal, select_colors(lab, pal, 3, w), w)
    assert ours <= best * 1.01


def test_k_limits(perler):
    lab = perler.lab[:5]
    assert select_colors(lab, perler.lab, len(perler) + 3) == list(range(len(perler)))
    with pytest.raises(ValueError, match="at least 1"):
        select_colors(lab, perler.lab, 0)
    # exact palette colours: the best 5 are exactly those colours
    assert select_colors(lab, perler.lab, 5) == [0, 1, 2, 3, 4]
