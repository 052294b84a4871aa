"""`export`: write a saved pattern to maker files (PDF charts, parts lists, embroidery...)."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.core.outputs import check_outputs
from engine.core.pattern import Pattern
from exporters.common.budget import check_export
from exporters.common.errors import ExportError
from exporters.common.registry import all_formats, exporter_modules


def register(sub) -> None:
    formats = all_formats()
    lines = "\n".join(f"  {k:<14} {d}" for k, (_, d) in formats.items())
    p = sub.add_parser(
        "export",
        help="export a .pixl pattern to files",
        description="formats:\n" + lines,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("pattern", help="a .pixl project file")
    p.add_argument("--format", "-f", required=True, dest="format", help="one of: " + ", ".join(formats))
    p.add_argument("--out", "-o", required=True, help="output file")
    for mod in exporter_modules():
        mod.add_cli_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    formats = all_formats()
    fmt = args.format.lower()
    if fmt not in formats:
        raise ExportError(f"unknown export format {args.format!r}; choose one of: {', '.join(formats)}")
    check_outputs([args.pattern], [(args.out, fmt)])
    pattern = Pattern.load(args.pattern)
    check_export(pattern, fmt, args)
    module, desc = formats[fmt]
    written = module.export_cli(pattern, fmt, Path(args.out), args)
    for path in written:
        print(f"wrote {path} ({Path(path).stat().st_size:,} bytes)")
    describe = getattr(module, "describe_export", None)
    if describe is not None:
        for line in describe(pattern, fmt, [Path(p) for p in written], args):
            print(f"  {line}")
    return 0
