"""The canvas's context menus (a layer's, a wire's, the empty canvas's, a group's) add their
entries one way: a slot that takes no arguments, and the shortcut shown beside the text."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu


def menu_action(menu: QMenu, text: str, slot: Callable[[], object],
                shortcut: str | None = None) -> QAction:
    """Add ``text`` to ``menu``; choosing it calls ``slot()``. ``shortcut`` is only shown
    (the window's own action takes the key)."""
    act = menu.addAction(text)
    act.triggered.connect(lambda _=False: slot())
    if shortcut:
        act.setShortcut(QKeySequence(shortcut))
        act.setShortcutVisibleInContextMenu(True)
    return act
