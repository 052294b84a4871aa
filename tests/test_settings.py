"""Run settings built in one place (engine.sdpixl.settings) and the maker's colour choices shared by convert,
generate and the app (engine.convert.colour_choice)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.convert.colour_choice import ColourBudget, ColourChoice, obey_budget, pick_colours, resolve_colours
from engine.convert.pipeline import ConvertError
from engine.core.color import srgb8_to_lab
from engine.core.palette_io import load_palette
from engine.sdpixl.optimize import OptimizeError
from engine.sdpixl.settings import (
    RunSettings,
    build_run_config,
    controlnet_kinds,
    format_duration,
    run_files,
)


def test_controlnets_default_to_the_references_pair(perler):
    config = build_run_config(RunSettings(prompt="a fox", palette=perler))
    assert [c.kind for c in config.guidance.controlnets] == ["canny", "depth"]
    assert all(c.scale == 0.15 for c in config.guidance.controlnets) and config.auto_controlnets
    off = build_run_config(RunSettings(prompt="a fox", palette=perler, controlnets="none"))
    assert off.guidance.controlnets == [] and not off.auto_controlnets
    asked = build_run_config(RunSettings(prompt="a fox", palette=perler, controlnets="depth",
                                         controlnet_sources={"depth": "my/depth"}))
    assert [(c.kind, c.source) for c in asked.guidance.controlnets] == [("depth", "my/depth")]
    assert not asked.auto_controlnets  # asked for: missing is an error, not a warning
    assert controlnet_kinds(["canny", "canny"]) == (("canny",), False)
    with pytest.raises(ValueError, match="unknown ControlNet 'pose'"):
        controlnet_kinds("canny,pose")


def test_settings_reach_the_run_config(perler, tmp_path):
    s = RunSettings(prompt="a fox", negative_prompt="blurry", palette=perler, width=20, height=12, steps=7, seed=4,
                    model="some/model", device="cpu", dtype="fp32", preset="reference", lora="x.safetensors",
                    lora_scale=0.5, guidance_scale=9.0, init_samples=2, init_sample_steps=3, clip_model="c/lip",
                    fft_weight=3.0, preview_every=0, guidance_mode="latent")
    c = build_run_config(s)
    assert (c.prompt, c.negative_prompt, c.width, c.height, c.steps, c.seed) == ("a fox", "blurry", 20, 12, 7, 4)
    g = c.guidance
    assert (g.model, g.device, g.dtype, g.lora, g.lora_scale, g.guidance_scale) == ("some/model", "cpu", "fp32",
                                                                                    "x.safetensors", 0.5, 9.0)
    assert (c.init_samples, c.sample_init.inference_steps, c.sample_init.clip_model) == (2, 3, "c/lip")
    assert c.fft_weight == 3.0 and c.preview_every == 1 and c.guidance_mode == "latent"
    assert c.colour_budget is None and c.palette is perler  # no colour choice: every colour, as before
    with pytest.raises(OptimizeError, match="--depth-image is only used"):
        build_run_config(RunSettings(prompt="a", palette=perler, controlnets="canny", depth_image="d.png"))


def test_colour_choices_resolve_like_convert(perler):
    c = build_run_config(RunSettings(prompt="a fox", palette=perler, colours=ColourChoice(max_colors=6)))
    assert c.colour_budget.max_colors == 6 and c.colour_budget.finishes == ("solid",)
    owned = build_run_config(RunSettings(prompt="a fox", palette=perler,
                                         colours=ColourChoice(owned=tuple(perler.codes[:5]))))
    assert list(owned.palette.codes) == list(perler.codes[:5])
    lego = load_palette("lego")
    r = resolve_colours(lego, ColourChoice(lego_set="31197"))
    assert r.budget.stash and sum(r.budget.stash.values()) > 1000 and "31197" in r.notes[0]
    assert set(r.palette.codes) == set(r.budget.stash)
    with pytest.raises(OptimizeError, match="either --stash or --set"):
        build_run_config(RunSettings(prompt="a", palette=lego, colours=ColourChoice(stash_file="s.csv",
                                                                                   lego_set="31197")))
    with pytest.raises(ConvertError, match="max colours"):
        resolve_colours(perler, ColourChoice(max_colors=0))
    neon = [c.code for c in perler.colors if c.finish == "neon"]
    assert neon  # the neon beads are left out unless asked for
    picked = pick_colours(np.full((8, 8, 3), 200, np.uint8), perler, ColourBudget(), 8, 8)
    assert not set(picked.codes) & set(neon) and len(picked) == 1


def test_pick_colours_takes_k_colours_from_the_picture(perler, sample_image_path):
    from PIL import Image

    picture = np.asarray(Image.open(sample_image_path).convert("RGB"))
    k4 = pick_colours(picture, perler, ColourBudget(max_colors=4), 16, 16)
    assert 1 <= len(k4) <= 4 and set(k4.codes) <= set(perler.codes)
    auto = pick_colours(picture, perler, ColourBudget(), 16, 16)
    assert 2 <= len(auto) <= 32  # the knee, not the palette's 103 colours
    every = pick_colours(picture, perler, ColourBudget(all_colors=True), 16, 16)
    assert len(every) == len(perler.with_finishes())


def test_obey_budget_folds_rare_colours_and_respects_the_stash(perler):
    rng = np.random.default_rng(0)
    index = rng.integers(0, 40, size=(16, 16))  # 40 colours sprinkled over 256 cells: many used 1-10 times
    target = srgb8_to_lab((np.asarray(perler.rgb)[index] * 255).round().astype(np.uint8))
    out, merged = obey_budget(index, target, perler, ColourBudget(min_count=12))
    counts = np.bincount(out.ravel(), minlength=len(perler))
    assert merged and counts[counts > 0].min() >= 12
    stash = {perler[i].code: 100 for i in range(3)}
    out, _ = obey_budget(index, target, perler, ColourBudget(stash=stash, min_count=1))
    counts = np.bincount(out.ravel(), minlength=len(perler))
    assert set(np.flatnonzero(counts)) <= {0, 1, 2} and counts.max() <= 100


def test_one_time_format_and_run_files(tmp_path):
    assert [format_duration(s) for s in (None, 0.4, 42, 185, 3720)] == ["?", "0 s", "42 s", "3 min 05 s",
                                                                        "1 h 02 min"]
    files = run_files(tmp_path / "fox.pixl")
    assert files.checkpoint == tmp_path / "fox.run" / "checkpoint.pt"
    assert files.preview == tmp_path / "fox.preview.png"


def test_the_cli_and_the_app_build_the_same_config(perler, monkeypatch):
    """generate's arguments and the app's panel settings give the same RunConfig for the same choices."""
    import argparse

    from app.cli import generate_cmd
    from app.gui.input_panel import JobSettings
    from app.gui.main_window import build_run_config as app_build

    parser = argparse.ArgumentParser()
    generate_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["generate", "--prompt", "a fox", "--palette", "perler", "--size", "20x12",
                              "--steps", "300", "--seed", "5", "--controlnet", "none", "--all-colors",
                              "--all-finishes", "--preview-every", "1", "--checkpoint-every", "0", "--out", "x.pixl"])
    cli = generate_cmd.build_config(args)
    js = JobSettings(mode="sdpixl", width=20, height=12, prompt="a fox", seed=5,
                     sdpixl={"preset": "fast", "steps": 300})
    app = app_build(js, perler, None, "", "auto")
    for name in ("prompt", "width", "height", "steps", "seed", "preview_every", "guidance_mode", "lr", "warmup"):
        assert getattr(cli, name) == getattr(app, name), name
    assert cli.guidance == app.guidance
