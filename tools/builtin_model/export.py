"""Write the shipped model folder from a training checkpoint's EMA weights (fp16 safetensors, config, vocabulary).

    python tools/builtin_model/export.py /work/data/emoji/run1/checkpoint.pt --out resources/models/emoji32
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    from safetensors.torch import save_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--raw", action="store_true", help="export the raw weights instead of the EMA")
    args = ap.parse_args()
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    weights = state["model" if args.raw else "ema"]
    config = dict(state["config"])
    config["extra"] = {**config.get("extra", {}), "steps": int(state["step"]),
                       "train_minutes": round(float(state.get("wall", 0.0)) / 60, 1),
                       "final_loss": round(float(state.get("loss") or 0.0), 4), "weights": "raw" if args.raw else "ema"}
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in weights.items()}, str(args.out / "model.safetensors"),
              metadata={"format": "pt"})
    (args.out / "config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    (args.out / "vocab.json").write_text(json.dumps(state["vocab"], ensure_ascii=False) + "\n", encoding="utf-8")
    for path in args.out.iterdir():
        path.chmod(0o644)
    size = (args.out / "model.safetensors").stat().st_size
    print(f"step {state['step']}: wrote {args.out} ({size / 1e6:.2f} MB weights)")


if __name__ == "__main__":
    main()
