"""A node on the canvas: a rounded card with a coloured header, a summary and its ports.

The item is a view of one ``graph.Node``: the scene calls ``sync`` when the node changes and
``set_analysis_state`` when diagnostics and shapes arrive. Painting is cached per item
(DeviceCoordinateCache) and uses precomputed text, so a pan over a large graph only blits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from graph.layout import (
    HEADER_HEIGHT,
    node_size,
    port_offset,
)
from graph.model import Node
from gui.canvas import style
from gui.canvas.card import (
    card_bounding_rect,
    card_shape,
    diagnostic_html,
    escape,
    paint_card,
    paint_card_outline,
)
from gui.canvas.hover_item import HoverItem
from gui.canvas.port_item import PortItem

if TYPE_CHECKING:
    from gui.canvas.edge_item import EdgeItem

_SELECTABLE = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
_DEVICE_CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache
_LEFT = Qt.MouseButton.LeftButton
_BOUNDS = Qt.ItemSelectionMode.IntersectsItemBoundingRect

PAD = 10.0
BADGE_RADIUS = 8.0
LOD_TEXT = 0.45  # below this zoom the body text is not drawn (unreadable anyway)


class BadgeItem(QGraphicsItem):
    """The error / warning badge at a node's top-right corner; its tooltip is the message."""

    def __init__(self, parent: NodeItem) -> None:
        super().__init__(parent)
        self.severity = "error"
        self.setAcceptHoverEvents(True)
        self.setZValue(3)
        self.hide()

    def boundingRect(self) -> QRectF:
        r = BADGE_RADIUS + 1.5
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(style.color("canvas"), 1.5))
        painter.setBrush(style.color("error" if self.severity == "error" else "warning"))
        painter.drawEllipse(QPointF(0, 0), BADGE_RADIUS, BADGE_RADIUS)
        painter.setPen(QColor("#ffffff") if self.severity == "error" else QColor("#2a2100"))
        painter.setFont(style.font("badge"))
        painter.drawText(QRectF(-BADGE_RADIUS, -BADGE_RADIUS, 2 * BADGE_RADIUS,
                                2 * BADGE_RADIUS), Qt.AlignmentFlag.AlignCenter, "!")


class NodeItem(HoverItem):
    """One layer on the canvas (see the module docstring)."""

    wire_obstacle = True  # wires route around it

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node_id = node.id
        self.layer_id = node.type
        spec = node.spec
        self.category = spec.category if spec else "reshape"
        self.title = spec.title if spec else f"{node.type} (unknown)"
        self.description = spec.description if spec else "This layer type is not in the catalog."
        self.width, self.height = node_size(node.type)
        self.name = node.name
        self.summary = ""
        self.frozen = False
        self.shape_text = ""  # the output shape line; empty until an analysis arrives
        self.port_shapes: dict[str, str] = {}  # port name -> shape text, for tooltips
        self.analysed: tuple[Any, Any] | None = None  # (outputs, messages) last given to it
        self.severity: str | None = None  # "error", "warning" or None
        self.message = ""
        self.edges: set[EdgeItem] = set()
        self._card_rect: QRectF | None = None  # where update_edges last saw the card
        self._elided: tuple[str, str] = ("", "")

        # Enum members are looked up once (module constants): building 1000 nodes calls these
        # thousands of times. No ItemSendsGeometryChanges: the scene moves wires itself.
        self.setFlag(_SELECTABLE, True)
        self.setCacheMode(_DEVICE_CACHE)

        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        if spec is not None:
            ports = [(p, True) for p in spec.inputs] + [(p, False) for p in spec.outputs]
            for port, is_input in ports:
                item = PortItem(self, port.name, is_input, port.optional)
                item.setPos(*port_offset(node.type, port.name, is_input))
                (self.inputs if is_input else self.outputs)[port.name] = item
        else:
            for name, is_input in (("in", True), ("out", False)):
                item = PortItem(self, name, is_input, False)
                item.setPos(*port_offset(node.type, name, is_input))
                (self.inputs if is_input else self.outputs)[name] = item
        self._badge: BadgeItem | None = None  # made on the first diagnostic
        self.sync(node)

    # -- model -> item ------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return f"{self.layer_id} '{self.name}'"

    def sync(self, node: Node) -> None:
        """Take the node's name, summary and options (after a node_changed event)."""
        spec = node.spec
        self.name = node.name
        self.summary = spec.describe(node.params) if spec else ""
        self.frozen = node.frozen
        self._elided = self._elide_header()
        self.setPos(QPointF(*node.pos))
        if self._card_rect is None:
            self._card_rect = QRectF(self.scenePos(), QSizeF(self.width, self.height))
        self.update()

    def set_analysis_state(self, shape_text: str, port_shapes: dict[str, str],
                           severity: str | None, message: str) -> bool:
        """Store shapes and diagnostics; repaint only when something changed."""
        state = (shape_text, port_shapes, severity, message)
        if state == (self.shape_text, self.port_shapes, self.severity, self.message):
            return False
        self.shape_text, self.port_shapes, self.severity, self.message = state
        if severity is not None or self._badge is not None:
            self.badge.severity = severity or "error"
            self.badge.setVisible(severity is not None)
            self.badge.setToolTip(message)
            self.badge.update()
        self.update()
        return True

    @property
    def badge(self) -> BadgeItem:
        """The error/warning badge (hidden while the node has no diagnostic)."""
        if self._badge is None:
            self._badge = BadgeItem(self)
            self._badge.setPos(self.width - 3, 1)
        return self._badge

    def port(self, name: str, is_input: bool) -> PortItem | None:
        return (self.inputs if is_input else self.outputs).get(name)

    def port_shape_text(self, port: PortItem) -> str:
        return self.port_shapes.get(("in:" if port.is_input else "out:") + port.name, "")

    def tooltip_text(self) -> str:
        lines = [f"<b>{self.title}</b> &nbsp;'{escape(self.name)}'", escape(self.description)]
        if self.frozen:
            lines.append("Frozen: its weights are not trained.")
        if self.message:
            lines.append(diagnostic_html(self.severity, self.message))
        return "<br>".join(lines)

    def _elide_header(self) -> tuple[str, str]:
        """Title and name fitted into the header (the name yields first)."""
        room = self.width - 2 * PAD - (16 if self.frozen else 0)
        title = self.title
        if style.text_width("title", title) > room:
            title = style.metrics("title").elidedText(title, Qt.TextElideMode.ElideRight, room)
        room -= style.text_width("title", title) + 7
        name = ""
        if room > 24:
            name = self.name
            if style.metrics("name").horizontalAdvance(name) > room:
                name = style.metrics("name").elidedText(name, Qt.TextElideMode.ElideRight, room)
        return title, name

    # -- geometry and painting ----------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return card_bounding_rect(self.width, self.height)  # ports are drawn here

    def shape(self) -> QPainterPath:
        return card_shape(self.width, self.height)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        w, h = self.width, self.height
        rect = QRectF(0, 0, w, h)
        header_color = style.category_color(self.category)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)

        paint_card(painter, rect, header_color)
        paint_card_outline(painter, rect, self.severity, self.hovered, self.isSelected())

        for port in (*self.inputs.values(), *self.outputs.values()):
            port.paint_on(painter)
        if lod < LOD_TEXT * 0.5:
            return
        self._paint_header(painter)
        if lod < LOD_TEXT:
            return
        self._paint_body(painter)

    def _paint_header(self, painter: QPainter) -> None:
        title, name = self._elided
        baseline = HEADER_HEIGHT / 2 + style.metrics("title").capHeight() / 2
        painter.setFont(style.font("title"))
        painter.setPen(style.HEADER_TEXT)
        painter.drawText(QPointF(PAD, baseline), title)
        if name:
            painter.setFont(style.font("name"))
            painter.setPen(style.HEADER_TEXT_DIM)
            painter.drawText(QPointF(PAD + style.text_width("title", title) + 7, baseline), name)
        if self.frozen:
            _paint_lock(painter, QPointF(self.width - PAD - 5, HEADER_HEIGHT / 2))

    def _paint_body(self, painter: QPainter) -> None:
        multi = len(self.inputs) > 1
        widest = max((style.text_width("small", name) for name in self.inputs), default=0)
        left = PAD + (widest + 8 if multi else 0)  # clear of the port names
        several = len(self.outputs) > 1
        right = max((style.text_width("small", name) for name in self.outputs), default=0)
        room = self.width - left - PAD - (right + 8 if several else 0)
        if multi:  # name the input ports next to their circles
            painter.setFont(style.font("small"))
            painter.setPen(style.color("text_dim"))
            cap = style.metrics("small").capHeight()
            for port in self.inputs.values():
                painter.drawText(QPointF(PAD, port.pos().y() + cap / 2), port.name)
        if several:  # and the output ports, right-aligned next to theirs
            painter.setFont(style.font("small"))
            painter.setPen(style.color("text_dim"))
            cap = style.metrics("small").capHeight()
            for port in self.outputs.values():
                x = self.width - PAD - style.text_width("small", port.name)
                painter.drawText(QPointF(x, port.pos().y() + cap / 2), port.name)
        body_top = HEADER_HEIGHT
        body_h = self.height - HEADER_HEIGHT
        lines: list[tuple[str, str, QColor]] = []
        if self.summary:
            lines.append((self.summary, "body", style.color("text")))
        if self.shape_text:
            lines.append((self.shape_text, "small", style.color("text_dim")))
        if not lines:
            return
        heights = [style.metrics(role).height() for _, role, _ in lines]
        gap = 3.0
        y = body_top + (body_h - sum(heights) - gap * (len(lines) - 1)) / 2
        for (text, role, colour), height in zip(lines, heights, strict=True):
            metrics = style.metrics(role)
            painter.setFont(style.font(role))
            painter.setPen(colour)
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, room)
            painter.drawText(QPointF(left, y + metrics.ascent()), shown)
            y += height + gap

    # -- interaction --------------------------------------------------------------------------
    def update_edges(self) -> None:
        """Re-route this node's wires, and the wires it left or now sits on (the scene calls
        it after moving the node)."""
        for edge in self.edges:
            edge.update_path()
        scene = self.scene()
        rect = QRectF(self.scenePos(), QSizeF(self.width, self.height))
        left, self._card_rect = self._card_rect or rect, rect
        if scene is None:
            return
        # wires around the old place may straighten; wires under the new place must detour
        wires = [item for item in scene.items(left, _BOUNDS) if hasattr(item, "update_path")]
        wires += [item for item in scene.items(rect) if hasattr(item, "update_path")
                  and item.path().intersects(rect)]
        for item in dict.fromkeys(wires):
            if item not in self.edges:
                item.update_path()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mousePressEvent(event)  # selection (Ctrl toggles on release)
        scene = self.scene()
        if event.button() == _LEFT and hasattr(scene, "begin_node_drag"):
            scene.begin_node_drag(self, event.scenePos())

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if event.buttons() & _LEFT and hasattr(scene, "node_drag_to"):
            scene.node_drag_to(event.scenePos())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        scene = self.scene()
        if hasattr(scene, "end_node_drag"):
            scene.end_node_drag()

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if hasattr(scene, "node_activated"):
            scene.node_activated.emit(self.node_id)


def _paint_lock(painter: QPainter, center: QPointF) -> None:
    """A small padlock glyph (frozen node)."""
    painter.setPen(QPen(style.HEADER_TEXT, 1.3))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    x, y = center.x(), center.y()
    shackle = QPainterPath()
    shackle.moveTo(x - 3, y - 1)
    shackle.lineTo(x - 3, y - 3.5)
    shackle.arcTo(QRectF(x - 3, y - 6.5, 6, 6), 180, -180)
    shackle.lineTo(x + 3, y - 1)
    painter.drawPath(shackle)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(style.HEADER_TEXT))
    painter.drawRoundedRect(QRectF(x - 4.5, y - 1.5, 9, 7), 1.5, 1.5)

