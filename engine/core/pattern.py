"""The Pattern: an H x W index map into a Palette, empty cells, the physical medium, and the .pixl file."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.core.atomic import atomic_path
from engine.core.medium import Medium
from engine.core.palette import Palette, PaletteColor
from engine.core.project_io import SCHEMA_VERSION, PatternError, read_project

log = logging.getLogger(__name__)

FILE_SUFFIX = ".pixl"
_MANIFEST = "manifest.json"
_CELLS = "cells.npz"
_PREVIEW = "preview.png"


@dataclass
class Pattern:
    """An index map (uint16, H x W) into ``palette``, with optional empty cells (no bead/stitch).

    ``medium`` defaults to the palette's medium; ``metadata`` holds free-form provenance
    (source image, prompt, seed, method settings) and is saved with the project.
    """

    index: np.ndarray
    palette: Palette
    empty: np.ndarray | None = None
    medium: Medium | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        index = np.asarray(self.index)
        if index.ndim != 2 or index.size == 0:
            raise PatternError(f"a pattern needs a non-empty 2-D index map, got shape {index.shape}")
        if index.dtype.kind not in "iu":
            if index.dtype.kind != "f" or not np.isfinite(index).all() or (index != np.round(index)).any():
                raise PatternError(f"the index map must hold whole colour numbers, got {index.dtype} values")
        if index.min() < 0 or index.max() >= len(self.palette):
            raise PatternError(
                f"index map refers to colour {int(index.max())} but the palette has {len(self.palette)} colours"
            )
        self.index = index.astype(np.uint16, copy=False)
        if self.empty is not None:
            empty = np.asarray(self.empty, dtype=bool)
            if empty.shape != self.index.shape:
                raise PatternError(f"empty mask shape {empty.shape} does not match the pattern {self.index.shape}")
            self.empty = empty if empty.any() else None
        if self.medium is None:
            self.medium = self.palette.medium

    # ----------------------------------------------------------------- basics
    @property
    def height(self) -> int:
        return int(self.index.shape[0])

    @property
    def width(self) -> int:
        return int(self.index.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def empty_mask(self) -> np.ndarray:
        """H x W bool, True where a cell is empty (always an array)."""
        return self.empty if self.empty is not None else np.zeros(self.shape, dtype=bool)

    @property
    def filled_cells(self) -> int:
        return int(self.index.size - (self.empty.sum() if self.empty is not None else 0))

    def size_mm(self) -> tuple[float, float]:
        """Physical width and height in millimetres at the medium's pitch."""
        assert self.medium is not None
        return self.medium.size_mm(self.width, self.height)

    def copy(self) -> "Pattern":
        return Pattern(self.index.copy(), self.palette, None if self.empty is None else self.empty.copy(),
                       self.medium, json.loads(json.dumps(self.metadata)))

    # ----------------------------------------------------------------- counts
    def counts(self) -> np.ndarray:
        """Number of filled cells per palette colour (length n, empty cells excluded)."""
        idx = self.index if self.empty is None else self.index[~self.empty]
        return np.bincount(idx.ravel(), minlength=len(self.palette))

    def used_indices(self) -> list[int]:
        """Palette indices that appear in filled cells, in palette order."""
        return [int(i) for i in np.flatnonzero(self.counts())]

    def color_counts(self) -> list[tuple[int, PaletteColor, int]]:
        """(palette index, colour, count) for used colours, most used first."""
        counts = self.counts()
        order = sorted(self.used_indices(), key=lambda i: (-counts[i], i))
        return [(i, self.palette[i], int(counts[i])) for i in order]

    def compacted(self) -> "Pattern":
        """The same design with the palette reduced to the colours it uses (indices remapped)."""
        used = self.used_indices() or [int(self.index.flat[0])]
        remap = np.zeros(len(self.palette), dtype=np.uint16)
        remap[used] = np.arange(len(used), dtype=np.uint16)
        sub = self.palette.subset(used, name=self.palette.name)
        return Pattern(remap[self.index], sub, self.empty, self.medium, dict(self.metadata))

    # ----------------------------------------------------------------- rendering
    def to_rgb(self, empty_rgb: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
        """H x W x 3 uint8 sRGB image of the design (empty cells in ``empty_rgb``)."""
        img = self.palette.rgb8[self.index]
        if self.empty is not None:
            img[self.empty] = np.asarray(empty_rgb, dtype=np.uint8)
        return img

    def to_rgba(self) -> np.ndarray:
        """H x W x 4 uint8 image with empty cells fully transparent."""
        rgba = np.empty(self.shape + (4,), dtype=np.uint8)
        rgba[..., :3] = self.palette.rgb8[self.index]
        rgba[..., 3] = 255
        if self.empty is not None:
            rgba[self.empty, 3] = 0
        return rgba

    # ----------------------------------------------------------------- edits
    def _check_cell(self, y: int, x: int) -> None:
        if not (0 <= y < self.height and 0 <= x < self.width):
            raise PatternError(f"cell ({x}, {y}) is outside the {self.width}x{self.height} pattern")

    def _check_color(self, color: int) -> None:
        if not 0 <= int(color) < len(self.palette):
            raise PatternError(f"colour index {color} is not in the palette (0..{len(self.palette) - 1})")

    def get_cell(self, y: int, x: int) -> int | None:
        """Palette index at (y, x), or None if the cell is empty."""
        self._check_cell(y, x)
        if self.empty is not None and self.empty[y, x]:
            return None
        return int(self.index[y, x])

    def set_cell(self, y: int, x: int, color: int | None) -> None:
        """Set one cell to a palette index, or make it empty with ``None``."""
        self._check_cell(y, x)
        if color is None:
            if self.empty is None:
                self.empty = np.zeros(self.shape, dtype=bool)
            self.empty[y, x] = True
            return
        self._check_color(color)
        self.index[y, x] = color
        if self.empty is not None:
            self.empty[y, x] = False
            if not self.empty.any():
                self.empty = None

    def replace_color(self, old: int, new: int) -> int:
        """Replace every filled cell of colour ``old`` by ``new``; returns how many cells changed."""
        self._check_color(old)
        self._check_color(new)
        mask = self.index == old
        if self.empty is not None:
            mask &= ~self.empty
        self.index[mask] = new
        return int(mask.sum())

    def crop(self, x: int, y: int, width: int, height: int) -> "Pattern":
        """A new pattern of the given rectangle (clipped to the design)."""
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.width, x + width), min(self.height, y + height)
        if x1 <= x0 or y1 <= y0:
            raise PatternError(f"crop rectangle {width}x{height} at ({x}, {y}) lies outside the pattern")
        empty = None if self.empty is None else self.empty[y0:y1, x0:x1].copy()
        return Pattern(self.index[y0:y1, x0:x1].copy(), self.palette, empty, self.medium, dict(self.metadata))

    def resized(self, width: int, height: int) -> "Pattern":
        """Nearest-neighbour resize to width x height cells (colours stay palette colours)."""
        if width < 1 or height < 1:
            raise PatternError(f"cannot resize to {width}x{height}: both sides must be at least 1")
        ys = ((np.arange(height) + 0.5) * self.height / height).astype(int).clip(0, self.height - 1)
        xs = ((np.arange(width) + 0.5) * self.width / width).astype(int).clip(0, self.width - 1)
        empty = None if self.empty is None else self.empty[np.ix_(ys, xs)]
        return Pattern(self.index[np.ix_(ys, xs)], self.palette, empty, self.medium, dict(self.metadata))

    # ----------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        """Write the project file (.pixl zip: manifest JSON, cells npz, preview PNG) atomically."""
        from PIL import Image

        path = Path(path)
        manifest = {
            "format": "pixl",
            "schema_version": SCHEMA_VERSION,
            "width": self.width,
            "height": self.height,
            "palette": self.palette.to_dict(),
            "medium": self.medium.to_dict() if self.medium else None,
            "metadata": self.metadata,
        }
        cells = io.BytesIO()
        np.savez_compressed(cells, index=self.index, empty=self.empty_mask)
        preview = io.BytesIO()
        Image.fromarray(self.to_rgba(), "RGBA").save(preview, format="PNG")
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(_MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
                zf.writestr(_CELLS, cells.getvalue())
                zf.writestr(_PREVIEW, preview.getvalue())
        log.info("saved pattern %dx%d to %s", self.width, self.height, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Pattern":
        """Read a .pixl project; damaged, hostile or newer-version files raise PatternError with a clear message.

        Everything is checked before it is allocated (file and member sizes, declared cell counts, array
        headers), so a hostile file is refused quickly and in little memory; see engine.core.project_io.
        """
        index, empty, palette, medium, metadata = read_project(Path(path))
        return cls(index, palette, empty, medium, metadata)
