"""The layer catalog: every layer type declared once, as data.

The palette, the inspector, parameter validation, the project file, shape inference, the
compiler, the exporters and the importers all read these declarations, so adding a torch layer
is one entry here (plus, for layers that are not a plain ``torch.nn`` class, a small class in
``runtime/ops.py`` that the declaration names). Nothing here imports torch: implementations,
functions and import readers are named by strings that ``runtime`` resolves.
"""

from __future__ import annotations

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
    # Constructor arguments read from the input shape: (torch kwarg, dimension index).
    inferred: tuple[tuple[str, int], ...] = ()
    # Constructor arguments that are always the same (e.g. batch_first=True); importers
    # refuse a model whose layer uses another value.
    fixed: dict[str, Any] = field(default_factory=dict)
    # Format of the one-line summary on the node, filled from params, e.g. "{out_channels}@...".
    summary: str = ""

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
        """The short summary shown on the node body ("16@3x3")."""
        if not self.summary:
            return ""
        values = {**self.defaults(), **params}
        shown = {k: "x".join(map(str, v)) if isinstance(v, (tuple, list)) else v
                 for k, v in values.items()}
        try:
            return self.summary.format(**shown)
        except (KeyError, IndexError, ValueError):
            return ""


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


# Input ranks shared by several layers: (ranks, words for messages).
_SEQUENCE = {"ranks": (3,), "rank_words": "a sequence N x L x F"}
_IMAGE = {"ranks": (4,), "rank_words": "N x C x H x W input"}
_CHANNELS = {"ranks": (3,), "rank_words": "N x C x L input"}


def _bias() -> Param:
    return Param("bias", BOOL, True, "Learn an additive bias per output.")


def _pair(name: str, default: tuple[int, int], help: str, minimum: int = 0) -> Param:
    return Param(name, INTS, default, help, minimum=minimum, maximum=1024, length=2)


def _size(dims: int, name: str, default: tuple[int, int], help: str, minimum: int = 0
          ) -> Param:
    """A size per spatial dimension: a pair for 2-D layers, one whole number for 1-D ones."""
    if dims == 2:
        return _pair(name, default, help, minimum)
    return Param(name, INT, default[0], help, minimum=minimum, maximum=1024)


def _groups() -> Param:
    return Param("groups", INT, 1, "Split the channels into this many groups, each filtered "
                 "on its own; must divide the input and output channels (groups = input "
                 "channels: depthwise).", 1, 65536)


def _conv_params(dims: int) -> tuple[Param, ...]:
    return (
        Param("out_channels", INT, 16, "Number of filters (output channels).", 1, 65536),
        _size(dims, "kernel_size", (3, 3), "Size of each filter.", 1),
        _size(dims, "stride", (1, 1), "Step between filter positions.", 1),
        _size(dims, "padding", (0, 0), "Values added on each side of the input."),
        _size(dims, "dilation", (1, 1), "Spacing between filter taps.", 1),
        _groups(),
        Param("padding_mode", CHOICE, "zeros", "What the padding holds: zeros, the mirrored "
              "edge, the repeated edge or the other side (circular).",
              choices=("zeros", "reflect", "replicate", "circular")),
        _bias(),
    )


def _recurrent(layer_id: str, title: str, description: str, extra: tuple[Param, ...] = ()
               ) -> LayerSpec:
    return LayerSpec(
        layer_id, "recurrent", title, description,
        params=(
            Param("hidden_size", INT, 64, "Features in the hidden state.", 1, 65536),
            Param("num_layers", INT, 1, "Recurrent layers stacked on each other.", 1, 16),
            Param("bidirectional", BOOL, False,
                  "Also read the sequence backwards, so each step sees what comes after it."),
            Param("dropout", FLOAT, 0.0, "Dropout between stacked layers.", 0.0, 0.99),
            *extra,
            Param("output", CHOICE, "sequence",
                  "'sequence': every step's output (N x L x H); 'last': the final step (N x H).",
                  choices=("sequence", "last"), torch_arg=False,
                  choice_labels=("Every step (sequence)", "Last step only")),
        ),
        torch_class=layer_id, ops_class="Recurrent", weights=True,
        outputs=(Port("out"), Port("h_n", optional=True)),
        traits=frozenset({SEQUENCE, CONTEXT, RECURRENT}),
        fx=FxMap(module="recurrent"),
        onnx=OnnxMap(ops=(layer_id,), reader="recurrent", importable=False,
                     why="torch's exporter unrolls it or computes its weights in the graph; "
                     "files that keep them as initializers import"),
        inferred=(("input_size", -1),),
        fixed={"batch_first": True},
        summary="{hidden_size}", **_SEQUENCE,
    )


def _activation(layer_id: str, description: str, params: tuple[Param, ...] = (),
                **declared: Any) -> LayerSpec:
    """An element-wise torch activation; ``declared`` adds how importers find it."""
    return LayerSpec(layer_id, "activation", layer_id, description, params=params,
                     torch_class=layer_id, **declared)


def _calls(name: str) -> tuple[str, ...]:
    """The torch function, functional and tensor method spellings of one activation."""
    return (f"torch.{name}", f"F.{name}", f"Tensor.{name}")


def _merge(layer_id: str, title: str, description: str, params: tuple[Param, ...] = (),
           ports: int = 4, **declared: Any) -> LayerSpec:
    """A merge of two required inputs and ``ports - 2`` optional ones."""
    return LayerSpec(
        layer_id, "merge", title, description, params=params, role=MERGE,
        inputs=(Port("in1"), Port("in2"),
                *(Port(f"in{i}", optional=True) for i in range(3, ports + 1))),
        **declared,
    )


# How element-wise merges take inputs of different shapes; said in their descriptions.
_BROADCASTS = (" Inputs may differ where one has size 1 (N x C x H x W with N x C x 1 x 1, "
               "as squeeze-and-excitation does); they need the same number of dimensions.")


def _reduction(layer_id: str, what: str, how: str, dtype: str, functions: tuple[str, ...],
               onnx: OnnxMap) -> LayerSpec:
    """The mean, sum or maximum over chosen dimensions of each sample."""
    return LayerSpec(
        layer_id, "reshape", layer_id,
        f"The {what} over the chosen dimensions of each sample. Dimensions are numbered as in "
        "torch: 0 is the batch, which is never reduced, 1 the channels or features; 2, 3 "
        "reduce height and width of N x C x H x W (global pooling).",
        params=(Param("dims", INTS, (2, 3), "Dimensions to reduce (1 or later; negative: "
                      "from the end).", minimum=-8, maximum=8),
                Param("keepdim", BOOL, False, "Keep the reduced dimensions as size 1.",
                      label="Keep dimensions")),
        ops_class="Reduce", fixed={"how": how}, summary="{dims}", dtype=dtype,
        fx=FxMap(functions=functions, call="reduce"), onnx=onnx,
    )


def _pool(layer_id: str, title: str, description: str, dims: int = 2,
          extra: tuple[Param, ...] = (), **declared: Any) -> LayerSpec:
    """A max or average pooling; ``extra`` are the options after the padding, in the order
    of the torch function's arguments (F.max_pool2d, F.avg_pool2d)."""
    return LayerSpec(
        layer_id, "pooling", title, description,
        params=(
            _size(dims, "kernel_size", (2, 2), "Size of each pooling window.", 1),
            _size(dims, "stride", (2, 2), "Step between windows.", 1),
            _size(dims, "padding", (0, 0), "Values added on each side."),
            *extra,
        ),
        torch_class=layer_id, summary="{kernel_size}", **(_IMAGE if dims == 2 else _CHANNELS),
        **declared,
    )


def _ceil_mode() -> Param:
    return Param("ceil_mode", BOOL, False, "Round the output size up: a last, partial window "
                 "at the edge counts too.")


def _max_pool_options(dims: int) -> tuple[Param, ...]:
    return (_size(dims, "dilation", (1, 1), "Spacing between the values of a window.", 1),
            _ceil_mode())


def _avg_pool_options() -> tuple[Param, ...]:
    return (_ceil_mode(),
            Param("count_include_pad", BOOL, True, "Count the padding zeros in each average "
                  "(off: average only the real values)."))


LAYERS: tuple[LayerSpec, ...] = (
    # -- input / output ---------------------------------------------------------------------
    LayerSpec(
        "Input", "io", "Input", "Where samples enter the network; its shape excludes the batch.",
        params=(
            Param("shape", INTS, (2,), "Shape of one sample, without the batch dimension "
                  "(e.g. 1, 8, 8 for an 8x8 grey image).", minimum=1, maximum=1_000_000),
            Param("dtype", CHOICE, "float", "'long' for token or class indices (Embedding).",
                  choices=("float", "long"), choice_labels=("float", "long (indices)")),
        ),
        inputs=(), summary="{shape}", role=INPUT,
    ),
    LayerSpec(
        "Output", "io", "Output", "A task head: what the network predicts and the loss it "
        "trains with.",
        params=(
            Param("task", CHOICE, "classification", "What this head predicts.", choices=TASKS,
                  choice_labels=("Classification", "Regression", "tagging", "forecasting",
                                 "reconstruction")),
            Param("loss", CHOICE, "auto", "Loss function; 'auto' picks the usual one for the "
                  "task.", choices=LOSSES,
                  choice_labels=("Auto", "Cross-entropy", "Binary cross-entropy",
                                 "Mean squared error", "Mean absolute error (L1)", "Huber")),
            Param("weight", FLOAT, 1.0, "Weight of this head's loss in the total.", 0.0, 1000.0),
        ),
        outputs=(), summary="{task}", role=HEAD, dtype=ANY,
    ),
    # -- core ------------------------------------------------------------------------------------
    LayerSpec(
        "Linear", "core", "Linear", "Fully connected layer: every output is a weighted sum of "
        "all inputs.",
        params=(Param("out_features", INT, 64, "Number of output units.", 1, 1_000_000),
                _bias()),
        torch_class="Linear", inferred=(("in_features", -1),), summary="{out_features}",
        weights=True, traits=frozenset({UNITS, ENDS_TRUNK}),
        fx=FxMap(functions=("F.linear",), call="linear"),
        onnx=OnnxMap(ops=("Gemm", "MatMul"), reader="linear"),
    ),
    LayerSpec(
        "Dropout", "core", "Dropout", "Randomly zeroes a share of values while training, "
        "against overfitting.",
        params=(Param("p", FLOAT, 0.5, "Share of values zeroed.", 0.0, 0.99, label="Rate"),),
        torch_class="Dropout", summary="p={p}",
        fx=FxMap(functions=("F.dropout",)),
        onnx=OnnxMap(ops=("Dropout",), reader="dropout"),
    ),
    LayerSpec(
        "Embedding", "core", "Embedding", "Maps token indices to learned vectors.",
        params=(
            Param("num_embeddings", INT, 1000, "Vocabulary size.", 1, 10_000_000,
                  label="Vocabulary"),
            Param("embedding_dim", INT, 32, "Length of each vector.", 1, 65536,
                  label="Dimension"),
        ),
        torch_class="Embedding", summary="{num_embeddings}->{embedding_dim}",
        dtype=TOKENS, weights=True, traits=frozenset({SEQUENCE}),
        fx=FxMap(module="embedding"), onnx=OnnxMap(ops=("Gather",), reader="gather"),
    ),
    LayerSpec(
        "Identity", "core", "Identity", "Passes its input through unchanged: a placeholder "
        "(a shortcut that changes nothing, a layer switched off).",
        torch_class="Identity", dtype=ANY,
    ),
    LayerSpec(
        "StochasticDepth", "core", "Stochastic depth",
        "Randomly drops a skip-connected branch while training, as "
        "torchvision.ops.StochasticDepth: "
        "'row' zeroes whole samples, 'batch' the whole batch, with probability p, and scales "
        "what survives by 1 / (1 - p); in evaluation it passes its input through. Put it at "
        "the end of a branch, before the Add.",
        params=(Param("p", FLOAT, 0.1, "Probability of dropping the branch.", 0.0, 1.0,
                      label="Drop rate"),
                Param("mode", CHOICE, "row", "Drop per sample or for the whole batch.",
                      choices=("row", "batch"), choice_labels=("Per sample", "Whole batch"))),
        ops_class="StochasticDepth", summary="p={p}",  # ONNX: inference leaves it out
        fx=FxMap(classes=("torchvision.ops.stochastic_depth.StochasticDepth",)),
    ),
    # -- convolution ----------------------------------------------------------------------------
    LayerSpec(
        "Conv1d", "convolution", "Conv1d", "1-D convolution over sequences (N x C x L).",
        params=_conv_params(1), torch_class="Conv1d", inferred=(("in_channels", 1),),
        summary="{out_channels}@{kernel_size}", **_CHANNELS,
        weights=True, traits=frozenset({FILTERS, UNITS}),
        fx=FxMap(module="conv"),  # a Pad before the Conv: its padding_mode
        onnx=OnnxMap(ops=("Conv", "Pad"), reader="conv"),
    ),
    LayerSpec(
        "Conv2d", "convolution", "Conv2d", "2-D convolution: learned filters slide over an "
        "image (N x C x H x W).",
        params=_conv_params(2), torch_class="Conv2d", inferred=(("in_channels", 1),),
        summary="{out_channels}@{kernel_size}", **_IMAGE,
        weights=True, traits=frozenset({FILTERS, UNITS}),
        fx=FxMap(module="conv"),  # a Pad before the Conv: its padding_mode
        onnx=OnnxMap(ops=("Conv", "Pad"), reader="conv"),
    ),
    LayerSpec(
        "ConvTranspose2d", "convolution", "ConvTranspose2d", "Transposed 2-D convolution: "
        "upsamples feature maps (decoders, generators).",
        params=(
            Param("out_channels", INT, 16, "Number of output channels.", 1, 65536),
            _pair("kernel_size", (2, 2), "Size of each filter.", 1),
            _pair("stride", (2, 2), "Upsampling step.", 1),
            _pair("padding", (0, 0), "Rows and columns removed from each side."),
            _pair("output_padding", (0, 0), "Extra rows and columns added on one side."),
            _groups(),
            _pair("dilation", (1, 1), "Spacing between filter taps.", 1),
            _bias(),
        ),
        torch_class="ConvTranspose2d", inferred=(("in_channels", 1),),
        summary="{out_channels}@{kernel_size}", **_IMAGE,
        weights=True, traits=frozenset({FILTERS, UNITS}),
        fx=FxMap(module="conv"), onnx=OnnxMap(ops=("ConvTranspose",), reader="conv_transpose"),
    ),
    # -- pooling ----------------------------------------------------------------------------------
    _pool("MaxPool2d", "MaxPool2d", "Keeps the largest value of each window.",
          extra=_max_pool_options(2),
          fx=FxMap(module="pool", functions=("F.max_pool2d",), call="pool"),
          onnx=OnnxMap(ops=("MaxPool",), reader="pool")),
    _pool("AvgPool2d", "AvgPool2d", "Averages each window.", extra=_avg_pool_options(),
          fx=FxMap(module="pool", functions=("F.avg_pool2d",), call="pool"),
          onnx=OnnxMap(ops=("AveragePool",), reader="pool")),
    LayerSpec(
        "AdaptiveAvgPool2d", "pooling", "AdaptiveAvgPool2d", "Averages down to a fixed output "
        "size, whatever the input size.",
        params=(_pair("output_size", (1, 1), "Height and width of the output.", 1),),
        torch_class="AdaptiveAvgPool2d", summary="{output_size}", **_IMAGE,
        fx=FxMap(module="adaptive_pool", functions=("F.adaptive_avg_pool2d",),
                 call="adaptive_pool"),
        onnx=OnnxMap(ops=("GlobalAveragePool", "ReduceMean"), reader="global_pool"),
    ),
    _pool("MaxPool1d", "MaxPool1d", "Keeps the largest value of each window along a "
          "sequence (N x C x L).", dims=1, extra=_max_pool_options(1),
          fx=FxMap(module="pool", functions=("F.max_pool1d",), call="pool"),
          onnx=OnnxMap(ops=("MaxPool",), reader="pool")),
    _pool("AvgPool1d", "AvgPool1d", "Averages each window along a sequence (N x C x L).",
          dims=1, extra=_avg_pool_options(),
          fx=FxMap(module="pool", functions=("F.avg_pool1d",), call="pool"),
          onnx=OnnxMap(ops=("AveragePool",), reader="pool")),
    LayerSpec(
        "AdaptiveAvgPool1d", "pooling", "AdaptiveAvgPool1d", "Averages a sequence (N x C x L) "
        "down to a fixed length, whatever its length.",
        params=(Param("output_size", INT, 1, "Length of the output.", 1, 65536),),
        torch_class="AdaptiveAvgPool1d", summary="{output_size}", **_CHANNELS,
        fx=FxMap(functions=("F.adaptive_avg_pool1d",)),
        onnx=OnnxMap(importable=False, why="exported as Unsqueeze, ReduceMean and Squeeze, "
                     "which import as no layer"),
    ),
    LayerSpec(
        "AdaptiveMaxPool2d", "pooling", "AdaptiveMaxPool2d", "Keeps the largest values down to "
        "a fixed output size, whatever the input size.",
        params=(_pair("output_size", (1, 1), "Height and width of the output.", 1),),
        torch_class="AdaptiveMaxPool2d", fixed={"return_indices": False},
        summary="{output_size}", **_IMAGE,
        fx=FxMap(module="adaptive_pool", functions=("F.adaptive_max_pool2d",),
                 call="adaptive_pool"),
        onnx=OnnxMap(ops=("GlobalMaxPool", "ReduceMax"), reader="global_pool"),
    ),
    LayerSpec(
        "Upsample", "pooling", "Upsample", "Resizes images (N x C x H x W), as F.interpolate: "
        "by a scale factor, or to a fixed size when one is set (U-Net decoders, feature "
        "pyramids).",
        params=(
            Param("scale_factor", FLOAT, 2.0, "Multiplies height and width (when no size is "
                  "set).", 0.01, 1024.0, label="Scale"),
            _pair("size", (0, 0), "Height and width of the output; 0 x 0: use the scale."),
            Param("mode", CHOICE, "nearest", "Repeat the nearest pixel, or interpolate "
                  "between the four nearest.", choices=("nearest", "bilinear")),
            Param("align_corners", BOOL, False, "Bilinear only: align the corner pixels of "
                  "input and output (as older code did) instead of their edges."),
        ),
        ops_class="Upsample", summary="{mode}", **_IMAGE,
        fx=FxMap(module="upsample", functions=("F.interpolate",), call="interpolate",
                 classes=("Upsample",)),
        onnx=OnnxMap(ops=("Resize",), reader="resize"),
    ),
    # -- recurrent & attention -----------------------------------------------------------------
    _recurrent("RNN", "RNN", "Simple recurrent layer over a sequence (N x L x F).",
               (Param("nonlinearity", CHOICE, "tanh", "Activation of the hidden state.",
                      choices=("tanh", "relu")),)),
    _recurrent("LSTM", "LSTM", "Long short-term memory: a recurrent layer with gates that "
               "keep information over long sequences."),
    _recurrent("GRU", "GRU", "Gated recurrent unit: a lighter LSTM."),
    LayerSpec(
        "SequenceReduce", "recurrent", "Sequence reduce",
        "Turns a sequence (N x L x F) into one vector per sample (N x F): the last step, the "
        "mean or the maximum over steps. Connect the token Input to 'mask' to leave padding "
        "(token id 0) out: the mean and maximum skip it and 'last' takes the last real token.",
        params=(Param("mode", CHOICE, "mean", "How the steps are combined.",
                      choices=("last", "mean", "max"),
                      choice_labels=("Last step only", "mean", "max")),),
        inputs=(Port("in"), Port("mask", optional=True)),
        summary="{mode}", ops_class="SequenceReduce", dtype=ANY, **_SEQUENCE,
        traits=frozenset({SEQUENCE}),
        onnx=OnnxMap(),  # exported as a reduction over the steps: imports as a Mean or Max
    ),
    LayerSpec(
        "PositionalEncoding", "recurrent", "Positional encoding",
        "Adds each step's position to a sequence (N x L x F), so a Transformer encoder can "
        "tell word order: fixed sines and cosines, or one learned vector per position.",
        params=(Param("kind", CHOICE, "sinusoidal", "Fixed sinusoids (nothing to train) or "
                      "learned position vectors.", choices=("sinusoidal", "learned"),
                      choice_labels=("Sinusoidal (fixed)", "Learned")),),
        inferred=(("length", 1), ("features", -1)), summary="{kind}",
        ops_class="PositionalEncoding", weights=True, traits=frozenset({SEQUENCE}),
        onnx=OnnxMap(why="exported as an addition of a constant table, which imports as "
                     "a Learned tensor and an Add"),
        **_SEQUENCE,
    ),
    LayerSpec(
        "TransformerEncoderLayer", "recurrent", "Transformer encoder",
        "Self-attention and a feed-forward block over a sequence (N x L x D).",
        params=(
            Param("nhead", INT, 4, "Attention heads; must divide the feature size.", 1, 256,
                  label="Heads"),
            Param("dim_feedforward", INT, 128, "Width of the feed-forward block.", 1, 65536,
                  label="Feed-forward"),
            Param("dropout", FLOAT, 0.1, "Dropout rate.", 0.0, 0.99),
            Param("activation", CHOICE, "relu", "Feed-forward activation.",
                  choices=("relu", "gelu")),
        ),
        torch_class="TransformerEncoderLayer", inferred=(("d_model", -1),),
        fixed={"batch_first": True}, summary="{nhead} heads", **_SEQUENCE,
        weights=True, traits=frozenset({SEQUENCE, CONTEXT}), fx=FxMap(module="transformer"),
        onnx=OnnxMap(importable=False, why="exported as attention arithmetic (MatMul, "
                     "Softmax, Split), which imports as no layer"),
    ),
    # -- normalization ----------------------------------------------------------------------------
    LayerSpec(
        "BatchNorm1d", "normalization", "BatchNorm1d", "Normalizes each feature over the batch "
        "(N x C or N x C x L).",
        params=(Param("momentum", FLOAT, 0.1, "Running statistics update rate.", 0.0, 1.0),
                Param("eps", FLOAT, 1e-5, "Added to the variance for stability.", 0.0, 1.0)),
        torch_class="BatchNorm1d", inferred=(("num_features", 1),),
        ranks=(2, 3), rank_words="N x C or N x C x L input", weights=True,
        fx=FxMap(module="batchnorm"),
        onnx=OnnxMap(ops=("BatchNormalization",), reader="batchnorm"),
    ),
    LayerSpec(
        "BatchNorm2d", "normalization", "BatchNorm2d", "Normalizes each channel over the batch "
        "and positions (N x C x H x W).",
        params=(Param("momentum", FLOAT, 0.1, "Running statistics update rate.", 0.0, 1.0),
                Param("eps", FLOAT, 1e-5, "Added to the variance for stability.", 0.0, 1.0)),
        torch_class="BatchNorm2d", inferred=(("num_features", 1),), **_IMAGE,
        weights=True, fx=FxMap(module="batchnorm"),
        onnx=OnnxMap(ops=("BatchNormalization",), reader="batchnorm"),
    ),
    LayerSpec(
        "LayerNorm", "normalization", "LayerNorm", "Normalizes the last dimension of each "
        "sample.",
        params=(Param("eps", FLOAT, 1e-5, "Added to the variance for stability.", 0.0, 1.0),),
        torch_class="LayerNorm", inferred=(("normalized_shape", -1),), weights=True,
        fx=FxMap(module="layernorm", functions=("F.layer_norm",), call="layer_norm"),
        onnx=OnnxMap(ops=("LayerNormalization",), reader="layernorm"),
    ),
    # -- activation -------------------------------------------------------------------------------
    _activation("ReLU", "max(0, x): the default non-linearity.",
                fx=FxMap(functions=(*_calls("relu"), "torch.relu_", "Tensor.relu_")),
                onnx=OnnxMap(ops=("Relu",))),
    _activation("LeakyReLU", "Like ReLU with a small slope for negative inputs.",
                (Param("negative_slope", FLOAT, 0.01, "Slope for x < 0.", 0.0, 1.0),),
                fx=FxMap(functions=("F.leaky_relu",)),
                onnx=OnnxMap(ops=("LeakyRelu",), attributes=(("negative_slope", "alpha"),))),
    _activation("GELU", "Smooth ReLU used in transformers; 'tanh' is the faster "
                "approximation (GPT-2, BERT's original code).",
                (Param("approximate", CHOICE, "none", "Exact (erf) or the tanh approximation.",
                       choices=("none", "tanh"), choice_labels=("Exact", "tanh")),),
                fx=FxMap(functions=("F.gelu",)), onnx=OnnxMap(ops=("Gelu",))),
    _activation("Sigmoid", "Squashes to (0, 1).", fx=FxMap(functions=_calls("sigmoid")),
                onnx=OnnxMap(ops=("Sigmoid",))),
    _activation("Tanh", "Squashes to (-1, 1).", fx=FxMap(functions=_calls("tanh")),
                onnx=OnnxMap(ops=("Tanh",))),
    _activation("SiLU", "x * sigmoid(x) (swish): a smooth ReLU that lets small negatives "
                "through.", fx=FxMap(functions=("F.silu",))),
    _activation("Hardswish", "A piecewise-linear SiLU, cheap to compute (MobileNetV3).",
                fx=FxMap(functions=("F.hardswish",)), onnx=OnnxMap(ops=("HardSwish",))),
    _activation("Softmax", "Turns scores into probabilities that sum to 1 along a dimension.",
                (Param("dim", INT, -1, "Dimension that sums to 1.", -8, 8),),
                fx=FxMap(functions=_calls("softmax")),
                onnx=OnnxMap(ops=("Softmax",), reader="softmax")),
    _activation("ReLU6", "min(max(0, x), 6): a ReLU capped at 6 (MobileNet).",
                fx=FxMap(functions=("F.relu6",)), onnx=OnnxMap(ops=("Clip",), reader="clip")),
    _activation("Hardsigmoid", "A piecewise-linear sigmoid, cheap to compute (MobileNetV3's "
                "squeeze-and-excitation gates).", fx=FxMap(functions=("F.hardsigmoid",)),
                onnx=OnnxMap(ops=("HardSigmoid",), reader="hard_sigmoid")),
    _activation("Mish", "x * tanh(softplus(x)): a smooth, non-monotonic ReLU (YOLOv4).",
                fx=FxMap(functions=("F.mish",)), onnx=OnnxMap(ops=("Mish",))),
    _activation("ELU", "Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) below.",
                (Param("alpha", FLOAT, 1.0, "Value it approaches for very negative x.", 0.0,
                       100.0),),
                fx=FxMap(functions=("F.elu",)), onnx=OnnxMap(ops=("Elu",))),
    _activation("SELU", "Scaled ELU whose fixed constants keep activations normalized "
                "(self-normalizing networks).", fx=FxMap(functions=("torch.selu", "F.selu")),
                onnx=OnnxMap(ops=("Selu",))),
    _activation("Softplus", "log(1 + exp(beta * x)) / beta: a smooth ReLU; linear above the "
                "threshold.",
                (Param("beta", FLOAT, 1.0, "Sharpness of the bend.", 0.001, 1000.0),
                 Param("threshold", FLOAT, 20.0, "Above beta * x > threshold it is x.", 0.0,
                       1000.0)),
                fx=FxMap(functions=("F.softplus",)),
                onnx=OnnxMap(ops=("Softplus",), importable=False,
                             why="torch's exporter writes the threshold as Greater and Where "
                             "around Softplus, which import as no layer")),
    _activation("PReLU", "Like LeakyReLU with a learned negative slope: one shared, or one per "
                "channel (dimension 1).",
                (Param("num_parameters", INT, 1, "1 (one slope) or the number of channels.", 1,
                       65536, label="Slopes"),
                 Param("init", FLOAT, 0.25, "Initial slope.", 0.0, 1.0)),
                weights=True, onnx=OnnxMap(ops=("PRelu",), reader="prelu")),
    # -- merge -----------------------------------------------------------------------------------
    _merge("Add", "Add", "Element-wise sum of its inputs (residual connections)." + _BROADCASTS,
           merge="add", fx=FxMap(functions=(
               "operator.add", "operator.iadd", "torch.add", "Tensor.add", "Tensor.add_",
               "Tensor.__add__"), call="merge"),
           onnx=OnnxMap(ops=("Add",), reader="add")),
    _merge("Multiply", "Multiply", "Element-wise product of its inputs (gating, "
           "squeeze-and-excitation)." + _BROADCASTS,
           merge="mul", fx=FxMap(functions=(
               "operator.mul", "operator.imul", "torch.mul", "Tensor.mul", "Tensor.mul_",
               "Tensor.__mul__"), call="merge"),
           onnx=OnnxMap(ops=("Mul",), reader="merge")),
    _merge("Subtract", "Subtract", "Element-wise difference: the first input minus the "
           "others." + _BROADCASTS,
           merge="sub", fx=FxMap(functions=(
               "operator.sub", "operator.isub", "torch.sub", "torch.subtract", "Tensor.sub",
               "Tensor.sub_", "Tensor.__sub__"), call="merge"),
           onnx=OnnxMap(ops=("Sub",), reader="merge")),
    _merge("Divide", "Divide", "Element-wise quotient: the first input divided by the "
           "others." + _BROADCASTS,
           merge="div", fx=FxMap(functions=(
               "operator.truediv", "operator.itruediv", "torch.div", "torch.divide",
               "torch.true_divide", "Tensor.div", "Tensor.div_", "Tensor.__truediv__"),
               call="merge"),
           onnx=OnnxMap(ops=("Div",), reader="merge")),
    _merge("Concat", "Concat", "Joins its inputs (up to 8) along a dimension.",
           (Param("dim", INT, 1, "Dimension to join along (1 = channels/features).", -8, 8),),
           ports=8, merge="cat", merge_dim="dim", dtype=ANY,
           fx=FxMap(functions=("torch.cat", "torch.concat", "torch.concatenate"), call="cat"),
           onnx=OnnxMap(ops=("Concat",), reader="concat")),
    # -- reshape ---------------------------------------------------------------------------------
    LayerSpec(
        "Flatten", "reshape", "Flatten", "Flattens each sample to one vector (N x C x H x W to "
        "N x CHW).",
        params=(Param("start_dim", INT, 1, "First dimension to flatten.", 1, 8),),
        torch_class="Flatten", fixed={"end_dim": -1}, role=TENSOR_OP, dtype=ANY,
        traits=frozenset({ENDS_TRUNK}),
        fx=FxMap(functions=("torch.flatten", "Tensor.flatten"), call="flatten"),
        onnx=OnnxMap(ops=("Flatten",), reader="flatten"),
    ),
    LayerSpec(
        "Reshape", "reshape", "Reshape", "Gives each sample a new shape with the same number of "
        "values (-1: inferred).",
        params=(Param("shape", INTS, (-1,), "New shape of one sample, without the batch.",
                      minimum=-1, maximum=1_000_000),),
        summary="{shape}", ops_class="Reshape", role=TENSOR_OP, dtype=ANY,
        traits=frozenset({ENDS_TRUNK}),
        fx=FxMap(functions=("torch.reshape", "Tensor.reshape", "Tensor.view"), call="reshape"),
        onnx=OnnxMap(ops=("Reshape",), reader="reshape"),
    ),
    _reduction("Mean", "mean", "mean", FLOATS, ("torch.mean", "Tensor.mean"),
               OnnxMap(ops=("ReduceMean",), reader="reduce")),
    _reduction("Sum", "sum", "sum", ANY, ("torch.sum", "Tensor.sum"),
               OnnxMap(ops=("ReduceSum",), reader="reduce")),
    _reduction("Max", "maximum", "amax", ANY, ("torch.amax", "Tensor.amax"),
               OnnxMap(ops=("ReduceMax",), reader="reduce")),
    LayerSpec(
        "Permute", "reshape", "Permute", "Reorders the dimensions of each sample; the batch "
        "stays first. Dimensions are numbered as in torch, 1 being the first after the batch: "
        "2, 3, 1 turns N x C x H x W into N x H x W x C (x.permute(0, 2, 3, 1)).",
        params=(Param("dims", INTS, (2, 3, 1), "The sample's dimensions (1 on) in their new "
                      "order.", minimum=1, maximum=8),),
        summary="{dims}", ops_class="Permute", role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("torch.permute", "Tensor.permute"), call="permute"),
        onnx=OnnxMap(ops=("Transpose",), reader="transpose"),
    ),
    LayerSpec(
        "Transpose", "reshape", "Transpose", "Swaps two dimensions of each sample "
        "(x.transpose(dim0, dim1)); dimensions are numbered as in torch and the batch (0) "
        "stays first.",
        params=(Param("dim0", INT, 1, "One dimension (1 or later; negative: from the end).",
                      -8, 8),
                Param("dim1", INT, 2, "The other dimension.", -8, 8)),
        summary="{dim0}<->{dim1}", ops_class="Transpose", role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("torch.transpose", "Tensor.transpose", "torch.swapaxes",
                            "Tensor.swapaxes"), call="transpose"),
        onnx=OnnxMap(ops=("Transpose",), reader="transpose"),
    ),
    LayerSpec(
        "Slice", "reshape", "Slice", "Keeps positions start to end (exclusive) in steps along "
        "one dimension of each sample, as x[:, start:end:step]; dimensions are numbered as in "
        "torch and the batch (0) stays whole. Negative positions count from the end; an end "
        "past the size stops at the end.",
        params=(Param("dim", INT, 1, "Dimension to slice (1 or later; negative: from the end).",
                      -8, 8),
                Param("start", INT, 0, "First position kept.", -1_000_000, 1_000_000),
                Param("end", INT, 1, "Position where it stops (not kept).", -1_000_000,
                      1_000_000),
                Param("step", INT, 1, "Keep every step-th position.", 1, 1_000_000)),
        summary="{start}:{end}:{step}", ops_class="Slice", role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("operator.getitem",), call="getitem"),
        onnx=OnnxMap(ops=("Slice",), reader="slice"),
    ),
    LayerSpec(
        "Select", "reshape", "Select", "Keeps one position along a dimension, which goes away "
        "(x.select(dim, index), x[:, index]); dimensions are numbered as in torch and the "
        "batch (0) stays whole.",
        params=(Param("dim", INT, 1, "Dimension to select from (1 or later).", -8, 8),
                Param("index", INT, 0, "Position kept (negative: from the end).", -1_000_000,
                      1_000_000)),
        summary="{dim}[{index}]", ops_class="Select", role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("torch.select", "Tensor.select")),
        onnx=OnnxMap(ops=("Gather",), reader="gather"),
    ),
)



# -- structural layers: several outputs --------------------------------------------------------
MAX_PIECES = 4  # output ports of Chunk and Split; the first ``chunks`` (or sizes) are used


def _pieces() -> tuple[Port, ...]:
    """out1 .. out4: two always there, the others used when the params ask for them."""
    return tuple(Port(f"out{i}", optional=i > 2) for i in range(1, MAX_PIECES + 1))


_PIECES_DIM = Param("dim", INT, 1, "Dimension to cut along (1 = channels/features; not the "
                    "batch).", -8, 8)

LAYERS += (
    LayerSpec(
        "Chunk", "reshape", "Chunk", "Cuts each sample into equal pieces along a dimension, "
        f"one per output (out1 .. out{MAX_PIECES}).",
        params=(Param("chunks", INT, 2, "Number of pieces (outputs used).", 2, MAX_PIECES),
                _PIECES_DIM),
        outputs=_pieces(), summary="{chunks} on dim {dim}", ops_class="Chunk",
        role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("torch.chunk", "Tensor.chunk"), call="chunk"),
        onnx=OnnxMap(importable=False, why="exported as an ONNX Split with several outputs, "
                     "which the ONNX importer reads as no layer"),
    ),
    LayerSpec(
        "Split", "reshape", "Split", "Cuts each sample into pieces of the given sizes along a "
        f"dimension, one per output (out1 .. out{MAX_PIECES}).",
        params=(Param("sizes", INTS, (2, 2), f"Size of each piece (2 to {MAX_PIECES}); they "
                      "must add up to the dimension's size.", minimum=1, maximum=1_000_000),
                _PIECES_DIM),
        outputs=_pieces(), summary="{sizes} on dim {dim}", ops_class="Split",
        role=TENSOR_OP, dtype=ANY,
        fx=FxMap(functions=("torch.split", "Tensor.split"), call="split"),
        onnx=OnnxMap(importable=False, why="exported as an ONNX Split with several outputs, "
                     "which the ONNX importer reads as no layer"),
    ),
)


# -- structural layers: learned tensors -----------------------------------------------------------
LAYERS += (
    LayerSpec(
        "LearnedTensor", "core", "Learned tensor",
        "A trained tensor that the network adds, multiplies or joins: a class token, a "
        "positional embedding, a layer scale. Alone it gives 1 x shape, which Add and Multiply "
        "broadcast over the batch; connect any tensor to 'like' to repeat it for each of that "
        "tensor's samples (N x shape), as Concat needs.",
        params=(
            Param("shape", INTS, (1, 8), "Shape of the tensor, without the batch (1 x 8 for a "
                  "class token of 8 features, L x D for a positional embedding, C x 1 x 1 for "
                  "a per-channel layer scale).", minimum=1, maximum=1_000_000),
            Param("init", CHOICE, "normal", "Starting values.", choices=("zeros", "normal",
                                                                          "ones"),
                  choice_labels=("Zeros", "Normal (random)", "Ones")),
            Param("std", FLOAT, 0.02, "Spread of the normal starting values.", 0.0, 10.0),
        ),
        inputs=(Port("like", optional=True),), summary="{shape}",
        ops_class="LearnedTensor", dtype=ANY, weights=True,
        fx=FxMap(module="learned_tensor"),
        onnx=OnnxMap(importable=False, why="repeated for a batch it is exported as an "
                     "initializer expanded to the batch's shape (Shape, Expand), which imports "
                     "as no layer; an initializer that an Add, Mul or Concat uses directly "
                     "imports as a Learned tensor"),
    ),
)

# -- structural layers: attention and Transformer stacks ------------------------------------------
def _transformer_params() -> tuple[Param, ...]:
    """The parameters a Transformer encoder or decoder layer shares."""
    return (
        Param("nhead", INT, 4, "Attention heads; must divide the feature size.", 1, 256,
              label="Heads"),
        Param("dim_feedforward", INT, 128, "Width of the feed-forward block.", 1, 65536,
              label="Feed-forward"),
        Param("dropout", FLOAT, 0.1, "Dropout rate.", 0.0, 0.99),
        Param("activation", CHOICE, "relu", "Feed-forward activation.", choices=("relu", "gelu")),
    )


_ATTENTION_ONNX = OnnxMap(importable=False, why="exported as attention arithmetic (MatMul, "
                          "Softmax, Split), which imports as no layer")

LAYERS += (
    LayerSpec(
        "MultiheadAttention", "recurrent", "Multi-head attention",
        "Each query step reads a weighted mix of the value steps, weighted by how well it "
        "matches each key step (N x L x D). Leave key and value open for self-attention. "
        "Masks read nonzero as 'may attend', so token ids connect directly: key_padding_mask "
        "(N x S) leaves padding keys out, attn_mask (N x L x S) says which key each query "
        "may read. 'weights' gives the attention (N x L x S), averaged over heads.",
        params=(
            Param("num_heads", INT, 4, "Attention heads; must divide the feature size.", 1,
                  256, label="Heads"),
            Param("dropout", FLOAT, 0.0, "Dropout on the attention weights.", 0.0, 0.99),
            _bias(),
        ),
        inputs=(Port("query"), Port("key", optional=True), Port("value", optional=True),
                Port("key_padding_mask", optional=True), Port("attn_mask", optional=True)),
        outputs=(Port("out"), Port("weights", optional=True)),
        torch_class="MultiheadAttention", ops_class="Attention",
        inferred=(("embed_dim", -1),), fixed={"batch_first": True},
        summary="{num_heads} heads", dtype=ANY, weights=True,
        traits=frozenset({SEQUENCE, CONTEXT}), fx=FxMap(module="attention"),
        onnx=_ATTENTION_ONNX, **_SEQUENCE,
    ),
    LayerSpec(
        "TransformerEncoder", "recurrent", "Transformer encoder stack",
        "Several Transformer encoder layers of the same size, one after the other (N x L x D).",
        params=(*_transformer_params(),
                Param("num_layers", INT, 2, "Encoder layers stacked.", 1, 64, label="Layers")),
        ops_class="EncoderStack", inferred=(("d_model", -1),),
        summary="{num_layers} x {nhead} heads", weights=True,
        traits=frozenset({SEQUENCE, CONTEXT}),
        fx=FxMap(module="encoder_stack", classes=("TransformerEncoder",)),
        onnx=_ATTENTION_ONNX, **_SEQUENCE,
    ),
    LayerSpec(
        "TransformerDecoderLayer", "recurrent", "Transformer decoder",
        "Self-attention over the target sequence (tgt, N x T x D), attention to the encoder's "
        "output (memory, N x S x D), and a feed-forward block.",
        params=_transformer_params(), inputs=(Port("tgt"), Port("memory")),
        torch_class="TransformerDecoderLayer", inferred=(("d_model", -1),),
        fixed={"batch_first": True}, summary="{nhead} heads", weights=True,
        traits=frozenset({SEQUENCE, CONTEXT}), fx=FxMap(module="transformer"),
        onnx=_ATTENTION_ONNX, **_SEQUENCE,
    ),
)

_BY_ID: dict[str, LayerSpec] = {spec.id: spec for spec in LAYERS}


def get(layer_id: str) -> LayerSpec | None:
    """The declaration of ``layer_id``, or None for an unknown type."""
    return _BY_ID.get(layer_id)


def spec(layer_id: str) -> LayerSpec:
    """The declaration of ``layer_id``; KeyError naming the type when unknown."""
    try:
        return _BY_ID[layer_id]
    except KeyError:
        raise KeyError(f"unknown layer type {layer_id!r}") from None


def by_category() -> list[tuple[str, str, list[LayerSpec]]]:
    """(category id, title, layers) in palette order."""
    return [(cid, title, [s for s in _BY_ID.values() if s.category == cid])
            for cid, title in CATEGORIES]
