"""engine.convert.cleanup: metrics, the local CIEDE2000 metric, and the confetti-cleanup energy minimiser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.convert.cleanup import (
    CleanupConfig,
    CleanupProblem,
    _metric_tensors,
    blurred_delta_e,
    cleanup,
    isolated_fraction,
    plain_delta_e,
)
from engine.convert.dither import dither
from engine.convert.pipeline import downsample_area
from engine.core.color import ciede2000, linear_to_lab, srgb_to_linear
from engine.core.palette_io import load_palette
from engine.core.palette_select import nearest_index

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


def _cells(path, w, h):
    rgba = np.asarray(Image.open(path).convert("RGBA"))
    lin, _ = downsample_area(rgba, w, h)
    return lin


def test_isolated_fraction_on_hand_made_grids():
    grid = np.zeros((5, 5), dtype=int)
    assert isolated_fraction(grid) == 0.0
    grid[2, 2] = 1
    assert isolated_fraction(grid) == pytest.approx(1 / 25)
    grid[2, 3] = 1  # a pair is not confetti
    assert isolated_fraction(grid) == 0.0
    checker = np.indices((4, 4)).sum(0) % 2
    assert isolated_fraction(checker) == 1.0
    # empty cells are not neighbours and not counted
    empty = np.zeros((4, 4), dtype=bool)
    empty[0, :] = True
    assert isolated_fraction(checker, empty) == 1.0
    assert isolated_fraction(np.zeros((3, 3), int), np.ones((3, 3), bool)) == 0.0


def test_blurred_error_sees_dithering_as_the_mix():
    black, white = np.zeros(3), np.ones(3)
    grey = np.full((8, 8, 3), 0.5)  # linear 50 %: what a fine checkerboard looks like from afar
    checker = np.where((np.indices((8, 8)).sum(0) % 2 == 0)[..., None], white, black)
    flat_white = np.ones((8, 8, 3))
    assert blurred_delta_e(grey, grey) == pytest.approx(0.0, abs=1e-9)
    assert blurred_delta_e(checker, grey) < 0.3 * blurred_delta_e(flat_white, grey)
    assert plain_delta_e(checker, grey) > 20  # cell by cell it is far off


def test_metric_tensor_predicts_small_ciede2000_differences():
    rng = np.random.default_rng(0)
    lin = srgb_to_linear(rng.uniform(0.05, 0.95, (200, 3)))
    M = _metric_tensors(lin)
    d = rng.normal(size=(200, 3)) * 0.004
    predicted = np.sqrt(np.einsum("ni,nij,nj->n", d, M, d))
    exact = ciede2000(linear_to_lab(lin), linear_to_lab(lin + d))
    assert np.median(np.abs(predicted / exact - 1)) < 0.05


def test_solver_lowers_the_energy_and_stays_in_the_candidates(sample_image_path, perler):
    target = _cells(sample_image_path, 40, 27)
    start = nearest_index(linear_to_lab(target), perler.lab)
    problem = CleanupProblem(target, perler.rgb, None, CleanupConfig(strength=0.5))
    before = problem.energy(start)
    out = problem.solve(start)
    after = problem.energy(out)
    assert after["total"] < before["total"] * 0.9
    assert out.shape == start.shape and out.min() >= 0 and out.max() < len(perler)
    assert (out != start).any()


def test_strength_zero_and_one_trade_fidelity_for_clean_areas(sample_image_path, perler):
    target = _cells(sample_image_path, 48, 32)
    start = nearest_index(linear_to_lab(target), perler.lab)
    weak = cleanup(start, target, perler.rgb, strength=0.1)
    strong = cleanup(start, target, perler.rgb, strength=1.0)
    assert isolated_fraction(strong) < isolated_fraction(weak)
    pal_lin = srgb_to_linear(perler.rgb)
    assert blurred_delta_e(pal_lin[weak], target) < blurred_delta_e(pal_lin[strong], target)


def test_single_stray_cell_is_removed(perler):
    a = 3
    de = ciede2000(perler.lab[a], perler.lab)
    b = int(np.argmin(np.where(de > 6, de, np.inf)))  # a similar but clearly different colour
    lin = srgb_to_linear(perler.rgb)
    target = np.broadcast_to(lin[a], (9, 9, 3)).copy()
    target[4, 4] = 0.3 * lin[a] + 0.7 * lin[b]  # nearest colour here is not a: one stray cell
    start = nearest_index(linear_to_lab(target), perler.lab)
    assert start[4, 4] != a and isolated_fraction(start) > 0
    out = cleanup(start, target, perler.rgb, strength=1.0)
    assert isolated_fraction(out) == 0.0
    assert (out == a).all()


def test_empty_cells_are_left_alone(perler):
    target = srgb_to_linear(np.random.default_rng(2).uniform(0, 1, (12, 12, 3)))
    empty = np.zeros((12, 12), dtype=bool)
    empty[:, :4] = True
    start = nearest_index(linear_to_lab(target), perler.lab)
    out = cleanup(start, target, perler.rgb, strength=1.0, empty=empty)
    assert (out[empty] == start[empty]).all()


@pytest.mark.parametrize("photo, palette_key", [("astronaut.jpg", "perler"), ("chelsea.jpg", "lego")])
def test_beats_nearest_and_floyd_steinberg_on_a_photo(photo, palette_key):
    """The issue's bar: lower blurred dE2000 than both, fewer isolated cells than both."""
    pal = load_palette(palette_key)
    target = _cells(SAMPLES / photo, 64, 64)
    lab = linear_to_lab(target)
    lin = srgb_to_linear(pal.rgb)
    near = nearest_index(lab, pal.lab)
    fs = dither(lab, pal.lab, "floyd-steinberg")
    ours = cleanup(near, target, pal.rgb, strength=0.5)
    blur = {k: blurred_delta_e(lin[v], target) for k, v in (("near", near), ("fs", fs), ("ours", ours))}
    iso = {k: isolated_fraction(v) for k, v in (("near", near), ("fs", fs), ("ours", ours))}
    assert blur["ours"] < min(blur["near"], blur["fs"]), blur
    assert iso["ours"] < min(iso["near"], iso["fs"]), iso


def test_small_patch_penalty_removes_worms_but_keeps_details(sample_image_path):
    """Patches of <= 3 same-colour cells are absorbed where cheap; a marked detail cell stays as it is."""
    from engine.convert.cleanup import small_patch_mask, small_patch_share
    from engine.core.color import srgb_to_lab

    perler = load_palette("perler")
    rgb = np.asarray(Image.open(sample_image_path).convert("RGB").resize((48, 32), Image.BOX)) / 255.0
    lin = srgb_to_linear(rgb)
    problem = CleanupProblem(lin, perler.rgb, config=CleanupConfig(strength=0.5))
    start = problem.solve(nearest_index(srgb_to_lab(rgb), perler.lab))
    before = small_patch_share(start)
    after_labels = problem.absorb_small_patches(start, penalty=200.0)
    after = small_patch_share(after_labels)
    assert after < 0.2 * before
    res = srgb_to_linear(perler.rgb)
    assert blurred_delta_e(res[after_labels], lin) < blurred_delta_e(res[start], lin) + 2.5
    keep = small_patch_mask(start)
    kept = problem.absorb_small_patches(start, penalty=200.0, keep=keep)
    np.testing.assert_array_equal(kept[keep], start[keep])
