"""The ONNX import's layer readers: each turns one operator into a catalog layer.

Catalog declarations name the ONNX operators that map back to each layer and the reader that
reads them (``OnnxMap``); the walker in ``runtime/import_onnx.py`` finds the readers through
the declarations and keeps the values between operators (``runtime/onnx_values.py``). The
readers of recurrent layers (``runtime/onnx_recurrent.py``), of merges
(``runtime/onnx_merges.py``), of tensor operations (``runtime/onnx_tensor_ops.py``) and of
layers exported as several operators (over a sequence: ``runtime/onnx_sequence.py``; gathered
windows: ``runtime/onnx_windows.py``; Softplus: ``runtime/onnx_softplus.py``; 1-D pooling
lifted to 2-D: ``runtime/onnx_lifted.py``) are mixed in from their own modules.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

import graph.layers
from graph.catalog import LayerSpec
from runtime.import_builder import GraphBuilder, Ref
from runtime.onnx_fold import Sym
from runtime.onnx_lifted import LiftedReaders
from runtime.onnx_merges import MergeReaders
from runtime.onnx_recurrent import RecurrentReaders
from runtime.onnx_sequence import SequenceReaders
from runtime.onnx_shapes import TensorShapes
from runtime.onnx_softplus import SoftplusReaders
from runtime.onnx_tensor_ops import TensorOpReaders, with_param
from runtime.onnx_values import (
    GRAPH_VALUES,
    LAYOUTS,
    Const,
    Downstream,
    Laid,
    Mask,
    MaskedSum,
    Padded,
    ShapeValue,
    Unsupported,
    Windows,
)
from runtime.onnx_windows import WindowReaders

_ATTENTION = ("Plexus has no product of two computed tensors: attention imports, from ONNX "
              "as from Python, as a whole nn.MultiheadAttention or nn.TransformerEncoderLayer "
              "(from the module scopes torch's exporters write); write the model's attention "
              "with those modules")


def _tokens(value: Mask | MaskedSum) -> Ref:
    return value.tokens if isinstance(value, Mask) else value.mask.tokens


@functools.cache
def declared_ops() -> dict[str, list[LayerSpec]]:
    """Each ONNX operator catalog declarations list in ``OnnxMap.ops``, to those layers."""
    found: dict[str, list[LayerSpec]] = {}
    for spec in graph.layers.LAYERS:
        for op in spec.onnx.ops:
            found.setdefault(op, []).append(spec)
    return found


def _by_rank(specs: list[LayerSpec], rank: int) -> LayerSpec:
    """The one of ``specs`` whose declared input ranks hold ``rank``."""
    for spec in specs:
        if rank in spec.ranks:
            return spec
    raise Unsupported(f"a {rank}-D input")


class LayerReaders(SequenceReaders, RecurrentReaders, TensorOpReaders, WindowReaders,
                   SoftplusReaders, LiftedReaders, MergeReaders):
    """The readers of the operators catalog declarations list; mixed into the walker, whose
    state (values, shapes, consumers, the builder) they read and extend."""

    b: GraphBuilder
    helper: Any
    opset: int
    values: dict[str, Any]
    shapes: TensorShapes
    consumers: Any
    pending_bias: dict[int, str]
    created: dict[str, int]

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
            raise Downstream
        if isinstance(value, Padded):
            raise Unsupported(f"input '{name}' is padded ({value.mode}), which only a "
                              "convolution takes")
        if isinstance(value, Laid):
            raise Unsupported(f"input '{name}' is {LAYOUTS[value.kind]}")
        if isinstance(value, (Mask, MaskedSum)):
            raise Unsupported(f"input '{name}' is part of a padding mask computed from the "
                              f"token ids '{self.b.graph.nodes[_tokens(value).node].name}'; "
                              "only a masked mean over the steps (SequenceReduce) imports")
        if isinstance(value, ShapeValue):
            raise Unsupported(f"input '{name}' is computed from tensor shapes where a tensor "
                              "is expected")
        raise Unsupported(f"input '{name}' is a constant where a tensor is expected")

    def const(self, name: str, what: str) -> np.ndarray:
        """The value of a constant input; Unsupported says what it is instead."""
        value = self.values.get(name)
        if isinstance(value, Const) and value.value is not None and not value.batched:
            return value.value
        if isinstance(value, Const) and value.batched:
            raise Unsupported(f"{what} depends on the batch size")
        if isinstance(value, Const) and value.source:
            raise Unsupported(f"{what} is computed from constants by {value.source}, which "
                              "the importer cannot evaluate")
        if isinstance(value, ShapeValue):
            raise Unsupported(f"{what} depends on tensor shapes known only at run time")
        if isinstance(value, GRAPH_VALUES):
            raise Unsupported(f"{what} is computed from the network's input; it must be a "
                              "constant (an initializer)")
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
    # -- readers catalog declarations name in ``OnnxMap.reader`` -------------------------------
    def read_dropout(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        ratio = attrs.get("ratio", 0.5)
        if len(node.input) > 1 and node.input[1]:
            ratio = float(self.const(node.input[1], "the ratio"))
        return self.b.add(specs[0].id, {"p": float(ratio)}, self.label(node),
                          [self.ref(node.input[0])])

    def read_linear(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        """Gemm, or MatMul by a constant whose bias a following Add brings."""
        if node.op_type == "MatMul":
            return self.matmul(node, specs[0])
        return self.gemm(node, attrs, specs[0])

    def gemm(self, node: Any, attrs: dict[str, Any], spec: LayerSpec) -> Ref:
        if attrs.get("transA", 0):
            raise Unsupported("transA=1")
        weight = self.const(node.input[1], "the weight B") * float(attrs.get("alpha", 1.0))
        if not attrs.get("transB", 0):
            weight = weight.T
        weights = {"weight": self.tensor(weight)}
        if len(node.input) > 2 and node.input[2]:
            bias = self.const(node.input[2], "the bias C") * float(attrs.get("beta", 1.0))
            weights["bias"] = self.tensor(np.broadcast_to(bias, (weight.shape[0],)).copy())
        return self.b.add(spec.id, {"out_features": int(weight.shape[0]),
                                    "bias": "bias" in weights}, self.label(node),
                          [self.ref(node.input[0])], weights)

    def matmul(self, node: Any, spec: LayerSpec) -> Ref:
        first, second = (self.values.get(n) for n in node.input[:2])
        if isinstance(first, GRAPH_VALUES) and isinstance(second, GRAPH_VALUES):
            raise Unsupported(f"multiplies two computed tensors ('{node.input[0]}' by "
                              f"'{node.input[1]}'), as attention multiplies queries by keys "
                              f"and weights by values; {_ATTENTION}")
        if isinstance(first, Laid) and first.kind == "time_major":
            raise Unsupported(f"projects '{node.input[0]}', a sequence transposed to steps "
                              "first (L x N x F), as torch's attention does (nn."
                              f"MultiheadAttention, nn.TransformerEncoderLayer); {_ATTENTION}")
        weight = self.const(node.input[1], "the second input").T
        if weight.ndim != 2:
            raise Unsupported("a batched matrix product")
        ref = self.b.add(spec.id, {"out_features": int(weight.shape[0]), "bias": False},
                         self.label(node), [self.ref(node.input[0])],
                         {"weight": self.tensor(weight)})
        if self.consumers[node.output[0]] == 1:
            self.pending_bias[ref.node] = node.output[0]
        return ref

    def read_add(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        """A merge, or the bias of the Linear layer a MatMul just made."""
        a, b = (self.values.get(n) for n in node.input[:2])
        if isinstance(b, Ref) and isinstance(a, Const):
            a, b = b, a
        if isinstance(a, Ref) and isinstance(b, Const):
            linear = self.pending_bias.pop(a.node, None)
            if linear is None and b.value is not None:
                return self.read_merge(node, attrs, specs)  # a Learned tensor operand
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
        return self.read_merge(node, attrs, specs)

    def read_flatten(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        if int(attrs.get("axis", 1)) != 1:
            raise Unsupported(f"axis={attrs.get('axis')} (merges dimensions into the batch)")
        return self.b.add(specs[0].id, {"start_dim": 1}, self.label(node),
                          [self.ref(node.input[0])])

    def read_reshape(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Any:
        """A reshape of each sample (one vector: a Flatten), or the layout change that
        exporters put after a recurrent layer."""
        laid = self.values.get(node.input[0])
        if isinstance(laid, Laid) and self.rank(node.output[0]) == 3:
            if laid.kind == "rnn_y_t":  # L x N x dirs x H -> L x N x dirs*H
                return Laid(laid.ref, "time_major")
            if laid.kind == "rnn_y_bf":  # N x L x dirs x H -> N x L x dirs*H
                return laid.ref
        if isinstance(laid, Laid) and laid.kind == "rnn_h_bf" and self.rank(node.output[0]) == 2:
            return self.whole_state(laid.ref)  # N x dirs x H -> N x dirs*H: torch's h_n port
        source = self.ref(node.input[0])
        before = self.shapes.get(node.input[0])
        after = self.shapes.get(node.output[0])
        rest: list[int] | None = None
        if after and before and after[0] == before[0] and all(
                isinstance(d, int) and d > 0 for d in after[1:]):
            rest = [int(d) for d in after[1:]]
        elif isinstance(self.values.get(node.input[1]), ShapeValue):
            rest = _batch_kept(self.values[node.input[1]])
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
        return self.b.add(specs[0].id, {"shape": tuple(rest)}, name, [source])

    def read_conv(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Any:
        if node.op_type == "Pad":
            return self.pad_before_conv(node, attrs)
        weight = self.const(node.input[1], "the weight")
        dims = weight.ndim - 2
        if dims not in (1, 2):
            raise Unsupported(f"{dims}-D convolution")
        padding = self.padding(attrs, weight.shape[2:], attrs.get("dilations", [1] * dims))
        source = self.values.get(node.input[0])
        mode = "zeros"
        if isinstance(source, Padded):  # torch writes padding_mode as a Pad before the Conv
            if any(padding) or len(source.pads) != dims:
                raise Unsupported("a Pad before a padded convolution")
            padding, mode = source.pads, source.mode
        params: dict[str, Any] = {
            "out_channels": int(weight.shape[0]),
            "kernel_size": tuple(int(k) for k in weight.shape[2:]),
            "stride": tuple(int(s) for s in attrs.get("strides", [1] * dims)),
            "padding": padding,
            "dilation": tuple(int(d) for d in attrs.get("dilations", [1] * dims)),
            "groups": int(attrs.get("group", 1)),
            "padding_mode": mode,
        }
        if dims == 1:
            params = {k: (v[0] if isinstance(v, tuple) else v) for k, v in params.items()}
        weights = {"weight": self.tensor(weight)}
        if len(node.input) > 2 and node.input[2]:
            weights["bias"] = self.tensor(self.const(node.input[2], "the bias"))
        params["bias"] = "bias" in weights
        data = source.ref if isinstance(source, Padded) else self.ref(node.input[0])
        return self.b.add(_by_rank(specs, dims + 2).id, params, self.label(node), [data],
                          weights)

    def pad_before_conv(self, node: Any, attrs: dict[str, Any]) -> Padded:
        """A reflect or replicate Pad of height and width that only a Conv reads: that
        convolution's padding_mode."""
        mode = {"reflect": "reflect", "edge": "replicate"}.get(attrs.get("mode", "constant"))
        rank = self.rank(node.input[0])
        pads = [int(p) for p in self.const(node.input[1], "the pads")] \
            if len(node.input) > 1 and node.input[1] else [int(p) for p in attrs.get("pads", [])]
        batch_and_channels = pads[:2] + pads[rank:rank + 2]
        if mode is None or rank < 3 or len(pads) != 2 * rank or any(batch_and_channels) \
                or pads[2:rank] != pads[rank + 2:] or (len(node.input) > 3 and node.input[3]):
            raise Unsupported(f"mode {attrs.get('mode', 'constant')}, pads {pads} (only the "
                              "reflect or replicate padding of a convolution)")
        return Padded(self.ref(node.input[0]), "padded", pads=tuple(pads[2:rank]), mode=mode)

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

    def read_conv_transpose(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]
                            ) -> Ref:
        weight = self.const(node.input[1], "the weight")
        if weight.ndim != 4:
            raise Unsupported("only 2-D transposed convolution")
        if "output_shape" in attrs:
            raise Unsupported("output_shape")
        pads = [int(p) for p in attrs.get("pads", [0, 0, 0, 0])]
        if pads[:2] != pads[2:]:
            raise Unsupported(f"asymmetric pads {pads}")
        weights = {"weight": self.tensor(weight)}
        if len(node.input) > 2 and node.input[2]:
            weights["bias"] = self.tensor(self.const(node.input[2], "the bias"))
        groups = int(attrs.get("group", 1))
        params = {"out_channels": int(weight.shape[1]) * groups,
                  "kernel_size": tuple(int(k) for k in weight.shape[2:]),
                  "stride": tuple(int(s) for s in attrs.get("strides", [1, 1])),
                  "padding": tuple(pads[:2]),
                  "output_padding": tuple(int(p) for p in attrs.get("output_padding", [0, 0])),
                  "groups": groups,
                  "dilation": tuple(int(d) for d in attrs.get("dilations", [1, 1])),
                  "bias": "bias" in weights}
        return self.b.add(specs[0].id, params, self.label(node),
                          [self.ref(node.input[0])], weights)

    def read_pool(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        if len(node.output) > 1 and self.consumers[node.output[1]]:
            raise Unsupported("uses the indices output")
        kernel = [int(k) for k in attrs.get("kernel_shape", [])]
        dims = len(kernel)
        if dims not in (1, 2):
            raise Unsupported(f"{dims}-D pooling")
        spec = _by_rank(specs, dims + 2)
        names = {p.name for p in spec.params}
        dilation = tuple(int(d) for d in attrs.get("dilations", [1] * dims))
        if "dilation" not in names and any(d != 1 for d in dilation):
            raise Unsupported(f"dilations {list(dilation)}")
        padding = self.padding(attrs, kernel, [1] * dims)
        found: dict[str, Any] = {
            "kernel_size": tuple(kernel),
            "stride": tuple(int(s) for s in attrs.get("strides", [1] * dims)),
            "padding": padding, "dilation": dilation,
            "ceil_mode": bool(attrs.get("ceil_mode", 0)),
            # ONNX counts no padding by default, torch does; without padding it is the same
            "count_include_pad": bool(attrs.get("count_include_pad", 0)) or not any(padding)}
        params = {k: (v[0] if dims == 1 and isinstance(v, tuple) else v)
                  for k, v in found.items() if k in names}
        return self.b.add(spec.id, params, self.label(node), [self.ref(node.input[0])])

    def read_global_pool(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]
                         ) -> Ref:
        if node.op_type == "GatherND":
            return self.gather_windows(node, attrs)
        if isinstance(self.values.get(node.input[0]), Windows):
            return self.pool_windows(node, attrs, specs)
        if node.op_type.startswith("Reduce"):
            return self.reduce_spatial(node, attrs, specs)
        if self.rank(node.input[0]) not in (0, 4):
            raise Unsupported("only 2-D pooling")
        return self.b.add(specs[0].id, {"output_size": (1, 1)}, self.label(node),
                          [self.ref(node.input[0])])

    def reduce_axes(self, node: Any, attrs: dict[str, Any]) -> list[int] | None:
        """A reduction's axes (an attribute before opset 18, an input since); None: all."""
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1], "the axes").tolist()
        return None if axes is None else [int(a) for a in np.atleast_1d(axes)]

    def reduce_spatial(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        """A mean or maximum over height and width is global pooling (what exporters make of
        ``AdaptiveAvgPool2d(1)``), followed by a flatten when the dimensions are dropped."""
        rank = self.rank(node.input[0])
        axes = self.reduce_axes(node, attrs)
        if rank != 4 or axes is None or sorted(a % 4 for a in axes) != [2, 3] \
                or not attrs.get("keepdims", 1):
            return self.read_reduce(node, attrs, specs)  # x.mean((2, 3)): a reduction
        return self.b.add(specs[0].id, {"output_size": (1, 1)}, self.label(node),
                          [self.ref(node.input[0])])

    def read_reduce(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        """A mean, sum or maximum over some dimensions of each sample."""
        rank = self.rank(node.input[0])
        axes = self.reduce_axes(node, attrs)
        if not axes and attrs.get("noop_with_empty_axes", 0):
            return self.ref(node.input[0])
        if not axes or not rank or any(a % rank == 0 for a in axes):
            raise Unsupported("reduces the batch dimension")
        return self.b.add(with_param(specs, "dims").id,
                          {"dims": tuple(axes), "keepdim": bool(attrs.get("keepdims", 1))},
                          self.label(node), [self.ref(node.input[0])])

    def read_batchnorm(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        if attrs.get("training_mode", 0):
            raise Unsupported("training_mode=1")
        rank = self.rank(node.input[0])
        layer = _by_rank(specs, rank).id
        names = ("weight", "bias", "running_mean", "running_var")
        weights = {key: self.tensor(self.const(name, f"the {key}"))
                   for key, name in zip(names, node.input[1:5], strict=True)}
        momentum = 1.0 - float(attrs.get("momentum", 0.9))
        params = {"eps": float(attrs.get("epsilon", 1e-5)),
                  "momentum": round(min(max(momentum, 0.0), 1.0), 6)}
        return self.b.add(layer, params, self.label(node), [self.ref(node.input[0])],
                          weights)

    def read_gather(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        """A lookup in a constant table (an embedding), or a recurrent layer's last step."""
        table = self.values.get(node.input[0])
        if isinstance(table, Laid) and table.kind in ("rnn_h", "rnn_c") \
                and int(attrs.get("axis", 0)) == 0:
            index = self.const(node.input[1], "the index")
            if index.size != 1:
                raise Unsupported("gathers several directions of a final state")
            return self.final_state(table, int(index.reshape(-1)[0]))
        if isinstance(table, Ref):
            try:
                return self.last_step(node, table, int(attrs.get("axis", 0)))
            except Unsupported:
                return self.select(node, table, int(attrs.get("axis", 0)), specs)
        if not isinstance(table, Const) or table.value is None or table.value.ndim != 2 \
                or int(attrs.get("axis", 0)) != 0:
            raise Unsupported("only a lookup in a constant table (an embedding)")
        indices = self.ref(node.input[1])
        return self.b.add(specs[0].id, {"num_embeddings": int(table.value.shape[0]),
                                        "embedding_dim": int(table.value.shape[1])},
                          self.label(node, node.input[0]), [indices],
                          {"weight": self.tensor(table.value)})

    def read_layernorm(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        rank = self.rank(node.input[0])
        axis = int(attrs.get("axis", -1))
        if axis != -1 and not (rank and axis == rank - 1):
            raise Unsupported("normalizes more than the last dimension")
        if len(node.input) < 3 or not node.input[2]:
            raise Unsupported("no bias")
        weights = {"weight": self.tensor(self.const(node.input[1], "the scale")),
                   "bias": self.tensor(self.const(node.input[2], "the bias"))}
        return self.b.add(specs[0].id, {"eps": float(attrs.get("epsilon", 1e-5))},
                          self.label(node), [self.ref(node.input[0])], weights)

    def read_attributes(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]
                        ) -> Ref:
        """Parameters from the ONNX attributes the declaration names (default: the
        parameter's own name and default); the fixed constructor arguments must match."""
        spec = specs[0]
        names = dict(spec.onnx.attributes)
        params: dict[str, Any] = {}
        for param in spec.params:
            if param.torch_arg:
                raw = attrs.get(names.get(param.name, param.name), param.default)
                params[param.name] = param.coerce(raw)
                if param.check(params[param.name]) is not None:
                    raise Unsupported(f"{names.get(param.name, param.name)}={raw!r}")
        for key, want in spec.fixed.items():
            if attrs.get(key, want) != want:
                raise Unsupported(f"{key}='{attrs[key]}'")
        return self.b.add(spec.id, params, self.label(node), [self.ref(node.input[0])])

    def read_softmax(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        """Softmax along ``axis``; before opset 13 it flattened from the axis on, which only
        the last axis matches."""
        rank = self.rank(node.input[0])
        axis = int(attrs.get("axis", -1 if self.opset >= 13 else 1))
        if self.opset < 13 and rank and axis % rank != rank - 1:
            raise Unsupported("axis other than the last before opset 13")
        return self.b.add(specs[0].id, {"dim": axis}, self.label(node), [self.ref(node.input[0])])

    # -- activations with constants (issue 13) ------------------------------------------------
    def read_clip(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        """Clip to [0, 6] is ReLU6 (bounds as inputs from opset 11, attributes before)."""
        bounds = [attrs.get("min"), attrs.get("max")]
        for index, name in enumerate(node.input[1:3]):
            if name:
                bounds[index] = float(np.asarray(self.const(name, "the bound")).reshape(-1)[0])
        if bounds != [0.0, 6.0]:
            raise Unsupported(f"bounds {bounds} (only Clip to 0..6, ReLU6, is a layer)")
        return self.b.add(specs[0].id, {}, self.label(node), [self.ref(node.input[0])])

    def read_hard_sigmoid(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]
                          ) -> Ref:
        """torch's Hardsigmoid is max(0, min(1, x / 6 + 1 / 2)); ONNX's default alpha differs."""
        alpha, beta = float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))
        if abs(alpha - 1 / 6) > 1e-6 or abs(beta - 0.5) > 1e-6:
            raise Unsupported(f"alpha={alpha}, beta={beta} (Hardsigmoid is x / 6 + 1 / 2)")
        return self.b.add(specs[0].id, {}, self.label(node), [self.ref(node.input[0])])

    def read_prelu(self, node: Any, attrs: dict[str, Any], specs: list[LayerSpec]) -> Ref:
        """A constant slope, one shared or one per channel (dimension 1)."""
        slope = np.asarray(self.const(node.input[1], "the slope"), np.float32)
        rank = self.rank(node.input[0]) or max(slope.ndim, 2)
        sizes = [1] * (rank - slope.ndim) + list(slope.shape)
        if slope.size != 1 and (len(sizes) < 2 or slope.size != sizes[1]):
            raise Unsupported(f"a slope of shape {list(slope.shape)} (PReLU learns one slope "
                              "or one per channel)")
        return self.b.add(specs[0].id, {"num_parameters": int(slope.size)}, self.label(node),
                          [self.ref(node.input[0])], {"weight": self.tensor(slope.reshape(-1))})


def _batch_kept(target: ShapeValue) -> list[int] | None:
    """The sizes after the batch of a Reshape target computed from shapes, as
    ``x.view(x.size(0), -1)`` exports (Shape, Gather 0, Unsqueeze, Concat): None unless its
    first entry is the batch (or 0, "keep") and the others are numbers."""
    dims = target.dims
    if dims is None or dims.ndim != 1 or len(dims) < 2:
        return None
    first, rest = dims[0], list(dims[1:])
    if not ((isinstance(first, Sym) and first.batch) or (isinstance(first, int) and first == 0)):
        return None
    if any(isinstance(d, Sym) or int(d) == 0 or int(d) < -1 for d in rest) \
            or sum(int(d) == -1 for d in rest) > 1:
        return None
    return [int(d) for d in rest]
