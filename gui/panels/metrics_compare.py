"""The runs the Metrics panel draws beside the one in front: the runs compared in the window's
``RunSelection`` (ticked in the Runs panel or in Metrics' Compare menu), each named by what
changed between them ("lr 0.1" against "lr 0.001", ``graph.run_compare``) and coloured as in
the Runs panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtWidgets import QMenu, QToolButton

from graph.run_compare import run_names
from gui.panels.run_curves import RunCurves
from gui.panels.run_selection import RunSelection, history_runs, run_colours


@dataclass
class Compared:
    """Earlier runs to draw (oldest first) with their names and colours, and the name of the
    run in front ("" when it is live or nothing is compared)."""

    curves: list[RunCurves] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    colours: list[str] = field(default_factory=list)
    current_name: str = ""


def compared_runs(project: Any, selection: RunSelection, live: bool, limit: int) -> Compared:
    """What Metrics draws beside its bright run: the compared runs but the bright one (the
    newest run, unless a run is live), at most ``limit``, the newest kept."""
    history = history_runs(project)
    chosen = selection.indices(project)
    colours = dict(zip(chosen, run_colours(len(chosen) + live)[:len(chosen)], strict=True))
    latest = len(history) - 1
    earlier = [i for i in chosen if live or i != latest][-limit:]
    if not earlier:
        return Compared()
    named = earlier if live else [*earlier, latest]
    names = run_names([history[i] for i in named], [i + 1 for i in named])
    return Compared(curves=[RunCurves.from_history(history[i]) for i in earlier],
                    names=names[:len(earlier)], colours=[colours[i] for i in earlier],
                    current_name="" if live else names[-1])


def fill_compare_menu(menu: QMenu, project: Any, selection: RunSelection) -> None:
    """Metrics' Compare menu: one checkable entry per run of ``project``, newest first, that
    ticks the run in the shared selection."""
    menu.clear()
    runs = history_runs(project)
    chosen = set(selection.indices(project))
    if not runs:
        menu.addAction("No runs yet").setEnabled(False)
    for index in reversed(range(len(runs))):
        run = runs[index]
        action = menu.addAction(f"Run {index + 1} ({len(run.get('epochs') or [])} epochs, "
                                f"{run.get('status', '')})")
        action.setCheckable(True)
        action.setChecked(index in chosen)
        action.toggled.connect(lambda on, i=index: selection.toggle(project, i, on))


def compare_button(panel: Any) -> QToolButton:
    """Metrics' Compare button: its menu ticks ``panel.project``'s runs in ``panel.selection``
    (read when the menu opens: both change)."""
    button = QToolButton()
    button.setObjectName("metrics_compare")
    button.setText("Compare")
    button.setToolTip("Choose the runs drawn beside this one (the same ticks as in the Runs "
                      "panel)")
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    menu = QMenu(button)
    menu.aboutToShow.connect(lambda: fill_compare_menu(menu, panel.project, panel.selection))
    button.setMenu(menu)
    return button
