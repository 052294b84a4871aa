"""SD-πXL page: guidance choice and the planner's estimate before Start; the missing-model dialog (plain words,
the download command, Browse… for a local model that becomes the next run's model)."""

from __future__ import annotations

import pytest

from tests.gui_support import type_size

pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def tiny_sd15(tiny_root):
    from tests.tiny_models import build_cached

    return build_cached("sd15", tiny_root)


def _sdpixl(window, qtbot, width, height, picture=None):
    panel = window.input_panel
    window.prefs.device = "cpu"
    window.palette_panel.select_palette("perler")
    if picture is not None:
        assert window.load_image_file(picture)
    type_size(panel, width, height)
    panel.set_mode("sdpixl")
    qtbot.waitUntil(lambda: panel.plan_label.text().startswith("Guidance:"), timeout=20000)
    return panel


def _expected(width, height, mode="auto", controlnets=0, steps=500):
    from engine.sdpixl.planner import plan_guidance

    return plan_guidance(width, height, mode, "cpu", steps, controlnets=controlnets, half=None)


def test_estimate_is_shown_before_start_and_follows_the_size(window, qtbot):
    from app.gui.input_wiring import plan_text
    from app.gui.main_window import format_seconds

    panel = _sdpixl(window, qtbot, 48, 32)
    assert [panel.guidance.itemData(i) for i in range(panel.guidance.count())] == ["auto", "latent", "pixel",
                                                                                  "patch"]
    names = [panel.guidance.itemText(i) for i in range(panel.guidance.count())]
    assert names == ["Automatic", "Whole picture (latent)", "Small designs (pixel)",
                     "Large designs, piece by piece (patch)"]
    plan = _expected(48, 32, steps=panel.steps.value())
    # no IF model offline: a 48-cell design gets latent guidance, and the panel says why
    assert plan.mode == "latent"
    assert panel.plan_label.text() == plan_text(plan, format_seconds)[0]
    assert "Guidance: Whole picture (latent) — " in panel.plan_label.text()
    assert "not available offline" in panel.plan_label.text()
    assert f"{plan.seconds_per_step:.2f} s per step" in panel.plan_label.text()
    assert f"Peak memory ≈ {plan.peak_gib:.1f} GiB" in panel.plan_label.text()
    # a large design: patch-wise guidance, new figures, before anything starts
    panel.width_spin.setValue(300)
    panel.height_spin.setValue(300)
    qtbot.waitUntil(lambda: "Guidance: Large designs, piece by piece (patch)" in panel.plan_label.text(),
                    timeout=10000)
    big = _expected(300, 300, steps=panel.steps.value())
    assert panel.plan_label.text() == plan_text(big, format_seconds)[0]
    assert window.input_wiring.last_plan.mode == "patch" and not window.runner.is_running()
    # more steps -> the total follows
    panel.steps.setValue(1000)
    qtbot.waitUntil(lambda: window.input_wiring.last_plan.steps == 1000, timeout=10000)
    assert panel.plan_label.text() == plan_text(_expected(300, 300, steps=1000), format_seconds)[0]


def test_guidance_choice_and_controlnets_reach_the_plan_and_run_config(window, qtbot, sample_image_path):
    from app.gui.main_window import build_run_config

    panel = _sdpixl(window, qtbot, 48, 32, picture=sample_image_path)
    panel.guidance.setCurrentIndex(panel.guidance.findText("Small designs (pixel)"))
    assert panel.job_settings().sdpixl["guidance_mode"] == "pixel"
    qtbot.waitUntil(lambda: "Guidance: Small designs (pixel) — chosen" in panel.plan_label.text(), timeout=10000)
    assert panel.plan_label.text().splitlines()[1].startswith("Estimate on")
    panel.guidance.set_value("auto")
    panel.control_canny.setChecked(True)
    panel.control_depth.setChecked(True)
    qtbot.waitUntil(lambda: "ControlNets need latent guidance" in panel.plan_label.text(), timeout=10000)
    with_nets = window.input_wiring.last_plan
    assert with_nets.tflop_per_step == pytest.approx(_expected(48, 32, controlnets=2).tflop_per_step)
    assert with_nets.tflop_per_step > _expected(48, 32).tflop_per_step
    js = panel.job_settings()
    config = build_run_config(js, window.palette_panel.palette(), str(sample_image_path), "", "cpu")
    assert config.guidance_mode == "auto"
    assert [c.kind for c in config.guidance.controlnets] == ["canny", "depth"]
    panel.guidance.set_value("patch")
    config = build_run_config(panel.job_settings(), window.palette_panel.palette(), None, "", "cpu")
    assert config.guidance_mode == "patch" and config.guidance.controlnets == []  # no picture: no ControlNets


def test_no_estimate_in_fast_mode(window, qtbot):
    panel = window.input_panel
    panel.set_mode("fast")
    panel.width_spin.setValue(100)
    assert not window.input_wiring._plan_timer.isActive()  # no estimate is even scheduled
    assert window.input_wiring.last_plan is None and window.input_wiring.update_plan() is None


def test_offline_model_dialog_browse_sets_the_next_runs_model(window, qtbot, monkeypatch, tiny_sd15):
    from app.gui import model_dialog, run_controller
    from app.gui.main_window import MainWindow
    from app.gui.model_dialog import ModelSourceDialog
    from app.gui.preferences import Preferences

    panel = _sdpixl(window, qtbot, 12, 12)
    panel.prompt.setPlainText("a red apple")
    panel.steps.setValue(3)
    panel.model.setText("nobody/missing-model")  # not cached, and the hub is off (HF_HUB_OFFLINE=1)
    seen = {}

    def user_browses(dlg):  # what the user sees and does in the real dialog
        seen["message"] = dlg.findChild(type(dlg.status), "modelMessage").text()
        seen["command"] = dlg.command.text()
        seen["browse"] = dlg.browse_button.isVisibleTo(dlg)
        assert not dlg.choose(str(tiny_sd15 / "no-such.safetensors"))  # a wrong path is refused, dialog stays
        seen["refused"] = dlg.status.text()
        monkeypatch.setattr(model_dialog.QFileDialog, "getExistingDirectory", lambda *a, **k: str(tiny_sd15))
        dlg.act_folder.trigger()
        return dlg.result()

    monkeypatch.setattr(ModelSourceDialog, "exec", user_browses)
    monkeypatch.setattr(window, "ask_model_source", MainWindow.ask_model_source.__get__(window))
    with qtbot.waitSignal(window.runEnded, timeout=60000) as blocker:
        assert window.start_run()
    assert blocker.args == ["failed"]
    assert "nobody/missing-model is not on this computer" in seen["message"]
    assert seen["command"] == "hf download nobody/missing-model" and seen["browse"]
    assert seen["refused"].startswith("Cannot use it:") and "not found" in seen["refused"]
    assert not window.dialogs.errors  # the model dialog replaced the generic error box
    # the local folder is now the model: in the panel, in the stored preferences, and in the next RunConfig
    assert panel.model.text() == str(tiny_sd15)
    assert Preferences.load().model_source == str(tiny_sd15)
    configs = []
    real = run_controller.build_run_config
    monkeypatch.setattr(run_controller, "build_run_config",
                        lambda *a, **k: configs.append(real(*a, **k)) or configs[-1])
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=5000)
    with qtbot.waitSignal(window.runEnded, timeout=60000) as blocker:
        assert window.start_run()
    assert blocker.args == ["finished"], window.dialogs.errors
    assert configs[-1].guidance.model == str(tiny_sd15)
    assert window.doc.pattern.shape == (12, 12)


def test_model_dialog_checks_files(qtbot, tmp_path):
    from app.gui.model_dialog import ModelSourceDialog

    dlg = ModelSourceDialog(None, "The model is missing.", "hf download a/b")
    qtbot.addWidget(dlg)
    text = tmp_path / "notes.txt"
    text.write_text("not weights")
    assert not dlg.choose(str(text)) and "not a weights file" in dlg.status.text()
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\0" * 16)
    assert dlg.choose(str(weights)) and dlg.chosen == str(weights) and dlg.result() == dlg.DialogCode.Accepted
    dlg.copy_command()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == "hf download a/b"
    other = ModelSourceDialog(None, "The ControlNet is missing.", "hf download c/d", browsable=False)
    qtbot.addWidget(other)
    assert not other.browse_button.isVisibleTo(other)


def test_a_hopeless_run_shows_the_estimate_and_never_starts_without_a_clear_yes(window, qtbot, monkeypatch,
                                                                                 sample_image_path):
    from app.gui import long_run
    from app.gui.run_controller import LONG_RUN_SECONDS, format_seconds

    panel = _sdpixl(window, qtbot, 300, 300, picture=sample_image_path)
    panel.model.setText("stabilityai/stable-diffusion-xl-base-1.0")  # empty would run the built-in model
    panel.model.editingFinished.emit()
    panel.prompt.setPlainText("a cat")
    panel.steps.setValue(1500)
    qtbot.waitUntil(lambda: window.input_wiring.last_plan.steps == 1500, timeout=10000)
    plan = window.input_wiring.last_plan
    assert plan.total_seconds > LONG_RUN_SECONDS  # hours on a CPU
    asked, answer = [], [long_run.CHOICE_CANCEL]
    monkeypatch.setattr(window, "ask_long_run", lambda advice: asked.append(advice) or answer[0])

    # Cancel: nothing starts
    assert not window.start_run()
    assert len(asked) == 1 and not window.runner.is_running()
    advice = asked[0]
    text = advice.text(format_seconds)
    assert format_seconds(plan.total_seconds) in text and "300 × 300 cells" in text
    assert "fast converter" in text and "graphics card" in text and "Fewer steps" in text
    # on a CPU the model's cost is per step, whatever the size: no smaller size is offered as a cure
    assert advice.smaller is None and "smaller pattern" not in text
    # the real box offers the same choices, Cancel by default
    box, choices = window.long_run_box(advice)
    assert box.defaultButton() is box.escapeButton()
    assert choices[box.defaultButton()] == long_run.CHOICE_CANCEL
    assert sorted(choices.values()) == sorted([long_run.CHOICE_FAST, long_run.CHOICE_START, long_run.CHOICE_CANCEL])
    assert any(b.text().startswith("Start anyway") for b in choices)
    # the fast converter instead: it runs, in seconds
    panel.set_cells(300, 300)
    answer[0] = long_run.CHOICE_FAST
    with qtbot.waitSignal(window.runEnded, timeout=60000) as blocker:
        assert window.start_run()
    assert blocker.args == ["finished"] and panel.current_mode() == "fast"
    assert window.doc.pattern is not None and len(asked) == 2
