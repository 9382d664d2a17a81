"""Groups on the canvas: a titled frame around grouped layers or, collapsed, one block.

A group (``graph.Group``) is drawn as a translucent frame with a title bar around its layers;
dragging the title moves them, double-clicking it (or its arrow) collapses the group. Collapsed,
the layers and the wires between them are hidden and one block stands in for them, with the
group's boundary ports: one input per wire that enters the group, one output per layer output
that leaves it, and the group's own Input / Output layers as ports without wires (a GAN's
generator shows "noise" in and "sample" out). The wires that cross the boundary are re-routed to
the block's ports; expanding restores everything.

Like the rest of the canvas, ``GroupLayer`` only follows the model: every change is one of the
undo commands below (Group, Ungroup, collapse, rename, role), and the graph's events redraw.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QUndoCommand,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QInputDialog,
    QMenu,
    QStyleOptionGraphicsItem,
    QWidget,
)

from graph.layout import CORNER_RADIUS, HEADER_HEIGHT, NODE_WIDTH, PORT_RADIUS, node_size
from graph.model import Edge, Graph, GraphEvent
from graph.roles import GROUP_ROLES
from gui.canvas import style
from gui.commands import MoveNodesCommand, new_drag_id

if TYPE_CHECKING:
    from gui.canvas.scene import GraphScene

FRAME_PAD = 18.0  # space between the layers and the frame
TITLE_HEIGHT = 28.0  # the frame's title bar, above the layers
CHEVRON = 22.0  # the collapse arrow's square at the left of a title
BLOCK_WIDTH = NODE_WIDTH + 40.0
SUMMARY_HEIGHT = 22.0  # the block's "3 layers · 1,234 parameters" line
PORT_ROW = 20.0  # the block's port rows
FRAME_Z, BLOCK_Z = -2.0, 0.5  # frames under wires (-1) and layers (0); blocks among layers

ROLE_COLORS = {"": "#7c8aa5", "generator": "#3fa796", "discriminator": "#d4803f"}
_LEFT = Qt.MouseButton.LeftButton


def group_color(role: str) -> QColor:
    """The colour of a group's frame and block: by role (GAN generator, discriminator)."""
    return QColor(ROLE_COLORS.get(role, ROLE_COLORS[""]))


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# -- undo commands ------------------------------------------------------------------------------
class GroupCommand(QUndoCommand):
    """Group layers into a new named group (redo after undo gives the same id and name)."""

    def __init__(self, graph: Graph, node_ids: Iterable[int], name: str | None = None,
                 role: str = "", parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.node_ids = list(node_ids)
        self.name = name
        self.role = role
        self.group_id: str | None = None
        self.setText(f"Group {_count(len(self.node_ids), 'layer')}")

    def redo(self) -> None:
        group = self.graph.add_group(self.node_ids, self.name, self.role,
                                     group_id=self.group_id)
        self.group_id, self.name = group.id, group.name
        self.setText(f"Group {_count(len(self.node_ids), 'layer')} as '{group.name}'")

    def undo(self) -> None:
        if self.group_id in self.graph.groups:
            self.graph.remove_group(self.group_id)


class UngroupCommand(QUndoCommand):
    """Dissolve a group; its layers stay. Undo brings the group back as it was."""

    def __init__(self, graph: Graph, group_id: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.snapshot = copy.deepcopy(graph.group(group_id))
        self.setText(f"Ungroup '{self.snapshot.name}'")

    def redo(self) -> None:
        if self.snapshot.id in self.graph.groups:
            self.graph.remove_group(self.snapshot.id)

    def undo(self) -> None:
        self.graph.insert_group(copy.deepcopy(self.snapshot))


class SetGroupCollapsedCommand(QUndoCommand):
    """Collapse a group into one block, or expand it back into its layers."""

    def __init__(self, graph: Graph, group_id: str, collapsed: bool,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.group_id = group_id
        self.collapsed = bool(collapsed)
        self.old = graph.group(group_id).collapsed
        name = graph.group(group_id).name
        self.setText(f"{'Collapse' if collapsed else 'Expand'} '{name}'")

    def redo(self) -> None:
        self.graph.set_group_collapsed(self.group_id, self.collapsed)

    def undo(self) -> None:
        self.graph.set_group_collapsed(self.group_id, self.old)


class RenameGroupCommand(QUndoCommand):
    def __init__(self, graph: Graph, group_id: str, name: str,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.group_id = group_id
        self.name = name.strip()
        self.old = graph.group(group_id).name
        self.setText(f"Rename group '{self.old}' to '{self.name}'")

    def redo(self) -> None:
        self.graph.rename_group(self.group_id, self.name)

    def undo(self) -> None:
        self.graph.rename_group(self.group_id, self.old)


class SetGroupRoleCommand(QUndoCommand):
    """Mark a group as a GAN's generator or discriminator (check with the model first)."""

    def __init__(self, graph: Graph, group_id: str, role: str,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.group_id = group_id
        self.role = role
        self.old = graph.group(group_id).role
        what = f"the {role}" if role else "a plain group"
        self.setText(f"Make '{graph.group(group_id).name}' {what}")

    def redo(self) -> None:
        self.graph.set_group_role(self.group_id, self.role)

    def undo(self) -> None:
        self.graph.set_group_role(self.group_id, self.old)


# -- boundary ports -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BoundaryPort:
    """A port of a collapsed group: a port of one of its layers that the outside sees."""

    node_id: int
    port: str
    is_input: bool
    label: str
    wired: bool  # False for the group's own Input / Output layers (no wire crosses)

    @property
    def key(self) -> tuple[int, str, bool]:
        return self.node_id, self.port, self.is_input


def boundary_ports(graph: Graph, group_id: str) -> tuple[list[BoundaryPort], list[BoundaryPort]]:
    """(inputs, outputs) of a group as a block, top to bottom as the layers sit.

    Inputs: each layer input fed from outside the group, then the group's Input layers.
    Outputs: each layer output read outside the group, then the group's Output layers.
    """
    members = graph.group_members(group_id)
    inside = set(members)
    nodes = graph.nodes
    ins: dict[tuple[int, str], BoundaryPort] = {}
    outs: dict[tuple[int, str], BoundaryPort] = {}

    def label(node_id: int, port: str, is_input: bool) -> str:
        node = nodes[node_id]
        spec = node.spec
        ports = (spec.inputs if is_input else spec.outputs) if spec else ()
        return f"{node.name}.{port}" if len(ports) > 1 else node.name

    for edge in graph.edges:
        if edge.dst in inside and edge.src not in inside and edge.src in nodes:
            ins.setdefault((edge.dst, edge.dst_port), BoundaryPort(
                edge.dst, edge.dst_port, True, label(edge.dst, edge.dst_port, True), True))
        if edge.src in inside and edge.dst not in inside and edge.dst in nodes:
            outs.setdefault((edge.src, edge.src_port), BoundaryPort(
                edge.src, edge.src_port, False, label(edge.src, edge.src_port, False), True))
    for node_id in members:
        node = nodes[node_id]
        if node.type == "Input":
            ins.setdefault((node_id, "out"), BoundaryPort(node_id, "out", True, node.name, False))
        elif node.type == "Output":
            outs.setdefault((node_id, "in"), BoundaryPort(node_id, "in", False, node.name, False))

    def order(port: BoundaryPort) -> tuple[bool, float, int, str]:
        return not port.wired, nodes[port.node_id].pos[1], port.node_id, port.port

    return sorted(ins.values(), key=order), sorted(outs.values(), key=order)


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


def frame_geometry(graph: Graph, members: list[int]) -> tuple[QPainterPath, QRectF]:
    """The outline of an expanded group and its title bar, in scene coordinates.

    The outline hugs the layers instead of taking their bounding box, so layers of other
    groups or none that sit between them (a network wrapped into bands) stay outside: each
    layer gets a padded rectangle, and neighbours in the same row or column are bridged when
    no other layer is in between. The title bar spans the top row. Corners are rounded.
    """
    rects = {i: node_rect(graph, i) for i in members}
    inside = set(members)
    others = [node_rect(graph, i) for i in graph.nodes if i not in inside]
    pad = FRAME_PAD
    radius = CORNER_RADIUS + 3
    grip = 2 * radius + 1  # bridges reach this far into what they join, so no seam shows
    parts = [r.adjusted(-pad, -pad, pad, pad) for r in rects.values()]
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
    title = QRectF(left, top - pad - TITLE_HEIGHT, width, TITLE_HEIGHT)
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


# -- items --------------------------------------------------------------------------------------
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


class GroupFrameItem(QGraphicsItem):
    """The frame around an expanded group. Only its title bar takes the mouse, so a rubber band
    still starts anywhere inside the frame."""

    def __init__(self, layer: GroupLayer, group_id: str) -> None:
        super().__init__()
        self.layer = layer
        self.group_id = group_id
        self.name = ""
        self.role = ""
        self.count = 0
        self.path = QPainterPath()  # the outline, in scene coordinates (the item sits at 0, 0)
        self.title = QRectF()
        self.rect = QRectF()  # the outline's bounding box
        self.hovered = False
        self.setZValue(FRAME_Z)
        self.setAcceptHoverEvents(True)

    def set_state(self, name: str, role: str, count: int, path: QPainterPath,
                  title: QRectF) -> None:
        if (name, role, count, title) == (self.name, self.role, self.count, self.title) \
                and path == self.path:
            return
        self.prepareGeometryChange()
        self.name, self.role, self.count = name, role, count
        self.path, self.title, self.rect = path, QRectF(title), path.boundingRect()
        self.update()

    def title_rect(self) -> QRectF:
        return self.title

    def chevron_rect(self) -> QRectF:
        t = self.title
        return QRectF(t.left() + 4, t.top() + (TITLE_HEIGHT - CHEVRON) / 2, CHEVRON, CHEVRON)

    def boundingRect(self) -> QRectF:
        return self.rect.adjusted(-2, -2, 2, 2)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.title)
        return path.intersected(self.path)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        colour = group_color(self.role)
        dark = style.color("canvas").lightness() < 128
        body = QColor(colour)
        body.setAlpha(26 if dark else 22)
        border = QColor(colour)
        border.setAlpha(230 if self.hovered else 150)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(body)
        painter.drawPath(self.path)
        bar = QColor(colour)
        bar.setAlpha(95 if dark else 70)
        painter.save()
        painter.setClipPath(self.path)
        painter.fillRect(self.title, bar)
        painter.restore()
        painter.setPen(QPen(border, 1.6 if self.hovered else 1.2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path)
        text = style.color("text")
        _paint_chevron(painter, self.chevron_rect().center(), collapsed=False, colour=text)
        t = self.title
        baseline = t.top() + TITLE_HEIGHT / 2 + style.metrics("title").capHeight() / 2
        x = self.chevron_rect().right() + 4
        room = t.right() - x - 10
        name = style.metrics("title").elidedText(self.name, Qt.TextElideMode.ElideRight, room)
        painter.setFont(style.font("title"))
        painter.setPen(text)
        painter.drawText(QPointF(x, baseline), name)
        x += style.text_width("title", name) + 10
        detail = ([self.role] if _role_news(self.name, self.role) else []) + \
            [_count(self.count, "layer")]
        extra = "  \u00b7  ".join(detail)
        room = t.right() - x - 10
        if room > 30:
            painter.setFont(style.font("name"))
            painter.setPen(style.color("text_dim"))
            painter.drawText(QPointF(x, baseline), style.metrics("name").elidedText(
                extra, Qt.TextElideMode.ElideRight, room))

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = True
        role = f" ({self.role})" if self.role else ""
        self.setToolTip(f"Group '{self.name}'{role}: {_count(self.count, 'layer')}.\n"
                        "Drag the title to move the group; double-click it or click the arrow "
                        "to collapse it into one block. Right-click for more.")
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = False
        self.update()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != _LEFT:
            event.ignore()
            return
        if self.chevron_rect().adjusted(-4, -4, 4, 4).contains(event.pos()):
            self.layer.set_collapsed(self.group_id, True)
        else:
            self.layer.begin_drag(self.group_id, event.scenePos(), select=True)
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.buttons() & _LEFT:
            self.layer.drag_to(event.scenePos())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.layer.end_drag()

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.layer.set_collapsed(self.group_id, True)


class GroupBlockItem(QGraphicsItem):
    """A collapsed group: one card with the group's name and boundary ports."""

    def __init__(self, layer: GroupLayer, group_id: str) -> None:
        super().__init__()
        self.layer = layer
        self.group_id = group_id
        self.name = ""
        self.role = ""
        self.count = 0
        self.params: int | None = None
        self.inputs: list[BoundaryPort] = []
        self.outputs: list[BoundaryPort] = []
        self.severity: str | None = None
        self.message = ""
        self.width = BLOCK_WIDTH
        self.height = HEADER_HEIGHT + SUMMARY_HEIGHT
        self.hovered = False
        self.setZValue(BLOCK_Z)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)

    def set_state(self, name: str, role: str, count: int, inputs: list[BoundaryPort],
                  outputs: list[BoundaryPort], params: int | None, severity: str | None,
                  message: str) -> None:
        state = (name, role, count, inputs, outputs, params, severity, message)
        if state == (self.name, self.role, self.count, self.inputs, self.outputs, self.params,
                     self.severity, self.message):
            return
        self.prepareGeometryChange()
        (self.name, self.role, self.count, self.inputs, self.outputs, self.params,
         self.severity, self.message) = state
        rows = max(len(inputs), len(outputs))
        self.height = HEADER_HEIGHT + SUMMARY_HEIGHT + rows * PORT_ROW + (8 if rows else 4)
        self.update()

    def port_offset(self, port: BoundaryPort) -> QPointF:
        ports = self.inputs if port.is_input else self.outputs
        index = next((i for i, p in enumerate(ports) if p.key == port.key), 0)
        y = HEADER_HEIGHT + SUMMARY_HEIGHT + (index + 0.5) * PORT_ROW
        return QPointF(0.0 if port.is_input else self.width, y)

    def port_for(self, node_id: int, port: str, is_input: bool) -> BoundaryPort | None:
        ports = self.inputs if is_input else self.outputs
        return next((p for p in ports if p.key == (node_id, port, is_input)), None)

    def boundingRect(self) -> QRectF:
        side = PORT_RADIUS + 3
        return QRectF(-side, -4, self.width + 2 * side, self.height + 8)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, self.width, self.height), CORNER_RADIUS, CORNER_RADIUS)
        return path

    def summary(self) -> str:
        text = _count(self.count, "layer")
        if self.params is not None:
            text += f"  \u00b7  {_count(self.params, 'parameter')}"
        return text

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        w, h = self.width, self.height
        rect = QRectF(0, 0, w, h)
        colour = group_color(self.role)
        dark = style.color("canvas").lightness() < 128
        # a second card peeking out behind: "several layers in here"
        painter.setPen(QPen(style.color("border"), 1.0))
        painter.setBrush(style.color("node_body").darker(112 if dark else 104))
        painter.drawRoundedRect(rect.translated(5, 5), CORNER_RADIUS, CORNER_RADIUS)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 70 if dark else 30))
        painter.drawRoundedRect(rect.translated(0, 2.5), CORNER_RADIUS, CORNER_RADIUS)
        painter.setBrush(style.color("node_body"))
        painter.drawRoundedRect(rect, CORNER_RADIUS, CORNER_RADIUS)
        header = QPainterPath()
        header.setFillRule(Qt.FillRule.WindingFill)
        header.addRoundedRect(QRectF(0, 0, w, HEADER_HEIGHT), CORNER_RADIUS, CORNER_RADIUS)
        header.addRect(QRectF(0, HEADER_HEIGHT - CORNER_RADIUS, w, CORNER_RADIUS))
        painter.setBrush(colour)
        painter.drawPath(header)

        if self.severity == "error":
            outline = QPen(style.color("error"), 2.0)
        elif self.severity == "warning":
            outline = QPen(style.color("warning"), 2.0)
        elif self.hovered:
            outline = QPen(style.color("text_dim"), 1.2)
        else:
            outline = QPen(style.color("border"), 1.0)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(outline)
        painter.drawRoundedRect(rect, CORNER_RADIUS, CORNER_RADIUS)
        if self.isSelected():
            painter.setPen(QPen(style.color("accent"), 2.0))
            painter.drawRoundedRect(rect.adjusted(-2.5, -2.5, 2.5, 2.5), CORNER_RADIUS + 2,
                                    CORNER_RADIUS + 2)

        _paint_chevron(painter, QPointF(14, HEADER_HEIGHT / 2), collapsed=True,
                       colour=style.HEADER_TEXT)
        baseline = HEADER_HEIGHT / 2 + style.metrics("title").capHeight() / 2
        room = w - 36
        role = self.role if _role_news(self.name, self.role) else ""
        painter.setFont(style.font("title"))
        painter.setPen(style.HEADER_TEXT)
        name = style.metrics("title").elidedText(self.name, Qt.TextElideMode.ElideRight, room)
        painter.drawText(QPointF(28, baseline), name)
        room -= style.text_width("title", name) + 8
        if room > 30:
            painter.setFont(style.font("name"))
            painter.setPen(style.HEADER_TEXT_DIM)
            painter.drawText(QPointF(36 + style.text_width("title", name), baseline),
                             style.metrics("name").elidedText(role, Qt.TextElideMode.ElideRight,
                                                              room))
        small = style.metrics("small")
        painter.setFont(style.font("small"))
        painter.setPen(style.color("text_dim"))
        painter.drawText(QPointF(10, HEADER_HEIGHT + SUMMARY_HEIGHT / 2 + small.capHeight() / 2
                                 + 1), self.summary())
        body = style.metrics("body")
        painter.setFont(style.font("body"))
        half = w / 2 - 14
        for ports, left in ((self.inputs, True), (self.outputs, False)):
            for port in ports:
                centre = self.port_offset(port)
                painter.setPen(style.color("text" if port.wired else "text_dim"))
                text = body.elidedText(port.label, Qt.TextElideMode.ElideRight, half)
                y = centre.y() + body.capHeight() / 2
                x = 12 if left else w - 12 - body.horizontalAdvance(text)
                painter.drawText(QPointF(x, y), text)
                fill = colour if port.wired else style.color("node_body")
                pen = QPen(style.color("text_dim"), 1.4)
                if not port.wired:
                    pen.setStyle(Qt.PenStyle.DotLine)
                painter.setPen(pen)
                painter.setBrush(fill)
                painter.drawEllipse(centre, PORT_RADIUS, PORT_RADIUS)

    def tooltip_text(self) -> str:
        lines = [f"<b>{_html(self.name)}</b> &nbsp;collapsed group"
                 + (f" ({self.role})" if self.role else ""), _html(self.summary())]
        names = [self.layer.graph.nodes[i].name for i in self.layer.graph.group_members(
            self.group_id)]
        lines.append("Layers: " + _html(", ".join(names[:12]) + (" \u2026" if len(names) > 12
                                                                 else "")))
        if self.message:
            colour = style.color("error" if self.severity == "error" else "warning").name()
            lines.append(f"<span style='color:{colour}'>{_html(self.message)}</span>")
        lines.append("Double-click to expand.")
        return "<br>".join(lines)

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = True
        self.setToolTip(self.tooltip_text())
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = False
        self.update()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mousePressEvent(event)  # selection
        if event.button() == _LEFT:
            self.layer.begin_drag(self.group_id, event.scenePos(), select=False)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.buttons() & _LEFT:
            self.layer.drag_to(event.scenePos())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        self.layer.end_drag()

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.layer.set_collapsed(self.group_id, False)


def _role_news(name: str, role: str) -> bool:
    """Whether the role adds to the name ("Generator" needs no "generator" tag)."""
    return bool(role) and role.lower() not in name.lower()


def _paint_chevron(painter: QPainter, centre: QPointF, collapsed: bool, colour: QColor) -> None:
    """A small filled triangle: pointing right (collapsed) or down (expanded)."""
    x, y, s = centre.x(), centre.y(), 4.5
    path = QPainterPath()
    if collapsed:
        path.moveTo(x - s * 0.6, y - s)
        path.lineTo(x + s * 0.8, y)
        path.lineTo(x - s * 0.6, y + s)
    else:
        path.moveTo(x - s, y - s * 0.6)
        path.lineTo(x + s, y - s * 0.6)
        path.lineTo(x, y + s * 0.8)
    path.closeSubpath()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawPath(path)


def _distance(a: QPointF, b: QPointF) -> float:
    return ((a.x() - b.x()) ** 2 + (a.y() - b.y()) ** 2) ** 0.5


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- the layer ----------------------------------------------------------------------------------
@dataclass
class _Drag:
    drag_id: int
    start: QPointF
    positions: dict[int, tuple[float, float]]
    moved: bool = False


class GroupLayer:
    """The group frames and blocks of one GraphScene, kept in step with the graph's events."""

    def __init__(self, scene: GraphScene) -> None:
        self.scene = scene
        self.graph: Graph = scene.graph
        self.frames: dict[str, GroupFrameItem] = {}
        self.blocks: dict[str, GroupBlockItem] = {}
        self._hidden: dict[int, str] = {}  # node id -> collapsed group hiding it
        self._touched: set[Edge] = set()  # edges hidden or re-routed by a collapsed group
        self._drag: _Drag | None = None
        self._analysis: Any = None
        self.graph.subscribe(self._on_graph_event)
        self.sync()

    def detach(self) -> None:
        self.graph.unsubscribe(self._on_graph_event)

    # -- queries ------------------------------------------------------------------------------
    def frame(self, group_id: str) -> GroupFrameItem | None:
        return self.frames.get(group_id)

    def block(self, group_id: str) -> GroupBlockItem | None:
        return self.blocks.get(group_id)

    def selected_members(self) -> set[int]:
        """Layers of the collapsed groups whose block is selected (they act as selected)."""
        out: set[int] = set()
        for group_id, block in self.blocks.items():
            if block.isVisible() and block.isSelected() and group_id in self.graph.groups:
                out.update(self.graph.group_members(group_id))
        return out

    def select_hiding_block(self, node_id: int) -> bool:
        """Select the block of the collapsed group that hides ``node_id`` (the Problems panel
        and other selections by id land on the block); False when the node is not hidden."""
        group_id = self._hidden.get(node_id)
        block = self.blocks.get(group_id) if group_id is not None else None
        if block is None or not block.isVisible():
            return False
        block.setSelected(True)
        return True

    def group_at(self, scene_pos: QPointF) -> str | None:
        """The group whose block or frame title is under ``scene_pos``."""
        for item in self.scene.items(scene_pos):
            if isinstance(item, (GroupBlockItem, GroupFrameItem)) and item.isVisible():
                if isinstance(item, GroupFrameItem) and not item.title_rect().contains(
                        scene_pos):
                    continue
                return item.group_id
        return None

    def groups_of(self, node_ids: Iterable[int]) -> list[str]:
        found = []
        for node_id in node_ids:
            group = self.graph.group_of(node_id)
            if group is not None and group.id not in found:
                found.append(group.id)
        return found

    # -- editing (each one undo step) -----------------------------------------------------------
    def push(self, command: QUndoCommand) -> None:
        self.scene.undo_stack.push(command)

    def group_selection(self, name: str | None = None, role: str = "") -> str | None:
        """Group the selected layers (Ctrl+G); returns the new group's id, or None with the
        reason on the scene's status line."""
        ids = sorted(set(self.scene.selected_node_ids()))
        if not ids:
            self.scene.status_message.emit("Select the layers to group first (Ctrl+G groups "
                                           "them).")
            return None
        for node_id in ids:
            group = self.graph.group_of(node_id)
            if group is not None:
                node = self.graph.nodes[node_id]
                self.scene.status_message.emit(
                    f"Cannot group: {node.label} is already in group '{group.name}'; ungroup "
                    "it first (groups do not nest).")
                return None
        command = GroupCommand(self.graph, ids, name, role)
        self.push(command)
        return command.group_id

    def ungroup(self, group_ids: Iterable[str]) -> int:
        ids = [g for g in dict.fromkeys(group_ids) if g in self.graph.groups]
        if not ids:
            return 0
        if len(ids) == 1:
            self.push(UngroupCommand(self.graph, ids[0]))
        else:
            self.scene.undo_stack.beginMacro(f"Ungroup {len(ids)} groups")
            for group_id in ids:
                self.push(UngroupCommand(self.graph, group_id))
            self.scene.undo_stack.endMacro()
        return len(ids)

    def ungroup_selection(self) -> int:
        """Ungroup the groups of the selected layers and blocks (Ctrl+Shift+G)."""
        count = self.ungroup(self.groups_of(self.scene.selected_node_ids()))
        if not count:
            self.scene.status_message.emit("Select a grouped layer or a collapsed group to "
                                           "ungroup.")
        return count

    def set_collapsed(self, group_id: str, collapsed: bool) -> None:
        group = self.graph.groups.get(group_id)
        if group is not None and group.collapsed != collapsed:
            self.scene.select_node(None)
            self.push(SetGroupCollapsedCommand(self.graph, group_id, collapsed))

    def toggle_selection_collapsed(self) -> None:
        for group_id in self.groups_of(self.scene.selected_node_ids()):
            self.set_collapsed(group_id, not self.graph.groups[group_id].collapsed)

    def rename(self, group_id: str, name: str) -> bool:
        name = name.strip()
        if not name:
            self.scene.status_message.emit("Cannot rename the group: a name cannot be empty.")
            return False
        if name != self.graph.group(group_id).name:
            self.push(RenameGroupCommand(self.graph, group_id, name))
        return True

    def set_role(self, group_id: str, role: str) -> bool:
        group = self.graph.group(group_id)
        other = self.graph.group_by_role(role)
        if other is not None and other.id != group_id:
            self.scene.status_message.emit(
                f"Cannot make '{group.name}' the {role}: group '{other.name}' already is; "
                "clear its role first.")
            return False
        if role != group.role:
            self.push(SetGroupRoleCommand(self.graph, group_id, role))
        return True

    def ask_rename(self, group_id: str) -> None:
        views = self.scene.views()
        group = self.graph.group(group_id)
        name, ok = QInputDialog.getText(views[0] if views else None, "Rename group",
                                        f"New name for group '{group.name}':", text=group.name)
        if ok:
            self.rename(group_id, name)

    # -- drags --------------------------------------------------------------------------------
    def begin_drag(self, group_id: str, scene_pos: QPointF, select: bool) -> None:
        """Start moving a group's layers (and, from a block, the other selected layers)."""
        members = self.graph.group_members(group_id)
        if select:
            self.scene.select_nodes(members)
        ids = set(members) | set(self.scene.selected_node_ids())
        self._drag = _Drag(new_drag_id(), QPointF(scene_pos),
                           {i: self.graph.nodes[i].pos for i in sorted(ids)
                            if i in self.graph.nodes})

    def drag_to(self, scene_pos: QPointF) -> None:
        drag = self._drag
        if drag is None or not drag.positions:
            return
        dx = round(scene_pos.x() - drag.start.x())
        dy = round(scene_pos.y() - drag.start.y())
        if not drag.moved and abs(dx) + abs(dy) < 2:
            return
        drag.moved = True
        moves = {i: (p, (p[0] + dx, p[1] + dy)) for i, p in drag.positions.items()}
        self.push(MoveNodesCommand(self.graph, moves, drag_id=drag.drag_id))

    def end_drag(self) -> None:
        self._drag = None

    # -- menus --------------------------------------------------------------------------------
    def fill_group_menu(self, menu: QMenu, group_id: str) -> None:
        """The menu of a group's title bar or block."""
        group = self.graph.group(group_id)
        if group.collapsed:
            _action(menu, "Expand group", lambda: self.set_collapsed(group_id, False))
        else:
            _action(menu, "Collapse group", lambda: self.set_collapsed(group_id, True))
        _action(menu, "Rename group\u2026", lambda: self.ask_rename(group_id))
        roles = menu.addMenu("GAN role")
        for role, spec in GROUP_ROLES.items():
            act = roles.addAction(spec.title)
            act.setCheckable(True)
            act.setChecked(group.role == role)
            act.triggered.connect(lambda _=False, r=role: self.set_role(group_id, r))
        _action(menu, "Select its layers",
                lambda: self.scene.select_nodes(self.graph.group_members(group_id)))
        menu.addSeparator()
        _action(menu, "Ungroup", lambda: self.ungroup([group_id]), "Ctrl+Shift+G")

    def add_node_actions(self, menu: QMenu, node_ids: list[int]) -> None:
        """Group / Ungroup entries for the layer context menu."""
        groups = self.groups_of(node_ids)
        grouped = bool(groups)
        act = _action(menu, "Group", self.group_selection, "Ctrl+G")
        act.setEnabled(bool(node_ids) and not grouped)
        act.setToolTip("Put the selected layers in a named group that can collapse into one "
                       "block.")
        if grouped:
            names = ", ".join(f"'{self.graph.groups[g].name}'" for g in groups)
            _action(menu, f"Collapse {names}", lambda: [self.set_collapsed(g, True)
                                                        for g in groups])
            _action(menu, f"Ungroup {names}", lambda: self.ungroup(groups), "Ctrl+Shift+G")

    # -- model -> items -----------------------------------------------------------------------
    def _on_graph_event(self, event: GraphEvent) -> None:
        if not self.graph.groups and not self.frames and not self.blocks and not self._hidden:
            return
        if event.kind == "node_moved" and event.node_id is not None:
            group = self.graph.group_of(event.node_id)
            if group is not None:
                self._place(group.id)
            elif event.node_id in self.graph.nodes:  # a layer moving past a frame: re-bridge
                rect = node_rect(self.graph, event.node_id)
                for group_id, frame in self.frames.items():
                    if frame.isVisible() and frame.rect.intersects(rect):
                        self._place(group_id)
            return
        if event.kind == "node_changed" and event.node_id is not None:
            group = self.graph.group_of(event.node_id)
            if group is None:
                return
        self.sync()

    def set_analysis(self, analysis: Any) -> None:
        """Parameter counts and the worst diagnostic of each collapsed group's layers."""
        self._analysis = analysis
        for group_id in self.blocks:
            self._update_block(group_id)

    def sync(self) -> None:
        """Bring frames, blocks, hidden layers and re-routed wires in line with the groups."""
        graph = self.graph
        for group_id in [g for g in {*self.frames, *self.blocks} if g not in graph.groups]:
            for items in (self.frames, self.blocks):
                item = items.pop(group_id, None)
                if item is not None:
                    self.scene.removeItem(item)
        hidden: dict[int, str] = {}
        for group_id, group in graph.groups.items():
            members = graph.group_members(group_id)
            if group.collapsed and members:
                hidden.update((i, group_id) for i in members)
            self._ensure_items(group_id)
            frame, block = self.frames[group_id], self.blocks[group_id]
            frame.setVisible(bool(members) and not group.collapsed)
            block.setVisible(bool(members) and group.collapsed)
            if block.isVisible():
                self._update_block(group_id)
            self._place(group_id, reroute=False)
        for node_id in set(self._hidden) | set(hidden):
            item = self.scene.node_item(node_id)
            if item is not None:
                item.setVisible(node_id not in hidden)
        self._hidden = hidden
        self._reroute_all()

    def _ensure_items(self, group_id: str) -> None:
        if group_id not in self.frames:
            frame = GroupFrameItem(self, group_id)
            self.frames[group_id] = frame
            self.scene.addItem(frame)
        if group_id not in self.blocks:
            block = GroupBlockItem(self, group_id)
            block.hide()
            self.blocks[group_id] = block
            self.scene.addItem(block)

    def _update_block(self, group_id: str) -> None:
        group = self.graph.groups.get(group_id)
        block = self.blocks.get(group_id)
        if group is None or block is None:
            return
        members = self.graph.group_members(group_id)
        inputs, outputs = boundary_ports(self.graph, group_id)
        params = None
        shapes = getattr(self._analysis, "shapes", None)
        if shapes is not None and getattr(shapes, "params", None) is not None:
            params = sum(int(shapes.params.get(i, 0)) for i in members)
        found = [(item.severity, item.message) for item in map(self.scene.node_item, members)
                 if item is not None and item.severity]
        severities = {s for s, _ in found}
        severity = "error" if "error" in severities else ("warning" if severities else None)
        messages = [m for s, m in sorted(found, key=lambda f: f[0] != "error")]
        block.set_state(group.name, group.role, len(members), inputs, outputs, params,
                        severity, "\n".join(messages[:3]))

    def _place(self, group_id: str, reroute: bool = True) -> None:
        """Put the frame around the layers and the block where they are."""
        group = self.graph.groups.get(group_id)
        if group is None or group_id not in self.frames:
            return
        members = self.graph.group_members(group_id)
        if not members:
            return
        frame = self.frames[group_id]
        if not group.collapsed:
            path, title = frame_geometry(self.graph, members)
            frame.set_state(group.name, group.role, len(members), path, title)
        block = self.blocks[group_id]
        if group.collapsed:
            # on the spot of the layer nearest the group's middle: never over another layer
            rect = members_rect(self.graph, members)
            middle = min((node_rect(self.graph, i) for i in members),
                         key=lambda r: _distance(r.center(), rect.center()))
            block.setPos(QPointF(round(middle.center().x() - block.width / 2),
                                 round(middle.center().y() - block.height / 2)))
            if reroute:
                for edge in self._touched:
                    item = self.scene.edge_item(edge)
                    if item is not None:
                        item.update_path()

    def _reroute_all(self) -> None:
        """Hide wires inside collapsed groups; attach wires crossing into one to its block."""
        hidden = self._hidden
        touched: set[Edge] = set()
        bundles: set[tuple[int, str, int | str]] = set()
        for edge in self.graph.edges:
            src_group, dst_group = hidden.get(edge.src), hidden.get(edge.dst)
            if src_group is None and dst_group is None and edge not in self._touched:
                continue
            item = self.scene.edge_item(edge)
            if item is None:
                continue
            if src_group is not None and src_group == dst_group:
                item.hide()
                touched.add(edge)
                continue
            item.show()
            src = self._anchor(src_group, edge.src, edge.src_port, False)
            dst = self._anchor(dst_group, edge.dst, edge.dst_port, True)
            # several wires from one output into one block run side by side: one shape label
            bundle = (edge.src, edge.src_port, dst_group or edge.dst)
            item.reroute(src, dst, label=dst is None or bundle not in bundles)
            bundles.add(bundle)
            if src is not None or dst is not None:
                touched.add(edge)
        self._touched = touched

    def _anchor(self, group_id: str | None, node_id: int, port: str, is_input: bool
                ) -> tuple[QGraphicsItem, QPointF] | None:
        if group_id is None:
            return None
        block = self.blocks[group_id]
        boundary = block.port_for(node_id, port, is_input)
        if boundary is None:
            return None
        return block, block.port_offset(boundary)


def _action(menu: QMenu, text: str, slot: Callable[[], object],
            shortcut: str | None = None) -> Any:
    act = menu.addAction(text)
    act.triggered.connect(lambda _=False: slot())
    if shortcut:
        act.setShortcut(QKeySequence(shortcut))
        act.setShortcutVisibleInContextMenu(True)
    return act


__all__ = ["BoundaryPort", "GroupBlockItem", "GroupCommand", "GroupFrameItem",
           "GroupLayer", "RenameGroupCommand", "SetGroupCollapsedCommand",
           "SetGroupRoleCommand", "UngroupCommand", "boundary_ports", "group_color"]
