"""The fx import's readers of functional forms of weighted layers: ``F.layer_norm(x, shape,
self.weight, self.bias, eps)`` as a user's module writes it (torchvision's LayerNorm2d, which
permutes around it) and ``F.linear(x, self.weight, self.bias)`` (a subclass of nn.Linear
whose forward calls ``super().forward``), whose parameters become the layer's weights.

``runtime.import_fx._Walker`` takes these as a mixin; catalog declarations name them in
``FxMap.call``.
"""

from __future__ import annotations

from typing import Any

from torch import fx

from graph import catalog
from runtime.fx_calls import LearnedValue, argument
from runtime.fx_layers import Unsupported, value
from runtime.import_builder import GraphBuilder, Ref


class FunctionalCalls:
    """Call readers for the walker (which provides ``b``, ``values``, ``ref`` and ``shape``)."""

    b: GraphBuilder
    values: dict[fx.Node, Any]

    def ref(self, value: Any, n: fx.Node) -> Ref:
        raise NotImplementedError

    def shape(self, n: fx.Node) -> tuple[int, ...]:
        raise NotImplementedError

    def own_parameter(self, n: fx.Node, index: int, key: str) -> Any:
        """The module parameter given as argument ``index`` (a tensor: its value), or None."""
        given = argument(n, index, key)
        if given is None:
            return None
        found = self.values.get(given) if isinstance(given, fx.Node) else None
        if not isinstance(found, LearnedValue):
            raise Unsupported(f"its {key} is computed in forward (Plexus' layer learns it as a "
                              "parameter)")
        return found.tensor.detach()

    def call_layer_norm(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        normalized = argument(n, 1, "normalized_shape")
        size = self.shape(n.args[0])[-1:]
        if tuple(normalized or ()) != size:
            raise Unsupported(f"normalized_shape={tuple(normalized or ())} (Plexus' LayerNorm "
                              f"normalizes the last dimension, here {size}); permute the "
                              "dimension to normalize last")
        weight, bias = self.own_parameter(n, 2, "weight"), self.own_parameter(n, 3, "bias")
        if weight is None or bias is None:
            raise Unsupported("no weight or bias (Plexus' LayerNorm learns both)")
        params = {p.name: value(p, argument(n, 4, p.name, p.default)) for p in spec.params}
        return self.b.add(spec.id, params, n.name, [self.ref(n.args[0], n)],
                          {"weight": weight, "bias": bias})

    def call_linear(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        weight, bias = self.own_parameter(n, 1, "weight"), self.own_parameter(n, 2, "bias")
        if weight is None or weight.dim() != 2:
            raise Unsupported("a weight that is not a matrix")
        params = {"out_features": int(weight.shape[0]), "bias": bias is not None}
        weights = {"weight": weight, **({"bias": bias} if bias is not None else {})}
        return self.b.add(spec.id, params, n.name, [self.ref(n.args[0], n)], weights)
