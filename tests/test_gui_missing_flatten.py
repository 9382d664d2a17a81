"""Issue 14: wiring pool2 straight into fc1 is an error on fc1 before Train, naming Flatten, with a
one-click fix that inserts the Flatten in one undo step."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from editor_driver import open_example  # noqa: E402

from graph.model import Edge  # noqa: E402
from gui.commands import SetParamCommand  # noqa: E402
from resources.examples.make import build  # noqa: E402
from runtime.shapes import analyze  # noqa: E402

POOL2, FLATTEN, FC1, LOGITS = 7, 8, 9, 12
MESSAGE = ("Linear 'fc1' receives N x 32 x 2 x 2 but a Linear reads the last dimension only: "
           "Output 'digit' then gets 32 x 2 x 10 values per sample instead of one score per "
           "class; insert a Flatten before fc1")


def test_missing_flatten_is_an_error_on_fc1_with_a_one_step_fix(editor_window, tmp_path):
    window = editor_window
    open_example(window, tmp_path, "digits_cnn")
    graph = window.graph
    graph.remove_node(FLATTEN)  # the user deletes the Flatten and wires pool2 to fc1
    graph.connect(Edge(POOL2, "out", FC1, "in"))
    window.inspector.project_form.wait_preview()  # the data's class count, off the GUI thread
    window.runner.run_now()
    errors = [d for d in window.analysis.diagnostics if d.severity == "error"]
    assert [(d.node_id, d.message) for d in errors] == [(FC1, MESSAGE)]
    assert window.problems.counts() == (1, 0)
    assert window.problems.detail.text() == MESSAGE  # the whole fix text, wrapped
    assert window.problems.detail.wordWrap()
    assert window.scene.node_item(FC1).severity == "error"
    wire = window.scene._edges[Edge(POOL2, "out", FC1, "in")]
    assert wire.error  # drawn red
    button = window.problems.fix_button
    assert button.isVisibleTo(window.problems) and button.text() == "Insert Flatten before fc1"
    depth = window.undo_stack.count()
    button.click()
    assert window.undo_stack.count() == depth + 1
    assert window.undo_stack.undoText() == "Insert Flatten before fc1"
    window.runner.run_now()
    assert window.analysis.diagnostics == []
    flatten = [n for n in graph.nodes.values() if n.type == "Flatten"]
    assert len(flatten) == 1
    assert analyze(graph).shapes.inputs[FC1] == [(2, 128)]  # 32 x 2 x 2 flattened
    assert not button.isVisibleTo(window.problems)
    window.undo_stack.undo()
    assert [n.type for n in graph.nodes.values()].count("Flatten") == 0
    assert Edge(POOL2, "out", FC1, "in") in graph.edges
    window.runner.run_now()
    assert [d.node_id for d in window.analysis.diagnostics if d.severity == "error"] == [FC1]


def test_logits_width_is_checked_against_the_classes_with_a_one_step_fix(editor_window, tmp_path):
    window = editor_window
    open_example(window, tmp_path, "digits_cnn")
    window.inspector.project_form.wait_preview()
    assert window.runner.classes == 10  # from the dataset preview, loaded off the GUI thread
    window.undo_stack.push(SetParamCommand(window.graph, LOGITS, "out_features", 7))
    window.runner.run_now()
    errors = [(d.node_id, d.message) for d in window.analysis.diagnostics]
    assert errors == [(LOGITS, "Linear 'logits' gives 7 scores per sample but the dataset has "
                               "10 classes, and Output 'digit' needs one score per class; set "
                               "logits to 10 outputs")]
    button = window.problems.fix_button
    assert button.text() == "Set logits to 10 outputs"
    button.click()
    assert window.graph.nodes[LOGITS].params["out_features"] == 10
    window.runner.run_now()
    assert window.analysis.diagnostics == []
    window.undo_stack.undo()
    assert window.graph.nodes[LOGITS].params["out_features"] == 7


def test_without_known_classes_the_width_is_not_judged():
    graph = build("digits_cnn").graph
    graph.nodes[LOGITS].params["out_features"] = 7
    assert analyze(graph).diagnostics == []
    assert [d.node_id for d in analyze(graph, classes=10).diagnostics] == [LOGITS]
    assert analyze(graph, classes=7).diagnostics == []


def test_a_single_bce_score_and_spare_scores_are_not_width_errors():
    graph = build("digits_cnn").graph
    for width in (1, 12):
        graph.nodes[LOGITS].params["out_features"] = width
        assert analyze(graph, classes=10).diagnostics == []


def test_without_the_data_a_feature_map_into_an_output_is_not_judged():
    graph = build("digits_cnn").graph
    graph.remove_node(FLATTEN)
    graph.connect(Edge(POOL2, "out", FC1, "in"))
    assert analyze(graph).diagnostics == []  # a per-position head may be meant
    assert [d.node_id for d in analyze(graph, classes=10).diagnostics] == [FC1]


def test_several_classification_heads_are_not_judged_by_one_class_count():
    graph = build("digits_cnn").graph
    graph.nodes[LOGITS].params["out_features"] = 2
    assert [d.node_id for d in analyze(graph, classes=10).diagnostics] == [LOGITS]
    second = graph.add_node("Output", name="even")
    graph.connect(Edge(LOGITS, "out", second.id, "in"))
    assert analyze(graph, classes=10).diagnostics == []
