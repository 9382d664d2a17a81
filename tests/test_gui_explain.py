"""The Explain panel on a briefly trained digits_cnn: saliency over the input, and the
activation-maximization grid of the layer selected on the canvas, computed in the background."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from graph.project import save_project  # noqa: E402
from resources.examples.make import digits_cnn  # noqa: E402

WAIT = 60_000  # ms


@pytest.fixture(scope="module")
def project(trained_digits):
    return trained_digits


@pytest.fixture
def panel(lab_panel, project):
    from gui.panels.explain import ExplainPanel

    return lab_panel(ExplainPanel, project)


def node_id(project, name: str) -> int:
    return project.graph.node_by_name(name).id


def test_empty_state_asks_for_training(qtbot):
    from gui.panels.explain import ExplainPanel

    panel = ExplainPanel()
    qtbot.addWidget(panel)
    panel.set_project(digits_cnn())
    assert panel.is_empty
    assert panel.empty.text() == "Train the network first: explanations need trained weights"
    assert panel.run_saliency() is None


@pytest.mark.parametrize("method", ["gradient", "smoothgrad", "integrated_gradients"])
def test_saliency_image_has_the_inputs_height_and_width(panel, method):
    panel.set_method(method)
    panel.run_saliency()
    assert panel.runner.wait(WAIT)
    assert not panel.is_empty
    assert panel.saliency is not None and panel.saliency.method == method
    assert panel.saliency.values.shape == (1, 1, 8, 8)
    overlay = panel.saliency_image
    assert overlay.shape == (8, 8, 4) and overlay.dtype == np.uint8
    assert panel.images[2].image.shape[:2] == (8, 8)
    assert panel.images[1].image.shape == (8, 8)
    assert np.abs(panel.saliency.values).max() > 0


def test_saliency_shows_the_input_once_and_a_signed_colour_scale(panel):
    from gui.panels.colormaps import symmetric_levels

    panel.run_saliency()
    assert panel.runner.wait(WAIT)
    drawn = [item for item in panel.view.ci.items if item in panel.plots]
    assert drawn == panel.plots[:2]  # input and attribution; no third copy of the input
    signed = panel.images[1].image
    low, high = (float(v) for v in symmetric_levels(signed))
    assert low == pytest.approx(-high) and high > 0
    assert panel.color_bar.isVisible()
    assert panel.color_bar.levels() == pytest.approx((low, high))


def test_saliency_for_a_chosen_class(panel):
    panel.run_saliency()  # prepares: the class list arrives
    assert panel.runner.wait(WAIT)
    panel.class_combo.setCurrentIndex(panel.class_combo.findData(7))
    panel.set_sample(2)
    panel.run_saliency()
    assert panel.runner.wait(WAIT)
    assert int(panel.saliency.target_class[0]) == 7
    assert "class 7" in panel.task_bar.label.text()


def test_actmax_grid_has_one_tile_per_channel_and_can_be_cancelled(qtbot, panel, project):
    panel.actmax_steps.setValue(20)
    panel.set_layer(node_id(project, "conv1"))
    panel.run_actmax()
    assert panel.runner.wait(WAIT)
    assert panel.actmax_node == node_id(project, "conv1")
    assert panel.actmax_tiles == 16 == len(panel.actmax.channels)
    assert panel.actmax.images.shape == (16, 1, 8, 8)
    assert panel.grid_image.image is not None
    panel.actmax_steps.setValue(5000)
    task = panel.run_actmax()
    qtbot.waitUntil(lambda: task.state == "running" and task.fraction > 0, timeout=WAIT)
    panel.runner.cancel()
    assert panel.runner.wait(WAIT)
    assert task.state == "cancelled"
    assert panel.actmax_tiles == 16  # the last grid stays


def test_canvas_selection_picks_the_layer(qtbot, tmp_path, project, editor_window):
    from gui.panels.registry import install_panels

    window = editor_window
    path = tmp_path / "digits.plexus"
    save_project(project, path)
    assert window.open_project(str(path), ask=False)
    explain = install_panels(window, keys=("adversarial", "explain"))["explain"]
    explain.actmax_steps.setValue(10)
    window.resize(1400, 900)
    window.show()
    window.show_dock("explain")
    qtbot.waitUntil(explain.isVisible, timeout=5000)
    assert not explain.is_empty
    logits = window.project.graph.node_by_name("logits").id
    window.scene.select_node(logits)
    qtbot.waitUntil(lambda: explain.actmax_node == logits, timeout=WAIT)
    assert explain.layer_combo.currentData() == logits
    assert explain.actmax_tiles == 10  # one per class logit
    assert explain.runner.wait(WAIT)
    assert explain.saliency is not None  # shown with the panel
    explain.shutdown()
    window.docks["adversarial"].widget().shutdown()
    window.persist = False
    window.undo_stack.setClean()
    window.close()


def test_explain_behind_another_tab_waits_until_raised(qtbot, tmp_path, project, editor_window,
                                                       flush_events):
    """A dock behind another tab counts as visible to Qt; explaining is left until the user
    brings the panel to the front."""
    from gui.panels.registry import install_panels

    window = editor_window
    path = tmp_path / "digits.plexus"
    save_project(project, path)
    explain = install_panels(window, keys=("adversarial", "explain"))["explain"]
    window.resize(1400, 900)
    window.show()
    window.show_dock("problems")
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.analysis_updated, timeout=WAIT):  # the panel rechecks on it
        assert window.open_project(str(path), ask=False)
    flush_events()
    assert explain.saliency is None and not explain.runner.active("saliency")
    window.show_dock("explain")
    qtbot.waitUntil(lambda: explain.saliency is not None, timeout=WAIT)
    explain.shutdown()
    window.docks["adversarial"].widget().shutdown()
