"""Copy, paste and duplicate of layers on the canvas, through the system clipboard.

Copied layers travel as ``Graph.subgraph_dict`` JSON under their own MIME type, so a paste
into another window (or after reopening) rebuilds them; each paste is one undo step.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QMimeData, QPointF
from PySide6.QtGui import QGuiApplication

from gui.commands import PasteCommand
from gui.text import counted

CLIPBOARD_MIME = "application/x-plexus-graph"  # copied layers: Graph.subgraph_dict as JSON


class SceneClipboard:
    """The clipboard operations of ``GraphScene`` (which provides ``_graph``, ``push``,
    ``select_nodes``, ``selected_node_ids`` and the ``status_message`` signal)."""

    _graph: Any
    _paste_serial: int
    status_message: Any

    def copy_selection(self) -> int:
        """Put the selected layers (and the edges between them) on the clipboard."""
        ids = self.selected_node_ids()
        if not ids:
            self.status_message.emit("Select layers to copy first.")
            return 0
        data = QMimeData()
        data.setData(CLIPBOARD_MIME, json.dumps(self._graph.subgraph_dict(ids)).encode())
        QGuiApplication.clipboard().setMimeData(data)
        self._paste_serial = 0
        self.status_message.emit(f"Copied {counted(len(ids), 'layer')}.")
        return len(ids)

    def can_paste(self) -> bool:
        data = QGuiApplication.clipboard().mimeData()
        return data is not None and data.hasFormat(CLIPBOARD_MIME)

    def paste(self, scene_pos: QPointF | None = None) -> list[int]:
        """Paste copied layers at ``scene_pos`` (their top-left), else offset from the original."""
        data = QGuiApplication.clipboard().mimeData()
        if data is None or not data.hasFormat(CLIPBOARD_MIME):
            self.status_message.emit("Nothing to paste: copy layers first (Ctrl+C).")
            return []
        try:
            subgraph = json.loads(bytes(data.data(CLIPBOARD_MIME)).decode())
            positions = subgraph.get("positions", {})
        except (ValueError, AttributeError):
            self.status_message.emit("The clipboard holds no readable layers; copy them again.")
            return []
        if scene_pos is not None and positions:
            left = min(p[0] for p in positions.values())
            top = min(p[1] for p in positions.values())
            offset = (scene_pos.x() - left, scene_pos.y() - top)
        else:
            self._paste_serial += 1
            offset = (30.0 * self._paste_serial, 30.0 * self._paste_serial)
        return self._paste(subgraph, offset)

    def duplicate_selection(self) -> list[int]:
        ids = self.selected_node_ids()
        if not ids:
            return []
        return self._paste(self._graph.subgraph_dict(ids), (30.0, 30.0))

    def _paste(self, subgraph: dict[str, Any], offset: tuple[float, float]) -> list[int]:
        command = PasteCommand(self._graph, subgraph, (round(offset[0]), round(offset[1])))
        self.push(command)
        self.select_nodes(command.new_ids)
        return list(command.new_ids)


def release_clipboard() -> None:
    """Take copied layers off the clipboard before Qt shuts down: PySide6 crashes at exit
    (a segmentation fault) deleting a QMimeData created in Python that the clipboard holds."""
    clipboard = QGuiApplication.clipboard()
    data = clipboard.mimeData() if clipboard is not None else None
    if data is not None and data.hasFormat(CLIPBOARD_MIME):
        clipboard.clear()
