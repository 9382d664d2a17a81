"""A wire between two ports: a smooth curve, or a detour around the layers in its way
(``wire_route``), with the tensor shape in a pill at its middle."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from graph.layout import port_offset
from graph.model import Edge
from gui.canvas import style
from gui.canvas.hover_item import HoverItem
from gui.canvas.node_item import NodeItem
from gui.canvas.wire_route import route

_SELECTABLE = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
_DEVICE_CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache

PILL_PAD_X, PILL_H = 6.0, 16.0
LOD_LABEL = 0.5  # below this zoom the shape labels are hidden
ROUTE_MARGIN = 300.0  # how far above and below its ports a wire looks for layers in its way
_BOUNDS = Qt.ItemSelectionMode.IntersectsItemBoundingRect


def card_rect(item: QGraphicsItem) -> QRectF:
    """The scene rectangle of a node's or a collapsed group's card (without its ports)."""
    return QRectF(item.scenePos(), QSizeF(item.width, item.height))  # type: ignore[attr-defined]


def is_card(item: QGraphicsItem) -> bool:
    """Whether ``item`` is a card a wire must not pass behind (a layer or a group block)."""
    return getattr(item, "wire_obstacle", False) and item.isVisible()


class EdgeItem(HoverItem):
    """The view of one ``graph.Edge``; the scene sets its label from the analysis."""

    def __init__(self, edge: Edge, src: NodeItem, dst: NodeItem) -> None:
        super().__init__()
        self.edge = edge
        self.src_item = src
        self.dst_item = dst
        self._src_offset = QPointF(*port_offset(src.layer_id, edge.src_port, False))
        self._dst_offset = QPointF(*port_offset(dst.layer_id, edge.dst_port, True))
        self.label = ""
        self.error = False
        self.analysed: tuple[Any, bool] | None = None  # (shape, error) set_analysis last gave
        self._path = QPainterPath()
        self._shape = QPainterPath()
        self._label_rect = QRectF()
        self._label_at = QPointF()
        self._bounds = QRectF()
        # (item, offset) that replaces an end while its node is hidden in a collapsed group
        self._anchors: list[tuple[QGraphicsItem, QPointF] | None] = [None, None]
        self._show_label = True  # False: a parallel wire into the same group block has it
        self.setZValue(-1)
        self.setFlag(_SELECTABLE, True)
        self.setCacheMode(_DEVICE_CACHE)
        self.update_path()

    def endpoints(self) -> tuple[QPointF, QPointF]:
        src, dst = self._anchors
        return (src[0].pos() + src[1] if src else self.src_item.pos() + self._src_offset,
                dst[0].pos() + dst[1] if dst else self.dst_item.pos() + self._dst_offset)

    def reroute(self, src: tuple[QGraphicsItem, QPointF] | None = None,
                dst: tuple[QGraphicsItem, QPointF] | None = None, label: bool = True) -> None:
        """Draw an end at ``item.pos() + offset`` instead of at its node's port (a collapsed
        group's block stands in for hidden nodes); None puts that end back on its port.
        ``label`` False leaves out the shape pill (a parallel wire already shows it)."""
        self._anchors = [src, dst]
        self._show_label = label
        self.update_path()

    def _end_items(self) -> tuple[QGraphicsItem, QGraphicsItem]:
        src, dst = self._anchors
        return (src[0] if src else self.src_item), (dst[0] if dst else self.dst_item)

    def midpoint(self) -> QPointF:
        """Where the shape label sits: the middle of the curve, or of a detour's longest
        horizontal run."""
        return self._label_at

    def path(self) -> QPainterPath:
        return self._path

    def update_path(self) -> None:
        """Recompute the route after a node moved (around the cards now in its way)."""
        self.prepareGeometryChange()
        p1, p2 = self.endpoints()
        ends = self._end_items()
        obstacles: list[QRectF] = []
        scene = self.scene()
        if scene is not None:
            area = QRectF(p1, p2).normalized().adjusted(-ROUTE_MARGIN / 3, -ROUTE_MARGIN,
                                                        ROUTE_MARGIN / 3, ROUTE_MARGIN)
            obstacles = [card_rect(item) for item in scene.items(area, _BOUNDS)
                         if is_card(item) and item not in ends]
        self._path, self._label_at = route(p1, p2, obstacles, [card_rect(i) for i in ends])
        self._shape = QPainterPath()  # built lazily: picking is rarer than moving
        self._layout_label()

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        """Route around the scene's cards once the wire is in a scene."""
        if change == QGraphicsItem.GraphicsItemChange.ItemSceneHasChanged and value is not None:
            self.update_path()
        return super().itemChange(change, value)

    def set_label(self, text: str, error: bool = False) -> bool:
        if (text, error) == (self.label, self.error):
            return False
        self.prepareGeometryChange()
        self.label, self.error = text, error
        self._layout_label()
        self.update()
        return True

    def tooltip_text(self) -> str:
        src, dst = self.src_item, self.dst_item
        tip = f"{src.name}.{self.edge.src_port} \u2192 {dst.name}.{self.edge.dst_port}"
        return f"{tip}\n{self.label}" if self.label else tip

    def _layout_label(self) -> None:
        """Place the pill at the middle; hide it when it would sit under a node (the tooltip
        still tells the shape) rather than show it half covered."""
        self._label_rect = QRectF()
        if self.label and self._show_label:
            width = style.text_width("small", self.label) + 2 * PILL_PAD_X
            mid = self.midpoint()
            rect = QRectF(mid.x() - width / 2, mid.y() - PILL_H / 2, width, PILL_H)
            if not any(rect.intersects(QRectF(n.pos(), QSizeF(n.width, n.height)))
                       for n in self._end_items()):
                self._label_rect = rect
        bounds = self._path.boundingRect().adjusted(-4, -4, 4, 4)
        if self.label_visible():
            bounds = bounds.united(self._label_rect.adjusted(-2, -2, 2, 2))
        self._bounds = bounds

    def label_visible(self) -> bool:
        """Whether the shape pill is drawn (it is hidden where it would overlap a node)."""
        return not self._label_rect.isNull()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape.isEmpty():
            stroker = QPainterPathStroker()
            stroker.setWidth(12)
            shape = stroker.createStroke(self._path)
            if self.label_visible():
                shape.addRect(self._label_rect)
            self._shape = shape
        return self._shape

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if self.isSelected() or self.hovered:
            colour, width = style.color("accent"), 2.6 if self.isSelected() else 2.2
        elif self.error:
            colour, width = style.color("error"), 2.0
        else:
            colour, width = style.edge_color(), 1.8
        painter.setPen(QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if not self.label_visible():
            return
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < LOD_LABEL:
            return
        painter.setPen(QPen(colour if (self.hovered or self.error) else style.color("border"),
                            1.0))
        painter.setBrush(style.color("window"))
        painter.drawRoundedRect(self._label_rect, PILL_H / 2, PILL_H / 2)
        painter.setFont(style.font("small"))
        painter.setPen(style.color("text") if self.hovered else _label_colour())
        painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)


def _label_colour() -> QColor:
    return style.color("text_dim")
