"""Colour science: conversions round-trip and CIEDE2000 matches the published reference pairs."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core import color

DATA = Path(__file__).parent / "data" / "sharma2005_ciede2000.csv"


def _sharma():
    rows = np.loadtxt(DATA, delimiter=",", comments="#", skiprows=2)
    return rows[:, 0:3], rows[:, 3:6], rows[:, 6]


def test_sharma_table_has_all_34_pairs():
    lab1, _, _ = _sharma()
    assert len(lab1) == 34


def test_ciede2000_matches_sharma_reference_pairs():
    lab1, lab2, expected = _sharma()
    got = color.ciede2000(lab1, lab2)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_ciede2000_is_symmetric_on_reference_pairs():
    lab1, lab2, _ = _sharma()
    np.testing.assert_allclose(color.ciede2000(lab1, lab2), color.ciede2000(lab2, lab1), atol=1e-12)


def test_torch_ciede2000_matches_sharma_and_is_differentiable():
    lab1, lab2, expected = _sharma()
    t1 = torch.tensor(lab1, dtype=torch.float64, requires_grad=True)
    t2 = torch.tensor(lab2, dtype=torch.float64)
    got = color.ciede2000_t(t1, t2)
    np.testing.assert_allclose(got.detach().numpy(), expected, atol=1e-4, rtol=0)
    got.sum().backward()
    assert t1.grad is not None and torch.isfinite(t1.grad).all()


def test_known_srgb_to_lab_values():
    # White is L=100, a=b=0 under D65; pure sRGB red is the textbook (53.24, 80.09, 67.20).
    np.testing.assert_allclose(color.srgb_to_lab([1.0, 1.0, 1.0]), [100.0, 0.0, 0.0], atol=1e-3)
    np.testing.assert_allclose(color.srgb_to_lab([1.0, 0.0, 0.0]), [53.24, 80.09, 67.20], atol=0.02)
    np.testing.assert_allclose(color.srgb_to_lab([0.0, 0.0, 0.0]), [0.0, 0.0, 0.0], atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3))
def test_srgb_lab_round_trip(rgb):
    back = color.lab_to_srgb(color.srgb_to_lab(np.array(rgb)))
    np.testing.assert_allclose(back, rgb, atol=1e-6)


def test_torch_lab_matches_numpy():
    rgb = np.random.default_rng(1).random((50, 3))
    np.testing.assert_allclose(
        color.srgb_to_lab_t(torch.tensor(rgb)).numpy(), color.srgb_to_lab(rgb), atol=1e-6
    )


def test_nearest_palette_index_picks_the_closest_colour():
    palette_lab = color.srgb_to_lab(np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 0, 1]], dtype=float))
    pixels = color.srgb_to_lab(np.array([[[0.05, 0.05, 0.05], [0.9, 0.95, 0.9]], [[0.8, 0.1, 0.1], [0.1, 0.1, 0.7]]]))
    np.testing.assert_array_equal(color.nearest_palette_index(pixels, palette_lab), [[0, 1], [2, 3]])


def test_nearest_palette_index_agrees_with_brute_force():
    rng = np.random.default_rng(3)
    palette_lab = color.srgb_to_lab(rng.random((30, 3)))
    pixels = color.srgb_to_lab(rng.random((40, 3)))
    brute = np.argmin(color.ciede2000(pixels[:, None, :], palette_lab[None]), axis=1)
    np.testing.assert_array_equal(color.nearest_palette_index(pixels, palette_lab), brute)


@pytest.mark.parametrize("value", [0.0, 0.02, 0.5, 1.0])
def test_transfer_curve_round_trip(value):
    assert color.linear_to_srgb(color.srgb_to_linear(value)) == pytest.approx(value, abs=1e-9)
