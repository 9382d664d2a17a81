"""Autosave and crash recovery: the open project is written to a recovery file every minute
while it has unsaved changes, and the file is removed on a clean exit, so a recovery file found
at start means the last session crashed and its work can be offered back.

``Recovery`` is the file; ``AutosaveMixin`` is the window's side (the timer, when to write,
the offer at start), mixed into ``gui.main_window.MainWindow``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QStandardPaths, QTimer
from PySide6.QtWidgets import QMessageBox

from graph.project import Project, ProjectError, load_project, save_project

AUTOSAVE_MS = 60_000


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
            with contextlib.suppress(OSError):  # already gone, or not ours to remove
                path.unlink()

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


class AutosaveMixin:
    """The window's autosave: a timer writes the recovery file while there are changes not yet
    autosaved; saving or a clean exit removes it; at start, ``offer_recovery`` gives a crashed
    session's work back. The window provides ``project``, ``path``, ``undo_stack``,
    ``interactive``, ``is_modified``, ``_set_project``, ``show_error`` and ``show_message``.
    """

    def _start_autosave(self, data_dir: Path | None) -> None:
        self.recovery = Recovery(data_dir)
        self._autosaved_index: int | None = None
        self._owns_recovery = False  # only a file this window wrote or took over is removed
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

    def _autosave_pending(self) -> None:
        """The open project changed or was replaced: the next tick writes it (if unsaved)."""
        self._autosaved_index = None

    def autosave(self) -> bool:
        """Write the recovery file when there are changes not yet autosaved."""
        if not self.is_modified() or self._autosaved_index == self.undo_stack.index():
            return False
        try:
            self.recovery.write(self.project, self.path)
        except (ProjectError, OSError) as exc:
            self.show_message(f"Autosave failed: {exc}", 8000)
            return False
        self._autosaved_index = self.undo_stack.index()
        self._owns_recovery = True
        return True

    def _clear_recovery(self) -> None:
        if self._owns_recovery:
            self.recovery.clear()
            self._owns_recovery = False

    def _stop_autosave(self) -> None:
        """A clean exit: nothing to recover next time."""
        self.autosave_timer.stop()
        self._clear_recovery()

    def offer_recovery(self) -> bool:
        """After a crash, offer the autosaved work back; True when it was restored."""
        info = self.recovery.available()
        if info is None:
            return False
        if not self.ask_recover(info):
            self.recovery.clear()
            return False
        try:
            project = self.recovery.load()
        except ProjectError as exc:
            self.show_error("Cannot recover project", str(exc))
            self.recovery.clear()
            return False
        self._set_project(project, info.source or None, modified=True)
        self._owns_recovery = True
        self.show_message("Recovered unsaved work; save it to keep it.", 10000)
        return True

    def ask_recover(self, info: RecoveryInfo) -> bool:
        """Ask whether to restore autosaved work (tests monkeypatch this)."""
        if not self.interactive:
            return False
        where = f" ({info.source})" if info.source else ""
        answer = QMessageBox.question(
            self, "Recover unsaved work",
            f"Plexus did not close properly last time. Recover the unsaved changes to "
            f"{info.name}{where}, autosaved {info.saved_at.replace('T', ' ')}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes
