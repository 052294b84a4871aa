"""What an embroidery export built: counts of the stitch records (one counting for a plan and for a file read
back), size, hoop, sewing-time estimate, threads and warnings, and the lines a front-end shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyembroidery as pe

from exporters.common.errors import ExportError
from exporters.embroidery.formats import has_jumps
from exporters.embroidery.threads import Thread


@dataclass(frozen=True)
class SewingTimeModel:
    """Constants of the sewing-time estimate (documented data, tune for a machine).

    minutes = (stitches + jump records) / stitches_per_minute
              + trims * trim_seconds / 60 + colour changes * color_change_seconds / 60
    Home single-needle machines sew ~400-850 stitches/min; a trim takes a few seconds; a colour
    change on a single-needle machine means re-threading by hand (~30-60 s).
    """

    stitches_per_minute: float = 650.0
    trim_seconds: float = 6.0
    color_change_seconds: float = 45.0

    def minutes(self, stitches: int, jump_records: int, trims: int, color_changes: int,
                stitches_per_minute: float | None = None) -> float:
        """Estimated sewing time in minutes."""
        spm = stitches_per_minute or self.stitches_per_minute
        return ((stitches + jump_records) / spm
                + trims * self.trim_seconds / 60.0 + color_changes * self.color_change_seconds / 60.0)


SEWING_TIME = SewingTimeModel()


@dataclass(frozen=True)
class RecordCounts:
    """Counts of a stitch list (the only place stitch records are counted)."""

    stitches: int
    color_changes: int
    trims: int
    jumps: int  # runs of jump records (one move each)
    jump_records: int
    jump_mm: float
    size_mm: tuple[float, float]
    stitches_per_block: list[int]


def count_records(units: np.ndarray, cmds: np.ndarray) -> RecordCounts:
    """Count a stitch list: integer positions (0.1 mm) and pyembroidery commands."""
    units = np.asarray(units, dtype=np.int64).reshape(-1, 2)
    cmds = np.asarray(cmds, dtype=np.int64) & pe.COMMAND_MASK
    stitch = cmds == pe.STITCH
    jump = cmds == pe.JUMP
    prev = np.vstack([units[:1], units[:-1]]) if len(units) else units
    step = np.hypot(*(units - prev).T.astype(np.float64)) if len(units) else np.zeros(0)
    starts = jump & ~np.concatenate([[False], jump[:-1]])
    block = np.cumsum(cmds == pe.COLOR_CHANGE)
    n_blocks = int(block[-1]) + 1 if cmds.size else 0
    size = (0.0, 0.0)
    if stitch.any():
        span = (units[stitch].max(axis=0) - units[stitch].min(axis=0)) / 10.0
        size = (float(span[0]), float(span[1]))
    return RecordCounts(stitches=int(stitch.sum()), color_changes=int((cmds == pe.COLOR_CHANGE).sum()),
                        trims=int((cmds == pe.TRIM).sum()), jumps=int(starts.sum()), jump_records=int(jump.sum()),
                        jump_mm=float(step[jump].sum()) / 10.0, size_mm=size,
                        stitches_per_block=np.bincount(block[stitch], minlength=n_blocks).tolist())


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


@dataclass
class EmbroideryReport:
    """What was built: counts read from the stitch list, size, sewing-time estimate and warnings."""

    stitch_count: int = 0
    color_changes: int = 0
    trims: int = 0
    jumps: int = 0
    total_jump_mm: float = 0.0
    size_mm: tuple[float, float] = (0.0, 0.0)
    estimated_minutes: float = 0.0
    warnings: list[str] = field(default_factory=list)
    mode: str = "fill"
    cell_mm: tuple[float, float] = (0.0, 0.0)
    threads: list[Thread] = field(default_factory=list)
    stitches_per_thread: list[int] = field(default_factory=list)
    hoop: str | None = None
    jump_records: int = 0
    travel_mm: float = 0.0
    build_seconds: float = 0.0
    path: Path | None = None
    format: str | None = None
    stitches_per_minute: float = SEWING_TIME.stitches_per_minute
    hoop_fits: bool | None = None
    tiny_regions: int = 0  # fill regions under the minimum area (after merging)
    merged_regions: int = 0  # tiny regions merged into a neighbour's colour
    merged_cells: int = 0
    travel_under_lighter_mm: float = 0.0
    collapsed: list[tuple[str, str, str]] = field(default_factory=list)
    chart: str = ""
    thread_match: str = ""

    def set_counts(self, units: np.ndarray, cmds: np.ndarray) -> None:
        """Fill the counts, size and sewing time from a stitch list (see :func:`count_records`)."""
        c = count_records(units, cmds)
        self.stitch_count, self.color_changes, self.trims = c.stitches, c.color_changes, c.trims
        self.jumps, self.jump_records, self.total_jump_mm = c.jumps, c.jump_records, round(c.jump_mm, 1)
        self.size_mm = c.size_mm
        self.stitches_per_thread = c.stitches_per_block
        self.estimated_minutes = round(SEWING_TIME.minutes(self.stitch_count, self.jump_records, self.trims,
                                                           self.color_changes, self.stitches_per_minute), 1)

    def summary(self) -> str:
        """One line: stitches, threads, colour changes, trims, jumps, size, time."""
        w, h = self.size_mm
        return (f"{_plural(self.stitch_count, 'stitch', 'stitches')}, {_plural(len(self.threads), 'thread')}, "
                f"{_plural(self.color_changes, 'colour change')}, {_plural(self.trims, 'trim')}, "
                f"{_plural(self.jumps, 'jump')} ({self.total_jump_mm:.0f} mm), {w:.1f} x {h:.1f} mm, "
                f"~{self.estimated_minutes:.0f} min")

    def headline(self) -> str:
        """The preview's title: stitches, colour changes, trims, size, time."""
        w, h = self.size_mm
        return (f"{_plural(self.stitch_count, 'stitch', 'stitches')}, {_plural(self.color_changes, 'colour change')}, "
                f"{_plural(self.trims, 'trim')}, {w:.0f} x {h:.0f} mm, ~{self.estimated_minutes:.0f} min")

    def lines(self) -> list[str]:
        """Human-readable report: counts, size, hoop, sewing time, threads (warnings are separate: ``warnings``)."""
        w, h = self.size_mm
        if has_jumps(self.format):
            moves = (f"{_plural(self.jumps, 'jump')} ({_plural(self.jump_records, 'jump record')}, "
                     f"{self.total_jump_mm:.0f} mm)")
        else:  # VP3: no jump records, every move follows a trim
            moves = f"{_plural(self.jumps, 'move')} after trims ({self.total_jump_mm:.0f} mm)"
        out = [f"{_plural(self.stitch_count, 'stitch', 'stitches')}, {_plural(len(self.threads), 'thread')}, "
               f"{_plural(self.color_changes, 'colour change')}, {_plural(self.trims, 'trim')}, {moves}",
               f"design size {w:.1f} x {h:.1f} mm ({self.mode}, "
               f"cells {self.cell_mm[0]:.2f} x {self.cell_mm[1]:.2f} mm)"]
        if self.hoop:
            out.append(f"hoop {self.hoop}: " + ("fits" if self.hoop_fits else "does NOT fit"))
        else:
            out.append("hoop: larger than every listed hoop")
        out.append(f"estimated sewing time ~{self.estimated_minutes:.0f} min at {self.stitches_per_minute:.0f} "
                   f"stitches/min (+{SEWING_TIME.trim_seconds:.0f} s per trim, "
                   f"+{SEWING_TIME.color_change_seconds:.0f} s per colour change)")
        if self.threads:
            out.append(f"threads ({self.chart}, {self.thread_match}): " + ", ".join(
                f"{t.brand} {t.code} {t.name} ({n:,})" for t, n in zip(self.threads, self.stitches_per_thread)))
        if self.merged_regions:
            out.append(f"merged {_plural(self.merged_regions, 'tiny region')} "
                       f"({_plural(self.merged_cells, 'cell')}) into a neighbour's colour")
        return out


def report_from_file(path: str | Path) -> EmbroideryReport:
    """A report with the counts and size of an embroidery file read back with pyembroidery (JEF: trims as
    runs of three jumps, the way this exporter and Janome machines write them)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    emb = pe.read(str(path), {"trims": True} if fmt == "jef" else None)
    if emb is None:
        raise ExportError(f"cannot read {path.name} as an embroidery file")
    data = np.rint(np.asarray(emb.stitches, dtype=np.float64).reshape(-1, 3)).astype(np.int64)
    report = EmbroideryReport(path=path, format=fmt)
    report.set_counts(data[:, :2], data[:, 2])
    return report
