"""Peak memory of one conversion of a very big picture, measured in a fresh subprocess (issue 21, point 7).

    python benchmarks/convert_memory.py            # a 90 MP JPEG photo and a 196 MP PNG, default settings, 64x64
    python benchmarks/convert_memory.py --quick    # a 30 MP JPEG only

Each picture is made in a temporary folder (a smooth picture with noise, so it compresses but is not flat), then
a child process converts it with the Perler palette and prints its peak resident memory (ru_maxrss) after
loading, after converting to 64x64 and after a size-auto (pixel-art grid) attempt. The budget is 1.5 GB for any
accepted input.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MB = 1500

CHILD = r"""
import resource, sys
sys.path.insert(0, {root!r})
from engine.convert.pipeline import ConvertConfig, ConvertError, convert_image
from engine.core.image_io import load_image
from engine.core.palette_io import load_palette
pal = load_palette("perler")
if sys.argv[2] == "load":
    load_image(sys.argv[1])
elif sys.argv[2] == "auto":
    try:
        convert_image(sys.argv[1], pal, ConvertConfig(0, 0))
    except ConvertError:
        pass  # "not pixel art" is the expected answer; the memory it took is the figure
else:
    convert_image(sys.argv[1], pal, ConvertConfig(64, 64))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def make_picture(path: Path, width: int, height: int) -> None:
    """A smooth colourful picture with a little noise, written in the format of ``path``'s suffix."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (height // 256 + 2, width // 256 + 2, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR)
    if path.suffix == ".png":
        img.save(path, compress_level=1)
    else:
        img.save(path, quality=90)


def peak_mb(path: Path, what: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), str(path), what],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 30 MP JPEG only")
    args = parser.parse_args()
    cases = [("30 MP JPEG", "big.jpg", 6700, 4480)] if args.quick else [
        ("90 MP JPEG", "big.jpg", 11600, 7760), ("196 MP PNG", "huge.png", 14000, 14000)]
    with tempfile.TemporaryDirectory() as tmp:
        for label, name, w, h in cases:
            path = Path(tmp) / name
            make_picture(path, w, h)
            load, conv, auto = peak_mb(path, "load"), peak_mb(path, "convert"), peak_mb(path, "auto")
            verdict = "within" if max(conv, auto) <= BUDGET_MB else "OVER"
            print(f"{label} ({w}x{h}): peak {load} MB after loading, {conv} MB converting to 64x64, {auto} MB "
                  f"with size auto ({verdict} the {BUDGET_MB} MB budget)")
            path.unlink()


if __name__ == "__main__":
    main()
