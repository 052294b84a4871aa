"""The built-in emoji model (issue 22): its files, its vocabulary, the fast path, and SD-piXL against the real
shipped weights, checked by retrieval among training emoji (tests/data/builtin_reference.npz)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.core.palette_io import load_palette
from engine.core.pattern import Pattern
from engine.sdpixl.builtin.guidance import BuiltinGuidance, BuiltinGuidanceConfig, to_model_input
from engine.sdpixl.builtin.loading import BUILTIN_DIR, load_builtin_model
from engine.sdpixl.builtin.retrieval import ReferenceSet
from engine.sdpixl.builtin.run import fast_pattern, generate_builtin, unknown_words
from engine.sdpixl.builtin.vocab import Vocabulary, edit_distance
from engine.sdpixl.guidance.loading import ModelLoadError
from engine.sdpixl.optimize import OptimizeError, make_config

REFERENCE = Path(__file__).parent / "data" / "builtin_reference.npz"
SDS_STEPS = 100  # per prompt; the whole SD-piXL check stays well under a minute on two CPU cores


@pytest.fixture(scope="module")
def model():
    return load_builtin_model()


@pytest.fixture(scope="module")
def perler():
    return load_palette("perler")


@pytest.fixture(scope="module")
def reference():
    return ReferenceSet.load(REFERENCE)


# ----------------------------------------------------------------------------- files
def test_shipped_weights_are_fp16_safetensors_that_fit_the_config(model):
    from safetensors import safe_open

    path = BUILTIN_DIR / "model.safetensors"
    assert path.stat().st_size < 40e6
    state = model.net.state_dict()
    with safe_open(str(path), "pt") as f:
        keys = set(f.keys())
        assert keys == set(state)
        for key in sorted(keys)[:: max(1, len(keys) // 20)]:
            stored = f.get_tensor(key)
            assert stored.dtype == torch.float16
            assert torch.equal(stored.float(), state[key])
    words = json.loads((BUILTIN_DIR / "vocab.json").read_text(encoding="utf-8"))
    assert words[:2] == ["<pad>", "<start>"] and len(words) == model.config.vocab_size
    assert len(model.vocab) == len(words) - 2 and "apple" in model.vocab and "banana" in model.vocab
    assert (BUILTIN_DIR / "README.md").is_file()


def test_an_incomplete_or_inconsistent_model_folder_is_one_clear_error(tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(BUILTIN_DIR, broken)
    (broken / "vocab.json").unlink()
    with pytest.raises(ModelLoadError, match="lacks vocab.json"):
        load_builtin_model(broken)
    words = json.loads((BUILTIN_DIR / "vocab.json").read_text(encoding="utf-8"))
    (broken / "vocab.json").write_text(json.dumps(words[:-5]), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="inconsistent"):
        load_builtin_model(broken)


# ----------------------------------------------------------------------------- words
def test_vocabulary_encodes_known_words_and_names_the_others():
    vocab = Vocabulary(["<pad>", "<start>", "apple", "red", "fox", "cherry", "heart"], max_words=4)
    enc = vocab.encode("A red Apples and a zeppelin, cherries!")
    assert enc.known == ["red", "apple", "cherry"] and enc.unknown == ["zeppelin"]
    assert enc.ids == [1, 3, 2, 5, 0]
    assert vocab.encode("").ids == [1, 0, 0, 0, 0]
    assert vocab.nearest("foxx")[0] == "fox" and edit_distance("kitten", "sitting") == 3
    msg = vocab.unknown_message(["zeppelin"])
    assert msg.startswith("the built-in model knows 5 words; 'zeppelin' is not one of them (nearest: ")
    assert "'zeppelin' and 'pikachu' are not among them" in vocab.unknown_message(["zeppelin", "pikachu"])


def test_the_shipped_model_reports_words_it_does_not_know(model):
    unknown, message = unknown_words("a red zeppelin", model)
    assert unknown == ["zeppelin"]
    assert message.startswith(f"the built-in model knows {len(model.vocab)} words; 'zeppelin' is not one of them")
    assert unknown_words("a red apple", model) == ([], None)
    config = make_config("fast", prompt="a zeppelin", palette=load_palette("perler"), width=8, height=8)
    with pytest.raises(OptimizeError, match="'zeppelin' is not one of them"):
        generate_builtin(config, "fast", model=model)


# ----------------------------------------------------------------------------- fast path
def _palette_exact(pattern: Pattern, palette) -> bool:
    rgb = pattern.to_rgb()[~pattern.empty_mask]
    allowed = {tuple(c) for c in palette.rgb8}
    return all(tuple(c) in allowed for c in rgb)


def test_fast_path_maps_a_sample_to_the_palette_with_alpha_as_empty_cells(model, perler):
    pattern, picture = fast_pattern("a red apple", perler, 32, 32, seed=3, model=model)
    assert pattern.shape == (32, 32) and pattern.palette.key == "perler"
    assert np.array_equal(pattern.empty_mask, picture[3].numpy() < 0.5)
    assert 0 < pattern.filled_cells < 32 * 32
    assert _palette_exact(pattern, perler)
    assert pattern.metadata["method"] == "builtin-fast" and pattern.metadata["seed"] == 3
    wide, _ = fast_pattern("a red apple", perler, 24, 16, seed=3, model=model)
    assert wide.shape == (16, 24)
    assert wide.empty_mask[:, :4].all() and wide.empty_mask[:, -4:].all()  # the square sample, centred


# ----------------------------------------------------------------------------- SD-piXL
def test_guidance_letterboxes_the_design_and_sends_gradient_to_colour_and_alpha(model):
    rgb = torch.full((1, 3, 8, 16), 0.2, requires_grad=True)
    alpha = torch.ones(1, 1, 8, 16)
    x = to_model_input(rgb, alpha, 32)
    assert x.shape == (1, 4, 32, 32)
    assert torch.allclose(x[0, :3, :8], torch.ones(3, 8, 32)) and torch.allclose(x[0, 3, :8], -torch.ones(8, 32))
    assert torch.allclose(x[0, :3, 8:24], torch.full((3, 16, 32), -0.6))
    guidance = BuiltinGuidance(BuiltinGuidanceConfig(prompt="a red apple", seed=1), model, 8, 16)
    out = guidance(rgb, 0.1)
    out["loss_sds"].backward()
    assert rgb.grad is not None and rgb.grad.abs().sum() > 0
    assert guidance.alpha_logits.grad is not None and guidance.alpha_logits.grad.abs().sum() > 0
    before = guidance.alpha_logits.detach().clone()
    guidance(rgb.detach(), 0.2)  # the next call applies the alpha's step
    assert not torch.equal(before, guidance.alpha_logits.detach())
    assert guidance.empty_mask().shape == (8, 16)


def _sdpixl(model, palette, prompt: str, seed: int = 0) -> Pattern:
    config = make_config("fast", prompt=prompt, palette=palette, width=32, height=32, seed=seed)
    return generate_builtin(config, "sdpixl", steps=SDS_STEPS, model=model)


def test_sdpixl_with_the_builtin_model_draws_what_the_prompt_says(model, perler, reference):
    """The real model through the real SD-piXL loop: "a red apple" lands nearer the apples among the training
    emoji than the bananas, hearts or tomatoes; "a banana" nearer the bananas than the apples."""
    apple = _sdpixl(model, perler, "a red apple")
    near = dict(reference.ranking(apple.to_rgba()))
    apples = min(near["a red apple"], near["a green apple"])
    assert apples < min(near["a banana"], near["a red heart"], near["a tomato"]), near
    banana = dict(reference.ranking(_sdpixl(model, perler, "a banana").to_rgba()))
    assert banana["a banana"] < min(banana["a red apple"], banana["a green apple"]), banana


def test_sdpixl_with_the_builtin_model_follows_the_prompt_better_than_chance(model, perler, reference):
    """The real model through the real SD-piXL loop, 5 prompts x 2 seeds: the prompt's own class ranks, among the
    46 reference classes, better on average than chance (22.5), which a model ignoring the prompt would give."""
    first = _sdpixl(model, perler, "a red apple")
    assert first.metadata["method"] == "builtin-sd-pixl" and first.metadata["steps"] == SDS_STEPS
    assert first.metadata["model"] == "builtin:emoji32" and first.metadata["init"] == "sample"
    assert _palette_exact(first, perler) and 0 < first.filled_cells < 32 * 32
    ranks = []
    for prompt in ("a red apple", "a banana", "a red heart", "a blue heart", "a yellow heart"):
        for seed in (0, 1):
            pattern = first if (prompt, seed) == ("a red apple", 0) else _sdpixl(model, perler, prompt, seed)
            ranks.append([p for p, _ in reference.ranking(pattern.to_rgba())].index(prompt))
    chance = (len(set(reference.prompts)) - 1) / 2
    assert np.mean(ranks) < chance, ranks


# ----------------------------------------------------------------------------- the command line
def test_generate_without_a_model_uses_the_builtin_one(tmp_path, capsys, caplog):
    from main import main

    out = tmp_path / "fox.pixl"
    argv = ["generate", "--prompt", "a red fox and a zeppelin", "--palette", "perler", "--size", "32x32",
            "--steps", "20", "--seed", "1", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    assert "'zeppelin' is not one of them" in caplog.text
    pattern = Pattern.load(out)
    assert pattern.shape == (32, 32) and pattern.metadata["steps"] == 20
    assert pattern.metadata["method"] == "builtin-sd-pixl" and pattern.metadata["model"] == "builtin:emoji32"
    assert pattern.metadata["unknown_words"] == ["zeppelin"] and pattern.filled_cells > 0
    fast = tmp_path / "fast.pixl"
    assert main(argv[:-1] + [str(fast), "--method", "fast", "--size", "20x12"]) == 0
    assert Pattern.load(fast).metadata["method"] == "builtin-fast" and Pattern.load(fast).shape == (12, 20)


@pytest.mark.parametrize("extra,needle", [
    (["--prompt", "zeppelin"], "'zeppelin' is not one of them"),
    (["--controlnet", "canny"], "ControlNets need an SDXL model"),
    (["--method", "fast", "--resume", "x.ckpt"], "no checkpoints"),
])
def test_generate_with_the_builtin_model_refuses_in_one_line(tmp_path, capsys, extra, needle):
    from main import main

    out = tmp_path / "x.pixl"
    argv = ["generate", "--prompt", "a red fox", "--palette", "perler", "--size", "16x16", "--out", str(out), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and needle in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
