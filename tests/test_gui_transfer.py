"""File > Import Layers from Project: the dialog, one undo step, the menu action."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from graph.project import load_project  # noqa: E402
from resources.examples import transfer as examples  # noqa: E402
from runtime.compile import weights_from_bytes  # noqa: E402
from runtime.transfer import trunk_ids  # noqa: E402

SHIPPED = examples.SOURCE_FILE  # resources/examples/shapes_source.plexus, shipped trained


@pytest.fixture(scope="module")
def source_project():
    return load_project(SHIPPED)


@pytest.fixture
def source_path(source_project):
    assert source_project.weights, "shapes_source.plexus must ship trained"
    return SHIPPED


@pytest.fixture
def window(editor_window):
    return editor_window


def test_dialog_ticks_the_trunk_and_imports_it_in_one_undo_step(qtbot, window, source_path,
                                                                 source_project):
    from gui.transfer_dialog import TransferDialog, push_import

    assert not window.graph.nodes and window.project.weights is None
    dialog = TransferDialog(window.project, window)
    qtbot.addWidget(dialog)
    assert not dialog.import_button.isEnabled()  # nothing chosen yet
    assert dialog.load_source(source_path)
    trunk = trunk_ids(source_project.graph)
    assert dialog.selected_ids() == trunk
    assert dialog.freeze_box.isChecked() and not dialog.rate_spin.isEnabled()
    assert "12 of 17 layers" in dialog.count_label.text()
    assert "shapes_source" in dialog.facts.text() and "trained" in dialog.facts.text()

    command = dialog.command()
    assert command is not None and command.text() == "Import 12 layers from shapes_source"
    ids = push_import(window, command)
    assert window.undo_stack.count() == 1
    assert sorted(window.graph.nodes) == ids and len(ids) == 12
    assert sorted(window.scene.selected_node_ids()) == ids
    assert all(window.scene.node_item(i) is not None for i in ids)
    assert sum(n.frozen for n in window.graph.nodes.values()) == 6
    tensors = weights_from_bytes(window.project.weights)
    source = weights_from_bytes(source_project.weights)
    conv1 = next(i for i in ids if window.graph.nodes[i].name == "conv1")
    old_conv1 = source_project.graph.node_by_name("conv1").id
    assert (tensors[f"{conv1}.weight"] == source[f"{old_conv1}.weight"]).all()
    assert window.is_modified()

    window.undo_stack.undo()
    assert not window.graph.nodes and window.project.weights is None
    assert not window.scene.node_items()
    window.undo_stack.redo()
    assert sorted(window.graph.nodes) == ids
    assert set(weights_from_bytes(window.project.weights)) == set(tensors)


def test_ticks_freeze_and_learning_rate_choices(qtbot, window, source_path):
    from gui.transfer_dialog import TransferDialog

    dialog = TransferDialog(window.project, window)
    qtbot.addWidget(dialog)
    dialog.load_source(source_path)
    dialog.select_none()
    assert dialog.selected_ids() == [] and not dialog.import_button.isEnabled()
    assert dialog.command() is None
    assert "at least one layer" in dialog.error.text()
    first = dialog.tree.topLevelItem(1)  # conv1
    first.setCheckState(0, Qt.CheckState.Checked)
    assert dialog.import_button.isEnabled() and len(dialog.selected_ids()) == 1
    dialog.freeze_box.setChecked(False)
    assert dialog.rate_spin.isEnabled()
    dialog.rate_spin.setValue(0.25)
    plan = dialog.plan()
    assert plan is not None and dialog.error.isHidden()
    (node,) = plan.nodes
    assert (node.type, node.frozen, node.lr_mult) == ("Conv2d", False, 0.25)
    dialog.select_all()
    assert len(dialog.selected_ids()) == 17


def test_an_unreadable_file_shows_its_error(qtbot, window, tmp_path):
    from gui.transfer_dialog import TransferDialog

    bad = tmp_path / "broken.plexus"
    bad.write_text("not a zip")
    dialog = TransferDialog(window.project, window)
    qtbot.addWidget(dialog)
    assert not dialog.load_source(bad)
    assert "broken.plexus" in dialog.error.text() and not dialog.error.isHidden()
    assert dialog.source is None and not dialog.import_button.isEnabled()


def test_menu_action_runs_the_dialog(qtbot, window, source_path, monkeypatch):
    from gui import transfer_dialog

    action = transfer_dialog.install_transfer_action(window)
    assert window.actions["import_layers"] is action
    file_menu = window.menus["file"].actions()
    assert file_menu.index(action) == file_menu.index(window.actions["export"]) - 1

    def fake_exec(dialog):
        dialog.result_command = None
        assert dialog.load_source(source_path)
        dialog.accept()
        return 1

    monkeypatch.setattr(transfer_dialog.TransferDialog, "browse",
                        lambda self: self.load_source(source_path))
    monkeypatch.setattr(transfer_dialog.TransferDialog, "exec", fake_exec)
    action.trigger()
    assert len(window.graph.nodes) == 12 and window.undo_stack.count() == 1
    assert "Imported 12 layers" in window.statusBar().currentMessage()


def test_dataset_preview_of_a_multi_target_set_labels_by_the_first_head(qtbot):
    from graph.settings import DatasetSettings
    from gui.dataset_preview import DatasetPreview, dataset_preview

    data = dataset_preview(DatasetSettings(name="digits_multitask", seed=0))
    preview = DatasetPreview()
    qtbot.addWidget(preview)
    preview.show_data(data)  # used to fail on the dict of targets
    assert int(data["y"][0]) in range(10)


def test_an_imported_backbone_gets_its_trunk_frozen_and_a_new_head(qtbot, window, tmp_path):
    from graph.project import save_project
    from graph.settings import DatasetSettings
    from gui.transfer_dialog import TransferDialog, push_import
    from resources.examples import backbone
    from runtime.shapes import analyze

    source = backbone.imported_backbone()  # what main.py import makes of tiny_resnet.py
    path = tmp_path / "tiny_resnet.plexus"
    save_project(source, path)
    window.project.dataset = DatasetSettings(name="shapes", samples=200, seed=0, options={
        "classes": ["ring", "L", "T", "bar"], "channels": "3"})
    dialog = TransferDialog(window.project, window)
    qtbot.addWidget(dialog)
    assert dialog.head_box.isEnabled() and not dialog.head_box.isChecked()
    assert dialog.load_source(path)
    ends = [dialog.end_combo.itemText(i) for i in range(dialog.end_combo.count())]
    assert ends[-4:] == ["ReLU 'layer3_0_relu_2'", "AdaptiveAvgPool2d 'avgpool'",
                         "Flatten 'flatten'", "Linear 'fc'"]
    assert dialog.end_combo.currentText() == "ReLU 'layer3_0_relu_2'"
    assert len(dialog.selected_ids()) == 28
    dialog.end_combo.activated.emit(ends.index("Flatten 'flatten'"))  # as a user's choice
    assert len(dialog.selected_ids()) == 30
    dialog.head_box.setChecked(True)
    command = dialog.command()
    assert command is not None and dialog.error.isHidden()
    push_import(window, command)
    assert window.statusBar().currentMessage().endswith("A new head follows the trunk: train "
                                                        "it.")
    graph = window.graph
    types = [n.type for n in graph.nodes.values()]
    assert types.count("Input") == 1 and types.count("Output") == 1
    (linear,) = graph.nodes_of_type("Linear")
    assert linear.params["out_features"] == 4  # the project's four shapes
    assert sum(n.frozen for n in graph.nodes.values()) == 18
    assert analyze(graph).ok
    window.undo_stack.undo()
    assert not graph.nodes

    dialog.choose_end(source.graph.node_by_name("layer1_0_bn2").id)  # not a listed end
    assert dialog.command() is None
    assert "the chosen layers end in 2 places" in dialog.error.text()
