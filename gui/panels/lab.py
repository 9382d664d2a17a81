"""What the Adversarial and Explain panels share: a trained classifier ready to attack or
explain, and the drawing helpers both use.

``prepare_lab`` is their ``gui.prepared.PreparedCache`` build: on a worker it compiles a
project snapshot and turns its validation and training sets into tensors (kept while the
graph, data settings and weights stay the same). ``attack_blocker`` says, from the graph
alone, why a project cannot be analysed yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from gui.panels.task_notes import lab_reason
from gui.prepared import Snapshot, prepare_network
from runtime.probes.payloads import ProbeSamples

if TYPE_CHECKING:  # the GUI imports torch lazily, on first analysis
    from runtime.compile import Compiled

NEEDS_WEIGHTS = "Train the network first: attacks need trained weights"
NEEDS_CLASSIFICATION = "Attacks need a classification project"
SAMPLES = 10  # validation samples offered by the pickers


def output_tasks(graph: Any) -> list[str]:
    """The task of each Output node, in node-id order."""
    return [str(n.param("task") or "classification") for n in
            sorted(graph.nodes_of_type("Output"), key=lambda n: n.id)]


def is_classification(project: Any) -> bool:
    tasks = output_tasks(project.graph)
    return bool(tasks) and tasks[0] == "classification"


def attack_blocker(project: Any, needs: str = "attacks") -> str | None:
    """Why ``project`` cannot be attacked (explained) now, as the panel's empty-state text;
    None when it can. Cheap: reads the graph, never compiles."""
    if project is None:
        return "Open or create a project first"
    graph = project.graph
    if not graph.nodes:
        return f"Build and train a classifier first: {needs} need a trained network"
    tasks = output_tasks(graph)
    if not tasks:
        return f"Add an Output node with task 'classification': {needs} need a classifier"
    reason = lab_reason(project)
    if reason is not None:
        return f"{needs.capitalize()} work on classifiers, and {reason}"
    if tasks[0] != "classification":
        text = NEEDS_CLASSIFICATION if needs == "attacks" else \
            f"{needs.capitalize()} need a classification project"
        return (f"{text} (the Output's task is {tasks[0]}; set it to classification and "
                "train)")
    inputs = graph.nodes_of_type("Input")
    if len(inputs) != 1:
        return f"{needs.capitalize()} need a network with exactly one Input node"
    if inputs[0].param("dtype") == "long":
        return (f"{needs.capitalize()} change input values a little, and this network reads "
                "token ids (whole words); the Sequences panel shows what it reads")
    if not project.weights:
        return NEEDS_WEIGHTS if needs == "attacks" else \
            f"Train the network first: {needs} need trained weights"
    return None


@dataclass
class Prepared:
    """A compiled, trained network in eval mode and its data, as tensors and numpy."""

    key: str
    compiled: Compiled
    bundle: Any
    module: Any
    x_val: Any  # torch tensors (CPU)
    y_val: Any
    x_train: Any
    value_range: tuple[float, float]
    class_names: list[str]
    feature_names: list[str]
    input_shape: tuple[int, ...]
    _picks: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3

    @property
    def num_classes(self) -> int:
        return len(self.class_names) or int(getattr(self.bundle, "num_classes", 0))

    @property
    def range_width(self) -> float:
        lo, hi = self.value_range
        width = float(np.max(np.asarray(hi) - np.asarray(lo)))
        return width if np.isfinite(width) and width > 0 else 1.0

    def picks(self, page: int = 0, n: int = SAMPLES) -> ProbeSamples:
        """``runtime.probes.views.pick_probe_samples``: a few validation samples per class."""
        if page not in self._picks:
            from runtime.probes.views import pick_probe_samples

            self._picks[page] = pick_probe_samples(self.bundle, n, seed=page)
        return self._picks[page]

    def layer_name(self, node_id: int) -> str:
        name = self.compiled.module_names.get(node_id)
        if name is None:
            node = self.compiled.graph.nodes.get(node_id)
            what = node.label if node is not None else f"node {node_id}"
            raise ValueError(f"{what} has no weights; pick a Conv2d or Linear layer")
        return name


def prepare_lab(snap: Snapshot) -> Prepared:
    """The network of ``snap`` ready to attack or explain (worker thread; a
    ``gui.prepared.PreparedCache`` keeps it per revision). ValueError with a one-line message
    when the project cannot be compiled, its data not loaded, or it is no classifier."""
    from runtime.evaluation import dataset_tensors

    compiled, bundle = prepare_network(snap)
    if bundle.input_dtype != "float":
        raise ValueError(f"dataset {bundle.name} has token inputs; attacks and "
                         "saliency need float inputs")
    module = compiled.module
    x_val, y_val = dataset_tensors(bundle.val)
    if len(x_val) == 0:
        raise ValueError(f"dataset {bundle.name} has no validation samples; set its "
                         "validation split above 0")
    x_train, _ = dataset_tensors(bundle.train, 2000)
    lo, hi = bundle.value_range
    return Prepared(
        key=snap.key, compiled=compiled, bundle=bundle, module=module,
        x_val=x_val.float(), y_val=y_val, x_train=x_train.float(),
        value_range=(float(np.min(lo)), float(np.max(hi))),
        class_names=list(bundle.class_names or []),
        feature_names=list(bundle.feature_names or []),
        input_shape=tuple(int(s) for s in bundle.input_shape))


def class_name(names: list[str], index: Any) -> str:
    i = int(index)
    return names[i] if 0 <= i < len(names) else str(i)


# -- drawing helpers shared by the two panels --------------------------------------------------
def display_image(sample: Any) -> np.ndarray | None:
    """A (C, H, W) sample as (H, W) (one channel) or (H, W, 3) float values; None when the
    sample is not an image (vectors: drawn as bars)."""
    a = np.asarray(sample, dtype=np.float32)
    if a.ndim != 3:
        return None
    if a.shape[0] == 1:
        return a[0]
    if a.shape[0] == 3:
        return np.moveaxis(a, 0, -1)
    return a.mean(axis=0)


def signed_map(delta: Any) -> np.ndarray:
    """A perturbation or attribution as one (H, W) signed map (channels averaged) or a flat
    vector for non-images."""
    a = np.asarray(delta, dtype=np.float32)
    if a.ndim == 3:
        return a[0] if a.shape[0] == 1 else a.mean(axis=0)
    return a.reshape(-1)


def grey_lut() -> np.ndarray:
    ramp = np.linspace(0, 255, 256).astype(np.uint8)
    return np.stack([ramp, ramp, ramp], axis=1)


def heat_overlay(base: np.ndarray, heat: np.ndarray, value_range: tuple[float, float],
                 cmap: Any) -> np.ndarray:
    """The input in grey with ``heat`` (>= 0, any scale) laid over it in ``cmap``'s colours,
    opaque where the heat is strongest: (H, W, 4) uint8."""
    lo, hi = value_range
    span = (hi - lo) if hi > lo else 1.0
    grey = np.clip((np.asarray(base, np.float32) - lo) / span, 0, 1)
    if grey.ndim == 3:
        grey = grey.mean(axis=-1)
    top = float(np.max(heat)) if heat.size else 0.0
    h = np.clip(heat / top, 0, 1) if top > 0 else np.zeros_like(heat)
    colors = cmap.map(0.35 + 0.65 * h.reshape(-1), mode="float")[:, :3].reshape(*h.shape, 3)
    alpha = np.clip((h - 0.15) / 0.85, 0, 1)[..., None] ** 1.2 * 0.9  # faint heat: no tint
    rgb = (grey[..., None] * 0.6) * (1 - alpha) + colors * alpha
    out = np.concatenate([rgb, np.ones((*h.shape, 1), np.float32)], axis=-1)
    return np.clip(out * 255, 0, 255).astype(np.uint8)


def signed_rgb(values: np.ndarray, vmax: float, cmap: Any) -> np.ndarray:
    """(H, W) signed values -> (H, W, 3) uint8 on a diverging ``cmap`` at +-``vmax``."""
    v = float(vmax) if vmax > 0 else 1.0
    t = np.clip((np.asarray(values, np.float32) / v + 1) / 2, 0, 1)
    rgb = cmap.map(t.reshape(-1), mode="float")[:, :3].reshape(*t.shape, 3)
    return np.clip(rgb * 255, 0, 255).astype(np.uint8)


def vector_text(sample: Any, limit: int = 3) -> str:
    """A vector sample as short lines, one value each (cards of tabular and 2-D data)."""
    a = np.asarray(sample, dtype=np.float32).reshape(-1)
    lines = [f"{float(v):.2f}" for v in a[:limit]]
    if a.size > limit:
        lines.append(f"\u2026 {a.size} values")
    return "\n".join(lines)


__all__ = ["NEEDS_CLASSIFICATION", "NEEDS_WEIGHTS", "Prepared", "SAMPLES", "attack_blocker",
           "class_name", "display_image", "grey_lut", "heat_overlay",
           "is_classification", "output_tasks", "prepare_lab", "signed_map",
           "signed_rgb", "vector_text"]
