"""The built-in emoji model (issue 22): size, training cost, per-path time at 32 x 32 and a retrieval score.

Times: the fast path (sample + map to the palette) and the SD-piXL path (score distillation through
``run_optimization``, default steps, started from a sample) at 32 x 32 on Perler, with one torch thread (what
``generate_builtin`` uses) against two threads (torch's default here: the baseline), median over the repeats.
Retrieval: for each prompt of the reference set (tests/data/builtin_reference.npz, 46 emoji classes, both sets'
pictures), the class of the nearest reference pictures to the generated design: top-1 and top-5 rate, against
chance (1/46, 5/46).

    python benchmarks/builtin_model.py [--repeats 3] [--sdpixl-prompts 10] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from engine.core.palette_io import load_palette  # noqa: E402
from engine.sdpixl.builtin.loading import BUILTIN_DIR, load_builtin_model  # noqa: E402
from engine.sdpixl.builtin.retrieval import ReferenceSet  # noqa: E402
from engine.sdpixl.builtin.run import DEFAULT_STEPS, generate_builtin  # noqa: E402
from engine.sdpixl.optimize import make_config  # noqa: E402

GOALS = {"fast": 5.0, "sdpixl": 30.0}  # seconds at 32 x 32 on two CPU cores (the goals)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_path(method: str, model, palette, prompt: str, seed: int, threads: int = 1):
    config = make_config("fast", prompt=prompt, palette=palette, width=32, height=32, seed=seed)
    return generate_builtin(config, method, model=model, threads=threads)


def retrieval(patterns: dict[str, object], reference: ReferenceSet) -> tuple[float, float]:
    top1 = top5 = 0
    for prompt, pattern in patterns.items():
        ranked = [p for p, _ in reference.ranking(pattern.to_rgba())]
        top1 += ranked[0] == prompt
        top5 += prompt in ranked[:5]
    return top1 / len(patterns), top5 / len(patterns)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sdpixl-prompts", type=int, default=10, help="prompts scored through SD-piXL (slow)")
    ap.add_argument("--quick", action="store_true", help="one repeat, 3 SD-piXL prompts")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.sdpixl_prompts = 1, 3
    model = load_builtin_model()
    palette = load_palette("perler")
    weights = BUILTIN_DIR / "model.safetensors"
    n_params = sum(p.numel() for p in model.net.parameters())
    extra = json.loads((BUILTIN_DIR / "config.json").read_text(encoding="utf-8")).get("extra", {})
    print(f"model: {weights.stat().st_size / 1e6:.2f} MB fp16 safetensors, {n_params / 1e6:.2f} M parameters, "
          f"{len(model.vocab)} words")
    print(f"training: {extra.get('steps')} steps, {extra.get('train_minutes')} min, final loss "
          f"{extra.get('final_loss')} ({extra.get('hardware', 'see the model card')})")

    print(f"\nper-path time at 32x32 (median of {args.repeats}; SD-piXL {DEFAULT_STEPS} steps):")
    for method in ("fast", "sdpixl"):
        row = {}
        for threads in (1, 2):
            times = [timed(lambda: run_path(method, model, palette, "a red apple", seed, threads))
                     for seed in range(args.repeats)]
            row[threads] = statistics.median(times)
        print(f"  {method:7s} 1 thread {row[1]:6.2f} s | 2 threads (torch default) {row[2]:6.2f} s | "
              f"1 thread is {row[2] / row[1]:.1f}x faster | goal {GOALS[method]:.0f} s: "
              f"{'met' if row[1] <= GOALS[method] else 'missed'}")

    reference = ReferenceSet.load(ROOT / "tests" / "data" / "builtin_reference.npz")
    prompts = list(dict.fromkeys(reference.prompts))
    n = len(prompts)
    print(f"\nretrieval over {n} reference classes (chance: top-1 {1 / n:.1%}, top-5 {5 / n:.1%}):")
    fast = {p: run_path("fast", model, palette, p, seed=0) for p in prompts}
    t1, t5 = retrieval(fast, reference)
    print(f"  fast path, all {n} prompts: top-1 {t1:.1%}, top-5 {t5:.1%}")
    some = prompts[:args.sdpixl_prompts]
    sds = {p: run_path("sdpixl", model, palette, p, seed=0) for p in some}
    t1, t5 = retrieval(sds, reference)
    f1, f5 = retrieval({p: fast[p] for p in some}, reference)
    print(f"  SD-piXL, first {len(some)} prompts: top-1 {t1:.1%}, top-5 {t5:.1%} "
          f"(fast path on the same prompts: {f1:.1%}, {f5:.1%})")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
