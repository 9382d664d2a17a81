"""The inspector: generated forms, undoable edits, refused input, project settings."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QUndoStack, QValidator  # noqa: E402
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit  # noqa: E402

from graph import catalog  # noqa: E402
from gui import forms  # noqa: E402
from gui.commands import SetParamCommand  # noqa: E402
from resources.examples.make import build  # noqa: E402


@pytest.fixture
def inspector(qtbot):
    """An inspector on digits_cnn with its analysis, no window needed."""
    from gui.inspector import Inspector
    from runtime.shapes import analyze

    stack = QUndoStack()
    widget = Inspector(stack)
    qtbot.addWidget(widget)
    project = build("digits_cnn")
    widget.set_project(project)
    widget.set_analysis(analyze(project.graph))
    widget.stack_ref = stack  # keep the stack alive as long as the widget
    yield widget
    widget.project_form.wait_preview()


def conv(inspector):
    node = inspector.graph.nodes_of_type("Conv2d")[0]
    inspector.show_nodes([node.id])
    return node


def test_form_is_generated_from_the_catalog(inspector):
    node = conv(inspector)
    form = inspector.node_form
    spec = catalog.spec("Conv2d")
    assert list(form.editors) == [p.name for p in spec.params]
    assert isinstance(form.editors["out_channels"], forms.IntEditor)
    assert isinstance(form.editors["kernel_size"], forms.TupleEditor)
    assert isinstance(form.editors["bias"], QCheckBox)
    assert form.editors["out_channels"].toolTip().startswith(spec.param("out_channels").help)
    assert form.name_edit.text() == node.name
    assert form.shape_label.text() == "N x 16 x 8 x 8"
    assert form.params_label.text() == "160"  # 16 filters x 3x3 + 16 biases


def test_type_to_widget_map_covers_every_kind():
    kinds = {catalog.INT: forms.IntEditor, catalog.FLOAT: forms.FloatEditor,
             catalog.BOOL: forms.BoolEditor, catalog.CHOICE: forms.ChoiceEditor,
             catalog.STR: forms.StrEditor}
    for kind, cls in kinds.items():
        default = {catalog.INT: 1, catalog.FLOAT: 0.5, catalog.BOOL: True,
                   catalog.CHOICE: "a", catalog.STR: "x"}[kind]
        editor = forms.make_editor(catalog.Param("p", kind, default, choices=("a", "b")))
        assert isinstance(editor, cls)
        assert editor.current() == default
    shape = catalog.spec("Input").param("shape")
    editor = forms.make_editor(shape, (1, 8, 8))
    assert isinstance(editor, forms.IntsEditor) and editor.text() == "1, 8, 8"


def test_inspector_edit_changes_the_model_and_undoes(inspector, qtbot):
    node = conv(inspector)
    editor = inspector.node_form.editors["out_channels"]
    stack = inspector.undo_stack
    editor.lineEdit().selectAll()
    qtbot.keyClicks(editor.lineEdit(), "24")
    qtbot.keyClick(editor.lineEdit(), Qt.Key.Key_Return)
    assert node.param("out_channels") == 24
    assert isinstance(stack.command(stack.index() - 1), SetParamCommand)
    assert stack.count() == 1
    stack.undo()
    assert node.param("out_channels") == 16
    assert editor.value() == 16  # the form follows the model
    stack.redo()
    assert editor.value() == 24

    editor.stepBy(1)  # the arrow: one more undo step
    assert node.param("out_channels") == 25 and stack.count() == 2


def test_tuple_checkbox_choice_and_options_edits(inspector):
    node = conv(inspector)
    form = inspector.node_form
    form.editors["kernel_size"].boxes[0].setValue(5)
    assert node.param("kernel_size") == (5, 3)
    form.editors["bias"].setChecked(False)
    assert node.param("bias") is False
    form.frozen.setChecked(True)
    assert node.frozen is True
    form.lr_mult.setValue(0.5)
    assert node.lr_mult == 0.5
    stack = inspector.undo_stack
    assert stack.count() == 4
    while stack.canUndo():
        stack.undo()
    assert node.param("kernel_size") == (3, 3) and node.param("bias") is True
    assert node.frozen is False and node.lr_mult == 1.0
    assert form.frozen.isChecked() is False and form.editors["bias"].isChecked()

    source = inspector.graph.nodes_of_type("Input")[0]
    inspector.show_nodes([source.id])
    shape = inspector.node_form.editors["shape"]
    assert isinstance(shape, forms.IntsEditor) and shape.text() == "1, 8, 8"
    shape.setText("1, 16, 16")
    shape.editingFinished.emit()
    assert source.param("shape") == (1, 16, 16)

    output = inspector.graph.nodes_of_type("Output")[0]
    inspector.show_nodes([output.id])
    task = inspector.node_form.editors["task"]
    assert isinstance(task, QComboBox)
    task.setCurrentIndex(task.findData("regression"))
    assert output.param("task") == "regression"


def test_out_of_range_input_is_refused_at_the_widget(inspector, qtbot):
    node = conv(inspector)
    editor = inspector.node_form.editors["out_channels"]
    assert editor.maximum() == 65536 and editor.minimum() == 1
    invalid = QValidator.State.Invalid
    assert editor.validate("70000", 0)[0] == invalid
    editor.lineEdit().selectAll()
    qtbot.keyClicks(editor.lineEdit(), "99999")  # the last digits are refused as typed
    qtbot.keyClick(editor.lineEdit(), Qt.Key.Key_Return)
    assert node.param("out_channels") == 9999
    editor.setValue(10**7)  # programmatic values are clamped, never stored out of range
    assert node.param("out_channels") == 65536

    stride = inspector.node_form.editors["stride"].boxes[0]
    assert stride.validate("0", 0)[0] != QValidator.State.Acceptable

    dropout = inspector.graph.nodes_of_type("Dropout")[0]
    inspector.show_nodes([dropout.id])
    rate = inspector.node_form.editors["p"]
    assert rate.validate("1.5", 0)[0] == invalid
    assert rate.validate("-0.1", 0)[0] == invalid
    assert rate.validate("abc", 0)[0] == invalid
    assert rate.validate("0.3", 0)[0] == QValidator.State.Acceptable
    assert rate.validate("1e-", 0)[0] == QValidator.State.Intermediate

    shape = forms.make_editor(catalog.spec("Input").param("shape"), (1, 8, 8))
    validator = shape.validator()
    assert validator.validate("1, 8, x", 0)[0] == invalid
    assert validator.validate("1, -3", 0)[0] == invalid
    assert validator.validate("1, 8,", 0)[0] == QValidator.State.Intermediate
    assert validator.validate("3, 32, 32", 0)[0] == QValidator.State.Acceptable


def test_rename_is_undoable_and_refuses_taken_names(inspector, qtbot):
    node = conv(inspector)
    edit: QLineEdit = inspector.node_form.name_edit
    edit.setText("first_conv")
    edit.editingFinished.emit()
    assert node.name == "first_conv"
    inspector.undo_stack.undo()
    assert node.name == "conv1" and edit.text() == "conv1"
    edit.setText("conv2")  # already used
    edit.editingFinished.emit()
    assert node.name == "conv1"
    assert "already the name of" in inspector.node_form.name_error.text()
    assert inspector.undo_stack.count() == 1


def test_project_settings_edit_and_undo(inspector):
    project = inspector.project
    inspector.show_nodes([])
    form = inspector.project_form
    original = (project.training.epochs, project.training.lr, project.training.optimizer)
    epochs = form.editors[("training", "epochs")]
    epochs.setValue(50)
    assert project.training.epochs == 50
    lr = form.editors[("training", "lr")]
    assert lr.validate("20", 0)[0] == QValidator.State.Invalid  # lr is at most 10
    lr.setValue(0.0123)
    assert project.training.lr == 0.0123
    optimizer = form.editors[("training", "optimizer")]
    optimizer.setCurrentIndex(optimizer.findData("rmsprop"))
    assert project.training.optimizer == "rmsprop"
    assert form.training_form.isRowVisible(form.editors[("training", "momentum")])
    form.name_edit.setText("renamed")
    form.name_edit.editingFinished.emit()
    assert project.name == "renamed"
    stack = inspector.undo_stack
    assert stack.count() == 4
    while stack.canUndo():
        stack.undo()
    training = project.training
    assert (training.epochs, training.lr, training.optimizer) == original
    assert project.name == "digits_cnn"
    assert epochs.value() == original[0] and form.name_edit.text() == "digits_cnn"


def test_dataset_choice_and_preview(inspector, qtbot):
    from PySide6.QtWidgets import QLabel

    inspector.show_nodes([])
    form = inspector.project_form
    form.wait_preview()
    data = form.preview.data
    assert data is not None and data["kind"] == "image"
    assert data["train"] + data["val"] == 1797
    assert f"{data['train']:,}" in form.preview.facts.text()
    thumbnails = [w for w in form.preview.images.findChildren(QLabel) if w.pixmap()
                  and not w.pixmap().isNull()]
    assert len(thumbnails) == 12

    combo = form.dataset_combo
    combo.setCurrentIndex(combo.findData("moons"))
    assert inspector.project.dataset.name == "moons"
    assert form.dataset_form.isRowVisible(form.editors[("dataset", "noise")])
    form.wait_preview()
    assert form.preview.data["kind"] == "2d"
    assert form.preview.plot is not None
    assert form.task_note.isHidden()  # moons is classification, like the Output head
    inspector.undo_stack.undo()
    assert inspector.project.dataset.name == "digits"
    assert combo.currentData() == "digits"


@pytest.mark.parametrize("dataset, shown, hidden", [
    ("sentiment_reviews", set(), {"path", "samples", "noise", "target_column", "scaling"}),
    ("text_csv", {"path", "target_column"}, {"samples", "noise", "scaling"}),
    ("series", {"path", "target_column", "scaling"}, {"samples", "noise"}),
    ("sines", {"samples", "noise", "scaling"}, {"path", "target_column"}),
])
def test_dataset_form_shows_the_fields_the_set_reads(inspector, dataset, shown, hidden):
    inspector.show_nodes([])
    form = inspector.project_form
    form.dataset_combo.setCurrentIndex(form.dataset_combo.findData(dataset))
    assert inspector.project.dataset.name == dataset

    def visible(name: str) -> bool:
        widget = form.path_host if name == "path" else form.editors[("dataset", name)]
        return form.dataset_form.isRowVisible(widget)

    assert {name for name in shown | hidden if visible(name)} == shown
    assert visible("val_split") and visible("seed")


@pytest.mark.parametrize("dataset, classes", [
    ("sentiment_reviews", {"satisfied", "neutral", "dissatisfied"}),
    ("future_context", {"character", "actor"}),  # a tag per name; untagged steps left out
])
def test_text_preview_shows_words_and_labels(inspector, dataset, classes):
    inspector.show_nodes([])
    form = inspector.project_form
    form.dataset_combo.setCurrentIndex(form.dataset_combo.findData(dataset))
    form.wait_preview()
    data = form.preview.data
    assert data["kind"] == "text" and len(data["texts"]) == len(data["x"]) > 0
    table = form.preview.table
    assert form.preview.body.currentWidget() is table
    assert table.horizontalHeaderItem(1).text() == "text"
    first = table.item(0, 1).text()
    assert len(first.split()) >= 3 and not any(ch.isdigit() for ch in first.split()[0])
    for row in range(table.rowCount()):
        words = set(table.item(row, 0).text().split(", ")) - {"\u2026"}
        assert words and words <= classes, table.item(row, 0).text()


def test_task_note_warns_on_a_mismatch_but_not_for_reconstruction(inspector):
    from gui.commands import SetParamCommand

    inspector.show_nodes([])
    form = inspector.project_form
    form.wait_preview()
    head = inspector.project.graph.nodes_of_type("Output")[0]
    for task, warned in (("regression", True), ("reconstruction", False),
                         ("tagging", False), ("classification", False)):
        inspector.undo_stack.push(SetParamCommand(inspector.project.graph, head.id, "task",
                                                  task))
        form.show_task(inspector.project.graph)
        assert form.task_note.isHidden() is not warned, task


def test_tabular_preview_reads_in_the_data_units(inspector):
    """house_prices trains on standardized features; the preview shows square metres and
    prices, as the user knows them."""
    inspector.show_nodes([])
    form = inspector.project_form
    form.dataset_combo.setCurrentIndex(form.dataset_combo.findData("house_prices"))
    form.wait_preview()
    table = form.preview.table
    assert table.horizontalHeaderItem(0).text() == "size_m2"
    sizes = [float(table.item(row, 0).text()) for row in range(table.rowCount())]
    assert sizes and all(size > 20 for size in sizes)  # square metres, not z-scores
    prices = [table.item(row, table.columnCount() - 1).text() for row in range(table.rowCount())]
    assert prices and all(not price.startswith("-") for price in prices)
