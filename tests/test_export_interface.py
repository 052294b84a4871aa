"""The typed exporter interface (issue 19 §1): option metadata -> argparse, one size parser, limits checked before
any allocation, ExportResult from the export service, default file names per format."""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.core.sizes import SizeError, parse_number, parse_pair
from exporters.common import optspec, service
from exporters.common.errors import ExportError
from exporters.common.result import ExportResult

ROOT = Path(__file__).resolve().parents[1]


def _export_parser() -> argparse.ArgumentParser:
    from app.cli import export_cmd

    parser = argparse.ArgumentParser(prog="pixl")
    export_cmd.register(parser.add_subparsers(dest="command"))
    return parser


# ----------------------------------------------------------------------------- option metadata


def test_cli_flags_are_generated_from_the_option_metadata():
    parser = _export_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["export"]
    actions = {a.dest: a for a in sub._actions if a.option_strings and a.dest not in ("help", "format", "out")}
    specs = {s.name: s for s in service.option_specs()}
    assert set(actions) == set(specs)
    for name, spec in specs.items():
        action = actions[name]
        assert spec.flag in action.option_strings, name
        assert action.default == spec.default, name
        assert all(f in action.help for f in spec.formats), name  # the help names the formats it applies to
    args = parser.parse_args(["export", "p.pixl", "-f", "png", "-o", "x.png"])
    for name, spec in specs.items():  # untouched flags parse to the declared defaults
        assert getattr(args, name) == spec.default, name


def test_flags_check_ranges_and_units_in_one_line():
    from main import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["export", "p.pixl", "-f", "png", "-o", "x.png", "--scale", "0"])
    assert exc.value.code == 2
    args = build_parser().parse_args(["export", "p.pixl", "-f", "counts-csv", "-o", "x.csv", "--spares", "5 %"])
    assert args.spares == 5.0


def test_spares_are_offered_for_every_parts_list():
    for fmt in ("counts-csv", "parts-csv", "bricklink-xml", "rebrickable-csv", "bead-pdf"):
        names = {s.name for s in service.option_specs([fmt])}
        assert {"spares", "spares_min"} <= names, fmt
    assert "scale" not in {s.name for s in service.option_specs(["parts-csv"])}


@dataclass
class _A:
    spares: float = optspec.option(0.0, flag="--spares", label="Spares", help="h", formats=("a",), unit="%",
                                   minimum=0, maximum=100)
    mode: str = optspec.option("x", flag="--mode", label="Mode", help="h", formats=("a",), choices=("x", "y"),
                               choice_labels={"x": "Ex", "y": "Why"})
    underlay: bool = optspec.option(True, flag="--no-underlay", label="Underlay", help="h", formats=("a",))


@dataclass
class _B:
    spares: float = optspec.option(0.0, flag="--spares", label="Spares", help="h", formats=("b",), unit="%")


@dataclass
class _Clash:
    spares: float = optspec.option(1.0, flag="--spares", label="Spares", help="h", formats=("c",))


def test_option_specs_kinds_merge_and_values():
    specs = {s.name: s for s in optspec.option_specs(_A)}
    assert specs["spares"].kind == optspec.KIND_FLOAT and specs["mode"].kind == optspec.KIND_CHOICE
    assert specs["underlay"].kind == optspec.KIND_FLAG and specs["mode"].choice_label("y") == "Why"
    merged = optspec.merge_specs(optspec.option_specs(_A) + optspec.option_specs(_B))
    assert next(s for s in merged if s.name == "spares").formats == ("a", "b")
    with pytest.raises(RuntimeError, match="--spares"):
        optspec.merge_specs(optspec.option_specs(_A) + optspec.option_specs(_Clash))
    parser = argparse.ArgumentParser()
    optspec.add_arguments(parser, _A)
    opts = optspec.from_args(_A, parser.parse_args(["--spares", "12.5", "--mode", "y", "--no-underlay"]))
    assert opts == _A(12.5, "y", False)
    assert optspec.from_values(_A, {"spares": "7", "mode": "x"}) == _A(7.0, "x", True)  # text from a widget
    with pytest.raises(ExportError, match="Spares must be from 0 to 100 %"):
        optspec.from_values(_A, {"spares": 150})
    with pytest.raises(ExportError, match="Mode"):
        optspec.from_values(_A, {"mode": "z"})
    with pytest.raises(ValueError, match="formats"):
        optspec.option(1, flag="--x", label="X", help="h", formats="png")  # a string is not a tuple of formats


# ----------------------------------------------------------------------------- one size parser


@pytest.mark.parametrize("text, expected", [
    ("100x80", (100.0, 80.0)), ("100×80", (100.0, 80.0)), ("100 x 80", (100.0, 80.0)), ("100X80mm", (100.0, 80.0)),
    ("10 cm x 8 cm", (100.0, 80.0)), ("12,5 x 4", (12.5, 4.0)), ("100*80 mm", (100.0, 80.0)),
    ("100000×100000", (100000.0, 100000.0)),
])
def test_one_size_parser_accepts_every_spelling(text, expected):
    assert parse_pair(text, "design size", "mm") == expected


@pytest.mark.parametrize("text", ["100", "x80", "100x", "0x10", "-5x10", "infx10", "nanx3", "10 kg x 3", "1" * 80,
                                  "1e999x1"])
def test_one_size_parser_refuses_in_one_line(text):
    with pytest.raises(SizeError) as exc:
        parse_pair(text, "design size", "mm")
    assert "design size" in str(exc.value) and "\n" not in str(exc.value)


def test_numbers_with_units():
    assert parse_number("3.5 mm", "cell size", "mm") == 3.5
    assert parse_number("1 cm", "cell size", "mm") == 10.0
    assert parse_number("24", "cell", "px", integer=True) == 24
    with pytest.raises(SizeError):
        parse_number("2.5", "cell", "px", integer=True)
    assert parse_pair("29x29", "board", "", integer=True) == (29, 29)


@pytest.mark.parametrize("text, size", [("31x31", (31, 31)), ("31 × 31", (31, 31)), ("31 by 20", (31, 20)),
                                        ("40 X 12", (40, 12))])
def test_custom_boards_go_through_the_size_parser(text, size):
    from engine.core.palette_io import load_palette
    from engine.core.pattern import Pattern
    from exporters.beads.chart import resolve_board

    board = resolve_board(Pattern(np.zeros((4, 4), dtype=int), load_palette("perler")), text)
    assert (board.width, board.height) == size and board.name == f"{size[0]}x{size[1]}"


@pytest.mark.parametrize("text, words", [("29.5x29", "whole numbers"), ("0x5", "between 1 and 500"),
                                         ("600x600", "between 1 and 500"), ("giant", "unknown board")])
def test_bad_custom_boards_are_refused(text, words):
    from engine.core.palette_io import load_palette
    from engine.core.pattern import Pattern
    from exporters.beads.chart import resolve_board

    with pytest.raises(ExportError, match=words):
        resolve_board(Pattern(np.zeros((4, 4), dtype=int), load_palette("perler")), text)


@pytest.mark.parametrize("fmt, name, text", [("dst", "design_mm", "12 x"), ("dst", "design_mm", "12 x 5 furlongs"),
                                             ("bead-pdf", "calibrate", "abc"), ("bead-pdf", "paper", "A7"),
                                             ("parts-csv", "base_color", "zz")])
def test_parse_errors_name_the_option_once(fmt, name, text):
    label = next(s.label for s in service.option_specs([fmt]) if s.name == name)
    with pytest.raises(ExportError) as exc:
        service.build_options(fmt, {name: text})
    message = str(exc.value)
    assert label.lower() in message.lower() and "\n" not in message
    assert not message.lower().startswith(f"{label.lower()}: {label.lower()}"), message  # "Design size: design.."
    if name == "calibrate":
        assert message.startswith(f"{label}: ") and "calibration" not in message  # the label says what it is


# ----------------------------------------------------------------------------- limits before allocation


def _thread_project(tmp_path) -> Path:
    from engine.core.palette_io import load_palette
    from engine.core.pattern import Pattern

    rng = np.random.default_rng(0)
    return Pattern(rng.choice([0, 1, 2], size=(40, 40)), load_palette("dmc")).save(tmp_path / "logo.pixl")


_MEASURE = ("import resource, subprocess, sys\n"
            "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "sys.stderr.write(r.stderr)\n"
            "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")


@pytest.mark.parametrize("extra, words", [
    (["--design-mm", "100000×100000"], "1,500 mm"),
    (["--design-mm", "100000 x 100000 mm"], "1,500 mm"),
    (["--cell-mm", "5000"], "1,500 mm"),
    (["--design-mm", "inf x 10"], "design size"),
])
def test_oversize_embroidery_is_refused_before_allocation(tmp_path, extra, words):
    project = _thread_project(tmp_path)
    out = tmp_path / "big.dst"
    r = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, str(ROOT / "main.py"), "export",
                        str(project), "--format", "dst", *extra, "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    code, peak_kib = (int(v) for v in r.stdout.split())
    assert code == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr and "Traceback" not in r.stderr
    assert peak_kib < 300_000  # about 100 MB of imports: nothing big was allocated (before: 600 MB, MemoryError)
    assert not out.exists()


def test_service_check_refuses_before_the_exporter_runs(small_pattern, tmp_path, monkeypatch):
    from exporters.common import basic

    called = []
    monkeypatch.setattr(basic, "export_png", lambda *a, **k: called.append(a))
    with pytest.raises(ExportError, match="PIXL_LIMIT_MAX_OUTPUT_PIXELS"):
        service.export(small_pattern, "png", tmp_path / "p.png", {"scale": 5000})
    assert not called and not (tmp_path / "p.png").exists()


# ----------------------------------------------------------------------------- the export service


def test_service_returns_an_export_result(small_pattern, tmp_path):
    out = tmp_path / "counts.csv"
    result = service.export(small_pattern, "counts-csv", out, {"spares": 10, "bag_size": 50})
    assert isinstance(result, ExportResult) and result.files == [out] and result.warnings == []
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert sum(int(r["count"]) for r in rows) == small_pattern.filled_cells
    assert all(int(r["spares"]) == -(-int(r["count"]) // 10) for r in rows)
    assert any("spares: 10 %" in line for line in result.report)
    assert f"{sum(int(r['bags']) for r in rows)} bags of 50" in result.report


def test_service_warnings_are_a_list_of_their_own(tmp_path):
    from engine.core.palette_io import load_palette
    from engine.core.pattern import Pattern

    rng = np.random.default_rng(1)
    confetti = Pattern(rng.choice([0, 3, 7, 12, 20, 31], size=(24, 30)), load_palette("dmc"))
    result = service.export(confetti, "dst", tmp_path / "c.dst")
    assert result.files[0] == tmp_path / "c.dst" and result.files[0].stat().st_size > 0
    assert result.warnings and not any(w.lower().startswith("warning") for w in result.warnings)
    assert not any("warning" in line.lower() for line in result.report)


def test_unknown_format_and_output_onto_the_input(small_pattern, tmp_path):
    with pytest.raises(ExportError, match="unknown export format"):
        service.export(small_pattern, "svg", tmp_path / "x.svg")
    project = small_pattern.save(tmp_path / "p.pixl")
    before = project.read_bytes()
    with pytest.raises(OSError, match="is the input file"):
        service.export(small_pattern, "png", project.with_suffix(".pixl"), inputs=[project])
    assert project.read_bytes() == before


def test_default_file_names_say_what_they_are_and_never_collide():
    names = {fmt: service.default_file_name("astronaut", fmt) for fmt in service.formats()}
    assert names["bead-pdf"] == "astronaut-beads.pdf" and names["build-pdf"] == "astronaut-build.pdf"
    assert names["parts-csv"] == "astronaut-parts.csv" and names["png"] == "astronaut.png"
    assert len(set(names.values())) == len(names)  # two formats never default to the same name
    from engine.core.outputs import check_suffix

    for fmt, name in names.items():
        check_suffix(name, fmt)  # each name has its format's suffix


def test_format_descriptions_are_plain_words():
    for fmt, desc in service.formats().items():
        assert desc and "--" not in desc, fmt


def test_every_exporter_module_is_typed_and_an_untyped_one_is_refused(monkeypatch):
    import types

    from exporters.common import registry

    assert all(registry.is_typed(m) for m in registry.exporter_modules())  # no adapter left for old-style modules
    old = types.ModuleType("exporters.old_style")
    old.FORMATS, old.add_cli_arguments, old.export_cli = {"old": "an old format"}, print, print
    monkeypatch.setattr(service, "exporter_modules", lambda: registry.exporter_modules() + [old])
    service._exporters_cached.cache_clear()
    try:
        with pytest.raises(TypeError, match="exporters.old_style"):
            service.formats()
    finally:
        monkeypatch.undo()
        service._exporters_cached.cache_clear()
    assert "old" not in service.formats() and "png" in service.formats()
