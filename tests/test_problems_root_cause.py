"""Issue 14: one unplugged input is one problem; what it causes is listed under it."""

from __future__ import annotations

import pytest

from graph.model import Edge
from graph.validate import validate
from resources.examples.make import build


def unplugged_digits():
    graph = build("digits_cnn").graph
    graph.disconnect(Edge(4, "out", 5, "in"))  # pool1 -> conv2
    return graph


def test_reachability_warnings_name_the_unplugged_input_as_their_cause():
    diags = validate(unplugged_digits())
    roots = [d for d in diags if d.cause is None]
    assert [(d.severity, d.node_id) for d in roots] == [("error", 5)]
    assert roots[0].message.startswith("input 'in' of Conv2d 'conv2' is not connected")
    caused = sorted((d.node_id, d.message.split(" ")[1]) for d in diags if d.cause == 5)
    # conv2 itself and the 8 layers after it are not reached; the 4 before it lead nowhere
    assert [node for node, _ in caused] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert all(d.severity == "warning" for d in diags if d.cause == 5)


def test_unrelated_dead_ends_stay_problems_of_their_own():
    graph = build("digits_cnn").graph
    graph.add_node("Input", name="spare")  # 14: no wires at all
    graph.disconnect(Edge(4, "out", 5, "in"))
    diags = validate(graph)
    spare = [(d.cause, d.message) for d in diags if d.node_id == 14]
    assert spare == [(None, "Input 'spare' does not lead to any Output, so its data is never "
                            "used; connect it or delete it")]
    assert [d.node_id for d in diags if d.cause is None] == [5, 14]


pytest.importorskip("pytestqt")


def test_problems_panel_shows_one_item_with_the_consequences_under_it(editor_window, tmp_path):
    from editor_driver import open_example

    window = editor_window
    open_example(window, tmp_path, "digits_cnn")
    window.graph.disconnect(Edge(4, "out", 5, "in"))
    window.runner.run_now()
    tree = window.problems.tree
    assert window.problems.counts() == (1, 0)
    assert tree.topLevelItemCount() == 1
    root = tree.topLevelItem(0)
    assert root.text(0) == ("input 'in' of Conv2d 'conv2' is not connected; drag a connection to "
                            "it from a layer's output")
    assert root.childCount() == 13
    assert tree.wordWrap()
    # the canvas paints only conv2; the layers after it are not turned orange
    scene = window.scene
    assert scene.node_item(5).severity == "error"
    assert [scene.node_item(i).severity for i in (1, 6, 13)] == [None, None, None]
