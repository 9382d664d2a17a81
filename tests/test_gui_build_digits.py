"""Issue 3: build digits_cnn in the editor the way a user does, then undo and redo it all.

From an empty canvas in the main window: every layer is dropped from the palette (its own
mime data, sent as synthetic drag-enter/move/drop events), every wire is a mouse drag from an
output port to an input port, and every parameter and name is typed into the inspector after
clicking the node. The result must equal the example's graph (by node name, type, params and
wired ports) and infer the same shapes; undoing the whole stack empties the canvas and redoing
it gives the same graph back.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QTreeWidgetItemIterator  # noqa: E402
from test_gui_canvas import LEFT, NO_MOD, Canvas  # noqa: E402

from graph.model import Graph  # noqa: E402
from gui import forms  # noqa: E402
from gui.commands import (  # noqa: E402
    AddNodeCommand,
    ConnectCommand,
    RenameCommand,
    SetParamCommand,
)
from gui.palette import LAYER_MIME, LAYER_ROLE  # noqa: E402
from resources.examples.make import build  # noqa: E402

COLUMNS = 5  # drop points: a serpentine grid of 5 columns, rows 200 px apart
COLUMN_STEP = 230
ROW_STEP = 200


class WindowCanvas(Canvas):
    """test_gui_canvas's Canvas driver bound to a main window's canvas, dropping from its
    palette (the palette tree's own mime data) instead of hand-made mime data."""

    def __init__(self, qtbot, window) -> None:  # not Canvas.__init__: it builds its own scene
        self.window = window
        self.graph = window.graph
        self.stack = window.undo_stack
        self.scene = window.scene
        self.view = window.view
        self.messages: list[str] = []
        self.scene.status_message.connect(self.messages.append)
        window.resize(1800, 1100)
        window.show()
        qtbot.waitExposed(window)
        self.view.resetTransform()
        self.view.centerOn(500, 300)
        self.view.setFocus()

    def palette_mime(self, layer_id: str):
        tree = self.window.palette.tree
        it = QTreeWidgetItemIterator(tree)
        while it.value() is not None:
            item = it.value()
            if item.data(0, LAYER_ROLE) == layer_id:
                return tree.mimeData([item])
            it += 1
        raise AssertionError(f"the palette has no {layer_id} layer")

    def drop(self, layer_id: str, view_pos: QPoint) -> int:
        before = set(self.graph.nodes)
        data = self.palette_mime(layer_id)
        assert bytes(data.data(LAYER_MIME)).decode("utf-8") == layer_id
        action = Qt.DropAction.CopyAction
        for event in (QDragEnterEvent(view_pos, action, data, LEFT, NO_MOD),
                      QDragMoveEvent(view_pos, action, data, LEFT, NO_MOD),
                      QDropEvent(view_pos.toPointF(), action, data, LEFT, NO_MOD)):
            QApplication.sendEvent(self.viewport, event)
            assert event.isAccepted(), type(event).__name__
        (new,) = set(self.graph.nodes) - before
        return new

    def click_header(self, node_id: int) -> None:
        QTest.mouseClick(self.viewport, LEFT, NO_MOD, self.header_pos(node_id))


def drop_point(index: int) -> QPoint:
    row, col = divmod(index, COLUMNS)
    if row % 2:  # serpentine: every wire is short
        col = COLUMNS - 1 - col
    return QPoint(110 + COLUMN_STEP * col, 90 + ROW_STEP * row)


def type_into(qtbot, editor: Any, value: Any) -> None:
    """Enter ``value`` into an inspector editor the way a user does (type + Enter, click)."""
    if isinstance(editor, forms.TupleEditor):
        for box, item in zip(editor.boxes, value, strict=True):
            type_into(qtbot, box, item)
        return
    if isinstance(editor, forms.BoolEditor):
        if editor.isChecked() != bool(value):
            editor.click()
        return
    if isinstance(editor, forms.ChoiceEditor):
        index = editor.findData(value)
        assert index >= 0, f"{editor.objectName()} offers no {value!r}"
        editor.setCurrentIndex(index)
        return
    if isinstance(editor, forms.IntsEditor):
        text = ", ".join(str(v) for v in value)
    elif isinstance(editor, forms.FloatEditor):
        text = forms.format_float(float(value))
    else:
        text = str(value)
    line = editor.lineEdit() if hasattr(editor, "lineEdit") else editor
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def signature(graph: Graph) -> tuple[Counter, Counter]:
    """Nodes as a multiset of (type, name, params); edges by node name and port."""
    nodes = Counter((n.type, n.name, repr(sorted(n.params.items())))
                    for n in graph.nodes.values())
    edges = Counter((graph.nodes[e.src].name, e.src_port, graph.nodes[e.dst].name, e.dst_port)
                    for e in graph.edges)
    return nodes, edges


def shapes_by_name(graph: Graph) -> tuple[dict[str, Any], Any]:
    """Every node's inferred output shapes by name, and the shape on the wire into Output."""
    from runtime.shapes import analyze

    analysis = analyze(graph)
    assert not [d for d in analysis.diagnostics if d.severity == "error"]
    outputs = {graph.nodes[i].name: dict(s) for i, s in analysis.shapes.outputs.items()}
    (head,) = graph.nodes_of_type("Output")
    (wire,) = graph.in_edges(head.id)
    return outputs, analysis.shapes.edges[wire]


def test_build_digits_cnn_from_the_palette_then_undo_and_redo(editor_window, qtbot) -> None:
    example = build("digits_cnn").graph
    order = [example.nodes[i] for i in example.topological_order()]
    canvas = WindowCanvas(qtbot, editor_window)
    stack = canvas.stack
    assert canvas.graph.nodes == {} and canvas.scene.is_empty() and stack.count() == 0

    # 1. drop every layer from the palette, in topological order
    built: dict[int, int] = {}  # example node id -> built node id
    for index, node in enumerate(order):
        new = canvas.drop(node.type, drop_point(index))
        assert canvas.graph.nodes[new].type == node.type
        built[node.id] = new
    assert len(canvas.scene.node_items()) == len(order)

    # 2. wire every edge port to port with the mouse
    for edge in example.edges:
        canvas.wire(built[edge.src], edge.src_port, built[edge.dst], edge.dst_port)
    assert not canvas.messages, canvas.messages  # no connection was refused
    assert len(canvas.scene.edge_items()) == len(example.edges)

    # 3. select each node with a click and type its params and name into the inspector
    form = editor_window.inspector.node_form
    for node in order:
        canvas.click_header(built[node.id])
        assert form.node_id == built[node.id]
        for name, value in node.params.items():
            editor, count = form.editors[name], stack.count()
            shown = editor.current()  # the dropped layer's default
            changes = (sum(a != b for a, b in zip(shown, value, strict=True))
                       if isinstance(editor, forms.TupleEditor) else int(shown != value))
            type_into(qtbot, editor, value)
            # one undo step per changed box, none for a value that was already right
            assert stack.count() - count == changes, (node.name, name)
            assert canvas.graph.nodes[built[node.id]].params[name] == value, (node.name, name)
        type_into(qtbot, form.name_edit, node.name)
        assert form.name_edit.text() == node.name and not form.name_error.isVisible()

    assert signature(canvas.graph) == signature(example)
    assert shapes_by_name(canvas.graph) == shapes_by_name(example)
    result = canvas.graph.to_dict()

    # every step is an undoable command: one per drop, wire and rename, and the param edits
    kinds = Counter(type(stack.command(i)).__name__ for i in range(stack.count()))
    assert kinds[AddNodeCommand.__name__] == len(order)
    assert kinds[ConnectCommand.__name__] == len(example.edges)
    assert kinds[RenameCommand.__name__] == len(order)
    assert kinds[SetParamCommand.__name__] >= 1  # digits_cnn changes some defaults
    assert set(kinds) == {AddNodeCommand.__name__, ConnectCommand.__name__,
                          RenameCommand.__name__, SetParamCommand.__name__}, kinds  # no moves
    assert stack.index() == stack.count()

    # 4. undo back to the empty canvas, then redo to the same graph
    while stack.canUndo():
        stack.undo()
    assert canvas.graph.nodes == {} and canvas.graph.edges == []
    assert canvas.scene.node_items() == [] and canvas.scene.edge_items() == []
    while stack.canRedo():
        stack.redo()
    assert canvas.graph.to_dict() == result
    assert signature(canvas.graph) == signature(example)
    assert len(canvas.scene.node_items()) == len(order)
    assert len(canvas.scene.edge_items()) == len(example.edges)
