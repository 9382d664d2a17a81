"""GAN examples (issue 8): a generator and a discriminator as two named groups of one graph.

Registered in ``resources.examples.make.EXAMPLES``; each network is laid out as the editor's
auto layout would, the generator above the discriminator, so the two group frames sit one under
the other.
"""

from __future__ import annotations

from typing import Any

from graph.layout import auto_layout, node_size
from graph.model import Graph, Node
from graph.project import Project
from graph.settings import DatasetSettings, TrainingSettings

NOISE = 16  # size of the generator's noise vector
ROW_GAP = 110.0  # between the two networks: room for the discriminator frame's title bar


def _chain(graph: Graph, *layers: tuple[str, dict[str, Any], str]) -> list[Node]:
    from resources.examples.make import chain

    nodes: list[Node] = []
    for layer in layers:
        nodes.append(chain(graph, nodes[-1] if nodes else None, layer))
    return nodes


def _place_group(graph: Graph, nodes: list[Node], top: float) -> float:
    """Lay the chain out as the editor's auto layout would (long chains wrap into two bands),
    starting at ``top``; returns the bottom of what it placed."""
    sub = Graph.from_dict(graph.subgraph_dict(n.id for n in nodes))
    bottom = top
    for node_id, (x, y) in auto_layout(sub).items():
        node = graph.nodes[node_id]
        node.pos = (x, y + top)
        bottom = max(bottom, y + top + node_size(node.type)[1])
    return bottom


def _gan(name: str, description: str, generator: list[tuple[str, dict[str, Any], str]],
         discriminator: list[tuple[str, dict[str, Any], str]], dataset: DatasetSettings,
         training: TrainingSettings) -> Project:
    graph = Graph()
    g_nodes = _chain(graph, *generator)
    d_nodes = _chain(graph, *discriminator)
    bottom = _place_group(graph, g_nodes, 0.0)
    _place_group(graph, d_nodes, bottom + ROW_GAP)
    graph.add_group([n.id for n in g_nodes], "Generator", role="generator")
    graph.add_group([n.id for n in d_nodes], "Discriminator", role="discriminator")
    options = {"mode": "gan", "d_steps": 1, "label_smoothing": 0.1, **training.options}
    training.options = options
    return Project(graph=graph, name=name, description=description, dataset=dataset,
                   training=training)


def gan_ring() -> Project:
    width = 64
    return _gan(
        "gan_ring",
        "A GAN learns a ring of 8 Gaussians. The generator turns 16 random numbers into a "
        "point; the discriminator tells its points from real ones, and each improves by "
        "beating the other. Watch the GAN panel: generated points spread over the ring, and "
        "modes_covered counts how many of the 8 clusters they reach (a collapsed generator "
        "sits on a few).",
        [("Input", {"shape": (NOISE,)}, "noise"),
         ("Linear", {"out_features": width}, "g_fc1"), ("ReLU", {}, "g_relu1"),
         ("Linear", {"out_features": width}, "g_fc2"), ("ReLU", {}, "g_relu2"),
         ("Linear", {"out_features": 2}, "g_point"),
         ("Output", {"task": "regression"}, "sample")],
        [("Input", {"shape": (2,)}, "point"),
         ("Linear", {"out_features": width}, "d_fc1"),
         ("LeakyReLU", {"negative_slope": 0.2}, "d_relu1"),
         ("Linear", {"out_features": width}, "d_fc2"),
         ("LeakyReLU", {"negative_slope": 0.2}, "d_relu2"),
         ("Linear", {"out_features": 1}, "d_logit"),
         ("Output", {"task": "classification", "loss": "bce"}, "real_or_fake")],
        DatasetSettings(name="gan_ring", samples=10240, noise=0.1, val_split=0.0, seed=0),
        TrainingSettings(optimizer="adam", lr=0.01, batch_size=512, epochs=100,
                         schedule="cosine", seed=0,
                         options={"d_lr": 0.01, "g_lr": 0.01, "r1": 0.1}),
    )


def gan_digits() -> Project:
    return _gan(
        "gan_digits",
        "A GAN draws 8x8 handwritten digits. The generator maps 16 random numbers to 64 "
        "pixels; the discriminator learns to tell them from the real digits. The GAN panel "
        "shows a grid drawn from the same noise after every epoch, turning from grey blur "
        "into digit-like strokes.",
        [("Input", {"shape": (NOISE,)}, "noise"),
         ("Linear", {"out_features": 128}, "g_fc1"), ("ReLU", {}, "g_relu1"),
         ("Linear", {"out_features": 64}, "g_pixels"), ("Sigmoid", {}, "g_sigmoid"),
         ("Reshape", {"shape": (1, 8, 8)}, "g_image"),
         ("Output", {"task": "regression"}, "sample")],
        [("Input", {"shape": (1, 8, 8)}, "image"),
         ("Flatten", {}, "d_flatten"),
         ("Linear", {"out_features": 128}, "d_fc1"),
         ("LeakyReLU", {"negative_slope": 0.2}, "d_relu1"),
         ("Linear", {"out_features": 1}, "d_logit"),
         ("Output", {"task": "classification", "loss": "bce"}, "real_or_fake")],
        DatasetSettings(name="digits", val_split=0.0, seed=0),
        TrainingSettings(optimizer="adam", lr=0.003, batch_size=64, epochs=60,
                         schedule="cosine", seed=0, options={"d_lr": 0.003, "g_lr": 0.003}),
    )


EXAMPLES = {"gan_ring": gan_ring, "gan_digits": gan_digits}
