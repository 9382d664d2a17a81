"""Dataset options in the inspector: one row per option the chosen set declares (runtime's
Params), edited through the real widgets, undoable, defaults left out of the file, and a
dataset switch keeps only the options the new set reads."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from editor_driver import choose, open_example, project_form  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from runtime.data import DATASETS  # noqa: E402


def rows(form) -> dict[str, bool]:
    """Option name -> row shown."""
    return {name: form.dataset_form.isRowVisible(editor)
            for name, editor in form.dataset_option_editors.items()}


def test_shapes_options_show_the_project_values_and_edit_undoably(editor_window, tmp_path):
    window = editor_window
    open_example(window, tmp_path, "fewshot_transfer")
    form = project_form(window)
    assert rows(form) == {"classes": True, "channels": True, "train_per_class": True}
    editors = form.dataset_option_editors
    assert editors["train_per_class"].value() == 10
    assert editors["classes"].text().startswith("ring, hollow_square")
    assert editors["classes"].cursorPosition() == 0  # the beginning of a long list shows
    assert "Also available" in editors["classes"].toolTip()

    choose(editors["channels"], "3")
    assert window.project.dataset.options["channels"] == "3"
    form.wait_preview()
    assert form.preview.data["shape"][0] == 3  # the preview reloads in colour
    assert "Channels" in window.actions["undo"].text()
    window.undo_stack.undo()
    assert "channels" not in window.project.dataset.options  # grey: the default, left out
    assert editors["channels"].currentData() == "1"


def test_text_csv_options_and_auto_length(editor_window, tmp_path, qtbot):
    window = editor_window
    open_example(window, tmp_path, "sentiment_lstm")
    form = project_form(window)
    choose(form.dataset_combo, "text_csv")  # the reviews' length and vocabulary carry over
    assert window.project.dataset.options == {"vocab_size": 300, "max_length": 32}
    window.undo_stack.undo()
    open_example(window, tmp_path, "spirals_mlp")
    choose(form.dataset_combo, "text_csv")
    assert set(rows(form)) == {p.name for p in DATASETS["text_csv"].options}
    length = form.dataset_option_editors["max_length"]
    assert length.text() == "auto"
    length.setValue(20)
    assert window.project.dataset.options["max_length"] == 20
    length.setValue(length.minimum())  # back to auto: the builder decides again
    assert "max_length" not in window.project.dataset.options

    column = form.dataset_option_editors["text_column"]
    column.setFocus()
    qtbot.keyClicks(column, "review")
    qtbot.keyClick(column, Qt.Key.Key_Return)
    assert window.project.dataset.options["text_column"] == "review"


def test_switching_dataset_keeps_only_the_options_the_new_set_reads(editor_window, tmp_path):
    window = editor_window
    open_example(window, tmp_path, "spirals_mlp")
    form = project_form(window)
    choose(form.dataset_combo, "blobs")
    classes = form.dataset_option_editors["classes"]
    classes.setValue(4)
    assert window.project.dataset.options == {"classes": 4}
    depth = window.undo_stack.count()

    choose(form.dataset_combo, "shapes")  # shapes reads classes too: names, not 4
    assert window.project.dataset.name == "shapes" and window.project.dataset.options == {}
    assert window.undo_stack.count() == depth + 1  # one step for both
    form.wait_preview()
    assert form.preview.data["class_names"][0] == "circle"
    window.undo_stack.undo()
    assert window.project.dataset.name == "blobs"
    assert window.project.dataset.options == {"classes": 4}
    assert form.dataset_option_editors["classes"].value() == 4
