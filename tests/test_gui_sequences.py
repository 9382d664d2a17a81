"""The Sequences and Autoencoder panels: token colouring, forecast plot, anomaly histogram with
its threshold line, reconstructions, latent space beside PCA, empty states, and installing
them in the main window. Each panel is also rendered to a PNG (in PLEXUS_SCREENSHOTS when set).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")


from resources.examples import make  # noqa: E402
from runtime.session import run_training  # noqa: E402

SIZE = (900, 520)


def _trained(name: str, epochs: int):
    project = make.build(name)
    project.training.options = {"threads": 1}
    result = run_training(project, epochs=epochs)
    assert result.status == "completed", result.message
    return project


@pytest.fixture(scope="module", autouse=True)
def dark_theme(qapp):
    from gui import style

    style.apply_theme("dark", qapp)


@pytest.fixture(scope="module")
def projects():
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield {
            "sentiment": _trained("sentiment_lstm", 4),
            "sines": _trained("sine_forecast_lstm", 3),
            "anomaly": _trained("autoencoder_anomaly_digits", 6),
            "latent": _trained("autoencoder_latent2d", 4),
        }
    finally:
        torch.set_num_threads(previous)


def _render(widget, tmp_path: Path, name: str) -> Path:
    """Grab the widget to a PNG in tmp_path (and PLEXUS_SCREENSHOTS when set)."""
    image = widget.grab()
    path = tmp_path / f"{name}.png"
    assert image.save(str(path))
    folder = os.environ.get("PLEXUS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        image.save(str(Path(folder) / f"{name}.png"))
    return path


def _panel(qtbot, cls):
    panel = cls()
    qtbot.addWidget(panel)
    panel.resize(*SIZE)
    panel.show()
    return panel


def _shown(panel, project):
    panel.set_project(project)
    assert panel.analyst.wait()
    return panel


# -- sequences ------------------------------------------------------------------------------------
def test_tokens_are_coloured_by_the_chosen_unit(qtbot, projects, tmp_path):
    from gui.panels.sequences import SequencePanel

    panel = _shown(_panel(qtbot, SequencePanel), projects["sentiment"])
    assert panel.pages.currentIndex() == 1, panel.message.text()
    view = panel.result["view"]
    assert view["name"] == "lstm" and view["indices"] == list(range(8))
    assert panel.layer_combo.count() == 2 and panel.layer_combo.currentText() == "lstm (32 units)"
    first = panel.text.toHtml()
    assert "background-color" in first and view["tokens"][0][0] in first
    panel.unit_spin.setValue(view["ranked_units"][0])
    busiest = panel.text.toHtml()
    assert busiest != first
    panel.busiest.click()
    assert panel.unit_spin.value() == view["ranked_units"][1]
    assert "2nd most varied" in panel.legend.text()
    panel.unit_spin.setValue(view["ranked_units"][0])
    _render(panel, tmp_path, "sequences_tokens")
    panel.next_button.click()
    assert panel.analyst.wait()
    assert panel.result["view"]["indices"] == list(range(8, 16))
    assert panel.prev_button.isEnabled()
    embed = panel.layer_combo.findText("embed (32 units)")
    panel.layer_combo.setCurrentIndex(embed)
    panel.layer_combo.activated.emit(embed)
    assert panel.analyst.wait()
    assert panel.result["view"]["name"] == "embed"


def test_forecast_is_drawn_against_the_actual_series(qtbot, projects, tmp_path):
    from gui.panels.sequences import SequencePanel

    panel = _shown(_panel(qtbot, SequencePanel), projects["sines"])
    assert panel.pages.currentIndex() == 2, panel.message.text()
    x, actual = panel.actual_curve.getData()
    _, predicted = panel.forecast_curve.getData()
    assert len(x) == len(actual) == len(predicted) == 100
    assert np.isnan(predicted[:24]).all() and np.isfinite(predicted[24:]).all()
    text = panel.readout.text()
    assert "MSE" in text and "of the baseline" in text
    _render(panel, tmp_path, "sequences_forecast")
    panel.ahead_spin.setValue(4)
    assert panel.analyst.wait()
    assert panel.result["view"]["steps_ahead"] == 4
    assert panel.series_spin.value() == 1 and "series 1 of 6" in panel.readout.text()
    panel.series_spin.setValue(3)
    assert panel.analyst.wait()
    assert panel.result["view"]["series"] == 2  # the spin box counts from 1


def test_sequences_panel_says_what_is_missing(qtbot, projects):
    from gui.panels.sequences import NEEDS_WEIGHTS, NO_PROJECT, SequencePanel

    panel = _panel(qtbot, SequencePanel)
    panel.refresh()
    assert panel.message.text() == NO_PROJECT
    panel.set_project(make.build("sentiment_lstm"))
    assert panel.message.text() == NEEDS_WEIGHTS and panel.pages.currentIndex() == 0
    panel.set_project(_trained("digits_cnn", 1))
    assert panel.analyst.wait()
    assert "neither text" in panel.message.text()


# -- autoencoder ----------------------------------------------------------------------------------
def test_anomaly_histogram_threshold_and_scores(qtbot, projects, tmp_path):
    from gui.panels.autoencoder import AutoencoderPanel

    panel = _shown(_panel(qtbot, AutoencoderPanel), projects["anomaly"])
    assert panel.pages.currentWidget() is panel.tabs, panel.message.text()
    report = panel.result["report"]
    heights = panel.normal_bars.opts["height"].sum() + panel.anomalous_bars.opts["height"].sum()
    assert heights == len(report["errors"])
    assert panel.threshold == pytest.approx(report["threshold"])
    assert "Precision" in panel.readout.text() and "ROC-AUC" in panel.readout.text()
    assert abs(panel.percentile_spin.value() - 95.0) < 1.0
    _render(panel, tmp_path, "autoencoder_anomalies")
    # dragging the line (what a drag emits) rescores: a higher threshold flags fewer samples
    before = panel.readout.text()
    panel.threshold_line.setValue(report["threshold"] * 2)
    assert panel.readout.text() != before
    assert panel.percentile_spin.value() > 99.0
    from runtime.autoencoder import detection_scores

    high = detection_scores(report["errors"], report["labels"], report["threshold"] * 2)
    assert f"flags {high['flagged']} of" in panel.readout.text()
    panel.percentile_spin.setValue(50.0)
    assert panel.threshold == pytest.approx(np.percentile(report["train_errors"], 50.0))


def test_reconstructions_and_latent_space(qtbot, projects, tmp_path):
    from gui.panels.autoencoder import PAIRS, AutoencoderPanel

    panel = _shown(_panel(qtbot, AutoencoderPanel), projects["anomaly"])
    panel.tabs.setCurrentIndex(1)
    assert panel.pairs_grid.count() == PAIRS
    worst = panel.result["worst"]["errors"]
    assert (np.diff(worst) <= 0).all()
    _render(panel, tmp_path, "autoencoder_reconstructions")
    panel.worst_check.setChecked(False)
    assert "in order" in panel.pairs_note.text()

    latent = _shown(_panel(qtbot, AutoencoderPanel), projects["latent"])
    latent.tabs.setCurrentIndex(2)
    data = latent.result["latent"]
    assert data["dims"] == 2 and data["latent"].shape[1] == 2
    title = latent.latent_view.getPlotItem().titleLabel.text
    assert "kNN" in title and "bottleneck" in title
    assert "kNN" in latent.pca_view.getPlotItem().titleLabel.text
    assert len(latent.latent_view.getPlotItem().listDataItems()) == 1
    # digits have ten classes, not normal/anomaly: no precision/recall, but a histogram
    assert "carry no anomaly labels" in latent.readout.text()
    _render(latent, tmp_path, "autoencoder_latent")


def test_autoencoder_panel_empty_states(qtbot, projects):
    from gui.panels.autoencoder import NEEDS_WEIGHTS, NOT_AUTOENCODER, AutoencoderPanel

    panel = _panel(qtbot, AutoencoderPanel)
    panel.set_project(projects["sentiment"])
    assert panel.message.text() == NOT_AUTOENCODER
    panel.set_project(make.build("autoencoder_latent2d"))
    assert panel.message.text() == NEEDS_WEIGHTS


# -- installing in the window ---------------------------------------------------------------------
def test_install_adds_both_docks_and_follows_the_project(tmp_path, projects, editor_window):
    from gui.panels.sequences import install_sequence_panels

    window = editor_window
    sequences, autoencoder = install_sequence_panels(window)
    assert {"sequences", "autoencoder"} <= set(window.docks)
    assert sequences.project is window.project
    from graph.project import save_project

    path = tmp_path / "anomaly.plexus"
    save_project(projects["anomaly"], path)
    assert window.open_project(path, ask=False)
    assert autoencoder.project is window.project and sequences.project is window.project
    window.show_dock("autoencoder")
    assert autoencoder.analyst.wait()
    assert autoencoder.pages.currentWidget() is autoencoder.tabs, autoencoder.message.text()
    window.undo_stack.setClean()
    window.persist = False
    window.close()
