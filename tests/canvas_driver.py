"""Driving the node canvas in tests: a scene and its view on screen, with the keys a user
presses; test_gui_canvas and test_gui_groups add the gestures they need."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtTest import QTest

from graph.model import Graph
from gui.canvas import GraphScene, GraphView

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier


class CanvasDriver:
    """A GraphScene of ``graph`` (a new one by default) with its own undo stack, shown in a
    focused view of ``size``; ``messages`` collects its status lines."""

    def __init__(self, qtbot, graph: Graph | None = None,
                 size: tuple[int, int] = (1200, 800)) -> None:
        self.graph = graph or Graph()
        self.stack = QUndoStack()
        self.scene = GraphScene(self.graph, self.stack)
        self.view = GraphView(self.scene)
        self.messages: list[str] = []
        self.scene.status_message.connect(self.messages.append)
        qtbot.addWidget(self.view)
        self.view.resize(*size)
        self.view.show()
        qtbot.waitExposed(self.view)
        self.view.setFocus()

    def key(self, key: Qt.Key, modifier=NO_MOD) -> None:
        QTest.keyClick(self.view, key, modifier)
