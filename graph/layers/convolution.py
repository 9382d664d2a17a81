"""Convolutions, transposed convolutions and their options."""

from __future__ import annotations

from typing import Any

from graph.catalog import FILTERS, INT, UNITS, LayerSpec, Param
from graph.layer_maps import FxMap, OnnxMap
from graph.layers.common import (
    CHANNEL_RANKS,
    IMAGE_RANKS,
    bias_param,
    conv_params,
    groups_param,
    pair_param,
)

CONV_KEYS = ("stride", "dilation", "groups")  # shown on the node when not their defaults


def _convolution(layer_id: str, dims: int, description: str, ranks: dict[str, Any]
                 ) -> LayerSpec:
    """Conv1d or Conv2d: the same declaration over one or two spatial dimensions."""
    return LayerSpec(
        layer_id, "convolution", layer_id, description,
        params=conv_params(dims), torch_class=layer_id, inferred=(("in_channels", 1),),
        summary="{out_channels}@{kernel_size}", key_params=CONV_KEYS,
        **ranks,
        weights=True, traits=frozenset({FILTERS, UNITS}), shape_rule="convolution",
        fx=FxMap(module="conv"),  # a Pad before the Conv: its padding_mode
        onnx=OnnxMap(ops=("Conv", "Pad"), reader="conv"),
    )


LAYERS: tuple[LayerSpec, ...] = (
    _convolution("Conv1d", 1, "1-D convolution over sequences (N x C x L).", CHANNEL_RANKS),
    _convolution("Conv2d", 2, "2-D convolution: learned filters slide over an image "
                 "(N x C x H x W).", IMAGE_RANKS),
    LayerSpec(
        "ConvTranspose2d", "convolution", "ConvTranspose2d", "Transposed 2-D convolution: "
        "upsamples feature maps (decoders, generators).",
        params=(
            Param("out_channels", INT, 16, "Number of output channels.", 1, 65536),
            pair_param("kernel_size", (2, 2), "Size of each filter.", 1),
            pair_param("stride", (2, 2), "Upsampling step.", 1),
            pair_param("padding", (0, 0), "Rows and columns removed from each side."),
            pair_param("output_padding", (0, 0), "Extra rows and columns added on one side."),
            groups_param(),
            pair_param("dilation", (1, 1), "Spacing between filter taps.", 1),
            bias_param(),
        ),
        torch_class="ConvTranspose2d", inferred=(("in_channels", 1),),
        summary="{out_channels}@{kernel_size}", key_params=CONV_KEYS,
        **IMAGE_RANKS,
        weights=True, traits=frozenset({FILTERS, UNITS}), shape_rule="transposed_convolution",
        fx=FxMap(module="conv"), onnx=OnnxMap(ops=("ConvTranspose",), reader="conv_transpose"),
    ),
)
