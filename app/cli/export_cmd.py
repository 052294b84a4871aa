"""`export`: write a saved pattern to maker files (PDF charts, parts lists, embroidery...).

The flags are generated from the exporters' option dataclasses and the export runs through
``exporters.common.service``, the same path the app's export dialog takes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.core.outputs import check_outputs
from engine.core.pattern import Pattern
from exporters.common import service


def register(sub) -> None:
    formats = service.formats()
    lines = "\n".join(f"  {k:<16} {d}" for k, d in formats.items())
    p = sub.add_parser(
        "export",
        help="export a .pixl pattern to files",
        description="formats:\n" + lines + "\n\nEach option applies to the formats named in [brackets].",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("pattern", help="a .pixl project file")
    p.add_argument("--format", "-f", required=True, dest="format", help="one of: " + ", ".join(formats))
    p.add_argument("--out", "-o", required=True, help="output file")
    service.add_export_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    fmt = args.format.lower()
    service.exporter_for(fmt)  # an unknown format is refused before the pattern is read
    check_outputs([args.pattern], [(args.out, fmt)])
    pattern = Pattern.load(args.pattern)
    result = service.export(pattern, fmt, Path(args.out), args, inputs=[args.pattern])
    for path in result.files:
        print(f"wrote {path} ({Path(path).stat().st_size:,} bytes)")
    for line in result.report:
        print(f"  {line}")
    for line in result.warnings:
        print(f"  warning: {line}")
    return 0
