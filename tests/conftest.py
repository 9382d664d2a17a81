"""Shared test set-up: Qt renders offscreen, pyqtgraph uses PySide6, torch stays small."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


def pytest_sessionfinish(session, exitstatus):
    """Copied layers left on the clipboard crash PySide6 at exit (see release_clipboard)."""
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is not None:
        from gui.canvas import release_clipboard

        release_clipboard()
