"""Import an ONNX model's common operators as a Plexus graph, weights included.

Values in the ONNX graph are of three kinds while walking it: graph tensors (a node's output,
``Ref``), constants (initializers, Constant nodes and what folds from them) and shape values
(computed from ``Shape``, as exporters build the size argument of a Reshape). Operators on
graph tensors become catalog nodes; constant and shape arithmetic disappears, because a
Reshape reads its target from the shapes ONNX shape inference gives each value. Operators are
read by the reader their catalog declaration names (``runtime/onnx_layers.py``); every
operator without a catalog equivalent is listed by name (and the ONNX node's name) in the
refusal.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graph.catalog import TOKENS
from graph.hierarchy import group_by_scopes, onnx_scopes
from graph.model import Graph
from graph.project import Project
from runtime.import_builder import GraphBuilder, ModelImportError, Ref
from runtime.onnx_layers import (
    Const,
    Downstream,
    Laid,
    LayerReaders,
    ShapeValue,
    Unsupported,
    declared_ops,
)

_SHAPE_OPS = frozenset({"Shape", "Size"})


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
    _group_by_scopes(model, walker.values, builder.graph)
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
    vocab = min([int(n.params.get("num_embeddings", 2)) for n in graph.nodes.values()
                 if n.spec is not None and n.spec.dtype == TOKENS] or [2])
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


class _Walker(LayerReaders):
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
            except Downstream:
                for out in node.output:
                    self.values[out] = None
        for info in self.graph.output:
            try:
                ref = self.ref(info.name)
            except (Unsupported, Downstream):
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
            raise Downstream
        if not any(isinstance(v, (Ref, Laid)) for v in present):
            shape = any(isinstance(v, ShapeValue) for v in present)
            for out in node.output:
                self.values[out] = ShapeValue() if shape else Const(self.fold(node))
            return
        specs = declared_ops().get(op)
        if specs is not None:
            result = getattr(self, f"read_{specs[0].onnx.reader}")(node, self.attrs(node), specs)
        else:
            handler = getattr(self, f"op_{op}", None)  # layout operators around layers
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
    # -- operators on graph tensors ---------------------------------------------------------------
    def op_Identity(self, node: Any, attrs: dict[str, Any]) -> Ref:
        return self.ref(node.input[0])

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


def _group_by_scopes(model: Any, values: dict[str, Any], graph: Graph) -> None:
    """Nested groups from the exporter's scoped node names ("/layer1/layer1.0/conv1/Conv"
    sits in "layer1", "layer1.0" and "conv1"); names without scopes leave the graph flat.
    A layer belongs to the first ONNX node that produced it."""
    scopes: dict[int, list[str]] = {}
    for node in model.graph.node:
        ref = values.get(node.output[0]) if node.output else None
        if isinstance(ref, Ref) and ref.node not in scopes:
            scopes[ref.node] = onnx_scopes(node.name)
    group_by_scopes(graph, scopes)
