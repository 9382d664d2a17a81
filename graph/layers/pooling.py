"""Pooling: max, average, adaptive and global pooling."""

from __future__ import annotations

from graph.catalog import BOOL, CHOICE, FLOAT, INT, LayerSpec, Param
from graph.layer_maps import FxMap, OnnxMap
from graph.layers.common import (
    CHANNEL_RANKS,
    IMAGE_RANKS,
    avg_pool_options,
    max_pool_options,
    pair_param,
    pool_layer,
)

LAYERS: tuple[LayerSpec, ...] = (
    pool_layer("MaxPool2d", "MaxPool2d", "Keeps the largest value of each window.",
               extra=max_pool_options(2),
               fx=FxMap(module="pool", functions=("F.max_pool2d",), call="pool"),
               onnx=OnnxMap(ops=("MaxPool",), reader="pool")),
    pool_layer("AvgPool2d", "AvgPool2d", "Averages each window.", extra=avg_pool_options(),
               fx=FxMap(module="pool", functions=("F.avg_pool2d",), call="pool"),
               onnx=OnnxMap(ops=("AveragePool",), reader="pool")),
    LayerSpec(
        "AdaptiveAvgPool2d", "pooling", "AdaptiveAvgPool2d", "Averages down to a fixed output "
        "size, whatever the input size.",
        params=(pair_param("output_size", (1, 1), "Height and width of the output.", 1),),
        torch_class="AdaptiveAvgPool2d", summary="{output_size}",
        shape_rule="adaptive_pooling", **IMAGE_RANKS,
        fx=FxMap(module="adaptive_pool", functions=("F.adaptive_avg_pool2d",),
                 call="adaptive_pool"),
        onnx=OnnxMap(ops=("GlobalAveragePool", "ReduceMean", "GatherND"), reader="global_pool"),
    ),
    pool_layer("MaxPool1d", "MaxPool1d", "Keeps the largest value of each window along a "
               "sequence (N x C x L).", dims=1, extra=max_pool_options(1),
               fx=FxMap(module="pool", functions=("F.max_pool1d",), call="pool"),
               onnx=OnnxMap(ops=("MaxPool",), reader="pool")),
    pool_layer("AvgPool1d", "AvgPool1d", "Averages each window along a sequence (N x C x L).",
               dims=1, extra=avg_pool_options(),
               fx=FxMap(module="pool", functions=("F.avg_pool1d",), call="pool"),
               onnx=OnnxMap(ops=("AveragePool",), reader="pool")),
    LayerSpec(
        "AdaptiveAvgPool1d", "pooling", "AdaptiveAvgPool1d", "Averages a sequence (N x C x L) "
        "down to a fixed length, whatever its length.",
        params=(Param("output_size", INT, 1, "Length of the output.", 1, 65536),),
        torch_class="AdaptiveAvgPool1d", summary="{output_size}", shape_rule="adaptive_pooling",
        **CHANNEL_RANKS,
        fx=FxMap(functions=("F.adaptive_avg_pool1d",)),
        onnx=OnnxMap(ops=("Unsqueeze", "AveragePool", "ReduceMean"), reader="lifted_pool"),
    ),
    LayerSpec(
        "AdaptiveMaxPool2d", "pooling", "AdaptiveMaxPool2d", "Keeps the largest values down to "
        "a fixed output size, whatever the input size.",
        params=(pair_param("output_size", (1, 1), "Height and width of the output.", 1),),
        torch_class="AdaptiveMaxPool2d", fixed={"return_indices": False},
        summary="{output_size}",
        shape_rule="adaptive_pooling", **IMAGE_RANKS,
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
            pair_param("size", (0, 0), "Height and width of the output; 0 x 0: use the scale."),
            Param("mode", CHOICE, "nearest", "Repeat the nearest pixel, or interpolate "
                  "between the four nearest.", choices=("nearest", "bilinear")),
            Param("align_corners", BOOL, False, "Bilinear only: align the corner pixels of "
                  "input and output (as older code did) instead of their edges."),
        ),
        ops_class="Upsample", summary="{mode}", shape_rule="upsample", **IMAGE_RANKS,
        fx=FxMap(module="upsample", functions=("F.interpolate",), call="interpolate",
                 classes=("Upsample",)),
        onnx=OnnxMap(ops=("Resize",), reader="resize"),
    ),
)
