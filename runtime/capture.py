"""What graph nodes compute: the fx node behind each graph node, one forward pass that keeps
the outputs asked for, and one sweep over the evaluation set (class probabilities, plus
those outputs for its first samples).

The probes, the autoencoder's latent space and the sequence views all show what a layer
computed; they read it here, so every one of them finds a node's value the same way.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, fx, nn

from graph.catalog import MERGE
from runtime import ops
from runtime.compile import Compiled
from runtime.evaluation import (
    class_probabilities,
    dataset_tensors,
    evaluating,
    evaluation_set,
    model_device,
    row_count,
    take_rows,
)
from runtime.heads import Head, make_heads

EVAL_BATCH = 1024  # samples per forward pass when a probe sweeps a data set


def _input_shape(compiled: Compiled, index: int = 0) -> tuple[int, ...] | None:
    if index >= len(compiled.input_nodes):
        return None
    shape = compiled.graph.nodes[compiled.input_nodes[index]].param("shape")
    return tuple(int(s) for s in shape) if shape is not None else None


def as_batch(compiled: Compiled, x: Any, device: torch.device) -> tuple[Tensor, ...]:
    """Forward's positional arguments from one sample or a batch (tensor, array, tuple of
    them for several Inputs, or a dict keyed by Input name). A sample without its batch
    dimension gets one."""
    if isinstance(x, Mapping):
        names = [compiled.graph.nodes[i].name for i in compiled.input_nodes]
        x = tuple(x[n] for n in names)
    parts = list(x) if isinstance(x, (tuple, list)) else [x]
    out = []
    for index, part in enumerate(parts):
        t = torch.as_tensor(np.asarray(part) if not isinstance(part, Tensor) else part)
        if t.is_floating_point():
            t = t.to(torch.float32)
        shape = _input_shape(compiled, index)
        if shape is not None and t.dim() == len(shape):
            t = t.unsqueeze(0)
        out.append(t.to(device))
    return tuple(out)


def output_list(result: Any) -> list[Tensor]:
    """A module's result as a list: one tensor per Output node."""
    return list(result) if isinstance(result, (tuple, list)) else [result]


def first_classifier(compiled: Compiled, outputs: list[Tensor]) -> tuple[int, Head, Tensor] | None:
    """(index, head, output) of the first classification head, or None."""
    for index, (head, out) in enumerate(zip(make_heads(compiled), outputs, strict=False)):
        if head.task == "classification":
            return index, head, out
    return None


# -- node outputs ----------------------------------------------------------------------------------
_VALUE_NODES: weakref.WeakKeyDictionary[nn.Module, tuple[fx.Graph, dict[int, fx.Node]]] = \
    weakref.WeakKeyDictionary()


def value_nodes(compiled: Compiled) -> dict[int, fx.Node]:
    """The fx node that computes each graph node's output (Inputs, layers and merges).

    Layers are found by their submodule name and Inputs by position; merges are matched by
    what they compute from their inputs (``torch.cat([a, b])``, ``torch.add(torch.add(a, b),
    c)``), so this does not depend on how the compiler spells variable names. Kept per module
    (a topological sort per probe cost more than the probe).
    """
    cached = _VALUE_NODES.get(compiled.module)
    if cached is not None and cached[0] is compiled.module.graph:
        return cached[1]
    found = _find_value_nodes(compiled)
    _VALUE_NODES[compiled.module] = (compiled.module.graph, found)
    return found


def _find_value_nodes(compiled: Compiled) -> dict[int, fx.Node]:
    fx_nodes = list(compiled.module.graph.nodes)
    found: dict[int, fx.Node] = dict(zip(compiled.input_nodes,
                                         (n for n in fx_nodes if n.op == "placeholder"),
                                         strict=False))
    by_target = {n.target: n for n in fx_nodes if n.op == "call_module"}
    for node_id, name in compiled.module_names.items():
        if name in by_target:
            found[node_id] = _first_output(by_target[name])
    graph = compiled.graph
    into = {(e.dst, e.dst_port): e for e in graph.edges}
    for node_id in graph.topological_order():
        node = graph.nodes[node_id]
        spec = node.spec
        if spec is None or spec.role != MERGE:
            continue
        function = ops.merge_function(spec)
        edges = [into.get((node_id, p.name)) for p in spec.inputs]
        args = [found.get(e.src) for e in edges if e is not None]
        if not args or any(a is None for a in args):
            continue
        value: fx.Node | None
        if spec.merge_dim:
            value = next((n for n in args[0].users if n.op == "call_function"
                          and n.target is function and list(n.args[0]) == args), None)
        else:
            value = args[0]
            for other in args[1:]:
                value = next((n for n in value.users if n.op == "call_function"
                              and n.target is function and n.args[:2] == (value, other)), None)
                if value is None:
                    break
        if value is not None:
            found[node_id] = value
    for node_id in compiled.output_nodes:  # an Output shows what flows into it
        edge = into.get((node_id, "in"))
        if edge is not None and edge.src in found:
            found[node_id] = found[edge.src]
    return found


def _first_output(call: fx.Node) -> fx.Node:
    """A layer with several output ports returns a tuple, which the compiler unpacks with
    ``getitem``: the node shows its first port's value."""
    return next((n for n in call.users if n.op == "call_function"
                 and n.target is operator.getitem and n.args[1] == 0), call)


class _Capture(fx.Interpreter):
    """Runs the module node by node and keeps the outputs of the fx nodes asked for."""

    def __init__(self, module: fx.GraphModule, wanted: set[fx.Node]) -> None:
        super().__init__(module, garbage_collect_values=True)
        self.wanted = wanted
        self.values: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        if n in self.wanted:
            self.values[n] = result
        return result


def node_outputs(compiled: Compiled, args: tuple[Tensor, ...], node_ids: Sequence[int]
                 ) -> tuple[dict[int, Tensor], Any]:
    """(output tensor of each asked node, the module's result) from one forward pass."""
    nodes = value_nodes(compiled)
    wanted = {i: nodes[i] for i in node_ids if i in nodes}
    capture = _Capture(compiled.module, set(wanted.values()))
    result = capture.run(*args)
    return {i: capture.values[n] for i, n in wanted.items() if n in capture.values}, result


# -- one pass over the evaluation set --------------------------------------------------------------
@dataclass
class Sweep:
    """One forward pass over (the first samples of) the evaluation set, shared by the probes
    that need the whole set: the confusion matrix and the hidden representation."""

    x: Any  # the inputs swept (the schedule keeps them on the module's device)
    y: Any  # their targets
    probabilities: Tensor | None  # (N, C) of the first classification head, on the CPU
    captured: dict[int, Tensor] = field(default_factory=dict)  # node outputs, first rows only


def sweep(compiled: Compiled, data: Any, node_ids: Sequence[int] = (), capture: int = 500,
          max_samples: int | None = None, tensors: tuple[Any, Any] | None = None) -> Sweep:
    """Class probabilities for the evaluation set (validation, else training) and the outputs
    of ``node_ids`` for its first ``capture`` samples, in one pass, in eval mode.
    ``tensors`` are the set's (x, y) when the caller already holds them."""
    x, y = tensors if tensors is not None else dataset_tensors(evaluation_set(data), max_samples)
    module = compiled.module
    n = row_count(x)
    parts: dict[int, list[Tensor]] = {i: [] for i in node_ids}
    probs: list[Tensor] = []
    classifier = True
    with evaluating(module):
        device = model_device(module)
        for start in range(0, n, EVAL_BATCH):
            args = as_batch(compiled, take_rows(x, slice(start, start + EVAL_BATCH)), device)
            keep = max(0, min(capture - start, EVAL_BATCH))
            if keep and node_ids:
                values, result = node_outputs(compiled, args, node_ids)
                for i, v in values.items():
                    if isinstance(v, Tensor):
                        parts[i].append(v[:keep].detach().float().cpu())
            else:
                result = module(*args)
            found = first_classifier(compiled, output_list(result)) if classifier else None
            if found is None:
                classifier = False
            else:
                probs.append(class_probabilities(found[1], found[2]).cpu())
    return Sweep(x, y, torch.cat(probs) if classifier and probs else None,
                 {i: torch.cat(p) for i, p in parts.items() if p})

