"""Export speed and size: bead chart PDF (290x290, 10x10 midi boards), brick build PDF (144x144), and
merged-plate part counts of our cover vs the greedy largest-first baseline on the sample photos.

    python benchmarks/export_speed.py [--quick] [--size N]

Goals: each PDF in under 3 s (merged brick covers: plan + PDF) and a few MB (vector). Prints figures; asserts
nothing. The cover cache is cleared before each timed plan, so the figures are for cold runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.core.palette_io import load_palette  # noqa: E402
from engine.core.pattern import Pattern  # noqa: E402
from exporters.beads.chart import BeadChartOptions, export_bead_chart_pdf  # noqa: E402
from exporters.bricks.cover import check_cover, clear_cover_cache, greedy_cover, optimal_cover  # noqa: E402
from exporters.bricks.mosaic import PIECE_PARTS, BrickOptions, export_build_pdf, plan_parts  # noqa: E402

SAMPLES = ROOT / "resources" / "samples"


def photo(name: str, palette_key: str, size: int) -> Pattern:
    """A sample photo as a pattern: the app's converter when present, else nearest colour with Pillow."""
    pal = load_palette(palette_key)
    try:
        from engine.convert.pipeline import ConvertConfig, convert_image

        return convert_image(SAMPLES / f"{name}.jpg", pal, ConvertConfig(size, size))
    except ImportError:
        from PIL import Image

        from engine.core.color import nearest_palette_index, srgb8_to_lab

        img = Image.open(SAMPLES / f"{name}.jpg").convert("RGB").resize((size, size), Image.LANCZOS)
        idx = nearest_palette_index(srgb8_to_lab(np.asarray(img).reshape(-1, 3)), pal.lab).reshape(size, size)
        return Pattern(idx, pal)


_CPU: list[float] = [0.0]


def timed(fn, *args, **kwargs):
    """(result, wall seconds); the CPU seconds of the call are left in ``_CPU[0]``."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    _CPU[0] = time.process_time() - c0
    return out, time.perf_counter() - t0


def cover_counts(pattern: Pattern, sizes, section: int = 16) -> tuple[int, int, float, float]:
    """(ours, greedy, seconds ours, seconds greedy) over every section and colour."""
    ours = greedy = 0
    t_ours = t_greedy = 0.0
    clear_cover_cache()  # time a cold run (covers are cached per component shape)
    for sy in range(0, pattern.height, section):
        for sx in range(0, pattern.width, section):
            block = pattern.index[sy:sy + section, sx:sx + section]
            filled = ~pattern.empty_mask[sy:sy + section, sx:sx + section]
            for k in np.unique(block[filled]):
                mask = (block == k) & filled
                o, dt = timed(optimal_cover, mask, sizes)
                g, dg = timed(greedy_cover, mask, sizes)
                check_cover(mask, o)  # a cover with fewer parts must still be a cover
                ours += len(o)
                greedy += len(g)
                t_ours += dt
                t_greedy += dg
    return ours, greedy, t_ours, t_greedy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller cover benchmark (48x48 instead of 96x96)")
    ap.add_argument("--size", type=int, default=0, help="cover benchmark size in studs (default 96, 48 with --quick)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pixl-bench-"))

    bead = photo("chelsea", "perler", 290)
    for label, opts in (("fit", BeadChartOptions()), ("1:1", BeadChartOptions(true_scale=True))):
        out, dt = timed(export_bead_chart_pdf, bead, tmp / f"bead-{label}.pdf", opts)
        print(f"bead PDF {label:>4}: 290x290 beads, 100 boards, {len(bead.used_indices())} colours: "
              f"{dt:.2f} s (cpu {_CPU[0]:.2f} s), {out.stat().st_size / 1e6:.2f} MB")

    mosaic = photo("astronaut", "lego", 144)
    out, dt = timed(export_build_pdf, mosaic, tmp / "build.pdf", BrickOptions(piece="plate"))
    print(f"build PDF 1x1 plates: 144x144 studs, 81 sections: {dt:.2f} s (cpu {_CPU[0]:.2f} s, plan included), "
          f"{out.stat().st_size / 1e6:.2f} MB")
    for piece in ("merged-plate", "merged-tile"):  # as the CLI does it: plan (with the greedy count) + PDF
        clear_cover_cache()
        t0, c0 = time.perf_counter(), time.process_time()
        full = plan_parts(mosaic, BrickOptions(piece=piece), with_baseline=True)
        out = export_build_pdf(mosaic, tmp / f"build-{piece}-cli.pdf", BrickOptions(piece=piece), plan=full)
        print(f"build PDF {piece} 144x144 end to end (plan with greedy baseline + PDF): "
              f"{time.perf_counter() - t0:.2f} s (cpu {time.process_time() - c0:.2f} s), "
              f"{full.part_count:,} parts vs greedy {full.greedy_count:,}")
    clear_cover_cache()
    plan, dplan = timed(plan_parts, mosaic, BrickOptions(piece="merged-plate"), with_baseline=False)
    cplan = _CPU[0]
    out, dt = timed(export_build_pdf, mosaic, tmp / "build-merged.pdf", BrickOptions(piece="merged-plate"),
                    plan=plan)
    print(f"build PDF merged plates: plan {dplan:.2f} s (cpu {cplan:.2f} s), PDF {dt:.2f} s (cpu {_CPU[0]:.2f} s),"
          f" {out.stat().st_size / 1e6:.2f} MB, "
          f"{plan.part_count:,} parts for {plan.stud_count:,} studs")

    size = args.size or (48 if args.quick else 96)
    for piece in ("merged-plate", "merged-tile"):
        sizes = [(p.w, p.h) for p in PIECE_PARTS[piece]]
        tot_o = tot_g = 0
        for name in ("astronaut", "chelsea", "coffee"):
            pat = photo(name, "lego", size)
            o, g, to, tg = cover_counts(pat, sizes)
            tot_o += o
            tot_g += g
            print(f"{piece} {name} {size}x{size}: ours {o:,} parts vs greedy {g:,} "
                  f"({100 * (g - o) / g:.1f}% fewer; all-1x1 {pat.filled_cells:,}); time {to:.2f} s vs {tg:.2f} s")
        print(f"{piece} total: ours {tot_o:,} vs greedy {tot_g:,} = {tot_o / tot_g:.3f}x")
    print(f"files in {tmp}")


if __name__ == "__main__":
    main()
