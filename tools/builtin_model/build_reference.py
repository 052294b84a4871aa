"""Write the retrieval reference set (a few dozen training emoji, both styles) used by the built-in model's test
and benchmark: ``tests/data/builtin_reference.npz`` (images N x 32 x 32 x 4 straight RGBA uint8, their class
prompt, the emoji name and the set). Needs the training set from build_data.py; CI never runs this.

    python tools/builtin_model/build_reference.py /work/data/emoji/emoji32.npz --out tests/data/builtin_reference.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

# (the prompt a user would type, the emoji's Unicode name in the training set)
CLASSES = [
    ("a red apple", "red apple"), ("a green apple", "green apple"), ("a banana", "banana"),
    ("a red heart", "heavy black heart"), ("a tomato", "tomato"), ("a fox", "fox face"), ("a cat face", "cat face"),
    ("a dog face", "dog face"), ("a frog", "frog face"), ("a penguin", "penguin"), ("a fish", "fish"),
    ("a hamburger", "hamburger"), ("a strawberry", "strawberry"), ("a watermelon", "watermelon"),
    ("cherries", "cherries"), ("a carrot", "carrot"), ("a sun", "black sun with rays"),
    ("a crescent moon", "crescent moon"), ("a star", "white medium star"), ("a rainbow", "rainbow"),
    ("a snowman", "snowman without snow"), ("fire", "fire"), ("a rose", "rose"), ("a sunflower", "sunflower"),
    ("a cactus", "cactus"), ("a christmas tree", "christmas tree"), ("a rocket", "rocket"),
    ("a house", "house building"), ("a ghost", "ghost"), ("a skull", "skull"), ("a crown", "crown"),
    ("a gem", "gem stone"), ("a soccer ball", "soccer ball"), ("a balloon", "balloon"), ("grapes", "grapes"),
    ("a mushroom", "mushroom"), ("an octopus", "octopus"), ("a turtle", "turtle"), ("a butterfly", "butterfly"),
    ("a lemon", "lemon"), ("a blue heart", "blue heart"), ("a green heart", "green heart"),
    ("a yellow heart", "yellow heart"), ("a purple heart", "purple heart"), ("an owl", "owl"),
    ("a four leaf clover", "four leaf clover"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    d = np.load(args.data)
    names = [str(n) for n in d["names"]]
    images, prompts, emoji, source = [], [], [], []
    for prompt, name in CLASSES:
        idx = [i for i, n in enumerate(names) if n == name]
        if not idx:
            raise SystemExit(f"no emoji named {name!r} in {args.data}")
        for i in idx:
            images.append(d["images"][i])
            prompts.append(prompt)
            emoji.append(name)
            source.append(int(d["source"][i]))
    np.savez_compressed(args.out, images=np.stack(images), prompts=np.array(prompts), names=np.array(emoji),
                        source=np.array(source, dtype=np.int8), sets=d["sets"])
    print(f"{len(images)} images of {len(CLASSES)} classes -> {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
