"""A port: the small circle on a node's side where wires start and end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from graph.layout import PORT_RADIUS
from gui.canvas import style

if TYPE_CHECKING:
    from gui.canvas.node_item import NodeItem

_LEFT = Qt.MouseButton.LeftButton
_NO_CONTENTS = QGraphicsItem.GraphicsItemFlag.ItemHasNoContents

HIT_RADIUS = 10.0  # generous grab area around the drawn circle
_HIT_SHAPE = QPainterPath()
_HIT_SHAPE.addEllipse(QPointF(0, 0), HIT_RADIUS, HIT_RADIUS)


class PortItem(QGraphicsItem):
    """An input (left side) or output (right side) port of a node.

    Pressing on a port starts a wire drag that the scene runs; the port only reports the mouse.
    """

    def __init__(self, node_item: NodeItem, name: str, is_input: bool, optional: bool) -> None:
        super().__init__(node_item)
        self.node_item = node_item
        self.name = name
        self.is_input = is_input
        self.optional = optional
        self.connections = 0
        self.hovered = False
        self.highlighted = False  # the snap target of a wire being dragged
        self.setAcceptHoverEvents(True)
        # The node paints its ports into its own cached picture, so a frame over a large graph
        # makes no Python paint call per port; this item only takes the mouse.
        self.setFlag(_NO_CONTENTS, True)

    @property
    def node_id(self) -> int:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:
        r = HIT_RADIUS + 1
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        return _HIT_SHAPE

    def scene_center(self) -> QPointF:
        return self.node_item.pos() + self.pos()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        """Nothing: see paint_on."""

    def paint_on(self, painter: QPainter) -> None:
        """Draw the port circle in its node's coordinates (called from NodeItem.paint)."""
        active = self.hovered or self.highlighted
        radius = PORT_RADIUS + (1.5 if active else 0.0)
        accent = style.color("accent")
        ring = accent if active else style.color("text_dim")
        if active:
            fill = accent
        elif self.connections:
            fill = style.category_color(self.node_item.category)
        else:
            fill = style.color("node_body")
        pen = QPen(ring, 1.4)
        if self.optional and not self.connections and not active:
            pen.setStyle(Qt.PenStyle.DotLine)
        painter.setPen(pen)
        painter.setBrush(QBrush(fill))
        painter.drawEllipse(self.pos(), radius, radius)

    def tooltip_text(self, shape_text: str = "") -> str:
        kind = "Input" if self.is_input else "Output"
        extra = " (optional)" if self.optional else ""
        text = f"{kind} '{self.name}'{extra} of {self.node_item.label}"
        if shape_text:
            text += f"\n{shape_text}"
        if self.is_input and not self.connections:
            text += "\nDrag from an output port to here to connect."
        elif not self.is_input:
            text += "\nDrag to an input port to connect."
        return text

    def update(self) -> None:  # type: ignore[override]
        """Repaint: the circle lives in the node's picture."""
        self.node_item.update()

    def set_highlighted(self, on: bool) -> None:
        if on != self.highlighted:
            self.highlighted = on
            self.update()

    # -- mouse --------------------------------------------------------------------------------
    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = True
        self.setToolTip(self.tooltip_text(self.node_item.port_shape_text(self)))
        self.setCursor(Qt.CursorShape.CrossCursor)  # set on demand: cheaper for big graphs
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = False
        self.update()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if event.button() == _LEFT and hasattr(scene, "start_wire"):
            scene.start_wire(self, event.scenePos())
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if hasattr(scene, "drag_wire"):
            scene.drag_wire(event.scenePos())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if hasattr(scene, "finish_wire"):
            scene.finish_wire(event.scenePos())
