"""The undo command for project settings (name, description, dataset, training): they are not
graph edits, so they live beside ``gui.commands`` rather than in it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from graph.project import Project

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
