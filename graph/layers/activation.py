"""Activations."""

from __future__ import annotations

from graph.catalog import CHOICE, FLOAT, INT, LayerSpec, Param
from graph.layer_maps import FxMap, OnnxMap
from graph.layers.common import activation_layer, calls

LAYERS: tuple[LayerSpec, ...] = (
    activation_layer("ReLU", "max(0, x): the default non-linearity.",
                     fx=FxMap(functions=(*calls("relu"), "torch.relu_", "Tensor.relu_")),
                     onnx=OnnxMap(ops=("Relu",))),
    activation_layer("LeakyReLU", "Like ReLU with a small slope for negative inputs.",
                     (Param("negative_slope", FLOAT, 0.01, "Slope for x < 0.", 0.0, 1.0),),
                     fx=FxMap(functions=("F.leaky_relu",)),
                     onnx=OnnxMap(ops=("LeakyRelu",), attributes=(("negative_slope", "alpha"),))),
    activation_layer("GELU", "Smooth ReLU used in transformers; 'tanh' is the faster "
                     "approximation (GPT-2, BERT's original code).",
                     (Param("approximate", CHOICE, "none", "Exact (erf) or the tanh approximation.",
                            choices=("none", "tanh"), choice_labels=("Exact", "tanh")),),
                     fx=FxMap(functions=("F.gelu",)), onnx=OnnxMap(ops=("Gelu",))),
    activation_layer("Sigmoid", "Squashes to (0, 1).", fx=FxMap(functions=calls("sigmoid")),
                     onnx=OnnxMap(ops=("Sigmoid",))),
    activation_layer("Tanh", "Squashes to (-1, 1).", fx=FxMap(functions=calls("tanh")),
                     onnx=OnnxMap(ops=("Tanh",))),
    activation_layer("SiLU", "x * sigmoid(x) (swish): a smooth ReLU that lets small negatives "
                     "through.", fx=FxMap(functions=("F.silu",))),
    activation_layer("Hardswish", "A piecewise-linear SiLU, cheap to compute (MobileNetV3).",
                     fx=FxMap(functions=("F.hardswish",)), onnx=OnnxMap(ops=("HardSwish",))),
    activation_layer("Softmax", "Turns scores into probabilities that sum to 1 along a dimension.",
                     (Param("dim", INT, -1, "Dimension that sums to 1.", -8, 8),),
                     traits=frozenset(),  # each value depends on its whole row
                     shape_rule="same_shape",
                     fx=FxMap(functions=calls("softmax")),
                     onnx=OnnxMap(ops=("Softmax",), reader="softmax")),
    activation_layer("ReLU6", "min(max(0, x), 6): a ReLU capped at 6 (MobileNet).",
                     fx=FxMap(functions=("F.relu6",)), onnx=OnnxMap(ops=("Clip",), reader="clip")),
    activation_layer("Hardsigmoid", "A piecewise-linear sigmoid, cheap to compute (MobileNetV3's "
                     "squeeze-and-excitation gates).", fx=FxMap(functions=("F.hardsigmoid",)),
                     onnx=OnnxMap(ops=("HardSigmoid",), reader="hard_sigmoid")),
    activation_layer("Mish", "x * tanh(softplus(x)): a smooth, non-monotonic ReLU (YOLOv4).",
                     fx=FxMap(functions=("F.mish",)), onnx=OnnxMap(ops=("Mish",))),
    activation_layer("ELU", "Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) below.",
                     (Param("alpha", FLOAT, 1.0, "Value it approaches for very negative x.", 0.0,
                            100.0),),
                     fx=FxMap(functions=("F.elu",)), onnx=OnnxMap(ops=("Elu",))),
    activation_layer("SELU", "Scaled ELU whose fixed constants keep activations normalized "
                     "(self-normalizing networks).", fx=FxMap(functions=("torch.selu", "F.selu")),
                     onnx=OnnxMap(ops=("Selu",))),
    activation_layer("Softplus", "log(1 + exp(beta * x)) / beta: a smooth ReLU; linear above the "
                     "threshold.",
                     (Param("beta", FLOAT, 1.0, "Sharpness of the bend.", 0.001, 1000.0),
                      Param("threshold", FLOAT, 20.0, "Above beta * x > threshold it is x.", 0.0,
                            1000.0)),
                     fx=FxMap(functions=("F.softplus",)),
                     onnx=OnnxMap(ops=("Softplus", "Mul", "Div", "Greater", "Where"),
                                  reader="softplus")),
    activation_layer("PReLU", "Like LeakyReLU with a learned negative slope: one shared, or one "
                     "per channel (dimension 1).",
                     (Param("num_parameters", INT, 1, "1 (one slope) or the number of channels.", 1,
                            65536, label="Slopes"),
                      Param("init", FLOAT, 0.25, "Initial slope.", 0.0, 1.0)),
                     weights=True, traits=frozenset(),  # its slopes must match the channels
                     shape_rule="prelu",
                     onnx=OnnxMap(ops=("PRelu",), reader="prelu")),
)
