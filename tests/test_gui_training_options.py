"""Training options in the inspector: GAN mode and adversarial training, edited through the
real widgets, undoable, with defaults left out of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from editor_driver import choose, open_example, project_form  # noqa: E402
from PySide6.QtGui import QValidator  # noqa: E402

from graph.settings import ADVERSARIAL_OPTIONS, MODE_OPTIONS, TRAINING_OPTIONS  # noqa: E402

GAN_RING = Path(__file__).resolve().parents[1] / "resources" / "examples" / "gan_ring.plexus"
GAN_FIELDS = [f.name for f in MODE_OPTIONS if f.shown_when and f.shown_when[0] == "mode"]
ADV_FIELDS = [f.name for f in ADVERSARIAL_OPTIONS
              if f.shown_when and f.shown_when[0] == "adversarial"]


def shown(form, name: str) -> bool:
    return form.training_form.isRowVisible(form.option_editors[name])


def test_options_are_declared_once_with_help_and_bounds():
    for option in TRAINING_OPTIONS.values():
        param = option.param
        assert param.help and param.label
        if param.kind in ("int", "float"):
            assert param.minimum is not None and param.maximum is not None
    assert TRAINING_OPTIONS["adv_share"].param.default == 0.5


def test_gan_fields_show_what_the_gan_trainer_uses_when_left_unset():
    """The form's defaults are the runtime's (runtime.gan.GanOptions), so leaving a field at
    its default (and out of the file) trains exactly as the field says."""
    import dataclasses

    from graph.settings import TrainingSettings
    from runtime.gan import GanOptions

    settings = TrainingSettings(lr=0.004, options={"mode": "gan"})
    used = dataclasses.asdict(GanOptions.from_settings(settings))
    for name, value in used.items():
        option = TRAINING_OPTIONS[name]
        shown = getattr(settings, option.follows) if option.follows else option.param.default
        assert shown == pytest.approx(value), name


def test_standard_project_hides_gan_and_attack_fields(editor_window, tmp_path):
    open_example(editor_window, tmp_path, "xor_mlp")
    form = project_form(editor_window)
    assert form.option_editors["mode"].currentData() == "standard"
    assert form.option_editors["adversarial"].currentData() == "off"
    assert shown(form, "mode") and shown(form, "adversarial")
    assert not any(shown(form, name) for name in GAN_FIELDS + ADV_FIELDS)
    tip = form.option_editors["mode"].toolTip()
    assert "generator" in tip


def test_choosing_gan_sets_the_option_and_shows_its_fields(editor_window, tmp_path):
    open_example(editor_window, tmp_path, "xor_mlp")
    window = editor_window
    form = project_form(window)
    choose(form.option_editors["mode"], "gan")
    assert window.project.training.options == {"mode": "gan"}  # knobs at defaults: left out
    assert all(shown(form, name) for name in GAN_FIELDS)
    assert not shown(form, "adversarial")  # the GAN loop takes no batch hooks
    # d_lr follows the project's learning rate until set
    assert form.option_editors["d_lr"].value() == pytest.approx(window.project.training.lr)

    steps = form.option_editors["d_steps"]
    steps.setValue(3)
    assert window.project.training.options == {"mode": "gan", "d_steps": 3}
    assert window.undo_stack.count() == 2
    undo = window.actions["undo"]  # Edit > Undo, Ctrl+Z
    assert undo.shortcut().toString() == "Ctrl+Z" and "D steps" in undo.text()
    undo.trigger()
    assert window.project.training.options == {"mode": "gan"}
    assert steps.value() == 1
    window.undo_stack.undo()
    assert window.project.training.options == {}
    assert form.option_editors["mode"].currentData() == "standard"
    assert not shown(form, "d_steps")


def test_a_value_back_at_its_default_is_removed(editor_window, tmp_path):
    open_example(editor_window, tmp_path, "xor_mlp")
    window = editor_window
    form = project_form(window)
    choose(form.option_editors["mode"], "gan")
    smoothing = form.option_editors["label_smoothing"]
    smoothing.setValue(0.2)
    assert window.project.training.options["label_smoothing"] == pytest.approx(0.2)
    smoothing.setValue(0.1)
    assert "label_smoothing" not in window.project.training.options


def test_out_of_range_values_are_refused_at_the_widget(editor_window, tmp_path):
    open_example(editor_window, tmp_path, "xor_mlp")
    form = project_form(editor_window)
    choose(form.option_editors["mode"], "gan")
    smoothing = form.option_editors["label_smoothing"]
    assert smoothing.validate("0.9", 0)[0] == QValidator.State.Invalid  # at most 0.5
    steps = form.option_editors["d_steps"]
    assert (steps.minimum(), steps.maximum()) == (1, 100)
    steps.setValue(500)
    assert editor_window.project.training.options["d_steps"] == 100


def test_adversarial_training_on_and_off(editor_window, tmp_path):
    open_example(editor_window, tmp_path, "xor_mlp")
    window = editor_window
    form = project_form(window)
    method = form.option_editors["adversarial"]
    choose(method, "pgd")
    assert window.project.training.options == {"adversarial": "pgd"}
    assert all(shown(form, name) for name in ADV_FIELDS)
    eps = form.option_editors["adv_eps"]
    assert eps.text() == "auto"  # a tenth of the data's range, worked out by the runtime
    eps.setValue(0.25)
    form.option_editors["adv_share"].setValue(0.3)
    assert window.project.training.options == {"adversarial": "pgd", "adv_eps": 0.25,
                                               "adv_share": 0.3}
    assert eps.validate("auto", 0)[0] == QValidator.State.Acceptable
    assert eps.validate("-1", 0)[0] != QValidator.State.Acceptable  # 0 or more
    eps.setValue(0.0)  # back to auto: the key leaves the file
    assert "adv_eps" not in window.project.training.options and eps.text() == "auto"
    window.undo_stack.undo()
    assert window.project.training.options["adv_eps"] == 0.25
    choose(method, "fgsm")
    assert not shown(form, "adv_steps") and shown(form, "adv_eps")
    assert window.project.training.options["adversarial"] == "fgsm"
    choose(method, "off")
    assert window.project.training.options == {}
    assert not any(shown(form, name) for name in ADV_FIELDS)
    window.undo_stack.undo()  # back to FGSM with its share and epsilon
    assert window.project.training.options == {"adversarial": "fgsm", "adv_eps": 0.25,
                                               "adv_share": 0.3}
    assert eps.value() == pytest.approx(0.25) and shown(form, "adv_share")


def test_other_options_are_kept(editor_window, tmp_path):
    open_example(editor_window, tmp_path, "xor_mlp")
    window = editor_window
    window.project.training.options = {"threads": 2}
    form = project_form(window)
    form.refresh()
    choose(form.option_editors["adversarial"], "fgsm")
    assert window.project.training.options == {"threads": 2, "adversarial": "fgsm"}


def test_gan_ring_opens_in_gan_mode_with_its_values(editor_window):
    window = editor_window
    assert window.open_project(GAN_RING, ask=False)
    form = project_form(window)
    options = window.project.training.options
    assert form.option_editors["mode"].currentData() == "gan"
    assert all(shown(form, name) for name in GAN_FIELDS)
    assert not shown(form, "adversarial")
    for name in ("d_steps", "label_smoothing", "d_lr", "g_lr", "r1"):
        assert form.option_editors[name].value() == pytest.approx(options[name]), name
    choose(form.option_editors["mode"], "standard")
    assert window.project.training.options == {}
    window.undo_stack.undo()
    assert window.project.training.options == options


def test_gan_panel_follows_the_training_mode(editor_window, tmp_path, fake_controller):
    from gui.panels.gan import NOT_GAN_TEXT, UNTRAINED_TEXT
    from gui.panels.registry import install_panels

    window = editor_window
    panel = install_panels(window, fake_controller, ("gan",))["gan"]
    open_example(window, tmp_path, "gan_ring")
    assert panel.active
    form = project_form(window)
    choose(form.option_editors["mode"], "standard")
    assert not panel.active and panel.empty.text() == NOT_GAN_TEXT
    assert "Training mode: GAN" in NOT_GAN_TEXT
    window.docks["gan"].hide()
    window.undo_stack.undo()
    assert panel.active and panel.empty.text() == UNTRAINED_TEXT
    assert not window.docks["gan"].isHidden()  # choosing GAN mode brings its panel up


def test_a_gan_shows_its_d_and_g_learning_rates_not_a_generic_one(editor_window, tmp_path):
    open_example(editor_window, tmp_path, "xor_mlp")
    form = project_form(editor_window)
    rate = form.editors[("training", "lr")]
    assert form.training_form.isRowVisible(rate)
    assert not shown(form, "d_lr") and not shown(form, "g_lr")
    choose(form.option_editors["mode"], "gan")
    assert not form.training_form.isRowVisible(rate)  # the generic rate would do nothing
    assert shown(form, "d_lr") and shown(form, "g_lr")
    editor_window.undo_stack.undo()
    assert form.training_form.isRowVisible(rate) and not shown(form, "g_lr")
