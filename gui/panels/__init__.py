"""Dock panels around the canvas. Each is a QWidget; ``registry`` declares the analysis panels
(key, title, dock area, tab rank, the projects they apply to, how each is made) and docks
them with the main window's ``add_panel``. Panels that analyse a trained project share
``analysis_panel.AnalysisPanel`` or ``trained.WatchedPanel``, over ``gui.prepared`` and
``gui.tasks``.
"""
