"""The layer catalog: what a layer declaration is (``LayerSpec``, ``Param``, ``Port``), the
palette's categories, and the lookups by id.

The palette, the inspector, parameter validation, the project file, shape inference, the
compiler, the exporters and the importers all read the declarations, so adding a torch layer
is one entry in its category's module of ``graph/layers/`` (plus, for layers that are not a
plain ``torch.nn`` class, a small class in ``runtime/ops.py`` that the declaration names).
Nothing here imports torch: implementations, functions and import readers are named by
strings that ``runtime`` resolves.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from graph.layer_maps import FxMap, OnnxMap

# Parameter kinds. "ints" is a tuple of ints: fixed length when Param.length is set.
INT, FLOAT, BOOL, CHOICE, INTS, STR = "int", "float", "bool", "choice", "ints", "str"


@dataclass(frozen=True)
class Param:
    """One typed, bounded parameter of a layer; the inspector builds its widget from this."""

    name: str
    kind: str
    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    length: int | None = None  # for INTS: fixed tuple length (None = any length >= 1)
    torch_arg: bool = True  # passed to the torch constructor under the same name
    label: str = ""  # shown in the inspector; defaults to the name in words
    # How each of ``choices`` reads in a form, in the same order; () shows the values as such.
    choice_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.choice_labels and len(self.choice_labels) != len(self.choices):
            raise ValueError(f"parameter {self.name!r}: {len(self.choice_labels)} choice "
                             f"labels for {len(self.choices)} choices")

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def choice_label(self, value: str) -> str:
        """How the choice ``value`` reads in a form (the value itself when not labelled)."""
        if self.choice_labels and value in self.choices:
            return self.choice_labels[self.choices.index(value)]
        return value

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is not acceptable for this parameter, or None when it is."""
        if self.kind == BOOL:
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind == INT:
            if isinstance(value, bool) or not isinstance(value, int):
                return "must be a whole number"
            return self._check_bounds(value)
        if self.kind == FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return "must be a number"
            if value != value:  # NaN
                return "must be a number, not NaN"
            return self._check_bounds(value)
        if self.kind == CHOICE:
            if value not in self.choices:
                return f"must be one of {', '.join(self.choices)}"
            return None
        if self.kind == STR:
            return None if isinstance(value, str) else "must be text"
        if self.kind == INTS:
            if not isinstance(value, (tuple, list)) or not value:
                return "must be a list of whole numbers"
            if any(isinstance(v, bool) or not isinstance(v, int) for v in value):
                return "must be a list of whole numbers"
            if self.length is not None and len(value) != self.length:
                return f"must have {self.length} values"
            for v in value:
                problem = self._check_bounds(v)
                if problem:
                    return "each value " + problem
            return None
        return f"has an unknown parameter kind {self.kind!r}"

    def _check_bounds(self, value: float) -> str | None:
        if self.minimum is not None and value < self.minimum:
            return f"must be at least {_fmt(self.minimum)}"
        if self.maximum is not None and value > self.maximum:
            return f"must be at most {_fmt(self.maximum)}"
        return None

    def coerce(self, value: Any) -> Any:
        """Convert a JSON value to this parameter's Python type (lists to tuples, 3.0 to 3)."""
        if self.kind == INTS and isinstance(value, list):
            return tuple(value)
        if self.kind == INT and isinstance(value, float) and value.is_integer():
            return int(value)
        if self.kind == FLOAT and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


@dataclass(frozen=True)
class Port:
    """An input or output port. An optional input may stay unconnected; an optional output
    may stay unwired, and may not exist for some params (Chunk's out3 with chunks=2)."""

    name: str
    optional: bool = False


# Roles: how a layer takes part in the compiled network.
INPUT = "input"  # a graph input (forward's argument)
MODULE = "module"  # an nn.Module with (possibly) weights: a torch class or an ops class
MERGE = "merge"  # a torch function of several inputs (torch.add, torch.cat)
HEAD = "head"  # a task head: the network's result, with its loss
TENSOR_OP = "tensor op"  # a module without weights that only rearranges values (reshapes)
ROLES = (INPUT, MODULE, MERGE, HEAD, TENSOR_OP)

# Input dtypes a layer accepts.
FLOATS = "float"  # float values (integer token ids are an error)
TOKENS = "tokens"  # integer token ids (float values are an error)
ANY = "any"  # either

# Traits other code asks about instead of keeping its own list of layer types.
FILTERS = "filters"  # learned spatial filters (the filter views, transfer's trunk)
UNITS = "units"  # output units activation maximization can drive
SEQUENCE = "sequence"  # only makes sense on sequences (the Sequences panel applies)
CONTEXT = "context"  # each step's output reads other steps (recurrent and attention layers)
RECURRENT = "recurrent"  # an RNN, LSTM or GRU
ENDS_TRUNK = "ends trunk"  # no feature map after it: a transferred trunk stops here
# Each output value comes from the input value at the same place (or is it): the output has
# the input's shape and dtype and there are no weights, so shape inference takes that as given
# instead of running the layer (its first meta run would import torch._dynamo and sympy).
ELEMENTWISE = "element-wise"


@dataclass(frozen=True)
class LayerSpec:
    """The declaration of one layer type."""

    id: str
    category: str
    title: str
    description: str
    params: tuple[Param, ...] = ()
    inputs: tuple[Port, ...] = (Port("in"),)
    outputs: tuple[Port, ...] = (Port("out"),)
    role: str = MODULE
    # The implementation: a torch.nn class name, or the name of a class in runtime/ops.py
    # (exported files carry its source). With both, the ops class wraps the torch module
    # (its first constructor argument) and takes the params that are not torch arguments.
    torch_class: str | None = None
    ops_class: str | None = None
    # Merges: the torch function ("add", "mul", "cat"), applied pairwise, or, when ``merge_dim``
    # names a param, once to the list of inputs along that param's dimension.
    merge: str = ""
    merge_dim: str = ""
    # Input ranks (batch included) the layer accepts, and how messages say it; () = any rank.
    ranks: tuple[int, ...] = ()
    rank_words: str = ""
    dtype: str = FLOATS  # what its inputs hold: FLOATS, TOKENS or ANY
    weights: bool = False  # whether it can have trainable weights
    traits: frozenset[str] = frozenset()
    fx: FxMap = FxMap()
    onnx: OnnxMap = OnnxMap()
    # Its output shapes as arithmetic: a rule of graph/shape_rules.py, so shape inference
    # need not run it ("" = run it on the meta device).
    shape_rule: str = ""
    # Constructor arguments read from the input shape: (torch kwarg, dimension index).
    inferred: tuple[tuple[str, int], ...] = ()
    # Constructor arguments that are always the same (e.g. batch_first=True); importers
    # refuse a model whose layer uses another value.
    fixed: dict[str, Any] = field(default_factory=dict)
    # Format of the one-line summary on the node, filled from params, e.g. "{out_channels}@...".
    summary: str = ""
    # Settings that change what the layer is (bidirectional, stride, groups): the node adds
    # each to its summary while it differs from its default, so two nodes of the same type
    # with different key settings never look the same.
    key_params: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = {p.name for p in self.params}
        unknown = [k for k in self.key_params if k not in names]
        if unknown:
            raise ValueError(f"{self.id}: key_params {unknown} are not parameters")

    def has(self, trait: str) -> bool:
        """Whether the declaration lists ``trait`` (FILTERS, SEQUENCE, ...)."""
        return trait in self.traits

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.id} has no parameter {name!r}")

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def input_port(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output_port(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def describe(self, params: dict[str, Any]) -> str:
        """The short summary shown on the node body ("16@3x3 · stride 2"): the summary
        format, then each key setting that differs from its default."""
        values = {**self.defaults(), **params}
        shown = {k: _short(v) for k, v in values.items()}
        parts = []
        if self.summary:
            try:
                parts.append(self.summary.format(**shown))
            except (KeyError, IndexError, ValueError):
                pass
        for name in self.key_params:
            param = self.param(name)
            value = values.get(name, param.default)
            if value == param.default or (isinstance(value, (list, tuple))
                                          and tuple(value) == tuple(param.default)):
                continue
            words = param.title.lower()
            if param.kind == BOOL:
                parts.append(words if value else f"no {words}")
            else:
                parts.append(f"{words} {shown[name]}")
        return " \u00b7 ".join(p for p in parts if p)


def _short(value: Any) -> Any:
    """How a value reads on a node: sizes as 3x3."""
    return "x".join(map(str, value)) if isinstance(value, (tuple, list)) else value


# Categories in palette order: (id, title).
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("io", "Input / Output"),
    ("core", "Core"),
    ("convolution", "Convolution"),
    ("pooling", "Pooling"),
    ("recurrent", "Recurrent & attention"),
    ("normalization", "Normalization"),
    ("activation", "Activation"),
    ("merge", "Merge"),
    ("reshape", "Tensor ops"),
)

# Tasks an Output head can train for (runtime/heads.py gives each its loss and metrics):
# classification (one class per sample), regression (numbers), tagging (one class per sequence
# step; steps labelled -100 are ignored), forecasting (the next values of a series; also
# measured against repeating the last input value) and reconstruction (the head's target is
# the network's own input; the dataset's labels only colour and score the views).
TASKS: tuple[str, ...] = ("classification", "regression", "tagging", "forecasting",
                          "reconstruction")
# The kind of dataset targets each head task trains on; None: any (the input is the target).
TASK_TARGETS: dict[str, str | None] = {
    "classification": "classification", "regression": "regression",
    "tagging": "classification", "forecasting": "regression", "reconstruction": None,
}
LOSSES: tuple[str, ...] = ("auto", "cross_entropy", "bce", "mse", "l1", "huber")


@functools.cache
def _by_id() -> dict[str, LayerSpec]:
    """Each declaration by id (graph.layers imports this module: read on first use)."""
    from graph.layers import LAYERS

    return {spec.id: spec for spec in LAYERS}


def get(layer_id: str) -> LayerSpec | None:
    """The declaration of ``layer_id``, or None for an unknown type."""
    return _by_id().get(layer_id)


def spec(layer_id: str) -> LayerSpec:
    """The declaration of ``layer_id``; KeyError naming the type when unknown."""
    try:
        return _by_id()[layer_id]
    except KeyError:
        raise KeyError(f"unknown layer type {layer_id!r}") from None


def by_category() -> list[tuple[str, str, list[LayerSpec]]]:
    """(category id, title, layers) in palette order."""
    return [(cid, title, [s for s in _by_id().values() if s.category == cid])
            for cid, title in CATEGORIES]
