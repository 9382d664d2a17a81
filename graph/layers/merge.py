"""Merges: element-wise (broadcasting) and concatenation of several inputs."""

from __future__ import annotations

from graph.catalog import ANY, INT, LayerSpec, Param
from graph.layer_maps import FxMap, OnnxMap
from graph.layers.common import BROADCASTS, merge_layer

LAYERS: tuple[LayerSpec, ...] = (
    merge_layer("Add", "Add", "Element-wise sum of its inputs (residual connections)." + BROADCASTS,
                merge="add", shape_rule="broadcast", fx=FxMap(functions=(
                    "operator.add", "operator.iadd", "torch.add", "Tensor.add", "Tensor.add_",
                    "Tensor.__add__"), call="merge"),
                onnx=OnnxMap(ops=("Add",), reader="add")),
    merge_layer("Multiply", "Multiply", "Element-wise product of its inputs (gating, "
                "squeeze-and-excitation)." + BROADCASTS,
                merge="mul", shape_rule="broadcast", fx=FxMap(functions=(
                    "operator.mul", "operator.imul", "torch.mul", "Tensor.mul", "Tensor.mul_",
                    "Tensor.__mul__"), call="merge"),
                onnx=OnnxMap(ops=("Mul",), reader="merge")),
    merge_layer("Subtract", "Subtract", "Element-wise difference: the first input minus the "
                "others." + BROADCASTS,
                merge="sub", shape_rule="broadcast", fx=FxMap(functions=(
                    "operator.sub", "operator.isub", "torch.sub", "torch.subtract", "Tensor.sub",
                    "Tensor.sub_", "Tensor.__sub__"), call="merge"),
                onnx=OnnxMap(ops=("Sub",), reader="merge")),
    merge_layer("Divide", "Divide", "Element-wise quotient: the first input divided by the "
                "others." + BROADCASTS,
                merge="div", shape_rule="broadcast", fx=FxMap(functions=(
                    "operator.truediv", "operator.itruediv", "torch.div", "torch.divide",
                    "torch.true_divide", "Tensor.div", "Tensor.div_", "Tensor.__truediv__"),
                    call="merge"),
                onnx=OnnxMap(ops=("Div",), reader="merge")),
    merge_layer("Concat", "Concat", "Joins its inputs (up to 8) along a dimension.",
                (Param("dim", INT, 1, "Dimension to join along (1 = channels/features).", -8, 8),),
                ports=8, merge="cat", merge_dim="dim", dtype=ANY, shape_rule="concat",
                fx=FxMap(functions=("torch.cat", "torch.concat", "torch.concatenate"), call="cat"),
                onnx=OnnxMap(ops=("Concat",), reader="concat")),
)
