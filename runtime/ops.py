"""Build a catalog layer from its declaration, and the small classes some layers need.

The catalog declares every layer's implementation by name: a ``torch.nn`` class, a class
defined here (exported files carry its source, from ``inspect.getsource``), or both (the class
here wraps the torch module), or a torch function for merges. Shape inference, the compiler
and the exporter all build layers through this module, so they cannot disagree.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from graph.catalog import MERGE, LayerSpec

T = TypeVar("T")


class Recurrent(nn.Module):
    """An RNN, LSTM or GRU that returns (out, h_n), the tensors of its two ports.

    ``out``: with ``output="sequence"`` every step (N x L x H, H doubled when bidirectional);
    with ``output="last"`` the final state (N x H): for a bidirectional layer the forward
    direction's last step next to the backward direction's first step, which is where each
    direction has read the whole sequence. ``h_n``: the top layer's final hidden state, batch
    first, its directions side by side (N x H, doubled when bidirectional), read from torch's
    h_n (num_layers * directions x N x H); for an LSTM its hidden state, not its cell state.
    ``forget_bias`` (LSTM): the forget gates' starting bias; 1 keeps long memories from the
    start (Jozefowicz et al. 2015), 0 leaves torch's initialisation.
    """

    def __init__(self, rnn: nn.RNNBase, output: str = "sequence", forget_bias: float = 0.0
                 ) -> None:
        super().__init__()
        if output not in ("sequence", "last"):
            raise ValueError(f"output must be 'sequence' or 'last', not {output!r}")
        self.rnn = rnn
        self.output = output
        self.forget_bias = forget_bias
        if forget_bias and isinstance(rnn, nn.LSTM):
            # gates are ordered input, forget, cell, output; the two biases add up
            size = rnn.hidden_size
            with torch.no_grad():
                for name, bias in rnn.named_parameters():
                    if name.startswith("bias_"):
                        bias[size:2 * size] = forget_bias if name.startswith("bias_ih") else 0.0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 3:
            raise ValueError(f"expected a sequence N x L x F, got {x.dim()}-D input")
        out, state = self.rnn(x)
        h_n = state[0] if isinstance(state, tuple) else state  # an LSTM's (h_n, c_n)
        directions = 2 if self.rnn.bidirectional else 1
        final = h_n[-directions:].transpose(0, 1).flatten(1)
        if self.output == "sequence":
            return out, final
        if not self.rnn.bidirectional:
            return out[:, -1], final
        hidden = self.rnn.hidden_size
        return torch.cat([out[:, -1, :hidden], out[:, 0, hidden:]], dim=1), final

    def extra_repr(self) -> str:
        return f"output={self.output!r}"


class SequenceReduce(nn.Module):
    """One vector per sequence: the last step, the mean or the maximum over the steps.

    ``forward(x, mask=None)``: x is N x L x F. ``mask`` (optional, N x L) marks the real steps:
    any nonzero value is a real step, so the token ids of the Input can be connected directly
    (id 0 is padding). With a mask, "mean" and "max" use only the real steps and "last" takes
    the last real step (padding may sit anywhere, usually at the end); a sequence that is all
    padding gives zeros. Recurrent layers still read the padding like any token: their outputs
    at padded steps are what the mask leaves out. For a bidirectional layer prefer "mean" or
    "max" (its backward half has read only the last token at the last step).
    """

    MODES = ("last", "mean", "max")

    def __init__(self, mode: str = "mean") -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(self.MODES)}, not {mode!r}")
        self.mode = mode

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if not x.is_floating_point():
            raise ValueError("receives integer token ids on its 'in' port; add an Embedding "
                             "before it, or connect the token ids to its 'mask' port")
        if x.dim() != 3:
            raise ValueError(f"expected a sequence N x L x F, got {x.dim()}-D input")
        if mask is None:
            if self.mode == "last":
                return x[:, -1]
            return x.mean(1) if self.mode == "mean" else x.amax(1)
        if mask.dim() == 3 and mask.shape[-1] == 1:
            mask = mask[..., 0]
        if tuple(mask.shape) != tuple(x.shape[:2]):
            steps = " x ".join(["N", *(str(int(d)) for d in mask.shape[1:])])
            raise ValueError(f"its mask is {steps} but its sequence has {int(x.shape[1])} steps;"
                             " connect the token Input (N x L) that the sequence was made from")
        keep = mask != 0
        any_real = keep.any(1, keepdim=True)
        if self.mode == "mean":
            weights = keep.to(x.dtype).unsqueeze(-1)
            return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        if self.mode == "max":
            filled = x.masked_fill(~keep.unsqueeze(-1), float("-inf")).amax(1)
            return torch.where(any_real, filled, torch.zeros_like(filled))
        steps = torch.arange(x.shape[1], device=x.device)
        last = torch.where(keep, steps, torch.zeros_like(steps)).amax(1)
        picked = x[torch.arange(x.shape[0], device=x.device), last]
        return torch.where(any_real, picked, torch.zeros_like(picked))

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


class PositionalEncoding(nn.Module):
    """Adds to each step of a sequence (N x L x F) a vector that says where the step is.

    Self-attention sees all steps at once and in no order: without this, "not good, bad" and
    "not bad, good" read the same. ``kind="sinusoidal"`` adds fixed sines and cosines of
    geometrically spaced frequencies (Vaswani et al., 2017); ``kind="learned"`` adds one
    trained vector per position (as BERT does). ``length`` is the longest sequence it takes.
    """

    KINDS = ("sinusoidal", "learned")

    def __init__(self, length: int, features: int, kind: str = "sinusoidal") -> None:
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {', '.join(self.KINDS)}, not {kind!r}")
        self.kind = kind
        if kind == "learned":
            self.position = nn.Parameter(torch.randn(length, features))  # as nn.Embedding
            return
        # Computed on the CPU, then moved: built on the meta device (shape inference) these
        # operations would import parts of torch that cost a second.
        cpu = torch.device("cpu")
        steps = torch.arange(length, dtype=torch.float32, device=cpu).unsqueeze(1)
        rates = 10000.0 ** (-torch.arange(0, features, 2, dtype=torch.float32, device=cpu)
                            / features)
        table = torch.zeros(length, features, device=cpu)
        table[:, 0::2] = torch.sin(steps * rates)
        table[:, 1::2] = torch.cos(steps * rates[:features // 2])
        self.register_buffer("position", table.to(torch.get_default_device()),
                             persistent=False)  # rebuilt, never saved

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_floating_point():
            raise ValueError("receives integer token ids; add an Embedding before it")
        if x.dim() != 3:
            raise ValueError(f"expected a sequence N x L x F, got {x.dim()}-D input")
        if x.shape[1] > self.position.shape[0]:
            raise ValueError(f"knows {self.position.shape[0]} positions but receives "
                             f"{x.shape[1]} steps")
        return x + self.position[:x.shape[1]]

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"


class Reshape(nn.Module):
    """Gives each sample a new shape (-1: inferred); the batch dimension stays as it is."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


# -- tensor ops of modern architectures (issue 13) ------------------------------------------
# -- (each class stands alone: exported files carry its source and nothing around it) --------
class Permute(nn.Module):
    """Reorders the dimensions of each sample; the batch stays first. ``dims`` number them as
    torch does (1 is the first after the batch): (2, 3, 1) turns N x C x H x W into
    N x H x W x C, as ``x.permute(0, 2, 3, 1)``."""

    def __init__(self, *dims: int) -> None:
        super().__init__()
        self.dims = tuple(int(d) for d in dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if sorted(self.dims) != list(range(1, x.dim())):
            raise ValueError(f"dims {self.dims} must list the sample's dimensions 1 to "
                             f"{x.dim() - 1} once each (its input has {x.dim()} with the batch)")
        return x.permute(0, *self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Transpose(nn.Module):
    """Swaps two dimensions of each sample (``x.transpose(dim0, dim1)``; 0 is the batch, which
    stays)."""

    def __init__(self, dim0: int = 1, dim1: int = 2) -> None:
        super().__init__()
        self.dim0, self.dim1 = dim0, dim1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.size(self.dim0), x.size(self.dim1)  # out of range: torch's error names the range
        if 0 in (self.dim0 % x.dim(), self.dim1 % x.dim()):
            raise ValueError("dimension 0 is the batch, which stays first; swap dimension 1 "
                             "or a later one")
        return x.transpose(self.dim0, self.dim1)

    def extra_repr(self) -> str:
        return f"dim0={self.dim0}, dim1={self.dim1}"


class Slice(nn.Module):
    """``x[:, start:end:step]`` along ``dim`` (0 is the batch, which is kept whole); negative
    positions count from the end and an end past the size stops at the end."""

    def __init__(self, dim: int = 1, start: int = 0, end: int = 1, step: int = 1) -> None:
        super().__init__()
        self.dim, self.start, self.end, self.step = dim, start, end, step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.size(self.dim)  # out of range: torch's error names the range
        if self.dim % x.dim() == 0:
            raise ValueError("dimension 0 is the batch, which stays whole; choose dimension 1 "
                             "or a later one")
        index = (slice(None),) * (self.dim % x.dim()) + (slice(self.start, self.end, self.step),)
        return x[index]

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}, end={self.end}, step={self.step}"


class Select(nn.Module):
    """One position along ``dim``, which goes away: ``x.select(dim, index)``, ``x[:, index]``
    (0 is the batch, which is kept whole; a negative index counts from the end)."""

    def __init__(self, dim: int = 1, index: int = 0) -> None:
        super().__init__()
        self.dim, self.index = dim, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.size(self.dim)  # out of range: torch's error names the range
        if self.dim % x.dim() == 0:
            raise ValueError("dimension 0 is the batch, which stays whole; choose dimension 1 "
                             "or a later one")
        return x.select(self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={self.index}"


class Reduce(nn.Module):
    """The mean, sum or maximum (``how``: a torch function) over ``dims`` of each sample,
    numbered as torch numbers them: 0, the batch, is never reduced."""

    HOWS = ("mean", "sum", "amax")

    def __init__(self, *dims: int, how: str = "mean", keepdim: bool = False) -> None:
        super().__init__()
        if how not in self.HOWS:
            raise ValueError(f"how must be one of {', '.join(self.HOWS)}, not {how!r}")
        self.dims, self.how, self.keepdim = tuple(int(d) for d in dims), how, keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dim in self.dims:
            x.size(dim)  # out of range: torch's error names the range
        if any(dim % x.dim() == 0 for dim in self.dims):
            raise ValueError("dimension 0 is the batch, which is never reduced; reduce "
                             "dimension 1 or later ones")
        return getattr(torch, self.how)(x, dim=self.dims, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, how={self.how!r}, keepdim={self.keepdim}"


class StochasticDepth(nn.Module):
    """Randomly drops a residual branch while training (Huang et al., 2016), as
    ``torchvision.ops.StochasticDepth``: "row" zeroes whole samples, "batch" the whole batch,
    each with probability ``p``, and scales what survives by 1 / (1 - p); in evaluation it
    passes its input through."""

    MODES = ("row", "batch")

    def __init__(self, p: float = 0.1, mode: str = "row") -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(self.MODES)}, not {mode!r}")
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"


class Upsample(nn.Module):
    """Resizes images (N x C x H x W) with ``F.interpolate``: to ``size`` when it is set (not
    0 x 0), else by ``scale_factor``. ``align_corners`` applies to bilinear only."""

    MODES = ("nearest", "bilinear")

    def __init__(self, scale_factor: float = 2.0, size: Sequence[int] = (0, 0),
                 mode: str = "nearest", align_corners: bool = False) -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(self.MODES)}, not {mode!r}")
        self.scale_factor, self.size = float(scale_factor), tuple(int(s) for s in size)
        self.mode, self.align_corners = mode, bool(align_corners)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.size if any(self.size) else None
        return torch.nn.functional.interpolate(
            x, size=size, scale_factor=None if size else self.scale_factor, mode=self.mode,
            align_corners=None if self.mode == "nearest" else self.align_corners)

    def extra_repr(self) -> str:
        how = f"size={self.size}" if any(self.size) else f"scale_factor={self.scale_factor}"
        return f"{how}, mode={self.mode!r}"


# -- layers with several outputs --------------------------------------------------------------
class Chunk(nn.Module):
    """Cuts each sample into ``chunks`` equal pieces along ``dim`` (the last piece smaller when
    the size does not divide; fewer pieces when it is smaller than ``chunks``)."""

    def __init__(self, chunks: int = 2, dim: int = 1) -> None:
        super().__init__()
        self.chunks, self.dim = int(chunks), int(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.dim % x.dim() == 0:
            raise ValueError(f"cannot cut along dimension {self.dim}, the batch; cut along "
                             "dimension 1 or a later one")
        return torch.chunk(x, self.chunks, self.dim)

    def extra_repr(self) -> str:
        return f"chunks={self.chunks}, dim={self.dim}"


class Split(nn.Module):
    """Cuts each sample into pieces of the given sizes along ``dim``; the sizes must add up
    to that dimension's size."""

    def __init__(self, sizes: tuple[int, ...] = (1, 1), dim: int = 1) -> None:
        super().__init__()
        if not 2 <= len(sizes) <= 4:
            raise ValueError(f"gives one output per size, 2 to 4, but has {len(sizes)} sizes")
        self.sizes, self.dim = tuple(int(s) for s in sizes), int(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.dim % x.dim() == 0:
            raise ValueError(f"cannot cut along dimension {self.dim}, the batch; cut along "
                             "dimension 1 or a later one")
        if sum(self.sizes) != x.shape[self.dim]:
            raise ValueError(f"its sizes {' + '.join(map(str, self.sizes))} add up to "
                             f"{sum(self.sizes)} but dimension {self.dim} of its input has "
                             f"{x.shape[self.dim]}; make them add up to {x.shape[self.dim]}")
        return torch.split(x, list(self.sizes), self.dim)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, dim={self.dim}"


# -- sources ----------------------------------------------------------------------------------
class LearnedTensor(nn.Module):
    """A trained tensor of a given shape that forward uses directly: a class token, a
    positional embedding, a layer scale.

    ``forward()`` gives it with a leading 1 (1 x shape), which an addition or multiplication
    broadcasts over the batch; ``forward(like)`` repeats it for each sample of ``like``
    (N x shape), as joining it to a batch (``torch.cat``) needs.
    """

    INITS = ("zeros", "normal", "ones")

    def __init__(self, shape: tuple[int, ...], init: str = "normal", std: float = 0.02
                 ) -> None:
        super().__init__()
        if init not in self.INITS:
            raise ValueError(f"init must be one of {', '.join(self.INITS)}, not {init!r}")
        self.init, self.std = init, float(std)
        value = torch.empty(tuple(int(s) for s in shape))
        if init == "normal":
            nn.init.normal_(value, std=self.std)
        else:
            nn.init.constant_(value, 0.0 if init == "zeros" else 1.0)
        self.value = nn.Parameter(value)

    def forward(self, like: torch.Tensor | None = None) -> torch.Tensor:
        value = self.value.unsqueeze(0)
        if like is None:
            return value
        return value.expand(like.shape[0], *self.value.shape)

    def extra_repr(self) -> str:
        return f"shape={tuple(self.value.shape)}, init={self.init!r}"


# -- attention ----------------------------------------------------------------------------------
class Attention(nn.Module):
    """Multi-head attention over batch-first sequences, returning (out, weights).

    ``key`` defaults to ``query`` and ``value`` to ``key`` (self-attention). Both masks read
    any nonzero value as "may attend", so token ids connect directly (id 0 is padding):
    ``key_padding_mask`` is N x S (the keys of each sample), ``attn_mask`` N x L x S (which
    key each query may read). ``weights`` are N x L x S, averaged over the heads.
    """

    def __init__(self, attention: nn.MultiheadAttention) -> None:
        super().__init__()
        self.attention = attention

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None,
                key_padding_mask: torch.Tensor | None = None,
                attn_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if query.dim() != 3:
            raise ValueError(f"expected a sequence N x L x D, got {query.dim()}-D input")
        key = query if key is None else key
        value = key if value is None else value
        padding = None if key_padding_mask is None else key_padding_mask == 0
        blocked = None
        if attn_mask is not None:  # per sample: one N x L x S mask per head
            blocked = (attn_mask == 0).repeat_interleave(self.attention.num_heads, dim=0)
        out, weights = self.attention(query, key, value, key_padding_mask=padding,
                                      attn_mask=blocked, need_weights=True)
        return out, weights


class EncoderStack(nn.Module):
    """``num_layers`` Transformer encoder layers of the same configuration, one after the
    other (torch's nn.TransformerEncoder, batch first, without nested tensors)."""

    def __init__(self, d_model: int, nhead: int = 4, dim_feedforward: int = 128,
                 dropout: float = 0.1, activation: str = "relu", num_layers: int = 2) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                           activation, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


# The classes catalog declarations name as their ``ops_class``.
CLASSES: dict[str, type[nn.Module]] = {
    cls.__name__: cls for cls in (Recurrent, SequenceReduce, PositionalEncoding, Reshape,
                                  Permute, Transpose, Slice, Select, Reduce, StochasticDepth,
                                  Upsample, Chunk, Split, LearnedTensor, Attention,
                                  EncoderStack)}


def ops_class(spec: LayerSpec) -> type[nn.Module] | None:
    """The class of this module that ``spec`` declares as its implementation, if any."""
    if spec.ops_class is None:
        return None
    try:
        return CLASSES[spec.ops_class]
    except KeyError:
        raise ValueError(f"layer type {spec.id} names ops class {spec.ops_class!r}, which "
                         "runtime/ops.py does not define") from None


def torch_class(spec: LayerSpec) -> type[nn.Module] | None:
    """The ``torch.nn`` class ``spec`` declares, if any."""
    if spec.torch_class is None:
        return None
    found = getattr(nn, spec.torch_class, None)
    if not isinstance(found, type) or not issubclass(found, nn.Module):
        raise ValueError(f"layer type {spec.id} names torch.nn.{spec.torch_class}, which this "
                         "torch does not have")
    return found


def merge_function(spec: LayerSpec) -> Callable[..., torch.Tensor]:
    """The torch function a merge declares (``torch.add``)."""
    return getattr(torch, spec.merge)


def torch_kwargs(spec: LayerSpec, params: dict[str, Any], input_shapes: Sequence[tuple[int, ...]]
                 ) -> dict[str, Any]:
    """The constructor arguments the catalog declares: torch_arg params (lists as tuples),
    values read from the first input's shape (``inferred``) and ``fixed`` ones."""
    kwargs: dict[str, Any] = {}
    for param in spec.params:
        if param.torch_arg:
            value = params.get(param.name, param.default)
            kwargs[param.name] = tuple(value) if isinstance(value, list) else value
    if spec.inferred:
        if not input_shapes:
            raise ValueError(f"{spec.id} needs an input shape to size itself")
        first = input_shapes[0]
        for name, dim in spec.inferred:
            kwargs[name] = int(first[dim])
    kwargs.update(spec.fixed)
    return kwargs


def wrapper_kwargs(spec: LayerSpec, params: dict[str, Any]) -> dict[str, Any]:
    """The arguments a wrapping ops class takes besides the torch module: the params that
    are not torch arguments (a recurrent layer's ``output``)."""
    return {p.name: params.get(p.name, p.default) for p in spec.params if not p.torch_arg}


def construct(cls: type[nn.Module], kwargs: dict[str, Any], *leading: Any) -> nn.Module:
    """``cls(*leading, **kwargs)``, except that an argument the signature collects with
    ``*name`` is passed by position (``Reshape(*shape)``)."""
    star = next((p.name for p in inspect.signature(cls.__init__).parameters.values()
                 if p.kind is p.VAR_POSITIONAL), None)
    if star is not None and star in kwargs:
        kwargs = dict(kwargs)
        return cls(*leading, *kwargs.pop(star), **kwargs)
    return cls(*leading, **kwargs)


def build_module(spec: LayerSpec, params: dict[str, Any],
                 input_shapes: Sequence[tuple[int, ...]]) -> nn.Module | None:
    """The module for one layer on the current default device (None for inputs, heads and
    merges, which compile to placeholders, results and function calls).

    Shape inference calls this inside ``torch.device("meta")``, the compiler on the CPU, so
    both see exactly the same construction.
    """
    torch_cls, own = torch_class(spec), ops_class(spec)
    if torch_cls is None and own is None:
        return None
    kwargs = torch_kwargs(spec, params, input_shapes)
    if own is None:
        return construct(torch_cls, kwargs)  # type: ignore[arg-type]
    if torch_cls is None:
        return construct(own, kwargs)
    return construct(own, wrapper_kwargs(spec, params), construct(torch_cls, kwargs))


def port_arguments(spec: LayerSpec, given: dict[str, T]) -> tuple[list[T], dict[str, T]]:
    """A module's forward arguments from its connected input ports: by position up to the
    first unconnected port, by name (the port's name) after it, so an optional port in the
    middle (an attention's key) may stay open while a later one (its mask) is connected."""
    args: list[T] = []
    kwargs: dict[str, T] = {}
    for port in spec.inputs:
        if port.name not in given:
            continue
        if not kwargs and len(args) == [p.name for p in spec.inputs].index(port.name):
            args.append(given[port.name])
        else:
            kwargs[port.name] = given[port.name]
    return args, kwargs


def apply_merge(spec: LayerSpec, params: dict[str, Any], inputs: Sequence[torch.Tensor]
                ) -> torch.Tensor:
    """Run a merge on its connected inputs (in port order), as the compiled code does."""
    assert spec.role == MERGE, spec.id
    function = merge_function(spec)
    if spec.merge_dim:
        return function(list(inputs), dim=int(params.get(spec.merge_dim, 1)))
    result = inputs[0]
    for other in inputs[1:]:
        result = function(result, other)
    return result
