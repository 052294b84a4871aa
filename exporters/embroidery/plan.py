"""The stitch plan: records built as chunks with tie-in/tie-off stitches and split jumps, then finished into
integer 0.1 mm positions (long stitches split, short ones dropped) with the threads and the report."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyembroidery as pe
from pyembroidery import EmbPattern

from exporters.embroidery.fill import ragged_arange
from exporters.embroidery.formats import MAX_JUMP_MM
from exporters.embroidery.report import EmbroideryReport
from exporters.embroidery.threads import Thread

# Small back-and-forth stitches that lock the thread after a trim and before one (mm).
TIE_MM = 0.5


class StitchStream:
    """Stitch records being built as chunks: (n, 2) point arrays (mm) with one command per chunk."""

    def __init__(self, start: np.ndarray) -> None:
        self.chunks: list[np.ndarray] = []
        self.kinds: list[int] = []
        self.pos = np.asarray(start, dtype=np.float64).copy()
        self.travel_mm = 0.0

    def add(self, pts: np.ndarray, command: int) -> None:
        """Append points sewn (or jumped to) with ``command``."""
        if len(pts) == 0:
            return
        self.chunks.append(pts)
        self.kinds.append(command)
        self.pos = pts[-1]

    def command(self, command: int) -> None:
        """A record at the needle (TRIM, COLOR_CHANGE, END)."""
        self.add(self.pos[None].copy(), command)

    def jump_to(self, q: np.ndarray) -> None:
        """Jump records to ``q``, each at most MAX_JUMP_MM long."""
        d = float(np.hypot(*(q - self.pos)))
        if d < 1e-9:
            return
        n = max(1, math.ceil(d / MAX_JUMP_MM))
        t = np.arange(1, n + 1)[:, None] / n
        self.add(self.pos + t * (q - self.pos), pe.JUMP)

    def tie_in(self, p: np.ndarray, toward: np.ndarray) -> None:
        """Lock the thread at ``p``: small stitches toward the first stitch and back."""
        v = toward - p
        d = float(np.hypot(*v))
        if d < 0.2:
            self.add(p[None].copy(), pe.STITCH)
            return
        u = v / d * min(TIE_MM, d)
        self.add(np.stack([p, p + u, p, p + u, p]), pe.STITCH)

    def tie_off(self) -> None:
        """Back-and-forth along the last stitches, ending where the needle is."""
        if not self.chunks or self.kinds[-1] != pe.STITCH:
            return
        last = self.chunks[-1]
        e = last[-1]
        far = np.flatnonzero(np.hypot(*(last - e).T) > 0.2)
        if far.size == 0:
            return
        v = last[far[-1]] - e
        u = v / float(np.hypot(*v)) * TIE_MM
        self.add(np.stack([e + u, e, e + u, e]), pe.STITCH)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(points mm, commands) of everything added."""
        if not self.chunks:
            return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
        sizes = np.fromiter((len(c) for c in self.chunks), dtype=np.int64, count=len(self.chunks))
        return np.concatenate(self.chunks), np.repeat(np.asarray(self.kinds, dtype=np.int64), sizes)


def first_distinct(block: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The first of a unit's first points that is more than 0.3 mm from ``p`` (else ``p``)."""
    d = np.hypot(*(block[:8] - p).T)
    far = np.flatnonzero(d > 0.3)
    return block[far[0]] if far.size else p


def finish(points_mm: np.ndarray, cmds: np.ndarray, max_stitch_mm: float, origin: np.ndarray,
           min_stitch_mm: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Split long stitches, convert to 0.1 mm integer units around ``origin``, drop stitches shorter
    than ``min_stitch_mm`` (and of 0.1 mm or less), and pin trims/colour changes/end to the needle."""
    if len(cmds) == 0:
        return np.zeros((0, 2), dtype=np.int64), cmds
    prev = np.vstack([origin[None], points_mm[:-1]])
    d = np.hypot(*(points_mm - prev).T)
    pieces = np.where(cmds == pe.STITCH, np.maximum(1, np.ceil(d / max_stitch_mm - 1e-9)), 1).astype(np.int64)
    if (pieces > 1).any():
        owner, t = ragged_arange(pieces)
        frac = (t + 1) / pieces[owner]
        points_mm = prev[owner] + frac[:, None] * (points_mm[owner] - prev[owner])
        cmds = cmds[owner]
    units = np.rint((points_mm - origin) * 10.0).astype(np.int64)
    units, cmds = drop_short_stitches(units, cmds, max(1.0 + 1e-9, min_stitch_mm * 10.0 - 1e-9),
                                      max_stitch_mm * 10.0 + 1.0)
    moves = (cmds == pe.STITCH) | (cmds == pe.JUMP)
    src = np.maximum.accumulate(np.where(moves, np.arange(cmds.size), 0))
    units = np.where(moves[:, None], units, units[src])
    if not moves[0]:
        units[: np.argmax(moves)] = 0
    return units, cmds


def drop_short_stitches(units: np.ndarray, cmds: np.ndarray, min_units: float, max_units: float = np.inf
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Remove stitches shorter than ``min_units`` (0.1 mm); a stitch is a STITCH record after a
    STITCH record. Of a short stitch's two points the later goes, or at the end of a stitch block the
    earlier (so blocks still end where the next move starts). Where dropping a point would make a
    stitch longer than ``max_units``, the point moves to the middle of its neighbours instead.
    Repeats until none is left (each pass touches non-adjacent points only)."""
    units = units.copy()
    for _ in range(64):
        step = np.diff(units, axis=0).astype(np.float64)
        length = np.hypot(step[:, 0], step[:, 1])
        st = cmds == pe.STITCH
        short = np.zeros(cmds.size, dtype=bool)
        short[1:] = st[1:] & st[:-1] & (length < min_units)
        if not short.any():
            break
        nxt_st = np.zeros(cmds.size, dtype=bool)
        nxt_st[:-1] = st[1:]
        i = np.flatnonzero(short)
        at_end = ~nxt_st[i]
        j = np.where(at_end, i - 1, i)
        # the earlier point at a block end is only movable if a stitch leads into it
        movable = ~at_end | ((j >= 1) & st[np.maximum(j - 1, 0)])
        lone = i[~movable]  # a two-point block: drop its end
        j = j[movable]
        pick = np.zeros(cmds.size, dtype=bool)
        pick[j] = True
        both = pick[1:] & pick[:-1]  # never touch neighbours in one pass
        pick[1:][both] = False
        j = np.flatnonzero(pick)
        a, b = units[j - 1], units[np.minimum(j + 1, len(units) - 1)]
        merged = np.hypot(*(b - a).T.astype(np.float64))
        far = merged > max_units
        units[j[far]] = np.rint((a[far] + b[far]) / 2).astype(np.int64)
        drop = np.zeros(cmds.size, dtype=bool)
        drop[j[~far]] = True
        drop[lone] = True
        if not drop.any() and not far.any():
            break
        units, cmds = units[~drop], cmds[~drop]
    return units, cmds


def emb_thread(t: Thread) -> pe.EmbThread:
    """A pyembroidery thread with our thread's colour, code, name, brand and chart."""
    th = pe.EmbThread()
    th.set_color(*t.rgb)
    th.description = t.name.replace(",", " ")
    th.catalog_number = t.code
    th.brand = t.brand
    th.chart = t.chart
    return th


@dataclass
class StitchPlan:
    """The finished stitch list: integer positions (0.1 mm, design centred on 0, y down), commands,
    the threads in sewing order and the report."""

    units: np.ndarray
    cmds: np.ndarray
    threads: list[Thread]
    report: EmbroideryReport
    name: str = "piXL design"

    def to_emb_pattern(self) -> EmbPattern:
        """The plan as a pyembroidery EmbPattern (threads with colour, code, name and brand)."""
        emb = EmbPattern()
        for t in self.threads:
            emb.add_thread(emb_thread(t))
        emb.stitches = np.column_stack([self.units, self.cmds]).tolist()
        emb.metadata("name", self.name[:16])
        return emb
