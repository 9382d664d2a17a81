"""Import an ONNX model's common operators as a Plexus graph, weights included.

Values in the ONNX graph are of a few kinds while walking it (``runtime/onnx_values.py``):
graph tensors (a node's output, ``Ref``), constants (initializers, Constant nodes and what
folds from them: ``runtime/onnx_fold.py`` evaluates the Slice/Concat/Transpose/... that
exporters build weights with) and shape vectors (computed from ``Shape``, with the batch as a
symbol, as exporters build the target of ``x.view(x.size(0), -1)``). Operators on graph
tensors become catalog nodes; constant and shape arithmetic disappears. Operators are read by
the readers of the catalog declarations that list them (``runtime/onnx_layers.py``); every
operator without a catalog equivalent is listed by name (and the ONNX node's name) in the
refusal, with its true cause. Tensor sizes are ONNX's own shape inference's, completed from
the layers already built where it loses track (``runtime/onnx_shapes.py``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graph.catalog import TOKENS, LayerSpec
from graph.hierarchy import group_by_scopes, onnx_scopes
from graph.model import Graph
from graph.project import Project
from runtime.import_builder import GraphBuilder, ModelImportError, Ref
from runtime.onnx_fold import Sym, as_numbers, constant_value, evaluate, has_symbols
from runtime.onnx_layers import LayerReaders, declared_ops
from runtime.onnx_named_scopes import marked_scopes, named_module
from runtime.onnx_scopes import ScopeReaders, module_of
from runtime.onnx_shapes import TensorShapes
from runtime.onnx_values import (
    GRAPH_VALUES,
    Const,
    Downstream,
    Laid,
    Mismatch,
    ShapeValue,
    Unsupported,
)

_SHAPE_OPS = frozenset({"Shape", "Size"})
_FILLS = frozenset({"Expand", "ConstantOfShape"})  # their last input is a shape


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


def _runs(nodes: Any) -> list[tuple[list[Any], tuple[str, LayerSpec] | None]]:
    """The operators in order, those of one module the catalog imports by scope
    (``onnx_scopes.module_of``, or ``onnx_named_scopes.named_module`` in a file without
    module metadata) together: (operators, (module path, layer) or None). An operator without
    inputs (a Constant) between two of a module's goes before the module's run."""
    runs: list[tuple[list[Any], tuple[str, LayerSpec] | None]] = []
    named = marked_scopes(nodes)
    for node in nodes:
        module = module_of(node) or named_module(node, named)
        if module is None and not node.input and runs and runs[-1][1] is not None:
            runs.insert(len(runs) - 1, ([node], None))
        elif module is not None and runs and runs[-1][1] is not None \
                and runs[-1][1][0] == module[0]:
            runs[-1][0].append(node)
        else:
            runs.append(([node], module))
    return runs


def _initializer(init: Any, to_array: Callable[[Any], np.ndarray], source: str) -> np.ndarray:
    """An initializer's values; dims its data does not fill (a 1e6 x 1e6 tensor with no data)
    are a one-line error naming the file and the tensor, never numpy's reshape error."""
    try:
        return to_array(init)
    except (ValueError, TypeError, OSError, MemoryError) as exc:
        shape = " x ".join(f"{d:,}" for d in init.dims) or "a scalar"
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelImportError(f"cannot import {source}: initializer '{init.name}' declares "
                               f"{shape} values but its data does not hold them ({reason}); "
                               "the file is damaged") from None


class _Walker(LayerReaders, ScopeReaders):
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
            self.values[init.name] = Const(_initializer(init, numpy_helper.to_array,
                                                        builder.source))
        inferred: dict[str, list[int | str]] = {}
        for info in [*self.graph.value_info, *self.graph.input, *self.graph.output]:
            dims = _dims(info)
            if dims is not None:
                inferred[info.name] = dims
        self.shapes = TensorShapes(inferred, self.values, builder)
        self.consumers = Counter(name for node in self.graph.node for name in node.input)
        for out in self.graph.output:
            self.consumers[out.name] += 1
        self.pending_bias: dict[int, str] = {}  # Linear node id -> MatMul output awaiting Add
        self.created: dict[str, int] = {}  # merge output name -> its node
        self.sequence_used: dict[int, bool] = {}  # recurrent node id -> its Y is read
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
        for run, module in _runs(self.graph.node):
            if module is None:
                self.step(run[0])
                continue
            try:
                self.read_scope(run, *module)
            except Unsupported as exc:
                self.refused.setdefault(module[1].torch_class or module[1].id, []).append(
                    (module[0], str(exc)))
                for node in run:
                    for out in node.output:
                        self.values[out] = None
            except Downstream:
                for node in run:
                    for out in node.output:
                        self.values[out] = None
        for info in self.graph.output:
            try:
                ref = self.ref(info.name)
            except Downstream:
                continue
            except Unsupported as exc:
                self.b.refuse(f"the graph output '{info.name}' ({exc})")
                continue
            self.b.add("Output", {"task": "classification"}, info.name, [ref])
        for op, uses in self.refused.items():  # one entry per operator type
            name, why = uses[0]
            where = f"node '{name}'" if len(uses) == 1 else f"{len(uses)} nodes, e.g. '{name}'"
            self.b.refuse(f"{op} ({where}{': ' + why if why else ''})")
        self.b.check_supported()

    def step(self, node: Any) -> None:
        """Read one operator; a refused one is listed, and the walk goes on through it so
        that every unsupported operator gets listed."""
        try:
            self.node(node)
        except Unsupported as exc:
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

    def node(self, node: Any) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise Unsupported(f"domain '{node.domain}'")
        attrs = self.attrs(node)
        if op == "Constant":
            self.values[node.output[0]] = Const(constant_value(attrs, self.numpy_helper.to_array))
            return
        inputs = [name for name in node.input if name]
        if any(name in self.values and self.values[name] is None for name in inputs):
            raise Downstream
        present = [self.values.get(name) for name in inputs]
        if op in _SHAPE_OPS and isinstance(present[0], GRAPH_VALUES):
            self.values[node.output[0]] = self.shape_of(node, attrs)
            return
        if not any(isinstance(v, GRAPH_VALUES) for v in present):
            self.fold(node, attrs)
            return
        result = self.read(node, attrs)
        results = result if isinstance(result, list) else [result]
        for name, value in zip(node.output, results, strict=False):
            self.values[name] = value
        for extra in node.output[len(results):]:
            self.values[extra] = None if self.consumers[extra] else Const(None)

    def read(self, node: Any, attrs: dict[str, Any]) -> Any:
        """Read an operator on graph tensors by the readers of the layers that declare it,
        in catalog order (the first whose pattern matches wins), else by a layout handler."""
        op = node.op_type
        specs = declared_ops().get(op)
        if specs is None:
            handler = getattr(self, f"op_{op}", None)  # layout operators around layers
            if handler is None:
                raise Unsupported("")
            return handler(node, attrs)
        refusals: list[Unsupported] = []
        for reader in dict.fromkeys(spec.onnx.reader for spec in specs):
            claiming = [spec for spec in specs if spec.onnx.reader == reader]
            try:
                return getattr(self, f"read_{reader}")(node, attrs, claiming)
            except Unsupported as exc:
                refusals.append(exc)
        causes = [str(e) for e in refusals if not isinstance(e, Mismatch)] or \
            [str(e) for e in refusals]
        raise Unsupported("; ".join(dict.fromkeys(c for c in causes if c)))

    def shape_of(self, node: Any, attrs: dict[str, Any]) -> ShapeValue:
        """The shape vector of a graph tensor: known sizes as numbers, the others (the
        batch) as symbols."""
        name = node.input[0]
        dims = self.shapes.get(name)
        if dims is None:
            return ShapeValue()
        batch_first = isinstance(self.values.get(name), Ref)
        vector = np.array([d if isinstance(d, int) and d > 0 else
                           Sym(str(d), batch=batch_first and axis == 0)
                           for axis, d in enumerate(dims)], dtype=object)
        if node.op_type == "Size":
            return ShapeValue(np.array(Sym("?"), dtype=object))
        return ShapeValue(vector[int(attrs.get("start", 0)):attrs.get("end")])

    def fold(self, node: Any, attrs: dict[str, Any]) -> None:
        """Evaluate an operator whose inputs are all constants or shape vectors."""
        arrays: list[np.ndarray | None] = []
        unknown, shape, batched, source = False, False, False, ""
        for name in node.input:
            value = self.values.get(name) if name else None
            array = None
            if isinstance(value, ShapeValue):
                shape, array = True, value.dims
            elif isinstance(value, Const):
                array, batched = value.value, batched or value.batched
                source = source or value.source
            unknown = unknown or (bool(name) and array is None)
            arrays.append(array)
        where = f"{node.op_type} node '{node.name or node.output[0]}'"
        results = None
        if not unknown:
            if node.op_type in _FILLS and has_symbols(arrays[-1]):
                # a constant repeated along the batch: keep it with the batch as 1
                arrays[-1] = np.array([1 if isinstance(d, Sym) else d for d in arrays[-1]])
                batched = True
            results = evaluate(node.op_type, arrays, attrs, len(node.output),
                               self.numpy_helper.to_array)
        for index, out in enumerate(node.output):
            if results is None or index >= len(results):
                self.values[out] = ShapeValue() if shape else Const(None, source or where)
            elif has_symbols(results[index]):
                self.values[out] = ShapeValue(results[index])
            else:
                self.values[out] = Const(as_numbers(results[index]), batched=batched)

    # -- layout operators around layers -------------------------------------------------------
    def op_Identity(self, node: Any, attrs: dict[str, Any]) -> Ref:
        return self.ref(node.input[0])

    def op_Transpose(self, node: Any, attrs: dict[str, Any]) -> Any:
        value = self.values.get(node.input[0])
        perm = list(attrs.get("perm", []))
        windows = self.transpose_windows(node, value, perm)
        if windows is not None:
            return windows
        if isinstance(value, Ref) and perm == [1, 0, 2]:
            return Laid(value, "time_major")
        if isinstance(value, Laid):
            if value.kind == "time_major" and perm == [1, 0, 2]:
                return value.ref
            if value.kind == "rnn_y" and perm == [0, 2, 1, 3]:
                return Laid(value.ref, "rnn_y_t", value.dirs)
            if value.kind == "rnn_h" and perm == [1, 0, 2]:
                return Laid(value.ref, "rnn_h_bf", value.dirs)
        raise Unsupported(f"perm={perm}")

    def op_Squeeze(self, node: Any, attrs: dict[str, Any]) -> Any:
        value = self.values.get(node.input[0])
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1], "the axes").tolist()
        axes = [int(a) for a in np.atleast_1d(axes)] if axes is not None else None
        lifted = self.squeeze_lifted(value, axes)
        if lifted is not None:
            return lifted
        if isinstance(value, Laid) and value.kind in ("rnn_h", "rnn_c") and axes in ([0], [-3]):
            return self.final_state(value, None)
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
