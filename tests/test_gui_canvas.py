"""The canvas, driven like a user: palette drops, wires dragged with the mouse, keys, menus.

Drops are synthetic QDragEnter/QDragMove/QDrop events on the viewport (QDrag.exec cannot run
offscreen); wires and node drags are real mouse press/move/release events on the viewport.
Assertions are on the model and on item state, not on pixels.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from canvas_driver import CTRL, LEFT, NO_MOD, CanvasDriver
from PySide6.QtCore import QMimeData, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QImage,
    QPainter,
    QWheelEvent,
)
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from graph import layout
from graph.layout import HEADER_HEIGHT, NODE_WIDTH
from graph.model import Edge, Graph
from gui import theme
from gui.canvas import EMPTY_TEXT, LAYER_MIME
from gui.canvas.edge_item import EdgeItem
from gui.canvas.node_item import NodeItem
from gui.commands import AutoLayoutCommand


class Canvas(CanvasDriver):
    def __init__(self, qtbot, graph: Graph | None = None) -> None:
        super().__init__(qtbot, graph)
        self.view.resetTransform()
        self.view.centerOn(500, 150)

    @property
    def viewport(self):
        return self.view.viewport()

    def drop(self, layer_id: str, view_pos: QPoint) -> int:
        """Drop a layer from the palette at a viewport position; returns the new node id."""
        before = set(self.graph.nodes)
        data = QMimeData()
        data.setData(LAYER_MIME, layer_id.encode("utf-8"))
        pos = QPointF(view_pos)
        action = Qt.DropAction.CopyAction
        enter = QDragEnterEvent(view_pos, action, data, LEFT, NO_MOD)
        QApplication.sendEvent(self.viewport, enter)
        assert enter.isAccepted()
        move = QDragMoveEvent(view_pos, action, data, LEFT, NO_MOD)
        QApplication.sendEvent(self.viewport, move)
        assert move.isAccepted()
        drop = QDropEvent(pos, action, data, LEFT, NO_MOD)
        QApplication.sendEvent(self.viewport, drop)
        assert drop.isAccepted()
        (new,) = set(self.graph.nodes) - before
        return new

    def port_pos(self, node_id: int, port: str, is_input: bool) -> QPoint:
        item = self.scene.node_item(node_id).port(port, is_input)
        return self.view.mapFromScene(item.scene_center())

    def header_pos(self, node_id: int) -> QPoint:
        item = self.scene.node_item(node_id)
        return self.view.mapFromScene(item.pos() + QPointF(NODE_WIDTH / 2, HEADER_HEIGHT / 2))

    def mouse_drag(self, start: QPoint, end: QPoint, modifier=NO_MOD, steps: int = 4) -> None:
        QTest.mousePress(self.viewport, LEFT, modifier, start)
        for i in range(1, steps + 1):
            QTest.mouseMove(self.viewport, start + (end - start) * (i / steps))
        QTest.mouseRelease(self.viewport, LEFT, modifier, end)

    def wire(self, src: int, src_port: str, dst: int, dst_port: str) -> None:
        self.mouse_drag(self.port_pos(src, src_port, False), self.port_pos(dst, dst_port, True))


@pytest.fixture
def canvas(qtbot):
    c = Canvas(qtbot)
    yield c
    c.scene.detach()


def chain_graph(*types: str) -> tuple[Graph, list[int]]:
    graph = Graph()
    ids = [graph.add_node(t, pos=(i * 320.0, 0.0)).id for i, t in enumerate(types)]
    for a, b in zip(ids, ids[1:], strict=False):
        graph.connect(Edge(a, "out", b, "in"))
    return graph, ids


def test_build_network_with_drops_and_wires_then_undo_and_redo(canvas: Canvas) -> None:
    assert canvas.scene.is_empty() and EMPTY_TEXT.startswith("Drag a layer here")
    types = ["Input", "Conv2d", "ReLU", "Flatten", "Linear", "Output"]
    ids = [canvas.drop(t, QPoint(110 + 200 * i, 300 + (40 if i % 2 else 0)))
           for i, t in enumerate(types)]
    assert [canvas.graph.node(i).type for i in ids] == types
    # the node lands centred on the drop point
    first = canvas.scene.node_item(ids[0]).sceneBoundingRect().center()
    assert (canvas.view.mapFromScene(first) - QPoint(110, 300)).manhattanLength() <= 3
    for a, b in zip(ids, ids[1:], strict=False):
        canvas.wire(a, "out", b, "in")
    assert sorted(canvas.graph.edges) == [Edge(a, "out", b, "in")
                                          for a, b in zip(ids, ids[1:], strict=False)]
    assert len(canvas.scene.edge_items()) == 5
    assert canvas.scene.node_item(ids[1]).inputs["in"].connections == 1
    built = canvas.graph.to_dict()
    assert canvas.stack.count() == 11  # 6 drops + 5 wires, one step each
    while canvas.stack.canUndo():
        canvas.stack.undo()
    assert canvas.graph.nodes == {} and canvas.scene.items() == []
    while canvas.stack.canRedo():
        canvas.stack.redo()
    assert canvas.graph.to_dict() == built
    assert len(canvas.scene.node_items()) == 6 and len(canvas.scene.edge_items()) == 5


def test_cycle_and_taken_port_are_refused_with_a_reason(qtbot) -> None:
    graph, (a, b, c) = chain_graph("Linear", "ReLU", "Linear")
    canvas = Canvas(qtbot, graph)
    canvas.view.centerOn(canvas.scene.nodes_bounding_rect().center())
    canvas.wire(c, "out", a, "in")  # a's input is free, but c -> a closes a loop
    assert len(graph.edges) == 2
    assert "cycle" in canvas.messages[-1] and canvas.messages[-1].startswith("Cannot connect")
    canvas.wire(a, "out", c, "in")  # c's input is taken by b
    assert "already connected" in canvas.messages[-1]
    # dropped on the body of an upstream layer: refused with the same reason
    canvas.mouse_drag(canvas.port_pos(c, "out", False), canvas.header_pos(a))
    assert "cycle" in canvas.messages[-1]
    assert canvas.stack.count() == 0 and len(graph.edges) == 2
    canvas.scene.detach()


def test_wire_dropped_on_a_node_body_snaps_to_its_free_input(qtbot) -> None:
    graph = Graph()
    a = graph.add_node("Linear", pos=(0.0, 0.0)).id
    b = graph.add_node("Linear", pos=(0.0, 200.0)).id
    add = graph.add_node("Add", pos=(400.0, 60.0)).id
    canvas = Canvas(qtbot, graph)
    canvas.view.centerOn(canvas.scene.nodes_bounding_rect().center())
    body = canvas.scene.node_item(add)
    centre = canvas.view.mapFromScene(body.sceneBoundingRect().center())
    canvas.mouse_drag(canvas.port_pos(a, "out", False), centre)
    canvas.mouse_drag(canvas.port_pos(b, "out", False), centre)
    assert sorted(graph.in_edges(add)) == [Edge(a, "out", add, "in1"), Edge(b, "out", add, "in2")]
    canvas.scene.detach()


def test_drag_from_connected_input_reroutes_or_removes_the_wire(qtbot) -> None:
    graph, (a, b, c) = chain_graph("Input", "Linear", "Linear")
    extra = graph.add_node("Output", pos=(640.0, 260.0)).id
    canvas = Canvas(qtbot, graph)
    canvas.view.centerOn(canvas.scene.nodes_bounding_rect().center())
    canvas.mouse_drag(canvas.port_pos(c, "in", True), canvas.port_pos(extra, "in", True))
    assert Edge(b, "out", extra, "in") in graph.edges and graph.in_edges(c) == []
    assert canvas.stack.count() == 1  # a reconnect is one step
    canvas.mouse_drag(canvas.port_pos(extra, "in", True), QPoint(5, 5))
    assert graph.in_edges(extra) == [] and canvas.messages[-1] == "Connection removed."
    canvas.stack.undo()
    canvas.stack.undo()
    assert Edge(b, "out", c, "in") in graph.edges
    canvas.scene.detach()


def test_delete_key_and_undo_restore_ids_and_edges(qtbot) -> None:
    graph, (a, b, c) = chain_graph("Input", "Linear", "Output")
    graph.set_param(b, "out_features", 3)
    canvas = Canvas(qtbot, graph)
    before = graph.to_dict(), graph.layout()
    canvas.scene.select_node(b)
    canvas.key(Qt.Key.Key_Delete)
    assert sorted(graph.nodes) == [a, c] and graph.edges == []
    assert canvas.scene.node_item(b) is None and canvas.scene.edge_items() == []
    canvas.stack.undo()
    assert (graph.to_dict(), graph.layout()) == before
    assert len(canvas.scene.edge_items()) == 2
    # a selected wire alone is deleted the same way
    canvas.scene.select_node(None)
    canvas.scene.edge_item(Edge(a, "out", b, "in")).setSelected(True)
    canvas.key(Qt.Key.Key_Delete)
    assert graph.edges == [Edge(b, "out", c, "in")]
    canvas.scene.detach()


def test_copy_paste_and_duplicate_keep_internal_edges(qtbot) -> None:
    graph, (a, b, c) = chain_graph("Input", "Linear", "Output")
    canvas = Canvas(qtbot, graph)
    canvas.scene.select_nodes([b, c])
    canvas.key(Qt.Key.Key_C, CTRL)
    canvas.key(Qt.Key.Key_V, CTRL)
    new = canvas.scene.selected_node_ids()
    assert len(new) == 2 and set(new).isdisjoint({a, b, c})
    new_b, new_c = sorted(new)
    assert Edge(new_b, "out", new_c, "in") in graph.edges
    assert graph.in_edges(new_b) == []  # the edge from outside the copy is not pasted
    names = [n.name for n in graph.nodes.values()]
    assert len(names) == len(set(names))
    assert canvas.stack.count() == 1
    canvas.key(Qt.Key.Key_D, CTRL)
    dup = canvas.scene.selected_node_ids()
    assert len(dup) == 2 and len(graph.nodes) == 7 and len(graph.edges) == 4
    dx = graph.node(dup[0]).pos[0] - graph.node(new_b).pos[0]
    assert dx == 30
    canvas.key(Qt.Key.Key_A, CTRL)
    assert canvas.scene.selected_node_ids() == sorted(graph.nodes)
    canvas.scene.detach()


def test_moving_selected_nodes_is_one_undo_step(qtbot) -> None:
    graph, (a, b, c) = chain_graph("Input", "Linear", "Output")
    canvas = Canvas(qtbot, graph)
    canvas.scene.select_nodes([a, b])
    start = {i: graph.node(i).pos for i in (a, b, c)}
    grab = canvas.header_pos(b)
    canvas.mouse_drag(grab, grab + QPoint(60, 40), steps=6)
    assert canvas.scene.selected_node_ids() == [a, b]  # dragging kept the selection
    for i in (a, b):
        assert graph.node(i).pos == (start[i][0] + 60, start[i][1] + 40)
    assert graph.node(c).pos == start[c]
    assert canvas.stack.count() == 1 and canvas.stack.undoText() == "Move 2 layers"
    edge = canvas.scene.edge_item(Edge(b, "out", c, "in"))
    assert edge.endpoints()[0] == canvas.scene.node_item(b).outputs["out"].scene_center()
    canvas.stack.undo()
    assert {i: graph.node(i).pos for i in (a, b, c)} == start
    assert canvas.scene.node_item(a).pos() == QPointF(*start[a])
    # arrow keys nudge the selection; repeated nudges are one step
    canvas.key(Qt.Key.Key_Right)
    canvas.key(Qt.Key.Key_Right)
    canvas.key(Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert graph.node(a).pos == (start[a][0] + 20, start[a][1] + 50)
    canvas.stack.undo()
    assert graph.node(a).pos == start[a]
    canvas.scene.detach()


def test_click_and_ctrl_click_select_nodes(qtbot) -> None:
    graph, (a, b, c) = chain_graph("Input", "Linear", "Output")
    canvas = Canvas(qtbot, graph)
    seen: list[list[int]] = []
    canvas.scene.nodes_selected.connect(seen.append)
    QTest.mouseClick(canvas.viewport, LEFT, NO_MOD, canvas.header_pos(a))
    QTest.mouseClick(canvas.viewport, LEFT, CTRL, canvas.header_pos(c))
    assert canvas.scene.selected_node_ids() == [a, c] and seen[-1] == [a, c]
    # rubber band from empty canvas over a and b selects nodes, not the wire crossing it
    top_left = canvas.view.mapFromScene(QPointF(-20, -40))
    bottom_right = canvas.view.mapFromScene(QPointF(320 + NODE_WIDTH + 10, 140))
    canvas.mouse_drag(top_left, bottom_right)
    assert canvas.scene.selected_node_ids() == [a, b]
    assert canvas.scene.selected_edges() == []
    canvas.scene.detach()


def test_quick_add_with_tab_typing_and_enter(canvas: Canvas, qtbot) -> None:
    canvas.key(Qt.Key.Key_Tab)
    popup = canvas.view.quick_add_popup()
    assert popup is not None and popup.isVisible()
    QTest.keyClicks(popup.search, "lstm")
    assert popup.current_layer() == "LSTM"
    QTest.keyClicks(popup.search, "x")  # nothing matches "lstmx"
    assert popup.list.count() == 0
    QTest.keyClick(popup.search, Qt.Key.Key_Backspace)
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    assert not popup.isVisible()
    assert [n.type for n in canvas.graph.nodes.values()] == ["LSTM"]
    # a description word finds layers too, and Down picks the next match
    canvas.view.quick_add(QPointF(400, 400))
    QTest.keyClicks(popup.search, "residual")
    assert popup.current_layer() == "Add"
    QTest.keyClick(popup.search, Qt.Key.Key_Escape)
    assert not popup.isVisible() and len(canvas.graph.nodes) == 1


def test_double_click_on_empty_canvas_opens_quick_add(canvas: Canvas) -> None:
    QTest.mouseDClick(canvas.viewport, LEFT, NO_MOD, QPoint(300, 300))
    popup = canvas.view.quick_add_popup()
    assert popup is not None and popup.isVisible()
    QTest.keyClicks(popup.search, "conv2d")
    QTest.keyClick(popup.search, Qt.Key.Key_Enter)
    (node,) = canvas.graph.nodes.values()
    centre = canvas.scene.node_item(node.id).sceneBoundingRect().center()
    assert node.type == "Conv2d"
    assert (canvas.view.mapFromScene(centre) - QPoint(300, 300)).manhattanLength() <= 3


def test_set_analysis_marks_the_failing_node_and_labels_edges(qtbot) -> None:
    analyze = pytest.importorskip("runtime.shapes").analyze
    graph, (inp, conv, lin, out) = chain_graph("Input", "Conv2d", "Linear", "Output")
    graph.set_param(inp, "shape", (1, 8, 8))
    graph.set_param(conv, "padding", (1, 1))
    canvas = Canvas(qtbot, graph)
    canvas.scene.set_analysis(analyze(graph))
    conv_item = canvas.scene.node_item(conv)
    assert canvas.scene.edge_item(Edge(inp, "out", conv, "in")).label == "N x 1 x 8 x 8"
    assert canvas.scene.edge_item(Edge(conv, "out", lin, "in")).label == "N x 16 x 8 x 8"
    assert conv_item.shape_text == "\u2192 N x 16 x 8 x 8" and conv_item.severity is None
    # an Add of N x 16 x 8 x 8 and N x 16 x 4 x 4 cannot work
    pool = graph.add_node("MaxPool2d", pos=(300, 300)).id
    graph.connect(Edge(conv, "out", pool, "in"))
    add = graph.add_node("Add", pos=(600, 300)).id
    graph.connect(Edge(conv, "out", add, "in1"))
    graph.connect(Edge(pool, "out", add, "in2"))
    analysis = analyze(graph)
    canvas.scene.set_analysis(analysis)
    add_item = canvas.scene.node_item(add)
    messages = [d.message for d in analysis.diagnostics if d.node_id == add
                and d.severity == "error"]
    assert messages and add_item.severity == "error"
    assert add_item.badge.isVisible() and messages[0] in add_item.badge.toolTip()
    assert conv_item.severity is None and not conv_item.badge.isVisible()
    # a fixed graph clears the badge
    graph.remove_node(add)
    graph.remove_node(pool)
    canvas.scene.set_analysis(analyze(graph))
    assert all(i.severity != "error" for i in canvas.scene.node_items())
    canvas.scene.detach()


def test_warnings_are_amber_and_edges_with_errors_turn_red(canvas: Canvas) -> None:
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Diag:
        severity: str
        message: str
        node_id: int | None = None
        edge: Edge | None = None

    @dataclass
    class Shapes:
        outputs: dict = field(default_factory=dict)
        edges: dict = field(default_factory=dict)

    @dataclass
    class Analysis:
        diagnostics: list
        shapes: Shapes

    a = canvas.graph.add_node("Input").id
    b = canvas.graph.add_node("Dropout", pos=(220, 0)).id
    edge = canvas.graph.connect(Edge(a, "out", b, "in"))
    canvas.scene.set_analysis(Analysis(
        [Diag("warning", "Dropout 'dropout_1' has nothing after it", b),
         Diag("error", "wire broken", None, edge)],
        Shapes({a: {"out": (2, 5)}}, {edge: (2, 5)})))
    item = canvas.scene.node_item(b)
    assert item.severity == "warning" and item.badge.severity == "warning"
    assert "nothing after it" in item.tooltip_text()
    assert canvas.scene.edge_item(edge).error
    # a 36 px gap leaves no room for the pill: it hides instead of overlapping the nodes
    assert canvas.scene.edge_item(edge).label == "N x 5"
    assert not canvas.scene.edge_item(edge).label_visible()
    canvas.graph.move(b, (600, 0))
    assert canvas.scene.edge_item(edge).label_visible()
    assert canvas.scene.node_item(a).shape_text == "\u2192 N x 5"
    assert item.shape_text == "\u2192 ?"  # analysed, but no shape for it


def test_auto_layout_orders_columns_by_generation(canvas: Canvas, monkeypatch) -> None:
    monkeypatch.setattr(layout, "MAX_COLUMNS", 5)  # one band: columns, not wrapping
    g = canvas.graph
    inp = g.add_node("Input", pos=(900, 900)).id
    x1 = g.add_node("Linear", pos=(0, 0)).id
    x2 = g.add_node("ReLU", pos=(-500, 40)).id
    add = g.add_node("Add", pos=(100, -300)).id
    out = g.add_node("Output", pos=(0, 0)).id
    for e in (Edge(inp, "out", x1, "in"), Edge(x1, "out", x2, "in"),
              Edge(x2, "out", add, "in1"), Edge(inp, "out", add, "in2"),
              Edge(add, "out", out, "in")):
        g.connect(e)
    canvas.scene.auto_layout()
    xs = [canvas.scene.node_item(i).pos().x() for i in (inp, x1, x2, add, out)]
    assert xs == sorted(xs) and len(set(xs)) == 5
    # the skip wire inp -> add does not run behind x1 or x2
    for skipped in (x1, x2):
        edge = canvas.scene.edge_item(Edge(inp, "out", add, "in2"))
        assert not canvas.scene.node_item(skipped).sceneBoundingRect().contains(
            edge.midpoint())
    assert canvas.stack.count() == 1 and canvas.stack.undoText() == "Auto layout"


def test_context_menus_and_insert_layer_on_edge(qtbot) -> None:
    graph, (a, b) = chain_graph("Input", "Output")
    canvas = Canvas(qtbot, graph)
    scene = canvas.scene

    def titles(menu) -> list[str]:
        return [act.text() for act in menu.actions() if act.text()]

    node_menu = scene.build_context_menu(scene.node_item(a).sceneBoundingRect().center())
    assert titles(node_menu) == ["Rename\u2026", "Duplicate", "Copy", "Group", "Freeze weights",
                                 "Delete"]
    next(act for act in node_menu.actions() if act.text() == "Freeze weights").trigger()
    assert graph.node(a).frozen and scene.node_item(a).frozen
    canvas_menu = scene.build_context_menu(QPointF(-900, -900))
    assert titles(canvas_menu)[0] == "Add layer"
    categories = titles(canvas_menu.actions()[0].menu())
    assert categories[:3] == ["Input / Output", "Core", "Convolution"]
    edge = Edge(a, "out", b, "in")
    edge_menu = scene.build_context_menu(scene.edge_item(edge).midpoint())
    assert titles(edge_menu) == ["Insert layer here", "Delete connection"]
    insert = edge_menu.actions()[0].menu()
    assert "Input / Output" not in titles(insert)  # Input/Output have no way through
    core = next(a.menu() for a in insert.actions() if a.text() == "Core")
    next(act for act in core.actions() if act.data() == "Linear").trigger()
    (lin,) = graph.nodes_of_type("Linear")
    assert sorted(graph.edges) == [Edge(a, "out", lin.id, "in"), Edge(lin.id, "out", b, "in")]
    assert graph.node(b).pos[0] >= lin.pos[0] + NODE_WIDTH  # the output made room
    assert canvas.stack.undoText().startswith("Insert Linear")
    canvas.stack.undo()
    assert graph.edges == [edge] and not graph.nodes_of_type("Linear")
    assert scene.rename_node(a, "pixels") and graph.node(a).name == "pixels"
    assert not scene.rename_node(b, "pixels") and "already has that name" in canvas.messages[-1]
    scene.detach()


def test_zoom_fit_and_pan(qtbot) -> None:
    graph, ids = chain_graph(*["Linear"] * 12)
    canvas = Canvas(qtbot, graph)
    canvas.key(Qt.Key.Key_F)
    visible = canvas.view.mapToScene(canvas.viewport.rect()).boundingRect()
    assert visible.contains(canvas.scene.nodes_bounding_rect())
    zoom = canvas.view.zoom()
    assert zoom < 1
    canvas.key(Qt.Key.Key_Plus)
    assert canvas.view.zoom() == pytest.approx(zoom * 1.25)
    centre = canvas.view.mapToScene(canvas.viewport.rect().center())
    QTest.mousePress(canvas.viewport, Qt.MouseButton.MiddleButton, NO_MOD, QPoint(600, 400))
    QTest.mouseMove(canvas.viewport, QPoint(500, 350))
    QTest.mouseRelease(canvas.viewport, Qt.MouseButton.MiddleButton, NO_MOD, QPoint(500, 350))
    moved = canvas.view.mapToScene(canvas.viewport.rect().center()) - centre
    assert moved.x() > 0 and moved.y() > 0
    assert canvas.stack.count() == 0
    canvas.scene.detach()


def test_wheel_zooms_around_the_cursor_and_space_drag_pans(qtbot) -> None:
    graph, _ = chain_graph(*["Linear"] * 12)
    canvas = Canvas(qtbot, graph)
    view, cursor = canvas.view, QPoint(300, 200)
    under = view.mapToScene(cursor)
    zoom = view.zoom()
    wheel = QWheelEvent(QPointF(cursor), QPointF(view.viewport().mapToGlobal(cursor)),
                        QPoint(0, 0), QPoint(0, 240), Qt.MouseButton.NoButton, NO_MOD,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas.viewport, wheel)
    assert view.zoom() == pytest.approx(zoom * 1.0015 ** 240)
    after = view.mapToScene(cursor)
    assert abs(after.x() - under.x()) < 2 and abs(after.y() - under.y()) < 2  # it stays put

    centre = view.mapToScene(canvas.viewport.rect().center())
    QTest.keyPress(view, Qt.Key.Key_Space)
    QTest.mousePress(canvas.viewport, LEFT, NO_MOD, QPoint(600, 400))
    QTest.mouseMove(canvas.viewport, QPoint(500, 350))
    QTest.mouseRelease(canvas.viewport, LEFT, NO_MOD, QPoint(500, 350))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    moved = view.mapToScene(canvas.viewport.rect().center()) - centre
    assert moved.x() > 0 and moved.y() > 0  # the scene followed the hand
    assert not canvas.scene.selected_node_ids() and canvas.stack.count() == 0  # no rubber band
    canvas.scene.detach()


def test_screenshot_of_a_digits_cnn(qtbot) -> None:
    """Renders /tmp/canvas.png (look at it) and checks the items a reader relies on."""
    shapes_module = pytest.importorskip("runtime.shapes")
    graph = Graph()
    spec = [("Input", {"shape": (1, 8, 8)}), ("Conv2d", {"out_channels": 16, "padding": (1, 1)}),
            ("BatchNorm2d", {}), ("ReLU", {}), ("MaxPool2d", {}),
            ("Conv2d", {"out_channels": 32, "padding": (1, 1)}), ("ReLU", {}), ("Flatten", {}),
            ("Linear", {"out_features": 64}), ("Dropout", {"p": 0.25}),
            ("Linear", {"out_features": 10}), ("Output", {})]
    ids = [graph.add_node(t, p).id for t, p in spec]
    for a, b in zip(ids, ids[1:], strict=False):
        graph.connect(Edge(a, "out", b, "in"))
    graph.set_node_options(ids[1], frozen=True)
    bad = graph.add_node("Add").id  # a residual Add that cannot work: shapes differ
    graph.connect(Edge(ids[7], "out", bad, "in1"))
    graph.connect(Edge(ids[8], "out", bad, "in2"))
    AutoLayoutCommand(graph).redo()
    theme.set_current("dark")
    canvas = Canvas(qtbot, graph)
    canvas.scene.set_analysis(shapes_module.analyze(graph))
    canvas.scene.select_node(ids[5])
    assert canvas.scene.node_item(bad).severity == "error"
    # after auto layout every shape pill has room between its two nodes
    assert all(e.label and e.label_visible() for e in canvas.scene.edge_items())
    assert all(isinstance(i, (NodeItem, EdgeItem)) for i in canvas.scene.items()
               if i.parentItem() is None)
    rect = canvas.scene.nodes_bounding_rect().adjusted(-30, -30, 30, 30)
    image = QImage(int(rect.width()), int(rect.height()), QImage.Format.Format_ARGB32)
    image.fill(QColor(theme.current().canvas))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    canvas.scene.render(painter, QRectF(image.rect()), rect)
    painter.end()
    path = Path("/tmp/canvas.png")
    assert image.save(str(path)) and path.stat().st_size > 10_000
    canvas.view.fit_all()
    canvas.view.grab().save("/tmp/canvas_view.png")
    canvas.scene.detach()


def test_release_clipboard_takes_copied_layers_off_before_exit(qtbot) -> None:
    """PySide6 segfaults at exit deleting the clipboard's QMimeData made in Python, so the app
    releases it on quit (and the test session at its end)."""
    from gui.canvas import release_clipboard

    graph, (a, _b) = chain_graph("Input", "Linear")
    canvas = Canvas(qtbot, graph)
    canvas.scene.select_nodes([a])
    assert canvas.scene.copy_selection() == 1 and canvas.scene.can_paste()
    release_clipboard()
    assert not canvas.scene.can_paste()
    canvas.scene.detach()
