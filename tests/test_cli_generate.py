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
    (["--size", "14x10 furlongs"], "--size must look like"),
    (["--controlnet", "pose"], "unknown ControlNet"),
    (["--controlnet", "canny"], "needs an input image"),
    (["--palette", "no-such-palette"], "no-such-palette"),
])
def test_generate_bad_arguments_exit_2(tiny_root, tmp_path, capsys, extra, needle):
    model = build_cached("sd15", tiny_root)
    argv = _base(model, tmp_path / "x.pixl") + extra
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and needle in err and "Traceback" not in err
    assert not (tmp_path / "x.pixl").exists()


def test_generate_missing_model_exit_2(tmp_path, capsys):
    assert main(_base("nobody/absent-model", tmp_path / "x.pixl")) == 2
    err = capsys.readouterr().err
    assert "hf download nobody/absent-model" in err and "--model" in err


def test_generate_unwritable_output_exit_2(tiny_root, tmp_path, capsys):
    model = build_cached("sd15", tiny_root)
    assert main(_base(model, tmp_path / "no" / "such" / "dir" / "x.pixl")) == 2
    assert "does not exist" in capsys.readouterr().err


def test_progress_bar_on_a_terminal_shows_loading_in_the_bar():
    import io

    from app.cli.generate_cmd import ProgressBar
    from engine.core.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    err, out = Terminal(), io.StringIO()
    bar = ProgressBar(None, stream=err, notes=out)
    bar(Progress(0, 100, "loading the diffusion model"))
    bar(Progress(10, 100, "step 10/100", {"sds": 1.5, "entropy": 0.75}, 5.0, 45.0))
    assert out.getvalue() == ""
    assert "0/100  loading the diffusion model" in err.getvalue()
    assert "10/100  sds 1.5  entropy 0.75  5 s elapsed, ETA 45 s" in err.getvalue()
    bar.end_line()
    assert err.getvalue().endswith("\n")


def test_generate_help_says_controlnets_are_on_by_default(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "auto (default, the reference's): canny + depth" in text and "selected init sample" in text
    for flag in ("--owned", "--finishes", "--all-finishes", "--stash", "--set", "--max-colors", "--min-count",
                 "--all-colors"):
        assert flag in text


def test_text_only_run_keeps_its_work_and_follows_the_selected_sample(tiny_root, tmp_path, capsys):
    """Default ControlNets on the selected sample; progress for loading and sampling; entropy; checkpoint in the
    run folder, found by --resume; the latest preview beside the output; K colours from the sample, min count."""
    model = build_cached("sdxl", tiny_root)
    cn = build_cached("controlnet-sdxl", tiny_root)
    clip = build_cached("clip", tiny_root)
    dpt = build_cached("dpt", tiny_root)
    out = tmp_path / "fox.pixl"
    argv = _base(model, out, "--size", "16x16", "--init-samples", "2", "--init-sample-steps", "2", "--clip-model",
                 str(clip), "--controlnet-model", f"canny={cn}", "--controlnet-model", f"depth={cn}",
                 "--depth-model", str(dpt), "--preview-every", "2")
    assert main(argv) == 0
    captured = capsys.readouterr()
    pattern = Pattern.load(out)
    assert pattern.metadata["init"] == "sample" and pattern.metadata["controlnets"] == ["canny", "depth"]
    for needle in ("init: sampling candidate image 1/2", "loading the diffusion model"):
        assert needle + "\n" in captured.out, needle  # not a terminal: one plain line each on stdout
    assert "entropy" in captured.err and "ETA ?" not in captured.err
    counts = [n for _, _, n in pattern.color_counts()]
    assert len(counts) <= 32 and min(counts) >= 3  # the knee of the sample's colours; at least 3 cells each
    assert "from the selected init sample, at least 3 cells each" in captured.out
    ckpt = tmp_path / "fox.run" / "checkpoint.pt"
    assert ckpt.is_file()
    with Image.open(tmp_path / "fox.preview.png") as im:
        preview = np.asarray(im.convert("RGB"))
    scale = preview.shape[0] // 16
    assert np.array_equal(preview[::scale, ::scale], pattern.to_rgb())
    # --resume without a value finds the checkpoint beside the output and continues at step 4
    argv[argv.index("--steps") + 1] = "6"
    assert main(argv + ["--resume"]) == 0
    resumed = Pattern.load(out)
    assert resumed.metadata["steps"] == 6 and resumed.metadata["init"] == "random"  # logits from the checkpoint
    assert "--resume continues this run" in capsys.readouterr().out
    # a new run does not overwrite the earlier run's checkpoint
    assert main(argv) == 0
    assert (tmp_path / "fox.run" / "checkpoint-previous.pt").is_file()
    assert "is kept as" in capsys.readouterr().out
    assert main(_base(model, tmp_path / "none.pixl", "--resume")) == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_generate_honours_owned_colours_budget_and_stash(tiny_root, tmp_path, sample_image_path, capsys):
    model = build_cached("sd15", tiny_root)
    from engine.core.palette_io import load_palette

    perler = load_palette("perler")
    owned = [c.code for c in perler.colors if c.finish == "solid"][:12]
    out = tmp_path / "owned.pixl"
    assert main(_base(model, out, "--image", str(sample_image_path), "--owned", ",".join(owned),
                      "--max-colors", "4", "--min-count", "5")) == 0
    p = Pattern.load(out)
    codes = {c.code for _, c, _ in p.color_counts()}
    assert codes <= set(owned) and len(codes) <= 4
    assert min(n for _, _, n in p.color_counts()) >= 5
    stash = tmp_path / "stash.csv"
    stash.write_text("code,count\n" + "".join(f"{c},40\n" for c in owned[:6]), encoding="utf-8")
    out = tmp_path / "stash.pixl"
    assert main(_base(model, out, "--image", str(sample_image_path), "--stash", str(stash))) == 0
    p = Pattern.load(out)
    assert all(c.code in owned[:6] and n <= 40 for _, c, n in p.color_counts())
    capsys.readouterr()
    assert main(_base(model, tmp_path / "x.pixl", "--stash", str(stash), "--set", "31197")) == 2
    assert "either --stash or --set" in capsys.readouterr().err
