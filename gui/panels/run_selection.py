"""Which of the project's runs are being compared: one selection per window, read by the Runs
panel (its ticks) and the Metrics panel (its named curves), so ticking a run in either shows
it in both. Until the user chooses, the newest ``SHOWN_BY_DEFAULT`` runs are compared; a run
that ends joins the runs already compared.

Each compared run keeps one colour in every panel (``run_colours``): the newest in the accent
colour, older ones in distinct bright colours that read on both themes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal

from gui import theme

SHOWN_BY_DEFAULT = 2  # the newest runs compared when a project opens
PALETTE = ("#c678dd", "#e5c07b", "#56b6c2", "#e06c75", "#e08a3c", "#5ec27a")  # after accent;
# orange and green last: Metrics draws validation in orange and the learning rate in green
OBJECT_NAME = "run_selection"


def history_runs(project: Any) -> list[dict[str, Any]]:
    """The project's history runs (records that are not dicts are skipped by every panel)."""
    return [r for r in (getattr(project, "history", None) or []) if isinstance(r, dict)]


def run_colours(n: int) -> list[str]:
    """Colours of ``n`` compared runs, oldest first: the newest in the accent colour."""
    cycle = [theme.current().accent, *PALETTE]
    return [cycle[i % len(cycle)] for i in range(n)][::-1]


class RunSelection(QObject):
    """The compared runs of one project, as indices into its history (oldest 0).

    It belongs to the project it was chosen for: asked about another project, it answers that
    project's default, so panels need not agree on who resets it when a project opens."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(OBJECT_NAME)
        self._project: Any = None
        self._chosen: set[int] | None = None  # None: the default (the newest runs)

    def indices(self, project: Any) -> list[int]:
        """The compared runs of ``project``, oldest first."""
        count = len(history_runs(project))
        if project is not self._project or self._chosen is None:
            return list(range(max(0, count - SHOWN_BY_DEFAULT), count))
        return sorted(i for i in self._chosen if 0 <= i < count)

    def choose(self, project: Any, indices: Iterable[int]) -> None:
        """Compare exactly these runs of ``project``."""
        chosen = set(indices)
        if project is self._project and chosen == self._chosen:
            return
        self._project, self._chosen = project, chosen
        self.changed.emit()

    def toggle(self, project: Any, index: int, on: bool) -> None:
        """Tick (or untick) one run, keeping the others compared."""
        chosen = set(self.indices(project))
        if on:
            chosen.add(index)
        else:
            chosen.discard(index)
        self.choose(project, chosen)

    def run_added(self, project: Any) -> None:
        """A run of ``project`` ended: compared beside the runs compared before it."""
        count = len(history_runs(project))
        if not count:
            return
        if project is self._project and self._chosen is not None:
            before = set(self._chosen)
        else:
            before = set(range(max(0, count - 1 - SHOWN_BY_DEFAULT), count - 1))
        self.choose(project, before | {count - 1})


def run_selection_of(window: QObject) -> RunSelection:
    """The window's one selection (made on first use), shared by every panel that shows runs."""
    found = window.findChild(RunSelection, OBJECT_NAME)
    return found if found is not None else RunSelection(window)
