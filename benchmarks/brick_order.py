"""The README's brick example as a maker orders it: astronaut, 48x48 LEGO, merged plates, 16-stud sections.

    python benchmarks/brick_order.py

Prints the order (mosaic parts, spares, bases, joining layer, lines whose part/colour availability is not known)
under the defaults of issue 11 (one 3867 baseplate per section, no spares) and of issue 19 (16x16 plates joined
by a layer, 1x1 spares), and the time of each brick export and of the bead chart pages of issue 19, each against
a baseline measured in the same run. Asserts nothing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pypdf import PdfReader  # noqa: E402

from benchmarks.export_speed import photo  # noqa: E402
from exporters.beads.chart import BeadChartOptions, export_bead_chart_pdf  # noqa: E402
from exporters.bricks.cover import clear_cover_cache  # noqa: E402
from exporters.bricks.mosaic import (  # noqa: E402
    BrickOptions,
    export_bricklink_xml,
    export_build_pdf,
    export_parts_csv,
    export_rebrickable_csv,
    plan_parts,
)


def order_line(label: str, plan) -> str:
    mosaic = sum(t.needed for t in plan.totals)
    spares = sum(t.spares for t in plan.totals)
    bases = sum(t.quantity for t in plan.bases if t.use == "base")
    join = sum(t.quantity for t in plan.bases if t.use == "join")
    base_ids = ", ".join(f"{t.quantity} x {t.part_id}" for t in plan.bases)
    return (f"{label}: {mosaic:,} mosaic parts + {spares:,} spares + {bases} bases + {join} joining plates = "
            f"{sum(t.quantity for t in plan.order):,} pieces in {len(plan.order)} lines ({base_ids}); "
            f"{len(plan.unknown_availability)} lines flagged 'availability not known'")


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="pixl-order-"))
    astro = photo("astronaut", "lego", 48)
    before = BrickOptions(piece="merged-plate", section=16, base="baseplate", spares_1x1=False)  # issue 11 defaults
    after = BrickOptions(piece="merged-plate", section=16)
    clear_cover_cache()
    plan_b, t_b = timed(plan_parts, astro, before, with_baseline=False)
    clear_cover_cache()
    plan_a, t_a = timed(plan_parts, astro, after, with_baseline=False)
    print(f"astronaut 48x48 LEGO, merged plates, 16-stud sections, {len(plan_a.colors)} colours, "
          f"{plan_a.stud_count:,} studs")
    print(order_line("before (3867 baseplates, no spares)", plan_b) + f"; plan {t_b:.2f} s")
    print(order_line("after  (91405 + joining layer, 1x1 spares)", plan_a) + f"; plan {t_a:.2f} s")
    print(f"how the sections join: {plan_a.base_note}")
    for fmt, fn in (("parts-csv", export_parts_csv), ("bricklink-xml", export_bricklink_xml),
                    ("rebrickable-csv", export_rebrickable_csv), ("build-pdf", export_build_pdf)):
        _, dt = timed(fn, astro, tmp / f"astro-{fmt}", after, plan=plan_a)
        print(f"{fmt:>16}: {dt:.3f} s (plan given)")
    clear_cover_cache()
    _, dt = timed(export_build_pdf, astro, tmp / "astro-full.pdf", after)
    print(f"{'build-pdf':>16}: {dt:.3f} s end to end (cold plan included)")

    art = photo("chelsea", "artkal_a", 100)
    runs = (("fit to page (baseline)", BeadChartOptions(board="mini 50x50 (Artkal)")),
            ("true scale", BeadChartOptions(board="mini 50x50 (Artkal)", true_scale=True)),
            ("large print (split, overlap)", BeadChartOptions(board="mini 50x50 (Artkal)", large_print=True)))
    base = None
    for label, opts in runs:
        out, dt = timed(export_bead_chart_pdf, art, tmp / "bead.pdf", opts)
        base = base or dt
        print(f"bead-pdf Artkal mini 100x100, {label}: {len(PdfReader(str(out)).pages)} pages, {dt:.2f} s "
              f"({dt / base:.2f}x the fit-to-page chart), {out.stat().st_size / 1e6:.2f} MB")
    print(f"files in {tmp}")


if __name__ == "__main__":
    main()
