"""The shapes of the ONNX graph's tensors while the import walks it.

ONNX's own shape inference gives most of them, but loses track where an exporter computes a
reshape target at run time (the legacy exporter's channel shuffle: Shape, Gather, Div, Cast,
Concat, Reshape), and every tensor after that point is then of unknown size. The graph being
built knows better: each tensor that became a catalog layer's output has exact sizes, which
Plexus' own shape inference (layers run on the meta device) gives. So a size ONNX does not
know is taken from there, with ONNX's batch dimension kept.
"""

from __future__ import annotations

from typing import Any

from runtime.import_builder import GraphBuilder, Ref
from runtime.shapes import infer_shapes

Dims = list[int | str]


def _known(dims: Dims) -> bool:
    return all(isinstance(d, int) and d > 0 for d in dims[1:])


class TensorShapes:
    """``get(name)``: the dims of an ONNX value (batch first, symbolic sizes as strings),
    ONNX's where it knows every size after the batch, else the built layer's."""

    def __init__(self, inferred: dict[str, Dims], values: dict[str, Any],
                 builder: GraphBuilder) -> None:
        self.inferred = inferred
        self.values = values
        self.builder = builder
        self._built: dict[int, dict[str, tuple[int, ...]]] = {}
        self._built_for: tuple[int, int] = (-1, -1)

    def get(self, name: str, default: Dims | None = None) -> Dims | None:
        dims = self.inferred.get(name)
        if dims is not None and _known(dims):
            return dims
        value = self.values.get(name)
        built = self.layer_shape(value) if isinstance(value, Ref) else None
        if built is None:
            return dims if dims is not None else default
        batch = dims[0] if dims else "batch"
        return [batch, *built[1:]]

    def layer_shape(self, ref: Ref) -> tuple[int, ...] | None:
        """The shape of a built layer's output (batch 2), as Plexus' shape inference gives it."""
        graph = self.builder.graph
        size = (len(graph.nodes), len(graph.edges))
        if size != self._built_for:  # the graph grew since the last inference
            self._built = infer_shapes(graph).outputs
            self._built_for = size
        return self._built.get(ref.node, {}).get(ref.port)
