"""`python main.py generate` end to end with the tiny model folders (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tiny_models import build_cached

from engine.core.pattern import Pattern
from main import main


def _base(model, out, *extra):
    return ["generate", "--prompt", "a lighthouse", "--palette", "perler", "--size", "14x10", "--steps", "4",
            "--model", str(model), "--seed", "3", "--device", "cpu", "--out", str(out), *extra]


def test_generate_end_to_end(tiny_root, tmp_path, sample_image_path, capsys):
    model = build_cached("sdxl", tiny_root)
    cn = build_cached("controlnet-sdxl", tiny_root)
    out = tmp_path / "light.pixl"
    frames = tmp_path / "frames"
    ckpt = tmp_path / "light.ckpt"
    code = main(_base(model, out, "--image", str(sample_image_path), "--controlnet", "canny",
                      "--controlnet-model", f"canny={cn}", "--frames", str(frames), "--preview-every", "2",
                      "--checkpoint", str(ckpt)))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    pattern = Pattern.load(out)
    assert pattern.shape == (10, 14)
    assert pattern.palette.key == "perler"
    assert set(np.unique(pattern.index)) <= set(range(len(pattern.palette)))
    assert pattern.metadata["prompt"] == "a lighthouse" and pattern.metadata["seed"] == 3
    assert pattern.metadata["steps"] == 4 and pattern.metadata["source_image"] == sample_image_path.name
    assert "[" in captured.err and "4/4" in captured.err  # the progress bar is on stderr
    assert f"wrote {out}" in captured.out
    pngs = sorted(frames.glob("*.png"))
    assert [p.name for p in pngs] == ["frame_000002.png", "frame_000004.png"]
    with Image.open(pngs[-1]) as im:
        assert im.size[0] / im.size[1] == pytest.approx(14 / 10)
        frame = np.asarray(im.convert("RGB"))
    scale = im.size[0] // 14
    assert np.array_equal(frame[::scale, ::scale], pattern.to_rgb())
    assert ckpt.is_file()

    # Resume from the checkpoint with more steps: continues at step 4.
    out2 = tmp_path / "more.pixl"
    argv = _base(model, out2, "--image", str(sample_image_path), "--controlnet", "canny", "--controlnet-model",
                 f"canny={cn}", "--resume", str(ckpt))
    argv[argv.index("--steps") + 1] = "6"
    assert main(argv) == 0
    assert Pattern.load(out2).metadata["steps"] == 6


def test_generate_with_sd15_lora_and_text_only(tiny_root, tmp_path, capsys):
    pytest.importorskip("peft")
    model = build_cached("sd15", tiny_root)
    lora = build_cached("lora-sd15", tiny_root)
    out = tmp_path / "text.pixl"
    clip = build_cached("clip", tiny_root)
    code = main(_base(model, out, "--lora", str(lora), "--lora-scale", "0.8", "--preset", "reference",
                      "--init-samples", "2", "--init-sample-steps", "2", "--clip-model", str(clip)))
    assert code == 0, capsys.readouterr().err
    pattern = Pattern.load(out)
    assert pattern.metadata["init"] == "sample" and pattern.shape == (10, 14)
    out = tmp_path / "random.pixl"
    assert main(_base(model, out, "--init-samples", "0")) == 0
    assert Pattern.load(out).metadata["init"] == "random"


@pytest.mark.parametrize("extra,needle", [
    (["--size", "14by10"], "--size must look like"),
    (["--controlnet", "pose"], "unknown ControlNet"),
    (["--controlnet", "canny"], "needs an input image"),
    (["--palette", "no-such-palette"], "no-such-palette"),
])
def test_generate_bad_arguments_exit_2(tiny_root, tmp_path, capsys, extra, needle):
    model = build_cached("sd15", tiny_root)
    argv = _base(model, tmp_path / "x.pixl") + extra
    assert main(argv) == 2
    err = capsys.readouterr().err
    # the error is one line of its own (after any progress line: model loading is reported before it)
    assert err.splitlines()[-1].startswith("error:") and needle in err and "Traceback" not in err
    assert not (tmp_path / "x.pixl").exists()


def test_generate_missing_model_exit_2(tmp_path, capsys):
    assert main(_base("nobody/absent-model", tmp_path / "x.pixl")) == 2
    err = capsys.readouterr().err
    assert "hf download nobody/absent-model" in err and "--model" in err


def test_generate_unwritable_output_exit_2(tiny_root, tmp_path, capsys):
    model = build_cached("sd15", tiny_root)
    assert main(_base(model, tmp_path / "no" / "such" / "dir" / "x.pixl")) == 2
    assert "does not exist" in capsys.readouterr().err
