"""Retrieval among reference emoji: which training pictures a generated design is nearest to (test and benchmark).

Pictures are compared as coarse layouts: colour over white and alpha, area-averaged to 8 x 8, L2 distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

POOL = 8


def features(rgba: np.ndarray) -> np.ndarray:
    """H x W x 4 straight RGBA uint8 (H, W multiples of ``POOL`` after resizing) -> a flat feature vector."""
    from PIL import Image

    arr = np.asarray(rgba)
    if arr.shape[:2] != (32, 32):
        arr = np.asarray(Image.fromarray(arr, "RGBA").resize((32, 32), Image.NEAREST))
    x = arr.astype(np.float64) / 255.0
    a = x[..., 3:]
    comp = np.concatenate([x[..., :3] * a + (1.0 - a), a], axis=-1)
    f = 32 // POOL
    return comp.reshape(POOL, f, POOL, f, 4).mean(axis=(1, 3)).ravel()


@dataclass
class ReferenceSet:
    """Reference pictures with the prompt of their class."""

    images: np.ndarray  # N x 32 x 32 x 4 uint8
    prompts: list[str]

    @classmethod
    def load(cls, path: str | Path) -> "ReferenceSet":
        d = np.load(path)
        return cls(d["images"], [str(p) for p in d["prompts"]])

    def ranking(self, rgba: np.ndarray) -> list[tuple[str, float]]:
        """Classes by their nearest reference picture to ``rgba``: [(prompt, distance), ...], nearest first."""
        q = features(rgba)
        best: dict[str, float] = {}
        for img, prompt in zip(self.images, self.prompts):
            d = float(np.linalg.norm(features(img) - q))
            best[prompt] = min(d, best.get(prompt, np.inf))
        return sorted(best.items(), key=lambda kv: kv[1])
