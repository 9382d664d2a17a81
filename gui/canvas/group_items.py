"""The items a group draws: a titled frame around its layers, or, collapsed, one block.

Items only show what the group layer (``gui.canvas.groups.GroupLayer``) hands them through
``set_state`` and pass mouse gestures back to it: a drag moves the layers, the arrow or a
double-click collapses or expands, through undo commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from graph.boundary import BoundaryPort
from graph.layout import BLOCK_PORT_ROW as PORT_ROW
from graph.layout import BLOCK_SUMMARY_HEIGHT as SUMMARY_HEIGHT
from graph.layout import BLOCK_WIDTH, CORNER_RADIUS, HEADER_HEIGHT, PORT_RADIUS
from gui.canvas import style
from gui.canvas.card import (
    card_bounding_rect,
    card_shape,
    diagnostic_html,
    escape,
    is_dark,
    paint_card,
    paint_card_outline,
)
from gui.canvas.group_geometry import TITLE_HEIGHT
from gui.canvas.hover_item import HoverItem
from gui.text import counted

if TYPE_CHECKING:
    from gui.canvas.groups import GroupLayer

CHEVRON = 22.0  # the collapse arrow's square at the left of a title
FRAME_Z, BLOCK_Z = -2.0, 0.5  # frames under wires (-1) and layers (0); blocks among layers

ROLE_COLORS = {"": "#7c8aa5", "generator": "#3fa796", "discriminator": "#d4803f"}
_LEFT = Qt.MouseButton.LeftButton


def group_color(role: str) -> QColor:
    """The colour of a group's frame and block: by role (GAN generator, discriminator)."""
    return QColor(ROLE_COLORS.get(role, ROLE_COLORS[""]))


class _GroupItem(HoverItem):
    """What a frame and a block share: the group they show, hover highlight and tooltip, and
    dragging the group's layers with the left button."""

    def __init__(self, layer: GroupLayer, group_id: str, z: float) -> None:
        super().__init__()
        self.layer = layer
        self.group_id = group_id
        self.name = ""
        self.role = ""
        self.count = 0
        self.setZValue(z)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.buttons() & _LEFT:
            self.layer.scene.node_drag_to(event.scenePos())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mouseReleaseEvent(event)  # selection, for a block
        self.layer.scene.end_node_drag()


class GroupFrameItem(_GroupItem):
    """The frame around an expanded group. Only its title bar takes the mouse, so a rubber band
    still starts anywhere inside the frame."""

    def __init__(self, layer: GroupLayer, group_id: str) -> None:
        super().__init__(layer, group_id, FRAME_Z)
        self.path = QPainterPath()  # the outline, in scene coordinates (the item sits at 0, 0)
        self.title = QRectF()
        self.rect = QRectF()  # the outline's bounding box

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
        dark = is_dark()
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
            [counted(self.count, "layer")]
        extra = "  \u00b7  ".join(detail)
        room = t.right() - x - 10
        if room > 30:
            painter.setFont(style.font("name"))
            painter.setPen(style.color("text_dim"))
            painter.drawText(QPointF(x, baseline), style.metrics("name").elidedText(
                extra, Qt.TextElideMode.ElideRight, room))

    def tooltip_text(self) -> str:
        role = f" ({self.role})" if self.role else ""
        return (f"Group '{self.name}'{role}: {counted(self.count, 'layer')}.\n"
                "Drag the title to move the group; double-click it or click the arrow to "
                "collapse it into one block. Right-click for more.")

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != _LEFT:
            event.ignore()
            return
        if self.chevron_rect().adjusted(-4, -4, 4, 4).contains(event.pos()):
            self.layer.set_collapsed(self.group_id, True)
        else:
            self.layer.begin_drag(self.group_id, event.scenePos(), select=True)
        event.accept()

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.layer.set_collapsed(self.group_id, True)


class GroupBlockItem(_GroupItem):
    """A collapsed group: one card with the group's name and boundary ports."""

    wire_obstacle = True  # wires route around it

    def __init__(self, layer: GroupLayer, group_id: str) -> None:
        super().__init__(layer, group_id, BLOCK_Z)
        self.params: int | None = None
        self.inputs: list[BoundaryPort] = []
        self.outputs: list[BoundaryPort] = []
        self.severity: str | None = None
        self.message = ""
        self.width = BLOCK_WIDTH
        self.height = HEADER_HEIGHT + SUMMARY_HEIGHT
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)

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
        return card_bounding_rect(self.width, self.height)

    def shape(self) -> QPainterPath:
        return card_shape(self.width, self.height)

    def summary(self) -> str:
        text = counted(self.count, "layer")
        if self.params is not None:
            text += f"  \u00b7  {counted(self.params, 'parameter')}"
        return text

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        w, h = self.width, self.height
        rect = QRectF(0, 0, w, h)
        colour = group_color(self.role)
        # a second card peeking out behind: "several layers in here"
        painter.setPen(QPen(style.color("border"), 1.0))
        painter.setBrush(style.color("node_body").darker(112 if is_dark() else 104))
        painter.drawRoundedRect(rect.translated(5, 5), CORNER_RADIUS, CORNER_RADIUS)
        paint_card(painter, rect, colour)
        paint_card_outline(painter, rect, self.severity, self.hovered, self.isSelected())

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
        lines = [f"<b>{escape(self.name)}</b> &nbsp;collapsed group"
                 + (f" ({self.role})" if self.role else ""), escape(self.summary())]
        names = [self.layer.graph.nodes[i].name for i in self.layer.graph.group_members(
            self.group_id)]
        lines.append("Layers: " + escape(", ".join(names[:12]) + (" \u2026" if len(names) > 12
                                                                 else "")))
        if self.message:
            lines.append(diagnostic_html(self.severity, self.message))
        lines.append("Double-click to expand.")
        return "<br>".join(lines)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mousePressEvent(event)  # selection
        if event.button() == _LEFT:
            self.layer.begin_drag(self.group_id, event.scenePos(), select=False)

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

