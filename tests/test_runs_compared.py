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
