"""The vectorised EXP/JEF/PES/VP3 (and DST) writers against pyembroidery's writers on the same stitch lists.

EXP and JEF are byte-for-byte pyembroidery's. PES and VP3 differ where pyembroidery's writers encode what the plan
does not ask for (PEC: a trim flag on every jump; VP3: short moves as sewn stitches, see ``formats``): there the
stitches, colour changes and threads read back must still be the same."""

from __future__ import annotations

import io

import numpy as np
import pyembroidery as pe
import pytest

from engine.core.medium import THREAD
from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern
from exporters.embroidery import writers
from exporters.embroidery.options import EmbroideryOptions
from exporters.embroidery.output import write_plan
from exporters.embroidery.plan import emb_thread
from exporters.embroidery.planner import plan_embroidery

DATE = "20260101120000"
PYEMB = {"exp": (pe.ExpWriter, {}), "jef": (pe.JefWriter, {"trims": True, "date": DATE}),
         "pes": (pe.PesWriter, {"version": "6"}), "vp3": (pe.Vp3Writer, {})}


@pytest.fixture(scope="module")
def plans():
    dmc = load_palette("dmc")
    rng = np.random.default_rng(5)
    codes = [dmc.index_of(c) for c in ("310", "321", "3713", "797", "702", "444")]
    index = np.array(codes)[rng.integers(0, 6, size=(16, 22))]
    index[3:13, 4:16] = codes[0]
    empty = np.zeros(index.shape, dtype=bool)
    empty[:2, :5] = True
    pattern = Pattern(index, dmc, empty, THREAD, metadata={"name": "writer, test"})
    return [plan_embroidery(pattern, EmbroideryOptions(mode=m, target_format=f, cell_mm=c, max_stitch_mm=L))
            for m, f, c, L in (("fill", "pes", 2.0, 3.0), ("cross", "jef", 2.5, 3.0), ("fill", "vp3", 6.0, 8.0))]


def _theirs(plan, fmt):
    writer, settings = PYEMB[fmt]
    buf = io.BytesIO()
    pe.EmbPattern.write_embroidery(writer, plan.to_emb_pattern(), buf, settings)
    return buf.getvalue()


def _ours(plan, fmt):
    threads = [emb_thread(t) for t in plan.threads]
    if fmt == "exp":
        return writers.exp_bytes(plan.units, plan.cmds)
    if fmt == "jef":
        return writers.jef_bytes(plan.units, plan.cmds, threads, date=DATE)
    if fmt == "pes":
        return writers.pes_bytes(plan.units, plan.cmds, threads, plan.name[:16])
    return writers.vp3_bytes(plan.units, plan.cmds, threads)


@pytest.mark.parametrize("fmt", ["exp", "jef"])
def test_vectorised_writer_is_byte_identical_to_pyembroidery(plans, fmt):
    for plan in plans:
        ours, theirs = _ours(plan, fmt), _theirs(plan, fmt)
        assert len(ours) == len(theirs)
        assert ours == theirs


@pytest.mark.parametrize("fmt", ["pes", "vp3"])
def test_pes_and_vp3_read_back_like_pyembroidery_files_but_with_the_plans_trims(tmp_path, plans, fmt):
    for k, plan in enumerate(plans):
        ours, theirs = tmp_path / f"ours{k}.{fmt}", tmp_path / f"theirs{k}.{fmt}"
        ours.write_bytes(_ours(plan, fmt))
        theirs.write_bytes(_theirs(plan, fmt))
        a, b = pe.read(str(ours)), pe.read(str(theirs))
        sa, sb = (np.asarray(x.stitches, dtype=np.float64).reshape(-1, 3) for x in (a, b))
        stitch_a = sa[(sa[:, 2].astype(int) & pe.COMMAND_MASK) == pe.STITCH, :2]
        stitch_b = sb[(sb[:, 2].astype(int) & pe.COMMAND_MASK) == pe.STITCH, :2]
        assert np.array_equal(stitch_a, stitch_b)
        assert a.count_color_changes() == b.count_color_changes() == plan.report.color_changes
        assert [t.color for t in a.threadlist] == [t.color for t in b.threadlist]
        trims = int(((sa[:, 2].astype(int) & pe.COMMAND_MASK) == pe.TRIM).sum())
        assert trims == plan.report.trims


def test_long_vp3_moves_and_pec_long_values_are_exercised(plans):
    # jumps longer than 12.7 mm between stitches (VP3's long form) and stitches of 6.3 mm or more (PEC 12-bit)
    found_long = found_pec = False
    for plan in plans:
        stitches = plan.units[plan.cmds == pe.STITCH]
        found_long |= bool((np.abs(np.diff(stitches, axis=0)) > 127).any())  # stitch to stitch, over jumps
        moves = np.abs(np.diff(plan.units, axis=0))[plan.cmds[1:] == pe.STITCH]
        found_pec |= bool((moves >= 63).any())
    assert found_long and found_pec


@pytest.mark.parametrize("fmt", ["dst", "exp", "jef", "pes", "vp3"])
def test_written_files_read_back_as_the_plan(tmp_path, plans, fmt):
    plan = plans[0]
    out = write_plan(plan, tmp_path / f"d.{fmt}", fmt)
    read = pe.read(str(out), {"trims": True} if fmt == "jef" else None)
    st = np.asarray(read.stitches, dtype=np.int64).reshape(-1, 3)
    got = st[(st[:, 2] & pe.COMMAND_MASK) == pe.STITCH, :2]
    assert np.array_equal(got, plan.units[plan.cmds == pe.STITCH])
    assert read.count_color_changes() == plan.report.color_changes


@pytest.mark.parametrize("fmt", ["dst", "exp", "jef", "pes", "vp3"])
def test_files_read_back_identically_in_pystitch(tmp_path, plans, fmt):
    pystitch = pytest.importorskip("pystitch")
    plan = plans[1]
    out = write_plan(plan, tmp_path / f"d.{fmt}", fmt)
    read = pystitch.read(str(out), {"trims": True} if fmt == "jef" else None)
    st = np.asarray(read.stitches, dtype=np.int64).reshape(-1, 3)
    got = st[(st[:, 2] & pystitch.COMMAND_MASK) == pystitch.STITCH, :2]
    want = plan.units[plan.cmds == pe.STITCH]
    if fmt == "pes":  # pystitch places PES designs by the header's hoop translation: the same stitches, shifted
        got = got - got[0] + want[0]
    assert np.array_equal(got, want)
    assert read.count_color_changes() == plan.report.color_changes
