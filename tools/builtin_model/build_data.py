"""Build the built-in model's training set from permissively licensed colour emoji (never run by CI or tests).

Sources (fetched with the ordinary npm client into a folder OUTSIDE the repository):

    mkdir -p /work/data/emoji && cd /work/data/emoji
    npm pack emoji-datasource-google emoji-datasource-twitter cldr-annotations-modern
    for p in google twitter; do mkdir -p $p && tar -xzf emoji-datasource-$p-*.tgz -C $p \\
        --wildcards 'package/img/*/64/*' package/emoji.json package/LICENSE package/README.md; done
    mkdir -p cldr && tar -xzf cldr-annotations-modern-*.tgz -C cldr --wildcards 'package/annotations/en/*' \\
        package/LICENSE
    python tools/builtin_model/build_data.py /work/data/emoji --out /work/data/emoji/emoji32.npz

Licences (the npm packages' own MIT licence covers their code and JSON, not the pictures):
- Noto Emoji images (Google): Apache-2.0.
- Twemoji graphics (Twitter, now jdecked/twemoji): CC-BY-4.0 (attribution in the model card).
- CLDR annotations (English keywords, Unicode, Inc.): Unicode-3.0.

Country and subdivision flags are left out (260 striped rectangles that would take a large share of a small
model's training for little use in bead art). Skin-tone variants are skipped (the base emoji stays); gender
variants are separate emoji whose names say "man"/"woman"/"person", so they stay, labelled by their own words.
Every image becomes 32 x 32 RGBA by a 2 x 2 area average of premultiplied colour (so transparent pixels never
bleed their hidden colour into edges).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

SETS = {"google": "Noto Emoji (Google), Apache-2.0", "twitter": "Twemoji (Twitter / jdecked), CC-BY-4.0"}
STOPWORDS = frozenset("a an the of with and or in on at to for by from its it is as this that".split())
SKIP_SUBCATEGORIES = frozenset({"country-flag", "subdivision-flag"})  # 260 near-identical rectangles: not for beads
MAX_WORDS = 24
SIZE = 32


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words of ``text`` (stop words dropped)."""
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w and w not in STOPWORDS]


def emoji_char(unified: str) -> str:
    return "".join(chr(int(part, 16)) for part in unified.split("-"))


def cldr_keywords(root: Path) -> dict[str, list[str]]:
    """emoji (without FE0F) -> CLDR English keywords and spoken name."""
    path = root / "cldr" / "package" / "annotations" / "en" / "annotations.json"
    if not path.is_file():
        return {}
    table = json.loads(path.read_text(encoding="utf-8"))["annotations"]["annotations"]
    return {k.replace("\ufe0f", ""): v.get("default", []) + v.get("tts", []) for k, v in table.items()}


def caption_words(entry: dict, keywords: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """(name words, all words) of one emoji: name, CLDR keywords, short names, sub-category and category."""
    name = words(entry.get("name") or "")
    extra: list[str] = []
    for kw in keywords.get(emoji_char(entry["unified"]).replace("\ufe0f", ""), []):
        extra += words(kw)
    for short in entry.get("short_names") or []:
        extra += [w for w in words(short) if len(w) > 2]
    extra += words(entry.get("subcategory") or "") + words(entry.get("category") or "")
    allw = list(dict.fromkeys(name + extra))[:MAX_WORDS]
    return list(dict.fromkeys(name)), allw


def load_64(path: Path) -> np.ndarray:
    """64 x 64 RGBA float in [0, 1] (pictures of another size are resized to 64 first)."""
    img = Image.open(path).convert("RGBA")
    if img.size != (64, 64):
        img = img.resize((64, 64), Image.LANCZOS)
    return np.asarray(img, dtype=np.float32) / 255.0


def downsample_premultiplied(rgba: np.ndarray, factor: int = 2) -> np.ndarray:
    """Area average with premultiplied alpha, back to straight RGBA (transparent pixels: RGB 0)."""
    h, w = rgba.shape[:2]
    pre = np.concatenate([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], axis=-1)
    pre = pre.reshape(h // factor, factor, w // factor, factor, 4).mean(axis=(1, 3))
    alpha = pre[..., 3:]
    rgb = np.where(alpha > 1e-6, pre[..., :3] / np.maximum(alpha, 1e-6), 0.0)
    return np.concatenate([np.clip(rgb, 0, 1), alpha], axis=-1)


def build(root: Path) -> dict[str, np.ndarray]:
    """Read both sets under ``root`` and return the arrays of the .npz."""
    keywords = cldr_keywords(root)
    images, caps, names, cats, sources, codes = [], [], [], [], [], []
    for si, (src, _) in enumerate(SETS.items()):
        table = json.loads((root / src / "package" / "emoji.json").read_text(encoding="utf-8"))
        folder = root / src / "package" / "img" / src / "64"
        for entry in table:
            if entry.get("category") == "Component" or entry.get("subcategory") in SKIP_SUBCATEGORIES:
                continue
            if not entry.get(f"has_img_{src}"):
                continue
            path = folder / entry["image"]
            if not path.is_file():
                continue
            name_w, all_w = caption_words(entry, keywords)
            small = downsample_premultiplied(load_64(path))
            images.append((small * 255.0).round().astype(np.uint8))
            caps.append((name_w, all_w))
            names.append((entry.get("name") or entry["short_name"]).lower())
            cats.append(entry.get("category") or "")
            sources.append(si)
            codes.append(entry["unified"])
    counts = Counter(w for _, all_w in caps for w in all_w)
    vocab = ["<pad>", "<start>"] + sorted(counts)
    index = {w: i for i, w in enumerate(vocab)}
    tokens = np.zeros((len(caps), MAX_WORDS), dtype=np.int16)
    n_name = np.zeros(len(caps), dtype=np.int8)
    for i, (name_w, all_w) in enumerate(caps):
        order = name_w + [w for w in all_w if w not in name_w]
        order = order[:MAX_WORDS]
        tokens[i, :len(order)] = [index[w] for w in order]
        n_name[i] = min(len(name_w), MAX_WORDS)
    return {"images": np.stack(images), "tokens": tokens, "n_name": n_name, "vocab": np.array(vocab),
            "names": np.array(names), "categories": np.array(cats), "source": np.array(sources, dtype=np.int8),
            "codes": np.array(codes), "sets": np.array(list(SETS.values()))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="folder with the unpacked npm packages (see this file's docstring)")
    ap.add_argument("--out", type=Path, required=True, help="output .npz (outside the repository)")
    args = ap.parse_args()
    data = build(args.root)
    np.savez_compressed(args.out, **data)
    print(f"{len(data['images'])} images, {len(data['vocab'])} words -> {args.out}")


if __name__ == "__main__":
    main()
