"""What the user sees: the editor window, canvas, panels (PySide6 and pyqtgraph)."""
