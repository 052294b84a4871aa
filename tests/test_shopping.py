"""Purchase quantities: spares, packs and stash coverage (exporters.common.shopping)."""

from __future__ import annotations

import pytest

from exporters.common.errors import ExportError
from exporters.common.shopping import SpareRule, coverage, purchase, shopping_list


def test_spares_percent_and_minimum():
    rule = SpareRule(percent=5, minimum=2)
    assert rule.spares(0) == 0 and rule.spares(10) == 2 and rule.spares(100) == 5 and rule.spares(101) == 6
    assert SpareRule().spares(500) == 0 and not SpareRule().active


def test_packs_and_stash():
    lines = shopping_list([("H01", "White", 420), ("H18", "Black", 37)], SpareRule(5, 2), pack_size=1000,
                          stash={"H01": 600, "H18": 10})
    white, black = lines
    assert (white.needed, white.spares, white.total, white.to_buy, white.packs, white.covered) == (420, 21, 441, 0,
                                                                                                  0, True)
    assert (black.spares, black.total, black.to_buy, black.packs, black.shortfall) == (2, 39, 29, 1, 29)
    cov = coverage(lines)
    assert (cov.covered_lines, cov.lines, cov.wanted, cov.to_buy) == (1, 2, 480, 29)
    assert "covers 1 of 2 colours" in cov.describe()


@pytest.mark.parametrize("kwargs, msg", [({"percent": -1}, "percent"), ({"percent": 150}, "percent"),
                                         ({"minimum": -3}, "minimum")])
def test_bad_rules(kwargs, msg):
    with pytest.raises(ExportError, match=msg):
        SpareRule(**kwargs)
    with pytest.raises(ExportError, match="bag size"):
        purchase("a", "b", 3, pack_size=0)


def test_counts_csv_with_stash_file(tmp_path):
    import argparse
    import csv

    import numpy as np

    from engine.core.palette_io import load_palette
    from engine.core.pattern import Pattern
    from exporters.common import basic
    from exporters.common.optspec import add_arguments, from_args

    pal = load_palette("hama")
    idx = np.zeros((10, 10), dtype=int)
    idx[:, 6:] = 1  # 60 of colour 0, 40 of colour 1
    p = Pattern(idx, pal)
    stash = tmp_path / "stash.csv"
    stash.write_text(f"code,count\n{pal[0].code},100\n{pal[1].code},15\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser, basic.OPTIONS)
    opts = from_args(basic.OPTIONS, parser.parse_args(["--stash", str(stash), "--spares", "10", "--bag-size", "20"]))
    result = basic.export(p, "counts-csv", tmp_path / "c.csv", opts)
    out = result.files[0]
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["count"], r["spares"], r["owned"], r["to buy"], r["bags"]) for r in rows] == [
        ("60", "6", "100", "0", "0"), ("40", "4", "15", "29", "2")]
    assert "your stash covers 1 of 2 colours" in "\n".join(result.report)
    stash.write_text("code,count\nx,many\n", encoding="utf-8")
    with pytest.raises(ExportError, match="line 2"):
        basic.export(p, "counts-csv", tmp_path / "d.csv", opts)
