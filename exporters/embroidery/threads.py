"""Choosing embroidery threads for a pattern's colours (CIEDE2000 nearest thread in a chart)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from engine.core.color import nearest_palette_match
from engine.core.palette import Palette, PaletteError
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern

log = logging.getLogger(__name__)

DEFAULT_CHART = "dmc"

# Brand written on each thread, by shipped palette key (falls back to the palette name).
BRANDS: dict[str, str] = {
    "dmc": "DMC",
    "brother_pec": "Brother",
    "janome_jef": "Janome",
    "janome_sew": "Janome",
    "husqvarna": "Husqvarna Viking",
    "pfaff_shv": "Pfaff",
}


@dataclass(frozen=True)
class Thread:
    """One thread the machine sews: its colour, catalogue code, name, brand and chart."""

    code: str
    name: str
    rgb: tuple[int, int, int]
    brand: str
    chart: str
    delta_e: float = 0.0  # CIEDE2000 from the pattern colour(s) it replaces (worst case)

    @property
    def hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


def _brand(palette: Palette) -> str:
    return BRANDS.get(palette.key, palette.name)


def assign_threads(pattern: Pattern, chart: str | Palette | None = None) -> tuple[np.ndarray, list[Thread]]:
    """Map every palette colour the pattern uses to a thread.

    Returns ``(thread_of_color, threads)``: an int array (palette length, -1 for unused colours)
    giving the thread index of each palette colour, and the distinct threads. Pattern colours that
    land on the same thread share it (one colour block per thread). A thread palette
    (medium kind "thread") is used as is unless ``chart`` is given.
    """
    palette = pattern.palette
    used = pattern.used_indices()
    thread_of = np.full(len(palette), -1, dtype=np.int64)
    threads: list[Thread] = []
    is_thread = (pattern.medium is not None and pattern.medium.kind == "thread") or palette.medium.kind == "thread"
    if chart is None and is_thread:
        for n, i in enumerate(used):
            c = palette[i]
            thread_of[i] = n
            threads.append(Thread(c.code, c.name, tuple(c.rgb), _brand(palette), palette.name))
        return thread_of, threads
    chart_pal = chart if isinstance(chart, Palette) else load_palette(chart or DEFAULT_CHART)
    if chart_pal.medium.kind != "thread":
        raise PaletteError(f"{chart_pal.name!r} is a {chart_pal.medium.kind} palette, not a thread chart; "
                           "choose a thread palette such as dmc, brother_pec or janome_jef")
    if not used:
        return thread_of, threads
    nearest, de = nearest_palette_match(palette.lab[used], chart_pal.lab)
    slot: dict[int, int] = {}
    worst: dict[int, float] = {}
    for i, j, d in zip(used, nearest.tolist(), de.tolist()):
        if j not in slot:
            slot[j] = len(slot)
        thread_of[i] = slot[j]
        worst[j] = max(worst.get(j, 0.0), float(d))
    for j in slot:  # dict keeps insertion order = slot order
        c = chart_pal[j]
        threads.append(Thread(c.code, c.name, tuple(c.rgb), _brand(chart_pal), chart_pal.name, round(worst[j], 2)))
    log.info("mapped %d pattern colours to %d %s threads", len(used), len(threads), chart_pal.name)
    return thread_of, threads
