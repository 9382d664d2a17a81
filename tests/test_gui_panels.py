"""Live inspection panels: filters, activations, boundary, confusion, histograms, and the monitor
that routes probes to them and configures the probes from what is visible and selected.

Payloads are computed with ``runtime.probes`` on briefly trained example networks, exactly as
the training process computes them; the panels are rendered offscreen and grabbed.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

pytest.importorskip("pytestqt")


from graph.project import load_project  # noqa: E402
from runtime.prepare import prepare  # noqa: E402
from runtime.probes.schedule import ProbeSchedule  # noqa: E402
from runtime.shapes import infer_shapes  # noqa: E402
from runtime.train import train  # noqa: E402

EXAMPLES = "resources/examples"


def trained(name: str, epochs: int) -> dict:
    """An example project trained briefly, with what the probes need."""
    project = load_project(f"{EXAMPLES}/{name}.plexus")
    project.weights = None
    compiled, data = prepare(project)
    settings = dataclasses.replace(project.training, epochs=epochs)
    train(compiled, data, settings)
    ids = {node.name: node.id for node in project.graph.nodes.values()}
    return {"project": project, "compiled": compiled, "data": data, "ids": ids,
            "shapes": infer_shapes(project.graph)}


@pytest.fixture(scope="module")
def digits():
    return trained("digits_cnn", 1)


@pytest.fixture(scope="module")
def spirals():
    return trained("spirals_mlp", 4)


def probe(model: dict, name: str, option) -> dict:
    payload = ProbeSchedule(model["compiled"], model["data"], {name: option}).run(name)
    assert payload is not None and "error" not in payload, payload
    return {"type": "probe", "epoch": 1, **payload}


def show(qtbot, panel, payload, size=(900, 300)):
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    panel.submit(payload)
    panel.flush()
    return panel


def grabbed(panel, path) -> np.ndarray:
    """Grab the panel to ``path`` and return its pixels (rows, columns, RGBA)."""
    image = panel.grab().toImage()
    assert image.save(str(path))
    image = image.convertToFormat(image.Format.Format_RGBA8888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1, 4)
    return pixels[:, :image.width()]


# -- panels ------------------------------------------------------------------------------------
def test_filters_panel_shows_one_kernel_per_output_channel(qtbot, digits, tmp_path):
    from gui.panels.filters import FiltersPanel

    conv1 = digits["ids"]["conv1"]
    out_channels = digits["project"].graph.nodes[conv1].param("out_channels")
    panel = show(qtbot, FiltersPanel(), probe(digits, "filters", conv1))
    assert out_channels == 16
    assert panel.kind == "conv" and panel.tile_count == out_channels
    assert panel.tile_shape == (3, 3)
    grid = panel.image.image
    rows = -(-out_channels // panel.columns)
    assert grid.shape == (rows * 4 - 1, panel.columns * 4 - 1)  # 3x3 tiles, 1 pixel apart
    assert np.isfinite(grid).sum() == out_channels * 9
    low, high = panel.bar.levels()
    assert low == pytest.approx(-high) and high > 0  # one symmetric diverging scale
    assert "16 kernels" in panel.title.text()
    pixels = grabbed(panel, tmp_path / "panel_filters.png")
    assert len(np.unique(pixels.reshape(-1, 4), axis=0)) > 20  # drawn, not a blank dock


def test_filters_panel_shows_a_linear_layer_as_a_weight_matrix(qtbot, digits):
    from gui.panels.filters import FiltersPanel

    fc1 = digits["ids"]["fc1"]
    panel = show(qtbot, FiltersPanel(), probe(digits, "filters", fc1))
    assert panel.kind == "dense" and panel.matrix_shape == (64, 128)
    assert panel.image.image.shape == (64, 128)
    panel.submit({"probe": "filters", "error": "Dropout 'dropout' has no weights"})
    panel.flush()
    assert panel.is_empty and "has no weights" in panel.empty.text()


def test_activations_grid_matches_the_layer_output_shape(qtbot, digits, tmp_path):
    from gui.panels.activations import ActivationsPanel
    from runtime.probes.views import pick_probe_samples

    ids, shapes = digits["ids"], digits["shapes"]
    panel = ActivationsPanel()
    samples = pick_probe_samples(digits["data"])
    panel.set_samples(samples, digits["data"].class_names)
    panel.set_nodes([(i, str(i)) for i in sorted(digits["project"].graph.nodes)],
                    ids["conv1"], [ids["image"]])
    option = {"node_ids": [ids["image"], ids["conv1"]], "sample_index": 2}
    show(qtbot, panel, probe(digits, "activations", option))
    conv_shape = shapes.outputs[ids["conv1"]]["out"][1:]
    assert panel.kind == "maps" and panel.grid_shape == tuple(conv_shape) == (16, 8, 8)
    assert panel.tile_count == 16
    assert panel.sample_combo.count() == len(samples["indices"])
    assert panel.sample_combo.currentIndex() == 2  # follows the probed sample
    label = samples["label_names"][2]
    assert f"label {label}" in panel.input_caption.text()
    assert panel.input_view.pixmap() is not None and not panel.input_view.pixmap().isNull()
    assert panel.probabilities is not None and panel.probabilities.shape == (10,)
    assert panel.probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    grabbed(panel, tmp_path / "panel_activations.png")

    panel.set_node(ids["pool2"])  # not in this payload: the first layer shown instead
    panel.submit(probe(digits, "activations", {"node_ids": None, "sample_index": 0}))
    panel.flush()
    assert panel.shown_node == ids["pool2"]
    assert panel.grid_shape == tuple(shapes.outputs[ids["pool2"]]["out"][1:]) == (32, 2, 2)
    panel.set_node(ids["fc1"])
    panel.flush()
    assert panel.kind == "strip" and panel.grid_shape == (64,)

    regression = {"probe": "activations", "nodes": {}, "probabilities": None,
                  "predicted": None, "outputs": {7: np.array([0.5], np.float32)},
                  "val_index": 0, "label": None}
    panel.submit(regression)
    panel.flush()
    assert panel.side.currentWidget() is panel.output_card
    assert panel.output_text.text() == "0.500"


def test_decision_boundary_field_for_spirals(qtbot, spirals, tmp_path):
    from gui.panels.boundary import BoundaryPanel

    panel = BoundaryPanel()
    panel.set_dataset("spirals", True, spirals["data"].class_names)
    show(qtbot, panel, probe(spirals, "boundary", {"resolution": 48}), (900, 320))
    assert panel.field_shape == (48, 48)
    assert panel.field.image is not None and panel.field.image.shape == (48, 48, 3)
    assert panel.field_rgb is not None and panel.points.data.size == len(spirals["data"].val)
    hidden = spirals["ids"]["act2"]
    panel.submit(probe(spirals, "hidden", hidden))
    panel.flush()
    assert panel.field_shape == (48, 48)  # the boundary stays while the hidden view arrives
    assert panel.hidden_count == len(spirals["data"].val)
    assert "act2" in panel.hidden_plot.titleLabel.text
    assert panel.left.currentWidget() is panel.field_view
    grabbed(panel, tmp_path / "panel_boundary.png")


def test_boundary_explains_itself_for_data_that_is_not_2d(qtbot, digits):
    from gui.panels.boundary import BoundaryPanel

    panel = BoundaryPanel()
    panel.set_dataset("digits", False, digits["data"].class_names)
    qtbot.addWidget(panel)
    assert panel.is_empty
    assert ("Decision boundaries need a 2-D dataset such as spirals; this project uses digits"
            in panel.empty.text())
    show(qtbot, panel, probe(digits, "hidden", digits["ids"]["relu3"]))
    assert not panel.is_empty and panel.hidden_count > 0
    assert panel.left.currentWidget() is panel.left_message
    assert "this project uses digits" in panel.left_message.text()


def test_confusion_counts_sum_to_the_validation_size(qtbot, digits, tmp_path):
    from gui.panels.confusion import ConfusionPanel

    payload = probe(digits, "confusion", {"max_wrong": 8})
    panel = show(qtbot, ConfusionPanel(), payload, (1000, 330))
    val = len(digits["data"].val)
    assert panel.matrix is not None and panel.matrix.shape == (10, 10)
    assert int(panel.matrix.sum()) == val
    counts = [int(text) for text in panel.cell_labels.texts]
    assert len(counts) == 100 and sum(counts) == val
    assert panel.cell_labels.fits()  # at this size every count is written in its cell
    panel.resize(500, 150)
    qtbot.waitUntil(lambda: not panel.cell_labels.fits(), timeout=5000)  # too small: hover
    assert f"on {val:,} validation samples" in panel.title.text()
    assert len(panel.wrong_cards) == len(payload["wrong"]) <= 8
    assert panel.per_class is not None and panel.per_class.shape == (10,)
    grabbed(panel, tmp_path / "panel_confusion.png")


def test_histograms_show_every_layer_with_weights(qtbot, digits, tmp_path):
    from gui.panels.histograms import HistogramsPanel

    payload = probe(digits, "histograms", True)
    panel = show(qtbot, HistogramsPanel(), payload, (1000, 300))
    ids = digits["ids"]
    assert panel.order == [ids["conv1"], ids["conv2"], ids["fc1"], ids["logits"]]
    assert panel.shown_node == ids["conv1"]
    assert panel.grad_stack.currentWidget() is panel.grad_view  # the last batch's gradients
    assert "Gradient norms" in panel.title.text()
    grabbed(panel, tmp_path / "panel_histograms.png")

    vanishing = copy.deepcopy(payload)
    for entry in vanishing["nodes"].values():
        entry["grad_norm"] = 1e-9
    panel.set_node(ids["fc1"])
    panel.submit(vanishing)
    panel.flush()
    assert panel.shown_node == ids["fc1"]
    assert "Vanishing gradients in conv1" in panel.title.text()

    untrained = copy.deepcopy(payload)
    for entry in untrained["nodes"].values():
        entry["grads"], entry["grad_norm"] = None, None
    panel.submit(untrained)
    panel.flush()
    assert panel.grad_stack.currentWidget() is panel.grad_message


def test_panels_redraw_from_a_timer_with_only_the_latest_payload(qtbot, digits):
    from gui.panels.filters import FiltersPanel

    panel = FiltersPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    first = probe(digits, "filters", digits["ids"]["conv1"])
    last = probe(digits, "filters", digits["ids"]["conv2"])
    for _ in range(50):
        panel.submit(first)
    panel.submit(last)
    assert panel.redraws == 0  # nothing is painted inside submit
    qtbot.waitUntil(lambda: panel.redraws >= 1, timeout=5000)
    assert panel.redraws == 1 and panel.payload is last
    assert panel.tile_count == 32
    assert panel.channel_combo.isVisible() and panel.channel_combo.count() == 1 + 16
    panel.channel_combo.setCurrentIndex(8)
    assert panel.in_channel == 7
    panel.set_nodes([(digits["ids"]["conv1"], "conv1"), (digits["ids"]["conv2"], "conv2")],
                    digits["ids"]["conv2"])
    panel.set_node(digits["ids"]["conv1"])  # another layer: its averaged kernels first
    assert panel.node_id == digits["ids"]["conv1"] and panel.in_channel is None


# -- the monitor ----------------------------------------------------------------------------------
@pytest.fixture
def monitored(qtbot, editor_window, fake_controller):
    from gui.panels.monitor import ProbeMonitor
    from gui.panels.registry import PROBED, install_panels

    window = editor_window
    controller = fake_controller
    panels = install_panels(window, controller, PROBED)
    monitor = window.findChild(ProbeMonitor)
    assert window.open_project(f"{EXAMPLES}/digits_cnn.plexus", ask=False)
    window.project.weights = b"trained"  # the fake controller never reads them
    monitor.load_dataset(window.project, wait=True)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    yield window, controller, panels, monitor
    window.undo_stack.setClean()
    window.persist = False
    window.close()


def test_the_registry_adds_one_dock_per_live_panel(monitored):
    window, _controller, panels, _monitor = monitored
    assert set(panels) == {"filters", "activations", "boundary", "confusion", "histograms"}
    for key, panel in panels.items():
        assert window.docks[key].widget() is panel
        assert window.docks[key].toggleViewAction() in window.panels_menu.actions()


def test_monitor_pushes_a_probe_config_naming_the_selected_node(qtbot, monitored):
    window, controller, panels, monitor = monitored
    ids = {n.name: n.id for n in window.graph.nodes.values()}
    window.show_dock("filters")
    qtbot.waitUntil(lambda: bool(controller.configs)
                    and controller.configs[-1].get("filters") == ids["conv1"], timeout=5000)
    assert set(controller.configs[-1]) == {"filters"}  # hidden panels ask for nothing
    assert controller.requests >= 1  # idle with weights: one round on the project's weights

    window.selection_changed.emit([ids["conv2"]])
    qtbot.waitUntil(lambda: controller.configs[-1].get("filters") == ids["conv2"],
                    timeout=5000)
    assert panels["filters"].node_id == ids["conv2"]

    window.selection_changed.emit([ids["relu1"]])  # no weights: filters keep their layer
    window.show_dock("activations")
    qtbot.waitUntil(lambda: "activations" in controller.configs[-1], timeout=5000)
    config = controller.configs[-1]
    assert "filters" not in config  # now behind the Activations tab
    assert config["activations"]["node_ids"] == [ids["image"], ids["relu1"]]
    assert panels["activations"].node_id == ids["relu1"]

    window.selection_changed.emit([])  # nothing selected: every node
    qtbot.waitUntil(lambda: controller.configs[-1]["activations"]["node_ids"] is None,
                    timeout=5000)

    panels["activations"].sample_combo.setCurrentIndex(5)
    qtbot.waitUntil(lambda: controller.configs[-1]["activations"]["sample_index"] == 5,
                    timeout=5000)

    window.show_dock("boundary")
    qtbot.waitUntil(lambda: "hidden" in controller.configs[-1], timeout=5000)
    assert "boundary" not in controller.configs[-1]  # digits is not 2-D
    assert controller.configs[-1]["hidden"] == ids["relu1"]  # the last selected layer
    assert monitor.default_hidden_node() == ids["dropout"]  # what the last layer reads
    window.selection_changed.emit([ids["fc1"]])
    qtbot.waitUntil(lambda: controller.configs[-1].get("hidden") == ids["fc1"], timeout=5000)
    monitor.dataset = dataclasses.replace(monitor.dataset, input_shape=(2,))  # as for spirals
    monitor.push_config()
    assert controller.configs[-1]["boundary"] == {"resolution": 96}


def test_monitor_routes_probe_events_to_their_panels(qtbot, monitored, digits):
    window, controller, panels, _monitor = monitored
    window.show_dock("filters")
    controller.probe.emit(probe(digits, "filters", digits["ids"]["conv1"]))
    qtbot.waitUntil(lambda: panels["filters"].redraws >= 1, timeout=5000)
    assert panels["filters"].tile_count == 16
    bundle = {"type": "probe", "probe": "batch", "epoch": 1,
              "results": [probe(digits, "confusion", True)]}
    controller.probe.emit(bundle)
    window.show_dock("confusion")
    qtbot.waitUntil(lambda: panels["confusion"].matrix is not None, timeout=5000)
    assert int(panels["confusion"].matrix.sum()) == len(digits["data"].val)


def test_monitor_asks_for_nothing_while_training_runs(qtbot, monitored):
    window, controller, _panels, monitor = monitored
    controller.state = "running"
    window.show_dock("histograms")
    requests = controller.requests
    qtbot.waitUntil(lambda: bool(controller.configs) and controller.configs[-1] ==
                    {"histograms": True}, timeout=5000)
    assert monitor.push_config() is False and controller.requests == requests


def test_dataset_info_knows_2d_data():
    from graph.settings import DatasetSettings
    from gui.panels.monitor import dataset_info

    info = dataset_info(DatasetSettings(name="spirals"))
    assert info.input_shape == (2,) and info.task == "classification"
    assert len(info.samples["indices"]) == 16


def test_styled_axes_never_rescale_small_values(qapp):
    """pyqtgraph 0.14 rescales a labelled axis over (0, 1) by 1000 even with the SI prefix
    off, and setLabel resets the guard; a styled axis keeps reading 0..0.3 as 0..0.3."""
    import pyqtgraph as pg

    from gui.panels.plot_style import style_axis

    axis = pg.AxisItem("right")
    style_axis(axis, "weight")
    axis.setLabel("weight again")
    axis.setRange(0.0, 0.3)
    assert axis.autoSIPrefixScale == 1.0
    assert max(float(v) for v in axis.tickStrings([0.1, 0.2, 0.3], axis.autoSIPrefixScale,
                                                  0.1)) <= 0.3
