"""Runs compared: every run keeps its settings, runs are named by what changed between them,
and the Runs panel lists them side by side and overlays the ticked ones."""

from __future__ import annotations

import pytest

from graph.project import load_project, save_project
from graph.run_compare import changed_settings, comparison_title, run_names
from resources.examples import make


def _run(lr: float, batch: int = 32, accuracy: tuple[float, ...] = (0.5, 0.7),
         adversarial: str = "off", settings: bool = True) -> dict:
    run = {"started": "2026-12-06T10:00:00", "status": "completed",
           "epochs": [{"epoch": i + 1, "val_accuracy": a, "val_loss": 1 - a}
                      for i, a in enumerate(accuracy)]}
    if settings:
        run["settings"] = {"training": {"lr": lr, "batch_size": batch, "epochs": 2,
                                        "device": "cpu", "options": {"adversarial": adversarial}},
                           "dataset": {"name": "xor", "samples": 400}}
    return run


def test_runs_are_named_by_the_settings_that_differ():
    runs = [_run(0.1), _run(0.001)]
    assert changed_settings(runs) == ["training.lr"]
    assert run_names(runs) == ["lr 0.1", "lr 0.001"]
    assert comparison_title(runs) == "lr 0.1 vs 0.001"
    two = [_run(0.1, 32), _run(0.1, 64, adversarial="fgsm")]
    assert run_names(two) == ["batch 32, adversarial off", "batch 64, adversarial fgsm"]
    assert comparison_title(two) == "batch 32, adversarial off vs batch 64, adversarial fgsm"


def test_epochs_device_and_runs_without_settings_are_named_by_number():
    same = [_run(0.1), _run(0.1)]
    same[1]["settings"]["training"]["epochs"] = 50  # more epochs is not an experiment
    assert changed_settings(same) == []
    assert run_names(same, [4, 5]) == ["run 4", "run 5"]
    old = [_run(0.1, settings=False), _run(0.1), _run(0.01)]  # saved before settings were
    assert run_names(old) == ["run 1", "lr 0.1", "lr 0.01"]  # recorded: named by number


@pytest.mark.slow
def test_each_run_keeps_the_settings_it_trained_with(tmp_path, train_project):
    project = make.build("xor_mlp")
    train_project(project, 1, lr=0.5)
    train_project(project, 1, lr=0.05)
    path = tmp_path / "two.plexus"
    save_project(project, path)
    runs = load_project(path).history
    assert [r["settings"]["training"]["lr"] for r in runs] == [0.5, 0.05]
    assert runs[0]["settings"]["dataset"]["name"] == "xor"
    assert comparison_title(runs) == "lr 0.5 vs 0.05"


pytest.importorskip("pytestqt")


@pytest.fixture
def panel(qtbot):
    from gui.panels.runs import RunsPanel

    widget = RunsPanel()
    qtbot.addWidget(widget)
    widget.resize(1100, 300)
    return widget


def test_the_runs_panel_lists_runs_side_by_side_and_overlays_the_ticked(panel):
    from PySide6.QtCore import Qt

    project = make.build("xor_mlp")
    panel.set_project(project)
    assert panel.empty.isVisibleTo(panel) and not panel.split.isVisibleTo(panel)

    project.history = [_run(0.5, accuracy=(0.6, 0.9)), _run(0.05, accuracy=(0.5, 0.6)),
                       _run(0.005, accuracy=(0.5, 0.52))]
    panel.set_project(project)
    table = panel.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["", "#", "lr", "Best", "Status", "Epochs", "Started"]
    assert [table.item(r, 1).text() for r in range(3)] == ["3", "2", "1"]  # newest first
    assert [table.item(r, 2).text() for r in range(3)] == ["0.005", "0.05", "0.5"]
    assert table.item(2, 3).text() == "accuracy 0.9"
    assert panel.metric_box.currentText() == "val_accuracy"
    assert set(panel.curves) == {"lr 0.05", "lr 0.005"}  # the newest two by default
    assert panel.curves["lr 0.005"] == ([1.0, 2.0], [0.5, 0.52])

    table.item(2, 0).setCheckState(Qt.CheckState.Checked)  # tick the first run too
    assert set(panel.curves) == {"lr 0.5", "lr 0.05", "lr 0.005"}
    title = panel.plot.getPlotItem().titleLabel.text
    assert "lr 0.5 vs 0.05 vs 0.005" in title
    panel.metric_box.setCurrentText("val_loss")
    assert panel.curves["lr 0.5"][1] == pytest.approx([0.4, 0.1])


def test_a_finished_run_joins_the_overlay(panel, fake_controller):
    project = make.build("xor_mlp")
    project.history = [_run(0.5), _run(0.05)]
    panel.bind_controller(fake_controller)
    panel.set_project(project)
    panel.set_checked({0})
    project.history.append(_run(0.01))
    fake_controller.project_updated.emit(project)
    assert set(panel.curves) == {"lr 0.5", "lr 0.01"}
    assert panel.table.rowCount() == 3


@pytest.fixture
def full_window(editor_window, qtbot):
    from gui.app import install_features

    install_features(editor_window, start_process=False)
    editor_window.apply_default_layout()
    editor_window.resize(1280, 800)
    editor_window.show()
    qtbot.waitExposed(editor_window)
    return editor_window


def _legend(plot) -> str:
    import re

    return re.sub("<[^>]+>", "", plot.titleLabel.text).replace("&nbsp;", " ")


def test_runs_ticked_in_the_runs_panel_are_named_curves_in_metrics(full_window, tmp_path):
    from PySide6.QtCore import Qt

    from gui.panels.run_selection import run_selection_of

    window = full_window
    project = make.build("xor_mlp")
    project.history = [_run(0.5, accuracy=(0.6, 0.9)), _run(0.1, accuracy=(0.5, 0.8)),
                       _run(0.001, accuracy=(0.5, 0.55, 0.58))]
    path = tmp_path / "three.plexus"
    save_project(project, path)
    assert window.open_project(path, ask=False)
    runs, metrics = window.docks["runs"].widget(), window.metrics
    assert runs.selection is metrics.selection is run_selection_of(window)  # one selection
    window.show_dock("metrics")
    metrics.redraw()
    # by default the newest two: lr 0.1 beside the run in front (lr 0.001)
    assert metrics.compared.names == ["lr 0.1"]
    assert metrics.compared.current_name == "lr 0.001"
    legend = _legend(metrics.loss_plot)
    assert "lr 0.1" in legend and "this run: lr 0.001" in legend
    assert "earlier runs" not in legend

    runs.table.item(2, 0).setCheckState(Qt.CheckState.Checked)  # tick run 1 (lr 0.5) too
    metrics.redraw()
    assert metrics.compared.names == ["lr 0.5", "lr 0.1"]
    assert metrics.compared.current_name == "lr 0.001"
    assert "lr 0.5" in _legend(metrics.loss_plot) and "lr 0.5" in _legend(metrics.metric_plot)
    x, y = metrics.compared_curve("lr 0.5", "loss")
    assert list(x) == [1.0, 2.0] and list(y) == pytest.approx([0.4, 0.1])
    x, y = metrics.compared_curve("lr 0.1", "metric")
    assert list(y) == pytest.approx([50.0, 80.0])  # accuracy in percent, as the plot shows it
    assert list(metrics.curve_data("val_loss")[1]) == pytest.approx([0.5, 0.45, 0.42])
    # both panels colour a run alike: the Runs panel's overlay pens are Metrics' curve pens
    runs_pens = [item.opts["pen"].color().name() for item in runs.plot.getPlotItem().items]
    assert metrics.compared.colours == runs_pens[:2]
    newest_earlier = metrics.faint["loss"][0].opts["pen"].color().name()
    assert newest_earlier == metrics.compared.colours[-1] != runs_pens[2]

    # unticked from Metrics' Compare menu: gone from the Runs panel's ticks and overlay too
    metrics.compare_button.menu().aboutToShow.emit()
    entries = {a.text().split(" ")[1]: a for a in metrics.compare_button.menu().actions()}
    assert entries["1"].isChecked() and entries["2"].isChecked() and entries["3"].isChecked()
    entries["2"].setChecked(False)
    metrics.redraw()
    assert metrics.compared.names == ["lr 0.5"]
    assert runs.checked == {0, 2}
    assert set(runs.curves) == {"lr 0.5", "lr 0.001"}
    assert runs.table.item(1, 0).checkState() == Qt.CheckState.Unchecked


def test_a_live_run_is_compared_with_every_ticked_run(qtbot):
    from gui.panels.metrics_compare import compared_runs
    from gui.panels.run_selection import RunSelection

    project = make.build("xor_mlp")
    project.history = [_run(0.5), _run(0.1), _run(0.01)]
    selection = RunSelection()
    live = compared_runs(project, selection, live=True, limit=5)
    assert live.names == ["lr 0.1", "lr 0.01"] and live.current_name == ""
    idle = compared_runs(project, selection, live=False, limit=5)
    assert idle.names == ["lr 0.1"] and idle.current_name == "lr 0.01"
    selection.choose(project, {0, 1, 2})
    assert compared_runs(project, selection, live=False, limit=1).names == ["lr 0.1"]
    other = make.build("xor_mlp")  # another project: its own default, not these ticks
    other.history = [_run(0.5)]
    assert selection.indices(other) == [0]
    project.history.append(_run(0.2))
    selection.run_added(project)
    assert selection.indices(project) == [0, 1, 2, 3]


def test_metrics_adds_a_finished_run_to_the_shared_selection(qtbot, fake_controller):
    from gui.panels.metrics import MetricsPanel
    from gui.panels.run_selection import RunSelection

    panel = MetricsPanel(fake_controller)  # bound before it gets the window's selection
    qtbot.addWidget(panel)
    shared = RunSelection()
    panel.bind_selection(shared)
    project = make.build("xor_mlp")
    project.history = [_run(0.5), _run(0.1), _run(0.01)]
    panel.set_project(project)
    shared.choose(project, {0})
    assert panel.compared.names == ["lr 0.5"] and panel.compared.current_name == "lr 0.01"
    project.history.append(_run(0.001))
    fake_controller.project_updated.emit(project)
    assert shared.indices(project) == [0, 3]
