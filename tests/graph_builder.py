"""A terse way for tests to write graphs: ``build("Conv2d", "conv1", x, out_channels=8)``."""

from __future__ import annotations

from typing import Any

from graph.model import Edge, Graph, Node


class Builder:
    """Adds nodes to its own graph and wires each given source to the node's inputs in port
    order."""

    def __init__(self) -> None:
        self.graph = Graph()

    def __call__(self, layer_id: str, name: str, *sources: Node, **params: Any) -> Node:
        node = self.graph.add_node(layer_id, params, name=name)
        assert node.spec is not None
        for source, port in zip(sources, node.spec.inputs, strict=False):
            self.graph.connect(Edge(source.id, "out", node.id, port.name))
        return node
