"""The canvas view: zoom, pan, fit, palette drops, keyboard shortcuts and quick add."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsView, QWidget

from gui.canvas import style
from gui.canvas.node_item import NodeItem
from gui.canvas.quick_add import QuickAddPopup
from gui.canvas.scene import LAYER_MIME, GraphScene

MIN_ZOOM, MAX_ZOOM = 0.08, 3.0
_ARROWS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1),
           Qt.Key.Key_Down: (0, 1)}
EMPTY_TEXT = "Drag a layer here from the palette, or press Tab to search"


class GraphView(QGraphicsView):
    """Shows a GraphScene. Signal ``zoom_changed(float)`` reports the zoom factor (1 = 100%)."""

    zoom_changed = Signal(float)

    def __init__(self, scene: GraphScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self._scene = scene
        self._pan_from: QPoint | None = None
        self._space_held = False
        self._quick_add: QuickAddPopup | None = None
        self._quick_add_pos = QPointF()
        self.setObjectName("graphView")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        scene.empty_changed.connect(lambda _empty: self.viewport().update())

    # -- public API ---------------------------------------------------------------------------
    def graph_scene(self) -> GraphScene:
        return self._scene

    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        """Zoom to ``factor`` (clamped) around the mouse (wheel) or the view centre."""
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        current = self.zoom()
        if abs(factor - current) < 1e-9:
            return
        self.scale(factor / current, factor / current)
        self.zoom_changed.emit(self.zoom())

    def fit_all(self) -> None:
        """Show every node (F); never zooms in past 100%."""
        rect = self._scene.nodes_bounding_rect()
        if rect.isNull():
            self.resetTransform()
            self.centerOn(0, 0)
        else:
            self.fitInView(rect.adjusted(-60, -60, 60, 60), Qt.AspectRatioMode.KeepAspectRatio)
            if self.zoom() > 1.0:
                self.resetTransform()
                self.centerOn(rect.center())
            elif self.zoom() < MIN_ZOOM:
                self.scale(MIN_ZOOM / self.zoom(), MIN_ZOOM / self.zoom())
                self.centerOn(rect.center())
        self.zoom_changed.emit(self.zoom())

    def fit_readable(self, min_zoom: float = style.READABLE_ZOOM) -> None:
        """The view for a freshly opened project: everything if that keeps every text at
        ``style.READABLE_PX`` or more, else the start of the network (its top-left corner,
        where the reading starts) at ``min_zoom``; the rest is a pan away."""
        self.fit_all()
        rect = self._scene.nodes_bounding_rect()
        if rect.isNull() or self.zoom() >= min_zoom:
            return
        self.resetTransform()
        self.scale(min_zoom, min_zoom)
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        x = rect.center().x() if rect.width() + 12 <= visible.width() else \
            rect.left() - 24 + visible.width() / 2
        y = rect.center().y() if rect.height() + 80 <= visible.height() else \
            rect.top() - 24 + visible.height() / 2
        self.centerOn(x, y)
        self.zoom_changed.emit(self.zoom())

    def center_on_node(self, node_id: int) -> None:
        item = self._scene.node_item(node_id)
        if item is not None:
            self.centerOn(item.sceneBoundingRect().center())

    def add_layer_at(self, layer_id: str, scene_pos: QPointF) -> int | None:
        """Add a layer centred on ``scene_pos`` (one undo step); returns the new node id."""
        return self._scene.add_layer(layer_id, scene_pos)

    def add_layer_at_center(self, layer_id: str) -> int | None:
        """Add a layer in the middle of what is visible (palette double-click)."""
        return self.add_layer_at(layer_id, self.mapToScene(self.viewport().rect().center()))

    def quick_add(self, scene_pos: QPointF | None = None) -> QuickAddPopup:
        """Open the layer search popup; the chosen layer goes to ``scene_pos`` (or the cursor)."""
        if scene_pos is None:
            scene_pos = self._cursor_scene_pos()
        self._quick_add_pos = QPointF(scene_pos)
        if self._quick_add is None:
            self._quick_add = QuickAddPopup(self)
            self._quick_add.chosen.connect(
                lambda layer: self.add_layer_at(layer, self._quick_add_pos))
        view_pos = self.mapFromScene(scene_pos)
        self._quick_add.open_at(self.viewport().mapToGlobal(view_pos))
        return self._quick_add

    def quick_add_popup(self) -> QuickAddPopup | None:
        return self._quick_add

    def paste_at_cursor(self) -> list[int]:
        pos = self.viewport().mapFromGlobal(self.cursor().pos())
        inside = self.viewport().rect().contains(pos)
        return self._scene.paste(self.mapToScene(pos) if inside else None)

    def _cursor_scene_pos(self) -> QPointF:
        pos = self.viewport().mapFromGlobal(self.cursor().pos())
        if not self.viewport().rect().contains(pos):
            pos = self.viewport().rect().center()
        return self.mapToScene(pos)

    # -- drops from the palette ---------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        data = event.mimeData()
        if not data.hasFormat(LAYER_MIME):
            event.ignore()
            return
        layer_id = bytes(data.data(LAYER_MIME)).decode("utf-8").strip()
        scene_pos = self.mapToScene(event.position().toPoint())
        if self.add_layer_at(layer_id, scene_pos) is not None:
            event.acceptProposedAction()
            self.setFocus()
        else:
            event.ignore()

    # -- zoom and pan -------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            return
        # Around the wheel's own position: the view's mouse anchor is the last mouse *move*,
        # which a wheel over a freshly focused window (or a touchpad) may never have sent.
        cursor = event.position()
        under = self.mapToScene(cursor.toPoint())
        self.set_zoom(self.zoom() * (1.0015 ** delta))
        drift = self.mapFromScene(under) - cursor.toPoint()
        self.pan_by(drift.x(), drift.y())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
                button == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton and self.itemAt(event.position().toPoint()) is None:
            self._scene.rubber_banding = True
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            pos = event.position().toPoint()
            delta = pos - self._pan_from
            self._pan_from = pos
            self.pan_by(-delta.x(), -delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton,
                                                             Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space_held
                                      else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)
        self._scene.rubber_banding = False

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        if event.button() == Qt.MouseButton.LeftButton and self.itemAt(pos) is None:
            self.quick_add(self.mapToScene(pos))
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def pan_by(self, dx: float, dy: float) -> None:
        """Scroll the view by pixels (the scene rect grows with the graph, so this is free)."""
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(dx))
        v.setValue(v.value() + round(dy))

    # -- keyboard -----------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        # Tab would move the focus to the next widget; on the canvas it opens quick add.
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Tab \
                and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.quick_add()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        scene = self._scene
        key = event.key()
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        plain = mods == Qt.KeyboardModifier.NoModifier
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and plain:
            scene.delete_selection()
        elif event.matches(QKeySequence.StandardKey.Copy):
            scene.copy_selection()
        elif event.matches(QKeySequence.StandardKey.Paste):
            self.paste_at_cursor()
        elif event.matches(QKeySequence.StandardKey.SelectAll):
            scene.select_all()
        elif event.matches(QKeySequence.StandardKey.Undo):
            scene.undo_stack.undo()
        elif event.matches(QKeySequence.StandardKey.Redo):
            scene.undo_stack.redo()
        elif key == Qt.Key.Key_D and mods == Qt.KeyboardModifier.ControlModifier:
            scene.duplicate_selection()
        elif key == Qt.Key.Key_G and mods == Qt.KeyboardModifier.ControlModifier:
            scene.groups.group_selection()
        elif key == Qt.Key.Key_G and mods == (Qt.KeyboardModifier.ControlModifier
                                              | Qt.KeyboardModifier.ShiftModifier):
            scene.groups.ungroup_selection()
        elif key == Qt.Key.Key_F and plain:
            self.fit_all()
        elif key == Qt.Key.Key_F2 and plain:
            scene.rename_selected()
        elif key in _ARROWS and mods in (Qt.KeyboardModifier.NoModifier,
                                         Qt.KeyboardModifier.ShiftModifier):
            step = 50 if mods == Qt.KeyboardModifier.ShiftModifier else 10
            dx, dy = _ARROWS[key]
            scene.nudge_selection(dx * step, dy * step)
        elif key == Qt.Key.Key_Escape:
            scene.cancel_gestures()
            scene.select_node(None)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal) and (plain or mods in (
                Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier)):
            self.set_zoom(self.zoom() * 1.25)
        elif key == Qt.Key.Key_Minus and (plain or mods == Qt.KeyboardModifier.ControlModifier):
            self.set_zoom(self.zoom() / 1.25)
        elif key == Qt.Key.Key_0 and mods == Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(1.0)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            if self._pan_from is None:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    # -- empty state --------------------------------------------------------------------------
    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if not self._scene.is_empty():
            return
        painter.save()
        painter.resetTransform()
        area = QRectF(self.viewport().rect())
        font = QFont(style.font("body"))
        font.setPixelSize(15)
        painter.setFont(font)
        painter.setPen(style.color("text_dim"))
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter, EMPTY_TEXT)
        painter.restore()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if self._scene.is_empty():  # keep the empty-state text centred
            self.viewport().update()


def node_under(view: GraphView, pos: QPoint) -> NodeItem | None:
    """The node under a viewport position (ports and badges count as their node)."""
    item = view.itemAt(pos)
    while item is not None and not isinstance(item, NodeItem):
        item = item.parentItem()
    return item
