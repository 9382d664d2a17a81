"""The recovery dialog: every editor session that ended without a clean exit left unsaved
work; list each (project, when it was autosaved, the file it came from) and let the user
restore one into the window or discard any. What is neither stays for the next start."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.recovery import RecoveryChoice, RecoveryInfo


def describe(info: RecoveryInfo) -> list[str]:
    """The row of one recovery: project name, autosave time, the file it was opened from."""
    return [info.name, info.saved_at.replace("T", " ") or "unknown",
            info.source or "not saved yet"]


class RecoveryDialog(QDialog):
    """Restore one of the listed recoveries, discard any, keep the rest for later."""

    def __init__(self, orphans: list[RecoveryInfo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recover unsaved work")
        self.setObjectName("recovery_dialog")
        self.orphans = list(orphans)
        self.choice = RecoveryChoice()
        many = len(self.orphans) > 1
        intro = QLabel(
            ("Plexus did not close properly. These projects had unsaved changes:" if many
             else "Plexus did not close properly. This project had unsaved changes:")
            + "\nRestore opens one as an unsaved project; the ones you neither restore nor "
              "discard are offered again at the next start.")
        intro.setWordWrap(True)
        self.table = QTreeWidget()
        self.table.setObjectName("recovery_list")
        self.table.setHeaderLabels(["Project", "Autosaved", "From"])
        self.table.setRootIsDecorated(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        for info in self.orphans:
            item = QTreeWidgetItem(describe(info))
            item.setData(0, Qt.ItemDataRole.UserRole, info)
            item.setToolTip(2, info.source or str(info.project_path))
            self.table.addTopLevelItem(item)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)
        self.table.setCurrentItem(self.table.topLevelItem(0))
        buttons = QDialogButtonBox()
        self.restore_button = QPushButton("Restore")
        self.discard_button = QPushButton("Discard")
        later = QPushButton("Keep for Later")
        buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(later, QDialogButtonBox.ButtonRole.RejectRole)
        self.restore_button.setDefault(True)
        self.restore_button.clicked.connect(self.restore_selected)
        self.discard_button.clicked.connect(self.discard_selected)
        later.clicked.connect(self.reject)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda *_: self.restore_selected())
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(640, 300)
        self._update_buttons()

    def selected(self) -> list[RecoveryInfo]:
        return [item.data(0, Qt.ItemDataRole.UserRole) for item in self.table.selectedItems()]

    def _update_buttons(self) -> None:
        count = len(self.table.selectedItems())
        self.restore_button.setEnabled(count == 1)
        self.discard_button.setEnabled(count >= 1)

    def restore_selected(self) -> None:
        chosen = self.selected()
        if len(chosen) == 1:
            self.choice.restore = chosen[0]
            self.accept()

    def discard_selected(self) -> None:
        """Mark the selected rows for deletion (done when the dialog closes)."""
        for item in self.table.selectedItems():
            self.choice.discard.append(item.data(0, Qt.ItemDataRole.UserRole))
            self.table.takeTopLevelItem(self.table.indexOfTopLevelItem(item))
        if self.table.topLevelItemCount() == 0:
            self.accept()
        else:
            self.table.setCurrentItem(self.table.topLevelItem(0))

    def choose(self) -> RecoveryChoice:
        """Show the dialog; what the user chose (discards stand even after Keep for Later)."""
        self.exec()
        return self.choice
