"""`python main.py convert`: real subprocess runs, files read back, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.core.pattern import Pattern

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "chelsea.jpg"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "convert", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_convert_writes_project_and_png(tmp_path):
    out, png = tmp_path / "cat.pixl", tmp_path / "cat.png"
    res = _run(str(SAMPLE), "--palette", "perler", "--size", "36x24", "--cleanup", "0.5", "--dither", "fs",
               "--max-colors", "12", "--out", str(out), "--png", str(png), "--scale", "5")
    assert res.returncode == 0, res.stderr
    pat = Pattern.load(out)
    assert pat.shape == (24, 36) and pat.palette.key == "perler"
    assert len(pat.used_indices()) <= 12
    assert pat.metadata["convert"]["dither"] == "floyd-steinberg" and pat.metadata["convert"]["cleanup"] == 0.5
    with Image.open(png) as im:
        assert im.size == (180, 120)
        arr = np.asarray(im.convert("RGBA"))
    np.testing.assert_array_equal(arr[::5, ::5], pat.to_rgba())
    # the summary names size, colour count and each colour with code, count and name
    assert "36x24 cells" in res.stdout
    for _, color, count in pat.color_counts():
        assert any(color.code in line and str(count) in line and color.name in line for line in res.stdout.splitlines())
    assert not list(tmp_path.glob("*.part"))


def test_sizes_in_boards_owned_colours_and_dominant_mode(tmp_path):
    out = tmp_path / "b.pixl"
    from engine.core.palette_io import load_palette
    codes = load_palette("perler").codes[:6]
    res = _run(str(SAMPLE), "--palette", "perler", "--owned", ",".join(codes), "--size", "1x1boards",
               "--mode", "dominant", "--fit", "pad", "--out", str(out))
    assert res.returncode == 0, res.stderr
    pat = Pattern.load(out)
    assert pat.shape == (29, 29)  # one midi pegboard
    assert set(pat.palette.codes) == set(codes)
    assert pat.empty is not None  # letterboxed


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.png", "--palette", "perler", "--size", "10x10"], "not found"),
        ([str(ROOT / "main.py"), "--palette", "perler", "--size", "10x10"], "not a picture"),
        ([str(SAMPLE), "--palette", "no_such_palette", "--size", "10x10"], "unknown palette"),
        ([str(SAMPLE), "--palette", "perler", "--size", "ten"], "bad size"),
    ],
)
def test_errors_are_one_clear_line(tmp_path, args, message):
    out = tmp_path / "x.pixl"
    res = _run(*args, "--out", str(out))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--size", "0x5"], "1 to"),
        (["--size", "2x2boards", "--palette", "dmc"], "no board"),
        (["--cleanup", "3"], "cleanup"),
        (["--dither-strength", "1.5"], "dither strength"),
        (["--owned", "NOT-A-CODE"], "not in palette"),
        (["--max-colors", "0"], "max colours"),
    ],
)
def test_more_errors_in_process(tmp_path, capsys, args, message):
    """The same entry point as the subprocess runs (main.main), without paying the start-up each time."""
    from main import main

    base = {"--palette": "perler", "--size": "10x10"}
    extra = dict(zip(args[::2], args[1::2]))
    argv = ["convert", str(SAMPLE), "--out", str(tmp_path / "x.pixl")]
    for key, value in {**base, **extra}.items():
        argv += [key, value]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err
    assert not (tmp_path / "x.pixl").exists()


def test_output_folder_must_exist(tmp_path, capsys):
    from main import main

    code = main(["convert", str(SAMPLE), "--palette", "perler", "--size", "8x8",
                 "--out", str(tmp_path / "nope" / "x.pixl")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
