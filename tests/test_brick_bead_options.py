"""Bead and brick options declared once (issue 19): explicit formats, named choices, and the export service
offering and honouring them (ExportResult report and warnings)."""

from __future__ import annotations

import argparse
import csv

from engine.core.medium import BOARDS
from exporters.beads import chart
from exporters.beads.options import BeadOptions
from exporters.bricks import mosaic
from exporters.bricks.options import BrickOptions
from exporters.common import service
from exporters.common.optspec import option_specs
from tests.test_bead_chart import photo_pattern

BRICK_FORMATS = ("parts-csv", "bricklink-xml", "rebrickable-csv", "build-pdf")


def test_every_option_names_its_formats_explicitly():
    for module, cls in ((mosaic, BrickOptions), (chart, BeadOptions)):
        assert module.OPTIONS is cls
        for spec in option_specs(cls):
            assert spec.formats and set(spec.formats) <= set(module.FORMATS), spec.name
            assert spec.label and "--" not in spec.label and "--" not in spec.help, spec.name
    by_name = {s.name: s for s in option_specs(BrickOptions)}
    for name in ("spares", "spares_min", "spares_1x1", "piece", "section", "base", "join", "base_color"):
        assert by_name[name].formats == BRICK_FORMATS, name
    assert by_name["condition"].formats == ("bricklink-xml",) and by_name["title"].formats == ("build-pdf",)
    assert set(mosaic.PIECE_PARTS) == set(by_name["piece"].choices)


def test_named_choices_for_the_app():
    bricks = {s.name: s for s in option_specs(BrickOptions)}
    color = bricks["base_color"]
    assert color.choice_label("11") == "Black (BrickLink 11)" and color.swatches["11"].startswith("#")
    assert bricks["join"].choice_label("layer").startswith("a second layer of plates")
    beads = {s.name: s for s in option_specs(BeadOptions)}
    labels = beads["board"].choice_labels
    assert labels[None] == "the palette's own board"
    assert all(("measured" in labels[n]) == BOARDS[n].measured for n in beads["board"].choices if n)
    assert set(beads["paper"].choices) == {"A4", "Letter", "A3"}


def test_the_service_offers_spares_for_every_parts_list():
    for fmt in BRICK_FORMATS + ("bead-pdf", "counts-csv"):
        assert {"spares", "spares_min"} <= {s.name for s in service.option_specs([fmt])}, fmt
    assert "spares_1x1" in {s.name for s in service.option_specs(["parts-csv"])}
    assert "spares_1x1" not in {s.name for s in service.option_specs(["bead-pdf"])}


def test_cli_flags_reach_the_brick_exporter(tmp_path):
    parser = argparse.ArgumentParser()
    service.add_export_arguments(parser)
    args = parser.parse_args(["--spares", "5", "--spares-min", "2", "--base-color", "Light Bluish Gray",
                              "--join", "none", "--piece", "merged-tile"])
    p = photo_pattern("lego", 40, 20)
    result = service.export(p, "parts-csv", tmp_path / "p.csv", args)
    rows = list(csv.DictReader(result.files[0].open(encoding="utf-8")))
    assert {r["BrickLink colour id"] for r in rows if r["use"] == "base"} == {"86"}
    assert all(int(r["spares"]) == max(2, -(-int(r["needed"]) * 5 // 100)) for r in rows if r["use"] == "mosaic")
    text = "\n".join(result.report)
    assert "how the sections join: 6 separate 16 x 16 plates" in text and "spare parts" in text
    assert any("not known to be made in their colour" in w for w in result.warnings)
    assert not any(w.startswith("warning") for w in result.warnings)


def test_bead_export_result_reports_size_and_warns_once(tmp_path):
    p = photo_pattern("artkal_a", 50, 50)
    result = service.export(p, "bead-pdf", tmp_path / "c.pdf",
                            {"board": "mini 50x50 (Artkal)", "true_scale": True, "large_print": True,
                             "spares": 10, "spares_min": 5, "bag_size": 1000})
    text = "\n".join(result.report)
    assert "true scale: 14.1 x 14.1 cm at 2.812 mm per peg (measured board pitch)" in text
    assert result.warnings == chart.chart_warnings(BeadOptions(large_print=True, true_scale=True))
    rows = chart.legend_rows(p, chart.spare_rule(BeadOptions(spares=10, spares_min=5)), 1000)
    assert all(ln.spares == max(5, -(-ln.needed // 10)) for _, _, ln in rows)
    assert f"{sum(ln.total for _, _, ln in rows):,} beads to buy" in text
