"""Quick "see before you start" previews: the picture at the chosen cell size in the nearest owned colours.

``quick_preview`` is plain numpy/PIL (no Qt) and is what the full converter does at its simplest (area resample,
exact CIEDE2000 nearest colour, no dithering or cleanup); ``PreviewRunner`` runs it in Qt's thread pool, off the
GUI thread, and hands back only the newest result.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.core.palette import Palette

log = logging.getLogger(__name__)


def quick_preview(image, palette: Palette, width: int, height: int, fit: str = "crop",
                  max_colors: int | None = None) -> np.ndarray:
    """``height x width x 4`` uint8 RGBA: ``image`` (PIL) fitted to the grid, each cell the nearest palette colour
    (CIEDE2000); cells the picture does not cover (pad) or transparent ones are fully transparent.
    ``max_colors``: first keep the best K colours for the cells (``select_colors``, as the converter's
    "at most K")."""
    from PIL import Image

    from engine.core.color import nearest_palette_index, srgb8_to_lab
    from engine.core.image_io import fit_layout

    layout = fit_layout(image.width, image.height, width, height, fit)
    x, y, w, h = layout.cells
    small = image.convert("RGBA").crop(layout.crop_box).resize((w, h), Image.Resampling.BOX)
    arr = np.asarray(small)
    lab = srgb8_to_lab(arr[..., :3])
    if max_colors and max_colors < len(palette):
        from engine.core.palette_select import select_colors

        keep = select_colors(lab[arr[..., 3] >= 128].reshape(-1, 3) if (arr[..., 3] >= 128).any()
                             else lab.reshape(-1, 3), palette.lab, int(max_colors))
        palette = palette.subset(keep)
    idx = nearest_palette_index(lab, palette.lab)
    out = np.zeros((height, width, 4), dtype=np.uint8)
    out[y:y + h, x:x + w, :3] = palette.rgb8[idx]
    out[y:y + h, x:x + w, 3] = np.where(arr[..., 3] >= 128, 255, 0)
    return out


class _Signals(QObject):
    done = Signal(int, object)  # generation, RGBA array (None on failure)


class _Job(QRunnable):
    def __init__(self, generation: int, args: tuple, signals: _Signals) -> None:
        super().__init__()
        self.generation, self.args, self.signals = generation, args, signals

    def run(self) -> None:
        try:
            result = quick_preview(*self.args)
        except Exception as exc:  # a preview that fails only means no preview
            log.warning("preview failed: %s", exc)
            result = None
        try:
            self.signals.done.emit(self.generation, result)
        except RuntimeError:  # the window closed while this preview was computed: nobody is waiting for it
            log.debug("preview %d dropped: its window is gone", self.generation)


class PreviewRunner(QObject):
    """Computes previews in the global thread pool; ``ready(rgba)`` fires for the newest request only."""

    ready = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # no Qt parent: the pending jobs keep it alive, so a job that ends after the window closed emits into
        # a live object (whose connection to this runner Qt has already removed)
        self._signals = _Signals()
        self._signals.done.connect(self._on_done)
        self.generation = 0
        self.busy = 0

    def request(self, image, palette: Palette, width: int, height: int, fit: str = "crop",
                max_colors: int | None = None) -> int:
        """Start a preview; older pending ones are dropped when they finish. Returns its generation."""
        self.generation += 1
        self.busy += 1
        QThreadPool.globalInstance().start(_Job(self.generation, (image, palette, width, height, fit, max_colors),
                                                self._signals))
        return self.generation

    def invalidate(self) -> None:
        """Forget pending previews (e.g. a run started)."""
        self.generation += 1

    def _on_done(self, generation: int, rgba) -> None:
        self.busy -= 1
        if generation == self.generation and rgba is not None:
            self.ready.emit(rgba)
