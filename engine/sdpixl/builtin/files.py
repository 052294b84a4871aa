"""Where the built-in model's files are, and whether they are installed (no torch: the app asks at start)."""

from __future__ import annotations

from pathlib import Path

BUILTIN_NAME = "emoji32"
BUILTIN_DIR = Path(__file__).resolve().parents[3] / "resources" / "models" / BUILTIN_NAME
FILES = ("config.json", "vocab.json", "model.safetensors")


def builtin_installed(folder: Path = BUILTIN_DIR) -> bool:
    """True when every file of the built-in model is in ``folder``."""
    return all((folder / name).is_file() for name in FILES)
