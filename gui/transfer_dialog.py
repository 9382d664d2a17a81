"""File > Import Layers from Project...: reuse trained layers of another .plexus file.

The dialog lists the chosen project's layers with a tick box each (the convolutional trunk is
ticked by default), how many trained values each brings, and a picture of the network with the
ticked layers highlighted. The project can be one made by File > Import Model (a torchvision
ResNet with its pretrained weights): "Trunk ends after" cuts it where its trunk has one way
out, and "New head" connects this project's Input to that trunk and puts pooling, a Linear
layer for this project's classes and an Output after it. Importing is one undo step
(``ImportLayersCommand``): the layers arrive on the canvas with their connections and trained
weights, optionally frozen; undo takes both the nodes and their weights out again. The work
itself is ``runtime.transfer`` and ``runtime.backbone``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QUndoCommand
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from graph.catalog import HEAD
from graph.project import Project, ProjectError
from gui import style, theme
from gui.form_layout import dialog_layout, dim_label
from gui.network_picture import network_picture
from gui.text import counted

if TYPE_CHECKING:  # runtime.transfer imports torch: loaded when the dialog first needs it
    from runtime import backbone, transfer

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "resources" / "examples"
FILE_FILTER = "Plexus projects (*.plexus);;All files (*)"
PICTURE_HEIGHT = 150


def _transfer() -> Any:
    from runtime import transfer

    return transfer


def _backbone() -> Any:
    from runtime import backbone

    return backbone


class ImportLayersCommand(QUndoCommand):
    """Insert planned layers and their weights into a project; undo removes both."""

    def __init__(self, project: Project, plan: transfer.ImportPlan, source_name: str,
                 parent: QUndoCommand | None = None) -> None:
        count = len(plan.nodes)
        super().__init__(f"Import {counted(count, 'layer')} from {source_name}",
                         parent)
        self.project = project
        self.plan = plan

    def redo(self) -> None:
        _transfer().apply_plan(self.project, self.plan)

    def undo(self) -> None:
        _transfer().remove_plan(self.project, self.plan)


class TransferDialog(QDialog):
    """Choose a project, tick layers, freeze or not; ``command()`` builds the import step."""

    def __init__(self, target: Project, parent: QWidget | None = None,
                 start_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transfer_dialog")
        self.setWindowTitle("Import layers from project")
        self.resize(680, 720)
        self.target = target
        self.start_dir = str(start_dir or EXAMPLES_DIR)
        self.source: Project | None = None
        self.source_path: str | None = None
        self.layers: list[transfer.ImportableLayer] = []
        self._filling = False
        self._head: backbone.NewHead | None = None  # the target data's head, once computed

        layout = dialog_layout(self, "Copy layers, with their trained weights, from another "
                               "project: keep the general part of a trained network and give "
                               "it a new head.", spacing=8)

        row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("transfer_path")
        self.path_edit.setReadOnly(True)
        self.path_edit.setPlaceholderText("No project chosen")
        row.addWidget(self.path_edit, 1)
        self.browse_button = QPushButton(style.icon("open"), "Choose\u2026")
        self.browse_button.clicked.connect(self.browse)
        row.addWidget(self.browse_button)
        layout.addLayout(row)
        self.facts = QLabel()
        self.facts.setObjectName("transfer_facts")
        self.facts.setWordWrap(True)
        layout.addWidget(self.facts)

        self.picture = QLabel()
        self.picture.setObjectName("transfer_picture")
        self.picture.setFixedHeight(PICTURE_HEIGHT)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.picture)

        self.tree = QTreeWidget()
        self.tree.setObjectName("transfer_layers")
        self.tree.setRootIsDecorated(False)
        self.tree.setHeaderLabels(["Layer", "Settings", "Trained weights"])
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemChanged.connect(self._ticks_changed)
        layout.addWidget(self.tree, 1)

        picks = QHBoxLayout()
        picks.addWidget(QLabel("Tick:"))
        for text, slot in (("Trunk", self.select_trunk), ("All", self.select_all),
                           ("None", self.select_none)):
            button = QPushButton(text)
            button.setObjectName(f"transfer_select_{text.lower()}")
            button.clicked.connect(slot)
            picks.addWidget(button)
        picks.addSpacing(12)
        picks.addWidget(QLabel("Trunk ends after:"))
        self.end_combo = QComboBox()
        self.end_combo.setObjectName("transfer_trunk_end")
        self.end_combo.setToolTip("Cut the network here: this layer and every layer before it "
                                  "are ticked (only layers that are the trunk's one way out "
                                  "are listed)")
        self.end_combo.activated.connect(self._end_chosen)
        picks.addWidget(self.end_combo, 1)
        picks.addStretch(1)
        self.count_label = dim_label(wrap=False)
        picks.addWidget(self.count_label)
        layout.addLayout(picks)

        self.freeze_box = QCheckBox("Freeze imported layers (their trained weights stay as "
                                    "they are while the rest trains)")
        self.freeze_box.setObjectName("transfer_freeze")
        self.freeze_box.setChecked(True)
        layout.addWidget(self.freeze_box)
        rate = QHBoxLayout()
        self.rate_label = QLabel("Otherwise fine-tune them at learning-rate factor")
        rate.addWidget(self.rate_label)
        self.rate_spin = QDoubleSpinBox()
        self.rate_spin.setObjectName("transfer_lr_mult")
        self.rate_spin.setRange(0.0, 10.0)
        self.rate_spin.setDecimals(3)
        self.rate_spin.setSingleStep(0.1)
        self.rate_spin.setValue(0.1)
        self.rate_spin.setToolTip("A factor below 1 lets the imported layers adapt slowly, "
                                  "so the few new samples do not wash out what they learned.")
        rate.addWidget(self.rate_spin)
        rate.addStretch(1)
        layout.addLayout(rate)
        self.freeze_box.toggled.connect(self._freeze_toggled)
        self._freeze_toggled(True)
        self.head_box = QCheckBox("New head: connect this project's Input to the trunk and put "
                                  "pooling, a Linear layer for this project's classes and an "
                                  "Output after it")
        self.head_box.setObjectName("transfer_new_head")
        has_output = any(n.spec is not None and n.spec.role == HEAD
                         for n in target.graph.nodes.values())
        self.head_box.setEnabled(not has_output)
        if has_output:
            self.head_box.setToolTip("This project already has an Output: wire the imported "
                                     "layers to it yourself.")
        self.head_box.toggled.connect(self._head_toggled)
        layout.addWidget(self.head_box)
        self.hint = dim_label()
        layout.addWidget(self.hint)
        self._head_toggled(self.head_box.isChecked())
        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = buttons.addButton("Import",
                                               QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setObjectName("transfer_import")
        self.import_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._update()
        self.tree.setFocus()

    # -- choosing a project ----------------------------------------------------------------------
    def browse(self) -> bool:
        start = os.path.dirname(self.source_path) if self.source_path else self.start_dir
        path, _ = QFileDialog.getOpenFileName(self, "Import layers from project", start,
                                              FILE_FILTER)
        return self.load_source(path) if path else False

    def load_source(self, path: str | os.PathLike[str]) -> bool:
        """Read ``path`` and list its layers; on a bad file show its one-line error."""
        path = os.fspath(path)
        try:
            source = _transfer().load_source(path)
            layers = _transfer().list_importable(source)
        except (ProjectError, ValueError) as exc:
            self._show_error(str(exc))
            return False
        self.source, self.source_path, self.layers = source, path, layers
        self.path_edit.setText(path)
        self._show_error("")
        self._fill()
        self._fill_ends()
        return True

    def _fill_ends(self) -> None:
        """List where the trunk can end; the default selection's end is current."""
        self.end_combo.clear()
        if self.source is None:
            return
        graph = self.source.graph
        for end in _backbone().trunk_ends(graph):
            self.end_combo.addItem(graph.nodes[end].label, end)
        default = _backbone().default_end(graph, (layer.node_id for layer in self.layers
                                                  if layer.trunk))
        index = self.end_combo.findData(default) if default is not None else -1
        self.end_combo.setCurrentIndex(index)

    def choose_end(self, node_id: int) -> None:
        """Tick the trunk that ends after ``node_id`` (one of the listed ends)."""
        if self.source is None:
            return
        self.end_combo.setCurrentIndex(self.end_combo.findData(node_id))
        self.set_selected(_backbone().trunk_until(self.source.graph, node_id))

    def _end_chosen(self, index: int) -> None:
        if index >= 0:
            self.choose_end(int(self.end_combo.itemData(index)))

    def _fill(self) -> None:
        self._filling = True
        self.tree.clear()
        t = theme.current()
        for layer in self.layers:
            item = QTreeWidgetItem([layer.label, layer.summary,
                                    f"{layer.values:,} values" if layer.values else "\u2014"])
            item.setData(0, Qt.ItemDataRole.UserRole, layer.node_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked if layer.trunk
                               else Qt.CheckState.Unchecked)
            node = self.source.graph.nodes[layer.node_id] if self.source else None
            spec = node.spec if node else None
            item.setIcon(0, style.swatch(theme.category_color(spec.category if spec
                                                              else "reshape")))
            if not layer.values:
                item.setForeground(2, QColor(t.text_dim))
            self.tree.addTopLevelItem(item)
        self._filling = False
        self._update()

    # -- ticks -------------------------------------------------------------------------------------
    def _items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]

    def selected_ids(self) -> list[int]:
        return [int(item.data(0, Qt.ItemDataRole.UserRole)) for item in self._items()
                if item.checkState(0) == Qt.CheckState.Checked]

    def set_selected(self, node_ids: Any) -> None:
        wanted = set(node_ids)
        self._filling = True
        for item in self._items():
            checked = int(item.data(0, Qt.ItemDataRole.UserRole)) in wanted
            item.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self._filling = False
        self._update()

    def select_trunk(self) -> None:
        self.set_selected(layer.node_id for layer in self.layers if layer.trunk)

    def select_all(self) -> None:
        self.set_selected(layer.node_id for layer in self.layers)

    def select_none(self) -> None:
        self.set_selected(())

    def _ticks_changed(self, *_args: Any) -> None:
        if not self._filling:
            self._update()

    def _freeze_toggled(self, frozen: bool) -> None:
        self.rate_spin.setEnabled(not frozen)
        self.rate_label.setEnabled(not frozen)

    def _head_toggled(self, head: bool) -> None:
        self.hint.setText("The trunk must end in one layer (Trunk ends after); the new head's "
                          "layers train from scratch." if head else
                          "The layers arrive connected to each other only: wire your Input "
                          "into the first one and a new head after the last.")

    def _update(self) -> None:
        ids = set(self.selected_ids())
        by_id = {layer.node_id: layer for layer in self.layers}
        values = sum(by_id[i].values for i in ids if i in by_id)
        self.count_label.setText(f"{len(ids)} of {len(self.layers)} layers, {values:,} trained "
                                 "values" if self.layers else "")
        self.import_button.setEnabled(bool(ids))
        if self.source is None:
            self.facts.setText("Choose a trained .plexus project, e.g. the shapes_source "
                               "example, or a network made by File > Import Model with its "
                               "pretrained weights.")
            self.picture.clear()
            return
        total = sum(layer.values for layer in self.layers)
        trained = (f"trained, {total:,} values" if total else
                   "not trained: layers come with their settings only")
        self.facts.setText(f"<b>{self.source.name}</b> \u00b7 {len(self.layers)} layers \u00b7 "
                           f"dataset {self.source.dataset.name} \u00b7 {trained}")
        width = max(self.picture.width(), 560)
        self.picture.setPixmap(network_picture(self.source.graph, width, PICTURE_HEIGHT,
                                               self.devicePixelRatioF(), selected=ids, margin=10))

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    # -- result -----------------------------------------------------------------------------------
    def plan(self) -> transfer.ImportPlan | None:
        """What importing the ticked layers would do, or None (with the reason shown)."""
        if self.source is None:
            self._show_error("Choose a project to import from first.")
            return None
        frozen = self.freeze_box.isChecked()
        try:
            head = self.new_head() if self.head_box.isChecked() else None
            plan = _transfer().plan_import(self.source, self.selected_ids(), self.target,
                                        freeze=frozen,
                                        lr_mult=None if frozen else self.rate_spin.value(),
                                        head=head)
        except ValueError as exc:
            self._show_error(str(exc))
            return None
        self._show_error("")
        return plan

    def new_head(self) -> backbone.NewHead:
        """The head this project's data set needs (its data is loaded once, to count its
        classes); ValueError naming the data set when it has none."""
        if self._head is None:
            self._head = _backbone().head_for(self.target)
        return self._head

    def command(self) -> ImportLayersCommand | None:
        plan = self.plan()
        if plan is None or self.source is None:
            return None
        return ImportLayersCommand(self.target, plan, self.source.name)

    def accept(self) -> None:
        self.result_command = self.command()
        if self.result_command is not None:
            super().accept()


def import_layers_dialog(window: Any, path: str | os.PathLike[str] | None = None
                         ) -> list[int]:
    """Run the dialog for the window's project (``path`` preloaded); returns the new node ids
    after pushing one undo step, or [] when cancelled."""
    start = os.path.dirname(window.path) if getattr(window, "path", None) else None
    dialog = TransferDialog(window.project, window, start)
    if path is not None:
        dialog.load_source(path)
    elif not dialog.browse():
        dialog.deleteLater()
        return []
    if dialog.exec() != QDialog.DialogCode.Accepted or dialog.result_command is None:
        dialog.deleteLater()
        return []
    return push_import(window, dialog.result_command)


def push_import(window: Any, command: ImportLayersCommand) -> list[int]:
    """Push an import on the window's undo stack, select the new layers and show them."""
    window.undo_stack.push(command)
    ids = command.plan.new_ids
    window.scene.select_nodes(ids)
    if ids:
        window.view.center_on_node(ids[len(ids) // 2])
    count = len(ids)
    frozen = sum(1 for n in command.plan.nodes if n.frozen)
    note = f", {frozen} frozen" if frozen else ""
    headed = any(n.spec is not None and n.spec.role == HEAD for n in command.plan.nodes)
    after = ("A new head follows the trunk: train it." if headed else
             "Connect them to your network.")
    window.show_message(f"Imported {counted(count, 'layer')} with "
                        f"{command.plan.copied} trained tensors{note}. {after}")
    return ids


def install_transfer_action(window: Any) -> QAction:
    """Add File > Import Layers from Project... to the editor window (before Export)."""
    return window.add_menu_action(
        "file", "import_layers", "Import &Layers from Project\u2026",
        lambda: import_layers_dialog(window), "open",
        "Copy trained layers from another project (transfer learning)", before="export")
