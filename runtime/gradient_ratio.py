"""``grad_ratio``: how much of the gradient reaches the first layer.

The first weighted layer's gradient norm over the last one's, averaged over an epoch's steps.
Near 1 the gradient flows back through the network; orders of magnitude below 1 it vanishes on
the way (sigmoids in a deep MLP), and the first layers stop learning. A training option turns
it on (it reads two gradient norms per step), and the epoch's metrics carry it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from runtime.compile import Compiled


def weighted_layers(compiled: Compiled) -> list[nn.Module]:
    """The layers with a trainable ``weight``, in the graph's dependency order."""
    order = compiled.graph.topological_order()
    layers = []
    for node_id in order:
        name = compiled.module_names.get(node_id)
        if name is None:
            continue
        module = compiled.module.get_submodule(name)
        weight = getattr(module, "weight", None)
        if isinstance(weight, Tensor) and weight.requires_grad:
            layers.append(module)
    return layers


class GradientRatio:
    """Sums the first and last weighted layers' gradient norms over the steps of an epoch
    (on the device, without waiting for it) and gives their ratio."""

    def __init__(self, compiled: Compiled) -> None:
        layers = weighted_layers(compiled)
        self.ends = (layers[0], layers[-1]) if len(layers) >= 2 else None
        self.first: Tensor | float = 0.0
        self.last: Tensor | float = 0.0

    def observe(self) -> None:
        """After ``backward``: add this step's two gradient norms."""
        if self.ends is None:
            return
        first, last = (m.weight.grad for m in self.ends)
        if first is None or last is None:
            return
        self.first = self.first + torch.linalg.vector_norm(first.detach().float())
        self.last = self.last + torch.linalg.vector_norm(last.detach().float())

    def take(self) -> dict[str, float]:
        """{"grad_ratio": ...} for the epoch's metrics (empty with fewer than two weighted
        layers); starts the next epoch's sums."""
        if self.ends is None:
            return {}
        first, last = float(self.first), float(self.last)
        self.first, self.last = 0.0, 0.0
        return {"grad_ratio": first / last if last > 0 else 0.0}
