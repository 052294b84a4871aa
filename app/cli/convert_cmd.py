"""`convert`: turn a picture into a bead / brick / stitch pattern with the fast CPU converter."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.convert.intent import INTENTS
from engine.convert.pipeline import (
    DEFAULT_MAX_COLORS,
    ConvertConfig,
    ConvertError,
    convert_image,
    parse_size,
    summary_lines,
)
from engine.convert.stash import StashError, load_set, read_stash, set_palette
from engine.core import limits
from engine.core.atomic import atomic_path, check_writable_dir
from engine.core.outputs import check_outputs
from engine.core.palette import FINISHES, parse_finishes
from engine.core.palette_io import load_palette

DITHER_CHOICES = {"none": "none", "fs": "floyd-steinberg", "floyd-steinberg": "floyd-steinberg",
                  "atkinson": "atkinson", "bayer": "bayer"}


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert a picture to a pattern (fast, CPU)",
                       description="Convert a picture to a pattern in a palette of real colours.")
    p.add_argument("image", help="picture file (PNG, JPEG, TIFF, ... anything Pillow reads)")
    p.add_argument("--palette", required=True, help="palette key (see `palettes`) or a .hex/.gpl/.csv/.json file")
    p.add_argument("--owned", help="only these colour codes (comma-separated), e.g. H01,H18,H05 for hama")
    p.add_argument("--finishes", default="solid",
                   help=f"bead finishes to use besides solid (comma-separated: {', '.join(FINISHES[1:])}) or 'all'; "
                        "default solid only (no clear, translucent, glow, neon, pearl... beads)")
    p.add_argument("--all-finishes", action="store_true", help="use every finish (same as --finishes all)")
    p.add_argument("--max-colors", type=int,
                   help=f"use exactly the best K colours (default: as many as the picture needs, at most "
                        f"{DEFAULT_MAX_COLORS})")
    p.add_argument("--min-count", type=int,
                   help="no colour used fewer than N times; rarer colours are merged into the best alternative "
                        "(default: 3 to 10 by pattern size)")
    p.add_argument("--all-colors", action="store_true",
                   help="no colour budget: every allowed colour may be used, any number of times")
    p.add_argument("--intent", choices=INTENTS, default="auto",
                   help="photo: optical mixing without confetti; flat: cartoons/logos, one colour per flat region; "
                        "pixel-art: sample the sprite's own grid; auto: chosen from the picture (default)")
    p.add_argument("--stash", help="CSV file 'code,count' of the pieces you own: never use more than that")
    p.add_argument("--set", dest="lego_set",
                   help="rebuild from a LEGO Art set you own (key, set number or name, e.g. 31199 or iron_man)")
    p.add_argument("--size", required=True,
                   help="WIDTHxHEIGHT in cells (48x48), boards (2x2boards), cm/mm at the bead pitch (30x20cm), "
                        "or auto: detect the grid of pixel-art input and make one cell per pixel-art cell")
    p.add_argument("--fit", choices=("crop", "pad", "stretch"), default="crop", help="aspect handling")
    p.add_argument("--mode", choices=("area", "dominant"), default="area",
                   help="area: mean colour per cell; dominant: most common palette colour per cell")
    p.add_argument("--dither", choices=sorted(DITHER_CHOICES), default="none", help="dithering (fs = Floyd-Steinberg)")
    p.add_argument("--dither-strength", type=float, default=1.0, help="0..1 (default 1)")
    p.add_argument("--cleanup", type=float,
                   help="confetti cleanup strength 0..1 (default: 0.5 for photos, 0 otherwise)")
    p.add_argument("--remove-background", action="store_true", help="make the border-connected background empty")
    p.add_argument("--background-tolerance", type=float, default=8.0, help="CIEDE2000 tolerance (default 8)")
    p.add_argument("--keep-alpha", action="store_true", help="do not turn transparent areas into empty cells")
    p.add_argument("--out", required=True, help="output project file (.pixl)")
    p.add_argument("--png", help="also write a PNG preview")
    p.add_argument("--scale", type=int, default=8, help="PNG pixels per cell (default 8)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_outputs([args.image, args.palette if Path(args.palette).is_file() else None],
                  [(out, "pixl"), (args.png, "png")])
    if out.suffix.lower() != ".pixl":
        raise ConvertError(f"--out must be a .pixl project file, got {out.name}")
    check_writable_dir(out)
    if args.png:
        check_writable_dir(args.png)
        if not 1 <= args.scale <= 64:
            raise ConvertError(f"--scale must be 1 to 64 pixels per cell, got {args.scale}")
    palette = load_palette(args.palette)
    if args.stash and args.lego_set:
        raise ConvertError("give either --stash or --set, not both")
    stash = None
    try:
        if args.lego_set:
            lego_set = load_set(args.lego_set)
            palette, stash = set_palette(lego_set, palette)
            print(f"set {lego_set.number} {lego_set.name}: {lego_set.total} pieces in {len(stash)} colours")
        elif args.stash:
            stash = read_stash(args.stash, palette)
    except StashError as exc:
        raise ConvertError(str(exc)) from None
    if args.owned:  # the pattern's palette is the owned colours; named codes are used whatever their finish
        palette = palette.owned(args.owned)
    finishes = parse_finishes("all" if args.all_finishes or args.lego_set or args.owned else args.finishes)
    width, height = parse_size(args.size, palette.medium)
    if args.png:
        limits.check_output_pixels(width * args.scale, height * args.scale,
                                   f"the --png preview at --scale {args.scale}")
    config = ConvertConfig(
        width=width, height=height, fit=args.fit, resample=args.mode, dither=DITHER_CHOICES[args.dither],
        dither_strength=args.dither_strength, cleanup=args.cleanup, alpha_to_empty=not args.keep_alpha,
        remove_background=args.remove_background, background_tolerance=args.background_tolerance,
        max_colors=args.max_colors, intent=args.intent, finishes=finishes,
        all_colors=args.all_colors, min_count=args.min_count, stash=stash,
    )
    pattern = convert_image(args.image, palette, config)
    if args.png and config.auto_size:  # with --size auto the size is known only now
        limits.check_output_pixels(pattern.width * args.scale, pattern.height * args.scale,
                                   f"the --png preview at --scale {args.scale}")
    pattern.save(out)
    if args.png:
        _write_png(pattern, args.png, args.scale)
    grid = pattern.metadata.get("grid")
    if grid:
        print(f"detected grid: {grid['cols']}x{grid['rows']} cells, pitch {grid['pitch_x']:.2f} x "
              f"{grid['pitch_y']:.2f} px (confidence {grid['confidence']:.2f})")
    counts = pattern.color_counts()
    w_mm, h_mm = pattern.size_mm()
    print(f"{pattern.width}x{pattern.height} cells ({w_mm:g} x {h_mm:g} mm), {pattern.filled_cells} filled, "
          f"{len(counts)} colours from {palette.name}")
    for _, color, count in counts:
        extra = "" if color.finish == "solid" else f" ({color.finish})"
        stock = "" if stash is None else f"  of {stash.get(color.code, 0)} owned"
        print(f"  {color.code:>10}  {count:>7}  {color.name}{extra}{stock}")
    for line in summary_lines(pattern):
        print(line)
    print(f"saved {out}" + (f" and {args.png}" if args.png else ""))
    return 0


def _write_png(pattern, path: str, scale: int) -> None:
    from PIL import Image

    rgba = np.repeat(np.repeat(pattern.to_rgba(), scale, axis=0), scale, axis=1)
    with atomic_path(path) as tmp:
        Image.fromarray(rgba, "RGBA").save(tmp, format="PNG")
