"""`palettes`: list the shipped palettes (or the colours of one)."""

from __future__ import annotations

import argparse

from engine.core.palette_io import list_palettes, load_palette


def register(sub) -> None:
    p = sub.add_parser("palettes", help="list shipped palettes, or the colours of one")
    p.add_argument("name", nargs="?", help="a palette key or file: list its colours")
    p.add_argument("--all", action="store_true", help="include retired colours")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.name:
        pal = load_palette(args.name, include_retired=args.all)
        print(f"{pal.name}: {len(pal)} colours, {pal.medium.kind} {pal.medium.pitch_mm:g} mm")
        for c in pal:
            flag = " (retired)" if c.retired else ""
            print(f"  {c.code:>10}  {c.hex}  {c.symbol or ' '}  {c.name}{flag}")
        return 0
    print(f"{'key':<14} {'colours':>7}  {'medium':<7} name")
    for info in list_palettes():
        print(f"{info.key:<14} {info.count:>7}  {info.kind:<7} {info.name}")
    return 0
