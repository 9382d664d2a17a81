"""The hover behaviour the canvas's layers, wires and groups share: an item lights up under
the pointer and shows its tooltip there, built on demand (cheaper than on every change)."""

from __future__ import annotations

from PySide6.QtWidgets import QGraphicsItem, QGraphicsSceneHoverEvent


class HoverItem(QGraphicsItem):
    """A canvas item with a ``hovered`` flag its paint reads and a ``tooltip_text()``."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.hovered = False
        self.setAcceptHoverEvents(True)

    def tooltip_text(self) -> str:
        raise NotImplementedError

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = True
        self.setToolTip(self.tooltip_text())
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.hovered = False
        self.update()
