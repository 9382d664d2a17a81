"""Undo commands change only the model and undo exactly what they did."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QUndoStack

from graph import layout
from graph.layout import node_size
from graph.model import Edge, Graph
from gui.commands import (
    AddNodeCommand,
    AutoLayoutCommand,
    ConnectCommand,
    DisconnectCommand,
    MoveNodesCommand,
    PasteCommand,
    RemoveItemsCommand,
    RemoveNodesCommand,
    RenameCommand,
    SetNodeOptionsCommand,
    SetParamCommand,
    new_drag_id,
)


@pytest.fixture
def stack(qapp) -> QUndoStack:
    return QUndoStack()


def chain(graph: Graph, *types: str) -> list[int]:
    ids = [graph.add_node(t, pos=(i * 250.0, 0.0)).id for i, t in enumerate(types)]
    for a, b in zip(ids, ids[1:], strict=False):
        graph.connect(Edge(a, "out", b, "in"))
    return ids


def test_add_node_undo_redo_keeps_id_and_name(stack: QUndoStack) -> None:
    graph = Graph()
    cmd = AddNodeCommand(graph, "Conv2d", (10, 20), params={"out_channels": 8})
    stack.push(cmd)
    node = graph.node(cmd.node_id)
    assert (node.type, node.name, node.pos, node.params["out_channels"]) == \
        ("Conv2d", "conv2d_1", (10.0, 20.0), 8)
    stack.undo()
    assert graph.nodes == {}
    stack.redo()
    assert graph.node(cmd.node_id).name == "conv2d_1"
    assert stack.undoText() == "Add Conv2d 'conv2d_1'"


def test_remove_restores_snapshot_with_ids_options_and_edges(stack: QUndoStack) -> None:
    graph = Graph()
    a, b, c = chain(graph, "Input", "Linear", "Output")
    graph.set_param(b, "out_features", 7)
    graph.set_node_options(b, frozen=True, lr_mult=0.5)
    graph.move(b, (123.0, 45.0))
    before = graph.to_dict(), graph.layout()
    stack.push(RemoveNodesCommand(graph, [b]))
    assert b not in graph.nodes and graph.edges == []
    stack.undo()
    assert (graph.to_dict(), graph.layout()) == before
    node = graph.node(b)
    assert node.frozen and node.lr_mult == 0.5 and node.params["out_features"] == 7
    stack.redo()
    assert sorted(graph.nodes) == [a, c]


def test_remove_items_with_loose_edges_is_one_step(stack: QUndoStack) -> None:
    graph = Graph()
    a, b, c, d = chain(graph, "Input", "Linear", "ReLU", "Output")
    before = graph.to_dict()
    cmd = RemoveItemsCommand(graph, [d], [Edge(a, "out", b, "in")])
    assert cmd.text() == "Delete 1 layers and 1 connections"
    stack.push(cmd)
    assert graph.edges == [Edge(b, "out", c, "in")] and d not in graph.nodes
    stack.undo()
    assert graph.to_dict() == before
    assert RemoveItemsCommand(graph, [], []).is_empty()


def test_connect_and_disconnect(stack: QUndoStack) -> None:
    graph = Graph()
    a, b = chain(graph, "Input", "Linear")
    graph.disconnect(Edge(a, "out", b, "in"))
    edge = Edge(a, "out", b, "in")
    stack.push(ConnectCommand(graph, edge))
    assert graph.edges == [edge]
    stack.push(DisconnectCommand(graph, edge))
    assert graph.edges == []
    stack.undo()
    stack.undo()
    assert graph.edges == []
    stack.redo()
    assert graph.edges == [edge]


def test_moves_of_one_drag_merge_into_one_step(stack: QUndoStack) -> None:
    graph = Graph()
    a, b = chain(graph, "Input", "Linear")
    start_a, start_b = graph.node(a).pos, graph.node(b).pos
    drag = new_drag_id()
    for step in range(1, 6):
        stack.push(MoveNodesCommand(graph, {
            a: (start_a, (start_a[0] + step, start_a[1] + 2 * step)),
            b: (start_b, (start_b[0] + step, start_b[1] + 2 * step))}, drag_id=drag))
    assert stack.count() == 1
    assert graph.node(a).pos == (start_a[0] + 5, start_a[1] + 10)
    assert stack.undoText() == "Move 2 layers"
    stack.undo()
    assert (graph.node(a).pos, graph.node(b).pos) == (start_a, start_b)
    stack.redo()
    # a new drag is a new step
    stack.push(MoveNodesCommand(graph, {a: (graph.node(a).pos, (0.0, 0.0))}, new_drag_id()))
    assert stack.count() == 2


def test_drag_that_returns_to_its_start_leaves_no_step(stack: QUndoStack) -> None:
    graph = Graph()
    (a,) = chain(graph, "Input")
    start = graph.node(a).pos
    drag = new_drag_id()
    stack.push(MoveNodesCommand(graph, {a: (start, (50.0, 50.0))}, drag))
    stack.push(MoveNodesCommand(graph, {a: (start, start)}, drag))
    assert stack.count() == 0
    assert graph.node(a).pos == start


def test_set_param_rename_and_options(stack: QUndoStack) -> None:
    graph = Graph()
    (a,) = chain(graph, "Conv2d")
    stack.push(SetParamCommand(graph, a, "kernel_size", (5, 5)))
    stack.push(RenameCommand(graph, a, " features "))
    stack.push(SetNodeOptionsCommand(graph, a, frozen=True))
    node = graph.node(a)
    assert (node.params["kernel_size"], node.name, node.frozen) == ((5, 5), "features", True)
    assert stack.undoText() == "Freeze Conv2d 'features'"
    for _ in range(3):
        stack.undo()
    assert (node.params["kernel_size"], node.name, node.frozen) == ((3, 3), "conv2d_1", False)


def test_paste_gives_new_ids_unique_names_and_internal_edges(stack: QUndoStack) -> None:
    graph = Graph()
    a, b, c = chain(graph, "Input", "Linear", "Output")
    graph.set_param(b, "out_features", 9)
    copied = graph.subgraph_dict([b, c])  # the edge a->b leaves the copy
    cmd = PasteCommand(graph, copied, (40, 60))
    stack.push(cmd)
    new_b, new_c = cmd.new_ids
    assert {new_b, new_c}.isdisjoint({a, b, c})
    assert graph.node(new_b).params["out_features"] == 9
    assert graph.node(new_b).pos == (graph.node(b).pos[0] + 40, graph.node(b).pos[1] + 60)
    assert Edge(new_b, "out", new_c, "in") in graph.edges
    assert graph.in_edges(new_b) == []
    names = [n.name for n in graph.nodes.values()]
    assert len(set(names)) == len(names) == 5
    assert graph.node(new_b).name == "linear_2"
    after = graph.to_dict()
    stack.undo()
    assert sorted(graph.nodes) == [a, b, c] and len(graph.edges) == 2
    stack.redo()
    assert graph.to_dict() == after


def test_auto_layout_columns_follow_generations(stack: QUndoStack, monkeypatch) -> None:
    monkeypatch.setattr(layout, "MAX_COLUMNS", 5)  # one band: columns, not wrapping
    graph = Graph()
    inp = graph.add_node("Input", pos=(500, 300)).id
    left = graph.add_node("Linear", pos=(0, 900)).id
    right = graph.add_node("Linear", pos=(-200, -50)).id
    add = graph.add_node("Add", pos=(10, 10)).id
    out = graph.add_node("Output", pos=(0, 0)).id
    for edge in (Edge(inp, "out", left, "in"), Edge(inp, "out", right, "in"),
                 Edge(left, "out", add, "in1"), Edge(right, "out", add, "in2"),
                 Edge(add, "out", out, "in")):
        graph.connect(edge)
    before = graph.layout()
    stack.push(AutoLayoutCommand(graph))
    x = {i: graph.node(i).pos[0] for i in graph.nodes}
    assert x[inp] < x[left] == x[right] < x[add] < x[out]
    # same column: stacked without overlap, ordered by their previous height
    top_right, top_left = graph.node(right).pos[1], graph.node(left).pos[1]
    assert top_right + node_size("Linear")[1] < top_left

    def centre(i: int) -> float:
        return graph.node(i).pos[1] + node_size(graph.node(i).type)[1] / 2

    assert centre(inp) == pytest.approx(centre(add), abs=1)
    assert centre(inp) == pytest.approx((centre(left) + centre(right)) / 2, abs=1)
    stack.undo()
    assert graph.layout() == before


def test_auto_layout_survives_a_cycle() -> None:
    graph = Graph()
    a, b = chain(graph, "Linear", "Linear")
    graph.connect(Edge(b, "out", a, "in"), check=False)
    cmd = AutoLayoutCommand(graph)
    cmd.redo()
    assert set(cmd.moves) == {a, b}
