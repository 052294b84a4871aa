"""Stitch ordering and region geometry behind the embroidery exporter."""

from __future__ import annotations

import itertools

import numpy as np
import pyembroidery as pe

from exporters.embroidery import fill as sf
from exporters.embroidery import order as so
from exporters.embroidery.dst import dst_bytes


def _path_cost(entry, exit_, comp, start, start_comp, trim, order, variants):
    pos, cur, total = start, start_comp, 0.0
    for u, v in zip(order, variants):
        d = np.hypot(*(entry[u, v] - pos))
        total += float(so.move_cost(np.array([d]), np.array([comp[u] == cur]), trim)[0])
        pos, cur = exit_[u, v], comp[u]
    return total


def test_two_opt_never_makes_the_path_worse_and_untangles_a_crossing():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 100, size=(40, 2))
    comp = np.zeros(40, dtype=np.int64)
    start = np.zeros(2)
    order = rng.permutation(40)
    before = _path_cost(pts[:, None], pts[:, None], comp, start, 0, 3.0, order, np.zeros(40, int))
    perm = so.two_opt(pts[order], pts[order], comp[order], start, 0, 3.0)
    assert sorted(perm.tolist()) == list(range(40))
    after = _path_cost(pts[:, None], pts[:, None], comp, start, 0, 3.0, order[perm], np.zeros(40, int))
    assert after < before * 0.8
    # a path 0 -> 2 -> 1 -> 3 along a line is fixed to 0 -> 1 -> 2 -> 3
    line = np.array([[1.0, 0], [2, 0], [3, 0], [4, 0]])
    perm = so.two_opt(line[[0, 2, 1, 3]], line[[0, 2, 1, 3]], np.zeros(4, int), np.zeros(2), 0, 3.0)
    assert np.array_equal(np.array([0, 2, 1, 3])[perm], [0, 1, 2, 3])


def test_best_variants_is_optimal_for_a_fixed_order():
    rng = np.random.default_rng(1)
    n, nv = 5, 4
    entry = rng.uniform(0, 30, size=(n, nv, 2))
    exit_ = rng.uniform(0, 30, size=(n, nv, 2))
    comp = rng.integers(0, 2, size=n)
    order = np.arange(n)
    start = np.array([5.0, 5.0])
    got = so.best_variants(entry, exit_, comp, order, start, 0, 3.0)
    best = min(_path_cost(entry, exit_, comp, start, 0, 3.0, order, vs)
               for vs in itertools.product(range(nv), repeat=n))
    assert _path_cost(entry, exit_, comp, start, 0, 3.0, order, got) == best


def test_hilbert_index_visits_neighbouring_cells_one_step_apart():
    xs, ys = np.meshgrid(np.arange(8), np.arange(8))
    d = so.hilbert_index(xs.ravel(), ys.ravel(), 3)
    assert sorted(d.tolist()) == list(range(64))
    order = np.argsort(d)
    steps = np.abs(np.diff(xs.ravel()[order])) + np.abs(np.diff(ys.ravel()[order]))
    assert np.all(steps == 1)


def test_chains_split_a_region_with_a_hole_and_a_branch():
    mask = np.array([
        [1, 1, 1, 1, 1],
        [1, 0, 0, 0, 1],
        [1, 1, 1, 1, 1],
        [1, 0, 0, 0, 0],
    ], dtype=bool)
    runs = sf.find_runs(mask, mask, 0.2)
    assert list(zip(runs.r, runs.c0, runs.c1)) == [(0, 0, 5), (1, 0, 1), (1, 4, 5), (2, 0, 5), (3, 0, 1)]
    assert runs.n_groups == 1
    chains = sf.find_chains(runs, 5)
    pieces = sorted(tuple(chains.runs[a:b]) for a, b in zip(chains.offsets[:-1], chains.offsets[1:]))
    # the top bar branches into two legs that merge again: every branch point ends a chain
    assert pieces == [(0,), (1,), (2,), (3, 4)]
    # runs touching other filled cells reach 0.2 mm into them
    filled = np.ones_like(mask)
    runs = sf.find_runs(mask, filled, 0.2)
    assert runs.ext_r[1] == 0.2 and runs.ext_l[2] == 0.2 and runs.ext_l[0] == 0.0


def test_tatami_rows_cover_each_chain_in_a_boustrophedon():
    mask = np.zeros((2, 4), dtype=bool)
    mask[0, 0:4] = mask[1, 1:3] = True
    grid = sf.CellGrid(2.0, 2.0, 4, 2)
    geo = sf.fill_geometry(mask, mask, grid, 0.4, 3.0, 0.0, underlay=False)
    assert len(geo.chains) == 1
    pts, counts = sf.render_chains(geo, np.array([0]), np.array([0]))
    assert counts.tolist() == [len(pts)]
    ys = np.unique(np.round(pts[:, 1], 3))
    assert np.allclose(ys, np.arange(10) * 0.4 + 0.2)
    # rows alternate direction: each row starts where the previous one turned
    row_start_x = [pts[pts[:, 1].round(3) == y][0, 0] for y in ys]
    assert row_start_x[0] == 0.0 and row_start_x[1] == 8.0
    assert pts[:, 0].min() == 0.0 and pts[:, 0].max() == 8.0
    lower = pts[pts[:, 1] > 2.0]
    assert lower[:, 0].min() >= 2.0 - 1e-9 and lower[:, 0].max() <= 6.0 + 1e-9


def test_dst_encoder_round_trips_through_pyembroidery(tmp_path):
    rng = np.random.default_rng(2)
    moves = rng.integers(-121, 122, size=(300, 2))
    units = np.cumsum(moves, axis=0)
    cmds = np.full(300, pe.STITCH)
    cmds[50] = pe.JUMP
    units = np.vstack([units, units[-1], units[-1]])
    cmds = np.concatenate([cmds, [pe.COLOR_CHANGE, pe.END]])
    path = tmp_path / "r.dst"
    path.write_bytes(dst_bytes(units, cmds, [("#ff0000", "red", "1"), ("#00ff00", "green", "2")]))
    read = pe.read(str(path))
    st = np.asarray(read.stitches)
    got = st[(st[:, 2].astype(int) & pe.COMMAND_MASK) == pe.STITCH, :2]
    assert np.array_equal(got, units[:300][cmds[:300] == pe.STITCH])
    assert read.count_color_changes() == 1
    assert [t.hex_color() for t in read.threadlist] == ["#ff0000", "#00ff00"]
