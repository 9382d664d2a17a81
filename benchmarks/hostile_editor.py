"""Open one file the way the editor does, then wait until it has analysed it: the program
``benchmarks/hostile_files.py`` runs (under a memory limit) for the editor's open path.

A real MainWindow with every panel (no training process), offscreen, at 1280x800 in the
default layout: open FILE, wait for the diagnostics and the dataset preview, then bring the
Explain and Adversarial panels to the front in turn and wait for their jobs. Prints
``opened``/``refused`` and the seconds the open took on stdout; the window's own messages go
to stderr, as ``plexus: ...`` lines.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/hostile_editor.py FILE
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QSettings  # noqa: E402

from gui.app import install_features, make_app  # noqa: E402

ANALYSIS_DOCKS = ("explain", "adversarial")


def open_and_wait(path: str) -> int:
    app = make_app()
    from gui.main_window import MainWindow

    folder = tempfile.mkdtemp(prefix="plexus-sweep-")
    settings = QSettings(os.path.join(folder, "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, restore_layout=False, interactive=False,
                        data_dir=Path(folder) / "appdata")
    install_features(window, start_process=False)
    window.resize(1280, 800)
    window.show()
    window.apply_default_layout()
    app.processEvents()
    start = time.perf_counter()
    opened = window.open_project(path, ask=False)
    window.runner.run_now()
    window.inspector.project_form.wait_preview(30_000)
    app.processEvents()
    for key in ANALYSIS_DOCKS:
        if key in window.docks:
            window.show_dock(key)
            app.processEvents()
            panel = window.docks[key].widget()
            panel.runner.wait(30_000)
    seconds = time.perf_counter() - start
    print(f"{'opened' if opened else 'refused'} {seconds:.2f}")
    window.persist = False
    window.undo_stack.setClean()
    window.close()
    return 0 if opened else 1


if __name__ == "__main__":
    sys.exit(open_and_wait(sys.argv[1]))
