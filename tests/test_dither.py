"""Converter error diffusion: the fast path against a plain per-cell reference, and the bounds it relies on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.convert import dither as D
from engine.core.color import ciede2000, srgb8_to_lab
from engine.core.palette_io import load_palette

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


def _reference_diffusion(target, pal, kernel, strength, empty=None, grid=D.GRID):
    """Straightforward serpentine error diffusion: one full-palette CIEDE2000 per cell.

    Same rules as the documented behaviour: values clamped to the palette's Lab box, the colour is
    the CIEDE2000-nearest (lowest index on ties) to the value rounded to the grid, the error is taken
    from the unrounded value and goes to non-empty neighbours inside the picture.
    """
    h, w = target.shape[:2]
    lo, hi = pal.min(axis=0), pal.max(axis=0)
    err = np.zeros((h, w, 3))
    out = np.zeros((h, w), dtype=np.int64)
    skip = np.zeros((h, w), bool) if empty is None else empty
    for y in range(h):
        forward = y % 2 == 0
        for x in (range(w) if forward else range(w - 1, -1, -1)):
            if skip[y, x]:
                continue
            value = np.minimum(np.maximum(target[y, x] + err[y, x], lo), hi)
            point = np.round(value / grid) * grid
            i = int(np.argmin(ciede2000(point[None, :], pal)))
            out[y, x] = i
            diff = value - pal[i]
            for dy, dx, wt in kernel:
                yy, xx = y + dy, x + (dx if forward else -dx)
                if yy < h and 0 <= xx < w and not skip[yy, xx]:
                    err[yy, xx] += diff * (wt * strength)
    return out


@pytest.fixture(scope="module")
def chelsea_lab():
    img = Image.open(SAMPLES / "chelsea.jpg").convert("RGB").resize((30, 20), Image.BOX)
    return srgb8_to_lab(np.asarray(img))


@pytest.mark.parametrize("method, kernel, strength", [
    ("floyd-steinberg", D.FLOYD_STEINBERG, 1.0),
    ("atkinson", D.ATKINSON, 1.0),
    ("floyd-steinberg", D.FLOYD_STEINBERG, 0.6),
])
def test_fast_diffusion_matches_plain_reference(chelsea_lab, method, kernel, strength):
    pal = load_palette("perler").lab
    D._TABLES.clear()
    fast = D.dither(chelsea_lab, pal, method, strength)
    ref = _reference_diffusion(chelsea_lab, pal, kernel, strength)
    np.testing.assert_array_equal(fast, ref)
    assert len(np.unique(fast)) > 5  # a real picture: many colours, so the comparison means something
    # a second call reuses the palette's settled grid points and must give the same answer
    np.testing.assert_array_equal(D.dither(chelsea_lab, pal, method, strength), ref)


def test_fast_diffusion_matches_reference_with_empty_cells_and_big_palette(chelsea_lab):
    pal = load_palette("artkal_s").lab
    empty = np.zeros(chelsea_lab.shape[:2], bool)
    empty[:6, :10] = True
    empty[12:, 25:] = True
    fast = D.dither(chelsea_lab, pal, "atkinson", 0.8, empty)
    ref = _reference_diffusion(chelsea_lab, pal, D.ATKINSON, 0.8, empty)
    np.testing.assert_array_equal(fast, ref)
    assert (fast[empty] == 0).all()


def test_box_bounds_hold_for_points_inside_the_box():
    """Lower/upper CIEDE2000 bounds over a box hold for random points in it (neutral axis and blues too)."""
    rng = np.random.default_rng(7)
    pal = load_palette("artkal_s").lab
    lo = np.concatenate([rng.uniform([0, -90, -110], [100, 90, 90], (300, 3)),
                         rng.uniform([20, -4, -4], [80, 0, 0], (60, 3)),        # around the neutral axis
                         rng.uniform([20, 0, -70], [60, 40, -30], (60, 3))])    # blue / violet (R_T term)
    size = rng.uniform(0.5, 8.0, (len(lo), 1))
    hi = lo + size
    lower, upper = D.ciede2000_box_bounds(lo, hi, pal)
    assert (lower <= upper).all()
    for _ in range(4):
        points = lo + rng.uniform(0, 1, lo.shape) * size
        de = ciede2000(points[:, None, :], pal[None, :, :])
        assert (lower <= de + 1e-9).all()
        assert (upper >= de - 1e-9).all()
    corners = ciede2000(lo[:, None, :], pal[None, :, :])  # bounds are not vacuous
    assert np.median(lower / np.maximum(corners, 1e-9)) > 0.5


def test_grid_table_is_exact_nearest_on_random_points():
    pal = load_palette("artkal_s").lab
    table = D._GridNearest(pal, grid=2.0)
    rng = np.random.default_rng(3)
    keys = np.round(rng.uniform(pal.min(0), pal.max(0), (400, 3)) / 2.0).astype(int)
    got = np.array([table.resolve(tuple(k)) for k in keys.tolist()])
    want = np.argmin(ciede2000(keys[:, None, :] * 2.0, pal[None, :, :]), axis=1)
    np.testing.assert_array_equal(got, want)
    assert len(table.blocks) < 400  # points share candidate lists
    assert table.evaluations < 400 * len(pal) / 10  # the proven bounds prune most of the palette


def test_palette_tables_do_not_mix():
    lab = srgb8_to_lab(np.random.default_rng(1).integers(0, 256, (12, 12, 3)))
    perler, artkal = load_palette("perler").lab, load_palette("artkal_s").lab
    D._TABLES.clear()
    a1 = D.dither(lab, perler, "floyd-steinberg", 1.0)
    b1 = D.dither(lab, artkal, "floyd-steinberg", 1.0)
    np.testing.assert_array_equal(D.dither(lab, perler, "floyd-steinberg", 1.0), a1)
    np.testing.assert_array_equal(D.dither(lab, artkal, "floyd-steinberg", 1.0), b1)
    assert a1.max() < len(perler) and b1.max() < len(artkal)
    np.testing.assert_array_equal(a1, _reference_diffusion(lab, perler, D.FLOYD_STEINBERG, 1.0))


def test_unclamped_diffusion_is_plain_lab_error_diffusion(chelsea_lab):
    """clamp=False keeps values outside the palette's Lab box (plain Lab FS, a benchmark peer); it differs."""
    from engine.convert.dither import FLOYD_STEINBERG, error_diffusion

    pal = load_palette("perler").lab
    clamped = error_diffusion(chelsea_lab, pal, FLOYD_STEINBERG, clamp=True)
    free = error_diffusion(chelsea_lab, pal, FLOYD_STEINBERG, clamp=False)
    assert free.shape == clamped.shape and 0 <= free.min() and free.max() < len(pal)
    assert (free != clamped).mean() > 0.05
