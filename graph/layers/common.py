"""What several layer declarations share: input ranks, parameters (bias, sizes, groups,
convolution and pooling options) and the builders of families of similar layers (recurrent,
activation, merge, reduction, pooling)."""

from __future__ import annotations

from typing import Any

from graph.catalog import (
    BOOL,
    CHOICE,
    CONTEXT,
    ELEMENTWISE,
    FLOAT,
    INT,
    INTS,
    MERGE,
    RECURRENT,
    SEQUENCE,
    LayerSpec,
    Param,
    Port,
)
from graph.layer_maps import FxMap, OnnxMap

# Input ranks shared by several layers: (ranks, words for messages).
SEQUENCE_RANKS = {"ranks": (3,), "rank_words": "a sequence N x L x F"}
IMAGE_RANKS = {"ranks": (4,), "rank_words": "N x C x H x W input"}
CHANNEL_RANKS = {"ranks": (3,), "rank_words": "N x C x L input"}


def bias_param() -> Param:
    return Param("bias", BOOL, True, "Learn an additive bias per output.")


def pair_param(name: str, default: tuple[int, int], help: str, minimum: int = 0) -> Param:
    return Param(name, INTS, default, help, minimum=minimum, maximum=1024, length=2)


def size_param(dims: int, name: str, default: tuple[int, int], help: str, minimum: int = 0
               ) -> Param:
    """A size per spatial dimension: a pair for 2-D layers, one whole number for 1-D ones."""
    if dims == 2:
        return pair_param(name, default, help, minimum)
    return Param(name, INT, default[0], help, minimum=minimum, maximum=1024)


def groups_param() -> Param:
    return Param("groups", INT, 1, "Split the channels into this many groups, each filtered "
                 "on its own; must divide the input and output channels (groups = input "
                 "channels: depthwise).", 1, 65536)


def conv_params(dims: int) -> tuple[Param, ...]:
    return (
        Param("out_channels", INT, 16, "Number of filters (output channels).", 1, 65536),
        size_param(dims, "kernel_size", (3, 3), "Size of each filter.", 1),
        size_param(dims, "stride", (1, 1), "Step between filter positions.", 1),
        size_param(dims, "padding", (0, 0), "Values added on each side of the input."),
        size_param(dims, "dilation", (1, 1), "Spacing between filter taps.", 1),
        groups_param(),
        Param("padding_mode", CHOICE, "zeros", "What the padding holds: zeros, the mirrored "
              "edge, the repeated edge or the other side (circular).",
              choices=("zeros", "reflect", "replicate", "circular")),
        bias_param(),
    )


def recurrent_layer(layer_id: str, title: str, description: str, extra: tuple[Param, ...] = (),
                    unrolled: bool = False) -> LayerSpec:
    return LayerSpec(
        layer_id, "recurrent", title, description,
        params=(
            Param("hidden_size", INT, 64, "Features in the hidden state.", 1, 65536),
            Param("num_layers", INT, 1, "Recurrent layers stacked on each other.", 1, 16,
                  label="Layers"),
            Param("bidirectional", BOOL, False,
                  "Also read the sequence backwards, so each step sees what comes after it."),
            Param("dropout", FLOAT, 0.0, "Dropout between stacked layers.", 0.0, 0.99),
            *extra,
            Param("output", CHOICE, "sequence",
                  "'sequence': every step's output (N x L x H); 'last': the final step (N x H).",
                  choices=("sequence", "last"), torch_arg=False,
                  choice_labels=("Every step (sequence)", "Last step only")),
        ),
        torch_class=layer_id, ops_class="Recurrent", weights=True, shape_rule="recurrent",
        outputs=(Port("out"), Port("h_n", optional=True)),
        traits=frozenset({SEQUENCE, CONTEXT, RECURRENT}),
        fx=FxMap(module="recurrent"),
        onnx=OnnxMap(ops=(layer_id,), reader="recurrent", importable=not unrolled,
                     why="torch's exporter unrolls it into matrix products, step by step"
                     if unrolled else ""),
        inferred=(("input_size", -1),),
        fixed={"batch_first": True},
        summary="{hidden_size}", key_params=("bidirectional", "num_layers"), **SEQUENCE_RANKS,
    )


def activation_layer(layer_id: str, description: str, params: tuple[Param, ...] = (),
                     traits: frozenset[str] = frozenset({ELEMENTWISE}), **declared: Any
                     ) -> LayerSpec:
    """A torch activation, element-wise unless ``traits`` says otherwise; ``declared`` adds
    how importers find it."""
    return LayerSpec(layer_id, "activation", layer_id, description, params=params,
                     torch_class=layer_id, traits=traits, **declared)


def calls(name: str) -> tuple[str, ...]:
    """The torch function, functional and tensor method spellings of one activation."""
    return (f"torch.{name}", f"F.{name}", f"Tensor.{name}")


def merge_layer(layer_id: str, title: str, description: str, params: tuple[Param, ...] = (),
                ports: int = 4, **declared: Any) -> LayerSpec:
    """A merge of two required inputs and ``ports - 2`` optional ones."""
    return LayerSpec(
        layer_id, "merge", title, description, params=params, role=MERGE,
        inputs=(Port("in1"), Port("in2"),
                *(Port(f"in{i}", optional=True) for i in range(3, ports + 1))),
        **declared,
    )


# How element-wise merges take inputs of different shapes; said in their descriptions.
BROADCASTS = (" Inputs may differ where one has size 1 (N x C x H x W with N x C x 1 x 1, "
               "as squeeze-and-excitation does); they need the same number of dimensions.")


def reduction_layer(layer_id: str, what: str, how: str, dtype: str, functions: tuple[str, ...],
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
        shape_rule="reduction",
        fx=FxMap(functions=functions, call="reduce"), onnx=onnx,
    )


def pool_layer(layer_id: str, title: str, description: str, dims: int = 2,
               extra: tuple[Param, ...] = (), **declared: Any) -> LayerSpec:
    """A max or average pooling; ``extra`` are the options after the padding, in the order
    of the torch function's arguments (F.max_pool2d, F.avg_pool2d)."""
    return LayerSpec(
        layer_id, "pooling", title, description,
        params=(
            size_param(dims, "kernel_size", (2, 2), "Size of each pooling window.", 1),
            size_param(dims, "stride", (2, 2), "Step between windows.", 1),
            size_param(dims, "padding", (0, 0), "Values added on each side."),
            *extra,
        ),
        torch_class=layer_id, summary="{kernel_size}", key_params=("stride",),
        shape_rule="pooling",
        **(IMAGE_RANKS if dims == 2 else CHANNEL_RANKS),
        **declared,
    )


def ceil_mode_param() -> Param:
    return Param("ceil_mode", BOOL, False, "Round the output size up: a last, partial window "
                 "at the edge counts too.")


def max_pool_options(dims: int) -> tuple[Param, ...]:
    return (size_param(dims, "dilation", (1, 1), "Spacing between the values of a window.", 1),
            ceil_mode_param())


def avg_pool_options() -> tuple[Param, ...]:
    return (ceil_mode_param(),
            Param("count_include_pad", BOOL, True, "Count the padding zeros in each average "
                  "(off: average only the real values)."))
