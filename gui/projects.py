"""Project files in the editor: templates, recent files, autosave and crash recovery.

Reading and writing is ``graph.project``; this module adds what only a desktop editor needs:
the list of example templates (and a gallery dialog to pick one), the recent-files list kept in
QSettings, an autosave that writes the open project to a recovery file every minute and removes
it on a clean exit (so a recovery file found at start means the last session crashed), and the
undo command for project settings (name, dataset, training), which are not graph edits.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSettings, QSize, QStandardPaths, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap, QUndoCommand
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
from graph.project import Project, ProjectError, load_project, save_project
from gui import style, theme

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "resources" / "examples"
DEFAULT_EXAMPLE = EXAMPLES_DIR / "digits_cnn.plexus"
FILE_FILTER = "Plexus projects (*.plexus);;All files (*)"
MAX_RECENT = 10
AUTOSAVE_MS = 60_000


# -- settings undo ---------------------------------------------------------------------------------
SETTINGS_COMMAND_ID = 2001


class SetSettingsCommand(QUndoCommand):
    """Change one project setting: ``section`` is "project" (name, description), "dataset"
    or "training"; ``on_change(section, field)`` runs after every redo and undo so forms and
    the window title follow. Consecutive edits of the same field merge into one step."""

    def __init__(self, project: Project, section: str, field: str, value: Any,
                 on_change: Callable[[str, str], None] | None = None,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.project, self.section, self.field = project, section, field
        self.value = value
        self.old = getattr(self._target(), field)
        self.on_change = on_change
        label = field.replace("_", " ")
        self.setText(f"Set {section} {label}" if section != "project" else f"Set project {label}")

    def _target(self) -> Any:
        if self.section == "project":
            return self.project
        return getattr(self.project, self.section)

    def _set(self, value: Any) -> None:
        setattr(self._target(), self.field, value)
        if self.on_change is not None:
            self.on_change(self.section, self.field)

    def redo(self) -> None:
        self._set(self.value)

    def undo(self) -> None:
        self._set(self.old)

    def id(self) -> int:  # noqa: A003 - Qt's name
        return SETTINGS_COMMAND_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if (not isinstance(other, SetSettingsCommand) or other.project is not self.project
                or (other.section, other.field) != (self.section, self.field)
                or self.field not in ("name", "description", "path", "target_column")):
            return False  # only typed text merges; each number or choice is its own step
        self.value = other.value
        if self.value == self.old:
            self.setObsolete(True)
        return True


# -- templates -------------------------------------------------------------------------------------
@dataclass
class Template:
    path: Path
    name: str
    description: str
    layers: int
    dataset: str
    graph: Graph | None = None


def graph_thumbnail(graph: Graph, width: int, height: int, ratio: float = 1.0) -> QPixmap:
    """A small picture of a network: category-coloured blocks and their wires."""
    from graph.layout import node_size

    t = theme.current()
    pm = QPixmap(round(width * ratio), round(height * ratio))
    pm.setDevicePixelRatio(ratio)
    pm.fill(QColor(t.canvas))
    if not graph.nodes:
        return pm
    rects = {}
    for node in graph.nodes.values():
        w, h = node_size(node.type)
        rects[node.id] = QRectF(node.pos[0], node.pos[1], w, h)
    bounds = QRectF()
    for rect in rects.values():
        bounds = bounds.united(rect)
    margin = 12
    scale = min((width - 2 * margin) / max(bounds.width(), 1),
                (height - 2 * margin) / max(bounds.height(), 1), 0.6)
    dx = (width - bounds.width() * scale) / 2 - bounds.left() * scale
    dy = (height - bounds.height() * scale) / 2 - bounds.top() * scale

    def place(rect: QRectF) -> QRectF:
        return QRectF(rect.left() * scale + dx, rect.top() * scale + dy,
                      rect.width() * scale, rect.height() * scale)

    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(t.text_dim), 1.2))
    for edge in graph.edges:
        if edge.src in rects and edge.dst in rects:
            a, b = place(rects[edge.src]), place(rects[edge.dst])
            start = QPointF(a.right(), a.center().y())
            end = QPointF(b.left(), b.center().y())
            path = QPainterPath(start)
            bend = max(abs(end.x() - start.x()) / 2, 8)
            path.cubicTo(start + QPointF(bend, 0), end - QPointF(bend, 0), end)
            painter.drawPath(path)
    for node in graph.nodes.values():
        rect = place(rects[node.id])
        spec = node.spec
        painter.setPen(QPen(QColor(t.border), 1))
        painter.setBrush(QColor(t.node_body))
        painter.drawRoundedRect(rect, 3, 3)
        header = QRectF(rect.left(), rect.top(), rect.width(), max(rect.height() * 0.36, 3))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(theme.category_color(spec.category if spec else "reshape")))
        painter.drawRoundedRect(header, 3, 3)
    painter.end()
    return pm


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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        layout.setSpacing(10)
        intro = QLabel("Start from a ready network. Each one opens untrained, with its dataset "
                       "and training settings.")
        intro.setProperty("role", "dim")
        intro.setWordWrap(True)
        layout.addWidget(intro)
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
        self.facts = QLabel()
        self.facts.setProperty("role", "dim")
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
            self.picture.setPixmap(graph_thumbnail(template.graph, width, 170,
                                                   self.devicePixelRatioF()))


# -- recent files ----------------------------------------------------------------------------------
class RecentFiles:
    """Most recently opened or saved projects, newest first, kept in QSettings."""

    KEY = "recent_files"

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def paths(self) -> list[str]:
        value = self.settings.value(self.KEY, [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [str(p) for p in (value or []) if p]

    def add(self, path: str | os.PathLike[str]) -> None:
        path = os.path.abspath(os.fspath(path))
        paths = [path] + [p for p in self.paths() if p != path]
        self.settings.setValue(self.KEY, paths[:MAX_RECENT])

    def remove(self, path: str) -> None:
        self.settings.setValue(self.KEY, [p for p in self.paths() if p != path])

    def clear(self) -> None:
        self.settings.setValue(self.KEY, [])


# -- autosave and recovery -------------------------------------------------------------------------
def app_data_dir() -> Path:
    """Where recovery files live (QStandardPaths AppDataLocation)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location or Path.home() / ".plexus")


@dataclass
class RecoveryInfo:
    project_path: Path  # the autosaved project
    source: str  # the file it was opened from ("" for a new project)
    name: str
    saved_at: str


class Recovery:
    """The autosave file: written while there are unsaved changes, removed on a clean exit.

    A recovery file present when the editor starts means the previous session ended without
    a clean exit (a crash, a kill, a power cut), so its work can be offered back.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else app_data_dir()
        self.path = self.folder / "recovery.plexus"
        self.info_path = self.folder / "recovery.json"

    def write(self, project: Project, source: str | None) -> None:
        """Autosave ``project``; raises ProjectError like save_project."""
        self.folder.mkdir(parents=True, exist_ok=True)
        save_project(project, self.path)
        info = {"source": source or "", "name": project.name,
                "saved_at": _dt.datetime.now().isoformat(timespec="seconds")}
        tmp = self.info_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, self.info_path)

    def clear(self) -> None:
        for path in (self.path, self.info_path):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass

    def available(self) -> RecoveryInfo | None:
        """What a crashed session left behind, or None."""
        if not self.path.is_file():
            return None
        try:
            info = json.loads(self.info_path.read_text(encoding="utf-8"))
            if not isinstance(info, dict):
                info = {}
        except (OSError, ValueError):
            info = {}
        return RecoveryInfo(self.path, str(info.get("source", "")),
                            str(info.get("name", "untitled")), str(info.get("saved_at", "")))

    def load(self) -> Project:
        return load_project(self.path)
