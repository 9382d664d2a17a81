"""Laying out a long project description in the inspector's DescriptionEdit, side by side:
Qt's word wrap (what the editor did) against what ``set_value`` picks now (wrap anywhere when
the text has a run of over gui.text.UNBROKEN_RUN characters without spaces), for text with no
spaces and for ordinary words. Word wrap of unbroken text is quadratic, so it is measured up to
64 KB only (256 KB took 66 s).

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/description_layout.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtGui import QTextOption  # noqa: E402

from gui.app import make_app  # noqa: E402

SIZES = (16 << 10, 64 << 10, 256 << 10, 1 << 20)
WORD_WRAP_MOST = 64 << 10


def shown_in(text: str, old: bool) -> float:
    """Seconds from setting ``text`` to the widget painted."""
    from gui.project_form import DescriptionEdit

    app = make_app()
    edit = DescriptionEdit()
    edit.resize(300, 64)
    edit.show()
    app.processEvents()
    start = time.perf_counter()
    if old:
        edit.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        edit.setPlainText(text)
    else:
        edit.set_value(text)
    app.processEvents()
    edit.repaint()
    app.processEvents()
    seconds = time.perf_counter() - start
    edit.close()
    edit.deleteLater()
    app.processEvents()
    return seconds


def main() -> None:
    print(f"{'text':<22} {'word wrap s':>11} {'now s':>8} {'ratio':>7}")
    for size in SIZES:
        for kind, text in (("no spaces", "x" * size), ("words", ("word " * size)[:size])):
            now = shown_in(text, old=False)
            old = shown_in(text, old=True) if kind == "words" or size <= WORD_WRAP_MOST \
                else None
            ratio = f"{old / now:7.1f}" if old is not None else "      -"
            shown = f"{old:11.2f}" if old is not None else "  (skipped)"
            print(f"{size >> 10:>5} KB {kind:<14} {shown} {now:8.2f} {ratio}", flush=True)


if __name__ == "__main__":
    main()
