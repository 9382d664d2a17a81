"""The card a layer or a collapsed group is drawn as, shared so both look alike: a rounded body
under a soft shadow, a coloured header, an outline coloured by the worst diagnostic (or the
hover), a selection ring, and ports sticking out of the sides.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen

from graph.layout import CORNER_RADIUS, HEADER_HEIGHT, PORT_RADIUS
from gui.canvas import style


def card_bounding_rect(width: float, height: float) -> QRectF:
    """The card's paint area: ports stick out of the sides; selection ring and shadow all
    round."""
    side = PORT_RADIUS + 3
    return QRectF(-side, -4, width + 2 * side, height + 8)


def card_shape(width: float, height: float) -> QPainterPath:
    """The card's outline, for hit tests: the rounded body, not the ports' margin."""
    path = QPainterPath()
    path.addRoundedRect(QRectF(0, 0, width, height), CORNER_RADIUS, CORNER_RADIUS)
    return path


def paint_card(painter: QPainter, rect: QRectF, header_color: QColor) -> None:
    """The soft shadow, the body and the header band."""
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 70 if is_dark() else 30))
    painter.drawRoundedRect(rect.translated(0, 2.5), CORNER_RADIUS, CORNER_RADIUS)
    painter.setBrush(style.color("node_body"))
    painter.drawRoundedRect(rect, CORNER_RADIUS, CORNER_RADIUS)
    header = QPainterPath()
    header.setFillRule(Qt.FillRule.WindingFill)
    header.addRoundedRect(QRectF(rect.left(), rect.top(), rect.width(), HEADER_HEIGHT),
                          CORNER_RADIUS, CORNER_RADIUS)
    header.addRect(QRectF(rect.left(), rect.top() + HEADER_HEIGHT - CORNER_RADIUS,
                          rect.width(), CORNER_RADIUS))
    painter.setBrush(header_color)
    painter.drawPath(header)


def paint_card_outline(painter: QPainter, rect: QRectF, severity: str | None, hovered: bool,
                       selected: bool) -> None:
    """The outline in the diagnostic's colour (else hover or border), then the selection ring
    outside it."""
    if severity == "error":
        outline = QPen(style.color("error"), 2.0)
    elif severity == "warning":
        outline = QPen(style.color("warning"), 2.0)
    elif hovered:
        outline = QPen(style.color("text_dim"), 1.2)
    else:
        outline = QPen(style.color("border"), 1.0)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(outline)
    painter.drawRoundedRect(rect, CORNER_RADIUS, CORNER_RADIUS)
    if selected:
        painter.setPen(QPen(style.color("accent"), 2.0))
        painter.drawRoundedRect(rect.adjusted(-2.5, -2.5, 2.5, 2.5), CORNER_RADIUS + 2,
                                CORNER_RADIUS + 2)


def is_dark() -> bool:
    """Whether the canvas is dark (shadows and tints are stronger there)."""
    return style.color("canvas").lightness() < 128


def escape(text: str) -> str:
    """``text`` safe inside a rich-text tooltip."""
    return html.escape(text, quote=False)


def diagnostic_html(severity: str | None, message: str) -> str:
    """A diagnostic message for a tooltip, in the colour of its severity."""
    colour = style.color("error" if severity == "error" else "warning").name()
    return f"<span style='color:{colour}'>{escape(message)}</span>"
