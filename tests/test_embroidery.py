"""Machine embroidery export: files written are read back with pyembroidery and checked."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyembroidery as pe
import pytest
from PIL import Image

from engine.core.color import ciede2000
from engine.core.medium import THREAD
from engine.core.palette import Palette, PaletteColor
from engine.core.pattern import Pattern
from engine.core.progress import Cancelled, CancelToken
from exporters.common.errors import ExportError
from exporters.embroidery import export as emb
from exporters.embroidery import writers
from exporters.embroidery.export import (
    FORMAT_MAX_STEP,
    MACHINE_FORMATS,
    EmbroideryOptions,
    export_embroidery,
    plan_embroidery,
    render_stitch_preview,
)
from exporters.embroidery.hoops import HOOPS, parse_hoop, smallest_fitting_hoop
from exporters.embroidery.preview import FABRIC_RGB
from exporters.embroidery.report import SEWING_TIME

CELL = 2.0
# Machine formats now default to a machine thread chart; tests that look at a DMC pattern's own
# threads ask for them explicitly.
OWN = EmbroideryOptions(thread_chart="pattern")


@pytest.fixture(scope="module")
def thread_pattern(dmc):
    """18 x 14 DMC pattern: a ring (a region with a hole), a bar, scattered dots, empty corners."""
    yy, xx = np.mgrid[:14, :18]
    index = np.full((14, 18), dmc.index_of("3713"), dtype=np.int64)
    d2 = (yy - 7) ** 2 + (xx - 8) ** 2
    index[(d2 < 30) & (d2 > 6)] = dmc.index_of("321")
    index[1:3, 12:17] = dmc.index_of("321")  # touches the ring only at one side
    index[11:13, 1:6] = dmc.index_of("310")
    index[[2, 5, 9, 12], [2, 15, 16, 10]] = dmc.index_of("310")  # isolated dots
    empty = np.zeros((14, 18), dtype=bool)
    empty[0, :3] = empty[13, 15:] = True
    return Pattern(index, dmc, empty, THREAD)


def _records(pattern_or_path):
    p = pe.read(str(pattern_or_path)) if isinstance(pattern_or_path, (str, Path)) else pattern_or_path
    st = np.asarray(p.stitches, dtype=np.float64).reshape(-1, 3)
    return p, st[:, :2], st[:, 2].astype(np.int64) & pe.COMMAND_MASK


def _stitch_segments(xy, cmd):
    """(a, b) endpoints of every real stitch (a stitch record preceded by a stitch record)."""
    s = np.flatnonzero((cmd[1:] == pe.STITCH) & (cmd[:-1] == pe.STITCH)) + 1
    return xy[s - 1], xy[s]


# ----------------------------------------------------------------------------- files read back


@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
def test_every_format_reads_back_with_the_right_counts_and_bounds(tmp_path, thread_pattern, fmt):
    out = tmp_path / f"design.{fmt}"
    report = export_embroidery(thread_pattern, out)
    assert out.is_file() and report.format == fmt
    read, xy, cmd = _records(out)
    n_threads = len(thread_pattern.used_indices())
    assert (cmd == pe.STITCH).sum() == report.stitch_count > 0
    assert read.count_color_changes() == n_threads - 1 == report.color_changes
    # no stitch longer than the format can encode, none longer than the requested maximum
    a, b = _stitch_segments(xy, cmd)
    step = np.abs(b - a).max(axis=1)
    assert step.max() <= FORMAT_MAX_STEP[fmt]
    assert np.hypot(*(b - a).T).max() <= 3.0 * 10 + 1.5
    # every stitch inside the design (centred on 0) plus the overlap margin; size as requested
    w, h = thread_pattern.width * CELL, thread_pattern.height * CELL
    pts = xy[cmd == pe.STITCH] / 10.0
    assert np.all(np.abs(pts[:, 0]) <= w / 2 + 0.2 + 0.05)
    assert np.all(np.abs(pts[:, 1]) <= h / 2 + 0.2 + 0.05)
    span = pts.max(axis=0) - pts.min(axis=0)
    assert abs(span[0] - w) <= 0.5 and abs(span[1] - h) <= 0.5
    assert report.size_mm == pytest.approx(tuple(span), abs=0.11)


def test_pes_version_6_and_vp3_keep_our_thread_list(tmp_path, thread_pattern):
    report = export_embroidery(thread_pattern, tmp_path / "d.pes", OWN)
    for name in ("d.pes", "d.vp3"):
        if name.endswith("vp3"):
            export_embroidery(thread_pattern, tmp_path / name, OWN)
        read = pe.read(str(tmp_path / name))
        got = [(t.hex_color().upper(), t.catalog_number, t.description) for t in read.threadlist]
        want = [(t.hex, t.code, t.name) for t in report.threads]
        assert got == want
    assert (tmp_path / "d.pes").read_bytes()[:8] == b"#PES0060"
    assert {t.brand for t in report.threads} == {"DMC"}


def test_jef_keeps_trims_and_dst_header_lists_threads(tmp_path, thread_pattern):
    report = export_embroidery(thread_pattern, tmp_path / "d.jef")
    assert report.trims > 0
    read, _, cmd = _records(tmp_path / "d.jef")
    assert (cmd == pe.TRIM).sum() > 0
    report = export_embroidery(thread_pattern, tmp_path / "d.dst")
    header = (tmp_path / "d.dst").read_bytes()[:512].decode("ascii")
    for t in report.threads:
        assert f"TC:{t.hex.lower()},{t.name}" in header


def test_fast_dst_encoder_matches_pyembroidery_writer(tmp_path, thread_pattern):
    plan = plan_embroidery(thread_pattern, EmbroideryOptions())
    ours = tmp_path / "ours.dst"
    emb.write_plan(plan, ours, "dst")
    theirs = tmp_path / "theirs.dst"
    pe.EmbPattern.write_embroidery(pe.DstWriter, plan.to_emb_pattern(), str(theirs), {"encode": False})
    assert ours.read_bytes()[512:] == theirs.read_bytes()[512:]
    _, xy, cmd = _records(ours)
    stitches = cmd == pe.STITCH
    assert np.array_equal(xy[stitches], plan.units[plan.cmds == pe.STITCH])


def test_no_tiny_stitches_and_jumps_split_for_dst(tmp_path, thread_pattern):
    export_embroidery(thread_pattern, tmp_path / "d.dst", EmbroideryOptions(trim_distance_mm=1.0))
    _, xy, cmd = _records(tmp_path / "d.dst")
    a, b = _stitch_segments(xy, cmd)
    length = np.hypot(*(b - a).T)
    moving = length > 0
    assert length[moving].min() > 1.0  # stitches of 0.1 mm or less are dropped
    plan = plan_embroidery(thread_pattern, EmbroideryOptions(trim_distance_mm=1.0, cell_mm=6.0))
    prev = np.vstack([[0, 0], plan.units[:-1]])
    steps = np.abs(plan.units - prev).max(axis=1)
    assert steps[plan.cmds == pe.JUMP].max() <= 121  # long moves are split into several jump records
    assert plan.report.total_jump_mm > 12.1 * plan.report.jumps / 2


# ----------------------------------------------------------------------------- stitch geometry


def _cell_of(pts_mm, w, h):
    c = np.floor(pts_mm[:, 0] / CELL).astype(int)
    r = np.floor(pts_mm[:, 1] / CELL).astype(int)
    return np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)


def test_colour_blocks_stay_in_their_cells_or_under_later_colours(thread_pattern):
    plan = plan_embroidery(thread_pattern, OWN)
    w, h = thread_pattern.width, thread_pattern.height
    xy = plan.units / 10.0 + np.array([w * CELL / 2, h * CELL / 2])
    cmd = plan.cmds
    block = np.cumsum(cmd == pe.COLOR_CHANGE)
    code_to_block = {t.code: k for k, t in enumerate(plan.threads)}
    cell_block = np.full((h, w), -1)
    for y in range(h):
        for x in range(w):
            c = thread_pattern.get_cell(y, x)
            if c is not None:
                cell_block[y, x] = code_to_block[thread_pattern.palette[c].code]
    # sample the middle of every stitch (end points may sit on the 0.2 mm overlap)
    s = np.flatnonzero((cmd[1:] == pe.STITCH) & (cmd[:-1] == pe.STITCH)) + 1
    mid = (xy[s] + xy[s - 1]) / 2
    inner = np.ones(len(s), dtype=bool)
    frac = (mid / CELL) % 1.0
    inner &= np.all((frac > 0.15) & (frac < 0.85), axis=1)  # clearly inside one cell
    r, c = _cell_of(mid[inner], w, h)
    owner = cell_block[r, c]
    sewing = block[s][inner]
    assert np.all(owner >= 0), "no stitch inside an empty cell"
    assert np.all(owner >= sewing), "stitches only in their own cells or under colours sewn later"
    assert (owner == sewing).mean() > 0.97


def test_every_filled_cell_is_covered_and_empty_cells_are_not(thread_pattern):
    plan = plan_embroidery(thread_pattern, EmbroideryOptions(underlay=False))
    w, h = thread_pattern.width, thread_pattern.height
    a, b = _stitch_segments(plan.units / 10.0 + np.array([w * CELL / 2, h * CELL / 2]), plan.cmds)
    t = np.linspace(0.0, 1.0, 16)
    pts = (a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]).reshape(-1, 2)  # points along every stitch
    pts = np.round(pts, 2)
    col = np.floor(pts[:, 0] / CELL).astype(int)
    frac = (pts[:, 0] / CELL) % 1.0
    # off the cell sides (fills reach 0.2 mm across them: overlap into colours, pull compensation at empty cells)
    inner = (frac > 0.12) & (frac < 0.88)
    filled = ~thread_pattern.empty_mask
    for y in range(h):
        band = (pts[:, 1] >= y * CELL) & (pts[:, 1] <= (y + 1) * CELL)
        core = (pts[:, 1] > y * CELL + 0.05) & (pts[:, 1] < (y + 1) * CELL - 0.05)
        for x in range(w):
            here = inner & (col == x)
            if filled[y, x]:  # every tatami row of the cell's band crosses it
                assert len(set(pts[here & band, 1].tolist())) >= CELL / 0.4, (y, x)
            else:
                assert not np.any(here & core), (y, x)


def test_neighbouring_colours_overlap_across_their_border(dmc):
    index = np.full((4, 6), dmc.index_of("310"))
    index[2:, :] = dmc.index_of("321")  # border at y = 4 mm
    index[:, 4:] = dmc.index_of("797")  # border at x = 8 mm
    pattern = Pattern(index, dmc, None, THREAD)

    def reach(overlap: float) -> tuple[float, float]:
        plan = plan_embroidery(pattern, EmbroideryOptions(overlap_mm=overlap, underlay=False, tie_stitches=False,
                                                          thread_chart="pattern"))
        xy = plan.units / 10.0 + np.array([6.0, 4.0])
        block = np.cumsum(plan.cmds == pe.COLOR_CHANGE)
        first = plan.threads.index(next(t for t in plan.threads if t.code == "310"))
        own = xy[(block == first) & (plan.cmds == pe.STITCH)]  # one chain: no travel stitches
        assert plan.report.travel_mm == 0
        return float(own[:, 0].max()), float(own[:, 1].max())

    x0, y0 = reach(0.0)
    x1, y1 = reach(0.2)
    assert x0 == pytest.approx(8.0, abs=0.05) or x0 < 8.0
    assert x1 == pytest.approx(8.2, abs=0.05)  # rows run 0.2 mm into the colour beside
    assert y0 == pytest.approx(3.8, abs=0.05)  # last row half a row spacing inside the border
    assert y1 > y0 + 0.1  # rows spread towards the colour below


def test_region_with_a_hole_is_sewn_without_trims(dmc):
    yy, xx = np.mgrid[:16, :16]
    d2 = (yy - 7.5) ** 2 + (xx - 7.5) ** 2
    ring = (d2 < 50) & (d2 > 12)
    index = np.where(ring, dmc.index_of("321"), 0)
    pattern = Pattern(index, dmc, ~ring, THREAD)
    plan = plan_embroidery(pattern, EmbroideryOptions())
    # one thread, one region: the only trim is the final one, one jump to get there
    assert plan.report.trims == 1
    assert plan.report.jumps == 1
    assert plan.report.travel_mm > 0  # the chains of the ring are joined by running stitches


def test_optimised_order_needs_far_fewer_trims_than_row_by_row(dmc):
    rng = np.random.default_rng(3)
    codes = [dmc.index_of(c) for c in ("310", "321", "3713", "797", "702")]
    index = np.array(codes)[rng.integers(0, 5, size=(24, 24))]
    index[6:18, 6:18] = codes[0]
    pattern = Pattern(index, dmc, None, THREAD)
    good = plan_embroidery(pattern, EmbroideryOptions()).report
    naive = plan_embroidery(pattern, EmbroideryOptions(ordering="rows")).report
    assert good.trims * 3 < naive.trims
    assert good.total_jump_mm < naive.total_jump_mm / 3
    assert good.estimated_minutes < naive.estimated_minutes


def test_tatami_rows_are_staggered_in_a_four_row_cycle(dmc):
    index = np.full((3, 20), dmc.index_of("310"))
    pattern = Pattern(index, dmc, None, THREAD)
    plan = plan_embroidery(pattern, EmbroideryOptions(underlay=False, tie_stitches=False))
    xy = plan.units[plan.cmds == pe.STITCH] / 10.0 + np.array([20.0, 3.0])
    rows: dict[float, set] = {}
    for x, y in xy:
        if 4.0 < x < 36.0:  # needle points inside the row, away from its ends
            rows.setdefault(round(y, 1), set()).add(round(x % 3.0, 1))
    ys = sorted(rows)
    assert len(ys) == 3 * CELL / 0.4
    assert rows[ys[0]] != rows[ys[1]] != rows[ys[2]] != rows[ys[3]]
    assert rows[ys[0]] == rows[ys[4]] and rows[ys[1]] == rows[ys[5]]
    assert len(rows[ys[0]] | rows[ys[1]] | rows[ys[2]] | rows[ys[3]]) == 4


def test_underlay_runs_perpendicular_to_the_fill(dmc):
    index = np.full((4, 6), dmc.index_of("310"))
    pattern = Pattern(index, dmc, None, THREAD)

    def vertical_stitches(underlay: bool) -> int:
        plan = plan_embroidery(pattern, EmbroideryOptions(underlay=underlay))
        a, b = _stitch_segments(plan.units.astype(float), plan.cmds)
        d = b - a
        return int(((d[:, 0] == 0) & (np.abs(d[:, 1]) >= 10)).sum())

    assert vertical_stitches(True) >= 6 * 4  # full-height strokes in every cell column
    assert vertical_stitches(False) == 0


def test_cross_mode_sews_both_diagonals_of_every_cell(thread_pattern, tmp_path):
    report = export_embroidery(thread_pattern, tmp_path / "x.dst", EmbroideryOptions(mode="cross"))
    _, xy, cmd = _records(tmp_path / "x.dst")
    w, h = thread_pattern.width, thread_pattern.height
    a, b = _stitch_segments(xy / 10.0 + np.array([w * CELL / 2, h * CELL / 2]), cmd)
    d = b - a
    diag = np.isclose(np.abs(d[:, 0]), CELL) & np.isclose(np.abs(d[:, 1]), CELL)
    lo = np.minimum(a[diag], b[diag])
    falling = np.sign(d[diag, 0]) == np.sign(d[diag, 1])  # "\" diagonal
    cells = {(int(round(y / CELL)), int(round(x / CELL)), bool(f)) for (x, y), f in zip(lo, falling)}
    filled = {(y, x) for y in range(h) for x in range(w) if not thread_pattern.empty_mask[y, x]}
    assert {(y, x, f) for y, x in filled for f in (True, False)} <= cells
    assert {(y, x) for y, x, _ in cells} <= filled
    assert report.size_mm == pytest.approx((w * CELL, h * CELL), abs=0.11)


def test_cross_rows_turn_through_the_cell_centre_not_along_an_edge(dmc):
    index = np.full((1, 5), dmc.index_of("310"))
    plan = plan_embroidery(Pattern(index, dmc, None, THREAD), EmbroideryOptions(mode="cross", tie_stitches=False))
    a, b = _stitch_segments(plan.units.astype(float), plan.cmds)
    d = np.abs(b - a)
    moving = d.max(axis=1) > 0
    # 10 full diagonals (5 bottom legs out, 5 top legs back) and, between legs, two half diagonals through
    # the centre of the cell entered (out: 4, the turn and back: 5); the old zigzag (2 * 5 + 2) alternated
    # the top legs, which the issue asks to fix
    assert moving.sum() == 2 * 5 + 2 * (2 * 5 - 1)
    assert np.all(d[moving, 0] == d[moving, 1])  # every stitch lies on a diagonal


def test_cross_travel_between_rows_follows_the_diagonals(dmc):
    shape = np.zeros((6, 7), dtype=bool)
    shape[0, 0:6] = shape[1:5, 0:2] = shape[5, 0:7] = shape[2:4, 5] = True  # rows of different lengths
    shape[3, 5] = False
    index = np.where(shape, dmc.index_of("310"), dmc.index_of("3713"))
    pattern = Pattern(index, dmc, ~shape, THREAD)
    plan = plan_embroidery(pattern, EmbroideryOptions(mode="cross"))
    a, b = _stitch_segments(plan.units.astype(float), plan.cmds)
    d = np.abs(b - a)
    moving = d.max(axis=1) > 0
    assert np.all(np.abs(d[moving, 0] - d[moving, 1]) <= 1)  # on diagonals (ties included), no edge runs
    assert plan.report.travel_mm > 0


# ----------------------------------------------------------------------------- sizes, threads, hoops


def test_design_size_and_cell_size(thread_pattern, perler):
    plan = plan_embroidery(thread_pattern, EmbroideryOptions(design_mm=(90.0, 50.0)))
    assert plan.report.cell_mm == pytest.approx((5.0, 50.0 / 14))
    assert abs(plan.report.size_mm[0] - 90.0) <= 0.5 and abs(plan.report.size_mm[1] - 50.0) <= 0.5
    plan = plan_embroidery(thread_pattern, EmbroideryOptions(cell_mm=3.0, mode="cross"))
    assert plan.report.size_mm == pytest.approx((54.0, 42.0), abs=0.11)
    bead = Pattern(np.zeros((4, 5), dtype=int), perler)  # not a thread pattern: 2 mm cells by default
    assert plan_embroidery(bead).report.cell_mm == (2.0, 2.0)


def test_non_thread_palette_maps_to_nearest_thread_by_ciede2000(small_pattern, dmc):
    plan = plan_embroidery(small_pattern, EmbroideryOptions(thread_chart="dmc"))
    used = small_pattern.used_indices()
    de = ciede2000(small_pattern.palette.lab[used][:, None], dmc.lab[None])
    expected = {dmc[int(j)].code for j in np.argmin(de, axis=1)}
    assert {t.code for t in plan.threads} == expected
    assert all(t.brand == "DMC" for t in plan.threads)
    pec = plan_embroidery(small_pattern, EmbroideryOptions(thread_chart="brother_pec"))
    assert {t.brand for t in pec.threads} == {"Brother"}
    assert len(pec.threads) <= len(used)
    with pytest.raises(ExportError, match="not a thread chart"):
        plan_embroidery(small_pattern, EmbroideryOptions(thread_chart="perler"))


def test_colours_mapped_to_one_thread_share_one_colour_block(dmc):
    pal = Palette("two reds", (PaletteColor("a", "red a", (200, 30, 40)), PaletteColor("b", "red b", (201, 31, 40))))
    index = np.zeros((4, 4), dtype=int)
    index[:, 2:] = 1
    plan = plan_embroidery(Pattern(index, pal), EmbroideryOptions())
    assert len(plan.threads) == 1 and plan.report.color_changes == 0


def test_hoops_are_data_and_designs_are_checked_against_them(thread_pattern, tmp_path):
    assert {"100x100", "130x180", "200x200", "240x150", "360x200"} <= set(HOOPS)
    assert parse_hoop("130×180 mm").width_mm == 130
    assert smallest_fitting_hoop(90, 90).name == "100x100"
    big = EmbroideryOptions(cell_mm=8.0, hoop="100x100")  # 144 x 112 mm
    report = export_embroidery(thread_pattern, tmp_path / "a.dst", big)
    assert any("does not fit hoop 100x100" in w for w in report.warnings)
    out = tmp_path / "b.dst"
    with pytest.raises(ExportError, match="does not fit"):
        export_embroidery(thread_pattern, out, EmbroideryOptions(cell_mm=8.0, hoop="100x100", strict_hoop=True))
    assert not out.exists()
    rotated = plan_embroidery(thread_pattern, EmbroideryOptions(cell_mm=5.0, hoop="130x180",
                                                                thread_chart="pattern"))  # 90 x 70 fits
    assert rotated.report.hoop == "130x180" and not rotated.report.warnings
    with pytest.raises(ExportError, match="hoop size must look like WIDTHxHEIGHT"):
        plan_embroidery(thread_pattern, EmbroideryOptions(hoop="huge"))


# ----------------------------------------------------------------------------- errors and atomic writes


def test_too_many_colour_changes_for_pes_is_refused_without_a_file(tmp_path):
    colors = tuple(PaletteColor(str(i), f"t{i}", (i % 256, (i * 7) % 256, (i * 13) % 256)) for i in range(300))
    pal = Palette("many threads", colors, medium=THREAD)
    pattern = Pattern(np.arange(300).reshape(15, 20), pal, None, THREAD)
    out = tmp_path / "many.pes"
    with pytest.raises(ExportError, match="at most 255 colour changes"):
        export_embroidery(pattern, out, OWN)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    report = export_embroidery(pattern, tmp_path / "many.dst", EmbroideryOptions(mode="cross", thread_chart="pattern"))
    assert report.color_changes == 299


def test_unwritable_path_and_bad_options_give_export_errors(tmp_path, thread_pattern):
    with pytest.raises(ExportError, match="does not exist"):
        export_embroidery(thread_pattern, tmp_path / "missing" / "x.dst")
    with pytest.raises(ExportError, match="cannot tell the embroidery format"):
        export_embroidery(thread_pattern, tmp_path / "x.txt")
    with pytest.raises(ExportError, match="row spacing"):
        plan_embroidery(thread_pattern, EmbroideryOptions(row_spacing_mm=5.0))
    with pytest.raises(ExportError, match="longest stitch must be between"):
        plan_embroidery(thread_pattern, EmbroideryOptions(max_stitch_mm=20.0))
    with pytest.raises(ExportError, match="stitch mode"):
        plan_embroidery(thread_pattern, EmbroideryOptions(mode="satin"))
    blank = Pattern(np.zeros((3, 3), dtype=int), thread_pattern.palette, np.ones((3, 3), dtype=bool), THREAD)
    with pytest.raises(ExportError, match="no filled cells"):
        export_embroidery(blank, tmp_path / "blank.pes")
    assert list(tmp_path.iterdir()) == []


def test_a_failing_writer_leaves_the_old_file_and_no_partial_file(tmp_path, thread_pattern, monkeypatch):
    out = tmp_path / "keep.pes"
    out.write_bytes(b"old design")

    def broken(*args, **kwargs):  # PES is written by the vectorised writer now (not pe.PesWriter)
        raise OSError("disk full")

    monkeypatch.setattr(writers, "pes_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        export_embroidery(thread_pattern, out)
    assert out.read_bytes() == b"old design"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pes"]


def test_cancel_stops_the_build(thread_pattern):
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append(p.step)
        token.cancel()

    with pytest.raises(Cancelled):
        plan_embroidery(thread_pattern, EmbroideryOptions(), progress=progress, cancel=token)
    assert seen == [1]


# ----------------------------------------------------------------------------- report, preview, CLI


def test_report_counts_and_sewing_time(thread_pattern):
    plan = plan_embroidery(thread_pattern, EmbroideryOptions())
    e, report = plan.to_emb_pattern(), plan.report
    _, xy, cmd = _records(e)
    assert report.trims == (cmd == pe.TRIM).sum()
    assert report.jump_records == (cmd == pe.JUMP).sum()
    assert sum(report.stitches_per_thread) == report.stitch_count
    t = SEWING_TIME
    expected = ((report.stitch_count + report.jump_records) / t.stitches_per_minute
                + report.trims * t.trim_seconds / 60 + report.color_changes * t.color_change_seconds / 60)
    assert report.estimated_minutes == pytest.approx(expected, abs=0.06)
    assert "stitches" in report.summary()


def test_stitch_preview_png_is_drawn_from_the_stitches(tmp_path, thread_pattern):
    out = render_stitch_preview(thread_pattern, tmp_path / "p.png", OWN, px_per_mm=4, legend=False)
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    w_mm, h_mm = thread_pattern.width * CELL, thread_pattern.height * CELL
    assert abs(img.shape[1] - (w_mm + 4) * 4) <= 6 and abs(img.shape[0] - (h_mm + 4) * 4) <= 6
    flat = img.reshape(-1, 3)
    for code in ("321", "310"):
        rgb = np.array(thread_pattern.palette[thread_pattern.palette.index_of(code)].rgb)
        assert (np.abs(flat - rgb).sum(axis=1) < 10).mean() > 0.02
    # the empty top-left corner shows fabric
    assert tuple(img[10, 10]) == FABRIC_RGB
    # a file read back draws the same way
    export_embroidery(thread_pattern, tmp_path / "p.pes", OWN)
    again = np.asarray(emb.draw_stitches(pe.read(str(tmp_path / "p.pes")), px_per_mm=4)).astype(int)
    assert again.shape == img.shape
    assert (np.abs(again - img).sum(axis=2) > 30).mean() < 0.02


def test_cli_export_writes_files_and_reports_bad_options(tmp_path, thread_pattern, capsys):
    from main import main

    pixl = thread_pattern.save(tmp_path / "d.pixl")
    out = tmp_path / "d.dst"
    assert main(["export", str(pixl), "--format", "dst", "--out", str(out), "--cell-mm", "2.5",
                 "--stitch-mode", "cross"]) == 0
    read = pe.read(str(out))
    lo_x, lo_y, hi_x, hi_y = read.bounds()
    assert math.isclose(hi_x - lo_x, 18 * 25, abs_tol=2)
    png = tmp_path / "d.png"
    assert main(["export", str(pixl), "--format", "stitch-png", "--out", str(png), "--no-underlay"]) == 0
    assert Image.open(png).size[0] > 100
    assert main(["export", str(pixl), "--format", "pes", "--out", str(tmp_path / "e.pes"),
                 "--row-spacing", "9"]) == 2
    assert "row spacing" in capsys.readouterr().err
    assert not (tmp_path / "e.pes").exists()
