"""Conversion round 3 (issue 21): flat art without blends, gradients with bands, pixel art with all its colours,
clean photos with a few owned colours, thin lines, saying what happened, and memory on big pictures.

The pictures come from benchmarks/convert_sets.py (made by code, with known truth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import engine.convert.pipeline as pipeline
from benchmarks import convert_sets as cs
from engine.convert.cleanup import isolated_fraction, small_patch_share
from engine.convert.pipeline import ConvertConfig, convert_image, downsample_area, summary_lines
from engine.core.color import linear_to_lab, srgb8_to_lab
from engine.core.image_io import fit_layout
from engine.core.palette_io import load_palette
from engine.core.palette_select import nearest_index

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples"


@pytest.fixture(scope="module")
def perler():
    return load_palette("perler")


def _nearest(img: Image.Image, w: int, h: int, palette, codes=None) -> np.ndarray:
    """Plain nearest colour per area-averaged cell (crop fit), as indices into ``palette``."""
    sub = palette.with_finishes() if codes is None else palette.owned(codes)
    layout = fit_layout(img.width, img.height, w, h, "crop")
    premult, _ = downsample_area(np.asarray(img.convert("RGBA").crop(layout.crop_box)), w, h)
    idx = nearest_index(linear_to_lab(premult), sub.lab)
    return np.array([palette.index_of(c.code) for c in sub])[idx]


@pytest.mark.parametrize("seed, jpeg", [(0, None), (1, None), (0, 70)])
def test_flat_art_uses_only_its_own_flat_colours(perler, seed, jpeg):
    """A 6-colour anti-aliased logo: intent flat, every cell one of the 6 flat colours' palette matches."""
    lg = cs.logo(seed, jpeg=jpeg)
    own = {perler.index_of(perler.with_finishes()[int(i)].code)
           for i in nearest_index(srgb8_to_lab(lg.colors), perler.with_finishes().lab)}
    pat = convert_image(lg.image, perler, ConvertConfig(64, 32))
    assert pat.metadata["intent"] == "flat"
    used = set(np.unique(pat.index).tolist())
    assert used <= own, f"blend colours {[perler[i].name for i in used - own]}"
    assert len(used) == len(own)


def test_flat_art_edge_cells_take_a_neighbours_colour(perler):
    """Every cell shares its colour with one of its 8 neighbours: no one-cell blend seams along edges."""
    pat = convert_image(cs.logo(2).image, perler, ConvertConfig(64, 32))
    idx = np.pad(pat.index, 1, mode="edge")
    h, w = pat.index.shape
    same = np.zeros((h, w), dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                same |= idx[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] == pat.index
    assert same.mean() > 0.995


@pytest.mark.parametrize("seed", [0, 1])
def test_noisy_sky_keeps_ordered_bands_at_defaults_and_without_cleanup(perler, seed):
    rgb = cs.sky(seed)
    near = _nearest(Image.fromarray(rgb), 48, 48, perler)
    for kw in ({}, {"all_colors": True, "dither": "none", "cleanup": 0.0}):
        pat = convert_image(rgb, perler, ConvertConfig(48, 48, **kw))
        n, ordered = cs.bands(pat.index, perler.lab)
        assert n >= 3 and ordered, (kw, n, ordered)
        assert small_patch_share(pat.index) <= max(0.01, small_patch_share(near)), kw  # no noise


def test_nothing_flattens_when_asked_not_to(perler):
    """--all-colors --dither none --cleanup 0 is plain nearest colour per cell."""
    rgb = cs.sky(0)
    pat = convert_image(rgb, perler, ConvertConfig(48, 48, all_colors=True, dither="none", cleanup=0.0,
                                                   intent="photo"))
    assert np.array_equal(pat.index, _nearest(Image.fromarray(rgb), 48, 48, perler))


def test_flat_intent_keeps_a_sunset_gradient(perler):
    pat = convert_image(cs.sunset(), perler, ConvertConfig(48, 48, intent="flat"))
    n, _ = cs.bands(pat.index, perler.lab)
    assert n >= 6
    L = perler.lab[[int(np.bincount(r).argmax()) for r in pat.index], 0]
    assert L[-1] - L[0] > 40  # dark at the top, light at the bottom, as in the picture


def test_pixel_art_keeps_every_grid_colour_unless_a_budget_is_given(perler):
    solid = perler.with_finishes()
    for seed in (0, 5):
        sp = cs.sprite(seed, solid.rgb8)
        truth = sp.colors[sp.labels]
        pat = convert_image(sp.image, perler, ConvertConfig(0, 0))
        got = perler.rgb8[pat.index]
        assert cs.exact_cells(got, truth) >= 0.999
        truth_cols = {tuple(c) for c in truth.reshape(-1, 3)}
        assert truth_cols <= {tuple(c) for c in got.reshape(-1, 3)}  # the 2-6 cell eyes and highlights too
        budget = convert_image(sp.image, perler, ConvertConfig(0, 0, max_colors=4))
        assert len(np.unique(budget.index)) <= 4


def test_launch_pad_photo_is_as_faithful_as_nearest_with_fewer_patches(perler):
    import skimage.data

    img = Image.fromarray(np.asarray(skimage.data.rocket())[..., :3])
    from engine.convert.budget import default_min_count
    from engine.convert.cleanup import blurred_delta_e
    from engine.core.color import srgb_to_linear

    layout = fit_layout(img.width, img.height, 64, 48, "crop")
    target, _ = downsample_area(np.asarray(img.convert("RGBA").crop(layout.crop_box)), 64, 48)
    lin = srgb_to_linear(perler.rgb)
    near = _nearest(img, 64, 48, perler)
    pat = convert_image(img, perler, ConvertConfig(64, 48))
    ours = pat.index
    assert blurred_delta_e(lin[ours], target) <= blurred_delta_e(lin[near], target) + 0.2
    assert small_patch_share(ours) < small_patch_share(near)
    counts = np.bincount(ours.ravel())
    assert counts[counts > 0].min() >= default_min_count(ours.size)


@pytest.mark.parametrize("photo", ["chelsea.jpg", "coffee.jpg"])
def test_a_starter_kit_gets_no_more_isolated_beads_than_nearest(perler, photo):
    kit = tuple(c.code for c in perler if c.name in cs.STARTER_KIT)
    assert len(kit) == 12
    img = Image.open(SAMPLES / photo).convert("RGB")
    near = _nearest(img, 64, 48, perler, kit)
    pat = convert_image(img, perler, ConvertConfig(64, 48, owned=kit))
    assert isolated_fraction(pat.index) <= isolated_fraction(near)
    assert small_patch_share(pat.index) <= small_patch_share(near)


def test_a_colour_kept_for_small_eyes_stays_in_the_eyes(perler):
    for seed in (0, 1):
        rgb, mask = cs.fur_eyes(seed)
        eyes = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((64, 64), Image.BOX)) >= 100
        pat = convert_image(rgb, perler, ConvertConfig(64, 64))
        speckle, kept = cs.fur_speckle(pat.index, eyes)
        assert kept and speckle <= 0.005, (seed, speckle)


def test_thin_structures_stay_lines(perler):
    for seed in (0, 1):
        lat = cs.lattice(seed)
        pat = convert_image(lat.image, perler, ConvertConfig(64, 64))
        f = cs.line_widths(pat.index, perler.lab, lat)
        assert f["mast shown"] >= 0.95 and f["leg shown"] >= 0.95, f
        assert f["mast max"] <= 2 and f["leg max"] <= 2, f


def test_a_crop_to_the_patterns_shape_is_said(perler):
    img = Image.open(SAMPLES / "chelsea.jpg")  # 451 x 300: 3:2
    pat = convert_image(img, perler, ConvertConfig(32, 32))
    notes = pat.metadata["notes"]
    assert len(notes) == 1 and "cropped" in notes[0] and "left and right" in notes[0]
    assert notes[0] in summary_lines(pat)
    assert notes[0] not in summary_lines(pat, notes=False)  # the app shows the fit notes beside the picture
    x0, y0, x1, y1 = pat.metadata["crop_box"]
    assert (x1 - x0, y1 - y0) == (300, 300)
    whole = convert_image(img, perler, ConvertConfig(45, 30))
    assert whole.metadata["notes"] == []
    padded = convert_image(img, perler, ConvertConfig(32, 32, fit="pad"))
    assert "padded" in padded.metadata["notes"][0]


def test_big_pictures_are_reduced_before_conversion(perler, monkeypatch):
    """The mechanism that bounds memory: over WORK_PIXELS the picture is box-reduced first, with the same result
    (up to rounding) and metadata still in the picture's own pixels."""
    rgb = cs.sunset(480)[:, :360]
    full = convert_image(rgb, perler, ConvertConfig(24, 32))
    calls = []
    real = Image.Image.reduce

    def spy(self, factor, *a, **k):
        calls.append(factor)
        return real(self, factor, *a, **k)

    monkeypatch.setattr(Image.Image, "reduce", spy)
    monkeypatch.setattr(pipeline, "WORK_PIXELS", 480 * 360 // 9)
    small = convert_image(rgb, perler, ConvertConfig(24, 32))
    assert calls and calls[0] == 3
    assert small.metadata["source_size"] == [360, 480]
    assert small.metadata["crop_box"] == full.metadata["crop_box"]
    assert (small.index == full.index).mean() > 0.95


def test_size_auto_on_a_big_picture_finds_the_grid_on_a_reduction(perler, monkeypatch):
    """Grid detection of a picture over WORK_PIXELS runs on a whole-factor reduction; the cells are the same
    and the grid's pitch and bounds are reported in the picture's own pixels."""
    from benchmarks.pixelart_inputs import make_sprite

    rng = np.random.default_rng(3)
    colors = perler.with_finishes().rgb8[[0, 17, 30, 45, 60, 75]]
    labels = make_sprite(20, 16, len(colors), rng)
    big = np.repeat(np.repeat(colors[labels], 24, axis=0), 24, axis=1)  # 480 x 384 px, 24 px cells
    full = convert_image(big, perler, ConvertConfig(0, 0))
    monkeypatch.setattr(pipeline, "WORK_PIXELS", big.shape[0] * big.shape[1] // 4)
    small = convert_image(big, perler, ConvertConfig(0, 0))
    assert small.index.shape == (16, 20)
    assert np.array_equal(small.index, full.index)
    assert small.metadata["source_size"] == [480, 384]
    assert abs(small.metadata["grid"]["pitch_x"] - 24) < 0.5
    assert small.metadata["crop_box"] == full.metadata["crop_box"]


def test_the_cats_green_eyes_get_their_colour(perler):
    """Small features far from every budget colour add their own colour (chelsea's green eyes, about 10 cells)."""
    pat = convert_image(Image.open(SAMPLES / "chelsea.jpg"), perler, ConvertConfig(64, 48))
    used = np.unique(pat.index)
    green = [i for i in used if perler.lab[i, 1] < -5 and perler.lab[i, 2] > 10]
    assert green, [perler[i].name for i in used]
    assert 3 <= (np.isin(pat.index, green)).sum() <= 40  # on the eyes, not over the fur
