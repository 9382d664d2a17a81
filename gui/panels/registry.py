"""Every analysis panel, declared once: its key, title, dock area, tab rank, the projects it
applies to, and how it is made.

``install_panels(window, controller)`` (``gui.app`` calls it) adds them to a
``gui.main_window.MainWindow`` in tab order, wires the live ones to the training controller,
and shows a contextual panel (GAN, Sequences, ...) only for the projects it ``applies`` to.
``tab_rank(key)`` orders the bottom tabs of the default layout, the window's own docks
included. A new panel is one ``PanelSpec`` here and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from gui.panels.activations import ActivationsPanel
from gui.panels.adversarial import AdversarialPanel
from gui.panels.analysis_panel import AnalysisPanel
from gui.panels.applies import (
    has_class_outputs,
    has_classifier,
    is_not_gan,
    is_planar,
    is_sequence_model,
)
from gui.panels.autoencoder import AutoencoderPanel, has_reconstruction_head
from gui.panels.boundary import BoundaryPanel
from gui.panels.confusion import ConfusionPanel
from gui.panels.explain import ExplainPanel
from gui.panels.filters import FiltersPanel
from gui.panels.gan import gan_panel, is_gan
from gui.panels.histograms import HistogramsPanel
from gui.panels.layer_table import LayerTablePanel
from gui.panels.monitor import ROUTES, ProbeMonitor
from gui.panels.runs import RunsPanel
from gui.panels.sequences import SequencePanel
from gui.panels.trained import WatchedPanel

BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea

Factory = Callable[[Any, Any], QWidget]  # (window, training controller or None) -> panel


@dataclass(frozen=True)
class PanelSpec:
    """One dock panel. ``factory`` builds it and binds it to the window and controller;
    ``applies`` (None: every project) says whether the open project uses it."""

    key: str
    title: str
    area: Qt.DockWidgetArea
    rank: int
    factory: Factory
    applies: Callable[[Any], bool] | None = None


def _plain(cls: type[QWidget]) -> Factory:
    """A live inspection panel: the ``ProbeMonitor`` binds it once all are docked."""
    return lambda _window, _controller: cls()


def _bound(cls: type[QWidget]) -> Factory:
    """A panel that follows the window's project and the training controller."""
    def make(window: Any, controller: Any) -> QWidget:
        panel = cls()
        panel.bind_window(window)
        controller = controller if controller is not None else getattr(window, "training", None)
        if controller is not None:
            panel.bind_controller(controller)
        return panel

    return make


def _watching(cls: type[WatchedPanel]) -> Factory:
    def make(window: Any, _controller: Any) -> QWidget:
        panel = cls(window)
        panel.bind_window(window)
        return panel

    return make


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec("filters", "Filters", BOTTOM, 1, _plain(FiltersPanel)),
    PanelSpec("activations", "Activations", BOTTOM, 2, _plain(ActivationsPanel), is_not_gan),
    PanelSpec("boundary", "Boundary", BOTTOM, 3, _plain(BoundaryPanel), is_planar),
    PanelSpec("confusion", "Confusion", BOTTOM, 4, _plain(ConfusionPanel), has_class_outputs),
    PanelSpec("histograms", "Histograms", BOTTOM, 5, _plain(HistogramsPanel)),
    PanelSpec("adversarial", "Adversarial", BOTTOM, 6, _bound(AdversarialPanel),
              has_classifier),
    PanelSpec("explain", "Explain", BOTTOM, 7, _bound(ExplainPanel), has_classifier),
    PanelSpec("sequences", "Sequences", BOTTOM, 8, _watching(SequencePanel),
              is_sequence_model),
    PanelSpec("autoencoder", "Autoencoder", BOTTOM, 9, _watching(AutoencoderPanel),
              has_reconstruction_head),
    PanelSpec("gan", "GAN", BOTTOM, 10, gan_panel, is_gan),
    PanelSpec("layers", "Layers", BOTTOM, 14, _watching(LayerTablePanel)),
    PanelSpec("runs", "Runs", BOTTOM, 15, _bound(RunsPanel)),
)
PROBED = tuple(dict.fromkeys(ROUTES.values()))  # the panels the ProbeMonitor feeds
# The window's own docks and the training's Metrics, placed among the panels' tabs.
FIXED_RANKS = {"metrics": 0, "problems": 11, "code": 12, "history": 13}


def spec(key: str) -> PanelSpec:
    """The declaration of panel ``key`` (KeyError for an unknown key)."""
    for entry in PANELS:
        if entry.key == key:
            return entry
    raise KeyError(key)


def tab_rank(key: str) -> int:
    """Where dock ``key`` goes among the bottom tabs, left to right; unknown docks last."""
    ranks = {entry.key: entry.rank for entry in PANELS} | FIXED_RANKS
    return ranks.get(key, len(ranks))


def install_panels(window: Any, controller: Any = None,
                   keys: Iterable[str] | None = None) -> dict[str, QWidget]:
    """Add the panels (all, or those named in ``keys``) to ``window`` in tab order; returns
    them by key. With a ``controller`` (``gui.training.TrainingController``) the live panels
    follow training; without, the window's own (``window.training``) where it has one."""
    wanted = set(keys) if keys is not None else None
    chosen = sorted((s for s in PANELS if wanted is None or s.key in wanted),
                    key=lambda s: s.rank)
    panels: dict[str, QWidget] = {}
    for entry in chosen:
        panel = entry.factory(window, controller)
        dock = window.add_panel(panel, entry.title, entry.area, entry.key)
        if isinstance(panel, AnalysisPanel):
            dock.visibilityChanged.connect(panel.came_into_view)
        panels[entry.key] = panel
    if controller is not None and all(key in panels for key in PROBED):
        ProbeMonitor(window, controller, {key: panels[key] for key in PROBED})
    for entry in chosen:
        if entry.applies is not None:
            window.set_contextual_dock(entry.key, entry.applies)
    return panels


__all__ = ["FIXED_RANKS", "PANELS", "PROBED", "PanelSpec", "install_panels", "spec",
           "tab_rank"]
