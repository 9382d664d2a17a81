"""Normalization layers."""

from __future__ import annotations

from graph.catalog import FLOAT, LayerSpec, Param
from graph.layer_maps import FxMap, OnnxMap
from graph.layers.common import IMAGE_RANKS

LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec(
        "BatchNorm1d", "normalization", "BatchNorm1d", "Normalizes each feature over the batch "
        "(N x C or N x C x L).",
        params=(Param("momentum", FLOAT, 0.1, "Running statistics update rate.", 0.0, 1.0),
                Param("eps", FLOAT, 1e-5, "Added to the variance for stability.", 0.0, 1.0)),
        torch_class="BatchNorm1d", inferred=(("num_features", 1),),
        ranks=(2, 3), rank_words="N x C or N x C x L input", weights=True, shape_rule="same_shape",
        fx=FxMap(module="batchnorm"),
        onnx=OnnxMap(ops=("BatchNormalization",), reader="batchnorm"),
    ),
    LayerSpec(
        "BatchNorm2d", "normalization", "BatchNorm2d", "Normalizes each channel over the batch "
        "and positions (N x C x H x W).",
        params=(Param("momentum", FLOAT, 0.1, "Running statistics update rate.", 0.0, 1.0),
                Param("eps", FLOAT, 1e-5, "Added to the variance for stability.", 0.0, 1.0)),
        torch_class="BatchNorm2d", inferred=(("num_features", 1),), **IMAGE_RANKS,
        weights=True, shape_rule="same_shape", fx=FxMap(module="batchnorm"),
        onnx=OnnxMap(ops=("BatchNormalization",), reader="batchnorm"),
    ),
    LayerSpec(
        "LayerNorm", "normalization", "LayerNorm", "Normalizes the last dimension of each "
        "sample.",
        params=(Param("eps", FLOAT, 1e-5, "Added to the variance for stability.", 0.0, 1.0),),
        torch_class="LayerNorm", inferred=(("normalized_shape", -1),), weights=True,
        shape_rule="same_shape",
        fx=FxMap(module="layernorm", functions=("F.layer_norm",), call="layer_norm"),
        onnx=OnnxMap(ops=("LayerNormalization",), reader="layernorm"),
    ),
)
