"""Pixel-grid detection (engine.convert.grid) and size "auto" in the converter and the CLI, on generated sprites."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.pixelart_inputs import SETS, make_sample, make_sprite
from engine.convert.grid import MIN_CONFIDENCE, NEAR_TIE, PixelGrid, detect_grid, map_cells, sample_grid
from engine.convert.pipeline import AUTO_SIZE, ConvertConfig, ConvertError, convert_image, parse_size
from engine.core.color import ciede2000, srgb8_to_lab
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples"


@pytest.fixture(scope="module")
def perler_module():
    return load_palette("perler")


def _solid(palette) -> np.ndarray:
    """The palette's solid colours (what a conversion uses by default) for drawing sprites."""
    return palette.rgb8[[i for i, c in enumerate(palette) if c.finish == "solid"]]


def _cell_accuracy(pattern: Pattern, truth_rgb: np.ndarray) -> float:
    got = pattern.palette.rgb8[pattern.index.astype(np.int64)]
    return float((got == truth_rgb).all(axis=2).mean())


@pytest.mark.parametrize("name", sorted(SETS))
@pytest.mark.parametrize("seed", [1, 2])
def test_detects_exact_size_and_edges(name, seed, perler_module):
    s = make_sample(name, seed, _solid(perler_module))
    grid = detect_grid(s.image)
    assert isinstance(grid, PixelGrid)
    assert (grid.cols, grid.rows) == s.size, (name, seed, grid.pitch_x, grid.pitch_y)
    assert grid.xs.shape == (grid.cols + 1,) and grid.ys.shape == (grid.rows + 1,)
    # every edge near the true (jittered) one, the border left out: a line with no colour change on either
    # side keeps its fitted place, which may be off by the jitter plus rounding
    tol = 1 if SETS[name].jitter == 0 else 2
    assert np.abs(grid.xs - s.xs).max() <= tol and np.abs(grid.ys - s.ys).max() <= tol
    assert abs(grid.pitch_x - s.pitch) < 0.1 and abs(grid.pitch_y - s.pitch) < 0.1
    assert grid.is_pixel_art and grid.confidence >= MIN_CONFIDENCE


@pytest.mark.parametrize("name", sorted(SETS))
def test_auto_size_conversion_gets_the_cells_right(name, perler_module):
    s = make_sample(name, 3, _solid(perler_module))
    # all_colors: every sprite colour kept (the default budget folds colours of a few cells, tested elsewhere)
    pattern = convert_image(s.image, perler_module, ConvertConfig(*AUTO_SIZE, all_colors=True))
    assert (pattern.width, pattern.height) == s.size
    assert _cell_accuracy(pattern, s.truth_rgb) >= 0.99
    meta = pattern.metadata["grid"]
    assert (meta["cols"], meta["rows"]) == s.size and meta["confidence"] >= MIN_CONFIDENCE


def test_sample_grid_on_a_clean_upscale_is_exact(perler_module):
    rng = np.random.default_rng(5)
    labels = make_sprite(30, 20, 8, rng)
    colors = perler_module.rgb8[[0, 3, 7, 11, 17, 23, 29, 31]]
    img = np.repeat(np.repeat(colors[labels], 7, axis=0), 7, axis=1)
    grid = detect_grid(img)
    assert (grid.cols, grid.rows) == (30, 20) and grid.pitch_x == pytest.approx(7.0, abs=0.05)
    cells = sample_grid(img, grid)
    assert cells.dtype == np.uint8 and cells.shape == (20, 30, 3)
    np.testing.assert_array_equal(cells, colors[labels])


def test_transparent_sprite_keeps_its_empty_cells(perler_module):
    rng = np.random.default_rng(7)
    labels = make_sprite(24, 24, 6, rng)
    colors = perler_module.rgb8[[0, 3, 7, 11, 17, 23]]
    rgba = np.concatenate([colors[labels], np.where(labels == 0, 0, 255)[..., None]], axis=2).astype(np.uint8)
    rgba[labels == 0, :3] = 0  # what is under transparency must not matter
    img = np.repeat(np.repeat(rgba, 9, axis=0), 9, axis=1)
    # all_colors: no colour budget / minimum count (a colour of a few cells would be folded by default)
    pattern = convert_image(img, perler_module, ConvertConfig(*AUTO_SIZE, all_colors=True))
    assert pattern.shape == (24, 24)
    np.testing.assert_array_equal(pattern.empty, labels == 0)
    filled = labels != 0
    np.testing.assert_array_equal(pattern.palette.rgb8[pattern.index.astype(np.int64)][filled], colors[labels][filled])


@pytest.mark.parametrize("photo", sorted(p.name for p in SAMPLES.glob("*.jpg") if p.name != "sprite.jpg"))
def test_a_photo_is_not_pixel_art(photo, perler_module):
    arr = np.asarray(Image.open(SAMPLES / photo).convert("RGB"))
    grid = detect_grid(arr)
    assert grid.confidence < MIN_CONFIDENCE and not grid.is_pixel_art
    with pytest.raises(ConvertError, match="does not look like pixel art.*--size"):
        convert_image(SAMPLES / photo, perler_module, ConvertConfig(*AUTO_SIZE))


def test_parse_size_auto():
    assert parse_size("auto") == AUTO_SIZE == parse_size(" AUTO ")
    assert ConvertConfig(*AUTO_SIZE).auto_size and not ConvertConfig(10, 10).auto_size
    with pytest.raises(ConvertError, match="1 to"):
        parse_size("0x0")
    with pytest.raises(ConvertError, match="auto"):
        parse_size("huge")


def test_cli_size_auto_writes_the_detected_size(tmp_path, perler_module):
    s = make_sample("x10.67-jitter", 4, _solid(perler_module))
    src, out, png = tmp_path / "sprite.jpg", tmp_path / "sprite.pixl", tmp_path / "sprite.png"
    Image.fromarray(s.image).save(src, quality=90)
    res = subprocess.run([sys.executable, str(ROOT / "main.py"), "convert", str(src), "--palette", "perler",
                          "--size", "auto", "--out", str(out), "--png", str(png), "--scale", "2"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    cols, rows = s.size
    assert f"detected grid: {cols}x{rows} cells, pitch 10.6" in res.stdout
    pattern = Pattern.load(out)
    assert pattern.shape == (rows, cols)
    assert pattern.metadata["grid"]["cols"] == cols and pattern.metadata["source"] == "sprite.jpg"
    assert _cell_accuracy(pattern, s.truth_rgb) >= 0.99
    with Image.open(png) as im:
        assert im.size == (2 * cols, 2 * rows)


def test_cli_size_auto_refuses_a_photo(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "main.py"), "convert", str(SAMPLES / "coffee.jpg"),
                          "--palette", "perler", "--size", "auto", "--out", str(tmp_path / "c.pixl")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode != 0 and not (tmp_path / "c.pixl").exists()
    assert "does not look like pixel art" in res.stderr and "--size WxH" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_map_cells_breaks_near_ties_towards_the_sprites_common_colour(perler_module):
    pal = perler_module
    a, b = pal.index_of("80-19003"), pal.index_of("80-15269")  # yellow and a yellow 4.4 ΔE2000 away
    assert ciede2000(pal.lab[a], pal.lab[b]) < NEAR_TIE
    far = int(np.argmax(ciede2000(pal.lab, pal.lab[a])))  # a lone detail of a colour of its own
    cells = np.repeat(pal.rgb8[a][None, None, :], 12, axis=1).repeat(6, axis=0)
    shifted = np.rint(0.35 * pal.rgb8[a] + 0.65 * pal.rgb8[b]).astype(np.uint8)  # JPEG-shifted towards b
    lab = srgb8_to_lab(shifted)
    assert ciede2000(lab, pal.lab[b]) < ciede2000(lab, pal.lab[a])  # plain nearest would pick b
    cells[2, 3] = shifted
    cells[4, 7] = pal.rgb8[far]
    labels = map_cells(cells, pal.lab)
    assert labels[2, 3] == a and labels[4, 7] == far
    assert (labels[cells.sum(axis=2) == int(pal.rgb8[a].sum())] == a).all()
    # counted only where the mask says: with the common colour masked out there is no tie to break
    mask = np.zeros(cells.shape[:2], dtype=bool)
    mask[2, 3] = mask[4, 7] = True
    assert map_cells(cells, pal.lab, mask=mask)[2, 3] == b


@pytest.mark.parametrize("size, scale", [((80, 60), 4.0), ((64, 48), 5.3), ((60, 40), 7.3), ((48, 48), 10.67),
                                         ((24, 20), 33.3)])
def test_a_photo_made_pixel_art_and_upscaled_unevenly(size, scale):
    """A real upscale: a 16-colour thumbnail of a photo, Pillow nearest-neighbour by a non-integer factor (blocks
    of uneven width, as upscalers make them), then JPEG."""
    import io

    small = Image.open(SAMPLES / "chelsea.jpg").convert("RGB").resize(size, Image.BOX).quantize(16).convert("RGB")
    big = small.resize((round(size[0] * scale), round(size[1] * scale)), Image.NEAREST)
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=80)
    arr = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    grid = detect_grid(arr)
    assert (grid.cols, grid.rows) == size and grid.is_pixel_art
    assert grid.pitch_x == pytest.approx(scale, abs=0.05) and grid.pitch_y == pytest.approx(scale, abs=0.05)
    err = np.abs(sample_grid(arr, grid).astype(int) - np.asarray(small).astype(int)).max(axis=2)
    assert np.mean(err <= 16) >= 0.99


def test_generate_refuses_size_auto(tmp_path, capsys):
    from main import main

    out = tmp_path / "x.pixl"
    argv = ["generate", "--prompt", "a fox", "--palette", "perler", "--size", "auto", "--steps", "2",
            "--model", "nobody/absent-model", "--device", "cpu", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--size auto only applies to converting pixel art" in err
    assert not out.exists()


@pytest.mark.parametrize("name", sorted(SETS))
def test_auto_intent_takes_generated_sprites_as_pixel_art(name, perler_module):
    for seed in (1, 2):
        s = make_sample(name, seed, _solid(perler_module))
        w, h = s.size
        pattern = convert_image(s.image, perler_module, ConvertConfig(w, h, all_colors=True))
        assert pattern.metadata["intent"] == "pixel-art", pattern.metadata["intent_reason"]
        assert _cell_accuracy(pattern, s.truth_rgb) >= 0.98


@pytest.mark.parametrize("photo", ["chelsea.jpg", "coffee.jpg"])
def test_auto_intent_does_not_take_photos_or_flat_art_as_pixel_art(photo, perler_module):
    from benchmarks.convert_quality import cartoon

    pattern = convert_image(ROOT / "resources" / "samples" / photo, perler_module, ConvertConfig(40, 30))
    assert pattern.metadata["intent"] != "pixel-art"
    drawn = convert_image(Image.fromarray(cartoon(384)), perler_module, ConvertConfig(48, 48))
    assert drawn.metadata["intent"] != "pixel-art"


def test_the_shipped_sample_sprite_is_detected(perler_module):
    # resources/samples/sprite.jpg: set "x10.67-jitter", seed 1 of benchmarks/pixelart_inputs.py (README example)
    s = make_sample("x10.67-jitter", 1, _solid(perler_module))
    grid = detect_grid(np.asarray(Image.open(SAMPLES / "sprite.jpg").convert("RGB")))
    assert (grid.cols, grid.rows) == s.size and grid.is_pixel_art
