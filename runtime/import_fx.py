"""Import a PyTorch ``nn.Module`` as a Plexus graph by tracing it with ``torch.fx``.

Leaf modules (everything in ``torch.nn``, and the ``runtime.ops`` classes Plexus' own
exported files define) become catalog nodes, their parameters read by the reader their
declaration names (``runtime/fx_layers.py``); the functions and tensor methods catalog
declarations list (add, sub, mul, div, cat, flatten, view/reshape of each sample, permute,
transpose, ``x[:, a:b]`` and select, mean/sum/amax, interpolate, relu and friends, functional
pooling and dropout) become merge, tensor-op, activation and pooling nodes.
The example input runs through the traced graph so that every value has a shape and
the imported graph can be checked against the original's outputs.
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, fx, nn

import graph.layers
from graph import catalog
from graph.hierarchy import dotted_scopes, group_by_scopes
from graph.model import Edge, Graph
from graph.project import Project
from runtime import fx_layers
from runtime.compile import build_layer
from runtime.fx_calls import (
    Batch,
    Direction,
    HiddenState,
    LearnedValue,
    Outputs,
    RnnTuple,
    StructuralCalls,
    TensorShape,
)
from runtime.fx_functional import FunctionalCalls
from runtime.fx_layers import Unsupported
from runtime.fx_sizes import SizeCalls
from runtime.fx_source import first_line, load_factory
from runtime.fx_tensor_calls import TensorCalls
from runtime.import_builder import GraphBuilder, ModelImportError, Ref
from runtime.import_weights import load_weights

F = nn.functional
EXAMPLE_BATCH = 2


class _Downstream(Exception):
    """A value computed from something already refused: not listed again."""


# -- tracing ---------------------------------------------------------------------------------------
class _ShapeFailure(Exception):
    """The fx node that failed on the example input, and its exception."""

    def __init__(self, node: fx.Node, error: BaseException) -> None:
        super().__init__(node.name)
        self.node, self.error = node, error


class _Shapes(fx.Interpreter):
    """Runs the traced graph on the example input, noting each tensor's shape (like fx's
    ShapeProp, which prints a traceback when a node fails)."""

    extra_traceback = False  # keep messages as torch wrote them

    def run_node(self, n: fx.Node) -> Any:
        try:
            result = super().run_node(n)
        except Exception as exc:  # noqa: BLE001 - reported with the node's name
            raise _ShapeFailure(n, exc) from None
        if isinstance(result, Tensor):
            n.meta["shape"] = tuple(result.shape)
        return result


class _Tracer(fx.Tracer):
    # a buffer used in forward (a sliced table of positions) stays a node, so that its use
    # is refused by name rather than failing the trace
    proxy_buffer_attributes = True

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return fx_layers.is_plexus_class(m) or fx_layers.foreign_layer(m) \
            or super().is_leaf_module(m, module_qualified_name)


def _shapes(input_shape: Any, count: int, module: nn.Module, where: str) -> list[tuple[int, ...]]:
    if input_shape is None:
        known = getattr(module, "input_shapes", None)
        if isinstance(known, dict) and len(known) == count:
            return [tuple(int(v) for v in s) for s in known.values()]
        raise ModelImportError(f"{where}: give the input shape of one sample without the batch "
                               "(e.g. 1,28,28)")
    shapes = list(input_shape)
    if shapes and all(isinstance(s, int) for s in shapes):
        shapes = [shapes]
    if len(shapes) != count or not all(
            isinstance(s, (list, tuple)) and all(isinstance(v, int) and v > 0 for v in s)
            for s in shapes):
        raise ModelImportError(f"{where}: forward takes {count} input(s); give one shape of "
                               "positive sizes per input (batch excluded)")
    return [tuple(s) for s in shapes]


def import_module(source: str | Path | nn.Module, name: str | None = None,
                  args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                  input_shape: Any = None, project_name: str | None = None,
                  weights: str | Path | None = None) -> Project:
    """See ``runtime.importer.import_module``."""
    if isinstance(source, nn.Module):
        model = source
        where = type(model).__name__
    else:
        if weights is None and Path(source).with_suffix(".safetensors").is_file():
            weights = Path(source).with_suffix(".safetensors")
        path = Path(source)
        factory = load_factory(path, name)
        where = f"{path.name}: {getattr(factory, '__name__', name)}"
        try:
            model = factory(*args, **(kwargs or {}))
        except Exception as exc:  # noqa: BLE001 - the user's constructor
            raise ModelImportError(f"{where}(...) failed: {type(exc).__name__}: "
                                   f"{first_line(exc)}; check the constructor arguments") from None
        if not isinstance(model, nn.Module):
            raise ModelImportError(f"{where} returned a {type(model).__name__}, not an "
                                   "nn.Module")
    if weights is not None:
        load_weights(model, Path(weights), where)
    model.eval()
    try:
        graph = _Tracer().trace(model)
    except Exception as exc:  # noqa: BLE001 - fx raises TraceError, TypeError, ...
        raise ModelImportError(f"cannot trace {where} with torch.fx: {first_line(exc)}; forward "
                               "must not branch on tensor values") from None
    gm = fx.GraphModule(model, graph)
    gm.graph.eliminate_dead_code()
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    shapes = _shapes(input_shape, len(placeholders), model, where)
    dtypes = _input_dtypes(gm, placeholders, model)
    example = [torch.randint(0, _vocab(gm, p), (EXAMPLE_BATCH, *s)) if d == "long"
               else torch.randn(EXAMPLE_BATCH, *s)
               for p, s, d in zip(placeholders, shapes, dtypes, strict=True)]
    try:
        with torch.no_grad():
            _Shapes(gm).run(*example)
    except _ShapeFailure as failure:
        n, exc = failure.node, failure.error
        at = f"'{n.target}'" if n.op == "call_module" else f"node '{n.name}'"
        raise ModelImportError(f"{where} fails on an input of shape "
                               f"{' and '.join('x'.join(map(str, s)) for s in shapes)} at {at}: "
                               f"{first_line(exc)}; check the input shape") from None
    builder = GraphBuilder(where)
    walker = _Walker(gm, builder, model)
    walker.walk(shapes, dtypes)
    _group_by_modules(gm, walker.values, builder.graph)

    def reference(inputs: list[Tensor]) -> list[Tensor]:
        out = model(*inputs)
        return list(out) if isinstance(out, (tuple, list)) else [out]

    title = project_name or type(model).__name__
    doc = inspect.cleandoc(type(model).__dict__.get("__doc__") or "")
    description = doc.split("\n\n")[0].replace("\n", " ")
    return builder.finish(title, description, reference, example)


def _input_dtypes(gm: fx.GraphModule, placeholders: list[fx.Node], model: nn.Module
                  ) -> list[str]:
    """'long' for inputs that exported files declare long or that feed an Embedding."""
    declared = getattr(model, "input_dtypes", None)
    out = []
    for p in placeholders:
        if isinstance(declared, dict) and declared.get(p.name) in ("float", "long"):
            out.append(declared[p.name])
            continue
        tokens = any(u.op == "call_module" and _takes_tokens(gm.get_submodule(u.target))
                     for u in p.users)
        out.append("long" if tokens else "float")
    return out


def _takes_tokens(m: nn.Module) -> bool:
    spec = fx_layers.declared(m)
    return spec is not None and spec.dtype == catalog.TOKENS


def _vocab(gm: fx.GraphModule, p: fx.Node) -> int:
    sizes = [int(getattr(gm.get_submodule(u.target), "num_embeddings", 2)) for u in p.users
             if u.op == "call_module" and _takes_tokens(gm.get_submodule(u.target))]
    return min(sizes) if sizes else 2


# -- functions and methods -------------------------------------------------------------------------
_PASS = {"contiguous", torch.Tensor.contiguous}
_SPACES = {"torch": torch, "F": F, "operator": operator}
# what a merge's torch function does to a constant
_VERBS = {"add": "adds", "mul": "multiplies", "sub": "subtracts", "div": "divides"}


def resolve_call(name: str) -> Any:
    """A declared call ("F.relu", "operator.add") as the fx target it traces to; a tensor
    method ("Tensor.relu") stays its name, as fx records methods."""
    space, _, attr = name.partition(".")
    if space == "Tensor":
        return name
    return getattr(_SPACES[space], attr)


@functools.cache
def _declared_calls() -> dict[Any, catalog.LayerSpec]:
    """Every call a catalog declaration lists in ``FxMap.functions``, to its declaration."""
    return {resolve_call(name): spec for spec in graph.layers.LAYERS for name in spec.fx.functions}


def _call_key(n: fx.Node) -> Any:
    return f"Tensor.{n.target}" if n.op == "call_method" else n.target


def _target_name(n: fx.Node) -> str:
    target = n.target
    if isinstance(target, str):
        return f"Tensor.{target}" if n.op == "call_method" else target
    module = getattr(target, "__module__", "") or ""
    name = getattr(target, "__name__", str(target))
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    if module == "_operator":
        return f"operator.{name}"
    return f"torch.{name}" if "torch" in module or module == "" else f"{module}.{name}"


def _arg(n: fx.Node, index: int, key: str, default: Any = None) -> Any:
    if len(n.args) > index:
        return n.args[index]
    return n.kwargs.get(key, default)


class _Walker(SizeCalls, FunctionalCalls, StructuralCalls, TensorCalls):
    """Turns the traced fx graph into builder nodes."""

    def __init__(self, gm: fx.GraphModule, builder: GraphBuilder, model: nn.Module) -> None:
        self.gm = gm
        self.b = builder
        self.model = model
        self.values: dict[fx.Node, Any] = {}
        self.sequence_of: dict[int, RnnTuple] = {}  # node id -> the raw RNN producing it
        self.created: dict[fx.Node, int] = {}  # fx node -> the merge node it created
        self.calls: dict[str, int] = {}

    def walk(self, shapes: list[tuple[int, ...]], dtypes: list[str]) -> None:
        index = 0
        for n in self.gm.graph.nodes:
            try:
                if n.op == "placeholder":
                    self.values[n] = self.b.add("Input", {"shape": shapes[index],
                                                          "dtype": dtypes[index]}, n.name)
                    index += 1
                elif n.op == "call_module":
                    self.values[n] = self.module(n)
                elif n.op in ("call_function", "call_method"):
                    self.values[n] = self.function(n)
                elif n.op == "get_attr":
                    self.values[n] = self.attribute(n)
                elif n.op == "output":
                    self.output(n)
            except Unsupported as exc:
                # keep walking through it, so that every unsupported call gets listed
                self.values[n] = next((v for v in (self.values.get(a) for a in n.args
                                                   if isinstance(a, fx.Node))
                                       if isinstance(v, Ref)), None)
                self.b.refuse(self.describe(n, str(exc)))
            except _Downstream:
                self.values[n] = None
        self.b.check_supported()

    def describe(self, n: fx.Node, why: str) -> str:
        if n.op == "call_module":
            kind = type(self.gm.get_submodule(n.target)).__name__
            return f"'{n.target}' ({kind}{'' if why == kind else ': ' + why})"
        if n.op in ("call_function", "call_method"):
            return f"{_target_name(n)} (node '{n.name}'{'' if not why else ': ' + why})"
        return why

    def ref(self, value: Any, n: fx.Node) -> Ref:
        """The graph tensor behind an argument; Unsupported for anything else."""
        if isinstance(value, fx.Node):
            got = self.values.get(value)
            if isinstance(got, Ref):
                return got
            if got is None and value in self.values:
                raise _Downstream
            if isinstance(got, RnnTuple):
                raise Unsupported(f"uses the (output, hidden) tuple of '{got.path}'")
            if isinstance(got, Direction):
                raise Unsupported(f"uses one direction of the h_n of '{got.rnn.path}'; join "
                                  "both: torch.cat([h_n[-2], h_n[-1]], dim=1)")
            if isinstance(got, HiddenState):
                raise Unsupported(f"uses the whole hidden state of '{got.rnn.path}'; take "
                                  "its top layer, h_n[-1]")
            if isinstance(got, Outputs):
                raise Unsupported(f"uses the tuple of outputs of a {got.spec.id} as a tensor")
            if isinstance(got, LearnedValue):
                return self.learned(got, n)
            raise Unsupported("uses a size, shape or constant as a tensor")
        raise Unsupported(f"a constant {value!r} where a tensor is expected")

    def shape(self, n: fx.Node) -> tuple[int, ...]:
        return n.meta.get("shape", ())

    # modules
    def module(self, n: fx.Node) -> Any:
        m = self.gm.get_submodule(n.target)
        path = str(n.target)
        layer, params, prefix = fx_layers.read(m, f"'{path}'", self.b.notes)
        count = self.calls[path] = self.calls.get(path, 0) + 1
        if count > 1 and any(True for _ in m.parameters()):
            raise Unsupported(f"called {count} times (shared weights have no Plexus "
                              "equivalent)")
        spec = catalog.spec(layer)
        given = self.module_inputs(n, spec, fx_layers.is_plexus_class(m))
        first = given.get(spec.inputs[0].name) if spec.inputs else None
        if isinstance(first, fx.Node):
            fx_layers.check_inferred(m, spec, self.shape(first))
        weights = {prefix + k: v for k, v in m.state_dict().items()}
        ref = self.b.add(layer, params, path, [], weights)
        self.check_weights(ref, [self.shape(v) for v in given.values()
                                 if isinstance(v, fx.Node)], weights)
        for port, value in given.items():
            source = self.ref(value, n)
            self.b.graph.connect(Edge(source.node, source.port, ref.node, port), check=False)
        if isinstance(m, nn.RNNBase):
            return RnnTuple(ref, m, path)
        return Outputs(ref, spec) if len(spec.outputs) > 1 else ref

    def check_weights(self, ref: Ref, shapes: list[tuple[int, ...]],
                      weights: dict[str, Tensor]) -> None:
        """The layer Plexus builds for these input shapes must take the module's weights (a
        table of positions built longer than the sequence would not)."""
        try:
            built = build_layer(self.b.graph.nodes[ref.node], shapes)
        except Exception:  # noqa: BLE001 - the graph check reports what cannot be built
            return
        mine = built.state_dict() if built is not None else {}
        for key, tensor in weights.items():
            want = mine.get(key)
            if want is not None and tuple(want.shape) != tuple(tensor.shape):
                raise Unsupported(f"its {key} is {'x'.join(map(str, tensor.shape))} but the "
                                  f"layer Plexus builds for this input has "
                                  f"{'x'.join(map(str, want.shape))}: build it for this "
                                  "input shape")

    # functions
    def function(self, n: fx.Node) -> Any:
        folded = self.fold_constants(n)
        if folded is not None:
            return folded
        t = n.target
        if t in _PASS:
            return self.ref(n.args[0], n)
        if t in ("size", "dim") or t is getattr:
            return self.size(n)
        if t is operator.getitem:
            return self.getitem(n)
        if t == "expand" and isinstance(self.values.get(n.args[0]), LearnedValue):
            return self.expand_learned(n)
        if t == "squeeze" and isinstance(self.values.get(n.args[0]), HiddenState):
            return self.values[n.args[0]].squeezed(_arg(n, 1, "dim"))
        if t in (torch.cat, torch.concat) and _final_directions(self.values, n):
            return _final_directions(self.values, n)
        spec = _declared_calls().get(_call_key(n))
        if spec is None:
            raise Unsupported("")
        return getattr(self, f"call_{spec.fx.call}")(n, spec)

    # the call readers catalog declarations name in ``FxMap.call``
    def call_arguments(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        """Parameters from the arguments after the input, in declared order (keywords by
        name); a missing one takes the function's own default, or for a builtin without a
        signature (F.softplus) the declared one, which follows torch's."""
        defaults = _defaults(n.target)
        params: dict[str, Any] = {}
        index = 1
        for param in spec.params:
            if param.torch_arg:
                raw = _arg(n, index, param.name, defaults.get(param.name, param.default)
                           if defaults else param.default)
                params[param.name] = fx_layers.value(param, raw)
                index += 1
        fixed = {key: _arg(n, index + i, key, want)
                 for i, (key, want) in enumerate(spec.fixed.items())}
        fx_layers.check_fixed(spec, fixed.get)
        return self.b.add(spec.id, params, n.name, [self.ref(n.args[0], n)])

    def call_pool(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        # the declared params follow the function's arguments (kernel, stride, padding, ...)
        names = [p.name for p in spec.params]
        arguments = {name: _arg(n, index, name) for index, name in enumerate(names, start=1)
                     if _arg(n, index, name) is not None}
        arguments.update({k: v for k, v in n.kwargs.items() if k not in names})
        if any(a not in (False, None) for a in n.args[len(names) + 1:]):
            raise Unsupported("return_indices or divisor_override")
        params = fx_layers.pool_params(spec, arguments)
        return self.b.add(spec.id, params, n.name, [self.ref(n.args[0], n)])

    def call_adaptive_pool(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        return self.b.add(spec.id, {"output_size": fx_layers.pair(_arg(n, 1, "output_size"))},
                          n.name, [self.ref(n.args[0], n)])

    def call_cat(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        tensors = _arg(n, 0, "tensors")
        dim = _arg(n, 1, "dim", 0)
        if not isinstance(tensors, (list, tuple)) or not isinstance(dim, int):
            raise Unsupported("")
        if dim == 0 or (dim < 0 and dim + len(self.shape(n)) == 0):
            raise Unsupported("joins along the batch dimension")
        refs = [self.ref(a, n) for a in tensors]
        ref = refs[0]
        extra = len(spec.inputs) - 1
        for start in range(1, len(refs), extra):
            ref = self.b.add(spec.id, {spec.merge_dim: dim}, n.name,
                             [ref, *refs[start:start + extra]])
        return ref

    def call_flatten(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        start = _arg(n, 1, "start_dim", 0)
        end = _arg(n, 2, "end_dim", -1)
        if start < 1 or end != -1:
            raise Unsupported("flattens the batch dimension" if start < 1 else
                              f"end_dim={end}")
        return self.b.add(spec.id, {"start_dim": start}, n.name, [self.ref(n.args[0], n)])

    def call_merge(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        if n.kwargs.get("alpha", 1) != 1 or n.kwargs.get("rounding_mode") is not None:
            raise Unsupported("alpha or rounding_mode")
        a, b = _arg(n, 0, "input"), _arg(n, 1, "other")
        if not isinstance(a, fx.Node) or not isinstance(b, fx.Node):
            raise Unsupported(f"{_VERBS.get(spec.merge, 'merges')} a constant")
        # sizes of 1 broadcast between equal ranks; across ranks, one side must give the
        # result's shape (x + a Learned tensor's 1 x L x D)
        if len(self.shape(a)) != len(self.shape(b)) \
                and self.shape(n) not in (self.shape(a), self.shape(b)):
            raise Unsupported(f"broadcasts {tuple(self.shape(a))} with {tuple(self.shape(b))}")
        refs = [self.ref(a, n), self.ref(b, n)]
        # a + b + c: fold the inner merge into one node when nothing else uses it
        inner = self.created.get(a)
        if inner is not None and self.b.graph.nodes[inner].type == spec.id \
                and len(a.users) == 1 and len(self.b.graph.in_edges(inner)) < len(spec.inputs):
            port = spec.inputs[len(self.b.graph.in_edges(inner))].name
            self.b.graph.connect(Edge(refs[1].node, refs[1].port, inner, port), check=False)
            self.created[n] = inner
            return refs[0]
        ref = self.b.add(spec.id, {}, n.name, refs)
        self.created[n] = ref.node
        return ref

    def getitem(self, n: fx.Node) -> Any:
        source, index = n.args
        got = self.values.get(source) if isinstance(source, fx.Node) else None
        if isinstance(got, TensorShape):
            return self.shape_item(got, index)
        if isinstance(got, Outputs):
            return got.port(index)
        if isinstance(got, HiddenState):
            return got.item(index)
        if isinstance(got, RnnTuple):
            if index == 0:
                self.sequence_of[got.ref.node] = got
                return got.ref
            if index == 1:
                return HiddenState(got, pair=isinstance(got.module, nn.LSTM))
            raise Unsupported(f"uses item {index!r} of the output of '{got.path}'")
        if isinstance(got, Ref) and got.node in self.sequence_of and _is_last_step(index) \
                and len(source.users) == 1:
            rnn = self.sequence_of[got.node]
            if not rnn.module.bidirectional:
                self.b.graph.nodes[got.node].params["output"] = "last"
                return got
        return self.call_getitem(n, _declared_calls()[operator.getitem])

    def call_reshape(self, n: fx.Node, spec: catalog.LayerSpec) -> Ref:
        source = self.ref(n.args[0], n)
        sizes = list(n.args[1:]) if n.target != torch.reshape else [_arg(n, 1, "shape")]
        if len(sizes) == 1 and isinstance(sizes[0], (list, tuple)):
            sizes = list(sizes[0])
        first = sizes[0] if sizes else None
        rest = sizes[1:]
        batch = isinstance(first, fx.Node) and isinstance(self.values.get(first), Batch)
        if not (batch or first == -1) or not all(isinstance(s, int) for s in rest) or not rest:
            raise Unsupported("a reshape that does not keep the batch dimension first")
        if first == -1 and (any(s < 0 for s in rest)
                            or self.shape(n)[:1] != self.shape(n.args[0])[:1]):
            raise Unsupported("a reshape that mixes samples of the batch")
        if list(rest) == [-1] or (len(rest) == 1 and len(self.shape(n)) == 2 and first != -1):
            return self.b.add("Flatten", {"start_dim": 1}, n.name, [source])
        return self.b.add(spec.id, {"shape": tuple(int(s) for s in rest)}, n.name, [source])

    def output(self, n: fx.Node) -> None:
        result = n.args[0]
        results = list(result) if isinstance(result, (tuple, list)) else [result]
        heads = getattr(self.model, "output_tasks", None)
        names = list(heads) if isinstance(heads, dict) and len(heads) == len(results) else []
        for index, value in enumerate(results):
            try:
                ref = self.ref(value, n)
            except Unsupported as exc:
                self.b.refuse(f"output {index + 1} ({exc or 'not a tensor'})")
                continue
            params: dict[str, Any] = {"task": "classification"}
            name = names[index] if names else ("output" if len(results) == 1 else
                                               f"output_{index + 1}")
            if names:
                head = heads[name]  # type: ignore[index]
                params = dict(head) if isinstance(head, dict) else {"task": head}
            self.b.add("Output", params, name, [ref])


def _final_directions(values: dict[fx.Node, Any], n: fx.Node) -> Ref | None:
    """``torch.cat([h_n[-2], h_n[-1]], dim=1)``: a bidirectional layer's h_n port."""
    tensors, dim = _arg(n, 0, "tensors"), _arg(n, 1, "dim", 0)
    if not isinstance(tensors, (list, tuple)) or len(tensors) != 2 or dim not in (1, -1):
        return None
    got = [values.get(t) for t in tensors]
    if all(isinstance(g, Direction) for g in got) and got[0].rnn is got[1].rnn \
            and (got[0].backward, got[1].backward) == (False, True):
        return Ref(got[0].rnn.ref.node, "h_n")
    return None


def _defaults(function: Any) -> dict[str, Any]:
    """The keyword defaults of a Python function (none for builtins and methods)."""
    try:
        return {k: p.default for k, p in inspect.signature(function).parameters.items()
                if p.default is not inspect.Parameter.empty}
    except (TypeError, ValueError):
        return {}


def _is_last_step(index: Any) -> bool:
    """``out[:, -1]`` or ``out[:, -1, :]``."""
    if not isinstance(index, tuple) or len(index) not in (2, 3):
        return False
    full = slice(None, None, None)
    return index[0] == full and index[1] == -1 and (len(index) == 2 or index[2] == full)


def _group_by_modules(gm: fx.GraphModule, values: dict[fx.Node, Any], graph: Graph) -> None:
    """Nested groups from the module hierarchy: each layer sits in the modules around it
    ("layer1.0.conv1" in "layer1" and "layer1.0"; an addition in a block's forward in that
    block). A layer belongs to the first fx node that produced it."""
    scopes: dict[int, list[str]] = {}
    for n in gm.graph.nodes:
        ref = values.get(n)
        if not isinstance(ref, Ref) or ref.node in scopes:
            continue
        if n.op == "call_module":
            scopes[ref.node] = dotted_scopes(str(n.target))
        else:
            stack = list((n.meta.get("nn_module_stack") or {}).values())
            path = str(stack[-1][0]) if stack else ""
            scopes[ref.node] = [*dotted_scopes(path), path] if path else []
    group_by_scopes(graph, scopes)
