"""Embroidery report, thread charts, cross-stitch leg direction and fill quality, checked on files read back."""

from __future__ import annotations

import argparse

import numpy as np
import pyembroidery as pe
import pytest

from engine.core.color import ciede2000, srgb8_to_lab
from engine.core.medium import THREAD
from engine.core.palette import Palette, PaletteColor
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern
from exporters.common.optspec import add_arguments, from_args, option_specs
from exporters.embroidery import export as emb
from exporters.embroidery.export import (
    MACHINE_FORMATS,
    EmbroideryOptions,
    export_embroidery,
    plan_embroidery,
)
from exporters.embroidery.planner import LIGHTER_L, merge_tiny_regions
from exporters.embroidery.report import SEWING_TIME, report_from_file

CELL = 2.0


@pytest.fixture(scope="module")
def design(dmc):
    """24 x 20 DMC design: a light background, a dark disc, a mid bar, and single-cell specks."""
    yy, xx = np.mgrid[:20, :24]
    index = np.full((20, 24), dmc.index_of("3713"), dtype=np.int64)  # very light salmon
    index[(yy - 9) ** 2 + (xx - 10) ** 2 < 30] = dmc.index_of("310")  # black disc
    index[14:17, 3:20] = dmc.index_of("321")  # red bar
    index[[2, 3, 17, 5], [20, 2, 22, 18]] = dmc.index_of("797")  # isolated blue specks
    empty = np.zeros((20, 24), dtype=bool)
    empty[0, :4] = True
    return Pattern(index, dmc, empty, THREAD)


def _read(path, **settings):
    p = pe.read(str(path), settings or None)
    st = np.asarray(p.stitches, dtype=np.float64).reshape(-1, 3)
    return p, st[:, :2], st[:, 2].astype(np.int64) & pe.COMMAND_MASK


def _segments(xy, cmd):
    s = np.flatnonzero((cmd[1:] == pe.STITCH) & (cmd[:-1] == pe.STITCH)) + 1
    return xy[s - 1], xy[s], s


# ----------------------------------------------------------------------------- report


@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
def test_report_figures_equal_the_file_read_back(tmp_path, design, fmt):
    out = tmp_path / f"d.{fmt}"
    report = export_embroidery(design, out)
    read, xy, cmd = _read(out, trims=True) if fmt == "jef" else _read(out)
    assert report.stitch_count == (cmd == pe.STITCH).sum() > 0
    assert report.color_changes == (cmd == pe.COLOR_CHANGE).sum() == read.count_color_changes()
    pts = xy[cmd == pe.STITCH]
    span = (pts.max(axis=0) - pts.min(axis=0)) / 10.0
    assert report.size_mm == pytest.approx(tuple(span), abs=0.051)
    assert report.trims == (cmd == pe.TRIM).sum()  # trim for trim, in every format
    if fmt in ("dst", "exp", "jef"):
        assert report.jump_records == (cmd == pe.JUMP).sum()
    if fmt == "pes":  # a trim with no move after it (before a colour change) is a zero-length trim-jump
        moved = np.any(xy != np.vstack([np.zeros((1, 2)), xy[:-1]]), axis=1)
        assert report.jump_records == ((cmd == pe.JUMP) & moved).sum()
    assert sum(report.stitches_per_thread) == report.stitch_count
    expected = SEWING_TIME.minutes(report.stitch_count, report.jump_records, report.trims,
                                       report.color_changes, report.stitches_per_minute)
    assert report.estimated_minutes == pytest.approx(expected, abs=0.06)


def test_cli_summary_and_the_export_result(tmp_path, design, capsys):
    from main import main

    pixl = design.save(tmp_path / "d.pixl")
    out = tmp_path / "d.pes"
    assert main(["export", str(pixl), "--format", "pes", "--out", str(out), "--sewing-speed", "800",
                 "--hoop", "100x100"]) == 0
    printed = capsys.readouterr().out
    read, _, cmd = _read(out)
    n = int((cmd == pe.STITCH).sum())
    assert f"{n:,} stitches" in printed
    assert f"{read.count_color_changes()} colour changes" in printed
    assert "at 800 stitches/min" in printed and "hoop 100x100: fits" in printed
    assert "smaller than 20 mm²" in printed  # the specks are warned about
    # the same through the exporter interface: an ExportResult, warnings apart from the report lines
    result = emb.export(design, "pes", tmp_path / "e.pes", EmbroideryOptions(hoop="100x100"))
    assert result.files == [tmp_path / "e.pes"]
    assert result.report[0].startswith(f"{n:,} stitches")
    assert any("design size" in line and "mm" in line for line in result.report)
    assert any("smaller than 20 mm²" in w for w in result.warnings)
    assert not any("warning" in line or "smaller than" in line for line in result.report)
    for w in result.warnings:
        assert f"warning: {w}" in printed
    # a file written elsewhere: its counts read back
    again = report_from_file(tmp_path / "e.pes")
    assert again.lines()[0].startswith(f"{n:,} stitches")


def test_warnings_for_tiny_fills_many_colour_changes_and_hoop(design):
    report = plan_embroidery(design, EmbroideryOptions(max_color_changes=2, hoop="40x40")).report
    text = " | ".join(report.warnings)
    assert "4 fill regions are smaller than 20 mm²" in text
    assert "3 colour changes (more than 2)" in text
    assert "does not fit hoop 40x40" in text and report.hoop_fits is False
    ok = plan_embroidery(design, EmbroideryOptions(max_color_changes=12)).report
    assert not any("colour changes" in w for w in ok.warnings)


def test_merge_tiny_regions_gives_specks_a_neighbours_colour(design):
    plan = plan_embroidery(design, EmbroideryOptions(merge_tiny=True))
    r = plan.report
    assert r.merged_regions == 4 and r.merged_cells == 4
    assert len(plan.threads) == 3 and r.tiny_regions == 0  # the blue specks are gone
    assert not any("smaller than" in w for w in r.warnings)
    assert any("merged 4 tiny regions" in line for line in r.lines())
    # the map itself: a speck takes the colour around it; a region that is not tiny stays
    tm = np.where(design.empty_mask, -1, 0)
    tm[5:9, 5:9] = 1
    tm[2, 2] = 2
    tm[12, 12] = 1
    new, merged, cells = merge_tiny_regions(tm, 2)
    assert merged == 2 and cells == 2 and new[2, 2] == 0 and new[12, 12] == 0
    assert (new[5:9, 5:9] == 1).all()
    # tiny regions never merge into each other (two tiny halves would only swap colours)
    halves = np.zeros((2, 4), dtype=np.int64)
    halves[:, 2:] = 1
    same, merged, cells = merge_tiny_regions(halves, 5)
    assert merged == 0 and cells == 0 and np.array_equal(same, halves)


def test_fill_travel_never_passes_under_a_lighter_colour(design):
    plan = plan_embroidery(design, EmbroideryOptions(thread_chart="pattern"))
    assert plan.report.travel_under_lighter_mm == 0
    w, h = design.width, design.height
    xy = plan.units / 10.0 + np.array([w * CELL / 2, h * CELL / 2])
    block = np.cumsum(plan.cmds == pe.COLOR_CHANGE)
    light = srgb8_to_lab(np.array([t.rgb for t in plan.threads], dtype=float))[:, 0]
    code_block = {t.code: k for k, t in enumerate(plan.threads)}
    cell_block = np.full((h, w), -1)
    for y in range(h):
        for x in range(w):
            c = design.get_cell(y, x)
            if c is not None:
                cell_block[y, x] = code_block[design.palette[c].code]
    a, b, s = _segments(xy, plan.cmds)
    mid = (a + b) / 2
    frac = (mid / CELL) % 1.0
    inner = np.all((frac > 0.15) & (frac < 0.85), axis=1)
    r = np.clip((mid[inner, 1] // CELL).astype(int), 0, h - 1)
    c = np.clip((mid[inner, 0] // CELL).astype(int), 0, w - 1)
    owner, sewing = cell_block[r, c], block[s][inner]
    foreign = owner != sewing
    assert np.all(owner[foreign] > sewing[foreign])  # only under colours sewn later
    assert np.all(light[owner[foreign]] <= light[sewing[foreign]] + LIGHTER_L)  # and not lighter


# ----------------------------------------------------------------------------- threads


def test_machine_formats_default_to_machine_thread_charts(tmp_path, design):
    pes = export_embroidery(design, tmp_path / "d.pes")
    assert {t.brand for t in pes.threads} == {"Brother"} and pes.chart == "Brother PEC 64"
    read = pe.read(str(tmp_path / "d.pes"))
    assert [t.hex_color().upper() for t in read.threadlist] == [t.hex for t in pes.threads]
    vp3 = export_embroidery(design, tmp_path / "d.vp3")
    assert {t.brand for t in vp3.threads} == {"Pfaff"}
    own = export_embroidery(design, tmp_path / "o.pes", EmbroideryOptions(thread_chart="pattern"))
    assert {t.brand for t in own.threads} == {"DMC"}


def test_jef_maps_distinct_threads_to_distinct_janome_colours(tmp_path, dmc):
    # DMC 919 and 301 both have Janome 254 "Hazel" as their nearest colour
    codes = ["919", "301", "310", "3713", "797", "702", "444", "321"]
    index = np.repeat(np.arange(len(codes)), 3)[None, :].repeat(3, axis=0)
    pal = dmc.subset([dmc.index_of(c) for c in codes], name="DMC 8")
    pattern = Pattern(index, pal, None, THREAD)
    jef = load_palette("janome_jef")
    nearest = np.argmin(ciede2000(pal.lab[:, None], jef.lab[None]), axis=1)
    assert nearest[pal.index_of("919")] == nearest[pal.index_of("301")]  # independent nearest would collapse them
    report = export_embroidery(pattern, tmp_path / "d.jef")
    assert report.thread_match == "distinct" and {t.brand for t in report.threads} == {"Janome"}
    assert len({t.code for t in report.threads}) == len(codes) == len(report.threads)
    assert not report.collapsed
    read = pe.read(str(tmp_path / "d.jef"))
    assert len({t.hex_color() for t in read.threadlist}) == len(codes)
    # optimal: no other one-to-one assignment has a smaller total CIEDE2000
    from scipy.optimize import linear_sum_assignment

    cost = ciede2000(pal.lab[:, None], jef.lab[None])
    rows, cols = linear_sum_assignment(cost)
    chosen = {t.code for t in report.threads}
    assert chosen == {jef[int(j)].code for j in cols}
    # nearest matching collapses and says which pairs
    near = plan_embroidery(pattern, EmbroideryOptions(target_format="jef", thread_match="nearest")).report
    assert near.collapsed and any({a.split()[0], b.split()[0]} == {"919", "301"} for a, b, _ in near.collapsed)
    assert any("1 pair of pattern colours shares one Janome (JEF) thread" in w for w in near.warnings)


def test_jef_warns_with_the_pairs_when_janome_has_too_few_colours(tmp_path):
    rng = np.random.default_rng(1)
    colors = tuple(PaletteColor(f"c{i}", f"colour {i}", tuple(int(v) for v in rng.integers(0, 256, 3)))
                   for i in range(90))
    pal = Palette("90 colours", colors, medium=THREAD)
    pattern = Pattern(np.arange(90).reshape(9, 10), pal, None, THREAD)
    report = export_embroidery(pattern, tmp_path / "d.jef", EmbroideryOptions(thread_chart="auto", mode="cross"))
    assert 50 < len(report.threads) <= 78  # Janome colours used once each as far as they go (and stay close)
    assert len(report.collapsed) == 90 - len(report.threads)  # every colour beyond is named in a pair
    assert any("pairs of pattern colours share one Janome (JEF) thread" in w for w in report.warnings)


# ----------------------------------------------------------------------------- cross stitch


def _cross_legs(xy, cmd, cell):
    """For each cell: the direction ('/' or '\\') of each full-diagonal stitch, in sewing order."""
    a, b, _ = _segments(xy, cmd)
    d = b - a
    on_corner = np.all(np.isclose(a / cell, np.round(a / cell), atol=0.03), axis=1)
    full = (np.isclose(np.abs(d[:, 0]), cell, atol=0.11) & np.isclose(np.abs(d[:, 1]), cell, atol=0.11)
            & on_corner)  # a cell's diagonal, corner to corner (not centre-to-centre travel)
    lo = np.minimum(a[full], b[full])
    legs: dict[tuple[int, int], list[str]] = {}
    for (x, y), (dx, dy) in zip(lo, d[full]):
        legs.setdefault((int(round(y / cell)), int(round(x / cell))), []).append("\\" if dx * dy > 0 else "/")
    return legs


@pytest.mark.parametrize("repeats", [1, 3])
def test_every_cross_has_its_top_leg_in_one_direction(tmp_path, design, repeats):
    out = tmp_path / "x.dst"
    export_embroidery(design, out, EmbroideryOptions(mode="cross", cross_repeats=repeats))
    _, xy, cmd = _read(out)
    w, h = design.width, design.height
    legs = _cross_legs(xy / 10.0 + np.array([w * CELL / 2, h * CELL / 2]), cmd, CELL)
    filled = {(y, x) for y in range(h) for x in range(w) if not design.empty_mask[y, x]}
    assert set(legs) == filled
    for cell, seq in legs.items():
        assert seq[-1] == "/", cell  # the top leg, sewn last, always "/"
        first_top = seq.index("/")
        assert seq[first_top:] == ["/"] * repeats, cell  # nothing crosses over the top leg afterwards
        assert seq[:first_top].count("\\") >= repeats, cell  # (travel to a cell may run along its "\\" first)
    # every stitch lies on a cell diagonal (no edge runs): travel and turns included
    a, b, _ = _segments(xy, cmd)
    d = np.abs(b - a)
    moving = d.max(axis=1) > 0
    assert np.all(np.abs(d[moving, 0] - d[moving, 1]) <= 1)


# ----------------------------------------------------------------------------- fill quality


def _tatami_rows(plan, block_id):
    """y (0.1 mm) of every horizontal tatami stitch of one colour block."""
    block = np.cumsum(plan.cmds == pe.COLOR_CHANGE)
    a, b, s = _segments(plan.units.astype(float), plan.cmds)
    horiz = (a[:, 1] == b[:, 1]) & (np.abs(b[:, 0] - a[:, 0]) >= 5) & (block[s] == block_id)
    return a[horiz], b[horiz]


# spacings whose rows fall on the files' 0.1 mm grid (others are rounded to it by every format)
@pytest.mark.parametrize("spacing", [0.4, 0.6])
def test_row_spacing_is_even_everywhere_in_a_fill(design, spacing):
    # the tatami layer alone (the underlay is a separate, sparser layer)
    plan = plan_embroidery(design, EmbroideryOptions(row_spacing_mm=spacing, underlay=False))
    for k in range(len(plan.threads)):
        a, b = _tatami_rows(plan, k)
        # at every column position, the rows covering it are spacing apart (within 5 %), or a gap between regions
        xs = np.arange(a[:, 0].min() if len(a) else 0, (b[:, 0].max() if len(b) else 0), 5.0)
        lo, hi = np.minimum(a[:, 0], b[:, 0]), np.maximum(a[:, 0], b[:, 0])
        # travel between pieces of a region runs along cell centre lines; at spacings whose rows miss those
        # lines, leave them out (they are running stitches, not tatami rows)
        centre = np.isclose(((a[:, 1] / 10.0 + design.height * CELL / 2) / CELL) % 1.0, 0.5)
        if not np.isclose(((CELL / 2) / spacing - 0.5) % 1.0, 0.0):
            a, b, lo, hi = a[~centre], b[~centre], lo[~centre], hi[~centre]
        for x in xs:
            ys = np.unique(a[(lo <= x) & (hi >= x), 1])
            gaps = np.diff(ys) / 10.0
            near = gaps[gaps < 2 * spacing]
            assert np.all(np.abs(near - spacing) <= 0.05 * spacing + 0.051), (k, x, near)


def test_no_stitch_shorter_than_the_minimum_in_the_file(tmp_path, design):
    for min_mm, mode in ((0.3, "fill"), (0.5, "fill"), (0.3, "cross")):
        out = tmp_path / f"m{min_mm}{mode}.pes"
        export_embroidery(design, out, EmbroideryOptions(min_stitch_mm=min_mm, mode=mode))
        _, xy, cmd = _read(out)
        a, b, _ = _segments(xy, cmd)
        length = np.hypot(*(b - a).T) / 10.0
        assert length.min() >= min_mm - 0.01, (min_mm, mode, length.min())
        assert length.max() <= 3.0 + 0.15


def test_pull_compensation_reaches_past_outer_edges_only(dmc):
    index = np.full((4, 10), dmc.index_of("310"))
    pattern = Pattern(index, dmc, None, THREAD)
    for pc in (0.0, 0.3):
        plan = plan_embroidery(pattern, EmbroideryOptions(pull_compensation_mm=pc, underlay=False,
                                                          tie_stitches=False))
        xs = plan.units[plan.cmds == pe.STITCH, 0] / 10.0
        assert xs.max() - xs.min() == pytest.approx(20.0 + 2 * pc, abs=0.11)


def test_fill_angle_90_sews_vertical_rows(dmc):
    index = np.full((5, 8), dmc.index_of("310"))
    pattern = Pattern(index, dmc, None, THREAD)

    def count(angle):
        plan = plan_embroidery(pattern, EmbroideryOptions(fill_angle=angle, underlay=False, tie_stitches=False))
        a, b, _ = _segments(plan.units.astype(float), plan.cmds)
        d = np.abs(b - a)
        return int(((d[:, 1] == 0) & (d[:, 0] >= 10)).sum()), int(((d[:, 0] == 0) & (d[:, 1] >= 10)).sum()), plan

    h0, v0, p0 = count(0)
    h90, v90, p90 = count(90)
    assert h0 > 20 and v0 == 0 and v90 > 20 and h90 == 0
    # rows end 0.2 mm past the outer edges (pull compensation) along their direction, and lie half a row
    # spacing inside the edges across it
    assert p0.report.size_mm == pytest.approx((16.4, 9.6), abs=0.11)
    assert p90.report.size_mm == pytest.approx((15.6, 10.4), abs=0.11)


# ----------------------------------------------------------------------------- preview


def test_preview_pixels_match_a_direct_rasterisation_of_the_stitches(tmp_path, dmc):
    from PIL import Image

    from exporters.embroidery import preview as pv

    index = np.full((6, 8), dmc.index_of("3713"))
    index[1:5, 2:6] = dmc.index_of("310")
    index[2, 7] = dmc.index_of("797")
    pattern = Pattern(index, dmc, None, THREAD)
    opts = EmbroideryOptions(thread_chart="pattern")
    ppm = 4.0
    out = emb.render_stitch_preview(pattern, tmp_path / "p.png", opts, px_per_mm=ppm, legend=False)
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    # the same stitches as the machine file, read back
    export_embroidery(pattern, tmp_path / "p.pes", opts)
    read, xy, cmd = _read(tmp_path / "p.pes")
    colors = np.array([[t.get_red(), t.get_green(), t.get_blue()] for t in read.threadlist])
    stitch = cmd == pe.STITCH
    lo = xy[stitch].min(axis=0) / 10.0 - 2.0
    px = (xy / 10.0 - lo) * ppm
    block = np.cumsum(cmd == pe.COLOR_CHANGE)
    segs = [(px[i - 1] if i and cmd[i - 1] in (pe.STITCH, pe.JUMP) else px[i], px[i], block[i])
            for i in np.flatnonzero(stitch)]
    # brute force, pixel by pixel: the last stitch within half a thread width of the pixel centre
    h, w = img.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    c = np.stack([xx + 0.5, yy + 0.5], axis=-1).reshape(-1, 2)
    hw = pv.THREAD_WIDTH_MM * ppm / 2
    sure = np.full(c.shape[0], -1)
    maybe = np.full(c.shape[0], -1)
    for a, b, k in segs:
        d = b - a
        ll = float(d @ d)
        t = np.clip(((c - a) @ d) / ll, 0, 1) if ll > 0 else np.zeros(len(c))
        dist = np.hypot(*(a + t[:, None] * d - c).T)
        maybe[dist <= hw + 0.01] = k
        sure[dist <= hw - 0.01] = k
    flat = img.reshape(-1, 3)
    clear = (sure == maybe)  # pixels not on the very edge of a thread
    assert clear.mean() > 0.95
    fabric = clear & (sure < 0)
    assert np.all(flat[fabric] == np.array(pv.FABRIC_RGB))
    thread = clear & (sure >= 0)
    assert thread.sum() > 0.3 * len(flat)
    assert np.all(flat[thread] == colors[sure[thread]])
    # no fabric shows inside a fill (no dashes between rows): the dark square's inner part is all thread
    inner = img[int((2 * 1 + 2 + 0.5) * ppm):int((2 * 5 + 2 - 0.5) * ppm), int((2 * 2 + 2 + 0.5) * ppm):
                int((2 * 6 + 2 - 0.5) * ppm)].reshape(-1, 3)
    assert np.all(inner == colors[1])


def test_preview_has_a_thread_legend(tmp_path, design):
    from PIL import Image

    plain = Image.open(emb.render_stitch_preview(design, tmp_path / "a.png", px_per_mm=4, legend=False))
    full = Image.open(emb.render_stitch_preview(design, tmp_path / "b.png", px_per_mm=4))
    assert full.height >= plain.height + 18 * 5  # a title line and one row per thread
    arr = np.asarray(full.convert("RGB")).astype(int)
    legend = arr[plain.height:]
    plan = plan_embroidery(design, EmbroideryOptions(target_format="stitch-png"))
    for t in plan.threads:  # each thread's swatch appears in the legend
        assert (np.abs(legend - np.array(t.rgb)).sum(axis=2) == 0).sum() >= 100, t


# ----------------------------------------------------------------------------- options (CLI and the export dialog)


def test_every_embroidery_option_is_declared_for_the_dialog_and_reaches_the_options():
    specs = option_specs(EmbroideryOptions)
    for spec in specs:  # plain words, explicit formats: every embroidery format
        assert spec.label and spec.help and "--" not in spec.label + spec.help, spec.name
        assert set(spec.formats) == set(emb.FORMATS), spec.name
    parser = argparse.ArgumentParser()
    add_arguments(parser, EmbroideryOptions)
    args = parser.parse_args(["--thread-chart", "janome_jef", "--thread-match", "nearest", "--fill-angle", "90",
                              "--pull-comp", "0.3", "--min-stitch", "0.4", "--cross-repeats", "3", "--merge-tiny",
                              "--min-fill-mm2", "12", "--max-color-changes", "5", "--sewing-speed", "800",
                              "--design-mm", "12 cm × 9", "--no-underlay"])
    o = from_args(EmbroideryOptions, args)
    assert (o.thread_chart, o.thread_match, o.fill_angle, o.pull_compensation_mm, o.min_stitch_mm, o.cross_repeats,
            o.merge_tiny, o.min_fill_mm2, o.max_color_changes, o.stitches_per_minute, o.design_mm, o.underlay) == (
        "janome_jef", "nearest", 90, 0.3, 0.4, 3, True, 12.0, 5, 800.0, (120.0, 90.0), False)
    assert from_args(EmbroideryOptions, parser.parse_args([])) == EmbroideryOptions()  # the defaults are one
    with pytest.raises(SystemExit):
        parser.parse_args(["--fill-angle", "45"])
