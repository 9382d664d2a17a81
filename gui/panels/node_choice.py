"""The layer picker of the monitor panels: a combo box of (node id, label) that the canvas
selection sets without a signal and the user can change, and the panels that remember the
chosen node themselves (it may not be listed until a payload names it)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox


def node_combo(tip: str, min_width: int = 150) -> QComboBox:
    """A layer picker: canvas selection sets it, the user can pick another."""
    combo = QComboBox()
    combo.setToolTip(tip)
    combo.setMinimumWidth(min_width)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return combo


def fill_node_combo(combo: QComboBox, choices: list[tuple[int, str]], current: int | None,
                    placeholder: str = "") -> None:
    """Replace the items (node id, label) without emitting, keeping ``current`` selected."""
    combo.blockSignals(True)
    combo.clear()
    if placeholder:
        combo.addItem(placeholder, None)
    for node_id, label in choices:
        combo.addItem(label, node_id)
    index = combo.findData(current) if current is not None else (0 if placeholder else -1)
    combo.setCurrentIndex(max(index, 0) if combo.count() else -1)
    combo.setEnabled(combo.count() > 0)
    combo.blockSignals(False)


def select_in_combo(combo: QComboBox, node_id: int | None) -> bool:
    index = combo.findData(node_id)
    if index < 0:
        return False
    combo.blockSignals(True)
    combo.setCurrentIndex(index)
    combo.blockSignals(False)
    return True


def combo_node(combo: QComboBox) -> int | None:
    """The node id of the picker's current item (None for a placeholder or an empty picker)."""
    data = combo.currentData()
    return int(data) if data is not None else None


class RememberedNode:
    """For a panel with a ``layer_combo``, a ``node_chosen`` signal and ``request_repaint``
    that shows the node chosen last, by the canvas or in the picker."""

    layer_combo: QComboBox
    _node: int | None = None

    def set_node(self, node_id: int | None) -> None:
        """Show ``node_id``'s output (no signal); repaints from the last payload."""
        self._node = node_id
        if node_id is not None:
            select_in_combo(self.layer_combo, node_id)
        self.request_repaint()  # type: ignore[attr-defined]

    @property
    def node_id(self) -> int | None:
        return self._node

    def _layer_picked(self, _index: int) -> None:
        node_id = combo_node(self.layer_combo)
        if node_id is not None:
            self._node = node_id
            self.request_repaint()  # type: ignore[attr-defined]
            self.node_chosen.emit(node_id)  # type: ignore[attr-defined]
