"""What both import front-ends build with: a ``GraphBuilder`` and its refusal, ``ModelImportError``.

The torch.fx walker (``runtime/import_fx.py``) and the ONNX walker (``runtime/import_onnx.py``,
its readers in ``runtime/onnx_layers.py``) feed a ``GraphBuilder``: one catalog node per layer
or supported function, its parameters read from the model, its weights keyed by node as project
files keep them. The builder then lays the graph out, checks it the way the editor would
(validation and shape inference), compiles it and loads the weights, so an imported project
opens ready to train. Whatever has no catalog equivalent is collected, and the import is
refused with one line that lists every such module path, function or operator, so the user
sees the whole gap at once.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from graph.layout import auto_layout
from graph.model import Edge, Graph
from graph.project import Project

MAX_LISTED = 12  # unsupported items named in a refusal's message (all are in .unsupported)
# Names a node keeps without the trailing "_" that code adds to dodge Python's reserved words.
_RESERVED = frozenset(keyword.kwlist) | {"input", "self", "torch", "type", "id", "filter",
                                          "map", "list", "dict", "set", "min", "max", "sum"}


class ModelImportError(ValueError):
    """A model that cannot become a Plexus graph; ``unsupported`` lists what has no catalog
    equivalent (each item names the module path, function or operator)."""

    def __init__(self, message: str, unsupported: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.unsupported = list(unsupported)


@dataclass(frozen=True)
class Ref:
    """A tensor in the graph being built: the output port of a node."""

    node: int
    port: str = "out"


@dataclass
class GraphBuilder:
    """Collects nodes, edges, weights and refusals while a front-end walks a model."""

    source: str  # the model, as messages name it
    graph: Graph = field(default_factory=Graph)
    weights: dict[str, Tensor] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def name(self, raw: str) -> str:
        """A unique node name close to ``raw`` ("layer1.0.conv1" -> "layer1_0_conv1")."""
        text = re.sub(r"[^0-9A-Za-z_]+", "_", str(raw)).strip("_") or "node"
        if text.endswith("_") and text.rstrip("_") in _RESERVED:
            text = text.rstrip("_")
        taken = {n.name for n in self.graph.nodes.values()}
        candidate, index = text, 2
        while candidate in taken:
            candidate = f"{text}_{index}"
            index += 1
        return candidate

    def add(self, layer_id: str, params: dict[str, Any], name: str,
            inputs: Sequence[Ref] = (), weights: dict[str, Tensor] | None = None) -> Ref:
        """Add a node fed by ``inputs`` (in port order); returns its output."""
        node = self.graph.add_node(layer_id, params, name=self.name(name))
        spec = node.spec
        assert spec is not None, layer_id
        for port, ref in zip(spec.inputs, inputs, strict=False):
            self.graph.connect(Edge(ref.node, ref.port, node.id, port.name), check=False)
        if len(inputs) > len(spec.inputs):
            raise ValueError(f"{layer_id} takes at most {len(spec.inputs)} inputs")
        for key, value in (weights or {}).items():
            self.weights[f"{node.id}.{key}"] = value.detach().cpu().clone()
        return Ref(node.id, spec.outputs[0].name if spec.outputs else "out")

    def refuse(self, what: str) -> None:
        if what not in self.unsupported:
            self.unsupported.append(what)

    def check_supported(self) -> None:
        if self.unsupported:
            shown = self.unsupported[:MAX_LISTED]
            more = len(self.unsupported) - len(shown)
            items = "; ".join(shown) + (f"; and {more} more" if more else "")
            raise ModelImportError(f"cannot import {self.source}: no Plexus layer for {items}",
                                   self.unsupported)

    def finish(self, name: str, description: str = "",
               reference: Callable[[list[Tensor]], list[Tensor]] | None = None,
               example: list[Tensor] | None = None, tolerance: float = 1e-4) -> Project:
        """Lay out, check, compile and load the weights; with ``reference`` (the original
        model as a function of the example inputs) also check the outputs agree."""
        from runtime.compile import compile_graph, load_node_state, weights_to_bytes
        from runtime.shapes import analyze

        self.check_supported()
        graph = self.graph
        for node_id, pos in auto_layout(graph).items():
            graph.nodes[node_id].pos = pos
        analysis = analyze(graph)
        errors = [d for d in analysis.diagnostics if d.severity == "error"]
        if errors:
            raise ModelImportError(f"cannot import {self.source}: the imported graph is not "
                                   f"valid: {errors[0].message}")
        compiled = compile_graph(graph)
        skipped = load_node_state(compiled, self.weights)
        if skipped:
            raise ModelImportError(f"cannot import {self.source}: weights {', '.join(skipped)} "
                                   "do not fit the imported layers")
        if reference is not None and example is not None:
            compiled.module.eval()
            with torch.no_grad():
                mine = compiled.module(*example)
                mine = list(mine) if isinstance(mine, tuple) else [mine]
                theirs = reference(example)
            for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
                if a.shape != b.shape:
                    raise ModelImportError(
                        f"cannot import {self.source}: output {index + 1} has shape "
                        f"{tuple(b.shape)} but the imported graph gives {tuple(a.shape)}")
                diff = float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
                scale = max(1.0, float(b.double().abs().max())) if b.numel() else 1.0
                if not diff <= tolerance * scale:
                    raise ModelImportError(
                        f"cannot import {self.source}: the imported graph computes different "
                        f"outputs (output {index + 1} differs by {diff:.3g}); a layer behaves "
                        "differently from its Plexus equivalent")
        metadata: dict[str, Any] = {"imported_from": self.source}
        if self.notes:
            metadata["import_notes"] = list(self.notes)
        return Project(graph=graph, name=name, description=description,
                       weights=weights_to_bytes(self.weights) if self.weights else None,
                       metadata=metadata)
