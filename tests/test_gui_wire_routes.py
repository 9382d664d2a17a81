"""Wires never run behind a layer: in every example, and around a layer dropped onto a wire."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, QRectF  # noqa: E402
from PySide6.QtGui import QPainterPath, QPainterPathStroker  # noqa: E402

from graph.layout import MAX_COLUMNS, NODE_WIDTH, auto_layout, node_size  # noqa: E402
from graph.model import Edge, Graph  # noqa: E402
from graph.project import load_project  # noqa: E402
from gui.canvas.edge_item import card_rect, is_card  # noqa: E402
from gui.canvas.wire_route import route  # noqa: E402
from tests.canvas_driver import CanvasDriver  # noqa: E402

EXAMPLES = sorted(Path(__file__).resolve().parent.parent.glob("resources/examples/*.plexus"))


def outline(path: QPainterPath) -> QPainterPath:
    """The wire as drawn (a thin stroke): an open path's own ``intersects`` would count the
    area between a curve and its chord."""
    stroker = QPainterPathStroker()
    stroker.setWidth(2.0)
    return stroker.createStroke(path)


def hidden_wires(scene) -> list[str]:
    cards = [item for item in scene.items() if is_card(item)]
    found = []
    for edge in scene.edge_items():
        if not edge.isVisible():
            continue
        drawn = outline(edge.path())
        ends = edge._end_items()
        for card in cards:
            if card not in ends and drawn.intersects(card_rect(card)):
                found.append(f"{edge.tooltip_text().splitlines()[0]} behind {card}")
    return found


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_no_wire_of_an_example_runs_behind_a_layer(qtbot, path):
    project = load_project(str(path))
    canvas = CanvasDriver(qtbot, project.graph)
    try:
        assert len(list(canvas.scene.edge_items())) == len(project.graph.edges) > 0
        assert hidden_wires(canvas.scene) == []
    finally:
        canvas.scene.detach()


def test_a_wire_detours_around_a_layer_in_its_way_and_back_when_it_moves(qtbot):
    graph = Graph()
    a = graph.add_node("Input", pos=(0, 0))
    b = graph.add_node("Linear", pos=(700, 0))
    c = graph.add_node("ReLU", pos=(350, 0))  # right on the straight line from a to b
    graph.connect(Edge(a.id, "out", b.id, "in"))
    canvas = CanvasDriver(qtbot, graph)
    try:
        edge = next(iter(canvas.scene.edge_items()))
        assert hidden_wires(canvas.scene) == []
        blocker = card_rect(canvas.scene.node_item(c.id))
        went = edge.path().boundingRect()  # round it: above its top or below its bottom
        assert went.top() < blocker.top() or went.bottom() > blocker.bottom()
        label = edge.midpoint()  # the label sits on the detour's long run, clear of the node
        assert not blocker.contains(label) and abs(label.x() - blocker.center().x()) < 60
        graph.move(c.id, (350, 400))  # out of the way: the straight wire comes back
        assert edge.path().boundingRect().height() < 5
        graph.move(c.id, (350, 0))  # back onto the wire: it detours again
        assert hidden_wires(canvas.scene) == []
    finally:
        canvas.scene.detach()


def test_route_is_a_plain_curve_when_nothing_is_in_the_way():
    p1, p2 = QPointF(0, 0), QPointF(300, 100)
    path, label = route(p1, p2, [QRectF(0, 300, 100, 60)])
    assert path.elementCount() == 4  # one cubic: move + three control points
    assert label == QPointF(150, 50)
    path, _label = route(p1, p2, [QRectF(100, -20, 100, 200)])  # a node between the ports
    assert not outline(path).intersects(QRectF(100, -20, 100, 200))


def test_a_long_chain_wraps_into_bands_that_read_like_lines(qtbot):
    """Bands of at most MAX_COLUMNS generations, each below the last; the wire back to the
    start of the next band runs along the gap between them, not diagonally across."""
    graph = Graph()
    ids = [graph.add_node("Input").id] + [graph.add_node("ReLU").id for _ in range(6)]
    for a, b in zip(ids, ids[1:], strict=False):
        graph.connect(Edge(a, "out", b, "in"))
    for node_id, pos in auto_layout(graph).items():
        graph.move(node_id, pos)
    xs = [graph.nodes[i].pos[0] for i in ids]
    ys = [graph.nodes[i].pos[1] for i in ids]
    assert MAX_COLUMNS == 3
    assert xs == [xs[0], xs[1], xs[2]] * 2 + [xs[0]] and xs[0] < xs[1] < xs[2]
    assert ys[0] == ys[1] == ys[2] < ys[3] == ys[4] == ys[5] < ys[6]
    canvas = CanvasDriver(qtbot, graph)
    try:
        assert hidden_wires(canvas.scene) == []
        wrap = canvas.scene.edge_item(Edge(ids[2], "out", ids[3], "in"))
        bottom = ys[2] + node_size("ReLU")[1]
        label = wrap.midpoint()  # on the run back, in the gap between the two bands
        assert bottom < label.y() < ys[3] and label.x() == pytest.approx(
            (xs[0] + xs[2] + NODE_WIDTH) / 2, abs=NODE_WIDTH)
        assert wrap.path().elementCount() > 4  # not one curve across the band
    finally:
        canvas.scene.detach()


def test_a_project_opens_at_a_zoom_where_every_text_reads(qtbot):
    """At the default zoom the smallest canvas text is at least 10 px on screen; a drawing
    too big for that opens at its top-left corner (the start of the network)."""
    from gui.canvas import style

    project = load_project(str(EXAMPLES[0].parent / "backbone_transfer.plexus"))
    canvas = CanvasDriver(qtbot, project.graph, size=(726, 468))
    try:
        canvas.view.fit_readable()
        assert canvas.view.zoom() * style.SMALL_PX >= 10 - 1e-6
        shown = canvas.view.mapToScene(canvas.view.viewport().rect()).boundingRect()
        drawing = canvas.scene.nodes_bounding_rect()
        assert shown.contains(drawing.topLeft())
        canvas.view.fit_all()  # F still shows everything, however small
        assert canvas.view.zoom() * style.SMALL_PX < 10
    finally:
        canvas.scene.detach()
