"""The ONNX import's readers of merges: element-wise Add/Mul/Sub/Div and Concat of graph
tensors, and of the initializers they use directly (a positional embedding, a layer scale, a
class token expanded to the batch), which become Learned tensors. Mixed into
``LayerReaders``, whose helpers (``ref``, ``label``, ``rank``, ``tensor``) and walker state
they use; an Add that brings a MatMul's bias is ``LayerReaders.read_add``'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graph.catalog import LayerSpec
from graph.model import Edge
from runtime.import_builder import GraphBuilder, Ref
from runtime.onnx_shapes import TensorShapes
from runtime.onnx_values import Const, Unsupported


class MergeReaders:
    """Readers catalog declarations name for merges."""

    b: GraphBuilder
    values: dict[str, Any]
    shapes: TensorShapes
    consumers: Any
    created: dict[str, int]
    ref: Any  # LayerReaders.ref, .label, .rank, .tensor, .both_directions
    label: Any
    rank: Any
    tensor: Any
    both_directions: Any

    def read_merge(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        layer = specs[0]
        names = list(node.input[:2])
        refs = [self.operand(n, names[1 - i], node) for i, n in enumerate(names)]
        result = self.shapes.get(node.output[0])
        learned = any(isinstance(self.values.get(n), Const) for n in names)  # broadcasts alike
        if self.rank(names[0]) != self.rank(names[1]) and not learned and not (
                result is not None and result in [self.shapes.get(n) for n in names]):
            raise Unsupported(f"broadcasts {self.shapes.get(names[0])} with "
                              f"{self.shapes.get(names[1])}")
        inner = self.created.get(names[0])
        if inner is not None and self.b.graph.nodes[inner].type == layer.id \
                and self.consumers[names[0]] == 1 \
                and len(self.b.graph.in_edges(inner)) < len(layer.inputs):
            port = layer.inputs[len(self.b.graph.in_edges(inner))].name
            self.b.graph.connect(Edge(refs[1].node, refs[1].port, inner, port), check=False)
            self.created[node.output[0]] = inner
            return refs[0]
        ref = self.b.add(layer.id, {}, self.label(node), refs)
        self.created[node.output[0]] = ref.node
        return ref

    def operand(self, name: str, other: str, node: Any) -> Ref:
        """A graph tensor, or an initializer used directly as an operand of an Add or Mul (a
        positional embedding, a layer scale): a Learned tensor holding it. Its 1 x shape
        output broadcasts as the initializer did, so a leading 1 as long as the other
        operand's rank is dropped (1 x L x D: shape L x D)."""
        value = self.values.get(name)
        if not isinstance(value, Const) or value.value is None or not isinstance(
                self.values.get(other), Ref):
            return self.ref(name)
        array = np.asarray(value.value)
        shape = tuple(int(d) for d in array.shape)
        if array.size <= 1 or not np.issubdtype(array.dtype, np.floating):
            raise Unsupported(f"{node.op_type} by a constant number")
        if len(shape) >= self.rank(other):
            if len(shape) > self.rank(other) or shape[0] != 1:
                raise Unsupported(f"constant '{name}' of shape {'x'.join(map(str, shape))} "
                                  "where the batch is")
            shape = shape[1:]
        return self.b.add("LearnedTensor", {"shape": shape, "init": "normal"},
                          name or "learned", [],
                          {"value": self.tensor(array.reshape(shape))})

    def read_concat(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        spec = specs[0]
        axis = int(attrs.get("axis", 0))
        rank = self.rank(node.output[0])
        state = self.both_directions([self.values.get(n) for n in node.input])
        if state is not None and axis in (1, -1):
            return state
        if axis == 0 or (axis < 0 and rank and axis + rank == 0):
            raise Unsupported("joins along the batch dimension")
        like = next((v for v in (self.values.get(n) for n in node.input) if isinstance(v, Ref)),
                    None)
        refs = [self.repeated(n, like) for n in node.input]
        ref = refs[0]
        extra = len(spec.inputs) - 1
        for start in range(1, len(refs), extra):
            ref = self.b.add(spec.id, {spec.merge_dim: axis}, self.label(node),
                             [ref, *refs[start:start + extra]])
        return ref

    def repeated(self, name: str, like: Ref | None) -> Ref:
        """A graph tensor, or a constant repeated for each sample (an initializer expanded to
        the batch, as a class token is before it joins the patches): a Learned tensor holding
        one sample of it, repeated like ``like``."""
        value = self.values.get(name)
        if not isinstance(value, Const) or not value.batched or value.value is None \
                or like is None:
            return self.ref(name)
        array = np.asarray(value.value)
        if array.ndim < 2 or array.shape[0] != 1 or not np.issubdtype(array.dtype, np.floating):
            raise Unsupported(f"constant '{name}' is repeated for the batch in a way no "
                              "Learned tensor is")
        shape = tuple(int(d) for d in array.shape[1:])
        return self.b.add("LearnedTensor", {"shape": shape, "init": "normal"},
                          name, [like],
                          {"value": self.tensor(array.reshape(shape))})
