"""Choosing embroidery threads for a pattern's colours (CIEDE2000 against a thread chart).

Machine formats default to a machine thread range (``DEFAULT_CHART_BY_FORMAT``), not hand floss.
Two ways to match: ``nearest`` (each colour to its closest thread; close colours may share one) and
``distinct`` (the default: an optimal one-to-one assignment minimising the total CIEDE2000, so
distinct pattern colours stay distinct threads where the chart has enough of them; colours closer
than ``SAME_COLOUR_DE`` to each other count as one). Machine charts are small (Brother's PEC has 64
colours, Janome's JEF 78), so independent nearest matching would merge many pattern colours. Pairs
of pattern colours that still land on one thread are returned so the caller can warn about them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.core.color import ciede2000
from engine.core.palette import Palette, PaletteError
from engine.core.palette_io import list_palettes, load_palette
from engine.core.pattern import Pattern

log = logging.getLogger(__name__)

DEFAULT_CHART = "brother_pec"
# Thread chart used when the user asks for none ("auto"): the machine range each format's machines name.
DEFAULT_CHART_BY_FORMAT: dict[str, str] = {
    "pes": "brother_pec",
    "jef": "janome_jef",
    "vp3": "pfaff_shv",
    "dst": "brother_pec",
    "exp": "brother_pec",
    "stitch-png": "brother_pec",
}
# Matching used when the user asks for none ("auto"), by format (others: distinct).
DEFAULT_MATCH_BY_FORMAT: dict[str, str] = {}
DEFAULT_MATCH = "distinct"
# Pattern colours closer than this (CIEDE2000) are one colour to the eye: they may share a thread.
SAME_COLOUR_DE = 2.0
# Distinct matching takes a thread other than the nearest only if it is at most this much further (ΔE00);
# beyond that the colours share their nearest thread (and a warning names them) rather than turn e.g. brown
# into pink on a small chart.
DISTINCT_MAX_EXTRA_DE = 8.0
# Chart choices offered to users: "auto" (by format), "pattern" (keep a thread pattern's own threads), or a chart.
CHART_CHOICES = ("auto", "pattern", "brother_pec", "janome_jef", "janome_sew", "pfaff_shv", "husqvarna", "dmc")


def chart_choices() -> tuple[str, ...]:
    """"auto", "pattern" and the key of every shipped thread palette (CHART_CHOICES if none can be listed)."""
    try:
        keys = [i.key for i in list_palettes() if i.kind == "thread"]
    except (OSError, ValueError, KeyError):
        return CHART_CHOICES
    return ("auto", "pattern", *keys) if keys else CHART_CHOICES


def chart_labels() -> dict[str, str]:
    """Plain words for each chart choice (the palette's own name for a shipped chart)."""
    labels = {"auto": "the machine range of the file format (Brother for PES, DST and EXP; Janome for JEF; "
                      "Pfaff for VP3)",
              "pattern": "the pattern's own threads (e.g. DMC floss)"}
    try:
        labels.update({i.key: i.name for i in list_palettes() if i.kind == "thread"})
    except (OSError, ValueError, KeyError):
        pass
    return labels


MATCH_CHOICES = ("auto", "nearest", "distinct")
MATCH_LABELS = {"auto": "distinct threads where the chart allows",
                "nearest": "the nearest thread for each colour (similar colours may share one)",
                "distinct": "distinct colours keep distinct threads (best one-to-one assignment)"}

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
    chart_index: int = -1  # position in its chart (-1: the pattern's own thread)

    @property
    def hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)

    @property
    def label(self) -> str:
        return f"{self.brand} {self.code} {self.name}".strip()


@dataclass
class ThreadMapping:
    """Result of mapping a pattern's colours to threads.

    thread_of: thread index of each palette colour (-1 unused); threads: the distinct threads;
    collapsed: (pattern colour label, pattern colour label, thread label) for distinct pattern
    colours that share one thread; chart: the chart's name (or "pattern"); match: method used.
    """

    thread_of: np.ndarray
    threads: list[Thread]
    collapsed: list[tuple[str, str, str]] = field(default_factory=list)
    chart: str = "pattern"
    match: str = "nearest"


def _brand(palette: Palette) -> str:
    return BRANDS.get(palette.key, palette.name)


def resolve_chart(chart: str | None, fmt: str | None) -> str | None:
    """The chart key to use: None keeps the pattern's own threads ("pattern")."""
    if chart is None or chart == "auto":
        return DEFAULT_CHART_BY_FORMAT.get((fmt or "").lower(), DEFAULT_CHART)
    if chart == "pattern":
        return None
    return chart


def resolve_match(match: str | None, fmt: str | None) -> str:
    """"nearest" or "distinct" for a requested method ("auto" picks by format)."""
    if match is None or match == "auto":
        return DEFAULT_MATCH_BY_FORMAT.get((fmt or "").lower(), DEFAULT_MATCH)
    if match not in ("nearest", "distinct"):
        raise PaletteError(f"thread matching must be one of {', '.join(MATCH_CHOICES)}, got {match!r}")
    return match


def distinct_assignment(cost: np.ndarray, max_extra: float = np.inf) -> np.ndarray:
    """Rows -> columns minimising the total cost, one column per row while columns last, using only
    columns at most ``max_extra`` costlier than a row's cheapest; other rows go to their cheapest column."""
    out = np.argmin(cost, axis=1)
    best = cost[np.arange(len(cost)), out]
    big = 1e6
    allowed = cost <= best[:, None] + max_extra
    rows, cols = linear_sum_assignment(np.where(allowed, cost, big))
    ok = allowed[rows, cols]
    out[rows[ok]] = cols[ok]
    return out


def map_threads(pattern: Pattern, chart: str | Palette | None = None, match: str = "nearest") -> ThreadMapping:
    """Map every palette colour the pattern uses to a thread of ``chart`` (None: the pattern's own
    threads when it is a thread pattern, else the default chart)."""
    palette = pattern.palette
    used = pattern.used_indices()
    thread_of = np.full(len(palette), -1, dtype=np.int64)
    is_thread = (pattern.medium is not None and pattern.medium.kind == "thread") or palette.medium.kind == "thread"
    if chart is None and is_thread:
        threads = []
        for n, i in enumerate(used):
            c = palette[i]
            thread_of[i] = n
            threads.append(Thread(c.code, c.name, tuple(c.rgb), _brand(palette), palette.name))
        return ThreadMapping(thread_of, threads, [], "pattern", "pattern")
    chart_pal = chart if isinstance(chart, Palette) else load_palette(chart or DEFAULT_CHART)
    if chart_pal.medium.kind != "thread":
        raise PaletteError(f"{chart_pal.name!r} is a {chart_pal.medium.kind} palette, not a thread chart; "
                           "choose a thread palette such as brother_pec, janome_jef or dmc")
    if not used:
        return ThreadMapping(thread_of, [], [], chart_pal.name, match)
    cost = ciede2000(palette.lab[used][:, None, :], chart_pal.lab[None, :, :])
    if match == "distinct":
        rep = _same_colour_groups(palette.lab[used])
        heads = np.unique(rep)
        pick_heads = distinct_assignment(cost[heads], DISTINCT_MAX_EXTRA_DE)
        pick = pick_heads[np.searchsorted(heads, rep)]
    else:
        pick = np.argmin(cost, axis=1)
    de = cost[np.arange(len(used)), pick]
    slot: dict[int, int] = {}
    worst: dict[int, float] = {}
    members: dict[int, list[int]] = {}
    for i, j, d in zip(used, pick.tolist(), de.tolist()):
        if j not in slot:
            slot[j] = len(slot)
        thread_of[i] = slot[j]
        worst[j] = max(worst.get(j, 0.0), float(d))
        members.setdefault(j, []).append(i)
    threads = []
    for j in slot:  # dict keeps insertion order = slot order
        c = chart_pal[j]
        threads.append(Thread(c.code, c.name, tuple(c.rgb), _brand(chart_pal), chart_pal.name,
                              round(worst[j], 2), int(j)))
    collapsed = []
    for j, idx in members.items():
        t = threads[slot[j]]
        for a, b in zip(idx[:-1], idx[1:]):
            collapsed.append((_color_label(palette, a), _color_label(palette, b), t.label))
    log.info("mapped %d pattern colours to %d %s threads (%s)", len(used), len(threads), chart_pal.name, match)
    return ThreadMapping(thread_of, threads, collapsed, chart_pal.name, match)


def _same_colour_groups(lab: np.ndarray) -> np.ndarray:
    """For each colour, the index of the first colour it is indistinguishable from (ΔE00 < SAME_COLOUR_DE),
    itself if none: greedy, in order."""
    n = len(lab)
    rep = np.arange(n)
    if n < 2:
        return rep
    de = ciede2000(lab[:, None, :], lab[None, :, :])
    for i in range(1, n):
        close = np.flatnonzero((de[i, :i] < SAME_COLOUR_DE) & (rep[:i] == np.arange(i)))
        if close.size:
            rep[i] = close[0]
    return rep


def _color_label(palette: Palette, i: int) -> str:
    c = palette[i]
    return f"{c.code} {c.name}".strip() if c.code != c.name else c.name

