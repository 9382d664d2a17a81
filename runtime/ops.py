"""Small runtime pieces for layers that are not one plain ``torch.nn`` class.

The catalog declares every layer; most map one-to-one onto a ``torch.nn`` class. The few that
do not are implemented here, next to the compiler, so the compiler and shape inference treat
them exactly like torch layers (recurrent wrappers, reshape) or as plain functions (merges).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from graph.catalog import LayerSpec

# Layer ids whose output is a torch function of their inputs, not a module (fx call_function).
MERGE_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "Add": torch.add,
    "Multiply": torch.mul,
    "Concat": torch.cat,
}

# Layer ids that are neither modules nor functions: graph inputs and task heads.
PLACEHOLDERS = frozenset({"Input"})
HEADS = frozenset({"Output"})

RECURRENT = frozenset({"RNN", "LSTM", "GRU"})

# Layers that take integer (token id) tensors without complaint; every other layer needs float
# values. The meta device does not check dtypes for most ops, so this keeps meta honest.
# SequenceReduce takes token ids on its optional "mask" port and checks its "in" port itself.
INTEGER_INPUTS = frozenset({"Flatten", "Reshape", "Concat", "Output", "SequenceReduce"})
# Layers that need integer token ids (float values are an error).
TOKEN_INPUTS = frozenset({"Embedding"})

# How many dimensions (batch included) a layer's input must have, with the words used in
# messages. torch also accepts unbatched inputs for these, which would silently read the batch
# as channels, so shape inference insists on the batched form. Layers not listed here fall
# back to their torch class suffix (1d: 3, 2d: 4, 3d: 5); layers without one accept any rank.
RANKS: dict[str, tuple[tuple[int, ...], str]] = {
    "Conv1d": ((3,), "N x C x L input"),
    "BatchNorm1d": ((2, 3), "N x C or N x C x L input"),
    "RNN": ((3,), "a sequence N x L x F"),
    "LSTM": ((3,), "a sequence N x L x F"),
    "GRU": ((3,), "a sequence N x L x F"),
    "TransformerEncoderLayer": ((3,), "a sequence N x L x F"),
    "SequenceReduce": ((3,), "a sequence N x L x F"),
    "PositionalEncoding": ((3,), "a sequence N x L x F"),
}
_SUFFIX_RANKS = {"1d": ((3,), "N x C x L input"), "2d": ((4,), "N x C x H x W input"),
                 "3d": ((5,), "N x C x D x H x W input")}


def expected_rank(layer_id: str, torch_class: str | None) -> tuple[tuple[int, ...], str] | None:
    """Allowed input ranks (batch included) and their description, or None for any rank."""
    if layer_id in RANKS:
        return RANKS[layer_id]
    name = torch_class or layer_id
    return _SUFFIX_RANKS.get(name[-2:].lower())


class Recurrent(nn.Module):
    """An RNN, LSTM or GRU that returns one tensor, as the graph's ports expect.

    ``output="sequence"`` returns every step (N x L x H, H doubled when bidirectional);
    ``output="last"`` returns the final state (N x H): for a bidirectional layer the forward
    direction's last step next to the backward direction's first step, which is where each
    direction has read the whole sequence.
    """

    def __init__(self, kind: str, output: str = "sequence", **kwargs: object) -> None:
        super().__init__()
        if output not in ("sequence", "last"):
            raise ValueError(f"output must be 'sequence' or 'last', not {output!r}")
        self.rnn = getattr(nn, kind)(**kwargs)
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"expected a sequence N x L x F, got {x.dim()}-D input")
        out, _ = self.rnn(x)
        if self.output == "sequence":
            return out
        if not self.rnn.bidirectional:
            return out[:, -1]
        hidden = self.rnn.hidden_size
        return torch.cat([out[:, -1, :hidden], out[:, 0, hidden:]], dim=1)

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
        steps = torch.arange(length, dtype=torch.float32).unsqueeze(1)
        rates = 10000.0 ** (-torch.arange(0, features, 2, dtype=torch.float32) / features)
        table = torch.zeros(length, features)
        table[:, 0::2] = torch.sin(steps * rates)
        table[:, 1::2] = torch.cos(steps * rates[:features // 2])
        self.register_buffer("position", table, persistent=False)  # rebuilt, never saved

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
    """Gives each sample a new shape; the batch dimension is kept as it is."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def is_function(layer_id: str) -> bool:
    """True for layers that compile to no module: inputs, heads and merges."""
    return layer_id in PLACEHOLDERS or layer_id in HEADS or layer_id in MERGE_FUNCTIONS


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


def build_module(spec: LayerSpec, params: dict[str, Any],
                 input_shapes: Sequence[tuple[int, ...]]) -> nn.Module | None:
    """The module for one layer on the current default device (None for functions).

    Shape inference calls this inside ``torch.device("meta")``, the compiler on the CPU, so
    both see exactly the same construction.
    """
    if is_function(spec.id):
        return None
    kwargs = torch_kwargs(spec, params, input_shapes)
    if spec.id in RECURRENT:
        output = params.get("output", "sequence")
        return Recurrent(spec.id, str(output), **kwargs)
    if spec.id == "Reshape":
        return Reshape(tuple(kwargs["shape"]))
    if spec.id == "SequenceReduce":
        return SequenceReduce(str(kwargs["mode"]))
    if spec.id == "PositionalEncoding":
        return PositionalEncoding(**kwargs)
    if spec.torch_class is None:
        raise ValueError(f"layer type {spec.id} has no torch class and no runtime implementation")
    return getattr(nn, spec.torch_class)(**kwargs)


def apply_merge(layer_id: str, params: dict[str, Any], inputs: Sequence[torch.Tensor]
                ) -> torch.Tensor:
    """Run a merge on its connected inputs (in port order), as the compiled code does."""
    function = MERGE_FUNCTIONS[layer_id]
    if layer_id == "Concat":
        return function(list(inputs), dim=int(params.get("dim", 1)))
    result = inputs[0]
    for other in inputs[1:]:
        result = function(result, other)
    return result
