"""The fx import's readers of the tensor operations of each sample (issue 13): indexing and
slicing (``x[:, 1:3]``, ``x[:, 0]``: Slice and Select), permute, transpose, reductions over
dimensions (mean, sum, amax) and ``F.interpolate`` (Upsample). ``runtime.import_fx._Walker``
takes ``TensorCalls`` as a mixin: catalog declarations name its readers (``FxMap.call``) as
``call_<name>``. None of them moves or mixes the batch dimension.
"""

from __future__ import annotations

from typing import Any

from torch import fx

import graph.layers
from graph import catalog
from runtime import fx_layers
from runtime.fx_calls import argument as _arg
from runtime.fx_layers import Unsupported
from runtime.import_builder import GraphBuilder, Ref


def _selecting() -> catalog.LayerSpec:
    """The layer ``x.select`` (and indexing by one position) maps to."""
    return next(s for s in graph.layers.LAYERS if "Tensor.select" in s.fx.functions)


class TensorCalls:
    """Readers of each sample's tensor operations; mixed into the fx walker, whose ``ref``,
    ``shape`` and builder they use."""

    b: GraphBuilder
    ref: Any  # _Walker.ref, .shape
    shape: Any

    def call_getitem(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        """``x[:, 1:3]``, ``x[..., ::2]``, ``x[:, 0]``: a Slice per sliced dimension and, for
        a position, what ``x.select`` maps to; the batch stays whole."""
        source, index = n.args
        ref = self.ref(source, n)
        rank = len(self.shape(source))
        entries = list(index) if isinstance(index, tuple) else [index]
        ellipses = [i for i, e in enumerate(entries) if e is Ellipsis]
        if len(ellipses) > 1:
            raise Unsupported("indexing with two ellipses")
        if ellipses:
            at = ellipses[0]
            entries[at:at + 1] = [slice(None)] * (rank - len(entries) + 1)
        if not entries or len(entries) > rank or entries[0] != slice(None):
            raise Unsupported("indexing or slicing the batch dimension")
        select = _selecting()
        end = spec.param("end")
        for dim in reversed(range(1, len(entries))):  # later dimensions first: no renumbering
            entry = entries[dim]
            if isinstance(entry, slice) and entry == slice(None):
                continue
            if isinstance(entry, int) and not isinstance(entry, bool):
                ref = self.b.add(select.id, {"dim": dim, "index": entry}, n.name, [ref])
                continue
            parts = (entry.start, entry.stop, entry.step) if isinstance(entry, slice) else ()
            if not parts or not all(v is None or (isinstance(v, int) and not isinstance(v, bool))
                                    for v in parts) or (entry.step or 1) < 1:
                raise Unsupported("indexing with tensors, None or negative steps")
            stop = end.maximum if entry.stop is None else min(max(entry.stop, end.minimum),
                                                              end.maximum)
            ref = self.b.add(spec.id, {"dim": dim, "start": entry.start or 0, "end": int(stop),
                                       "step": entry.step or 1}, n.name, [ref])
        return ref

    def call_permute(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        dims = list(n.args[1:]) or [n.kwargs.get("dims")]
        if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
            dims = list(dims[0])
        rank = len(self.shape(n.args[0]))
        if not dims or not all(isinstance(d, int) for d in dims) or len(dims) != rank:
            raise Unsupported(f"dims {dims}")
        dims = [d % rank for d in dims]
        if dims[0] != 0:
            raise Unsupported("moves the batch dimension")
        return self.b.add(spec.id, {"dims": tuple(dims[1:])}, n.name, [self.ref(n.args[0], n)])

    def call_transpose(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        first = _arg(n, 1, "dim0", n.kwargs.get("axis0"))
        second = _arg(n, 2, "dim1", n.kwargs.get("axis1"))
        rank = len(self.shape(n.args[0]))
        if not isinstance(first, int) or not isinstance(second, int) or not rank:
            raise Unsupported("")
        if 0 in (first % rank, second % rank):
            raise Unsupported("moves the batch dimension")
        return self.b.add(spec.id, {"dim0": first, "dim1": second}, n.name,
                          [self.ref(n.args[0], n)])

    def call_reduce(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        """``x.mean((2, 3))``, ``torch.sum(x, 1, keepdim=True)``, ``x.amax(-1)``."""
        dims = _arg(n, 1, "dim")
        rank = len(self.shape(n.args[0]))
        if n.kwargs.get("dtype") is not None or isinstance(dims, fx.Node):
            raise Unsupported("dtype")
        dims = (dims,) if isinstance(dims, int) else tuple(dims or ())
        if not dims or not rank or any(d % rank == 0 for d in dims):
            raise Unsupported("reduces the batch dimension")
        return self.b.add(spec.id, {"dims": dims, "keepdim": bool(_arg(n, 2, "keepdim", False))},
                          n.name, [self.ref(n.args[0], n)])

    def call_interpolate(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        if _arg(n, 5, "recompute_scale_factor") or _arg(n, 6, "antialias"):
            raise Unsupported("recompute_scale_factor or antialias")
        if len(self.shape(n.args[0])) != 4:
            raise Unsupported("only images (N x C x H x W)")
        params = fx_layers.upsample_params(_arg(n, 1, "size"), _arg(n, 2, "scale_factor"),
                                           _arg(n, 3, "mode", "nearest"),
                                           _arg(n, 4, "align_corners"))
        return self.b.add(spec.id, params, n.name, [self.ref(n.args[0], n)])
