"""CLI basics that need no model: palette listing and clear one-line errors."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_palettes_lists_shipped_palettes():
    res = run_cli("palettes")
    assert res.returncode == 0
    keys = {line.split()[0] for line in res.stdout.splitlines()[1:]}
    assert {"perler", "hama", "lego", "dmc", "brother_pec"} <= keys


def test_palette_colours_listing():
    res = run_cli("palettes", "grayscale4")
    assert res.returncode == 0
    assert "#000000" in res.stdout and "#FFFFFF" in res.stdout


def test_unknown_palette_is_one_clear_line():
    res = run_cli("palettes", "nope")
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: unknown palette 'nope'")
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_unknown_word_is_neither_command_nor_file():
    res = run_cli("no-such-picture.jpg")
    assert res.returncode == 2
    assert "neither a command nor an existing file" in res.stderr and "Traceback" not in res.stderr
