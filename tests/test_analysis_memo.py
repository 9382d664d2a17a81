"""The editor's incremental analysis (issue 16): a memo keyed on node revisions must give
exactly what a fresh analysis gives, and after a one-node edit redo only that node's work."""

from __future__ import annotations

import random

import pytest

from graph import validate as validate_module
from graph.model import Edge, Graph
from resources.examples.make import chain
from runtime import shapes
from runtime.shapes import AnalysisMemo, analyze


def _network() -> tuple[Graph, list[int]]:
    """Input -> Conv2d -> ReLU -> Flatten -> Linear -> Linear -> Output; returns the ids."""
    graph = Graph()
    ids = [graph.add_node("Input", {"shape": (3, 8, 8)}).id]
    for kind, params in (("Conv2d", {"out_channels": 4, "kernel_size": [3, 3]}),
                         ("ReLU", {}), ("Flatten", {}), ("Linear", {"out_features": 16}),
                         ("Linear", {"out_features": 10}), ("Output", {})):
        node = graph.add_node(kind, params)
        graph.connect(Edge(ids[-1], "out", node.id, "in"))
        ids.append(node.id)
    return graph, ids


def _same(graph: Graph, memo: AnalysisMemo, on_snapshot: Graph | None = None) -> None:
    fresh = analyze(graph)
    kept = analyze(on_snapshot if on_snapshot is not None else graph, None, memo)
    assert kept.diagnostics == fresh.diagnostics
    assert kept.shapes == fresh.shapes


def test_random_edits_give_what_a_fresh_analysis_gives() -> None:
    rng = random.Random(7)
    graph, ids = _network()
    memo, snapshot = AnalysisMemo(), None
    _same(graph, memo)
    for step in range(120):
        action = rng.choice(("width", "kernel", "rename", "unplug", "replug", "add", "remove",
                             "lr"))
        live = [i for i in ids if i in graph.nodes]
        node_id = rng.choice(live)
        node = graph.nodes[node_id]
        if action == "width" and node.type == "Linear":
            graph.set_param(node_id, "out_features", rng.choice((0, 5, 10, 16)))
        elif action == "kernel" and node.type == "Conv2d":
            graph.set_param(node_id, "kernel_size", [rng.choice((1, 3, 9, 12))] * 2)
        elif action == "rename":
            graph.rename(node_id, rng.choice(("a", "b", f"n{step}")))
        elif action == "unplug" and graph.in_edges(node_id):
            graph.disconnect(graph.in_edges(node_id)[0])
        elif action == "replug" and node.type != "Input" and not graph.in_edges(node_id):
            source = rng.choice([i for i in live if i != node_id])
            if not graph.would_create_cycle(source, node_id):
                graph.connect(Edge(source, "out", node_id, "in"), check=False)
        elif action == "add":
            ids.append(graph.add_node(rng.choice(("ReLU", "Linear", "Tanh"))).id)
        elif action == "remove" and node.type not in ("Input", "Output"):
            graph.remove_node(node_id)
        elif action == "lr":
            graph.set_node_options(node_id, lr_mult=rng.choice((1.0, 0.5, -3.0)))
        if step % 3 == 0:  # the editor's worker path: a snapshot sharing unchanged nodes
            snapshot = graph.snapshot(snapshot)
            _same(graph, memo, snapshot)
        else:
            _same(graph, memo)


def test_one_edit_rechecks_one_node_and_reruns_only_what_it_feeds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    graph, ids = _network()
    memo = AnalysisMemo()
    analyze(graph, None, memo)
    checked: list[int] = []
    structural: list[int] = []
    frozen: list[object] = []
    node_checks = validate_module._check_types_and_params
    monkeypatch.setattr(validate_module, "_check_types_and_params",
                        lambda nodes, specs, out: (checked.extend(n.id for n in nodes),
                                                   node_checks(nodes, specs, out))[1])
    structure = validate_module._structural_checks
    monkeypatch.setattr(validate_module, "_structural_checks",
                        lambda g, specs: (structural.append(1), structure(g, specs))[1])
    freeze = shapes._freeze
    monkeypatch.setattr(shapes, "_freeze", lambda v: (frozen.append(v), freeze(v))[1])

    first_linear = ids[4]
    graph.set_param(first_linear, "out_features", 12)
    result = analyze(graph, None, memo)
    assert checked == [first_linear]
    assert structural == []  # no wire, name or type changed
    # params frozen (a cache key made) only for the edited Linear and the Linear it feeds
    assert [v for v in frozen if isinstance(v, dict)] == [
        {"out_features": 12, "bias": True}, {"out_features": 10, "bias": True}]
    assert result.shapes.outputs[first_linear]["out"] == (2, 12)
    assert result.shapes.inputs[ids[5]] == [(2, 12)]

    checked.clear()
    graph.rename(ids[2], "act")
    analyze(graph, None, memo)
    assert checked == [ids[2]]
    assert structural == [1]  # names are checked with the wiring


def test_snapshot_shares_unchanged_nodes_and_copies_edited_ones() -> None:
    graph, ids = _network()
    first = graph.snapshot()
    graph.set_param(ids[4], "out_features", 3)
    second = graph.snapshot(first)
    assert second.nodes[ids[1]] is first.nodes[ids[1]]
    assert second.nodes[ids[4]] is not first.nodes[ids[4]]
    assert second.nodes[ids[4]].params["out_features"] == 3
    assert first.nodes[ids[4]].params["out_features"] == 16
    assert second.nodes[ids[4]] is not graph.nodes[ids[4]]
    assert second.node_revision(ids[4]) == graph.node_revision(ids[4])


def test_an_edit_with_the_wiring_unchanged_visits_only_the_edited_node_and_what_follows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    graph = Graph()
    chain(graph, None, ("Input", {"shape": (8,)}), *[("Linear", {"out_features": 8})] * 30,
          ("Output", {}))
    *layers, head = sorted(graph.nodes)
    memo = AnalysisMemo()
    analyze(graph, None, memo)
    visited: list[int] = []
    infer_node = shapes._infer_node
    monkeypatch.setattr(shapes, "_infer_node",
                        lambda node, *rest: (visited.append(node.id), infer_node(node, *rest))[1])

    graph.set_param(layers[-3], "out_features", 5)
    result = analyze(graph, None, memo)
    assert visited == [layers[-3], layers[-2], layers[-1], head]
    assert result.shapes.outputs[layers[-3]]["out"] == (2, 5)
    assert result.shapes.inputs[layers[-2]] == [(2, 5)]
    assert result.shapes.edges[Edge(layers[-3], "out", layers[-2], "in")] == (2, 5)
    assert result.shapes.outputs[layers[5]]["out"] == (2, 8)  # kept from the last run
    assert result.shapes.total_params == analyze(graph).shapes.total_params == \
        27 * (8 * 8 + 8) + (8 * 5 + 5) + (5 * 8 + 8) + (8 * 8 + 8)

    visited.clear()
    graph.set_param(layers[-2], "out_features", 0)  # invalid: validation skips it now
    result = analyze(graph, None, memo)
    assert visited == [layers[-1], head]  # skipped nodes are not run
    assert layers[-2] in result.shapes.not_inferred and layers[-1] in result.shapes.not_inferred
    assert result.diagnostics == analyze(graph).diagnostics

    visited.clear()
    graph.disconnect(Edge(layers[-1], "out", head, "in"))  # the wiring changed: all again
    analyze(graph, None, memo)
    assert len(visited) == len(graph.nodes) - 1  # every node but the skipped Linear
