"""New from Template: the example projects as templates, and the gallery dialog to pick one.

Each template is a ready ``.plexus`` file in ``resources/examples``; the gallery shows its
description and a thumbnail of its network, and the window opens the chosen one untrained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from graph.model import Graph
from graph.project import ProjectError, load_project
from gui import style
from gui.form_layout import dialog_layout, dim_label
from gui.network_picture import network_picture

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "resources" / "examples"
DEFAULT_EXAMPLE = EXAMPLES_DIR / "digits_cnn.plexus"


@dataclass
class Template:
    """One example project as the gallery shows it (its graph for the thumbnail)."""

    path: Path
    name: str
    description: str
    layers: int
    dataset: str
    graph: Graph | None = None


def list_templates(folder: Path = EXAMPLES_DIR) -> list[Template]:
    """Every readable example project in ``folder``, the default one first."""
    found = []
    for path in sorted(folder.glob("*.plexus")):
        try:
            project = load_project(path)
        except ProjectError:
            continue
        found.append(Template(path, project.name, project.description,
                              len(project.graph.nodes), project.dataset.name, project.graph))
    found.sort(key=lambda t: (t.path != DEFAULT_EXAMPLE, t.name))
    return found


class TemplateDialog(QDialog):
    """The template gallery: every example with its description; ``chosen`` after accept."""

    def __init__(self, templates: list[Template], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.resize(820, 480)
        self.templates = templates
        self.chosen: Template | None = None
        layout = dialog_layout(self, "Start from a ready network. Each one opens untrained, "
                               "with its dataset and training settings.", spacing=10)
        body = QHBoxLayout()
        body.setSpacing(14)
        self.list = QListWidget()
        self.list.setIconSize(QSize(18, 18))
        self.list.setMinimumWidth(240)
        self.list.setMaximumWidth(280)
        for template in templates:
            item = QListWidgetItem(style.icon("template"), template.name)
            item.setData(Qt.ItemDataRole.UserRole, str(template.path))
            item.setSizeHint(QSize(0, 32))
            self.list.addItem(item)
        body.addWidget(self.list)
        detail = QVBoxLayout()
        detail.setSpacing(8)
        self.title = QLabel()
        self.title.setFont(style.font("title", bold=True))
        detail.addWidget(self.title)
        self.facts = dim_label(wrap=False)
        detail.addWidget(self.facts)
        self.picture = QLabel()
        self.picture.setObjectName("template_picture")
        self.picture.setFixedHeight(170)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        detail.addWidget(self.picture)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        detail.addWidget(self.description, 1)
        body.addLayout(detail, 1)
        layout.addLayout(body, 1)
        if not templates:
            self.title.setText("No templates found")
            self.description.setText(f"There are no example projects in {EXAMPLES_DIR}.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = buttons.addButton("Create", QDialogButtonBox.ButtonRole.AcceptRole)
        self.create_button.setDefault(True)
        self.create_button.setEnabled(bool(templates))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.list.currentRowChanged.connect(self._show)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        if templates:
            self.list.setCurrentRow(0)

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self.templates):
            return
        template = self.templates[row]
        self.chosen = template
        self.title.setText(template.name)
        self.facts.setText(f"{template.layers} layers \u00b7 dataset: {template.dataset} \u00b7 "
                           f"{template.path.name}")
        self.description.setText(template.description or "No description.")
        if template.graph is not None:
            width = max(self.picture.width(), 420)
            self.picture.setPixmap(network_picture(template.graph, width, 170,
                                                   self.devicePixelRatioF()))
