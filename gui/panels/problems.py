"""The Problems panel: every diagnostic of the latest analysis, errors first.

A diagnostic caused by another one (a layer not reached because of an unplugged input) is
listed under its root cause, so one mistake reads as one problem. Messages wrap: the fix is
always read in full.

A problem with a one-click fix (runtime.head_shapes: "insert Flatten") gets a button above the
list that applies it as one undo step. Clicking (or pressing Enter on) a row emits
``node_activated(node_id)``; the main window selects and centres that node on the canvas.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import style, theme

NODE_ROLE = Qt.ItemDataRole.UserRole + 1


class ProblemsPanel(QWidget):
    node_activated = Signal(int)

    def __init__(self, undo_stack: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.fix_button = QPushButton()
        self.fix_button.clicked.connect(self.apply_fix)
        layout.addWidget(self.fix_button)
        # the chosen problem in full, wrapped (a row may not be tall enough for a long fix)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.detail)
        self._fixable: Any = None
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Problem", "Layer"])
        self.tree.setRootIsDecorated(True)
        self.tree.setWordWrap(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, 200)
        # rows wrap to the column's width: lay them out again whenever it changes
        header.sectionResized.connect(lambda *_: self.tree.scheduleDelayedItemsLayout())
        layout.addWidget(self.tree, 1)
        self.tree.currentItemChanged.connect(
            lambda item, _previous: self.detail.setText(item.text(0) if item else ""))
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("role", "dim")
        layout.addWidget(self.empty, 1)
        self.tree.itemClicked.connect(self._clicked)
        self.tree.itemActivated.connect(self._clicked)
        self.diagnostics: list[Any] = []
        self._graph: Any = None
        self.show_diagnostics([], None)

    def show_diagnostics(self, diagnostics: list[Any], graph: Any) -> None:
        """List ``diagnostics`` (graph.validate.Diagnostic), errors before warnings."""
        t = theme.current()
        self._graph = graph
        order = {"error": 0, "warning": 1}
        self.diagnostics = sorted(diagnostics, key=lambda d: order.get(d.severity, 2))
        self.tree.clear()
        icons = {"error": style.icon("error", t.error), "warning": style.icon("warning",
                                                                              t.warning)}
        roots = [d for d in self.diagnostics if getattr(d, "cause", None) is None]
        for diag in roots:
            item = self._item(diag, icons.get(diag.severity, style.icon("about", t.text_dim)))
            self.tree.addTopLevelItem(item)
            if diag.severity == "error" and diag.node_id is not None:
                for caused in self.consequences(diag.node_id):
                    item.addChild(self._item(caused, style.icon("about", t.text_dim)))
        self._fixable = next((d for d in roots if getattr(d, "fix", None)), None)
        if self._fixable is not None:
            self.fix_button.setText(self.fix_text(self._fixable))
        self.fix_button.setVisible(self._fixable is not None and self.undo_stack is not None)
        has = bool(self.diagnostics)
        self.detail.setText(roots[0].message if roots else "")
        self.detail.setVisible(has)
        self.tree.setVisible(has)
        self.empty.setVisible(not has)
        self.empty.setText("No problems: the network is valid." if graph is not None
                           else "Validating\u2026")

    def fix_text(self, diag: Any) -> str:
        """The button's words: "Insert Flatten before fc1", "Set logits to 10 outputs"."""
        node = self._graph.nodes.get(diag.node_id) if self._graph is not None else None
        name = node.name if node else "it"
        verb, what = diag.fix.split(" ", 1)
        if verb == "set":
            return f"Set {name} to {what.split('=')[1]} outputs"
        return f"Insert {what} before {name}"

    def apply_fix(self) -> None:
        """Apply the first problem's quick fix as one undo step."""
        from gui.commands import InsertOnWireCommand, SetParamCommand

        diag = self._fixable
        if diag is None or self.undo_stack is None or self._graph is None:
            return
        verb, what = diag.fix.split(" ", 1)
        if verb == "set":
            param, value = what.split("=")
            self.undo_stack.push(SetParamCommand(self._graph, diag.node_id, param, int(value)))
        else:
            self.undo_stack.push(InsertOnWireCommand(self._graph, diag.edge, what))

    def counts(self) -> tuple[int, int]:
        """(errors, warnings) among root causes; consequences are not problems of their own."""
        roots = [d for d in self.diagnostics if getattr(d, "cause", None) is None]
        errors = sum(d.severity == "error" for d in roots)
        return errors, len(roots) - errors

    def consequences(self, node_id: int) -> list[Any]:
        """Diagnostics that the error on ``node_id`` explains."""
        return [d for d in self.diagnostics if getattr(d, "cause", None) == node_id]

    def _item(self, diag: Any, icon: Any) -> QTreeWidgetItem:
        item = QTreeWidgetItem([diag.message, self._where(diag)])
        item.setIcon(0, icon)
        item.setToolTip(0, diag.message)
        node_id = self._node_of(diag)
        item.setData(0, NODE_ROLE, node_id if node_id is not None else -1)
        return item

    def _node_of(self, diag: Any) -> int | None:
        if diag.node_id is not None:
            return diag.node_id
        edge = getattr(diag, "edge", None)
        return edge.dst if edge is not None else None

    def _where(self, diag: Any) -> str:
        node_id = self._node_of(diag)
        if node_id is None or self._graph is None:
            return "network"
        node = self._graph.nodes.get(node_id)
        return node.label if node else f"node {node_id}"

    def _clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        node_id = item.data(0, NODE_ROLE)
        if node_id is not None and node_id >= 0:
            self.node_activated.emit(int(node_id))
