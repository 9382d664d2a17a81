"""Where a group sits on the canvas: its frame's outline and title bar, its collapsed block's
place (its boundary ports, which layer ports the outside sees, are ``graph.boundary``'s).

Pure geometry over the ``Graph`` model: no items, so the controller and the items both ask here.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainterPath, QPainterPathStroker

from graph.layout import CORNER_RADIUS, node_size
from graph.model import Graph

FRAME_PAD = 18.0  # space between the layers and the frame
TITLE_HEIGHT = 28.0  # the frame's title bar, above the layers
NEST_PAD = 10.0  # extra space a frame keeps around each level of frames nested in it

def node_rect(graph: Graph, node_id: int) -> QRectF:
    node = graph.nodes[node_id]
    w, h = node_size(node.type)
    return QRectF(node.pos[0], node.pos[1], w, h)


def members_rect(graph: Graph, node_ids: Iterable[int]) -> QRectF:
    """The scene rectangle covering the given layers."""
    rect = QRectF()
    for node_id in node_ids:
        rect = rect.united(node_rect(graph, node_id))
    return rect


def frame_geometry(inside: list[QRectF], others: list[QRectF], levels: int = 0
                   ) -> tuple[QPainterPath, QRectF]:
    """The outline of an expanded group around the rectangles ``inside`` (its layers and the
    blocks of collapsed nested groups), keeping ``others`` out, and its title bar, in scene
    coordinates. ``levels`` (how deep expanded groups nest inside it) widens the frame and
    lifts its title bar so the nested frames and their titles stay inside.

    The outline hugs the layers instead of taking their bounding box, so layers of other
    groups or none that sit between them (a network wrapped into bands) stay outside: each
    layer gets a padded rectangle, and neighbours in the same row or column are bridged when
    no other layer is in between. The title bar spans the top row. Corners are rounded.
    """
    rects = dict(enumerate(inside))
    pad = FRAME_PAD + levels * NEST_PAD
    lift = levels * TITLE_HEIGHT  # room above each layer for the nested title bars
    radius = CORNER_RADIUS + 3
    grip = 2 * radius + 1  # bridges reach this far into what they join, so no seam shows
    parts = [r.adjusted(-pad, -pad - lift, pad, pad) for r in rects.values()]
    ordered = sorted(rects.values(), key=lambda r: (r.left(), r.top()))
    for index, a in enumerate(ordered):
        right = below = None
        for b in ordered[index + 1:] + ordered[:index]:
            if b is a:
                continue
            rows = min(a.bottom(), b.bottom()) - max(a.top(), b.top())
            if rows > 0.5 * min(a.height(), b.height()) and b.left() >= a.right():
                if right is None or b.left() < right.left():
                    right = b
            cols = min(a.right(), b.right()) - max(a.left(), b.left())
            if cols > 0.5 * min(a.width(), b.width()) and b.top() >= a.bottom():
                if below is None or b.top() < below.top():
                    below = b
        if right is not None:
            bridge = QRectF(a.right(), max(a.top(), right.top()) - pad,
                            right.left() - a.right(),
                            min(a.bottom(), right.bottom()) - max(a.top(), right.top()) + 2 * pad)
            if not any(bridge.intersects(o) for o in others):
                parts.append(bridge.adjusted(-grip, 0, grip, 0))
        if below is not None:
            bridge = QRectF(max(a.left(), below.left()) - pad, a.bottom(),
                            min(a.right(), below.right()) - max(a.left(), below.left()) + 2 * pad,
                            below.top() - a.bottom())
            if not any(bridge.intersects(o) for o in others):
                parts.append(bridge.adjusted(0, -grip, 0, grip))
    top = min(r.top() for r in rects.values())
    first_row = [r for r in rects.values() if r.top() <= top + 12]
    left = min(r.left() for r in first_row) - pad
    width = max(r.right() for r in first_row) + pad - left
    title = QRectF(left, top - pad - lift - TITLE_HEIGHT, width, TITLE_HEIGHT)
    parts.append(title.adjusted(0, 0, 0, grip))
    core = QPainterPath()
    core.setFillRule(Qt.FillRule.WindingFill)
    for part in parts:
        core.addRect(part.adjusted(radius, radius, -radius, -radius))
    core = _fill_holes(core.simplified(), others)
    stroker = QPainterPathStroker()
    stroker.setWidth(2 * radius)
    stroker.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    outline = core.united(stroker.createStroke(core)).simplified()
    return outline, title



def _fill_holes(path: QPainterPath, others: list[QRectF]) -> QPainterPath:
    """``path`` without its holes (the gaps where rows and columns of layers meet), except
    holes that hold a layer of another group or none: that one must stay outside."""
    polygons = path.toSubpathPolygons()
    outer, holes = [], []
    boxes = [polygon.boundingRect() for polygon in polygons]
    for index, polygon in enumerate(polygons):
        box = boxes[index]
        inside = any(i != index and other != box and other.contains(box)
                     for i, other in enumerate(boxes))
        (holes if inside else outer).append(polygon)
    result = QPainterPath()
    result.setFillRule(Qt.FillRule.WindingFill)
    for polygon in outer:
        result.addPolygon(polygon)
    result = result.simplified()
    for polygon in holes:
        if any(polygon.boundingRect().intersects(o) for o in others):
            hole = QPainterPath()
            hole.addPolygon(polygon)
            result = result.subtracted(hole)
    return result


def block_position(graph: Graph, members: list[int], width: float, height: float) -> QPointF:
    """Where a collapsed group's block goes: on the spot of the layer nearest the group's
    middle, so it never covers another layer."""
    rect = members_rect(graph, members)
    middle = min((node_rect(graph, i) for i in members),
                 key=lambda r: _distance(r.center(), rect.center()))
    return QPointF(round(middle.center().x() - width / 2),
                   round(middle.center().y() - height / 2))


def _distance(a: QPointF, b: QPointF) -> float:
    return ((a.x() - b.x()) ** 2 + (a.y() - b.y()) ** 2) ** 0.5

