"""Declared output shapes of the common layers: arithmetic instead of a run on torch's meta
device.

A layer's first meta run imports parts of torch that a plain ``import torch`` does not
(``torch._dynamo`` through the Python decompositions of linear and the element-wise ops, sympy
through ``torch._check``): about a second on a 2-core machine, which ``main.py validate``
and the editor's first edit would wait for. A rule gives the shapes torch would give (batch
first, one per output port) or None whenever it is not sure: unusual settings, and every
configuration torch rejects, so that the meta run still finds the problem and words it.
``tests/test_shape_rules.py`` checks each rule against the meta run over many settings.

A declaration names its rule (``LayerSpec.shape_rule``); nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Shape = tuple[int, ...]
# (the layer's params, defaults included; the shape on each connected input port) -> the
# shape of each output port in order, or None: run the layer instead.
Rule = Callable[[dict[str, Any], dict[str, Shape]], "tuple[Shape, ...] | None"]


def _ints(value: Any) -> tuple[int, ...] | None:
    """A list of whole numbers as a tuple, or None."""
    if not isinstance(value, (tuple, list)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return None
    return tuple(value)


def _sizes(value: Any, dims: int) -> tuple[int, ...] | None:
    """A per-dimension setting (a whole number or a tuple) as ``dims`` whole numbers."""
    values = _ints(value if isinstance(value, (tuple, list)) else (value,) * dims)
    return values if values is not None and len(values) == dims else None


def _spatial(params: dict[str, Any], shape: Shape, *names: str
             ) -> tuple[tuple[int, ...], ...] | None:
    """Each named setting, one value per spatial dimension of an N x C x ... input."""
    dims = len(shape) - 2
    found = tuple(_sizes(params.get(name, 1), dims) for name in names)
    if dims < 1 or any(f is None for f in found):
        return None
    return found  # type: ignore[return-value]


def _positive(shape: Shape) -> tuple[Shape, ...] | None:
    return (shape,) if all(d >= 1 for d in shape) else None


def same_shape(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """Normalizations, positional encodings, stochastic depth: the input's shape."""
    return (inputs["in"],) if "in" in inputs else None


def prelu(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """PReLU: the input's shape, with one slope or one per channel (dimension 1)."""
    shape = inputs["in"]
    slopes = params.get("num_parameters", 1)
    return (shape,) if slopes == 1 or (len(shape) >= 2 and slopes == shape[1]) else None


def convolution(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """Conv1d, Conv2d: (size + 2 padding - dilation (kernel - 1) - 1) // stride + 1."""
    shape = inputs["in"]
    found = _spatial(params, shape, "kernel_size", "stride", "padding", "dilation")
    if found is None:
        return None
    kernel, stride, padding, dilation = found
    if params.get("padding_mode", "zeros") != "zeros" and any(padding):
        return None  # reflect and circular padding have their own limits: torch words them
    out = tuple((size + 2 * p - d * (k - 1) - 1) // s + 1 for size, k, s, p, d
                in zip(shape[2:], kernel, stride, padding, dilation, strict=True))
    return _positive((shape[0], params["out_channels"], *out))


def transposed_convolution(params: dict[str, Any], inputs: dict[str, Shape]
                           ) -> tuple[Shape, ...] | None:
    """ConvTranspose2d: (size - 1) stride - 2 padding + dilation (kernel - 1) +
    output_padding + 1."""
    shape = inputs["in"]
    found = _spatial(params, shape, "kernel_size", "stride", "padding", "output_padding",
                     "dilation")
    if found is None:
        return None
    kernel, stride, padding, extra, dilation = found
    out = tuple((size - 1) * s - 2 * p + d * (k - 1) + e + 1 for size, k, s, p, e, d
                in zip(shape[2:], kernel, stride, padding, extra, dilation, strict=True))
    return _positive((shape[0], params["out_channels"], *out))


def _pooled(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool
            ) -> int:
    """torch's pooling_output_shape: with ceil_mode, a last window must start inside the
    input or its left padding."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil else 0)
           ) // stride + 1
    if ceil and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def pooling(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """MaxPool and AvgPool, 1-D and 2-D; None where torch refuses the padding (more than
    half the window, undilated)."""
    shape = inputs["in"]
    found = _spatial(params, shape, "kernel_size", "stride", "padding", "dilation")
    if found is None:
        return None
    kernel, stride, padding, dilation = found
    if any(p > k // 2 for k, p in zip(kernel, padding, strict=True)):
        return None
    ceil = bool(params.get("ceil_mode", False))
    out = tuple(_pooled(size, k, s, p, d, ceil) for size, k, s, p, d
                in zip(shape[2:], kernel, stride, padding, dilation, strict=True))
    return _positive((*shape[:2], *out))


def adaptive_pooling(params: dict[str, Any], inputs: dict[str, Shape]
                     ) -> tuple[Shape, ...] | None:
    """Adaptive pools: the fixed output size."""
    shape = inputs["in"]
    size = _sizes(params["output_size"], len(shape) - 2)
    return None if size is None else _positive((*shape[:2], *size))


def upsample(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """Upsample: the set size, or floor(size x scale) when the size is 0 x 0."""
    shape = inputs["in"]
    size = _sizes(params.get("size", (0, 0)), 2)
    if len(shape) != 4 or size is None:
        return None
    if all(s > 0 for s in size):
        return _positive((*shape[:2], *size))
    if any(size):
        return None  # half set: torch's own message
    scale = float(params["scale_factor"])
    return _positive((*shape[:2], *(int(s * scale) for s in shape[2:])))


def linear(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """Linear: the last dimension becomes out_features."""
    shape = inputs["in"]
    return (shape[:-1] + (params["out_features"],),) if len(shape) >= 2 else None


def embedding(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """Embedding: one vector per token id."""
    return (inputs["in"] + (params["embedding_dim"],),)


def recurrent(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """RNN, LSTM, GRU (batch first, runtime.ops.Recurrent): the output and the top layer's
    final hidden state, directions side by side."""
    shape = inputs["in"]
    width = params["hidden_size"] * (2 if params.get("bidirectional") else 1)
    final = (shape[0], width)
    out = (shape[0], shape[1], width) if params.get("output") == "sequence" else final
    return out, final


def transformer(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """Transformer encoder (one layer or a stack) and decoder layers: the (target) sequence's
    shape, when the heads divide the features and the memory has them too."""
    shape = inputs.get("in", inputs.get("tgt"))
    if shape is None or shape[-1] % params["nhead"] != 0:
        return None
    memory = inputs.get("memory")
    if memory is not None and (len(memory) != 3 or memory[0] != shape[0]
                               or memory[-1] != shape[-1]):
        return None
    return (shape,)


def attention(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """Multi-head attention (runtime.ops.Attention): the query's shape, and N x L x S
    weights; masks must be N x S (keys) and N x L x S."""
    query = inputs["query"]
    key = inputs.get("key", query)
    value = inputs.get("value", key)
    weights = (query[0], query[1], key[1])
    if (query[-1] % params["num_heads"] != 0 or key != value or key[0] != query[0]
            or key[-1] != query[-1]
            or inputs.get("key_padding_mask", key[:2]) != key[:2]
            or inputs.get("attn_mask", weights) != weights):
        return None
    return query, weights


def sequence_reduce(params: dict[str, Any], inputs: dict[str, Shape]
                    ) -> tuple[Shape, ...] | None:
    """Sequence reduce: N x L x F to N x F (a mask must be N x L)."""
    shape = inputs["in"]
    mask = inputs.get("mask")
    if mask is not None and mask != shape[:2]:
        return None
    return ((shape[0], shape[2]),)


def reduction(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """Mean, Sum, Max over dims 1 or later (each once), kept as 1s with keepdim."""
    shape = inputs["in"]
    rank = len(shape)
    dims = _ints(params["dims"])
    if not dims or not all(-rank <= d < rank for d in dims):
        return None
    axes = {d % rank for d in dims}
    if len(axes) != len(dims) or 0 in axes:
        return None
    if params.get("keepdim"):
        return (tuple(1 if i in axes else d for i, d in enumerate(shape)),)
    return (tuple(d for i, d in enumerate(shape) if i not in axes),)


def broadcast(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """Add, Multiply, Subtract, Divide: torch's broadcasting, from the right."""
    shapes = list(inputs.values())
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(1, rank + 1):
        sizes = {s[-i] for s in shapes if len(s) >= i} - {1}
        if len(sizes) > 1:
            return None
        out.append(sizes.pop() if sizes else 1)
    return (tuple(reversed(out)),)


def concat(params: dict[str, Any], inputs: dict[str, Shape]) -> tuple[Shape, ...] | None:
    """Concat: every other dimension equal, the joined one summed."""
    shapes = list(inputs.values())
    rank = len(shapes[0])
    dim = params.get("dim", 1)
    if any(len(s) != rank for s in shapes) or not -rank <= dim < rank:
        return None
    dim %= rank
    if any(s[:dim] + s[dim + 1:] != shapes[0][:dim] + shapes[0][dim + 1:] for s in shapes):
        return None
    return (shapes[0][:dim] + (sum(s[dim] for s in shapes),) + shapes[0][dim + 1:],)


def learned_tensor(params: dict[str, Any], inputs: dict[str, Shape]
                   ) -> tuple[Shape, ...] | None:
    """Learned tensor: 1 x shape alone, N x shape repeated for the samples of 'like'."""
    shape = _ints(params["shape"])
    if not shape:
        return None
    like = inputs.get("like")
    return _positive((1 if like is None else like[0], *shape))


RULES: dict[str, Rule] = {rule.__name__: rule for rule in (
    same_shape, prelu, convolution, transposed_convolution, pooling, adaptive_pooling, upsample,
    linear, embedding, recurrent, transformer, attention, sequence_reduce, reduction,
    broadcast, concat, learned_tensor)}


def declared_shapes(rule: str, params: dict[str, Any], inputs: dict[str, Shape]
                    ) -> Sequence[Shape] | None:
    """The shapes rule ``rule`` declares, or None (no such rule, or it is not sure)."""
    found = RULES.get(rule)
    if found is None:
        return None
    try:
        return found(params, inputs)
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None  # a setting of the wrong kind: validation and the meta run say why
