"""Shared test set-up: Qt renders offscreen, pyqtgraph uses PySide6, torch stays small."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


def pytest_sessionfinish(session, exitstatus):
    """Copied layers left on the clipboard crash PySide6 at exit (see release_clipboard)."""
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is not None:
        from gui.canvas import release_clipboard

        release_clipboard()


@pytest.fixture
def editor_window(qtbot, tmp_path):
    """A main window with its own settings file and recovery folder that never asks to save
    nor writes a layout; closed after the test. Not shown: a test shows it when it needs to."""
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, data_dir=tmp_path / "appdata",
                        restore_layout=False, interactive=False)
    window.ask_unsaved = lambda: "discard"
    qtbot.addWidget(window)
    yield window
    window.undo_stack.setClean()
    window.persist = False
    window.close()
