"""The SD-piXL run loop on tiny random models (CPU): learning, repeatability, stop, checkpoint/resume."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from tiny_models import build_cached

from engine.core.pattern import Pattern
from engine.core.progress import CancelToken
from engine.sdpixl.guidance.loading import ModelLoadError
from engine.sdpixl.guidance.sdxl import ControlNetSpec, SDXLGuidanceConfig
from engine.sdpixl.optimize import (
    PRESETS,
    OptimizeError,
    RunConfig,
    build_guidance,
    crop_to_aspect,
    load_checkpoint,
    make_config,
    run_optimization,
)


@pytest.fixture
def palette(perler):
    return perler.subset(list(range(10)))


@pytest.fixture
def config(tiny_root, palette, sample_image_path):
    g = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)))
    return make_config("fast", prompt="a cat", palette=palette, width=12, height=10, steps=6, warmup=2,
                       image=str(sample_image_path), seed=7, preview_every=2, guidance=g, guidance_mode="latent")


@pytest.fixture(scope="module")
def guidance(tiny_root):
    g = SDXLGuidanceConfig(model=str(build_cached("sd15", tiny_root)), prompt="a cat", seed=0)
    # latent guidance: the tiny model's native 32 px would make "auto" choose patch-wise for 12 x 10 cells
    return build_guidance(RunConfig(prompt="a cat", width=12, height=10, guidance=g, guidance_mode="latent"))


def test_defaults_are_the_reference_numbers():
    ref = PRESETS["reference"]
    assert (ref.lr, ref.betas, ref.weight_decay, ref.warmup, ref.grad_clip) == (0.025, (0.9, 0.999), 0.01, 250, 1.0)
    assert ref.steps == 10001 and ref.fft_weight == 20 and ref.fidelity_weight == 0
    assert (ref.tau.mode, ref.tau.low, ref.tau.high) == ("random", 0.5, 1.5)
    assert ref.guidance.guidance_scale == 41 and ref.guidance.dtype == "fp32"
    assert PRESETS["fast"].steps < ref.steps
    assert make_config("fast").guidance is not PRESETS["fast"].guidance  # a copy, safe to edit


def test_run_learns_and_reports(config, guidance):
    reports = []
    seen_grad = []
    initial = {}

    def on_step(info):
        if info.step == 1:
            initial["index"] = info.generator.index_map()
        seen_grad.append(float(info.generator.logits.grad.abs().sum()))

    pattern = run_optimization(config, progress=reports.append, guidance=guidance, callback_on_step_end=on_step)
    assert isinstance(pattern, Pattern) and pattern.shape == (10, 12)
    assert pattern.palette is config.palette
    assert set(np.unique(pattern.index)) <= set(range(len(config.palette)))
    assert all(g > 0 for g in seen_grad)  # the SDS + FFT gradient reaches the logits every step
    assert [r.step for r in reports] == [2, 4, 6]
    assert reports[-1].pattern is pattern and reports[-1].message == "done"
    for r in reports:
        assert r.preview.shape == (10, 12, 3) and r.preview.dtype == np.uint8
        assert np.isfinite(r.losses["sds"]) and np.isfinite(r.losses["fft"]) and r.eta is not None
    assert pattern.metadata["seed"] == 7 and pattern.metadata["cancelled"] is False
    assert pattern.metadata["steps"] == 6 and pattern.metadata["init"] == "bilinear"


def test_logits_change(config, guidance):
    before = {}
    after = {}

    def grab(info):
        store = before if info.step == 1 else after
        store["logits"] = info.generator.logits.detach().clone()

    run_optimization(replace(config, steps=5, lr=0.5, warmup=0), guidance=guidance, callback_on_step_end=grab)
    assert not torch.allclose(before["logits"], after["logits"])


def test_same_seed_same_result_other_seed_differs(config, guidance):
    def losses(cfg):
        out = []
        pattern = run_optimization(cfg, guidance=guidance, callback_on_step_end=lambda i: out.append(i.losses["sds"]))
        return pattern, out

    a, la = losses(config)
    b, lb = losses(config)
    c, lc = losses(replace(config, seed=8))
    assert np.array_equal(a.index, b.index) and la == lb
    assert la != lc


def test_cancel_stops_within_one_step_and_returns_current_pattern(config, guidance):
    token = CancelToken()
    steps = []

    def on_step(info):
        steps.append(info.step)
        if info.step == 2:
            token.cancel()

    reports = []
    pattern = run_optimization(replace(config, steps=50), progress=reports.append, cancel=token, guidance=guidance,
                               callback_on_step_end=on_step)
    assert steps == [1, 2]
    assert pattern.metadata["cancelled"] is True and pattern.metadata["steps"] == 2
    assert reports[-1].message == "stopped" and reports[-1].pattern is pattern


def test_checkpoint_and_resume_reproduce_an_uninterrupted_run(config, guidance, tmp_path):
    full = run_optimization(replace(config, steps=4, preview_every=100), guidance=guidance)
    ckpt = tmp_path / "run.ckpt"
    token = CancelToken()
    half = run_optimization(replace(config, steps=4, checkpoint_path=str(ckpt)), cancel=token, guidance=guidance,
                            callback_on_step_end=lambda i: token.cancel() if i.step == 2 else None)
    assert half.metadata["steps"] == 2 and ckpt.is_file()
    assert not list(tmp_path.glob("*.part"))  # written atomically
    state = load_checkpoint(ckpt, replace(config, steps=4))
    assert state["step"] == 2 and tuple(state["logits"].shape) == (10, 12, 10)
    resumed = run_optimization(replace(config, steps=4, resume=str(ckpt)), guidance=guidance)
    assert resumed.metadata["steps"] == 4
    assert np.array_equal(resumed.index, full.index)
    with pytest.raises(OptimizeError, match="12x10"):
        run_optimization(replace(config, width=8, resume=str(ckpt)), guidance=guidance)
    with pytest.raises(OptimizeError, match="different palette"):
        run_optimization(replace(config, palette=config.palette.subset([0, 1, 2]), resume=str(ckpt)),
                         guidance=guidance)


def test_random_init_without_image_and_fidelity(config, guidance):
    # init_samples=0 skips the sample-and-select init of text-only runs: random logits, as before.
    pattern = run_optimization(replace(config, image=None, steps=2, init_samples=0), guidance=guidance)
    assert pattern.metadata["init"] == "random" and pattern.metadata["source_image"] is None
    seen = []
    run_optimization(replace(config, steps=2, fidelity_weight=1.0, init="ciede2000"), guidance=guidance,
                     callback_on_step_end=lambda i: seen.append(i.losses))
    assert all("fidelity" in s and s["fidelity"] >= 0 for s in seen)


def test_validation_errors(config, tmp_path):
    with pytest.raises(OptimizeError, match="prompt"):
        run_optimization(replace(config, prompt="  "))
    with pytest.raises(OptimizeError, match="out of range"):
        run_optimization(replace(config, width=0))
    with pytest.raises(OptimizeError, match="palette"):
        run_optimization(replace(config, palette=None))
    cn = replace(config.guidance, controlnets=[ControlNetSpec("canny")])
    with pytest.raises(OptimizeError, match="ControlNet"):  # nothing to follow: no picture and no sampled start
        run_optimization(replace(config, image=None, init_samples=0, guidance=cn))
    with pytest.raises(OptimizeError, match="not found"):
        run_optimization(replace(config, image=str(tmp_path / "none.png")))
    with pytest.raises(OptimizeError, match="init"):
        run_optimization(replace(config, init="magic"))
    with pytest.raises(OptimizeError, match="preset"):
        make_config("turbo")


def test_missing_model_is_a_model_load_error(config):
    with pytest.raises(ModelLoadError, match="hf download"):
        run_optimization(replace(config, guidance=SDXLGuidanceConfig(model="nobody/nothing-here")))


def test_sdxl_with_controlnets_and_user_depth(config, tiny_root, tmp_path):
    from tiny_models import make_tiny_depth_image

    cn = str(build_cached("controlnet-sdxl", tiny_root))
    g = SDXLGuidanceConfig(model=str(build_cached("sdxl", tiny_root)),
                           controlnets=[ControlNetSpec("canny", cn), ControlNetSpec("depth", cn)])
    depth = make_tiny_depth_image(tmp_path / "depth.png", (40, 30))
    pattern = run_optimization(replace(config, width=16, height=9, steps=2, guidance=g, depth_image=str(depth)))
    assert pattern.shape == (9, 16)
    assert set(np.unique(pattern.index)) <= set(range(len(config.palette)))


def test_converter_init_when_available(config, guidance):
    pytest.importorskip("engine.convert.pipeline")
    pattern = run_optimization(replace(config, init="converter", steps=1), guidance=guidance)
    assert pattern.metadata["init"] == "converter" and pattern.shape == (10, 12)


def test_init_from_a_given_pattern(config, guidance):
    index = (np.arange(120).reshape(10, 12) // 7) % len(config.palette)
    start = Pattern(index, config.palette)
    seen = {}
    run_optimization(replace(config, image=None, init="converter", init_pattern=start, steps=1), guidance=guidance,
                     callback_on_step_end=lambda i: seen.setdefault("first", i.generator.index_map()))
    assert np.mean(seen["first"] == index) > 0.9  # one small step from the given design
    with pytest.raises(OptimizeError, match="another palette"):
        other = Pattern(index % 3, config.palette.subset([0, 1, 2]))
        run_optimization(replace(config, init="converter", init_pattern=other))


def test_crop_to_aspect():
    img = np.zeros((100, 300, 3), dtype=np.uint8)
    assert crop_to_aspect(img, 1, 1).shape == (100, 100, 3)
    assert crop_to_aspect(img, 4, 1).shape == (75, 300, 3)


def test_checkpoint_carries_the_settings_and_refuses_a_mismatched_resume(config, guidance, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    run_optimization(replace(config, steps=2, checkpoint_path=str(ckpt)), guidance=guidance)
    state = load_checkpoint(ckpt, replace(config, steps=2))
    assert state["settings"]["prompt"] == "a cat" and state["settings"]["weights"]["fft"] == 20
    assert state["settings"]["model"] == config.guidance.model
    for change, needle in [({"prompt": "a dog"}, "prompt"), ({"negative_prompt": "blurry"}, "negative_prompt"),
                           ({"fft_weight": 5.0}, "weights"),
                           ({"guidance": replace(config.guidance, guidance_scale=7.5)}, "guidance_scale"),
                           ({"guidance": replace(config.guidance, lora="style.safetensors")}, "lora")]:
        with pytest.raises(OptimizeError, match=f"other settings.*{needle}"):
            run_optimization(replace(config, steps=4, resume=str(ckpt), **change), guidance=guidance)
    # the same settings (and more steps) resume fine
    assert run_optimization(replace(config, steps=3, resume=str(ckpt)), guidance=guidance).metadata["steps"] == 3
    other = torch.load(ckpt, weights_only=True)
    assert other["device"] == "cpu"
    other["device"] = "cuda"
    torch.save(other, tmp_path / "gpu.ckpt")
    with pytest.raises(OptimizeError, match="same kind of device"):
        run_optimization(replace(config, steps=3, resume=str(tmp_path / "gpu.ckpt")), guidance=guidance)
    old = torch.load(ckpt, weights_only=True)
    old["version"] = 1
    del old["settings"]
    torch.save(old, tmp_path / "old.ckpt")
    with pytest.raises(OptimizeError, match="start a new run"):
        load_checkpoint(tmp_path / "old.ckpt", config)


def test_sample_and_select_init_for_text_only_runs(config, guidance, tiny_root):
    from engine.sdpixl.generator import PaletteGenerator
    from engine.sdpixl.optimize import crop_to_aspect
    from engine.sdpixl.select_init import SampleInitConfig, clip_scores, load_clip, sample_and_select, sample_candidates

    clip_path = str(build_cached("clip", tiny_root))
    cfg = replace(config, image=None, init_samples=3, steps=1, lr=1e-9,
                  sample_init=SampleInitConfig(clip_model=clip_path, inference_steps=2))
    candidates = sample_candidates(cfg, 3)
    assert len(candidates) == 3 and all(c.dtype == np.uint8 and c.shape[2] == 3 for c in candidates)
    assert not np.array_equal(candidates[0], candidates[1])  # really different samples
    h, w = candidates[0].shape[:2]
    assert w / h == pytest.approx(12 / 10, rel=0.25) and h % 8 == 0 and w % 8 == 0  # the pattern's aspect
    scores = clip_scores(candidates, cfg.prompt, load_clip(clip_path))
    best, scores2 = sample_and_select(cfg)
    assert scores2 == pytest.approx(scores, abs=1e-5)  # seeded: the same candidates, the same ranking
    assert np.array_equal(best, candidates[int(np.argmax(scores))])
    assert len(set(np.round(scores, 6))) == 3  # a real ranking, not a tie
    start = {}
    pattern = run_optimization(cfg, guidance=guidance,
                               callback_on_step_end=lambda i: start.setdefault("index", i.generator.index_map()))
    assert pattern.metadata["init"] == "sample"
    expected = PaletteGenerator.create(cfg.palette, 10, 12, "bilinear", image=crop_to_aspect(best, 12, 10))
    assert np.mean(start["index"] == expected.index_map()) > 0.95  # one negligible step from the chosen image
    assert "best of 3 candidates by CLIP" in pattern.metadata["init_note"]
    # No CLIP on this computer: "auto" starts from random logits and says so; an explicit "sample" fails clearly.
    fallback = run_optimization(replace(cfg, sample_init=SampleInitConfig()), guidance=guidance)
    assert fallback.metadata["init"] == "random" and "no CLIP model" in fallback.metadata["init_note"]
    with pytest.raises(ModelLoadError, match="hf download openai/clip"):
        run_optimization(replace(cfg, init="sample", sample_init=SampleInitConfig()), guidance=guidance)
    with pytest.raises(OptimizeError, match="init samples"):
        run_optimization(replace(cfg, init_samples=-1), guidance=guidance)


@pytest.mark.parametrize("kind", ["sd15", "sdxl+controlnets"])
def test_a_step_reads_nothing_back_from_the_device_unless_a_report_is_due(config, guidance, monkeypatch, kind,
                                                                           tiny_root):
    """The hot loop must not sync: no .item()/.cpu()/.tolist()/float()/bool()/int() on tensors inside a step.
    (The CPU stands in for the GPU here: any such call would be a device-to-host sync on CUDA.) AdamW's own
    step counter is a CPU scalar by design and is ignored."""
    import sys

    calls: list[tuple[int, str, str]] = []
    state = {"step": 0}

    def counting(name, original):
        def wrapper(self, *args, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if "torch/optim" not in caller.replace("\\", "/"):
                calls.append((state["step"], name, f"{caller}:{sys._getframe(1).f_lineno}"))
            return original(self, *args, **kwargs)
        return wrapper

    if kind != "sd15":
        cn = str(build_cached("controlnet-sdxl", tiny_root))
        g = SDXLGuidanceConfig(model=str(build_cached("sdxl", tiny_root)),
                               controlnets=[ControlNetSpec("canny", cn), ControlNetSpec("depth", cn)])
        config = replace(config, width=16, height=9, guidance=g)
        guidance = build_guidance(config)
        from tiny_models import make_tiny_depth_image

        config = replace(config, depth_image=str(make_tiny_depth_image(tiny_root / "depth-sync.png", (40, 30))))
    for name in ("item", "cpu", "tolist", "numpy", "__float__", "__bool__", "__int__", "__index__"):
        monkeypatch.setattr(torch.Tensor, name, counting(name, getattr(torch.Tensor, name)))

    def on_step(info):
        state["step"] = info.step

    reports = []
    cn_free = replace(config, steps=10, preview_every=5)
    run_optimization(cn_free, progress=reports.append, guidance=guidance, callback_on_step_end=on_step)
    monkeypatch.undo()
    assert [r.step for r in reports if r.step] == [5, 10]  # step-0 reports say what is being prepared
    reports = [r for r in reports if r.step]
    quiet = [c for c in calls if c[0] in (1, 2, 3, 6, 7, 8)]  # after these steps no report is due
    assert quiet == [], quiet[:5]
    assert any(c[0] == 5 for c in calls)  # the report itself reads the losses (one copy) and the preview
    assert all(np.isfinite(v) for v in reports[0].losses.values())
    assert set(reports[0].losses) >= {"sds", "fft", "total", "t", "grad_norm"}


def test_controlnets_of_a_text_only_run_follow_the_selected_sample(config, guidance, tiny_root, monkeypatch):
    """The reference conditions its ControlNets on the CLIP-selected sample when there is no input picture."""
    from engine.sdpixl import optimize as opt
    from engine.sdpixl.select_init import SampleInitConfig

    seen = {}
    monkeypatch.setattr(type(guidance), "prepare_conditions",
                        lambda self, image, depth=None: seen.setdefault("image", image), raising=False)
    picked = {}
    real = opt.sample_and_select

    def remember(*a, **k):
        picked["best"] = real(*a, **k)[0]
        return picked["best"], [1.0]

    monkeypatch.setattr(opt, "sample_and_select", remember)
    reports = []
    cfg = replace(config, image=None, init_samples=2, steps=2,
                  sample_init=SampleInitConfig(clip_model=str(build_cached("clip", tiny_root)), inference_steps=2))
    run_optimization(cfg, guidance=guidance, progress=reports.append)
    assert seen["image"] is not None
    assert np.array_equal(seen["image"], crop_to_aspect(picked["best"], 12, 10))
    before = [r.message for r in reports if r.step == 0]
    assert any("sampling candidate image 1/2" in m for m in before)
    assert all("entropy" in r.losses and 0.0 <= r.losses["entropy"] <= 1.0 for r in reports if r.step)


def test_default_controlnets_are_dropped_without_a_picture_and_on_the_pixel_path(config):
    from engine.sdpixl.optimize import resolve_guidance_mode

    auto = replace(config, auto_controlnets=True, guidance_mode="pixel",
                   guidance=replace(config.guidance, controlnets=[ControlNetSpec("canny"), ControlNetSpec("depth")]))
    resolved, plan = resolve_guidance_mode(auto)
    assert plan.mode == "pixel" and resolved.guidance.controlnets == []
    latent, plan = resolve_guidance_mode(replace(auto, guidance_mode="latent"))
    assert plan.mode == "latent" and [c.kind for c in latent.guidance.controlnets] == ["canny", "depth"]


def test_logit_entropy_is_the_convergence_signal():
    from engine.sdpixl.optimize import logit_entropy

    assert float(logit_entropy(torch.zeros(4, 5, 10))) == pytest.approx(1.0)  # undecided
    decided = torch.full((4, 5, 10), -30.0)
    decided[..., 3] = 30.0
    assert float(logit_entropy(decided)) < 1e-6


def test_colour_budget_picks_k_colours_and_the_result_obeys_the_minimum(config, guidance, perler):
    from engine.convert.colour_choice import ColourBudget

    cfg = replace(config, palette=perler, steps=3, colour_budget=ColourBudget(max_colors=5, min_count=8))
    pattern = run_optimization(cfg, guidance=guidance)
    counts = [n for _, _, n in pattern.color_counts()]
    assert pattern.palette is perler and len(counts) <= 5 and min(counts) >= 8
    assert pattern.metadata["min_count"] == 8
    # without a budget the run may use every colour (the old behaviour, for callers that choose their palette)
    free = run_optimization(replace(cfg, colour_budget=None, fft_weight=0.0, lr=0.5), guidance=guidance)
    assert len(free.color_counts()) >= len(counts)


def test_a_crash_keeps_the_steps_done_so_far(config, guidance, tmp_path):
    """A failing step (out of memory, a driver error...) still leaves a checkpoint of the steps done, and the run
    resumes from it."""
    ckpt = tmp_path / "run.ckpt"

    class Failing:
        def __init__(self, inner, at):
            self.inner, self.at, self.calls = inner, at, 0
            self.device, self.generator = inner.device, inner.generator

        def __call__(self, rgb, frac):
            self.calls += 1
            if self.calls == self.at:
                raise RuntimeError("CUDA error: an illegal memory access was encountered")
            return self.inner(rgb, frac)

    with pytest.raises(RuntimeError, match="illegal memory access"):
        run_optimization(replace(config, checkpoint_path=str(ckpt)), guidance=Failing(guidance, 4))
    assert load_checkpoint(ckpt, config)["step"] == 3
    resumed = run_optimization(replace(config, resume=str(ckpt)), guidance=guidance)
    assert resumed.metadata["steps"] == config.steps


def test_checkpoints_also_come_by_time(config, guidance, tmp_path, monkeypatch):
    from engine.sdpixl import optimize as opt

    saved = []
    monkeypatch.setattr(opt, "save_checkpoint", lambda path, gen, o, s, step, *a: saved.append(step))
    base = replace(config, checkpoint_path=str(tmp_path / "c.ckpt"), checkpoint_every=0)
    run_optimization(base, guidance=guidance)
    assert saved == [config.steps]  # no step rule, no time rule: only at the end
    saved.clear()
    run_optimization(replace(base, checkpoint_seconds=1e-9), guidance=guidance)
    assert saved == list(range(1, config.steps + 1))  # the time is always up: after every step


def test_a_random_start_picks_its_colours_from_the_design(config, guidance, perler, tmp_path):
    """No picture and no sample: the budget's K colours come from the finished design, each cell keeping its most
    likely colour among them (not 60 colours sprinkled over 120 cells)."""
    from engine.convert.colour_choice import ColourBudget

    cfg = replace(config, image=None, init_samples=0, palette=perler, steps=2,
                  colour_budget=ColourBudget(max_colors=6, min_count=4))
    pattern = run_optimization(cfg, guidance=guidance)
    counts = [n for _, _, n in pattern.color_counts()]
    assert pattern.metadata["init"] == "random" and "the design" in pattern.metadata["colours_from"]
    assert len(counts) <= 6 and min(counts) >= 4
    assert all(c.finish == "solid" for _, c, _ in pattern.color_counts())
    ckpt = tmp_path / "random.ckpt"
    run_optimization(replace(cfg, checkpoint_path=str(ckpt)), guidance=guidance)
    resumed = run_optimization(replace(cfg, steps=3, resume=str(ckpt)), guidance=guidance)
    assert "the design" in resumed.metadata["colours_from"] and len(resumed.color_counts()) <= 6
