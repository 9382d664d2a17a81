"""The network in miniature, for dialogs that show a project before it is opened: the template
gallery's thumbnail and the layer import dialog's picture of the ticked layers."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap

from graph.layout import node_size
from graph.model import Graph
from gui import theme


def network_picture(graph: Graph, width: int, height: int, ratio: float = 1.0,
                    selected: set[int] | None = None, margin: int = 12) -> QPixmap:
    """Category-coloured blocks and their wires, fitted into ``width`` x ``height``.

    With ``selected``, those layers (and the wires between them) stand out in the accent colour
    and the rest fade; without it every layer is drawn plainly.
    """
    t = theme.current()
    pm = QPixmap(round(width * ratio), round(height * ratio))
    pm.setDevicePixelRatio(ratio)
    pm.fill(QColor(t.canvas))
    if not graph.nodes:
        return pm
    rects = {n.id: QRectF(n.pos[0], n.pos[1], *node_size(n.type)) for n in graph.nodes.values()}
    bounds = QRectF()
    for rect in rects.values():
        bounds = bounds.united(rect)
    scale = min((width - 2 * margin) / max(bounds.width(), 1),
                (height - 2 * margin) / max(bounds.height(), 1), 0.6)
    dx = (width - bounds.width() * scale) / 2 - bounds.left() * scale
    dy = (height - bounds.height() * scale) / 2 - bounds.top() * scale

    def place(rect: QRectF) -> QRectF:
        return QRectF(rect.left() * scale + dx, rect.top() * scale + dy,
                      rect.width() * scale, rect.height() * scale)

    faded = QColor(t.border)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for edge in graph.edges:
        if edge.src not in rects or edge.dst not in rects:
            continue
        if selected is None:
            painter.setPen(QPen(QColor(t.text_dim), 1.2))
        else:
            inside = edge.src in selected and edge.dst in selected
            painter.setPen(QPen(QColor(t.text_dim) if inside else faded,
                                1.4 if inside else 1.0))
        a, b = place(rects[edge.src]), place(rects[edge.dst])
        start, end = QPointF(a.right(), a.center().y()), QPointF(b.left(), b.center().y())
        path = QPainterPath(start)
        bend = max(abs(end.x() - start.x()) / 2, 8)
        path.cubicTo(start + QPointF(bend, 0), end - QPointF(bend, 0), end)
        painter.drawPath(path)
    for node in graph.nodes.values():
        rect = place(rects[node.id])
        spec = node.spec
        color = QColor(theme.category_color(spec.category if spec else "reshape"))
        if selected is None:
            outline, body, header_color = QPen(faded, 1), QColor(t.node_body), color
        else:
            chosen = node.id in selected
            outline = QPen(QColor(t.accent) if chosen else faded, 1.4 if chosen else 1.0)
            body = QColor(t.node_body) if chosen else QColor(t.canvas)
            header_color = color if chosen else faded
        painter.setPen(outline)
        painter.setBrush(body)
        painter.drawRoundedRect(rect, 3, 3)
        header = QRectF(rect.left(), rect.top(), rect.width(), max(rect.height() * 0.36, 3))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(header_color)
        painter.drawRoundedRect(header, 3, 3)
    painter.end()
    return pm
