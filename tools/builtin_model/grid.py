"""Render a labelled grid of samples from a built-in model folder (the model card's picture).

    python tools/builtin_model/grid.py resources/models/emoji32 --out resources/models/emoji32/grid.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

PROMPTS = [
    "a red apple", "a banana", "a red heart", "a tomato", "a red fox", "a cat face", "a dog face", "a frog",
    "a penguin", "an owl", "a fish", "an octopus", "a butterfly", "a snail", "a turtle", "a unicorn",
    "a pizza", "a hamburger", "a cupcake", "a strawberry", "a watermelon", "a cherry", "a carrot", "a mushroom",
    "a sun", "a crescent moon", "a star", "a rainbow", "a snowman", "a cloud", "a fire", "a water drop",
    "a rose", "a sunflower", "a cactus", "a palm tree", "a christmas tree", "a four leaf clover", "a blossom",
    "a maple leaf", "a rocket", "a car", "a bicycle", "a sailboat", "a house", "a castle", "a robot", "a ghost",
    "a smiling face", "a crying face", "a sunglasses face", "a skull", "a crown", "a gem", "a key", "a bell",
    "a guitar", "a soccer ball", "a balloon", "a gift", "a green heart", "a blue heart", "a yellow star",
    "a purple grape",
]


def montage(pictures: np.ndarray, labels: list[str], cols: int = 8, scale: int = 3) -> Image.Image:
    """N x 32 x 32 x 4 (colour over white, alpha; floats) -> a labelled grid on white."""
    cell, label_h = 32 * scale, 12
    rows = (len(pictures) + cols - 1) // cols
    img = Image.new("RGB", (cols * (cell + 4), rows * (cell + label_h + 4)), "white")
    draw = ImageDraw.Draw(img)
    for i, (p, text) in enumerate(zip(pictures, labels)):
        rgb = (np.clip(p[..., :3], 0, 1) * 255).round().astype(np.uint8)
        tile = Image.fromarray(rgb).resize((cell, cell), Image.NEAREST)
        x, y = (i % cols) * (cell + 4), (i // cols) * (cell + label_h + 4)
        img.paste(tile, (x + 2, y + 2))
        draw.text((x + 2, y + cell + 2), text.removeprefix("a ").removeprefix("an ")[:16], fill=(0, 0, 0))
    return img


def main() -> None:
    import torch

    from engine.sdpixl.builtin.loading import load_builtin_model
    from engine.sdpixl.builtin.sampling import SampleConfig, sample_rgba

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--prompts", help="comma-separated prompts (default: the 64 of the model card)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance-scale", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_builtin_model(args.model)
    prompts = [p.strip() for p in args.prompts.split(",")] if args.prompts else PROMPTS
    pics = []
    for i, prompt in enumerate(prompts):
        cfg = SampleConfig(steps=args.steps, guidance_scale=args.guidance_scale, seed=args.seed + i)
        pics.append(sample_rgba(model, prompt, cfg)[0].permute(1, 2, 0).numpy())
    montage(np.stack(pics), prompts).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
