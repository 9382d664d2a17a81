"""The live inspection panels, wired to the window and the training controller.

``gui.panels.registry`` docks the Filters, Activations, Boundary, Confusion and Histograms
panels and gives them a ``ProbeMonitor`` that

* routes the controller's ``probe`` events to the panel that draws them (panels keep only the
  latest payload and repaint from a timer, see ``monitor_panel.ThrottledRedraw``);
* builds the probe configuration (``runtime.probes.schedule``'s format) from what is on
  screen and what is selected: a panel that is hidden, closed or behind another tab asks for
  nothing, so an unseen panel costs the training process nothing. Selecting nodes on the canvas
  picks the layer of every panel (filters of the selected Conv2d/Linear, activations of the
  selected node, the hidden representation of the selected layer, its histograms);
* pushes that configuration to the controller whenever it changes, and, while no run is in
  progress and the project has weights, asks for one round of probes on them, so opening a
  trained project or clicking a layer shows its pictures without training;
* loads the project's validation samples for the activations picker (and the data set's shape
  and class names) on a worker thread, as the inspector's dataset preview does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

from graph.catalog import FILTERS
from gui.dataset_cache import shared_datasets
from gui.panels.activations import EMPTY_TEXT as ACTIVATIONS_EMPTY
from gui.panels.activations import ActivationsPanel
from gui.panels.boundary import BoundaryPanel
from gui.panels.confusion import EMPTY_TEXT as CONFUSION_EMPTY
from gui.panels.confusion import ConfusionPanel
from gui.panels.filters import FiltersPanel
from gui.panels.histograms import HistogramsPanel
from gui.panels.task_notes import task_note
from gui.panels.visibility import on_screen
from gui.tasks import TaskRunner
from runtime.events import Probe
from runtime.probes.payloads import ProbeSamples

# which panel draws each probe
ROUTES = {"filters": "filters", "activations": "activations", "boundary": "boundary",
          "hidden": "boundary", "confusion": "confusion", "histograms": "histograms"}
BOUNDARY_RESOLUTION = 96  # grid points a side: smooth edges, ~9k points through an MLP
# the live panels whose empty state follows the project's task (gui.panels.task_notes)
OWN_TEXTS = {"activations": ACTIVATIONS_EMPTY, "confusion": CONFUSION_EMPTY}
PUSH_DELAY_MS = 40  # coalesce a burst of selection / visibility changes into one push


def _node_label(node: Any) -> str:
    return f"{node.type} '{node.name}'"


class ProbeMonitor(QObject):
    """Keeps the probe configuration in step with the visible panels and the selection, and
    hands probe payloads to the panels. See the module docstring."""

    def __init__(self, window: Any, controller: Any, panels: dict[str, QWidget]) -> None:
        super().__init__(window)
        self.setObjectName("probe_monitor")
        self.window = window
        self.controller = controller
        self.panels = panels
        self.selection: list[int] = []
        self.config: dict[str, Any] = {}  # the last configuration pushed
        self.dataset: DatasetInfo | None = None  # None while loading
        self.notes: dict[str, str] = {}  # panel key -> why it does not apply to this project
        self._activation_node: int | None = None  # None: every node
        self._choices: Any = None  # the layer lists the pickers were last filled with
        self._dataset_key: Any = None
        self._generation = 0
        self._want_probes = False
        self._loader = TaskRunner(self)
        self._push_timer = QTimer(self)
        self._push_timer.setSingleShot(True)
        self._push_timer.setInterval(PUSH_DELAY_MS)
        self._push_timer.timeout.connect(self.push_config)

        controller.probe.connect(self.on_probe)
        if hasattr(controller, "state_changed"):
            controller.state_changed.connect(self._state_changed)
        if hasattr(controller, "project_updated"):
            controller.project_updated.connect(self._project_updated)
        window.selection_changed.connect(self.set_selection)
        window.project_changed.connect(self.project_changed)
        if hasattr(window, "analysis_updated"):
            window.analysis_updated.connect(self._analysis_updated)
        if hasattr(window, "theme_changed"):
            window.theme_changed.connect(self.refresh_theme)
        inspector = getattr(window, "inspector", None)
        if inspector is not None and hasattr(inspector, "settings_changed"):
            inspector.settings_changed.connect(self._settings_changed)
        # bound methods, not lambdas: Qt drops them with the monitor when the window goes
        self._docks: dict[Any, str] = {}
        docks = getattr(window, "docks", {})
        for key in panels:
            dock = docks.get(key)
            if dock is not None:
                self._docks[dock] = key
                dock.visibilityChanged.connect(self._dock_visibility)
        filters: FiltersPanel = panels["filters"]  # type: ignore[assignment]
        filters.node_chosen.connect(self._probes_needed)
        filters.options_changed.connect(self._probes_needed)
        activations: ActivationsPanel = panels["activations"]  # type: ignore[assignment]
        activations.node_chosen.connect(self._activation_chosen)
        activations.sample_chosen.connect(self._probes_needed)
        boundary: BoundaryPanel = panels["boundary"]  # type: ignore[assignment]
        boundary.node_chosen.connect(self._probes_needed)
        # the Histograms panel draws every layer's payload: picking one needs no new probe
        self.project_changed(window.project)

    # -- the graph --------------------------------------------------------------------------------
    @property
    def graph(self) -> Any:
        return self.window.graph

    def _order(self) -> list[int]:
        graph = self.graph
        try:
            return list(graph.topological_order())
        except Exception:  # a cycle: the analysis reports it; any order will do here
            return sorted(graph.nodes)

    def weighted(self, node_id: int) -> bool:
        """Whether a node has weights to show (its catalog declaration says it can have them,
        or the analysis counts parameters)."""
        node = self.graph.nodes.get(node_id)
        if node is None:
            return False
        spec = node.spec
        if spec is not None and spec.weights:
            return True
        shapes = getattr(getattr(self.window, "analysis", None), "shapes", None)
        return bool(getattr(shapes, "params", {}).get(node_id, 0))

    def _kind(self, node_id: int) -> str:
        node = self.graph.nodes.get(node_id)
        return node.type if node is not None else ""

    def _has(self, node_id: int, trait: str) -> bool:
        node = self.graph.nodes.get(node_id)
        return node is not None and node.spec is not None and node.spec.has(trait)

    def input_nodes(self) -> list[int]:
        return [i for i in self._order() if self._kind(i) == "Input"]

    def default_filters_node(self) -> int | None:
        order = [i for i in self._order() if self.weighted(i)]
        convs = [i for i in order if self._has(i, FILTERS)]
        return (convs or order or [None])[0]

    def default_hidden_node(self) -> int | None:
        """The representation the last layer with weights reads: the network's own features
        just before its decision."""
        order = self._order()
        weighted = [i for i in order if self.weighted(i)]
        if weighted:
            edges = self.graph.in_edges(weighted[-1])
            if edges and self._kind(edges[0].src) != "Input":
                return edges[0].src
        hidden = [i for i in order if self._kind(i) not in ("Input", "Output")]
        return hidden[-1] if hidden else None

    def _layer_choices(self) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        """(layers with weights, every layer but Outputs) in dependency order, labelled."""
        nodes = self.graph.nodes
        shapes = getattr(getattr(self.window, "analysis", None), "shapes", None)
        counts = getattr(shapes, "params", None) or {}
        weighted, everything = [], []
        for i in self._order():  # what ``weighted`` and ``_kind`` say, in one pass (per edit)
            node = nodes[i]
            spec, label = node.spec, _node_label(node)
            if (spec is not None and spec.weights) or counts.get(i, 0):
                weighted.append((i, label))
            if node.type != "Output":
                everything.append((i, label))
        return weighted, everything

    def refresh_nodes(self) -> None:
        """Fill every panel's layer picker from the graph (after edits and project changes)."""
        graph = self.graph
        self._choices = weighted, everything = self._layer_choices()
        hidden = [(i, label) for i, label in everything if self._kind(i) != "Input"]
        filters: FiltersPanel = self.panels["filters"]  # type: ignore[assignment]
        current = filters.node_id if filters.node_id in graph.nodes else None
        filters.set_nodes(weighted, current or self.default_filters_node())
        activations: ActivationsPanel = self.panels["activations"]  # type: ignore[assignment]
        if self._activation_node not in graph.nodes:
            self._activation_node = None
        shown = activations.node_id if activations.node_id in graph.nodes else None
        activations.set_nodes(everything, self._activation_node or shown
                              or next((i for i, _ in hidden), None), self.input_nodes())
        boundary: BoundaryPanel = self.panels["boundary"]  # type: ignore[assignment]
        current = boundary.node_id if boundary.node_id in graph.nodes else None
        boundary.set_nodes(hidden, current or self.default_hidden_node())
        histograms: HistogramsPanel = self.panels["histograms"]  # type: ignore[assignment]
        current = histograms.node_id if histograms.node_id in graph.nodes else None
        histograms.set_nodes(weighted, current or (weighted[0][0] if weighted else None))
        self.schedule_push()

    # -- selection and visibility -----------------------------------------------------------------
    def set_selection(self, ids: list[int]) -> None:
        """The canvas selection: each panel follows the first selected node it can show."""
        self.selection = [int(i) for i in ids if int(i) in self.graph.nodes]
        weighted = [i for i in self.selection if self.weighted(i)]
        if weighted:
            filters: FiltersPanel = self.panels["filters"]  # type: ignore[assignment]
            filters.set_node(weighted[0])
            histograms: HistogramsPanel = self.panels["histograms"]  # type: ignore[assignment]
            histograms.set_node(weighted[0])
        activations: ActivationsPanel = self.panels["activations"]  # type: ignore[assignment]
        self._activation_node = self.selection[0] if self.selection else None
        if self._activation_node is not None:
            activations.set_node(self._activation_node)
        hidden = [i for i in self.selection if self._kind(i) not in ("Input", "Output")]
        if hidden:
            boundary: BoundaryPanel = self.panels["boundary"]  # type: ignore[assignment]
            boundary.set_node(hidden[0])
        self.schedule_push(probes=True)

    def _activation_chosen(self, node_id: int) -> None:
        self._activation_node = int(node_id)
        self.schedule_push(probes=True)

    def visible(self, key: str) -> bool:
        """A panel the user can see right now (not closed, not behind another tab)."""
        return on_screen(self.panels[key])

    def _dock_visibility(self, visible: bool) -> None:
        key = self._docks.get(self.sender())
        if key is None:
            return
        if visible:
            self.panels[key].request_repaint()  # type: ignore[attr-defined]
        self.schedule_push(probes=visible)

    def _probes_needed(self, *_args: Any) -> None:
        """A panel's own choice changed (layer, input channel, sample): new pictures."""
        self.schedule_push(probes=True)

    def _analysis_updated(self, _analysis: Any) -> None:
        if self._layer_choices() != self._choices:  # most edits change no picker: no refill
            self.refresh_nodes()

    # -- configuration -----------------------------------------------------------------------------
    def build_config(self) -> dict[str, Any]:
        """The probes the visible panels need, in ``ProbeSchedule``'s format."""
        config: dict[str, Any] = {}
        graph = self.graph
        if self.visible("filters"):
            filters: FiltersPanel = self.panels["filters"]  # type: ignore[assignment]
            node = filters.node_id if filters.node_id in graph.nodes else \
                self.default_filters_node()
            if node is not None:
                channel = filters.in_channel
                config["filters"] = node if channel is None else {"node_id": node,
                                                                  "in_channel": channel}
        if self.visible("activations") and "activations" not in self.notes:
            activations: ActivationsPanel = self.panels["activations"]  # type: ignore
            node = self._activation_node if self._activation_node in graph.nodes else None
            ids = None if node is None else [*(i for i in self.input_nodes() if i != node),
                                              node]
            config["activations"] = {"node_ids": ids, "sample_index": activations.sample_index}
        if self.visible("boundary"):
            boundary: BoundaryPanel = self.panels["boundary"]  # type: ignore[assignment]
            if self.two_d() is not False:
                config["boundary"] = {"resolution": BOUNDARY_RESOLUTION}
            node = boundary.node_id if boundary.node_id in graph.nodes else \
                self.default_hidden_node()
            if node is not None:
                config["hidden"] = node
        task = self.dataset.task if self.dataset else "classification"
        if self.visible("confusion") and "confusion" not in self.notes \
                and task == "classification":
            config["confusion"] = True
        if self.visible("histograms"):
            config["histograms"] = True
        return config

    def two_d(self) -> bool | None:
        """Whether the data set gives 2-D samples (None while unknown)."""
        shape = self.dataset.input_shape if self.dataset else None
        return None if shape is None else tuple(shape) == (2,)

    def schedule_push(self, probes: bool = False) -> None:
        self._want_probes = self._want_probes or probes
        self._push_timer.start()

    def push_config(self) -> bool:
        """Send the configuration if it changed; then, while idle with weights, ask for one
        round of probes when something new is on screen. True when a request went out."""
        self._push_timer.stop()
        config = self.build_config()
        changed = config != self.config
        if changed:
            self.config = copy.deepcopy(config)
            self.controller.set_probe_config(copy.deepcopy(config))
        want, self._want_probes = self._want_probes or changed, False
        if want and config and self.idle() and getattr(self.window.project, "weights", None):
            return bool(self.controller.request_probes(self.window.project))
        return False

    def idle(self) -> bool:
        state = getattr(self.controller, "state", "idle")
        return state in ("idle", None)

    def _project_updated(self, project: Any) -> None:
        """Weights reset: the pictures of the old weights would mislead."""
        if project is self.window.project and not getattr(project, "weights", None):
            for panel in self.panels.values():
                panel.reset()  # type: ignore[attr-defined]

    def _state_changed(self, state: str) -> None:
        if state == "idle":
            self.schedule_push()

    # -- payloads ----------------------------------------------------------------------------------
    def on_probe(self, result: dict[str, Any]) -> None:
        """One probe's result from the controller: to the panel that draws it."""
        if result.get("probe") == "batch":  # a step hook's bundle, if it was not unpacked
            for one in Probe.of(result).results():
                self.on_probe(one)
            return
        key = ROUTES.get(str(result.get("probe")))
        if key is not None:
            self.panels[key].submit(result)  # type: ignore[attr-defined]

    # -- the project and its data -----------------------------------------------------------------
    def project_changed(self, project: Any) -> None:
        """A new or opened project: forget the pictures, load its data set's samples."""
        for panel in self.panels.values():
            panel.reset()  # type: ignore[attr-defined]
        self.selection, self._activation_node = [], None
        self.refresh_nodes()
        self.apply_notes(project)
        self.load_dataset(project)
        self.schedule_push(probes=True)

    def apply_notes(self, project: Any) -> None:
        """Panels that do not draw this project's task say so, and ask for no probes."""
        self.notes = {key: note for key in OWN_TEXTS
                      if (note := task_note(key, project)) is not None}
        for key, own in OWN_TEXTS.items():
            panel = self.panels[key]
            panel.empty_text = self.notes.get(key, own)  # type: ignore[attr-defined]
            if panel.is_empty:  # type: ignore[attr-defined]
                panel.show_empty()  # type: ignore[attr-defined]

    def _settings_changed(self, section: str, _field: str) -> None:
        self.apply_notes(self.window.project)  # the training mode may have made it a GAN
        if section == "dataset":
            self.load_dataset(self.window.project)

    def load_dataset(self, project: Any, wait: bool = False) -> None:
        """Load the data set's shape, classes and probe samples off the GUI thread (``wait``:
        on this one, for tests)."""
        settings = getattr(project, "dataset", None)
        if settings is None:
            return
        key = repr(settings.to_dict()) if hasattr(settings, "to_dict") else repr(settings)
        if key == self._dataset_key:
            return
        self._dataset_key = key
        self._generation += 1
        self.dataset = None
        activations: ActivationsPanel = self.panels["activations"]  # type: ignore[assignment]
        activations.set_samples(None)
        settings, generation = copy.deepcopy(settings), self._generation
        if wait:
            self._dataset_loaded(generation, *_load_dataset(settings))
        else:
            self._loader.run("dataset", lambda _progress, cancel: _load_dataset(settings, cancel),
                             on_done=lambda loaded: self._dataset_loaded(generation, *loaded))

    def _dataset_loaded(self, generation: int, info: DatasetInfo | None, error: str) -> None:
        if generation != self._generation:
            return
        if error or info is None:
            name = getattr(self.window.project.dataset, "name", "")
            self.dataset = DatasetInfo(name=name, title="", error=error)
            return
        self.dataset = info
        names = list(info.class_names)
        activations: ActivationsPanel = self.panels["activations"]  # type: ignore[assignment]
        activations.set_samples(info.samples, names)
        boundary: BoundaryPanel = self.panels["boundary"]  # type: ignore[assignment]
        boundary.set_dataset(info.title or info.name, bool(self.two_d()),
                             names)
        confusion: ConfusionPanel = self.panels["confusion"]  # type: ignore[assignment]
        confusion.set_classes(names)
        confusion.empty_text = self.notes.get("confusion") or (
            CONFUSION_EMPTY if info.task == "classification" else None) or (
            f"The confusion matrix needs a classification data set; {info.title} is "
            "regression. Choose a classification data set in the project settings.")
        if confusion.is_empty:
            confusion.show_empty()
        self.schedule_push(probes=True)

    def refresh_theme(self, *_args: Any) -> None:
        for panel in self.panels.values():
            panel.refresh_theme()  # type: ignore[attr-defined]


def _load_dataset(settings: Any, cancel: Callable[[], bool] | None = None
                  ) -> tuple[DatasetInfo | None, str]:
    """(``dataset_info``, "") or (None, why it cannot be loaded)."""
    try:
        return dataset_info(settings, cancel), ""
    except Exception as exc:  # DataError carries the user message
        return None, (str(exc) or type(exc).__name__).splitlines()[0]


@dataclass(frozen=True, eq=False)
class DatasetInfo:
    """What the panels need to know of a data set (or why it could not be loaded)."""

    name: str
    title: str  # the name the project's settings give it
    input_shape: tuple[int, ...] | None = None  # None: unknown
    task: str = "classification"
    class_names: list[str] = field(default_factory=list)
    samples: ProbeSamples | None = None  # the activations picker's, None when it has none
    error: str = ""  # why it could not be loaded


def dataset_info(settings: Any, cancel: Callable[[], bool] | None = None) -> DatasetInfo:
    """What the panels need to know of a data set: name, input shape, task, class names and
    the activations picker's samples (the same ones the training process probes). The load
    is the editor's shared, bounded one (``gui.dataset_cache``), which the preview also reads:
    a large generated set is never built whole in the editor."""
    from runtime.probes.views import pick_probe_samples

    loaded = shared_datasets().preview(settings, cancel)
    data = loaded.bundle
    try:  # a smaller stand-in's samples are not the ones training probes: none then
        samples = None if loaded.sampled_from else pick_probe_samples(data)
    except ValueError:
        samples = None
    return DatasetInfo(name=getattr(data, "name", settings.name), title=settings.name,
                       input_shape=tuple(data.input_shape), task=data.task,
                       class_names=list(data.class_names or []), samples=samples)


__all__ = ["DatasetInfo", "ProbeMonitor", "dataset_info"]
