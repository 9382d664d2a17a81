"""The topological order is computed once per structural revision and shared."""

from __future__ import annotations

import networkx as nx
import pytest

from graph.model import Edge, Graph


@pytest.fixture
def sorts(monkeypatch):
    """Counts the sorts the graph model runs."""
    calls = []
    real = nx.lexicographical_topological_sort

    def counting(g):
        calls.append(1)
        return real(g)

    monkeypatch.setattr(nx, "lexicographical_topological_sort", counting)
    return calls


def chain() -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": (4,)}, name="x")
    g.add_node("Linear", {"out_features": 3}, name="fc")
    g.add_node("Output", name="y")
    g.connect(Edge(1, "out", 2, "in"))
    g.connect(Edge(2, "out", 3, "in"))
    return g


def test_order_is_computed_once_and_kept_by_param_name_and_move_edits(sorts):
    g = chain()
    assert g.topological_order() == [1, 2, 3]
    g.set_param(2, "out_features", 5)
    g.rename(2, "dense")
    g.move(2, (10.0, 20.0))
    assert g.topological_order() == [1, 2, 3]
    assert len(sorts) == 1
    returned = g.topological_order()
    returned.append(99)  # callers get their own list
    assert g.topological_order() == [1, 2, 3]


def test_every_structural_mutation_invalidates(sorts):
    g = chain()
    assert g.topological_order() == [1, 2, 3]
    relu = g.add_node("ReLU", name="act")  # node added
    assert g.topological_order() == [1, 2, 3, 4]
    edge = g.in_edges(3)[0]
    g.disconnect(edge)  # edge removed
    assert g.topological_order() == [1, 2, 3, 4]
    g.connect(Edge(2, "out", relu.id, "in"))
    g.connect(Edge(relu.id, "out", 3, "in"))  # edges added: 3 now waits for 4
    assert g.topological_order() == [1, 2, 4, 3]
    g.remove_node(relu.id)  # node removed
    assert g.topological_order() == [1, 2, 3]
    g.clear()  # reset
    assert g.topological_order() == []
    assert len(sorts) == 6  # one per revision asked about


def test_direct_edits_of_the_lists_and_copies_stay_right(sorts):
    g = chain()
    assert g.topological_order() == [1, 2, 3]
    g.edges = [Edge(1, "out", 3, "in")]  # replaced without an event
    assert g.topological_order() == [1, 2, 3]
    g.edges.append(Edge(3, "out", 2, "in"))  # appended without an event: 2 after 3
    assert g.topological_order() == [1, 3, 2]
    calls = len(sorts)
    clone = g.copy()
    assert clone.topological_order() == [1, 3, 2]
    assert len(sorts) == calls  # the copy shares the computed order
    clone.disconnect(clone.edges[-1])
    assert clone.topological_order() == [1, 2, 3]
    assert g.topological_order() == [1, 3, 2]


def test_copy_is_deep_for_mutable_params():
    g = Graph()
    conv = g.add_node("Conv2d", {"out_channels": 4, "kernel_size": [3, 3]}, name="c")
    clone = g.copy()
    clone.nodes[conv.id].params["kernel_size"].append(9)
    clone.nodes[conv.id].params["out_channels"] = 8
    assert g.nodes[conv.id].params["kernel_size"] == [3, 3]
    assert g.nodes[conv.id].param("out_channels") == 4
    assert clone.to_dict()["nodes"][0]["name"] == "c"
