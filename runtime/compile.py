"""Turn a valid graph into a ``torch.fx.GraphModule`` that reads like hand-written PyTorch.

Every layer node becomes a real ``nn.Module`` attribute named after the node (``self.conv1``),
merges become ``torch.add`` / ``torch.mul`` / ``torch.cat`` calls, and ``forward`` takes one
argument per Input node. The result is an ordinary module: it trains, saves, goes through
``torch.compile`` and ONNX export, and its ``code`` is what the code panel shows.

Weights are keyed by node id ("<node_id>.<param path>"), not by name, so renaming a node keeps
its trained weights.
"""

from __future__ import annotations

import builtins
import contextlib
import keyword
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import safetensors.torch
import torch
from torch import Tensor, fx, nn

from graph.catalog import HEAD, INPUT, MERGE
from graph.model import Graph, Node
from runtime import ops
from runtime.shapes import Shape, analyze

CLASS_NAME = "PlexusModel"


def build_layer(node: Node, input_shapes: Sequence[Shape]) -> nn.Module | None:
    """The module for ``node`` given its input shapes (batch first), on the default device.

    Built from the catalog declaration by ``runtime.ops.build_module``: its torch or ops class
    with the node's torch_arg params, constructor arguments read from the first input's shape
    and the fixed ones. None for Input, Output and merges, which compile to placeholders and
    function calls.
    """
    spec = node.spec
    if spec is None:
        raise ValueError(f"{node.label}: unknown layer type '{node.type}'")
    return ops.build_module(spec, node.all_params(), list(input_shapes))


@dataclass
class Compiled:
    """A compiled graph: the module and how its parts map back to nodes."""

    module: fx.GraphModule
    graph: Graph  # a snapshot of the graph at compile time (Output params name the tasks)
    input_nodes: list[int] = field(default_factory=list)  # forward's arguments, by node id
    output_nodes: list[int] = field(default_factory=list)  # forward's results, by node id
    module_names: dict[int, str] = field(default_factory=dict)  # node id -> attribute name


LayerBuilder = Callable[[Node, Sequence[Shape]], "nn.Module | None"]


def compile_graph(graph: Graph, meta: bool = False,
                  build: LayerBuilder = build_layer) -> Compiled:
    """Compile ``graph``; ValueError with the first error diagnostic's message if invalid.

    ``meta`` builds the layers on torch's meta device: the same structure and code, but no
    weights are allocated or initialised (the Code panel only reads the source). ``build``
    makes each layer's module (the Code panel reuses the unchanged ones of its last compile).

    Nodes that do not lead to any Output (validation warns about them) are left out.
    ``forward(*inputs)`` takes the Input nodes in id order and returns one tensor for one
    Output node, else a tuple ordered by Output node id.
    """
    analysis = analyze(graph)
    for diag in analysis.diagnostics:
        if diag.severity == "error":
            raise ValueError(diag.message)
    snapshot = graph.copy()
    shapes = analysis.shapes
    nodes = snapshot.nodes
    roles = {node_id: node.spec.role if node.spec else "" for node_id, node in nodes.items()}
    outputs = sorted(i for i in nodes if roles[i] == HEAD)
    used = snapshot.leading_to(outputs) - shapes.not_inferred
    if not outputs:
        raise ValueError("the network has no Output node; add one and connect the last layer "
                         "to it")

    taken: set[str] = set()
    names = {node_id: _python_name(nodes[node_id].name, taken)
             for node_id in sorted(used) if roles[node_id] != HEAD}
    into = {(e.dst, e.dst_port): e for e in snapshot.edges}
    wired = {(e.src, e.src_port) for e in snapshot.edges if e.dst in used}

    fx_graph = fx.Graph()
    fx_graph.on_generate_code(lambda _previous: _without_deletions)
    root = nn.Module()
    values: dict[tuple[int, str], fx.Node] = {}
    inputs = sorted(i for i in used if roles[i] == INPUT)
    for node_id in inputs:
        values[(node_id, "out")] = fx_graph.create_node("placeholder", names[node_id],
                                                        name=names[node_id])
    module_names: dict[int, str] = {}
    for node_id in snapshot.topological_order():
        node = nodes[node_id]
        if node_id not in used or roles[node_id] in (INPUT, HEAD):
            continue
        spec = node.spec
        assert spec is not None  # analysis found no errors
        given = {p.name: values[(e.src, e.src_port)] for p, e in
                 ((p, into.get((node_id, p.name))) for p in spec.inputs) if e is not None}
        name = names[node_id]
        if roles[node_id] == MERGE:
            value = _merge(fx_graph, node, name, list(given.values()), taken)
        else:
            with torch.device("meta") if meta else contextlib.nullcontext():
                module = build(node, shapes.inputs[node_id])
            assert module is not None
            root.add_module(name, module)
            module_names[node_id] = name
            args, kwargs = ops.port_arguments(spec, given)
            several = len(spec.outputs) > 1  # its first output keeps the node's name
            value = fx_graph.create_node(
                "call_module", name, tuple(args), kwargs,
                name=_python_name(f"{name}_outputs", taken) if several else name)
        if len(spec.outputs) == 1:
            values[(node_id, spec.outputs[0].name)] = value
        else:
            values.update(_unpack(fx_graph, node, name, value, wired, taken))

    results = [values[(e.src, e.src_port)] for e in (into[(i, "in")] for i in outputs)]
    fx_graph.output(results[0] if len(results) == 1 else tuple(results))
    module = fx.GraphModule(root, fx_graph, class_name=CLASS_NAME)
    return Compiled(module, snapshot, inputs, outputs, module_names)


def _merge(fx_graph: fx.Graph, node: Node, name: str, args: list[fx.Node],
           taken: set[str]) -> fx.Node:
    """``torch.cat([a, b], dim=1)``, or a chain of ``torch.add``/``torch.mul`` calls whose
    intermediate results are called ``<name>_partial`` so three inputs still read well."""
    spec = node.spec
    assert spec is not None
    function = ops.merge_function(spec)
    if spec.merge_dim:
        return fx_graph.create_node("call_function", function, (list(args),),
                                    {"dim": int(node.param(spec.merge_dim))}, name=name)
    value = args[0]
    for index, other in enumerate(args[1:], start=2):
        last = index == len(args)
        step = name if last else _python_name(f"{name}_partial", taken)
        value = fx_graph.create_node("call_function", function, (value, other), name=step)
    return value


def _unpack(fx_graph: fx.Graph, node: Node, name: str, value: fx.Node,
            wired: set[tuple[int, str]], taken: set[str]) -> dict[tuple[int, str], fx.Node]:
    """The values of a node with several output ports: ``value[i]`` of its tuple result for
    the first port (the node's own value, as probes show it, named after the node) and every
    wired one ("<node>_<port>"), so the code reads ``lstm, lstm_h_n = self.lstm(x)``."""
    spec = node.spec
    assert spec is not None
    found = {}
    for index, port in enumerate(spec.outputs):
        if index == 0 or (node.id, port.name) in wired:
            found[(node.id, port.name)] = fx_graph.create_node(
                "call_function", operator.getitem, (value, index),
                name=name if index == 0 else _python_name(f"{name}_{port.name}", taken))
    return found


# Names a node's attribute or variable must not take: Python keywords and builtins, names
# that generated code uses, and every attribute a GraphModule already has.
_RESERVED = frozenset({"self", "torch", "inf", "nan", "device", "NoneType", "fx_pytree",
                       "pytree", "math", "operator", "wrap"}
                      | set(dir(builtins)) | set(dir(fx.GraphModule)))


def _python_name(name: str, taken: set[str]) -> str:
    """A valid, unique identifier close to the node's name ("conv 1" -> "conv_1")."""
    text = re.sub(r"[^0-9a-zA-Z_]+", "_", str(name)).strip("_") or "layer"
    if text[0].isdigit():
        text = "layer_" + text
    if keyword.iskeyword(text) or text in _RESERVED:
        text += "_"
    candidate, index = text, 2
    while candidate in taken:
        candidate = f"{text}_{index}"
        index += 1
    taken.add(candidate)
    return candidate


def _without_deletions(body: list[str]) -> list[str]:
    """Drop fx's ``;  x = None`` memory hints so ``forward`` reads like hand-written code."""
    return ["\n" if part.startswith(";") and part.rstrip().endswith("= None") else part
            for part in body]


# -- weights ---------------------------------------------------------------------------------
def node_state(compiled: Compiled) -> dict[str, Tensor]:
    """Every parameter and buffer keyed "<node_id>.<path in that node's module>".

    Like ``state_dict`` the tensors are detached views of the module's own; clone them to keep
    a snapshot.
    """
    state: dict[str, Tensor] = {}
    for node_id, name in sorted(compiled.module_names.items()):
        for key, tensor in compiled.module.get_submodule(name).state_dict().items():
            state[f"{node_id}.{key}"] = tensor
    return state


def load_node_state(compiled: Compiled, tensors: Mapping[str, Tensor]) -> list[str]:
    """Copy node-keyed tensors into the module; returns the keys that were not loaded, sorted.

    A key is skipped when its shape no longer matches (the layer was resized), or when its
    node or parameter no longer exists (deleted or retyped): the rest still loads, so editing
    one layer keeps the training of all the others.
    """
    targets = node_state(compiled)
    skipped: list[str] = []
    with torch.no_grad():
        for key, value in tensors.items():
            target = targets.get(key)
            if target is None or tuple(target.shape) != tuple(value.shape):
                skipped.append(key)
                continue
            target.copy_(value)
    return sorted(skipped)


def weights_to_bytes(tensors: Mapping[str, Tensor]) -> bytes:
    """A safetensors file's bytes (no pickle: loading weights never runs code)."""
    return safetensors.torch.save({k: v.detach().to("cpu").contiguous().clone()
                                   for k, v in tensors.items()})


def weights_from_bytes(data: bytes) -> dict[str, Tensor]:
    """Tensors from a safetensors file's bytes; ValueError when they are not one."""
    try:
        return safetensors.torch.load(bytes(data))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise ValueError(f"the weights are not a valid safetensors file ({exc})") from None
