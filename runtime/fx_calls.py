"""The fx import's readers of structural calls: the calls that cut a tensor into several
outputs (chunk, split) and the module parameters that forward uses directly (class tokens,
positional embeddings, layer scales), which become Learned tensor nodes.

``runtime.import_fx._Walker`` takes these as a mixin: catalog declarations name the readers
(``FxMap.call``) and the walker finds them as ``call_<name>``.
"""

from __future__ import annotations

from typing import Any

from torch import fx

from graph import catalog
from runtime.fx_layers import Unsupported
from runtime.import_builder import GraphBuilder, Ref


def argument(n: fx.Node, index: int, key: str, default: Any = None) -> Any:
    """Argument ``index`` of a call, or its keyword ``key``."""
    if len(n.args) > index:
        return n.args[index]
    return n.kwargs.get(key, default)


class Outputs:
    """What a layer with several output ports returns: a tuple, one tensor per port."""

    def __init__(self, ref: Ref, spec: catalog.LayerSpec) -> None:
        self.ref, self.spec = ref, spec

    def port(self, index: Any) -> Ref:
        ports = self.spec.outputs
        if not isinstance(index, int) or not -len(ports) <= index < len(ports):
            raise Unsupported(f"output {index!r} of a {self.spec.id}")
        return Ref(self.ref.node, ports[index].name)


class StructuralCalls:
    """Call readers for the walker (which provides ``b``, ``ref`` and ``shape``)."""

    b: GraphBuilder

    def ref(self, value: Any, n: fx.Node) -> Ref:
        raise NotImplementedError

    def shape(self, n: fx.Node) -> tuple[int, ...]:
        raise NotImplementedError

    def _cut_dim(self, n: fx.Node, index: int) -> int:
        dim = argument(n, index, "dim", 0)
        rank = len(self.shape(n.args[0])) if isinstance(n.args[0], fx.Node) else 0
        if not isinstance(dim, int) or not rank or dim % rank == 0:
            raise Unsupported("cuts along the batch dimension")
        return dim

    def _pieces(self, spec: catalog.LayerSpec, params: dict[str, Any], n: fx.Node,
                count: int) -> Outputs:
        if count > len(spec.outputs):
            raise Unsupported(f"cuts into {count} pieces (Plexus' {spec.id} gives at most "
                              f"{len(spec.outputs)})")
        ref = self.b.add(spec.id, params, n.name, [self.ref(n.args[0], n)])
        return Outputs(ref, spec)

    def call_chunk(self, n: fx.Node, spec: catalog.LayerSpec) -> Outputs:
        chunks, dim = argument(n, 1, "chunks"), self._cut_dim(n, 2)
        if not isinstance(chunks, int) or chunks < 2:
            raise Unsupported(f"chunks={chunks!r}")
        return self._pieces(spec, {"chunks": chunks, "dim": dim}, n, chunks)

    def call_split(self, n: fx.Node, spec: catalog.LayerSpec) -> Outputs:
        """``split(x, [2, 3], dim)``; an int size (``split(x, 2, dim)``) becomes the sizes it
        gives for this input."""
        sizes, dim = argument(n, 1, "split_size_or_sections"), self._cut_dim(n, 2)
        if sizes is None:
            sizes = argument(n, 1, "split_size")
        if isinstance(sizes, int) and sizes > 0:
            total = self.shape(n.args[0])[dim]
            sizes = [sizes] * (total // sizes) + ([total % sizes] if total % sizes else [])
        if not isinstance(sizes, (list, tuple)) or not all(isinstance(s, int) for s in sizes):
            raise Unsupported(f"sizes {sizes!r}")
        if len(sizes) < 2:
            raise Unsupported("cuts into one piece")
        return self._pieces(spec, {"sizes": tuple(sizes), "dim": dim}, n, len(sizes))

