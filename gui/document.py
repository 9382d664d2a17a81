"""The open document's lifecycle: new, new from template, open, save, save as, the unsaved
changes prompt, the window title and File > Open Recent.

``DocumentMixin`` is mixed into ``gui.main_window.MainWindow``. The window owns one ``Graph``
for its whole life: opening a project moves the file's graph into it, so the canvas and every
panel keep following the same object. The undo stack's clean state is "saved".
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from graph.project import Project, ProjectError, load_project, remove_stale_temps, save_project
from gui.templates import TemplateDialog, list_templates

APP_NAME = "Plexus"
FILE_FILTER = "Plexus projects (*.plexus);;All files (*)"
MAX_RECENT = 10


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

    def remove_stale_temps(self) -> list[Path]:
        """Delete what killed saves left beside the recent projects (``.NAME.<hex>.tmp``, as
        large as the project); the removed paths. The editor runs it once at start."""
        return [removed for path in self.paths() for removed in remove_stale_temps(path)]

    def remove_stale_temps_in_background(self) -> threading.Thread:
        """``remove_stale_temps`` on a thread of its own: a recent file on a slow or gone
        network folder must not hold up the window."""
        paths = self.paths()
        worker = threading.Thread(target=lambda: [remove_stale_temps(p) for p in paths],
                                  name="plexus-stale-temps", daemon=True)
        worker.start()
        return worker


class DocumentMixin:
    """New / open / save of the window's project. The window provides ``graph``, ``project``,
    ``path``, ``undo_stack``, ``recent``, ``persist``, ``interactive``, ``inspector``,
    ``runner``, ``view``, ``recent_menu``, the ``project_changed`` and ``about_to_save``
    signals, ``show_error``, ``show_message`` and the autosave hooks of ``AutosaveMixin``.
    """

    def _set_project(self, project: Project, path: str | None, modified: bool = False) -> None:
        """Make ``project`` the open one; its graph's contents move into the window's graph."""
        self.graph.replace_with(project.graph)
        project.graph = self.graph
        self.project = project
        self.path = os.path.abspath(path) if path else None
        self.undo_stack.clear()
        if modified:
            self.undo_stack.resetClean()
        else:
            self.undo_stack.setClean()
        self._autosave_pending()
        self.inspector.set_project(project)
        self.update_title()
        self.runner.schedule()
        QTimer.singleShot(0, self, self.view.fit_readable)  # after the scene built its items
        self.project_changed.emit(project)
        self._show_contextual_docks()

    def open_unsaved(self, project: Project) -> None:
        """Make a project built in memory (an imported model) the open one, not yet saved."""
        self._set_project(project, None, modified=True)

    def mark_project_changed(self) -> None:
        """The project changed outside the undo stack (training stored weights and history):
        mark it unsaved and let the next autosave write it."""
        self.undo_stack.resetClean()
        self._autosave_pending()
        self.update_title()

    def update_title(self, *_args: Any) -> None:
        name = self.project.name or (Path(self.path).stem if self.path else "untitled")
        self.setWindowTitle(f"{name}[*] \u2014 {APP_NAME}")
        self.setWindowModified(self.is_modified())
        self.actions["save"].setEnabled(True)

    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    def new_project(self) -> bool:
        if not self.maybe_save():
            return False
        self._set_project(Project(), None)
        self.show_message("New project: drag layers from the palette onto the canvas.", 8000)
        return True

    def new_from_template(self) -> bool:
        if not self.maybe_save():
            return False
        template = self.choose_template()
        if template is None:
            return False
        project = self.open_template(template)
        if project is not None:
            self.show_message(f"New project from the {project.name} template.", 6000)
        return project is not None

    def open_template(self, path: Path | str, what: str = "template",
                      modified: bool = False) -> Project | None:
        """Open an example as a new untitled project (saving never overwrites the example);
        None, said in a dialog, when it cannot be read. The caller asks to save first."""
        try:
            project = load_project(path)
        except ProjectError as exc:
            self.show_error(f"Cannot open the {what}", str(exc))
            return None
        self._set_project(project, None, modified=modified)
        return project

    def choose_template(self) -> Path | None:
        """Ask for a template in the gallery (tests monkeypatch this)."""
        dialog = TemplateDialog(list_templates(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.chosen is not None:
            return dialog.chosen.path
        return None

    def open_dialog(self) -> bool:
        if not self.maybe_save():
            return False
        start = os.path.dirname(self.path) if self.path else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open project", start, FILE_FILTER)
        return self.open_project(path, ask=False) if path else False

    def open_project(self, path: str | os.PathLike[str], ask: bool = True) -> bool:
        """Open ``path``; on any problem show the file's error and keep the current project."""
        if ask and not self.maybe_save():
            return False
        path = os.fspath(path)
        self.weights_notice = ""
        try:
            project = load_project(path)
        except ProjectError as exc:
            self.show_error("Cannot open project", str(exc))
            return False
        except Exception as exc:  # never lose the open project over a bad file
            self.show_error("Cannot open project", f"{path}: {type(exc).__name__}: {exc}")
            return False
        remove_stale_temps(path)
        had_weights = project.weights is not None
        notice = self._check_weights(project, path)
        self._set_project(project, path, modified=had_weights and project.weights is None)
        self._remember(path)
        self.show_message(f"Opened {path}", 5000)
        if notice:
            self.show_weights_notice(notice)
        return True

    def _check_weights(self, project: Project, path: str) -> str:
        """Check the file's weights against its graph before any panel or training uses them;
        the notice that says which layers start fresh ("" when all fit). Damaged weights are
        dropped here, so nothing meets them later."""
        from runtime.weights_check import check_weights, fresh_sentence

        check = check_weights(project.graph, project.weights)
        if not check.usable:
            project.weights = None
        sentence = fresh_sentence(check)
        return f"{Path(path).name}: {sentence}. Saving replaces those weights." if sentence \
            else ""

    def show_weights_notice(self, text: str) -> None:
        """Say which layers start fresh (stderr when not interactive); kept in
        ``weights_notice`` until the next open."""
        self.weights_notice = text
        if not self.interactive:
            print(f"plexus: {text}", file=sys.stderr)
            return
        QMessageBox.warning(self, "Some layers start fresh", text)

    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        start = self.path or os.path.join(str(Path.home()), f"{self.project.name}.plexus")
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", start, FILE_FILTER)
        if not path:
            return False
        if not path.endswith(".plexus"):
            path += ".plexus"
        return self.save_to(path)

    def save_to(self, path: str | os.PathLike[str]) -> bool:
        """Write the project to ``path``; on success it becomes the project's file."""
        path = os.path.abspath(os.fspath(path))
        self.about_to_save.emit(self.project)
        try:
            save_project(self.project, path)
        except ProjectError as exc:
            self.show_error("Cannot save project", str(exc))
            return False
        self.path = path
        self.undo_stack.setClean()
        self._autosave_pending()
        self._clear_recovery()
        self._remember(path)
        self.update_title()
        self.show_message(f"Saved {path}", 5000)
        return True

    def maybe_save(self) -> bool:
        """Ask what to do with unsaved changes; False means the user cancelled."""
        if not self.is_modified():
            return True
        answer = self.ask_unsaved()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def ask_unsaved(self) -> str:
        """"save", "discard" or "cancel" (tests monkeypatch this)."""
        if not self.interactive:
            return "discard"
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          f"Save the changes to {self.project.name}?", parent=self)
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setStandardButtons(QMessageBox.StandardButton.Save
                               | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        result = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(
                    QMessageBox.StandardButton(result), "cancel")

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        paths = self.recent.paths()
        for index, path in enumerate(paths, start=1):
            action = menu.addAction(f"&{index}  {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(os.path.exists(path))
            action.triggered.connect(lambda _=False, p=path: self.open_recent(p))
        if not paths:
            menu.addAction("No recent projects").setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("Clear Recent Projects")
        clear.setEnabled(bool(paths))
        clear.triggered.connect(self.recent.clear)

    def _remember(self, path: str) -> None:
        """List ``path`` first in Open Recent (not for screenshot windows, which keep no
        state)."""
        if self.persist:
            self.recent.add(path)

    def open_recent(self, path: str) -> bool:
        ok = self.open_project(path)
        if not ok and not os.path.exists(path):
            self.recent.remove(path)
        return ok
