"""Machine files as a machine reads them: every written format is read back (pyembroidery, and pystitch as a
second reader) and checked for the longest sewn stitch, for moves encoded the way the format expects, for
trims that match the report one for one, and (cross stitch) for the top leg being the last thread over
every cell."""

from __future__ import annotations

import numpy as np
import pyembroidery as pe
import pytest

from exporters.embroidery.export import (
    FORMAT_MAX_STEP,
    MACHINE_FORMATS,
    EmbroideryOptions,
    export_embroidery,
    plan_embroidery,
    report_from_file,
    write_plan,
)
from tests.embroidery_helpers import (
    cells_not_ending_on_top_leg,
    logo_pattern,
    read_records,
    sewn_segments,
    vp3_stitch_records,
)

MODES = ("fill", "cross")
JEF_TRIM_JUMPS = 3  # a JEF trim is three zero-length jumps (Janome machines trim at three jumps in a row)


@pytest.fixture(scope="module")
def logo():
    return logo_pattern(40)


def _readers():
    out = [pe]
    try:
        import pystitch
    except ImportError:  # pragma: no cover - pystitch is a test dependency
        return out
    return out + [pystitch]


def _read(path, fmt, reader=pe):
    return read_records(path, reader, **({"trims": True} if fmt == "jef" and reader is pe else {}))


@pytest.mark.parametrize("mode, cell, longest", [("fill", None, 3.0), ("cross", None, 3.0), ("fill", 8.0, 12.0),
                                                  ("cross", 9.0, 12.0)])
@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
def test_no_sewn_stitch_is_longer_than_the_limit(tmp_path, logo, fmt, mode, cell, longest):
    options = EmbroideryOptions(mode=mode, cell_mm=cell, max_stitch_mm=longest)
    out = tmp_path / f"logo.{fmt}"
    export_embroidery(logo, out, options)
    for reader in _readers():
        xy, cmd = _read(out, fmt, reader)
        a, b = sewn_segments(xy, cmd, reader.STITCH)
        assert a.size
        longest = float(np.hypot(*(b - a).T).max())
        assert longest <= options.max_stitch_mm * 10 + 1.0, (reader.__name__, longest)
        assert np.abs(b - a).max() <= FORMAT_MAX_STEP[fmt]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
def test_the_file_sews_exactly_the_planned_stitches(tmp_path, logo, fmt, mode):
    """No move of the plan (a jump, with or without a trim) becomes a sewn stitch in the file."""
    plan = plan_embroidery(logo, EmbroideryOptions(mode=mode, target_format=fmt))
    out = write_plan(plan, tmp_path / f"logo.{fmt}", fmt)
    want_a, want_b = sewn_segments(plan.units.astype(np.float64), plan.cmds)
    for reader in _readers():
        xy, cmd = _read(out, fmt, reader)
        a, b = sewn_segments(xy, cmd, reader.STITCH)
        if fmt == "pes" and reader is not pe:  # pystitch places PES designs by the header's hoop translation
            shift = want_a[0] - a[0]
            a, b = a + shift, b + shift
        assert len(a) == len(want_a), reader.__name__
        assert np.array_equal(a, want_a) and np.array_equal(b, want_b), reader.__name__


@pytest.mark.parametrize("mode", MODES)
def test_vp3_moves_follow_a_trim_and_use_the_long_form(tmp_path, logo, mode):
    """VP3 has no jump record: a move is the 0x80 0x01 long form after a trim (or at a colour block's start),
    and every 2-byte record is a sewn stitch within the limit."""
    options = EmbroideryOptions(mode=mode)
    out = tmp_path / "logo.vp3"
    report = export_embroidery(logo, out, options)
    blocks = vp3_stitch_records(out)
    assert len(blocks) == len(report.threads)
    moves = 0
    for recs in blocks:
        after_trim = True  # a block starts where the previous one was trimmed
        for kind, dx, dy in recs:
            if kind == "trim":
                after_trim = True
                continue
            if after_trim:
                assert kind == "long", recs[:8]
                moves += 1
            else:
                assert kind == "short"
                assert np.hypot(dx, dy) <= options.max_stitch_mm * 10 + 1.0
            after_trim = False
    assert moves >= report.trims > 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
def test_trims_in_the_file_equal_the_report(tmp_path, logo, fmt, mode):
    """Trims read back equal the report's, trim for trim. DST has no trim command: a trim is a run of three
    jumps (readers and machines count a run of 3+ jumps as a trim), so no untrimmed move may take 3 jump
    records. JEF trims are three zero-length jumps: pyembroidery (trims=True) counts the run as one trim,
    pystitch counts each zero-length jump as one."""
    out = tmp_path / f"logo.{fmt}"
    report = export_embroidery(logo, out, EmbroideryOptions(mode=mode))
    assert report.trims > 0
    for reader in _readers():
        _, cmd = _read(out, fmt, reader)
        trims = int((cmd == reader.TRIM).sum())
        if fmt == "jef" and reader is not pe:
            assert trims == JEF_TRIM_JUMPS * report.trims
        else:
            assert trims == report.trims, reader.__name__


def test_report_counts_equal_the_counts_read_from_each_file(tmp_path, logo):
    """One counting for the report of an export and for a file read back."""
    for fmt in MACHINE_FORMATS:
        out = tmp_path / f"logo.{fmt}"
        report = export_embroidery(logo, out)
        again = report_from_file(out)
        assert (again.stitch_count, again.trims, again.color_changes) == (
            report.stitch_count, report.trims, report.color_changes), fmt
        assert again.size_mm == pytest.approx(report.size_mm, abs=0.051)


@pytest.mark.parametrize("repeats", [1, 3])
def test_the_top_leg_is_the_last_thread_over_every_cell(tmp_path, logo, repeats):
    out = tmp_path / "logo.dst"
    report = export_embroidery(logo, out, EmbroideryOptions(mode="cross", cross_repeats=repeats))
    xy, cmd = read_records(out)
    cw, ch = report.cell_mm
    origin = np.array([logo.width * cw / 2, logo.height * ch / 2])
    covered, bad = cells_not_ending_on_top_leg(xy / 10.0 + origin, cmd, logo.width, logo.height, cw, ch)
    assert covered == int((~logo.empty_mask).sum())
    assert bad == []
