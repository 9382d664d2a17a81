"""The ONNX import's reader of torch's Softplus, which its exporter writes as five operators.

``nn.Softplus(beta, threshold)`` computes ``softplus(beta * x) / beta`` but keeps ``x`` where
``beta * x > threshold``; torch writes it as Mul by beta (left out for beta 1), Softplus, Div
by beta, Greater than the threshold and Where. Each step holds a ``Scaled`` value; the
Softplus operator makes the layer, and the Where sets its threshold. A lone ONNX Softplus
(other tools) is the layer with its default threshold, equal to ONNX's up to rounding.
Mixed into ``LayerReaders``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graph.catalog import LayerSpec
from runtime.import_builder import GraphBuilder, Ref
from runtime.onnx_values import Const, Mismatch, Scaled, Unsupported


class SoftplusReaders:
    """Mul, Softplus, Div, Greater and Where of a Softplus; uses the walker's state."""

    b: GraphBuilder
    values: dict[str, Any]
    ref: Any  # LayerReaders.ref and .label
    label: Any

    def _number(self, name: str) -> float | None:
        value = self.values.get(name)
        if isinstance(value, Const) and value.value is not None and not value.batched \
                and np.size(value.value) == 1 and np.issubdtype(value.value.dtype, np.floating):
            return float(np.asarray(value.value).reshape(-1)[0])
        return None

    def read_softplus(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Any:
        op = node.op_type
        first = self.values.get(node.input[0])
        if op == "Softplus":
            beta = first.beta if isinstance(first, Scaled) and first.kind == "scaled" else 1.0
            source = first.ref if isinstance(first, Scaled) and first.kind == "scaled" \
                else self.ref(node.input[0])
            ref = self.b.add(specs[0].id, {"beta": beta}, self.label(node), [source])
            return ref if beta == 1.0 else Scaled(ref, "undivided", beta=beta)
        number = self._number(node.input[1]) if len(node.input) > 1 else None
        if op == "Mul" and isinstance(first, Ref) and number is not None:
            return Scaled(first, "scaled", beta=number)
        if op == "Div" and isinstance(first, Scaled) and first.kind == "undivided" \
                and number == first.beta:
            return first.ref
        if op == "Greater" and number is not None:
            if isinstance(first, Scaled) and first.kind == "scaled":
                return Scaled(first.ref, "above", beta=first.beta, threshold=number)
            if isinstance(first, Ref):
                return Scaled(first, "above", threshold=number)
        if op == "Where" and isinstance(first, Scaled) and first.kind == "above":
            return self._threshold(node, first, specs)
        raise Mismatch(f"{op} that is not part of a Softplus")

    def _threshold(self, node: Any, above: Scaled, specs: list[LayerSpec]) -> Ref:
        """Where(beta * x > threshold, x, softplus): the Softplus layer's threshold."""
        kept, layer = (self.values.get(n) for n in node.input[1:3])
        if kept != above.ref or not isinstance(layer, Ref):
            raise Unsupported("a Where that does not keep a Softplus's input above its "
                              "threshold")
        made = self.b.graph.nodes[layer.node]
        into = self.b.graph.in_edges(layer.node)
        if made.type != specs[0].id or made.params.get("beta") != above.beta \
                or [e.src for e in into] != [above.ref.node]:
            raise Unsupported("a Where that does not keep a Softplus's input above its "
                              "threshold")
        made.params["threshold"] = above.threshold
        return layer
