"""Start the editor: QApplication, theme, main window, the project to open.

``run_gui(path, screenshot)`` is what ``python main.py`` and ``python main.py open FILE
[--screenshot PNG]`` call. With a screenshot path the window is laid out at 1600x1000 in the
default layout, rendered once everything is loaded, written to the PNG, and the program exits:
that is how we look at every screen without a display (QT_QPA_PLATFORM=offscreen).
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Any

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")  # before anything imports pyqtgraph

from PySide6.QtCore import QCoreApplication, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui import style  # noqa: E402

ORGANIZATION = "Plexus"
APPLICATION = "Plexus"
# How long a thread holds the GIL before one waiting for it gets a turn (Python's default is
# 5 ms). Every return of the GUI thread from Qt into Python waits that long behind a busy
# worker thread (a data set being split, a network analysed); several such waits per event
# made the window 30-70 ms late while a 100 MB CSV loaded (benchmarks/dataset_open.py).
GIL_SWITCH_SECONDS = 0.001


def make_app() -> QApplication:
    """The QApplication (created once), named so QSettings and app data have a home."""
    app = QApplication.instance()
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    if app is None:
        app = QApplication(sys.argv[:1])
        from gui.canvas import release_clipboard

        app.aboutToQuit.connect(release_clipboard)
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    return app  # type: ignore[return-value]


def run_gui(path: str | None = None, screenshot: str | None = None) -> int:
    """Open the editor on ``path`` (default: the digits_cnn example, else an empty project).

    With ``screenshot``, render the window to that PNG and return 0 instead of running.
    """
    app = make_app()
    settings = QSettings()
    style.apply_theme(str(settings.value("theme", "dark")) if not screenshot else "dark", app)

    from gui.main_window import MainWindow
    from gui.start_page import show_start_page_once
    from gui.templates import DEFAULT_EXAMPLE

    window = MainWindow(settings=settings, restore_layout=not screenshot,
                        interactive=not screenshot)
    install_features(window, start_process=not screenshot)
    freeze_after_open(window)
    window.recent.remove_stale_temps_in_background()  # what killed saves left (issue 15)
    if path is None and DEFAULT_EXAMPLE.is_file():
        path = str(DEFAULT_EXAMPLE)
    opened = window.open_project(path, ask=False) if path else False
    if screenshot:
        return render_screenshot(window, screenshot, ok=opened or path is None)
    if opened and os.path.abspath(path) == os.path.abspath(DEFAULT_EXAMPLE):
        window.recent.remove(os.path.abspath(path))  # the default is not a user's recent file
    window.show()
    window.offer_recovery()
    show_start_page_once(window)  # lessons, examples and recent projects, at the first launch
    return app.exec()


def freeze_heap() -> None:
    """Collect once, then move every live object out of the collector's reach (``gc.freeze``).

    A project's objects (graph, scene items, panels, torch modules) live as long as it is
    open; with them in the oldest generation every full collection walked them all, a pause
    of 300-460 ms in the middle of an edit at 1,000 layers. Frozen, a full collection walks
    only what was made since. Unfrozen first, so the previous project's garbage goes.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def freeze_new_objects() -> None:
    """Collect what was made since the last freeze, then freeze the rest of it too."""
    gc.collect()
    gc.freeze()


def freeze_after_open(window: Any) -> None:
    """``freeze_heap`` once each opened project is on screen (the running app's windows), and
    freeze again after its first analysis: at 5,000 layers that analysis leaves ~170,000
    long-lived objects (shapes, memos), and full collections walking them took 350-500 ms
    every few edits."""
    first_analysis = [False]

    def opened(_project: Any) -> None:
        first_analysis[0] = True
        QTimer.singleShot(0, freeze_heap)

    def analysed(_analysis: Any) -> None:
        if first_analysis[0]:
            first_analysis[0] = False
            QTimer.singleShot(0, freeze_new_objects)

    window.project_changed.connect(opened)
    window.analysis_updated.connect(analysed)


def install_features(window: Any, start_process: bool = True) -> Any:
    """Training (its process starts in the background), the live and analysis panels, model
    export and import, and transfer learning, added to ``window``; returns the training
    controller. The panels are ``gui.panels.registry``'s; project-specific ones (GAN,
    Sequences, ...) show for projects that use them."""
    from gui.exchange import install_exchange_actions
    from gui.lessons_panel import install_lessons
    from gui.panels.registry import install_panels
    from gui.training import install_training
    from gui.transfer_dialog import install_transfer_action

    controller = install_training(window, start_process=start_process)
    install_panels(window, controller)
    install_exchange_actions(window)
    install_transfer_action(window)
    install_lessons(window, controller)
    window.apply_icons()
    return controller


def render_screenshot(window: object, png: str, ok: bool = True) -> int:
    """Lay the window out at 1600x1000, let everything load, grab it to ``png``."""
    from gui.main_window import DEFAULT_SIZE

    app = QApplication.instance()
    window.resize(DEFAULT_SIZE)
    window.show()
    window.apply_default_layout()
    for _ in range(3):
        app.processEvents()
    window.runner.run_now()
    window.inspector.project_form.wait_preview()
    app.processEvents()
    window.view.fit_readable()
    app.processEvents()
    image = window.grab()
    folder = os.path.dirname(os.path.abspath(png))
    os.makedirs(folder, exist_ok=True)
    if not image.save(png, "PNG"):
        print(f"plexus: cannot write the screenshot to {png}", file=sys.stderr)
        return 1
    window.persist = False
    window.undo_stack.setClean()
    window.close()
    return 0 if ok else 1
