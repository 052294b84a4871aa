"""Export times through the export service (option building, checks, ExportResult) against calling the exporter
directly, and the CLI `export` command of this checkout against a baseline checkout, measured in the same run.

    python benchmarks/export_service_speed.py [--baseline-root /path/to/other/checkout] [--repeat 3]

Prints figures (best of --repeat, seconds) and ratios; asserts nothing. The service should add well under 10 %
to an export; the CLI's wall time is dominated by start-up (imports), so the two checkouts should be close.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.core.palette_io import load_palette  # noqa: E402
from engine.core.pattern import Pattern  # noqa: E402
from exporters.common import service  # noqa: E402
from exporters.common.optspec import from_values  # noqa: E402

# format, palette, side in cells, CLI options
CASES = [
    ("png", "perler", 128, ["--scale", "4"]),
    ("counts-csv", "perler", 128, ["--spares", "5", "--bag-size", "1000"]),
    ("bead-pdf", "perler", 87, []),
    ("build-pdf", "lego", 64, []),
    ("dst", "dmc", 40, ["--design-mm", "100x100"]),
]


def pattern(palette_key: str, side: int) -> Pattern:
    """A blocky test design (random 4 x 4 blocks of 8 colours): regions like a real picture's, reproducible."""
    rng = np.random.default_rng(side)
    blocks = rng.integers(0, 8, size=(side // 4 + 1, side // 4 + 1))
    return Pattern(np.kron(blocks, np.ones((4, 4), dtype=int))[:side, :side], load_palette(palette_key))


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def direct(fmt: str, p: Pattern, out: Path, cli: list[str]):
    """The exporter's own entry point, no service (what a library caller would do)."""
    mod = service.exporter_for(fmt).module
    options = from_values(mod.OPTIONS, vars(service_namespace(cli)))
    return lambda: mod.export(p, fmt, out, options)


def service_namespace(cli: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    service.add_export_arguments(parser)
    return parser.parse_args(cli)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-root", type=Path, default=None, help="another checkout to time the CLI against")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"{'format':<12} {'cells':>9} {'direct s':>9} {'service s':>10} {'ratio':>6}"
              + (f" {'CLI s':>7} {'baseline CLI s':>15} {'ratio':>6}" if args.baseline_root else f" {'CLI s':>7}"))
        for fmt, pal, side, cli in CASES:
            p = pattern(pal, side)
            out = tmp / service.default_file_name("bench", fmt)
            t_direct = best(direct(fmt, p, out, cli), args.repeat)
            values = vars(service_namespace(cli))
            t_service = best(lambda: service.export(p, fmt, out, values), args.repeat)
            project = p.save(tmp / f"{fmt}.pixl")

            def run_cli(root: Path) -> None:
                r = subprocess.run([sys.executable, str(root / "main.py"), "export", str(project), "-f", fmt,
                                    *cli, "-o", str(out)], capture_output=True, text=True, cwd=root)
                if r.returncode:
                    raise SystemExit(f"{root}: {r.stderr.strip()}")

            t_cli = best(lambda: run_cli(ROOT), args.repeat)
            line = (f"{fmt:<12} {side * side:>9,} {t_direct:>9.3f} {t_service:>10.3f} {t_service / t_direct:>6.2f}"
                    f" {t_cli:>7.2f}")
            if args.baseline_root:
                t_base = best(lambda: run_cli(args.baseline_root), args.repeat)
                line += f" {t_base:>15.2f} {t_cli / t_base:>6.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
