"""The Adversarial panel on a briefly trained digits_cnn: attacks, curves, patches, live probe.

The network is trained once for the module through ``runtime.session.run_training``; every
computation runs on the panel's background runner and the tests wait for it, asserting what
the panel shows (numbers and shapes), never how fast.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from gui.panels.frame_clock import clock  # noqa: E402
from resources.examples.make import build, digits_cnn, house_prices_mlp, spirals_mlp  # noqa: E402
from runtime.prepare import prepare  # noqa: E402

WAIT = 60_000  # ms


@pytest.fixture(scope="module")
def project(trained_digits):
    return trained_digits


@pytest.fixture
def panel(lab_panel, project):
    from gui.panels.adversarial import AdversarialPanel

    return lab_panel(AdversarialPanel, project)


def attack(panel, method: str, eps: float):
    page = panel.attack_page
    page.set_method(method)
    page.set_eps(eps)
    page.run_attack()
    assert panel.runner.wait(WAIT)
    assert page.result is not None and page.result.eps == pytest.approx(eps)
    return page.result


def test_empty_states_say_what_to_do(qtbot):
    from gui.panels.adversarial import AdversarialPanel
    from gui.panels.lab import NEEDS_CLASSIFICATION, NEEDS_WEIGHTS

    panel = AdversarialPanel()
    qtbot.addWidget(panel)
    panel.set_project(digits_cnn())  # no weights yet
    assert panel.is_empty and panel.empty.text() == NEEDS_WEIGHTS
    assert panel.attack_page.run_attack() is None and not panel.runner.busy
    panel.set_project(house_prices_mlp())
    assert panel.is_empty and panel.empty.text().startswith(NEEDS_CLASSIFICATION)
    assert "regression" in panel.empty.text()


def test_fgsm_shows_three_images_and_weakens_most_predictions(panel):
    res = attack(panel, "fgsm", 0.1)
    assert not panel.is_empty
    shown = panel.attack_page.triptych.arrays
    assert set(shown) == {"original", "perturbation", "adversarial"}
    assert all(a.shape == (8, 8) for a in shown.values())
    assert all(image.image is not None and image.image.shape[:2] == (8, 8)
               for image in panel.attack_page.triptych.images)
    # the perturbation stays in the budget and the inputs in range
    assert np.abs(res.perturbation).max() <= 0.1 + 1e-6
    assert res.x_adv.min() >= 0.0 and res.x_adv.max() <= 1.0
    weaker = (res.adv_pred != res.clean_pred) | (res.adv_conf < res.clean_conf)
    assert weaker.sum() > res.n / 2
    # the amplification factor is written on the perturbation: +-0.1 shown as half the range
    assert panel.attack_page.triptych.factor_value == pytest.approx(5.0, rel=1e-3)
    assert "\u00d75.0" in panel.attack_page.triptych.factor.textItem.toPlainText()
    assert "FGSM \u03b5 0.1" in panel.task_bar.label.text()
    assert len(panel.attack_page.cards.cards) == res.n == 10
    panel.attack_page.cards.select(3)
    assert np.array_equal(panel.attack_page.triptych.arrays["adversarial"], res.x_adv[3, 0])


def test_epsilon_zero_shows_zero_perturbation(panel):
    res = attack(panel, "pgd", 0.0)
    assert not res.perturbation.any()
    assert not panel.attack_page.triptych.arrays["perturbation"].any()
    assert np.array_equal(res.adv_pred, res.clean_pred)
    assert panel.attack_page.triptych.factor.textItem.toPlainText() == "no change"


def test_the_epsilon_slider_and_field_follow_each_other(panel):
    from gui.panels.adversarial_attack import SLIDER_STEPS

    attack(panel, "fgsm", 0.1)  # prepared: the slider spans 0 .. half the data's range (1)
    slider = panel.attack_page.eps_slider
    slider.setValue(SLIDER_STEPS // 2)  # as a drag would
    assert panel.attack_page.eps == pytest.approx(0.25, abs=1e-3)
    panel.attack_page.eps_spin.setValue(0.05)
    assert slider.value() == round(0.1 * SLIDER_STEPS)


def test_a_range_the_user_sets_bounds_the_adversarial_inputs(panel):
    attack(panel, "fgsm", 0.1)
    low, high = panel.attack_page.range_spins
    assert (low.value(), high.value()) == (0.0, 1.0)  # the data's range, shown
    assert not panel.attack_page.range_reset.isEnabled()
    low.setValue(-0.05)  # e.g. a sensor that reads a little below the data's black
    page = panel.attack_page
    assert page.user_range == (-0.05, 1.0) and page.range_reset.isEnabled()
    res = attack(panel, "fgsm", 0.1)
    assert res.x_adv.min() == pytest.approx(-0.05)  # black pixels pushed below 0, to the end
    high.setValue(-0.5)  # below the low end: refused, the range in force stays
    assert panel.attack_page.user_range == (-0.05, 1.0) and high.value() == 1.0
    assert "low end must be below" in panel.task_bar.label.text()
    panel.seen = True  # the live probe is asked for once the panel has been looked at
    assert panel.live_page.probe_config()["value_range"] == [-0.05, 1.0]  # the live probe follows
    panel.attack_page.range_reset.click()
    assert panel.attack_page.user_range is None and low.value() == 0.0
    assert "value_range" not in panel.live_page.probe_config()
    assert attack(panel, "fgsm", 0.1).x_adv.min() >= 0.0


def test_targeted_pgd_reaches_the_target(panel):
    attack(panel, "fgsm", 0.1)  # the classes arrive with the prepared network
    panel.attack_page.target_combo.setCurrentIndex(panel.attack_page.target_combo.findData(3))
    res = attack(panel, "pgd", 0.3)
    assert res.targeted and (res.target == 3).all()
    assert res.success.mean() >= 0.5
    assert "reach the target" in panel.attack_page.cards_title.text()


def test_robustness_curve_completes_and_never_rises(panel):
    panel.curve_page.curve_points.setValue(4)
    panel.curve_page.curve_samples.setValue(120)
    panel.curve_page.curve_steps.setValue(3)
    panel.curve_page.compute_curve()
    assert panel.runner.wait(WAIT)
    curves = panel.curve_page.curves
    assert set(curves) == {"fgsm", "pgd"}
    for curve in curves.values():
        acc = np.asarray(curve.accuracy)
        assert len(acc) == 4 and curve.eps[0] == 0.0
        assert np.all(np.diff(acc) <= 1e-9)
        assert acc[0] == pytest.approx(curve.clean_accuracy)
    assert curves["pgd"].accuracy[-1] <= curves["fgsm"].accuracy[0]
    x, y = panel.curve_page.fgsm_curve.getData()
    assert len(x) == 4 and y[0] == pytest.approx(100 * curves["fgsm"].clean_accuracy)
    assert panel.curve_page.clean_line.isVisible()
    clean_line = panel.curve_page.clean_line
    assert clean_line.value() == pytest.approx(100 * curves["fgsm"].clean_accuracy)


def test_cancel_stops_a_long_pgd_curve(qtbot, panel):
    panel.curve_page.curve_points.setValue(20)
    panel.curve_page.curve_samples.setValue(360)
    panel.curve_page.curve_steps.setValue(500)
    panel.tabs.setCurrentIndex(1)
    panel.attack_page.run_attack()  # the network prepared: the curve task starts at once
    assert panel.runner.wait(WAIT)
    task = panel.curve_page.compute_curve()
    qtbot.waitUntil(lambda: task.state == "running" and task.fraction > 0, timeout=WAIT)
    assert panel.task_bar.cancel_button.isEnabled()
    panel.task_bar.cancel_button.click()
    assert panel.runner.wait(WAIT)
    assert task.state == "cancelled" and task.fraction < 0.5
    assert panel.curve_page.curves == {}
    assert "cancelled" in panel.task_bar.label.text()
    assert not panel.task_bar.cancel_button.isEnabled()


def test_patch_section_reports_a_success_rate(panel):
    panel.tabs.setCurrentIndex(2)
    panel.attack_page.run_attack()
    assert panel.runner.wait(WAIT)
    panel.patch_page.patch_target.setCurrentIndex(panel.patch_page.patch_target.findData(3))
    panel.patch_page.patch_steps.setValue(40)
    panel.patch_page.run_patch()
    assert panel.runner.wait(WAIT)
    result = panel.patch_page.patch
    assert result is not None and result.target_class == 3
    assert result.patch.shape == (1, 4, 4)  # half the side of an 8x8 digit by default
    assert 0.0 <= result.success_rate <= 1.0 and panel.patch_page.random_patch_rate is not None
    assert len(panel.patch_page.patch_cards.cards) == 8
    text = panel.task_bar.label.text()
    assert f"{result.success_rate:.0%}" in text and "random patch" in text


def test_the_default_patch_shows_a_clear_effect_on_digits(panel):
    """The defaults the page offers for 8x8 digits (a centred 4x4 patch, 200 steps) make the
    patch far better than a random one: the demo shows something."""
    panel.tabs.setCurrentIndex(2)
    panel.attack_page.run_attack()
    assert panel.runner.wait(WAIT)
    page = panel.patch_page
    assert page.patch_size.value() == 4 and page.patch_steps.value() == 200
    assert page.patch_position.currentData() == "fixed"
    page.run_patch()
    assert panel.runner.wait(WAIT)
    optimised, random_rate = page.patch.success_rate, page.random_patch_rate
    assert optimised >= 0.8 and random_rate <= 0.15, (optimised, random_rate)
    assert optimised - random_rate >= 0.6


def test_vector_data_shows_perturbation_bars(qtbot, train_project):
    from gui.panels.adversarial import AdversarialPanel

    panel = AdversarialPanel()
    qtbot.addWidget(panel)
    panel.set_project(train_project(spirals_mlp(), 2))
    panel.attack_page.set_eps(0.2)
    panel.attack_page.run_attack()
    assert panel.runner.wait(WAIT)
    assert panel.attack_page.triptych.mode == "bars"
    assert panel.attack_page.triptych.arrays["perturbation"].shape == (2,)
    assert np.abs(panel.attack_page.triptych.arrays["perturbation"]).max() <= 0.2 + 1e-6
    assert not panel.patch_page.patch_button.isEnabled()
    panel.shutdown()


def test_live_robustness_requests_the_probe_and_plots_it(qtbot, panel, project,
                                                         fake_controller, flush_events):
    from runtime.probes.schedule import ProbeSchedule

    controller = fake_controller
    controller.set_probe_config({"filters": 2})  # another panel's probe
    panel.bind_controller(controller)
    flush_events()
    assert panel.live_page.probe_config() is None  # it will ask for nothing until it has been seen
    assert "robustness" not in controller.probe_config  # nobody has opened the panel yet
    panel.show()
    qtbot.waitUntil(lambda: "robustness" in controller.probe_config, timeout=5000)
    wanted = controller.probe_config["robustness"]
    assert controller.probe_config["filters"] == 2  # the other panels' probes stay
    page = panel.attack_page
    assert wanted["eps"] == pytest.approx(page.eps) and wanted["method"] == page.method
    compiled, data = prepare(project)
    schedule = ProbeSchedule(compiled, data, {"robustness": wanted})
    controller.started.emit({"type": "started"})
    controller.set_probe_config({"filters": 2})  # another panel manager replaces the config
    controller.epoch.emit({"type": "epoch", "epoch": 0})
    assert controller.probe_config["robustness"] == wanted  # asked for again
    for epoch in (1, 2):
        controller.probe.emit({"type": "probe", "epoch": epoch, **schedule.run("robustness")})
    assert [e["epoch"] for e in panel.live_page.live_epochs] == [1, 2]
    assert all(e["robust"] <= e["clean"] for e in panel.live_page.live_epochs)
    # two payloads in one instant: the first is drawn at once, the second at the next frame
    qtbot.waitUntil(lambda: not clock().waiting(panel), timeout=2000)
    x, y = panel.live_page.live_robust.getData()
    assert list(x) == [1, 2]
    assert len(panel.live_page.live_cards.cards) == 4
    assert "after epoch 2" in panel.live_page.live_title.text()
    title = panel.live_page.live_plot.titleLabel  # short enough to be read whole
    assert "validation samples" not in title.text and f"n={wanted['samples']}" in title.text
    cards = list(panel.live_page.live_cards.cards)
    controller.probe.emit({"type": "probe", "epoch": 3, **schedule.run("robustness")})
    qtbot.waitUntil(lambda: "after epoch 3" in panel.live_page.live_title.text(), timeout=2000)
    assert all(a is b for a, b in zip(panel.live_page.live_cards.cards, cards, strict=True))
    panel.live_page.live_check.setChecked(False)
    qtbot.waitUntil(lambda: "robustness" not in controller.probe_config, timeout=5000)
    assert controller.probe_config == {"filters": 2}


def test_a_tab_behind_another_never_turns_the_live_attack_on(qtbot, editor_window, project,
                                                             tmp_path, fake_controller,
                                                             flush_events):
    """Building the default layout shows every dock for a moment; only a panel really on
    screen asks the training process for an attack per epoch."""
    from graph.project import save_project
    from gui.panels.registry import install_panels

    window = editor_window
    save_project(project, tmp_path / "digits.plexus")
    assert window.open_project(tmp_path / "digits.plexus", ask=False)
    controller = fake_controller
    controller.set_probe_config({"filters": 2})  # another panel's probe
    panels = install_panels(window, controller, ("adversarial", "explain"))
    adversarial = panels["adversarial"]
    window.resize(1400, 900)
    window.show()
    window.apply_default_layout()
    window.show_dock("problems")
    qtbot.waitExposed(window)
    flush_events()  # the layout's show events have been handled: the panel was not seen
    assert adversarial.live_page.probe_config() is None  # so it will not ask for an attack later
    assert "robustness" not in controller.probe_config
    window.show_dock("adversarial")
    qtbot.waitUntil(lambda: "robustness" in controller.probe_config, timeout=5000)


def test_first_run_without_weights_opens_the_live_page(qtbot, project, fake_controller):
    from gui.panels.adversarial import LIVE, AdversarialPanel
    from gui.panels.lab import NEEDS_WEIGHTS
    from runtime.probes.schedule import ProbeSchedule

    panel = AdversarialPanel()
    qtbot.addWidget(panel)
    controller = fake_controller
    controller.set_probe_config({"filters": 2})  # another panel's probe
    fresh = digits_cnn()
    panel.set_project(fresh)
    panel.bind_controller(controller)
    assert panel.is_empty and panel.empty.text() == NEEDS_WEIGHTS
    controller.started.emit({"type": "started"})
    assert not panel.is_empty and panel.tabs.currentIndex() == LIVE
    assert not panel.tabs.isTabEnabled(0)  # attacks wait for the weights
    compiled, data = prepare(project)
    payload = ProbeSchedule(compiled, data, {"robustness": True}).run("robustness")
    controller.probe.emit({"type": "probe", "epoch": 1, **payload})
    controller.finished.emit({"type": "finished", "status": "completed"})
    assert len(panel.live_page.live_epochs) == 1 and not panel.is_empty
    fresh.weights = project.weights  # what the controller stores after the run
    controller.project_updated.emit(fresh)
    assert panel.blocker is None and panel.tabs.isTabEnabled(0)
    panel.shutdown()


def test_the_registry_adds_the_adversarial_and_explain_docks(editor_window):
    from gui.panels.adversarial import AdversarialPanel
    from gui.panels.explain import ExplainPanel
    from gui.panels.registry import install_panels

    window = editor_window
    panels = install_panels(window, keys=("adversarial", "explain"))
    adversarial, explain = panels["adversarial"], panels["explain"]
    assert isinstance(adversarial, AdversarialPanel) and isinstance(explain, ExplainPanel)
    assert window.docks["adversarial"].widget() is adversarial
    assert window.docks["explain"].widget() is explain
    assert adversarial.is_empty and explain.is_empty  # a new, empty project


def test_task_runner_delivers_results_errors_and_supersedes(qtbot):
    import threading

    from gui.tasks import TaskBar, TaskRunner

    runner = TaskRunner()
    bar = TaskBar(runner)
    qtbot.addWidget(bar)
    gate = threading.Event()
    got: list = []

    def slow(progress, cancel):
        progress(0.5)
        gate.wait(5)
        return "old"

    first = runner.run("job", slow, "Slow job", on_done=got.append)
    second = runner.run("job", lambda progress, cancel: "new", "New job", on_done=got.append)
    gate.set()
    assert runner.wait(WAIT)
    assert got == ["new"]  # the superseded task's result is dropped
    assert first.state == "cancelled" and second.state == "done"
    errors: list = []
    failing = runner.run("bad", lambda p, c: (_ for _ in ()).throw(ValueError(
        "node 'fc1': pick a layer with weights\nmore detail")), "Bad job",
        on_error=errors.append)
    assert runner.wait(WAIT)
    assert failing.state == "failed" and errors == ["node 'fc1': pick a layer with weights"]
    assert bar.label.text() == errors[0] and not bar.cancel_button.isEnabled()


def test_no_cycle_collection_runs_in_a_job_thread(qtbot):
    """A collection in a job's thread can free a Qt object there and deadlock with the GUI
    thread (gui.tasks._CollectorPause): it is off while jobs run, back on after."""
    import gc

    from gui.tasks import TaskRunner

    assert gc.isenabled()
    runner = TaskRunner()
    seen: list = []
    runner.run("job", lambda progress, cancel: gc.isenabled(), "Job", on_done=seen.append)
    assert runner.wait(WAIT)
    assert seen == [False] and gc.isenabled()


def test_token_networks_are_explained_in_words_not_attacked():
    """Attacks nudge input values; a network that reads token ids gets a sentence instead of
    a failed background job."""
    from gui.panels.lab import attack_blocker

    project = build("sentiment_lstm")
    project.weights = b"trained"  # the blocker reads the graph only
    for needs in ("attacks", "explanations"):
        text = attack_blocker(project, needs)
        assert text is not None and "token ids" in text and "Sequences panel" in text
    assert attack_blocker(build("digits_cnn"), "attacks") is not None  # untrained
