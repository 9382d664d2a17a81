"""Dock panels around the canvas: problems, generated code, and (later) training monitors.

Each panel is a plain QWidget; the main window wraps it in a dock with ``add_panel``.
"""
