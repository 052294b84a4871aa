"""The colour options `convert` and `generate` share (--owned, --finishes, --all-finishes, --stash, --set,
--max-colors, --min-count, --all-colors), declared once; the choice is applied by engine.convert.colour_choice."""

from __future__ import annotations

import argparse

from engine.convert.budget import DEFAULT_MAX_COLORS
from engine.convert.colour_choice import ColourChoice, finish_names


def add_colour_arguments(p: argparse.ArgumentParser) -> None:
    """Register the maker's colour options on a subcommand's parser."""
    g = p.add_argument_group("colours (the same choices as `convert`)")
    g.add_argument("--owned", help="only these colour codes (comma-separated), e.g. H01,H18,H05 for hama")
    g.add_argument("--finishes", default="solid",
                   help=f"bead finishes to use besides solid (comma-separated: {finish_names()}) or 'all'; "
                        "default solid only (no clear, translucent, glow, neon, pearl... beads)")
    g.add_argument("--all-finishes", action="store_true", help="use every finish (same as --finishes all)")
    g.add_argument("--max-colors", type=int,
                   help=f"use exactly the best K colours (default: as many as the picture needs, at most "
                        f"{DEFAULT_MAX_COLORS})")
    g.add_argument("--min-count", type=int,
                   help="no colour used fewer than N times; rarer colours are merged into the best alternative "
                        "(default: 3 to 10 by pattern size)")
    g.add_argument("--all-colors", action="store_true",
                   help="no colour budget: every allowed colour may be used, any number of times")
    g.add_argument("--stash", help="CSV file 'code,count' of the pieces you own: never use more than that")
    g.add_argument("--set", dest="lego_set",
                   help="rebuild from a LEGO Art set you own (key, set number or name, e.g. 31199 or iron_man)")


def colour_choice(args: argparse.Namespace) -> ColourChoice:
    """The ColourChoice of parsed arguments."""
    owned = tuple(c.strip() for c in args.owned.split(",") if c.strip()) if args.owned else None
    return ColourChoice(owned=owned, finishes=args.finishes, all_finishes=args.all_finishes, stash_file=args.stash,
                        lego_set=args.lego_set, max_colors=args.max_colors, min_count=args.min_count,
                        all_colors=args.all_colors)
