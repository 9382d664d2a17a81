"""Example projects for transfer learning, few-shot learning and multi-task heads (issue 8).

- shapes_source: a CNN trained on five shape classes, shipped trained.
- fewshot_scratch / fewshot_transfer: five other shapes from a few labelled samples each
  (``FEWSHOT_PER_CLASS``), learned from scratch or on top of shapes_source's convolutional
  trunk (imported with ``runtime.transfer``, frozen).
- digits_multitask: one shared trunk and two Output heads, the digit and whether it is even.

Training shapes_source takes minutes, so its builder reuses the weights (and training history)
of the committed ``shapes_source.plexus`` when that file holds this very network with weights
that fit it, and trains only otherwise (delete the file to retrain). The training is seeded and
runs on one CPU thread, so it gives the same network every time on a machine.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from graph.model import Graph, Node
from graph.project import Project, ProjectError, load_project
from graph.settings import DatasetSettings, TrainingSettings

SOURCE_CLASSES = ["circle", "square", "triangle", "cross", "bar"]
NEW_CLASSES = ["ring", "hollow_square", "L", "T", "two_dots"]
FEWSHOT_PER_CLASS = 10  # labelled training samples per new class
TRUNK_CHANNELS = (16, 32, 128)
SOURCE_FILE = Path(__file__).resolve().parent / "shapes_source.plexus"


def _make() -> Any:
    """The example helpers (chain, _project, path); imported late: make imports this module."""
    from resources.examples import make

    return make


# -- shapes: source network ----------------------------------------------------------------------
def _trunk(graph: Graph, start: Node) -> Node:
    """Three blocks of 3x3 convolution, batch normalization, ReLU and 2x2 max pooling:
    32x32 -> 4x4 feature maps with ``TRUNK_CHANNELS[-1]`` channels."""
    make = _make()
    node = start
    for index, channels in enumerate(TRUNK_CHANNELS, start=1):
        node = make.chain(graph, node,
                          ("Conv2d", {"out_channels": channels, "kernel_size": (3, 3),
                                      "padding": (1, 1)}, f"conv{index}"),
                          ("BatchNorm2d", {}, f"bn{index}"), ("ReLU", {}, f"relu{index}"),
                          ("MaxPool2d", {}, f"pool{index}"))
    return node


def _head(graph: Graph, start: Node, classes: int) -> Node:
    """Global max pooling (is the feature anywhere?) and one Linear layer: few parameters, so
    a few samples per class can train it."""
    return _make().chain(graph, start,
                         ("MaxPool2d", {"kernel_size": (4, 4), "stride": (4, 4)}, "global_max"),
                         ("Flatten", {}, "flatten"),
                         ("Linear", {"out_features": classes}, "logits"),
                         ("Output", {"task": "classification"}, "shape"))


def _shapes_input(graph: Graph) -> Node:
    return graph.add_node("Input", {"shape": (1, 32, 32)}, name="image")


def _source_untrained() -> Project:
    graph = Graph()
    _head(graph, _trunk(graph, _shapes_input(graph)), len(SOURCE_CLASSES))
    return _make()._project(
        "shapes_source", graph,
        "A CNN trained on five generated shapes (circle, square, triangle, cross, bar) at "
        "random position, size, rotation and brightness. Shipped trained: its convolutional "
        "trunk is what fewshot_transfer reuses (File > Import Layers from Project).",
        DatasetSettings(name="shapes", samples=4000, noise=0.1, seed=0,
                        options={"classes": list(SOURCE_CLASSES)}),
        TrainingSettings(optimizer="adam", lr=0.003, batch_size=64, epochs=12, seed=0,
                         device="cpu", options={"threads": 1}))


def shapes_source() -> Project:
    """The source network with the shipped weights and history, trained here if the committed
    file does not hold them (see the module docstring)."""
    project = _source_untrained()
    shipped = _shipped(project)
    if shipped is not None:
        project.weights, project.history = shipped.weights, shipped.history
        return project
    from runtime.session import run_training

    result = run_training(project)
    if result.status not in ("completed", "early_stopped"):
        raise RuntimeError(f"training shapes_source failed: {result.message}")
    return project


def _shipped(project: Project) -> Project | None:
    """The committed shapes_source when it holds this network with weights that fit it."""
    try:
        shipped = load_project(SOURCE_FILE)
    except (ProjectError, OSError):
        return None
    if not shipped.weights or shipped.graph.to_dict() != project.graph.to_dict() \
            or shipped.dataset != project.dataset or shipped.training != project.training:
        return None
    from runtime.compile import compile_graph, load_node_state, node_state, weights_from_bytes

    compiled = compile_graph(project.graph)
    tensors = weights_from_bytes(shipped.weights)
    if load_node_state(compiled, tensors) or set(tensors) != set(node_state(compiled)):
        return None
    return shipped


# -- shapes: few-shot ----------------------------------------------------------------------------
def fewshot_dataset(per_class: int = FEWSHOT_PER_CLASS) -> DatasetSettings:
    """Five new shapes; ``per_class`` labelled training samples each, 50 validation samples
    each (the validation set does not depend on ``per_class``)."""
    return DatasetSettings(name="shapes", samples=500, noise=0.1, seed=1, val_split=0.5,
                           options={"classes": list(NEW_CLASSES), "train_per_class": per_class})


def _fewshot_training() -> TrainingSettings:
    return TrainingSettings(optimizer="adam", lr=0.01, batch_size=10, epochs=25, seed=0,
                            device="cpu")


def fewshot_scratch(per_class: int = FEWSHOT_PER_CLASS) -> Project:
    graph = Graph()
    _head(graph, _trunk(graph, _shapes_input(graph)), len(NEW_CLASSES))
    return _make()._project(
        "fewshot_scratch", graph,
        f"Few-shot learning from scratch: five new shapes (ring, hollow square, L, T, two dots) "
        f"from only {per_class} labelled images each. With so few samples the convolutions "
        "cannot learn good features: compare val_accuracy with fewshot_transfer.",
        fewshot_dataset(per_class), _fewshot_training())


def fewshot_transfer(per_class: int = FEWSHOT_PER_CLASS, freeze: bool = False,
                     lr_mult: float | None = 0.1) -> Project:
    """The fewshot_scratch network whose trunk (and its trained weights) is imported from
    shapes_source; frozen, or fine-tuned at ``lr_mult`` when ``freeze`` is False."""
    from runtime.transfer import import_layers, trunk_ids

    make = _make()
    source = shapes_source()
    project = Project(graph=Graph())
    image = _shapes_input(project.graph)
    trunk = trunk_ids(source.graph)
    new_ids = import_layers(source, trunk, project, (0.0, 0.0), freeze=freeze,
                            lr_mult=lr_mult)
    graph = project.graph
    first, last = graph.nodes[new_ids[0]], graph.nodes[new_ids[-1]]
    make.connect(graph, image, first, "in")
    _head(graph, last, len(NEW_CLASSES))
    how = ("frozen: only the new head trains" if freeze else
           f"fine-tuned at {lr_mult or 1.0:g} times the learning rate")
    result = make._project(
        "fewshot_transfer", graph,
        f"Transfer learning: the same network and data as fewshot_scratch ({per_class} images "
        "per new shape), but its convolutional trunk comes with the weights shapes_source "
        f"learned on five other shapes ({how}). Edges, corners and strokes carry over, so it "
        "beats learning from scratch by far." + ("" if freeze else " To keep the trunk as it "
                                                  "is and train only the head, tick Freeze on "
                                                  "its layers."),
        fewshot_dataset(per_class), _fewshot_training())
    result.weights = project.weights
    return result


# -- multi-task ----------------------------------------------------------------------------------
def _digits_trunk(graph: Graph) -> Node:
    make = _make()
    return make.chain(graph, None,
                      ("Input", {"shape": (1, 8, 8)}, "image"),
                      make._conv(16, "conv1"), ("ReLU", {}, "relu1"), ("MaxPool2d", {}, "pool1"),
                      make._conv(32, "conv2"), ("ReLU", {}, "relu2"), ("MaxPool2d", {}, "pool2"),
                      ("Flatten", {}, "flatten"),
                      ("Linear", {"out_features": 64}, "shared"), ("ReLU", {}, "relu3"))


def _digit_head(graph: Graph, trunk: Node) -> None:
    _make().chain(graph, trunk, ("Linear", {"out_features": 10}, "digit_logits"),
                  ("Output", {"task": "classification"}, "digit"))


def _even_head(graph: Graph, trunk: Node) -> None:
    _make().chain(graph, trunk, ("Linear", {"out_features": 2}, "even_logits"),
                  ("Output", {"task": "classification"}, "even"))


def _digits_training() -> TrainingSettings:
    return TrainingSettings(optimizer="adam", lr=0.004, batch_size=64, epochs=14, seed=0)


def digits_multitask() -> Project:
    graph = Graph()
    trunk = _digits_trunk(graph)
    _digit_head(graph, trunk)
    _even_head(graph, trunk)
    return _make()._project(
        "digits_multitask", graph,
        "Multi-task learning: one shared trunk reads the 8x8 digit and two Output heads answer "
        "two questions at once, which digit it is and whether it is even. Each head has its "
        "own loss and weight; the metrics are reported per head (val_accuracy/digit, "
        "val_accuracy/even), each as good as the same head trained alone.",
        DatasetSettings(name="digits_multitask", seed=0), _digits_training())


def digits_single_task(head: str) -> Project:
    """digits_multitask with only the ``head`` ("digit" or "even") Output, trained on that
    target alone: the baseline each multi-task head is compared with (not an example)."""
    if head not in ("digit", "even"):
        raise ValueError(f"head must be digit or even, not {head!r}")
    graph = Graph()
    trunk = _digits_trunk(graph)
    (_digit_head if head == "digit" else _even_head)(graph, trunk)
    project = _make()._project(f"digits_{head}_only", graph, f"digits_multitask's {head} head "
                               "alone.", DatasetSettings(name="digits_multitask", seed=0,
                                                          options={"target": head}),
                               _digits_training())
    return project


def with_training(project: Project, **changes: Any) -> Project:
    """``project`` with some training settings changed (tests shorten runs this way)."""
    project.training = dataclasses.replace(project.training, **changes)
    return project


EXAMPLES = {
    "shapes_source": shapes_source,
    "fewshot_scratch": fewshot_scratch,
    "fewshot_transfer": fewshot_transfer,
    "digits_multitask": digits_multitask,
}
