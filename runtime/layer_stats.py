"""A per-layer analysis of a network, as MATLAB's Analyze Network and Sony NNC show it: each
layer's output shape, trainable parameters, multiply-adds and activation memory, with totals,
and the errors of the layers that cannot run in their own rows.

Nothing here knows a layer type. Shapes, parameter counts and errors come from the shape pass
(``runtime.shapes.analyze``); multiply-adds from running the compiled network once on the meta
device under torch's ``FlopCounterMode``, layer by layer (a torch.fx interpreter), so every
layer torch can count (convolutions, linear maps, recurrent cells, attention) is counted the
same way whatever the catalog declares. Element-wise layers count zero multiply-adds, as in
the tools above.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx
from torch.utils.flop_counter import FlopCounterMode

from graph.catalog import HEAD
from graph.model import Graph
from runtime.memory import FLOAT_BYTES
from runtime.shapes import BATCH, DTYPES, Shape, analyze

FLOPS_PER_MAC = 2  # torch counts a multiply-add as two floating-point operations


@dataclass(frozen=True)
class LayerRow:
    """One node of the graph. ``outputs``: its output shapes per sample (batch left out);
    ``macs``: multiply-adds per sample (None when the network could not be run);
    ``activation_bytes``: its outputs for one batch; ``error``: why it cannot run."""

    node_id: int
    name: str
    type: str
    outputs: tuple[Shape, ...]
    params: int
    macs: int | None
    activation_bytes: int
    error: str = ""
    inferred: bool = True  # False: an error before it (or in it) left it unmeasured


@dataclass(frozen=True)
class LayerTable:
    """Every layer in the order the network runs them, and the batch the memory is for."""

    rows: tuple[LayerRow, ...]
    batch: int

    @property
    def total_params(self) -> int:
        return sum(row.params for row in self.rows)

    @property
    def total_macs(self) -> int | None:
        """Multiply-adds per sample, None when they are unknown (the network has errors)."""
        if any(row.macs is None for row in self.rows if not row.error):
            return None
        return sum(row.macs or 0 for row in self.rows)

    @property
    def total_activation_bytes(self) -> int:
        return sum(row.activation_bytes for row in self.rows)

    @property
    def unmeasured(self) -> int:
        """Layers left out of the totals (behind an error)."""
        return sum(1 for row in self.rows if not row.inferred)

    @property
    def errors(self) -> int:
        return sum(1 for row in self.rows if row.error)


def layer_table(graph: Graph, batch: int = 1) -> LayerTable:
    """The analysis of ``graph`` for batches of ``batch`` samples (activation memory)."""
    analysis = analyze(graph)
    shapes = analysis.shapes
    errors: dict[int, str] = {}
    for diag in analysis.diagnostics:
        if diag.severity == "error" and diag.node_id is not None:
            errors.setdefault(diag.node_id, diag.message)
    macs = layer_macs(graph) if analysis.ok else {}
    rows = []
    for node_id in graph.topological_order():
        node = graph.nodes[node_id]
        outputs = tuple(tuple(shape[1:]) for shape in shapes.outputs.get(node_id, {}).values())
        head = node.spec is not None and node.spec.role == HEAD
        count = None if node_id in shapes.not_inferred else macs.get(node_id, 0 if macs else None)
        rows.append(LayerRow(
            node_id, node.name, node.type, outputs, shapes.params.get(node_id, 0),
            0 if head else count,
            sum(_numel(shape) for shape in outputs) * max(1, batch) * FLOAT_BYTES,
            errors.get(node_id, ""), node_id not in shapes.not_inferred))
    return LayerTable(tuple(rows), max(1, batch))


def layer_macs(graph: Graph) -> dict[int, int]:
    """Multiply-adds per sample of every layer of the compiled ``graph`` (node id -> count);
    empty when it does not compile."""
    from runtime.compile import compile_graph

    try:
        compiled = compile_graph(graph, meta=True)
    except ValueError:
        return {}
    module = compiled.module.eval()
    inputs = []
    for node_id in compiled.input_nodes:
        node = compiled.graph.nodes[node_id]
        sample = tuple(int(d) for d in node.param("shape"))
        dtype = DTYPES.get(node.all_params().get("dtype"), torch.float32)
        inputs.append(torch.empty((BATCH, *sample), dtype=dtype, device="meta"))
    owners = {name: node_id for node_id, name in compiled.module_names.items()}
    counter = _CountingInterpreter(module, owners)
    with torch.no_grad():
        counter.run(*inputs)
    return {node_id: flops // FLOPS_PER_MAC // BATCH for node_id, flops in counter.flops.items()}


class _CountingInterpreter(fx.Interpreter):
    """Runs the network one fx node at a time, counting each layer's floating-point
    operations apart (``owners``: attribute name -> graph node id)."""

    def __init__(self, module: fx.GraphModule, owners: Mapping[str, int]) -> None:
        super().__init__(module)
        self.owners = owners
        self.flops: dict[int, int] = {}

    def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
        counter = FlopCounterMode(display=False)
        with counter:
            value = super().call_module(target, args, kwargs)
        node_id = self.owners.get(str(target))
        if node_id is not None:
            self.flops[node_id] = self.flops.get(node_id, 0) + counter.get_total_flops()
        return value


def _numel(shape: Shape) -> int:
    count = 1
    for size in shape:
        count *= int(size)
    return count


__all__ = ["LayerRow", "LayerTable", "layer_macs", "layer_table"]
