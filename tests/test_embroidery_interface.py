"""Embroidery through the typed exporter interface: options declared once, check() before anything is allocated,
export() returning an ExportResult, and the same through the export service the CLI and the app use."""

from __future__ import annotations

import tracemalloc

import pytest

from exporters.common import service
from exporters.common.errors import ExportError
from exporters.common.optspec import from_values, option_specs
from exporters.embroidery import export as emb
from exporters.embroidery.options import EmbroideryOptions
from tests.embroidery_helpers import logo_pattern


@pytest.fixture(scope="module")
def logo():
    return logo_pattern(40)


def test_the_module_provides_the_typed_interface():
    assert emb.OPTIONS is EmbroideryOptions
    for name in ("FORMATS", "OPTIONS", "check", "export"):
        assert hasattr(emb, name)
    for old in ("add_cli_arguments", "export_cli", "describe_export", "_REPORTS"):  # no module-level reports
        assert not hasattr(emb, old), old


@pytest.mark.parametrize("size", ["100000×100000", "100000x100000 mm", "10000 cm x 10 cm"])
def test_an_oversize_design_is_refused_in_one_line_before_anything_is_allocated(logo, size):
    tracemalloc.start()
    try:
        options = from_values(EmbroideryOptions, {"design_mm": size})
        with pytest.raises(ExportError) as err:
            emb.check(logo, "dst", options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "\n" not in str(err.value) and "limit" in str(err.value)
    assert peak < 20 * 2 ** 20  # nothing of the design's size was made


def test_the_cli_refuses_an_oversize_design_with_exit_2_and_writes_nothing(tmp_path, logo, capsys):
    from main import main

    pixl = logo.save(tmp_path / "logo.pixl")
    out = tmp_path / "logo.dst"
    assert main(["export", str(pixl), "--format", "dst", "--out", str(out), "--design-mm", "100000×100000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "design" in err and "limit" in err
    assert not out.exists()


@pytest.mark.parametrize("values, words", [({"max_stitch_mm": 20}, "Longest stitch"),
                                           ({"trim_distance_mm": 40}, "Trim jumps longer than"),
                                           ({"hoop": "huge"}, "hoop size"),
                                           ({"design_mm": "12 x"}, "design size must look like")])
def test_bad_values_are_refused_by_name_in_plain_words(logo, values, words):
    with pytest.raises(ExportError, match=words) as err:
        emb.check(logo, "pes", from_values(EmbroideryOptions, values))
    assert "--" not in str(err.value)


@pytest.mark.parametrize("fmt", list(emb.FORMATS))
def test_export_returns_files_report_and_warnings_and_the_service_offers_every_option(tmp_path, logo, fmt):
    suffix = ".png" if fmt == "stitch-png" else f".{fmt}"
    result = service.export(logo, fmt, tmp_path / f"logo{suffix}", {"mode": "cross", "hoop": "50x50"})
    assert result.files == [tmp_path / f"logo{suffix}"] and result.files[0].stat().st_size > 0
    assert result.report and "stitches" in result.report[0]
    assert any("does not fit hoop 50x50" in w for w in result.warnings)
    assert not any(w in line for w in result.warnings for line in result.report)  # said once
    offered = {s.name for s in service.option_specs([fmt])}
    assert {s.name for s in option_specs(EmbroideryOptions)} <= offered
