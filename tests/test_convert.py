"""The converter pipeline and dither: downsampling, fitting, empty cells, modes, dithering, API contract."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.convert.dither import bayer_matrix, dither
from engine.convert.pipeline import (
    ConvertConfig,
    ConvertError,
    area_weights,
    background_mask,
    convert_image,
    downsample_area,
    parse_size,
)
from engine.core.color import srgb8_to_lab, srgb_to_linear
from engine.core.image_io import ImageLoadError
from engine.core.palette import Palette, PaletteColor
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern
from engine.core.progress import Cancelled, CancelToken


def _bw_palette() -> Palette:
    return Palette("bw", (PaletteColor("K", "black", (0, 0, 0)), PaletteColor("W", "white", (255, 255, 255))))


def test_area_weights_cover_every_source_pixel_once():
    for n_src, n_dst in ((10, 3), (7, 7), (3, 8), (1024, 128)):
        w = area_weights(n_src, n_dst)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(w.sum(axis=0) * n_src / n_dst, 1.0, rtol=1e-5)


def test_area_average_is_in_linear_light_and_alpha_weighted():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[0, :, :3] = 255  # top row white, bottom row black
    premult, alpha = downsample_area(rgba, 1, 1)
    assert premult[0, 0] == pytest.approx([0.5, 0.5, 0.5], abs=1e-6)  # not sRGB 127/255 = 0.21 linear
    rgba[0, :, 3] = 0  # the white row becomes transparent: the cell is black, half covered
    premult, alpha = downsample_area(rgba, 1, 1)
    assert alpha[0, 0] == pytest.approx(0.5)
    assert premult[0, 0] == pytest.approx([0, 0, 0], abs=1e-6)


def test_sample_photo_converts_with_metadata(sample_image_path, perler):
    reports = []
    pat = convert_image(sample_image_path, perler, ConvertConfig(30, 20), progress=reports.append)
    assert isinstance(pat, Pattern) and pat.shape == (20, 30)
    assert pat.palette is perler and pat.empty is None
    assert pat.metadata["source"] == "chelsea.jpg"
    assert pat.metadata["convert"]["width"] == 30 and pat.metadata["convert"]["fit"] == "crop"
    steps = [r.step for r in reports]
    assert steps == sorted(steps) and reports[-1].pattern is pat and reports[-1].fraction == 1.0
    assert reports[-1].preview.shape == (20, 30, 3)
    # a picture loaded first (as the GUI does) keeps its name; a bare array has none
    from engine.core.image_io import load_image

    assert convert_image(load_image(sample_image_path), perler, ConvertConfig(6, 4)).metadata["source"] == "chelsea.jpg"
    assert "source" not in convert_image(np.zeros((8, 8, 3), np.uint8), perler, ConvertConfig(4, 4)).metadata


def test_exact_palette_colours_are_kept(perler):
    img = np.zeros((40, 40, 3), dtype=np.uint8)
    img[:, :20] = perler.rgb8[5]
    img[:, 20:] = perler.rgb8[17]
    pat = convert_image(img, perler, ConvertConfig(8, 8, cleanup=0.5))
    assert (pat.index[:, :4] == 5).all() and (pat.index[:, 4:] == 17).all()


def test_pad_letterboxes_with_empty_cells(sample_image_path, perler):
    pat = convert_image(sample_image_path, perler, ConvertConfig(30, 30, fit="pad"))
    empty = pat.empty_mask
    assert empty[0].all() and empty[-1].all() and not empty[15].any()
    assert pat.filled_cells == 30 * 20
    stretched = convert_image(sample_image_path, perler, ConvertConfig(30, 30, fit="stretch"))
    assert stretched.empty is None


def test_transparency_becomes_empty_cells_unless_disabled(perler):
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[:, 10:] = (200, 30, 30, 255)
    pat = convert_image(rgba, perler, ConvertConfig(4, 4))
    assert pat.empty_mask[:, :2].all() and not pat.empty_mask[:, 2:].any()
    kept = convert_image(rgba, perler, ConvertConfig(4, 4, alpha_to_empty=False))
    assert kept.empty is None
    # transparent areas are shown over white when kept
    white = int(np.argmin(np.abs(perler.lab - srgb8_to_lab([255, 255, 255])).sum(1)))
    assert (kept.index[:, :2] == white).all()
    # issue 16: a fully transparent picture (transparency kept as empty cells) is a valid, empty pattern
    clear = convert_image(np.zeros((8, 8, 4), dtype=np.uint8), perler, ConvertConfig(4, 4))
    assert clear.shape == (4, 4) and clear.empty_mask.all() and clear.filled_cells == 0


def test_dominant_mode_takes_the_majority_colour(perler):
    dark, light = int(np.argmin(perler.lab[:, 0])), int(np.argmax(perler.lab[:, 0]))
    img = np.empty((40, 40, 3), dtype=np.uint8)
    img[:] = perler.rgb8[dark]
    img[::2, ::2] = perler.rgb8[light]  # a quarter of every 4x4 block
    dom = convert_image(img, perler, ConvertConfig(10, 10, resample="dominant"))
    assert (dom.index == dark).all()
    area = convert_image(img, perler, ConvertConfig(10, 10, resample="area"))
    assert not (area.index == dark).any()  # the mean colour is a grey


def test_dominant_votes_dense_and_sparse_agree(sample_image_path, perler, monkeypatch):
    import engine.convert.pipeline as conv

    rgba = np.asarray(Image.open(sample_image_path).convert("RGBA").resize((90, 60)))
    fallback = np.zeros((12, 18), dtype=np.int64)
    dense = conv.dominant_labels(rgba, 18, 12, perler.lab, False, fallback)
    monkeypatch.setattr(conv, "_DENSE_VOTES", 0)
    sparse = conv.dominant_labels(rgba, 18, 12, perler.lab, False, fallback)
    # only exact ties may break differently
    assert (dense == sparse).mean() > 0.95


def test_background_removal(perler):
    yy, xx = np.mgrid[:60, :60]
    img = np.full((60, 60, 3), 250, dtype=np.uint8)
    disc = (yy - 30) ** 2 + (xx - 30) ** 2 < 18**2
    img[disc] = (30, 60, 200)
    pat = convert_image(img, perler, ConvertConfig(12, 12, remove_background=True))
    e = pat.empty_mask
    assert e[0].all() and e[:, 0].all() and not e[6, 6]
    assert not convert_image(img, perler, ConvertConfig(12, 12)).empty_mask.any()
    # letterboxed: the picture's own edge (next to the padding) seeds the fill too
    wide = np.concatenate([np.full((60, 30, 3), 250, np.uint8), img, np.full((60, 30, 3), 250, np.uint8)], 1)
    padded = convert_image(wide, perler, ConvertConfig(24, 24, fit="pad", remove_background=True))
    assert padded.empty_mask[:, :8].all() and padded.empty_mask[8].sum() < 24 and not padded.empty_mask[12, 12]
    # a white blob inside the disc is not connected to the border: it stays
    lab = srgb8_to_lab(np.asarray(Image.fromarray(img).resize((12, 12))))
    inner = np.zeros((12, 12), dtype=bool)
    lab[6, 6] = lab[0, 0]
    inner = background_mask(lab, ~inner, 8.0)
    assert inner[0, 0] and not inner[6, 6]


def test_max_colors_limits_the_colours(sample_image_path, perler):
    pat = convert_image(sample_image_path, perler, ConvertConfig(40, 27, max_colors=5, dither="floyd-steinberg"))
    assert len(pat.used_indices()) <= 5
    assert len(pat.metadata["selected_colors"]) == 5
    assert set(pat.palette[i].code for i in pat.used_indices()) <= set(pat.metadata["selected_colors"])


@pytest.mark.parametrize("method", ["floyd-steinberg", "atkinson", "bayer"])
def test_dithering_mixes_two_colours_to_match_grey(method):
    """Dithering works in Lab: the mean lightness L* of the cells matches the target's."""
    pal = _bw_palette()
    lab = np.broadcast_to(srgb8_to_lab([128, 128, 128]), (32, 32, 3))  # L* = 53.6
    idx = dither(lab, pal.lab, method, 1.0)
    assert set(np.unique(idx)) == {0, 1}
    assert pal.lab[idx][..., 0].mean() == pytest.approx(53.6, abs=5.0 if method == "atkinson" else 2.5)
    plain = dither(lab, pal.lab, method, 0.0)
    assert len(np.unique(plain)) == 1  # strength 0 is nearest-colour mapping


def test_dither_strength_and_empty_cells(perler):
    rng = np.random.default_rng(0)
    lab = srgb8_to_lab(rng.integers(0, 256, (16, 16, 3)))
    empty = np.zeros((16, 16), dtype=bool)
    empty[:8] = True
    out = dither(lab, perler.lab, "floyd-steinberg", 0.5, empty)
    assert out.shape == (16, 16) and out.max() < len(perler)
    with pytest.raises(ValueError, match="dithering"):
        dither(lab, perler.lab, "random", 1.0)


def test_bayer_matrix_is_a_permutation():
    m = bayer_matrix(3)
    assert m.shape == (8, 8)
    assert sorted((m * 64 - 0.5).round().astype(int).ravel()) == list(range(64))


def test_cancel_and_bad_settings(sample_image_path, perler):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        convert_image(sample_image_path, perler, ConvertConfig(10, 10), cancel=token)
    for bad in (dict(width=0), dict(fit="zoom"), dict(resample="bicubic"), dict(dither="random"),
                dict(cleanup=2.0), dict(dither_strength=-1), dict(max_colors=0)):
        cfg = ConvertConfig(**{**dict(width=10, height=10), **bad})
        with pytest.raises(ConvertError):
            convert_image(sample_image_path, perler, cfg)
    with pytest.raises(ImageLoadError, match="not found"):
        convert_image("/no/such/picture.png", perler, ConvertConfig(10, 10))


def test_parse_size():
    assert parse_size("48x48") == (48, 48)
    assert parse_size(" 64 X 32 ") == (64, 32)
    assert parse_size("20") == (20, 20)
    perler = load_palette("perler")
    assert parse_size("2x1boards", perler.medium) == (58, 29)
    lego = load_palette("lego")
    assert parse_size("3x2 boards", lego.medium) == (48, 32)
    with pytest.raises(ConvertError, match="no board"):
        parse_size("2x2boards", load_palette("dmc").medium)
    for bad in ("", "axb", "0x10", "10x-3", "5000x10", "4x4x4", "10.5x3"):
        with pytest.raises(ConvertError):
            parse_size(bad)


def test_parse_size_in_cm_and_mm_uses_the_medium_pitch():
    perler, lego, mini = load_palette("perler"), load_palette("lego"), load_palette("hama_mini")
    assert parse_size("30x20cm", perler.medium) == (60, 40)  # 5 mm beads
    assert parse_size("25.6 x 12.8 cm", lego.medium) == (32, 16)  # 8 mm studs
    assert parse_size("52x26mm", mini.medium) == (20, 10)  # 2.6 mm beads
    assert parse_size("12cm", perler.medium) == (24, 24)
    with pytest.raises(ConvertError, match="medium"):
        parse_size("30x20cm")


def test_parse_size_takes_a_unit_after_each_side_as_people_write_it():
    perler = load_palette("perler")
    assert parse_size("30 cm x 20 cm", perler.medium) == (60, 40)
    assert parse_size("2 boards by 1 board", perler.medium) == (58, 29)
    assert parse_size("48 cells × 32 cells") == (48, 32)
    assert parse_size("12 cm", perler.medium) == (24, 24)
    with pytest.raises(ConvertError, match="same unit"):
        parse_size("30 cm x 200 mm", perler.medium)
    assert parse_size("2,5 x 3 cm", perler.medium) == (5, 6)  # the house parser's decimal comma
    with pytest.raises(ConvertError, match="decimal comma"):
        parse_size("48,48")
    with pytest.raises(ConvertError, match="far too large"):
        parse_size("1e300x1e300cm", perler.medium)
    with pytest.raises(ConvertError, match="WIDTHxHEIGHT"):
        parse_size("14x10 furlongs", perler.medium)


def test_linear_target_matches_photo_mean(sample_image_path, perler):
    """The whole-picture mean colour survives conversion (area mode, cleanup on)."""
    rgba = np.asarray(Image.open(sample_image_path).convert("RGBA"))
    pat = convert_image(sample_image_path, perler, ConvertConfig(45, 30, cleanup=0.5))
    src_mean = srgb_to_linear(rgba[..., :3] / 255.0).mean(axis=(0, 1))
    out_mean = srgb_to_linear(pat.to_rgb() / 255.0).mean(axis=(0, 1))
    assert np.abs(src_mean - out_mean).max() < 0.03
