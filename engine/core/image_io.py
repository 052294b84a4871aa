"""Loading pictures for conversion: any mode Pillow reads, EXIF orientation, bomb guard, fit to a target aspect."""

from __future__ import annotations

import logging
import math
import os
import stat
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.core import limits

log = logging.getLogger(__name__)

# The largest picture we work on: 100 megapixels (a 10000 x 10000 photo). A bigger photo (up to
# limits.MAX_SOURCE_PIXELS) is read reduced - JPEG draft mode decodes it at 1/2, 1/4 or 1/8 scale, other
# formats are reduced right after decoding - because a bead or brick pattern cannot show more detail.
# Declared sizes over limits.MAX_SOURCE_PIXELS are refused before decoding (the shape of a decompression bomb).
MAX_PIXELS = limits.MAX_WORK_PIXELS.value  # decoding size (declared in engine.core.limits)
_open_lock = threading.Lock()  # Image.MAX_IMAGE_PIXELS is a global: we switch Pillow's own guard off while opening

FIT_MODES = ("crop", "pad", "stretch")


class ImageLoadError(ValueError):
    """A picture could not be read or used; the message says what was wrong and what to do."""


ImageSource = str | Path | Image.Image | np.ndarray


def _check_pixels(width: int, height: int, max_pixels: int, name: str) -> None:
    if width * height > max_pixels:
        raise ImageLoadError(
            f"{name} is too large: {width}x{height} pixels ({width * height / 1e6:.0f} MP), more than the "
            f"{max_pixels / 1e6:g} MP limit (it may be a decompression bomb); scale it down first "
            f"or raise the limit with {limits.MAX_SOURCE_PIXELS.env}=N"
        )


def _array_to_image(arr: np.ndarray) -> Image.Image:
    """A numpy picture (H x W, H x W x 3 or x 4; uint8, uint16 or float in [0, 1]) as a Pillow image."""
    arr = np.asarray(arr)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)) or arr.size == 0:
        raise ImageLoadError(f"expected an H x W, H x W x 3 or H x W x 4 picture array, got shape {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.dtype == np.uint8:
        data = arr
    elif arr.dtype == np.uint16:
        data = (arr.astype(np.uint32) * 255 + 32767) // 65535
    elif arr.dtype == bool:
        data = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageLoadError("the picture array contains NaN or infinite values")
        data = np.round(np.clip(arr, 0.0, 1.0) * 255.0)
    elif np.issubdtype(arr.dtype, np.integer):
        data = np.clip(arr, 0, 255)
    else:
        raise ImageLoadError(f"unsupported picture array type {arr.dtype}")
    data = np.ascontiguousarray(data.astype(np.uint8))
    mode = {2: "L", 3: "RGB", 4: "RGBA"}[data.ndim if data.ndim == 2 else data.shape[2]]
    return Image.fromarray(data, mode)


def _high_depth_to_l(img: Image.Image) -> Image.Image:
    """16-bit / 32-bit integer and float grey pictures scaled to 8 bits (Pillow's own convert clips them)."""
    arr = np.asarray(img)
    if img.mode == "F":
        arr = np.nan_to_num(arr.astype(np.float64))
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:  # not a 0..1 picture: stretch its range
            arr = (arr - lo) / max(hi - lo, 1e-12)
        return Image.fromarray(np.round(np.clip(arr, 0.0, 1.0) * 255).astype(np.uint8), "L")
    arr = arr.astype(np.int64)
    top = 65535 if arr.max() > 255 or img.mode.startswith("I;16") else 255
    if arr.max() > 65535:
        top = int(arr.max())
    return Image.fromarray(np.clip((arr * 255 + top // 2) // top, 0, 255).astype(np.uint8), "L")


def to_rgba(img: Image.Image) -> Image.Image:
    """Any Pillow mode (P, L, LA, CMYK, YCbCr, I;16, I, F, RGB, RGBA...) as RGBA, transparency kept."""
    if img.mode == "RGBA":
        return img
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        return _high_depth_to_l(img).convert("RGBA")
    if img.mode == "CMYK":
        return img.convert("RGB").convert("RGBA")
    return img.convert("RGBA")


def load_image(source: ImageSource, max_pixels: int | None = None, work_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open a picture (path, Pillow image or numpy array) as an upright RGBA Pillow image.

    Applies the EXIF orientation, converts every mode Pillow reads to RGBA, refuses pictures whose declared
    size is over ``max_pixels`` (default: limits.MAX_SOURCE_PIXELS) before decoding, reads files over
    ``work_pixels`` reduced (JPEG draft mode), and raises ImageLoadError with a clear message for a missing,
    unreadable or non-regular file. A picture read from a file carries its name in ``image.info["source_name"]``.
    """
    if max_pixels is None:
        max_pixels = limits.MAX_SOURCE_PIXELS.value
    if isinstance(source, np.ndarray):
        img = _array_to_image(source)
        _check_pixels(img.width, img.height, max_pixels, "the picture")
        return to_rgba(img)
    if isinstance(source, Image.Image):
        _check_pixels(source.width, source.height, max_pixels, "the picture")
        return to_rgba(ImageOps.exif_transpose(source) or source)
    if not isinstance(source, (str, Path)):
        raise ImageLoadError(f"cannot read a picture from a {type(source).__name__}; give a file path or an image")
    path = Path(source).expanduser()
    name = path.name or str(path)
    if not path.exists():
        raise ImageLoadError(f"picture not found: {path}")
    if path.is_dir():
        raise ImageLoadError(f"{path} is a folder, not a picture; give an image file")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ImageLoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ImageLoadError(f"{path} is not a regular file (a pipe or device); give an image file")
    try:
        out = _open_reduced(path, name, max_pixels, work_pixels)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(f"{name} is too large to open safely ({exc}); scale it down first") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{name} is not a picture this app can read (unknown or damaged image format)") from None
    except MemoryError:
        raise ImageLoadError(f"{name} is too large to decode in the memory available; scale it down first") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageLoadError(f"{name} could not be read; the file may be damaged or truncated ({exc})") from None
    out.info["source_name"] = name  # lets later steps record where the picture came from
    log.info("loaded %s (%dx%d)", name, out.width, out.height)
    return out


def _open_reduced(path: Path, name: str, max_pixels: int, work_pixels: int) -> Image.Image:
    """Decode ``path`` upright as RGBA, reduced to at most ``work_pixels`` (declared size checked first)."""
    with _open_lock:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # our own check below replaces Pillow's (which warns at 89.5 MP)
        try:
            img = Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    try:
        width, height = img.size
        if width < 1 or height < 1:
            raise ImageLoadError(f"{name} has no pixels ({width}x{height})")
        _check_pixels(width, height, max_pixels, name)
        full = limits.MAX_FULL_DECODE_PIXELS.value
        if img.format != "JPEG" and width * height > full:  # decoded whole: refused before any pixel is decoded
            raise ImageLoadError(
                f"{name} is a {width}x{height} {img.format or 'picture'} ({width * height / 1e6:.0f} MP): only JPEG "
                f"is read reduced, other formats are decoded whole and are accepted up to {full / 1e6:g} MP; save "
                f"it as JPEG or scale it down first, or raise the limit with {limits.MAX_FULL_DECODE_PIXELS.env}=N")
        if width * height > work_pixels:
            factor = math.ceil(math.sqrt(width * height / work_pixels))
            if img.format == "JPEG":  # decoded at 1/2, 1/4 or 1/8 scale: the full picture never exists
                img.draft(img.mode, (math.ceil(width / factor), math.ceil(height / factor)))
            log.info("%s is %.0f MP: reading it reduced", name, width * height / 1e6)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
        if img.width * img.height > work_pixels:
            small = img.reduce(math.ceil(math.sqrt(img.width * img.height / work_pixels)))
            img.close()  # free the full-size pixels before converting
            img = small
        ImageOps.exif_transpose(img, in_place=True)
        out = to_rgba(img)
    except BaseException:
        img.close()
        raise
    if out is not img:
        img.close()
    return out


@dataclass(frozen=True)
class FitLayout:
    """How a source picture maps onto a W x H cell grid.

    ``crop_box`` (left, top, right, bottom, source pixels) is the part of the picture used;
    ``cells`` (x, y, width, height) is where it lands in the grid (cells outside it are empty).
    """

    crop_box: tuple[int, int, int, int]
    cells: tuple[int, int, int, int]


def fit_layout(src_width: int, src_height: int, width: int, height: int, fit: str = "crop") -> FitLayout:
    """Where the picture goes on a ``width`` x ``height`` grid for fit mode crop, pad or stretch."""
    if fit not in FIT_MODES:
        raise ValueError(f"unknown fit mode {fit!r}; use one of {', '.join(FIT_MODES)}")
    if src_width < 1 or src_height < 1 or width < 1 or height < 1:
        raise ValueError("picture and grid sizes must be positive")
    full = (0, 0, src_width, src_height)
    if fit == "stretch":
        return FitLayout(full, (0, 0, width, height))
    src_aspect = src_width / src_height
    dst_aspect = width / height
    if fit == "crop":
        if src_aspect > dst_aspect:  # too wide: trim left and right
            w = max(1, min(src_width, round(src_height * dst_aspect)))
            x0 = (src_width - w) // 2
            return FitLayout((x0, 0, x0 + w, src_height), (0, 0, width, height))
        h = max(1, min(src_height, round(src_width / dst_aspect)))
        y0 = (src_height - h) // 2
        return FitLayout((0, y0, src_width, y0 + h), (0, 0, width, height))
    # pad: the whole picture, letterboxed with empty cells
    if src_aspect > dst_aspect:
        h = max(1, min(height, round(width / src_aspect)))
        y0 = (height - h) // 2
        return FitLayout(full, (0, y0, width, h))
    w = max(1, min(width, round(height * src_aspect)))
    x0 = (width - w) // 2
    return FitLayout(full, (x0, 0, w, height))
