"""`convert`: turn a picture into a bead / brick / stitch pattern with the fast CPU converter."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from app.cli.colour_args import add_colour_arguments, colour_choice
from engine.convert.colour_choice import resolve_colours
from engine.convert.intent import INTENTS
from engine.convert.pipeline import (
    ConvertConfig,
    ConvertError,
    convert_image,
    parse_size,
    summary_lines,
)
from engine.core import limits
from engine.core.atomic import atomic_path, check_writable_dir
from engine.core.outputs import check_outputs
from engine.core.palette_io import load_palette

DITHER_CHOICES = {"none": "none", "fs": "floyd-steinberg", "floyd-steinberg": "floyd-steinberg",
                  "atkinson": "atkinson", "bayer": "bayer"}


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert a picture to a pattern (fast, CPU)",
                       description="Convert a picture to a pattern in a palette of real colours.")
    p.add_argument("image", help="picture file (PNG, JPEG, TIFF, ... anything Pillow reads)")
    p.add_argument("--palette", required=True, help="palette key (see `palettes`) or a .hex/.gpl/.csv/.json file")
    p.add_argument("--intent", choices=INTENTS, default="auto",
                   help="photo: optical mixing without confetti; flat: cartoons/logos, one colour per flat region; "
                        "pixel-art: sample the sprite's own grid; auto: chosen from the picture (default)")
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
    add_colour_arguments(p)
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
    colours = resolve_colours(load_palette(args.palette), colour_choice(args))
    palette, stash = colours.palette, colours.budget.stash
    for note in colours.notes:
        print(note)
    width, height = parse_size(args.size, palette.medium)
    if args.png:
        limits.check_output_pixels(width * args.scale, height * args.scale,
                                   f"the --png preview at --scale {args.scale}")
    config = ConvertConfig(
        width=width, height=height, fit=args.fit, resample=args.mode, dither=DITHER_CHOICES[args.dither],
        dither_strength=args.dither_strength, cleanup=args.cleanup, alpha_to_empty=not args.keep_alpha,
        remove_background=args.remove_background, background_tolerance=args.background_tolerance,
        intent=args.intent, **colours.budget.convert_fields(),
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
