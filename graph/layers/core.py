"""Core layers: Linear, Dropout, Embedding, Identity, StochasticDepth and Learned tensor."""

from __future__ import annotations

from graph.catalog import (
    ANY,
    CHOICE,
    ELEMENTWISE,
    ENDS_TRUNK,
    FLOAT,
    INT,
    INTS,
    SEQUENCE,
    TOKENS,
    UNITS,
    LayerSpec,
    Param,
    Port,
)
from graph.layer_maps import FxMap, OnnxMap
from graph.layers.common import bias_param

# -- structural layers: learned tensors -----------------------------------------------------------


LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec(
        "Linear", "core", "Linear", "Fully connected layer: every output is a weighted sum of "
        "all inputs.",
        params=(Param("out_features", INT, 64, "Number of output units.", 1, 1_000_000),
                bias_param()),
        torch_class="Linear", inferred=(("in_features", -1),), summary="{out_features}",
        shape_rule="linear",
        weights=True, traits=frozenset({UNITS, ENDS_TRUNK}),
        fx=FxMap(functions=("F.linear",), call="linear"),
        onnx=OnnxMap(ops=("Gemm", "MatMul"), reader="linear"),
    ),
    LayerSpec(
        "Dropout", "core", "Dropout", "Randomly zeroes a share of values while training, "
        "against overfitting.",
        params=(Param("p", FLOAT, 0.5, "Share of values zeroed.", 0.0, 0.99, label="Rate"),),
        torch_class="Dropout", summary="p={p}", traits=frozenset({ELEMENTWISE}),
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
        dtype=TOKENS, weights=True, traits=frozenset({SEQUENCE}), shape_rule="embedding",
        fx=FxMap(module="embedding"), onnx=OnnxMap(ops=("Gather",), reader="gather"),
    ),
    LayerSpec(
        "Identity", "core", "Identity", "Passes its input through unchanged: a placeholder "
        "(a shortcut that changes nothing, a layer switched off).",
        torch_class="Identity", dtype=ANY, traits=frozenset({ELEMENTWISE}),
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
        # ONNX: inference leaves it out
        ops_class="StochasticDepth", summary="p={p}", shape_rule="same_shape",
        fx=FxMap(classes=("torchvision.ops.stochastic_depth.StochasticDepth",)),
    ),
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
        ops_class="LearnedTensor", dtype=ANY, weights=True, shape_rule="learned_tensor",
        fx=FxMap(module="learned_tensor"),
        onnx=OnnxMap(importable=False, why="alone, repeated for a batch, it is exported as "
                     "an initializer expanded to the batch's shape (Shape, Expand), which "
                     "imports as no layer; an initializer that an Add, Mul or Concat uses "
                     "directly, or expanded to the batch and joined by a Concat (a class "
                     "token), imports as a Learned tensor"),
    ),
)
