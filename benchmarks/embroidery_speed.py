"""Benchmark: a 290 x 290 cell photo pattern on a ~12-colour thread palette at 2 mm per cell, to DST.

Prints the time to build and write the file (best of --repeats; wall clock and CPU, since the
machine may be shared), stitch count, trims and total jump length for the optimised exporter and
for a naive row-by-row order (each row's runs left to right, jumping between same-colour runs)
measured in the same run. Goal: well under 3 s and far fewer trims than the naive order.

    python benchmarks/embroidery_speed.py [--size 290] [--colors 12] [--image resources/samples/chelsea.jpg]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.core.color import ciede2000  # noqa: E402
from engine.core.palette import load_palette  # noqa: E402
from engine.core.pattern import Pattern  # noqa: E402
from exporters.embroidery.export import EmbroideryOptions, export_embroidery  # noqa: E402


def photo_pattern(image: Path, size: int, colors: int) -> Pattern:
    """Quantise a photo to ``colors`` colours (median cut), then snap each to its nearest DMC thread."""
    dmc = load_palette("dmc")
    img = Image.open(image).convert("RGB").resize((size, size), Image.LANCZOS)
    q = img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal = np.array(q.getpalette()[: 3 * colors], dtype=np.float64).reshape(-1, 3)
    from engine.core.color import srgb8_to_lab

    de = ciede2000(srgb8_to_lab(pal)[:, None, :], dmc.lab[None, :, :])
    nearest = np.argmin(de, axis=1)
    used = sorted(set(nearest.tolist()))
    sub = dmc.subset(used, name=f"DMC ({len(used)} threads)")
    remap = np.array([used.index(n) for n in nearest.tolist()])
    index = remap[np.asarray(q)]
    return Pattern(index, sub, metadata={"source": str(image)})


def run(pattern: Pattern, options: EmbroideryOptions, out: Path, repeats: int) -> dict:
    """Export to DST ``repeats`` times; keep the best wall-clock and CPU times (the machine is shared)."""
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        report = export_embroidery(pattern, out, options, "dst")
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {"seconds": min(walls), "cpu": min(cpus), "stitches": report.stitch_count,
            "trims": report.trims, "jumps": report.jumps, "jump_mm": report.total_jump_mm,
            "travel_mm": report.travel_mm, "minutes": report.estimated_minutes, "bytes": out.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=str(ROOT / "resources" / "samples" / "chelsea.jpg"))
    ap.add_argument("--size", type=int, default=290)
    ap.add_argument("--colors", type=int, default=12)
    ap.add_argument("--cell-mm", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=2, help="runs per order; the best time is shown")
    args = ap.parse_args(argv)
    pattern = photo_pattern(Path(args.image), args.size, args.colors)
    print(f"pattern: {pattern.width}x{pattern.height} cells, {len(pattern.used_indices())} threads, "
          f"{args.cell_mm} mm per cell, from {Path(args.image).name}")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name, ordering in (("optimised", "optimized"), ("naive rows", "rows")):
            opts = EmbroideryOptions(cell_mm=args.cell_mm, ordering=ordering)
            results[name] = run(pattern, opts, Path(tmp) / f"{ordering}.dst", args.repeats)
    print(f"{'order':<12}{'wall s':>8}{'cpu s':>8}{'stitches':>11}{'trims':>8}{'jumps':>8}{'jump m':>9}"
          f"{'travel m':>10}{'est. min':>10}")
    for name, r in results.items():
        print(f"{name:<12}{r['seconds']:>8.2f}{r['cpu']:>8.2f}{r['stitches']:>11,}{r['trims']:>8,}{r['jumps']:>8,}"
              f"{r['jump_mm'] / 1000:>9.1f}{r['travel_mm'] / 1000:>10.1f}{r['minutes']:>10.0f}")
    a, b = results["optimised"], results["naive rows"]
    print(f"trims: {b['trims'] / max(a['trims'], 1):.1f}x fewer; jump length: "
          f"{b['jump_mm'] / max(a['jump_mm'], 1e-9):.1f}x shorter; time ratio optimised/naive "
          f"{a['seconds'] / b['seconds']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
