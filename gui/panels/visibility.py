"""Whether the user can see a panel now.

Qt counts a dock tabbed behind another as visible (``isVisible()`` stays true and no hide
event comes when another tab is raised), so a panel that computes only for its viewer also
asks for a non-empty visible region.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def on_screen(widget: QWidget) -> bool:
    """Shown and not covered: not closed, not behind another tab, not in a minimised
    window."""
    return (widget.isVisible() and not widget.window().isMinimized()
            and not widget.visibleRegion().isEmpty())
