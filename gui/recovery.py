"""Autosave and crash recovery: the open project is written to this editor instance's own
recovery file every minute while it has unsaved changes, and the file is removed on a clean
exit, so a recovery file nobody owns means a session crashed and its work can be offered back.

Each instance writes ``recovery-<pid>-<start time>.plexus`` (with a ``.json`` of what it is)
and holds a lock on ``.lock`` beside it while it runs (``gui.file_lock``), so two editors never
overwrite or delete each other's recovery, and a recovery whose lock anyone can take is an
orphan: its editor has ended without a clean exit. (An older version's single
``recovery.plexus`` counts as one too.)

``Recovery`` is this instance's file; ``find_orphans`` lists what ended sessions left behind;
``AutosaveMixin`` is the window's side (the timer, when to write, the offer at start), mixed
into ``gui.main_window.MainWindow``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QStandardPaths, QTimer

from graph.project import Project, ProjectError, load_project, save_project
from gui.file_lock import FileLock

AUTOSAVE_MS = 60_000
STRAY_AGE = 60.0  # seconds: a lock file without a recovery is removed only when older
PREFIX = "recovery"  # recovery-<pid>-<start>.plexus, its .json and its .lock


def app_data_dir() -> Path:
    """Where recovery files live (QStandardPaths AppDataLocation)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location or Path.home() / ".plexus")


def _companions(project_path: Path) -> tuple[Path, Path]:
    """(the info .json, the .lock) of a recovery project file."""
    return project_path.with_suffix(".json"), project_path.with_suffix(".lock")


@dataclass
class RecoveryInfo:
    """One recovery file: what it holds, and (for an orphan) the lock taken on it while the
    user decides, so no other editor starting now offers it too."""

    project_path: Path  # the autosaved project
    source: str  # the file it was opened from ("" for a new project)
    name: str
    saved_at: str
    lock: FileLock | None = field(default=None, repr=False, compare=False)

    @classmethod
    def read(cls, project_path: Path, lock: FileLock | None = None) -> RecoveryInfo:
        """The info beside ``project_path`` (defaults where it is missing or unreadable)."""
        try:
            info = json.loads(_companions(project_path)[0].read_text(encoding="utf-8"))
            if not isinstance(info, dict):
                info = {}
        except (OSError, ValueError):
            info = {}
        return cls(project_path, str(info.get("source", "")), str(info.get("name", "untitled")),
                   str(info.get("saved_at", "")), lock)

    def load(self) -> Project:
        return load_project(self.project_path)

    def discard(self) -> None:
        """Delete the recovery and its companions (the lock file last)."""
        for path in (self.project_path, _companions(self.project_path)[0]):
            with contextlib.suppress(OSError):  # already gone
                path.unlink()
        if self.lock is not None:
            self.lock.release(remove=True)
        else:
            with contextlib.suppress(OSError):
                _companions(self.project_path)[1].unlink()

    def keep(self) -> None:
        """Leave the recovery for the next start: let go of its lock."""
        if self.lock is not None:
            self.lock.release()


class Recovery:
    """This instance's autosave file: written while there are unsaved changes, removed on a
    clean exit. The instance's lock is taken at the first write and held until ``close``."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else app_data_dir()
        self.started = _dt.datetime.now()
        self.lock: FileLock | None = None
        self.path: Path | None = None  # chosen with the lock

    @property
    def info_path(self) -> Path | None:
        return _companions(self.path)[0] if self.path is not None else None

    def _claim(self) -> Path:
        """Take a file name no other instance has, and its lock."""
        if self.lock is not None and self.lock.held and self.path is not None:
            return self.path
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{PREFIX}-{os.getpid()}-{self.started:%Y%m%d-%H%M%S}"
        for attempt in range(1, 1000):
            path = self.folder / (stem + (f"-{attempt}" if attempt > 1 else "") + ".plexus")
            try:
                lock = FileLock.acquire(_companions(path)[1], new=True)
            except FileExistsError:
                continue  # another window of this process, started the same second
            if lock is not None and not path.exists():
                self.lock, self.path = lock, path
                return path
            if lock is not None:
                lock.release()
        raise OSError(f"no free recovery file name in {self.folder}")

    def write(self, project: Project, source: str | None) -> None:
        """Autosave ``project``; raises ProjectError like save_project, OSError."""
        path = self._claim()
        save_project(project, path)
        info = {"source": source or "", "name": project.name, "pid": os.getpid(),
                "saved_at": _dt.datetime.now().isoformat(timespec="seconds")}
        info_path = _companions(path)[0]
        tmp = info_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, info_path)

    def clear(self) -> None:
        """Remove the autosaved project (saved, or nothing left to recover); keep the lock."""
        if self.path is None:
            return
        for path in (self.path, _companions(self.path)[0]):
            with contextlib.suppress(OSError):  # already gone, or not ours to remove
                path.unlink()

    def close(self) -> None:
        """A clean exit: the autosave and the lock go."""
        self.clear()
        if self.lock is not None:
            self.lock.release(remove=True)

    def available(self) -> RecoveryInfo | None:
        """What this instance has autosaved and not yet cleared, or None."""
        if self.path is None or not self.path.is_file():
            return None
        return RecoveryInfo.read(self.path)


def find_orphans(folder: Path, own: Path | None = None) -> list[RecoveryInfo]:
    """Every recovery in ``folder`` whose editor has ended (its lock is free), newest first,
    each with its lock now held by the caller (``discard`` or ``keep`` lets go). Lock files
    left without a recovery are removed on the way."""
    orphans: list[RecoveryInfo] = []
    if not folder.is_dir():
        return orphans
    for path in sorted(folder.glob(f"{PREFIX}*.plexus")):
        if path == own or not path.is_file():
            continue
        try:
            lock = FileLock.acquire(_companions(path)[1])
        except OSError:
            continue  # cannot even open the lock file: leave it alone
        if lock is None:
            continue  # its editor runs
        if path.is_file():
            orphans.append(RecoveryInfo.read(path, lock))
        else:
            lock.release(remove=True)  # its editor saved and exited while we looked
    for lock_path in folder.glob(f"{PREFIX}*.lock"):
        if lock_path.with_suffix(".plexus").exists() or not _older_than(lock_path, STRAY_AGE):
            continue  # (a young one may be an editor's that is taking its lock right now)
        with contextlib.suppress(OSError):
            stray = FileLock.acquire(lock_path)
            if stray is not None:  # an editor that ended before it autosaved anything
                stray.release(remove=True)
    orphans.sort(key=lambda info: info.saved_at, reverse=True)
    return orphans


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return _dt.datetime.now().timestamp() - path.stat().st_mtime > seconds
    except OSError:
        return False


@dataclass
class RecoveryChoice:
    """What the user chose for the orphaned recoveries: one to restore into the window, those
    to delete; the rest are offered again at the next start."""

    restore: RecoveryInfo | None = None
    discard: list[RecoveryInfo] = field(default_factory=list)


class AutosaveMixin:
    """The window's autosave: a timer writes the recovery file while there are changes not yet
    autosaved; saving or a clean exit removes it; at start, ``offer_recovery`` gives ended
    sessions' work back. The window provides ``project``, ``path``, ``undo_stack``,
    ``interactive``, ``is_modified``, ``maybe_save``, ``_set_project``, ``show_error`` and
    ``show_message``.
    """

    def _start_autosave(self, data_dir: Path | None) -> None:
        self.recovery = Recovery(data_dir)
        self._autosaved_index: int | None = None
        self._owns_recovery = False  # this window wrote its recovery file and has not cleared it
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
        self.recovery.close()
        self._owns_recovery = False

    def offer_recovery(self) -> bool:
        """Offer back the work of every editor that ended without a clean exit; True when one
        was restored (it opens unsaved, and becomes this window's own recovery at once)."""
        orphans = find_orphans(self.recovery.folder, own=self.recovery.path)
        if not orphans:
            return False
        choice = self.ask_recover(orphans)
        restored = False
        try:
            for info in choice.discard:
                info.discard()
            chosen = choice.restore
            if chosen is not None and chosen not in choice.discard and self.maybe_save():
                restored = self._restore(chosen)
        finally:
            for info in orphans:
                info.keep()  # whatever is left stays for the next start
        return restored

    def _restore(self, info: RecoveryInfo) -> bool:
        try:
            project = info.load()
        except ProjectError as exc:
            self.show_error("Cannot recover project", str(exc))
            info.discard()
            return False
        self._set_project(project, info.source or None, modified=True)
        if self.autosave():  # this window's recovery holds it now: the orphan can go
            info.discard()
        self.show_message("Recovered unsaved work; save it to keep it.", 10000)
        return True

    def ask_recover(self, orphans: list[RecoveryInfo]) -> RecoveryChoice:
        """Ask which orphaned recoveries to restore or discard (tests monkeypatch this)."""
        if not self.interactive:
            return RecoveryChoice()  # kept for a session that can ask
        from gui.recovery_dialog import RecoveryDialog

        return RecoveryDialog(orphans, self).choose()
