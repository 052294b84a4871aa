"""engine.core.image_io: loading every common picture kind, EXIF orientation, bomb guard, fit layouts."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.core.image_io import MAX_PIXELS, ImageLoadError, fit_layout, load_image


def test_loads_sample_jpeg_as_rgba(sample_image_path):
    img = load_image(sample_image_path)
    assert img.mode == "RGBA"
    assert img.size == (451, 300)
    assert (np.asarray(img)[..., 3] == 255).all()


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    arr[:, 20:] = (0, 0, 255)  # right half blue
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.png"
    img.save(path, exif=exif.tobytes())
    out = np.asarray(load_image(path))
    assert out.shape[:2] == (40, 20)  # now portrait
    assert out[0, 10, 0] > 200 and out[0, 10, 2] < 50  # the red half is on top
    assert out[-1, 10, 2] > 200 and out[-1, 10, 0] < 50


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    arr = np.array([[0, 32896, 65535]], dtype=np.uint16).repeat(3, axis=0)
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    assert Image.open(path).mode.startswith("I")
    out = np.asarray(load_image(path))
    assert list(out[0, :, 0]) == [0, 128, 255]


def test_cmyk_la_and_palette_transparency(tmp_path):
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red ink mix
    cmyk.save(tmp_path / "c.jpg")
    red = np.asarray(load_image(tmp_path / "c.jpg"))
    assert red[4, 4, 0] > 200 and red[4, 4, 1] < 60

    la = Image.fromarray(np.stack([np.full((4, 4), 200, np.uint8), np.full((4, 4), 0, np.uint8)], -1), "LA")
    out = np.asarray(load_image(la))
    assert out.shape == (4, 4, 4) and (out[..., 3] == 0).all() and (out[..., 0] == 200).all()

    p = Image.new("P", (4, 4), 0)
    p.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    p.putpixel((0, 0), 1)
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png")
    out = np.asarray(load_image(tmp_path / "p.png"))
    assert out[0, 0, 3] == 255 and tuple(out[0, 0, :3]) == (200, 100, 50)
    assert out[1, 1, 3] == 0


def test_numpy_arrays_of_several_types():
    f = np.full((3, 5, 3), 0.5)
    assert np.asarray(load_image(f))[0, 0, 0] == 128
    u16 = np.full((3, 5), 65535, dtype=np.uint16)
    assert np.asarray(load_image(u16))[0, 0, 0] == 255
    with pytest.raises(ImageLoadError, match="shape"):
        load_image(np.zeros((3, 5, 2)))
    with pytest.raises(ImageLoadError, match="NaN"):
        load_image(np.full((2, 2, 3), np.nan))


def test_missing_folder_and_non_image_files(tmp_path):
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)
    (tmp_path / "notes.png").write_text("hello, not a picture")
    with pytest.raises(ImageLoadError, match="not a picture"):
        load_image(tmp_path / "notes.png")
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:400])
    with pytest.raises(ImageLoadError, match="could not be read|damaged"):
        load_image(tmp_path / "cut.png")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (200, 100)).save(path)
    with pytest.raises(ImageLoadError, match="MP limit"):
        load_image(path, max_pixels=10_000)
    # issue 16: Pillow's own guard (a warning at 89.5 MP) no longer refuses pictures; our budget
    # (engine.core.limits.MAX_SOURCE_PIXELS, declared size checked before decoding) does, with a clear message
    monkeypatch.setenv("PIXL_LIMIT_MAX_SOURCE_PIXELS", "5000")
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(path)
    assert MAX_PIXELS >= 50_000_000


@pytest.mark.parametrize(
    "src, grid, fit, crop, cells",
    [
        ((400, 200), (10, 10), "crop", (100, 0, 300, 200), (0, 0, 10, 10)),
        ((200, 400), (10, 10), "crop", (0, 100, 200, 300), (0, 0, 10, 10)),
        ((400, 200), (10, 10), "pad", (0, 0, 400, 200), (0, 2, 10, 5)),
        ((200, 400), (10, 10), "pad", (0, 0, 200, 400), (2, 0, 5, 10)),
        ((400, 200), (10, 10), "stretch", (0, 0, 400, 200), (0, 0, 10, 10)),
    ],
)
def test_fit_layouts(src, grid, fit, crop, cells):
    layout = fit_layout(*src, *grid, fit)
    assert layout.crop_box == crop
    assert layout.cells == cells


def test_fit_layout_rejects_unknown_mode():
    with pytest.raises(ValueError, match="fit mode"):
        fit_layout(10, 10, 5, 5, "zoom")


def test_formats_decoded_whole_are_refused_above_their_limit_before_decoding(tmp_path, monkeypatch):
    """Only JPEG decodes reduced: a PNG over MAX_FULL_DECODE_PIXELS would be decoded whole (past the memory budget),
    so it is refused in one line naming the limit, while a JPEG of the same size is read reduced."""
    from PIL import Image

    from engine.core import limits
    from engine.core.image_io import ImageLoadError, load_image

    monkeypatch.setenv(limits.MAX_FULL_DECODE_PIXELS.env, "10000")
    png, jpg = tmp_path / "big.png", tmp_path / "big.jpg"
    Image.new("RGB", (200, 100), (200, 30, 30)).save(png)
    Image.new("RGB", (200, 100), (200, 30, 30)).save(jpg)
    with pytest.raises(ImageLoadError) as info:
        load_image(png)
    message = str(info.value)
    assert "200x100 PNG" in message and limits.MAX_FULL_DECODE_PIXELS.env in message and "\n" not in message
    assert load_image(jpg).size == (200, 100)
    monkeypatch.setenv(limits.MAX_FULL_DECODE_PIXELS.env, "20000")
    assert load_image(png).size == (200, 100)
