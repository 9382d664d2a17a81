"""Shared test set-up: Qt renders offscreen, pyqtgraph uses PySide6, torch stays small."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
