"""The Sequences and Autoencoder panels: token colouring, attention heat maps, forecast plot,
anomaly histogram with its threshold line, reconstructions, latent space beside PCA, empty
states, and installing them in the main window. Each panel is also rendered to a PNG (in
PLEXUS_SCREENSHOTS when set).
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


def _trained(train_example, name: str, epochs: int):
    trained = train_example(name, epochs, threads=1)
    assert trained.result.status == "completed", trained.result.message
    return trained.project


@pytest.fixture(scope="module", autouse=True)
def dark_theme(qapp):
    from gui import style

    style.apply_theme("dark", qapp)


@pytest.fixture(scope="module")
def projects(train_example):
    return {name: _trained(train_example, example, epochs) for name, example, epochs in (
        ("sentiment", "sentiment_lstm", 4), ("sines", "sine_forecast_lstm", 3),
        ("anomaly", "autoencoder_anomaly_digits", 6), ("latent", "autoencoder_latent2d", 4))}


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
@pytest.mark.slow
def test_tokens_are_coloured_by_the_chosen_unit(qtbot, projects, tmp_path):
    from gui.panels.sequences import SequencePanel

    panel = _shown(_panel(qtbot, SequencePanel), projects["sentiment"])
    assert panel.pages.currentIndex() == 1, panel.message.text()
    view = panel.result.view
    assert view.name == "lstm" and view.indices == list(range(8))
    assert panel.layer_combo.count() == 2 and panel.layer_combo.currentText() == "lstm (32 units)"
    assert panel.result.attention is None and panel.attention.isHidden()  # no attention
    first = panel.text.toHtml()
    assert "background-color" in first and view.tokens[0][0] in first
    panel.unit_spin.setValue(view.ranked_units[0])
    busiest = panel.text.toHtml()
    assert busiest != first
    panel.busiest.click()
    assert panel.unit_spin.value() == view.ranked_units[1]
    assert "2nd most varied" in panel.legend.text()
    panel.unit_spin.setValue(view.ranked_units[0])
    _render(panel, tmp_path, "sequences_tokens")
    panel.next_button.click()
    assert panel.analyst.wait()
    assert panel.result.view.indices == list(range(8, 16))
    assert panel.prev_button.isEnabled()
    embed = panel.layer_combo.findText("embed (32 units)")
    panel.layer_combo.setCurrentIndex(embed)
    panel.layer_combo.activated.emit(embed)
    assert panel.analyst.wait()
    assert panel.result.view.name == "embed"


@pytest.fixture(scope="module")
def attention_project():
    """Sentiment reviews read by two Transformer encoder layers, trained two epochs."""
    from tests.test_attention import transformer_project

    project = transformer_project(layers=2)
    result = run_training(project, epochs=2)
    assert result.status == "completed", result.message
    return project


def _drawn_ticks(axis) -> list[str]:
    """The tick labels an axis draws at its current size."""
    from PySide6.QtGui import QImage, QPainter

    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        return [text for _rect, _flags, text in axis.generateDrawSpecs(painter)[2]]
    finally:
        painter.end()


@pytest.mark.slow
def test_attention_heat_map_names_the_words_and_reads_out_a_cell(qtbot, attention_project,
                                                                 tmp_path):
    from PySide6.QtCore import QPointF

    from gui.panels.sequences import SequencePanel

    panel = _shown(_panel(qtbot, SequencePanel), attention_project)
    assert panel.pages.currentIndex() == 1, panel.message.text()
    assert not panel.attention.isHidden()
    assert panel.layer_combo.currentText() == "encoder2 (16 units)"
    layers = [panel.attention_layer.itemText(i) for i in range(panel.attention_layer.count())]
    assert layers == ["encoder1 (2 heads)", "encoder2 (2 heads)"]
    assert panel.attention_layer.isVisibleTo(panel)  # several layers: a chooser
    assert panel.attention_sample.count() == 8
    words = panel.result.view.tokens[0]
    count = len(words)
    image = panel.attention_image.image
    assert image.shape == (count, count)
    padding = panel.result.attention.padding[panel.attention_layer.currentData()][0]
    assert (image.sum(1) <= 1 + 1e-5).all()  # what a word does not give a word goes to padding
    assert 1.0 - image.sum(1).mean() == pytest.approx(padding, abs=1e-5)
    assert f"Padding got {padding:.0%}" in panel.attention_readout.text()
    left, bottom = (panel.attention_plot.getAxis(side) for side in ("left", "bottom"))
    assert left.names == bottom.names == words
    assert _drawn_ticks(bottom) == words  # upright names: every key word keeps its label
    assert set(_drawn_ticks(left)) <= set(words) and len(_drawn_ticks(left)) >= count // 2
    assert panel.attention_bar.levels() == pytest.approx((0.0, float(image.max())))
    assert "mean of 2 heads" in panel.attention_readout.text()
    _render(panel, tmp_path, "sequences_attention")

    box = panel.attention_plot.getViewBox()
    panel.attention_view.scene().sigMouseMoved.emit(box.mapViewToScene(QPointF(2, 1)))
    assert panel.attention_readout.text() == \
        f"'{words[1]}' attends to '{words[2]}': {image[1, 2]:.2f}"
    panel.attention_view.scene().sigMouseMoved.emit(box.mapViewToScene(QPointF(-5, -5)))
    assert "mean of 2 heads" in panel.attention_readout.text()

    first_layer = image.copy()
    panel.attention_layer.setCurrentIndex(1)
    assert not np.allclose(panel.attention_image.image, first_layer)
    panel.attention_sample.setCurrentIndex(3)
    fourth = panel.result.view.tokens[3]
    assert panel.attention_image.image.shape == (len(fourth), len(fourth))
    assert bottom.names == fourth
    panel.next_button.click()  # the next page keeps the chosen layer and sample position
    assert panel.analyst.wait()
    assert panel.attention_sample.currentData() == 11
    assert panel.attention_layer.currentText() == "encoder2 (2 heads)"


@pytest.mark.slow
def test_attention_follows_the_theme(qtbot, qapp, attention_project):
    from gui import style
    from gui.panels import colormaps
    from gui.panels.sequences import SequencePanel

    panel = _shown(_panel(qtbot, SequencePanel), attention_project)
    dark = colormaps.lookup_table(colormaps.sequential_colormap())
    assert np.array_equal(panel.attention_image.lut, dark)
    style.apply_theme("light", qapp)
    try:
        panel.refresh_theme()
        light = colormaps.lookup_table(colormaps.sequential_colormap())
        assert not np.array_equal(light, dark)
        assert np.array_equal(panel.attention_image.lut, light)
        top = float(panel.attention_image.image.max())
        assert panel.attention_bar.levels() == pytest.approx((0.0, top))
        ticks = [float(t) for t in _drawn_ticks(panel.attention_bar.getAxis("right"))]
        assert ticks and max(ticks) <= top  # the bar reads weights, never milli-weights
    finally:
        style.apply_theme("dark", qapp)


def test_one_attention_layer_needs_no_chooser(qtbot):
    from gui.panels.sequences import SequencePanel
    from runtime.compile import compile_graph, node_state, weights_to_bytes
    from tests.test_attention import transformer_project

    project = transformer_project(layers=1)
    project.weights = weights_to_bytes(node_state(compile_graph(project.graph)))
    panel = _shown(_panel(qtbot, SequencePanel), project)
    assert not panel.attention.isHidden() and panel.attention_layer.count() == 1
    assert not panel.attention_layer.isVisibleTo(panel)


@pytest.mark.slow
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
    legend = panel.plot_view.getPlotItem().titleLabel.text  # above the data, never over it
    assert all(name in legend for name in ("actual", "repeat last value", "forecast"))
    _render(panel, tmp_path, "sequences_forecast")
    panel.ahead_spin.setValue(4)
    assert panel.analyst.wait()
    assert panel.result.view.steps_ahead == 4
    assert panel.series_spin.value() == 1 and "series 1 of 6" in panel.readout.text()
    panel.series_spin.setValue(3)
    assert panel.analyst.wait()
    assert panel.result.view.series == 2  # the spin box counts from 1


@pytest.mark.slow
def test_sequences_panel_says_what_is_missing(qtbot, projects, train_example):
    from gui.panels.sequences import NEEDS_WEIGHTS, NO_PROJECT, SequencePanel

    panel = _panel(qtbot, SequencePanel)
    panel.refresh()
    assert panel.message.text() == NO_PROJECT
    panel.set_project(make.build("sentiment_lstm"))
    assert panel.message.text() == NEEDS_WEIGHTS and panel.pages.currentIndex() == 0
    panel.set_project(_trained(train_example, "digits_cnn", 1))
    assert panel.analyst.wait()
    assert "neither text" in panel.message.text()


# -- autoencoder ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_anomaly_histogram_threshold_and_scores(qtbot, projects, tmp_path):
    from gui.panels.autoencoder import AutoencoderPanel

    panel = _shown(_panel(qtbot, AutoencoderPanel), projects["anomaly"])
    assert panel.pages.currentWidget() is panel.tabs, panel.message.text()
    report = panel.result.report
    heights = panel.normal_bars.opts["height"].sum() + panel.anomalous_bars.opts["height"].sum()
    assert heights == len(report.errors)
    assert panel.threshold == pytest.approx(report.threshold)
    assert "Precision" in panel.readout.text() and "ROC-AUC" in panel.readout.text()
    assert abs(panel.percentile_spin.value() - 95.0) < 1.0
    _render(panel, tmp_path, "autoencoder_anomalies")
    # dragging the line (what a drag emits) rescores: a higher threshold flags fewer samples
    before = panel.readout.text()
    panel.threshold_line.setValue(report.threshold * 2)
    assert panel.readout.text() != before
    assert panel.percentile_spin.value() > 99.0
    from runtime.autoencoder import detection_scores

    high = detection_scores(report.errors, report.labels, report.threshold * 2)
    assert f"flags {high.flagged} of" in panel.readout.text()
    panel.percentile_spin.setValue(50.0)
    assert panel.threshold == pytest.approx(np.percentile(report.train_errors, 50.0))


@pytest.mark.slow
def test_reconstructions_and_latent_space(qtbot, projects, tmp_path):
    from gui.panels.autoencoder import PAIRS, AutoencoderPanel

    panel = _shown(_panel(qtbot, AutoencoderPanel), projects["anomaly"])
    assert panel.tabs.currentIndex() == 0  # anomaly labels: the Anomalies tab first
    panel.tabs.setCurrentIndex(1)
    assert panel.pairs_grid.count() == PAIRS
    worst = panel.result.worst.errors
    assert (np.diff(worst) <= 0).all()
    _render(panel, tmp_path, "autoencoder_reconstructions")
    panel.worst_check.setChecked(False)
    assert "in order" in panel.pairs_note.text()

    latent = _shown(_panel(qtbot, AutoencoderPanel), projects["latent"])
    assert latent.tabs.currentIndex() == 2  # no anomaly labels, a 2-D code: Latent space
    latent.tabs.setCurrentIndex(2)
    data = latent.result.latent
    assert data.dims == 2 and data.latent.shape[1] == 2
    title = latent.latent_view.getPlotItem().titleLabel.text
    assert "kNN" in title and "bottleneck" in title
    assert "kNN" in latent.pca_view.getPlotItem().titleLabel.text
    assert len(latent.latent_view.getPlotItem().listDataItems()) == 1
    # digits have ten classes, not normal/anomaly: no precision/recall, but a histogram
    assert "carry no anomaly labels" in latent.readout.text()
    _render(latent, tmp_path, "autoencoder_latent")


@pytest.mark.slow
def test_autoencoder_panel_empty_states(qtbot, projects):
    from gui.panels.autoencoder import NEEDS_WEIGHTS, NOT_AUTOENCODER, AutoencoderPanel

    panel = _panel(qtbot, AutoencoderPanel)
    panel.set_project(projects["sentiment"])
    assert panel.message.text() == NOT_AUTOENCODER
    panel.set_project(make.build("autoencoder_latent2d"))
    assert panel.message.text() == NEEDS_WEIGHTS


# -- installing in the window ---------------------------------------------------------------------
@pytest.mark.slow
def test_install_adds_both_docks_and_follows_the_project(qtbot, tmp_path, projects,
                                                         editor_window):
    """And a panel behind another tab computes nothing until it comes to the front."""
    from gui.panels.registry import install_panels

    window = editor_window
    panels = install_panels(window, keys=("sequences", "autoencoder"))
    sequences, autoencoder = panels["sequences"], panels["autoencoder"]
    assert {"sequences", "autoencoder"} <= set(window.docks)
    assert sequences.project is window.project
    from graph.project import save_project

    path = tmp_path / "anomaly.plexus"
    save_project(projects["anomaly"], path)
    assert window.open_project(path, ask=False)
    assert autoencoder.project is window.project and sequences.project is window.project
    window.resize(1400, 900)
    window.show()
    window.show_dock("problems")
    qtbot.waitExposed(window)
    with qtbot.waitSignal(autoencoder.watch.timer.timeout, timeout=5000):
        pass  # one round of the watch's polling has looked at the panel
    assert autoencoder.watch.key is None and not autoencoder.analyst.busy
    assert autoencoder.result is None  # tabbed behind Problems: nothing computed
    window.show_dock("autoencoder")
    qtbot.waitUntil(lambda: autoencoder.result is not None, timeout=60_000)
    assert autoencoder.analyst.wait()
    assert autoencoder.pages.currentWidget() is autoencoder.tabs, autoencoder.message.text()


@pytest.mark.slow
def test_a_short_attention_map_keeps_its_height_for_the_cells(qtbot, attention_project):
    """In the default bottom dock the column names and axis titles would leave the map a few
    pixels tall; below COMPACT_HEIGHT they give way, and come back when there is room."""
    from gui.panels.sequences import COMPACT_HEIGHT, SequencePanel

    panel = _shown(_panel(qtbot, SequencePanel), attention_project)
    bottom = panel.attention_plot.getAxis("bottom")
    panel.resize(1000, 230)
    qtbot.waitUntil(lambda: panel.attention_view.height() < COMPACT_HEIGHT)
    qtbot.waitUntil(lambda: bottom.compact)
    assert not bottom.label.isVisible()
    assert panel.attention_plot.getViewBox().height() > 0.5 * panel.attention_view.height()
    panel.resize(1000, 900)
    qtbot.waitUntil(lambda: not bottom.compact)
    assert bottom.height() > 20  # the upright words are back
