"""Import an ONNX model's common operators as a Plexus graph, weights included.

Values in the ONNX graph are of three kinds while walking it: graph tensors (a node's output,
``Ref``), constants (initializers, Constant nodes and what folds from them) and shape values
(computed from ``Shape``, as exporters build the size argument of a Reshape). Operators on
graph tensors become catalog nodes; constant and shape arithmetic disappears, because a
Reshape reads its target from the shapes ONNX shape inference gives each value. Every operator
without a catalog equivalent is listed by name (and the ONNX node's name) in the refusal.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graph.model import Edge
from graph.project import Project
from runtime.importer import GraphBuilder, ModelImportError, Ref


class Unsupported(Exception):
    """An operator use with no catalog equivalent; the message says why."""


class _Downstream(Exception):
    """A value computed from something already refused: not listed again."""


@dataclass
class Const:
    """A constant value (None when it is not worth evaluating)."""

    value: np.ndarray | None


class ShapeValue:
    """A value computed from tensor shapes (the batch size is only known at run time)."""


@dataclass(frozen=True)
class Laid:
    """A graph tensor in another memory layout than Plexus' batch-first one, as exporters
    arrange recurrent layers: "time_major" is ``ref`` (N x L x F) as L x N x F; "rnn_y" is
    the Y output of an ONNX LSTM/GRU/RNN (L x dirs x N x H, layout 0) whose batch-first
    sequence is ``ref``; "rnn_y_t" that Y as L x N x dirs x H; "rnn_y_bf" the Y of layout 1
    (N x L x dirs x H)."""

    ref: Ref
    kind: str
    dirs: int = 1


_SHAPE_OPS = frozenset({"Shape", "Size"})
_ACTIVATIONS = {"Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Gelu": "GELU",
                "LeakyRelu": "LeakyReLU", "Softmax": "Softmax"}


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ModelImportError("importing ONNX needs the onnx package; install it with "
                               "pip install onnx (or pip install 'plexus[onnx]')") from None
    return onnx


def import_onnx(path: str | Path, project_name: str | None = None) -> Project:
    """See ``runtime.importer.import_onnx``."""
    onnx = _require_onnx()
    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"{path}: file not found")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf errors
        raise ModelImportError(f"{path.name}: not a readable ONNX file ({exc})") from None
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - keep the exporter's own value_info then
        pass
    builder = GraphBuilder(path.name)
    walker = _Walker(model, builder)
    walker.walk()
    reference, example = _onnxruntime_reference(path, walker.input_names, builder)
    return builder.finish(project_name or path.stem, f"Imported from {path.name}.",
                          reference, example)


def _onnxruntime_reference(path: Path, names: list[str], builder: GraphBuilder) -> tuple[Any, Any]:
    """(the original model run by onnxruntime, example inputs), so ``finish`` can check the
    imported graph against it; (None, None) without onnxruntime or when it cannot load the
    file."""
    try:
        import onnxruntime
    except ImportError:
        return None, None
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - an IR version or operator onnxruntime lacks
        return None, None
    graph = builder.graph
    vocab = min([int(n.params["num_embeddings"]) for n in graph.nodes_of_type("Embedding")]
                or [2])
    generator = torch.Generator().manual_seed(0)
    example = []
    for node in sorted(graph.nodes_of_type("Input"), key=lambda n: n.id):
        shape = (2, *node.params["shape"])
        example.append(torch.randint(0, vocab, shape, generator=generator)
                       if node.params["dtype"] == "long" else torch.randn(shape,
                                                                          generator=generator))
    types = {i.name: i.type for i in session.get_inputs()}

    def reference(inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        feed = {}
        for name, tensor in zip(names, inputs, strict=True):
            array = tensor.numpy()
            if "int32" in types.get(name, ""):
                array = array.astype(np.int32)
            feed[name] = array
        return [torch.from_numpy(np.asarray(out)) for out in session.run(None, feed)]

    return reference, example


def _dims(value_info: Any) -> list[int | str] | None:
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in tensor.shape.dim]


class _Walker:
    def __init__(self, model: Any, builder: GraphBuilder) -> None:
        from onnx import helper, numpy_helper

        self.helper = helper
        self.numpy_helper = numpy_helper
        self.graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          13)
        self.b = builder
        self.values: dict[str, Any] = {}
        for init in self.graph.initializer:
            self.values[init.name] = Const(numpy_helper.to_array(init))
        self.shapes: dict[str, list[int | str]] = {}
        for info in [*self.graph.value_info, *self.graph.input, *self.graph.output]:
            dims = _dims(info)
            if dims is not None:
                self.shapes[info.name] = dims
        self.consumers = Counter(name for node in self.graph.node for name in node.input)
        for out in self.graph.output:
            self.consumers[out.name] += 1
        self.pending_bias: dict[int, str] = {}  # Linear node id -> MatMul output awaiting Add
        self.created: dict[str, int] = {}  # merge output name -> its node
        self.refused: dict[str, list[tuple[str, str]]] = {}  # op type -> (node, why)
        self.input_names: list[str] = []  # ONNX names of the graph inputs, in Input order

    # -- helpers ------------------------------------------------------------------------------
    def attrs(self, node: Any) -> dict[str, Any]:
        out = {}
        for a in node.attribute:
            value = self.helper.get_attribute_value(a)
            out[a.name] = value.decode() if isinstance(value, bytes) else value
        return out

    def ref(self, name: str) -> Ref:
        value = self.values.get(name)
        if isinstance(value, Ref):
            return value
        if name in self.values and value is None:
            raise _Downstream
        if isinstance(value, Laid):
            raise Unsupported(f"input '{name}' is a recurrent layer's output in a layout "
                              "other than batch first")
        raise Unsupported(f"input '{name}' is a constant where a tensor is expected")

    def const(self, name: str, what: str) -> np.ndarray:
        value = self.values.get(name)
        if isinstance(value, Const) and value.value is not None:
            return value.value
        raise Unsupported(f"{what} must be a constant (an initializer)")

    def tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(array, dtype=np.float32))  # a writable copy

    def label(self, node: Any, weight: str | None = None) -> str:
        """A node name: the layer's weight prefix ("conv1" from "conv1.weight"), else the
        output's name."""
        weight = weight if weight is not None else node.input[1] if len(node.input) > 1 else ""
        if weight.endswith(".weight"):
            return weight[: -len(".weight")]
        return node.output[0] or node.name or node.op_type.lower()

    def rank(self, name: str) -> int:
        return len(self.shapes.get(name, []))

    # -- the walk -------------------------------------------------------------------------------
    def walk(self) -> None:
        for info in self.graph.input:
            if info.name in self.values:
                continue  # an initializer listed as input (older exporters)
            dims = _dims(info)
            if not dims or any(not isinstance(d, int) or d <= 0 for d in dims[1:]):
                self.b.refuse(f"input '{info.name}' (needs a fixed shape after the batch, has "
                              f"{dims})")
                self.values[info.name] = None
                continue
            elem = info.type.tensor_type.elem_type
            dtype = "long" if elem in (6, 7) else "float"  # INT32, INT64
            self.values[info.name] = self.b.add("Input", {"shape": tuple(dims[1:]),
                                                          "dtype": dtype}, info.name)
            self.input_names.append(info.name)
        for node in self.graph.node:
            try:
                self.node(node)
            except Unsupported as exc:
                # keep walking through it, so that every unsupported operator gets listed
                through = next((v for v in (self.values.get(n) for n in node.input)
                                if isinstance(v, Ref)), None)
                for out in node.output:
                    self.values[out] = None
                self.values[node.output[0]] = through
                self.refused.setdefault(node.op_type, []).append(
                    (node.name or node.output[0], str(exc)))
            except _Downstream:
                for out in node.output:
                    self.values[out] = None
        for info in self.graph.output:
            try:
                ref = self.ref(info.name)
            except (Unsupported, _Downstream):
                continue
            self.b.add("Output", {"task": "classification"}, info.name, [ref])
        for op, uses in self.refused.items():  # one entry per operator type
            name, why = uses[0]
            where = f"node '{name}'" if len(uses) == 1 else f"{len(uses)} nodes, e.g. '{name}'"
            self.b.refuse(f"{op} ({where}{': ' + why if why else ''})")
        self.b.check_supported()

    def node(self, node: Any) -> None:
        op = node.op_type
        inputs = [name for name in node.input]
        present = [self.values.get(name) for name in inputs if name]
        if node.domain not in ("", "ai.onnx"):
            raise Unsupported(f"domain '{node.domain}'")
        if op == "Constant":
            self.values[node.output[0]] = Const(self.numpy_helper.to_array(node.attribute[0].t)
                                                if node.attribute[0].name == "value" else None)
            return
        if op in _SHAPE_OPS:
            self.values[node.output[0]] = ShapeValue()
            return
        if any(v is None and name in self.values for v, name in zip(
                present, [n for n in inputs if n], strict=True)):
            raise _Downstream
        if not any(isinstance(v, (Ref, Laid)) for v in present):
            shape = any(isinstance(v, ShapeValue) for v in present)
            for out in node.output:
                self.values[out] = ShapeValue() if shape else Const(self.fold(node))
            return
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise Unsupported("")
        result = handler(node, self.attrs(node))
        self.values[node.output[0]] = result
        for extra in node.output[1:]:
            self.values[extra] = None if self.consumers[extra] else Const(None)

    def fold(self, node: Any) -> np.ndarray | None:
        """Evaluate a constant node where that is simple; None otherwise."""
        values = [self.values[n].value if isinstance(self.values.get(n), Const) else None
                  for n in node.input if n]
        if any(v is None for v in values):
            return None
        attrs = self.attrs(node)
        op = node.op_type
        try:
            if op == "Identity":
                return values[0]
            if op == "Transpose":
                return np.transpose(values[0], attrs.get("perm"))
            if op == "Reshape":
                return values[0].reshape([int(s) for s in values[1]])
            if op == "Cast":
                return values[0]
            if op == "Unsqueeze" and len(values) == 2:
                return np.expand_dims(values[0], tuple(int(a) for a in values[1]))
            if op == "Squeeze" and len(values) == 2:
                return np.squeeze(values[0], tuple(int(a) for a in values[1]))
            if op == "Concat":
                return np.concatenate(values, attrs.get("axis", 0))
        except (ValueError, TypeError, IndexError):
            return None
        return None

    # -- operators on graph tensors ---------------------------------------------------------------
    def op_Identity(self, node: Any, attrs: dict[str, Any]) -> Ref:
        return self.ref(node.input[0])

    def op_Dropout(self, node: Any, attrs: dict[str, Any]) -> Ref:
        ratio = attrs.get("ratio", 0.5)
        if len(node.input) > 1 and node.input[1]:
            ratio = float(self.const(node.input[1], "the ratio"))
        return self.b.add("Dropout", {"p": float(ratio)}, self.label(node),
                          [self.ref(node.input[0])])

    def op_Gemm(self, node: Any, attrs: dict[str, Any]) -> Ref:
        if attrs.get("transA", 0):
            raise Unsupported("transA=1")
        weight = self.const(node.input[1], "the weight B") * float(attrs.get("alpha", 1.0))
        if not attrs.get("transB", 0):
            weight = weight.T
        weights = {"weight": self.tensor(weight)}
        if len(node.input) > 2 and node.input[2]:
            bias = self.const(node.input[2], "the bias C") * float(attrs.get("beta", 1.0))
            weights["bias"] = self.tensor(np.broadcast_to(bias, (weight.shape[0],)).copy())
        return self.b.add("Linear", {"out_features": int(weight.shape[0]),
                                     "bias": "bias" in weights}, self.label(node),
                          [self.ref(node.input[0])], weights)

    def op_MatMul(self, node: Any, attrs: dict[str, Any]) -> Ref:
        weight = self.const(node.input[1], "the second input").T
        if weight.ndim != 2:
            raise Unsupported("a batched matrix product")
        ref = self.b.add("Linear", {"out_features": int(weight.shape[0]), "bias": False},
                         self.label(node), [self.ref(node.input[0])],
                         {"weight": self.tensor(weight)})
        if self.consumers[node.output[0]] == 1:
            self.pending_bias[ref.node] = node.output[0]
        return ref

    def op_Add(self, node: Any, attrs: dict[str, Any]) -> Ref:
        a, b = (self.values.get(n) for n in node.input[:2])
        if isinstance(b, Ref) and isinstance(a, Const):
            a, b = b, a
        if isinstance(a, Ref) and isinstance(b, Const):
            linear = self.pending_bias.pop(a.node, None)
            if linear is None or b.value is None:
                raise Unsupported("adds a constant")
            node_ = self.b.graph.nodes[a.node]
            bias = np.asarray(b.value, np.float32).reshape(-1)
            if bias.shape[0] != node_.params["out_features"]:
                raise Unsupported("adds a constant")
            node_.params["bias"] = True
            self.b.weights[f"{a.node}.bias"] = self.tensor(bias)
            bias_name = node.input[1] if isinstance(self.values.get(node.input[1]), Const) \
                else node.input[0]
            if bias_name.endswith(".bias") and node_.name.startswith("val_"):
                node_.name = self.b.name(bias_name[: -len(".bias")])  # "per_step.bias"
            return a
        return self.merge(node, "Add")

    def op_Mul(self, node: Any, attrs: dict[str, Any]) -> Ref:
        return self.merge(node, "Multiply")

    def merge(self, node: Any, layer: str) -> Ref:
        names = list(node.input[:2])
        refs = [self.ref(n) for n in names]
        if self.shapes.get(names[0]) != self.shapes.get(names[1]):
            raise Unsupported(f"broadcasts {self.shapes.get(names[0])} with "
                              f"{self.shapes.get(names[1])}")
        inner = self.created.get(names[0])
        if inner is not None and self.b.graph.nodes[inner].type == layer \
                and self.consumers[names[0]] == 1 and len(self.b.graph.in_edges(inner)) < 4:
            port = f"in{len(self.b.graph.in_edges(inner)) + 1}"
            self.b.graph.connect(Edge(refs[1].node, refs[1].port, inner, port), check=False)
            self.created[node.output[0]] = inner
            return refs[0]
        ref = self.b.add(layer, {}, self.label(node), refs)
        self.created[node.output[0]] = ref.node
        return ref

    def op_Concat(self, node: Any, attrs: dict[str, Any]) -> Ref:
        axis = int(attrs.get("axis", 0))
        rank = self.rank(node.output[0])
        if axis == 0 or (axis < 0 and rank and axis + rank == 0):
            raise Unsupported("joins along the batch dimension")
        refs = [self.ref(n) for n in node.input]
        ref = refs[0]
        for start in range(1, len(refs), 3):
            ref = self.b.add("Concat", {"dim": axis}, self.label(node),
                             [ref, *refs[start:start + 3]])
        return ref

    def op_Flatten(self, node: Any, attrs: dict[str, Any]) -> Ref:
        if int(attrs.get("axis", 1)) != 1:
            raise Unsupported(f"axis={attrs.get('axis')} (merges dimensions into the batch)")
        return self.b.add("Flatten", {"start_dim": 1}, self.label(node),
                          [self.ref(node.input[0])])

    def op_Reshape(self, node: Any, attrs: dict[str, Any]) -> Any:
        laid = self.values.get(node.input[0])
        if isinstance(laid, Laid) and self.rank(node.output[0]) == 3:
            if laid.kind == "rnn_y_t":  # L x N x dirs x H -> L x N x dirs*H
                return Laid(laid.ref, "time_major")
            if laid.kind == "rnn_y_bf":  # N x L x dirs x H -> N x L x dirs*H
                return laid.ref
        source = self.ref(node.input[0])
        before = self.shapes.get(node.input[0])
        after = self.shapes.get(node.output[0])
        rest: list[int] | None = None
        if after and before and after[0] == before[0] and all(
                isinstance(d, int) and d > 0 for d in after[1:]):
            rest = [int(d) for d in after[1:]]
        else:
            target = self.values.get(node.input[1])
            if isinstance(target, Const) and target.value is not None and \
                    int(target.value[0]) in (0, -1) and all(int(d) > 0 for d in target.value[1:]) \
                    and not (int(target.value[0]) == -1 and before is None):
                rest = [int(d) for d in target.value[1:]]
        if rest is None:
            raise Unsupported("a reshape that does not keep the batch dimension first")
        name = self.label(node)
        if len(rest) == 1:
            return self.b.add("Flatten", {"start_dim": 1}, name, [source])
        return self.b.add("Reshape", {"shape": tuple(rest)}, name, [source])

    def op_Conv(self, node: Any, attrs: dict[str, Any]) -> Ref:
        weight = self.const(node.input[1], "the weight")
        dims = weight.ndim - 2
        if dims not in (1, 2):
            raise Unsupported(f"{dims}-D convolution")
        if int(attrs.get("group", 1)) != 1:
            raise Unsupported(f"group={attrs.get('group')} (grouped convolution)")
        padding = self.padding(attrs, weight.shape[2:], attrs.get("dilations", [1] * dims))
        params: dict[str, Any] = {
            "out_channels": int(weight.shape[0]),
            "kernel_size": tuple(int(k) for k in weight.shape[2:]),
            "stride": tuple(int(s) for s in attrs.get("strides", [1] * dims)),
            "padding": padding,
            "dilation": tuple(int(d) for d in attrs.get("dilations", [1] * dims)),
        }
        if dims == 1:
            params = {k: (v[0] if isinstance(v, tuple) else v) for k, v in params.items()}
        weights = {"weight": self.tensor(weight)}
        if len(node.input) > 2 and node.input[2]:
            weights["bias"] = self.tensor(self.const(node.input[2], "the bias"))
        params["bias"] = "bias" in weights
        return self.b.add("Conv1d" if dims == 1 else "Conv2d", params, self.label(node),
                          [self.ref(node.input[0])], weights)

    def padding(self, attrs: dict[str, Any], kernel: Any, dilation: Any) -> tuple[int, ...]:
        auto = attrs.get("auto_pad", "NOTSET")
        dims = len(kernel)
        if auto == "VALID":
            return (0,) * dims
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            if any(s != 1 for s in attrs.get("strides", [1] * dims)):
                raise Unsupported(f"auto_pad={auto} with a stride")
            pads = []
            for k, d in zip(kernel, dilation, strict=True):
                if (d * (k - 1)) % 2:
                    raise Unsupported(f"auto_pad={auto} with an even kernel")
                pads.append(d * (int(k) - 1) // 2)
            return tuple(pads)
        pads = [int(p) for p in attrs.get("pads", [0] * 2 * dims)]
        if pads[:dims] != pads[dims:]:
            raise Unsupported(f"asymmetric pads {pads}")
        return tuple(pads[:dims])

    def op_ConvTranspose(self, node: Any, attrs: dict[str, Any]) -> Ref:
        weight = self.const(node.input[1], "the weight")
        if weight.ndim != 4:
            raise Unsupported("only 2-D transposed convolution")
        if int(attrs.get("group", 1)) != 1 or any(d != 1 for d in attrs.get("dilations", [1])):
            raise Unsupported("group or dilation")
        if "output_shape" in attrs:
            raise Unsupported("output_shape")
        pads = [int(p) for p in attrs.get("pads", [0, 0, 0, 0])]
        if pads[:2] != pads[2:]:
            raise Unsupported(f"asymmetric pads {pads}")
        weights = {"weight": self.tensor(weight)}
        if len(node.input) > 2 and node.input[2]:
            weights["bias"] = self.tensor(self.const(node.input[2], "the bias"))
        params = {"out_channels": int(weight.shape[1]),
                  "kernel_size": tuple(int(k) for k in weight.shape[2:]),
                  "stride": tuple(int(s) for s in attrs.get("strides", [1, 1])),
                  "padding": tuple(pads[:2]),
                  "output_padding": tuple(int(p) for p in attrs.get("output_padding", [0, 0])),
                  "bias": "bias" in weights}
        return self.b.add("ConvTranspose2d", params, self.label(node),
                          [self.ref(node.input[0])], weights)

    def pool(self, node: Any, attrs: dict[str, Any], kind: str) -> Ref:
        kernel = [int(k) for k in attrs.get("kernel_shape", [])]
        if len(kernel) != 2:
            raise Unsupported("only 2-D pooling")
        if attrs.get("ceil_mode", 0) or any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise Unsupported("ceil_mode or dilations")
        padding = self.padding(attrs, kernel, [1, 1])
        if kind == "AvgPool2d" and any(padding) and not attrs.get("count_include_pad", 0):
            raise Unsupported("count_include_pad=0 with padding")
        params = {"kernel_size": tuple(kernel),
                  "stride": tuple(int(s) for s in attrs.get("strides", [1, 1])),
                  "padding": padding}
        return self.b.add(kind, params, self.label(node), [self.ref(node.input[0])])

    def op_MaxPool(self, node: Any, attrs: dict[str, Any]) -> Ref:
        if len(node.output) > 1 and self.consumers[node.output[1]]:
            raise Unsupported("uses the indices output")
        return self.pool(node, attrs, "MaxPool2d")

    def op_AveragePool(self, node: Any, attrs: dict[str, Any]) -> Ref:
        return self.pool(node, attrs, "AvgPool2d")

    def op_GlobalAveragePool(self, node: Any, attrs: dict[str, Any]) -> Ref:
        if self.rank(node.input[0]) not in (0, 4):
            raise Unsupported("only 2-D pooling")
        return self.b.add("AdaptiveAvgPool2d", {"output_size": (1, 1)}, self.label(node),
                          [self.ref(node.input[0])])

    def op_ReduceMean(self, node: Any, attrs: dict[str, Any]) -> Ref:
        """A mean over height and width is global average pooling (what exporters make of
        ``AdaptiveAvgPool2d(1)``), followed by a flatten when the dimensions are dropped."""
        rank = self.rank(node.input[0])
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1], "the axes").tolist()
        if rank != 4 or axes is None or sorted(int(a) % 4 for a in axes) != [2, 3]:
            raise Unsupported("only a mean over height and width of N x C x H x W")
        ref = self.b.add("AdaptiveAvgPool2d", {"output_size": (1, 1)}, self.label(node),
                         [self.ref(node.input[0])])
        if attrs.get("keepdims", 1):
            return ref
        return self.b.add("Flatten", {"start_dim": 1}, f"{self.label(node)}_flat", [ref])

    def op_BatchNormalization(self, node: Any, attrs: dict[str, Any]) -> Ref:
        if attrs.get("training_mode", 0):
            raise Unsupported("training_mode=1")
        rank = self.rank(node.input[0])
        layer = "BatchNorm2d" if rank == 4 else "BatchNorm1d" if rank in (2, 3) else None
        if layer is None:
            raise Unsupported(f"a {rank}-D input")
        names = ("weight", "bias", "running_mean", "running_var")
        weights = {key: self.tensor(self.const(name, f"the {key}"))
                   for key, name in zip(names, node.input[1:5], strict=True)}
        momentum = 1.0 - float(attrs.get("momentum", 0.9))
        params = {"eps": float(attrs.get("epsilon", 1e-5)),
                  "momentum": round(min(max(momentum, 0.0), 1.0), 6)}
        return self.b.add(layer, params, self.label(node), [self.ref(node.input[0])],
                          weights)

    def op_Gather(self, node: Any, attrs: dict[str, Any]) -> Ref:
        table = self.values.get(node.input[0])
        if isinstance(table, Ref):
            return self.last_step(node, table, int(attrs.get("axis", 0)))
        if not isinstance(table, Const) or table.value is None or table.value.ndim != 2 \
                or int(attrs.get("axis", 0)) != 0:
            raise Unsupported("only a lookup in a constant table (an embedding)")
        indices = self.ref(node.input[1])
        return self.b.add("Embedding", {"num_embeddings": int(table.value.shape[0]),
                                        "embedding_dim": int(table.value.shape[1])},
                          self.label(node, node.input[0]), [indices],
                          {"weight": self.tensor(table.value)})

    def op_LayerNormalization(self, node: Any, attrs: dict[str, Any]) -> Ref:
        rank = self.rank(node.input[0])
        axis = int(attrs.get("axis", -1))
        if axis != -1 and not (rank and axis == rank - 1):
            raise Unsupported("normalizes more than the last dimension")
        if len(node.input) < 3 or not node.input[2]:
            raise Unsupported("no bias")
        weights = {"weight": self.tensor(self.const(node.input[1], "the scale")),
                   "bias": self.tensor(self.const(node.input[2], "the bias"))}
        return self.b.add("LayerNorm", {"eps": float(attrs.get("epsilon", 1e-5))},
                          self.label(node), [self.ref(node.input[0])], weights)

    # -- recurrent layers -------------------------------------------------------------------
    def op_Transpose(self, node: Any, attrs: dict[str, Any]) -> Any:
        value = self.values.get(node.input[0])
        perm = list(attrs.get("perm", []))
        if isinstance(value, Ref) and perm == [1, 0, 2]:
            return Laid(value, "time_major")
        if isinstance(value, Laid):
            if value.kind == "time_major" and perm == [1, 0, 2]:
                return value.ref
            if value.kind == "rnn_y" and perm == [0, 2, 1, 3]:
                return Laid(value.ref, "rnn_y_t", value.dirs)
        raise Unsupported(f"perm={perm}")

    def op_Squeeze(self, node: Any, attrs: dict[str, Any]) -> Any:
        value = self.values.get(node.input[0])
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1], "the axes").tolist()
        axes = [int(a) for a in np.atleast_1d(axes)] if axes is not None else None
        if isinstance(value, Laid) and value.dirs == 1:
            if value.kind == "rnn_y" and axes in ([1], [-3]):
                return Laid(value.ref, "time_major")
            if value.kind == "rnn_y_bf" and axes in ([2], [-2]):
                return value.ref
        raise Unsupported(f"axes={axes}")

    def last_step(self, node: Any, data: Ref, axis: int) -> Ref:
        """``sequence[:, -1]`` after a recurrent layer: its "last" output."""
        rnn = self.b.graph.nodes[data.node]
        index = self.values.get(node.input[1])
        shape = self.shapes.get(node.input[0]) or []
        length = shape[1] if len(shape) == 3 else None
        if rnn.type not in ("LSTM", "GRU", "RNN") or axis != 1 or rnn.params["bidirectional"] \
                or rnn.params["output"] != "sequence" or self.consumers[node.input[0]] != 1 \
                or not isinstance(index, Const) or index.value is None \
                or index.value.size != 1 or int(index.value.reshape(-1)[0]) not in (-1, length):
            raise Unsupported("only the last step of a recurrent layer's sequence")
        rnn.params["output"] = "last"
        return data

    def recurrent(self, node: Any, attrs: dict[str, Any], layer: str, gates: list[int]) -> Laid:
        value = self.values.get(node.input[0])
        layout = int(attrs.get("layout", 0))
        if layout == 0 and isinstance(value, Laid) and value.kind == "time_major":
            source = value.ref
        elif layout == 1 and isinstance(value, Ref):
            source = value
        else:
            raise Unsupported("its input is not a batch of sequences")
        if len(node.input) > 4 and node.input[4]:
            raise Unsupported("sequence_lens")
        for state in node.input[5:]:
            held = self.values.get(state) if state else None
            if isinstance(held, Const) and held.value is not None and np.any(held.value):
                raise Unsupported("a non-zero initial state")
            if isinstance(held, (Ref, Laid)):
                raise Unsupported("an initial state computed by the network")
        if attrs.get("clip") is not None or attrs.get("input_forget", 0):
            raise Unsupported("clip or input_forget")
        direction = attrs.get("direction", "forward")
        if direction == "reverse":
            raise Unsupported("direction='reverse'")
        dirs = 2 if direction == "bidirectional" else 1
        hidden = int(attrs["hidden_size"])
        params: dict[str, Any] = {"hidden_size": hidden, "num_layers": 1,
                                  "bidirectional": dirs == 2, "dropout": 0.0,
                                  "output": "sequence"}
        activations = [a.decode() if isinstance(a, bytes) else a
                       for a in attrs.get("activations", [])]
        if layer == "RNN":
            kind = (activations or ["Tanh"])[0]
            if kind not in ("Tanh", "Relu") or len(set(activations or ["Tanh"])) != 1:
                raise Unsupported(f"activations {activations}")
            params["nonlinearity"] = kind.lower()
        elif activations and activations != {"LSTM": ["Sigmoid", "Tanh", "Tanh"] * dirs,
                                             "GRU": ["Sigmoid", "Tanh"] * dirs}[layer]:
            raise Unsupported(f"activations {activations}")
        if layer == "GRU" and not attrs.get("linear_before_reset", 0):
            raise Unsupported("linear_before_reset=0 (PyTorch's GRU resets after the product)")
        w = self.const(node.input[1], "the weights W")
        r = self.const(node.input[2], "the weights R")
        b = (self.const(node.input[3], "the biases B") if len(node.input) > 3 and node.input[3]
             else np.zeros((dirs, 2 * w.shape[1]), np.float32))
        weights = {}
        for d in range(dirs):
            suffix = "_l0" + ("_reverse" if d else "")
            half = w.shape[1]
            weights[f"rnn.weight_ih{suffix}"] = self.tensor(_reorder(w[d], gates))
            weights[f"rnn.weight_hh{suffix}"] = self.tensor(_reorder(r[d], gates))
            weights[f"rnn.bias_ih{suffix}"] = self.tensor(_reorder(b[d][:half], gates))
            weights[f"rnn.bias_hh{suffix}"] = self.tensor(_reorder(b[d][half:], gates))
        # exporters name recurrent weights "val_N"; their node names say more ("node_lstm__2")
        name = re.sub(r"^node_|__\d+$", "", node.name or "") or layer.lower()
        ref = self.b.add(layer, params, name, [source], weights)
        return Laid(ref, "rnn_y" if layout == 0 else "rnn_y_bf", dirs)

    def op_LSTM(self, node: Any, attrs: dict[str, Any]) -> Laid:
        return self.recurrent(node, attrs, "LSTM", [0, 2, 3, 1])  # ONNX iofc -> torch ifgo

    def op_GRU(self, node: Any, attrs: dict[str, Any]) -> Laid:
        return self.recurrent(node, attrs, "GRU", [1, 0, 2])  # ONNX zrh -> torch rzn

    def op_RNN(self, node: Any, attrs: dict[str, Any]) -> Laid:
        return self.recurrent(node, attrs, "RNN", [0])

    def activation(self, node: Any, attrs: dict[str, Any]) -> Ref:
        layer = _ACTIVATIONS[node.op_type]
        params: dict[str, Any] = {}
        if layer == "LeakyReLU":
            params["negative_slope"] = float(attrs.get("alpha", 0.01))
        elif layer == "Softmax":
            rank = self.rank(node.input[0])
            axis = int(attrs.get("axis", -1 if self.opset >= 13 else 1))
            if self.opset < 13 and rank and axis % rank != rank - 1:
                raise Unsupported("axis other than the last before opset 13")
            params["dim"] = axis
        elif layer == "GELU" and attrs.get("approximate", "none") != "none":
            raise Unsupported(f"approximate='{attrs['approximate']}'")
        return self.b.add(layer, params, self.label(node), [self.ref(node.input[0])])

    op_Relu = op_Sigmoid = op_Tanh = op_Gelu = op_LeakyRelu = op_Softmax = activation


def _reorder(array: np.ndarray, gates: list[int]) -> np.ndarray:
    """Gate blocks (stacked along the first axis) in PyTorch's order."""
    blocks = np.split(np.asarray(array), len(gates), axis=0)
    return np.concatenate([blocks[g] for g in gates], axis=0)
