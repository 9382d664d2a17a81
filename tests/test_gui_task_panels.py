"""Panels that follow the project's task: a tagger's token-level confusion matrix, a GAN's
own empty-state texts, the decision boundary drawn with equal aspect."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from graph.project import load_project  # noqa: E402
from runtime.prepare import prepare  # noqa: E402
from runtime.probes.schedule import ProbeSchedule  # noqa: E402
from runtime.train import train  # noqa: E402

EXAMPLES = "resources/examples"


def trained(name: str, epochs: int) -> tuple:
    project = load_project(f"{EXAMPLES}/{name}.plexus")
    project.weights = None
    compiled, data = prepare(project)
    train(compiled, data, dataclasses.replace(project.training, epochs=epochs))
    return project, compiled, data


@pytest.fixture(scope="module")
def tagger():
    return trained("future_context_bilstm", 3)


def show(qtbot, panel, payload, size=(1000, 330)):
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    panel.submit({"type": "probe", "epoch": 3, **payload})
    panel.flush()
    return panel


def test_a_tagger_gets_a_token_level_confusion_matrix(tagger):
    _project, compiled, data = tagger
    payload = ProbeSchedule(compiled, data, {"confusion": True}).run("confusion")
    assert payload is not None and "error" not in payload, payload
    matrix = payload["matrix"]
    assert matrix.shape == (2, 2) and payload["class_names"] == ["character", "actor"]
    labelled = int((data_targets(data) != -100).sum())
    assert int(matrix.sum()) == payload["samples"] == labelled  # every labelled token once
    assert payload["unit"] == "tokens" and payload["wrong"] == []
    assert payload["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())


def data_targets(data):
    from runtime.evaluation import dataset_tensors, evaluation_set

    _x, y = dataset_tensors(evaluation_set(data))
    return y.reshape(-1)


def test_the_confusion_panel_counts_tokens_for_a_tagger(qtbot, tagger, tmp_path):
    from gui.panels.confusion import ConfusionPanel

    _project, compiled, data = tagger
    payload = ProbeSchedule(compiled, data, {"confusion": True}).run("confusion")
    panel = show(qtbot, ConfusionPanel(), payload)
    total = int(payload["matrix"].sum())
    assert f"on {total:,} validation tokens" in panel.title.text()
    counts = [int(text) for text in panel.cell_labels.texts]
    assert counts == [int(v) for v in payload["matrix"].reshape(-1)] and sum(counts) == total
    assert not panel.wrong_widget.isVisible()  # tokens have no thumbnails
    assert panel.color_bar.values == (0.0, 1.0)
    panel.grab().save(str(tmp_path / "tagger_confusion.png"))


def test_the_decision_boundary_keeps_equal_aspect_with_the_points_over_it(qtbot, tmp_path):
    from gui.panels.boundary import BoundaryPanel

    project, compiled, data = trained("spirals_mlp", 4)
    payload = ProbeSchedule(compiled, data, {"boundary": {"resolution": 48}}).run("boundary")
    panel = BoundaryPanel()
    panel.set_dataset("spirals", True, data.class_names)
    show(qtbot, panel, payload, (1100, 520))
    box = panel.field_plot.getViewBox()
    assert box.state["aspectLocked"] == 1.0  # one unit of x1 is as long as one of x2
    (x0, x1), (y0, y1) = box.viewRange()
    width, height = box.width(), box.height()
    assert width / (x1 - x0) == pytest.approx(height / (y1 - y0), rel=0.02)
    assert min(width, height) > 300  # large in a large dock, not a stamp
    assert panel.points.zValue() >= panel.field.zValue()
    assert len(panel.points.data) == len(data.val)
    panel.resize(1000, 230)  # the default bottom dock: no title row, the field gets its height
    qtbot.waitUntil(lambda: panel.compact, timeout=5000)
    panel.flush()
    assert not panel.field_plot.titleLabel.isVisible()
    qtbot.waitUntil(lambda: box.height() >= 140, timeout=5000)
    (x0, x1), (y0, y1) = box.viewRange()
    assert box.width() / (x1 - x0) == pytest.approx(box.height() / (y1 - y0), rel=0.02)
    panel.grab().save(str(tmp_path / "boundary.png"))


def test_each_project_has_its_task():
    from gui.panels.task_notes import project_task
    from resources.examples.make import build

    tasks = {name: project_task(build(name)) for name in (
        "gan_ring", "future_context_bilstm", "sine_forecast_lstm", "digits_cnn",
        "autoencoder_latent2d", "house_prices_mlp")}
    assert tasks == {"gan_ring": "gan", "future_context_bilstm": "tagging",
                     "sine_forecast_lstm": "forecasting", "digits_cnn": "classification",
                     "autoencoder_latent2d": "reconstruction", "house_prices_mlp": "regression"}


@pytest.mark.parametrize("name, pointer", [("gan_ring", "GAN panel"),
                                           ("sine_forecast_lstm", "Sequences panel"),
                                           ("autoencoder_latent2d", "Autoencoder panel")])
def test_the_lab_never_asks_a_non_classifier_to_become_one(name, pointer):
    from gui.panels.lab import attack_blocker
    from resources.examples.make import build

    project = build(name)
    project.weights = b"trained"  # the blocker reads the graph only
    for needs in ("attacks", "explanations"):
        text = attack_blocker(project, needs)
        assert text is not None and pointer in text, text
        assert "set it to classification" not in text and "press Train" not in text


def test_live_panels_of_a_gan_point_to_where_its_training_shows(qtbot, editor_window,
                                                                 fake_controller):
    from gui.panels.monitor import ProbeMonitor
    from gui.panels.registry import PROBED, install_panels
    from gui.panels.task_notes import NOTES

    window = editor_window
    panels = install_panels(window, fake_controller, PROBED)
    monitor = window.findChild(ProbeMonitor)
    assert window.open_project(f"{EXAMPLES}/gan_ring.plexus", ask=False)
    monitor.load_dataset(window.project, wait=True)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    for key in ("confusion", "activations"):
        window.docks[key].raise_()
        qtbot.wait(50)
        assert panels[key].is_empty
        assert panels[key].empty.text() == NOTES[(key, "gan")]
        assert "press Train" not in panels[key].empty.text()
        assert key not in monitor.build_config()  # no probe the GAN trainer cannot answer
    assert window.open_project(f"{EXAMPLES}/digits_cnn.plexus", ask=False)
    monitor.load_dataset(window.project, wait=True)
    assert "press Train" in panels["confusion"].empty.text()  # a classifier's own text
    assert "press Train" in panels["activations"].empty.text()


def test_autoencoder_views_open_where_the_project_points_and_keep_their_shape(
        qtbot, train_example, tmp_path):
    from gui.panels.autoencoder import HIST_Y, LATENT_TAB, AutoencoderPanel

    def opened(name: str, epochs: int) -> AutoencoderPanel:
        panel = AutoencoderPanel()
        qtbot.addWidget(panel)
        panel.resize(1100, 260)  # a short bottom dock
        panel.show()
        panel.set_project(train_example(name, epochs, threads=1).project)
        assert panel.analyst.wait()
        assert panel.pages.currentWidget() is panel.tabs, panel.message.text()
        return panel

    latent = opened("autoencoder_latent2d", 2)
    assert latent.tabs.currentIndex() == LATENT_TAB  # its 2-D map is the point
    for view in (latent.latent_view, latent.pca_view):
        assert view.getPlotItem().getViewBox().state["aspectLocked"] == 1.0
    latent.grab().save(str(tmp_path / "latent.png"))
    anomaly = opened("autoencoder_anomaly_digits", 2)
    assert anomaly.tabs.currentIndex() == 0
    legend = anomaly.hist_legend.text()
    assert "normal" in legend and "anomalous" in legend
    assert anomaly.hist_view.getPlotItem().getAxis("left").labelText == HIST_Y
    qtbot.waitUntil(lambda: anomaly.hist_view.height() > 150, timeout=5000)  # the read-out
    assert anomaly.readout.geometry().left() > anomaly.hist_view.geometry().right()  # beside


def test_the_confusion_matrix_names_every_class_in_a_short_dock(qtbot):
    from gui.panels.confusion import ConfusionPanel

    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 5, (10, 10)) + np.diag(np.full(10, 30))
    payload = {"probe": "confusion", "matrix": matrix, "accuracy": 0.8,
               "per_class_accuracy": np.full(10, 0.8, np.float32),
               "class_names": [str(i) for i in range(10)], "samples": int(matrix.sum()),
               "wrong": [], "wrong_inputs": np.zeros((0, 1, 8, 8), np.float32)}
    panel = show(qtbot, ConfusionPanel(), payload, (1000, 230))  # the default bottom dock
    for axis in (panel.matrix_plot.getAxis("left"), panel.matrix_plot.getAxis("bottom")):
        low, high = axis.range
        length = axis.height() if axis.orientation == "left" else axis.width()
        ticks = axis.tickValues(low, high, length)
        assert ticks and ticks[0][0] == 1.0 and len(ticks[0][1]) == 10, (axis.orientation,
                                                                           length, ticks)
    counts = [int(text) for text in panel.cell_labels.texts]
    assert sum(counts) == int(matrix.sum())
