"""Every catalog entry, with its default params, builds, infers the shape a real forward pass
gives, and round-trips through the graph's dict form. New entries are covered automatically."""

from __future__ import annotations

import pytest
import torch

from graph import catalog
from graph.model import Edge, Graph
from runtime.compile import compile_graph
from runtime.shapes import BATCH, analyze

SEQUENCE = (6, 8)  # L x F: 4 heads divide 8 features


def sample_input(spec: catalog.LayerSpec) -> tuple[tuple[int, ...], str]:
    """An Input shape (without the batch) and dtype that suits the layer's defaults."""
    if spec.dtype == catalog.TOKENS:
        return (6,), "long"
    if spec.category in ("recurrent",) or spec.id == "LayerNorm":
        return SEQUENCE, "float"
    if spec.ranks:
        rank = min(spec.ranks, key=lambda r: abs(r - 3))
        return {2: (5,), 3: (4, 16), 4: (3, 8, 8), 5: (2, 4, 4, 4)}[rank], "float"
    if spec.category == "reshape":
        return (4, 4, 4), "float"
    return (5,), "float"


def single_layer_graph(spec: catalog.LayerSpec) -> tuple[Graph, list[int], int]:
    """Input(s) -> the layer with default params -> Output; returns (graph, inputs, layer)."""
    graph = Graph()
    if spec.id == "Input":
        layer = graph.add_node("Input", name="x")
        out = graph.add_node("Output", name="out")
        graph.connect(Edge(layer.id, "out", out.id, "in"))
        return graph, [layer.id], layer.id
    if spec.id == "Output":
        x = graph.add_node("Input", {"shape": (5,)}, name="x")
        layer = graph.add_node("Output", name="out")
        graph.connect(Edge(x.id, "out", layer.id, "in"))
        return graph, [x.id], layer.id
    shape, dtype = sample_input(spec)
    layer = graph.add_node(spec.id, name="layer")
    # Every required input port gets an Input; a source (none required) gets its optional
    # ones, so the network still has an input. Every required output gets its own Output.
    required = [p for p in spec.inputs if not p.optional] or list(spec.inputs)
    inputs = []
    for index, port in enumerate(required, start=1):
        x = graph.add_node("Input", {"shape": shape, "dtype": dtype}, name=f"x{index}")
        graph.connect(Edge(x.id, "out", layer.id, port.name))
        inputs.append(x.id)
    # Every output port the layer gives with its default params gets its own Output (only
    # its first when it has one), so a layer's optional outputs (an LSTM's h_n) go through
    # every round trip too.
    given = analyze(graph).shapes.outputs.get(layer.id, {})
    ports = [p.name for p in spec.outputs if p.name in given or not p.optional]
    for port in ports:
        out = graph.add_node("Output", name="out" if len(ports) == 1 else f"out_{port}")
        graph.connect(Edge(layer.id, port, out.id, "in"))
    return graph, inputs, layer.id


def real_input(shape: tuple[int, ...], dtype: str) -> torch.Tensor:
    if dtype == "long":
        return torch.randint(0, 10, (BATCH, *shape))
    return torch.randn(BATCH, *shape)


@pytest.mark.parametrize("spec", catalog.LAYERS, ids=lambda s: s.id)
def test_default_layer_builds_and_meta_shape_matches_cpu(spec: catalog.LayerSpec) -> None:
    torch.manual_seed(0)
    graph, inputs, layer_id = single_layer_graph(spec)
    analysis = analyze(graph)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    assert not analysis.shapes.not_inferred
    outputs = sorted(n.id for n in graph.nodes.values() if n.type == "Output")
    meta_shapes = [analysis.shapes.edges[graph.in_edges(i)[0]] for i in outputs]

    compiled = compile_graph(graph)
    assert compiled.input_nodes == inputs
    args = [real_input(graph.nodes[i].param("shape"), graph.nodes[i].param("dtype"))
            for i in inputs]
    with torch.no_grad():
        result = compiled.module(*args)
    results = result if isinstance(result, tuple) else (result,)
    assert [tuple(r.shape) for r in results] == meta_shapes

    counted = analysis.shapes.params.get(layer_id, 0)
    name = compiled.module_names.get(layer_id)
    real = sum(p.numel() for p in compiled.module.get_submodule(name).parameters()) if name else 0
    assert counted == real


@pytest.mark.parametrize("spec", catalog.LAYERS, ids=lambda s: s.id)
def test_default_layer_graph_round_trips_through_dict(spec: catalog.LayerSpec) -> None:
    graph, _, _ = single_layer_graph(spec)
    data = graph.to_dict()
    again = Graph.from_dict(data)
    assert again.to_dict() == data
    for node_id, node in graph.nodes.items():
        assert again.nodes[node_id].params == node.params
        assert again.nodes[node_id].name == node.name
    assert sorted(again.edges) == sorted(graph.edges)
    assert analyze(again).shapes.edges == analyze(graph).shapes.edges
