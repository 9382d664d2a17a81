"""The fx import's readers of structure: values that are not one graph tensor, and calls
that make or take several.

The tuples layers return (a layer with several output ports; a torch RNN's output and hidden
state, whose top layer is the layer's h_n port), the calls that cut a tensor into pieces
(chunk, split), which input port each argument of a module call feeds, and the module
parameters that forward uses directly (class tokens, positional embeddings, layer scales),
which become Learned tensor nodes. ``runtime.import_fx._Walker`` takes ``StructuralCalls`` as
a mixin: catalog declarations name its readers (``FxMap.call``) as ``call_<name>``.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, fx, nn

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


class Batch:
    """The batch size of some tensor (x.size(0), x.shape[0]): allowed as a reshape size, and
    as the size a Learned tensor is repeated to (``of`` is that tensor)."""

    def __init__(self, of: Any = None) -> None:
        self.of = of


class TensorShape:
    """x.shape or x.size(): only its batch entry may be used."""

    def __init__(self, of: Any = None) -> None:
        self.of = of


class LearnedValue:
    """A module parameter that forward uses directly (``get_attr``): it becomes a Learned
    tensor node where a layer uses it, shaped for that use."""

    def __init__(self, path: str, tensor: Tensor) -> None:
        self.path, self.tensor = path, tensor
        self.made: Ref | None = None  # the node, once one use made it


class RnnTuple:
    """What a plain nn.LSTM/GRU/RNN returns: (sequence, hidden state)."""

    def __init__(self, ref: Ref, module: nn.RNNBase, path: str) -> None:
        self.ref, self.module, self.path = ref, module, path


class Direction:
    """One direction of a bidirectional layer's top h_n (h_n[-2] forward, h_n[-1]
    backward): joined side by side (``torch.cat``, dim 1) they are its h_n port."""

    def __init__(self, rnn: RnnTuple, backward: bool) -> None:
        self.rnn, self.backward = rnn, backward


class HiddenState:
    """A plain RNN's h_n (num_layers * directions x N x H), or an LSTM's (h_n, c_n)."""

    def __init__(self, rnn: RnnTuple, pair: bool) -> None:
        self.rnn, self.pair = rnn, pair

    def item(self, index: Any) -> Any:
        """h_n[-1] (the top layer) is the layer's ``h_n`` port; (h_n, c_n)[0] is h_n."""
        module = self.rnn.module
        if self.pair:
            if index == 0:
                return HiddenState(self.rnn, pair=False)
            raise Unsupported(f"uses the cell state c_n of '{self.rnn.path}'")
        last = module.num_layers * (2 if module.bidirectional else 1) - 1
        if isinstance(index, int) and index in (-1, last) and not module.bidirectional:
            return Ref(self.rnn.ref.node, "h_n")
        if isinstance(index, int) and module.bidirectional and index in (-2, -1, last - 1,
                                                                         last):
            return Direction(self.rnn, backward=index in (-1, last))
        raise Unsupported(f"uses h_n[{index!r}] of '{self.rnn.path}' (Plexus gives the top "
                          "layer's final state: h_n[-1], or both directions joined)")

    def squeezed(self, dim: Any) -> Ref:
        """``h_n.squeeze(0)`` of a one-layer, one-direction layer: its h_n port."""
        module = self.rnn.module
        if self.pair or dim != 0 or module.num_layers != 1 or module.bidirectional:
            raise Unsupported(f"squeezes h_n of '{self.rnn.path}' other than a one-layer, "
                              "one-direction layer's h_n.squeeze(0)")
        return Ref(self.rnn.ref.node, "h_n")


# Keyword arguments of a torch module's call that change nothing Plexus computes, with the
# value they must have (None: any): nn.MultiheadAttention's.
_HARMLESS = {"need_weights": None, "average_attn_weights": True, "is_causal": False}


class StructuralCalls:
    """Call readers for the walker (which provides ``b``, ``gm``, ``values``, ``ref`` and
    ``shape``)."""

    b: GraphBuilder
    gm: fx.GraphModule
    values: dict[fx.Node, Any]

    def ref(self, value: Any, n: fx.Node) -> Ref:
        raise NotImplementedError

    def shape(self, n: fx.Node) -> tuple[int, ...]:
        raise NotImplementedError

    def module_inputs(self, n: fx.Node, spec: catalog.LayerSpec, plexus: bool
                      ) -> dict[str, Any]:
        """The fx value each input port of a module call takes: arguments by position, then
        keywords named like the ports. An optional port given the same tensor as the port
        before it is left open, as it defaults to that (attention's key and value in
        self-attention). A torch module's masks are refused: torch marks left-out steps
        True, Plexus' mask ports read nonzero as kept (``plexus``: a Plexus-exported class,
        whose masks are the ports')."""
        names = [p.name for p in spec.inputs]
        if len(n.args) > len(names):
            raise Unsupported(f"called with {len(n.args)} inputs ({spec.id} takes "
                              f"{len(names)})")
        given: dict[str, Any] = dict(zip(names, n.args, strict=False))
        for key, value in n.kwargs.items():
            if key in names:
                given[key] = value
            elif key not in _HARMLESS or _HARMLESS[key] not in (None, value):
                raise Unsupported(f"keyword argument {key}={value!r}")
        given = {k: v for k, v in given.items() if v is not None}
        if not plexus and any(k.endswith("mask") for k in given):
            raise Unsupported("a mask (torch marks left-out steps True; connect Plexus' "
                              "mask ports, which read nonzero as kept, in the editor)")
        for index, port in enumerate(spec.inputs[1:], start=1):
            before = given.get(names[index - 1], given.get(names[0]))
            if port.optional and port.name in given and given[port.name] is before:
                del given[port.name]
        missing = [p.name for p in spec.inputs if not p.optional and p.name not in given]
        if missing:
            raise Unsupported(f"called without its {', '.join(missing)} input")
        return given

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


    # -- parameters used directly in forward: Learned tensors ---------------------------------
    def attribute(self, n: fx.Node) -> LearnedValue:
        """A ``get_attr`` of a trained parameter; buffers (constants) have no Plexus layer."""
        found: Any = self.gm
        for part in str(n.target).split("."):
            found = getattr(found, part)
        if not isinstance(found, nn.Parameter):
            raise Unsupported(f"buffer '{n.target}' used directly in forward (a constant "
                              "tensor; Plexus learns its tensors: make it an nn.Parameter)")
        return LearnedValue(str(n.target), found)

    def learned(self, value: LearnedValue, user: fx.Node) -> Ref:
        """The Learned tensor for ``value`` used as it is by ``user`` (an Add, Mul, ...): its
        1 x shape output must broadcast like the parameter, so a parameter as long as the
        result's rank loses its leading 1 (1 x L x D: shape L x D)."""
        if value.made is not None:
            return value.made
        shape = tuple(int(d) for d in value.tensor.shape)
        rank = len(self.shape(user))
        if len(shape) >= rank:
            if len(shape) > rank or shape[:1] != (1,):
                raise Unsupported(f"parameter '{value.path}' of shape "
                                  f"{'x'.join(map(str, shape))} used where the batch is; "
                                  "its first size must be 1")
            shape = shape[1:]
        value.made = self._learned_node(value, shape, [])
        return value.made

    def expand_learned(self, n: fx.Node) -> Ref:
        """``token.expand(x.shape[0], -1, -1)``: a Learned tensor repeated for x's samples."""
        value: LearnedValue = self.values[n.args[0]]
        sizes = list(n.args[1:])
        if len(sizes) == 1 and isinstance(sizes[0], (list, tuple)):
            sizes = list(sizes[0])
        shape = tuple(int(d) for d in value.tensor.shape)
        batch = self.values.get(sizes[0]) if sizes and isinstance(sizes[0], fx.Node) else None
        rest = [d if d != -1 else have for d, have in zip(sizes[1:], shape[1:], strict=False)]
        if not isinstance(batch, Batch) or batch.of is None or shape[:1] != (1,) \
                or len(sizes) != len(shape) or rest != list(shape[1:]):
            raise Unsupported(f"expands parameter '{value.path}' other than to the batch "
                              "(token.expand(x.shape[0], -1, ...))")
        return self._learned_node(value, shape[1:], [self.ref(batch.of, n)])

    def _learned_node(self, value: LearnedValue, shape: tuple[int, ...], like: list[Ref]
                      ) -> Ref:
        if not shape:
            raise Unsupported(f"parameter '{value.path}' is a single number")
        spec = catalog.spec("LearnedTensor")
        params = {"shape": shape, "init": "normal", "std": spec.param("std").default}
        return self.b.add(spec.id, params, value.path, like,
                          {"value": value.tensor.detach().reshape(shape)})
