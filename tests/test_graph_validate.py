"""Validation: each check's exact message, its node/edge, severity and a deterministic order."""

from __future__ import annotations

import random

import pytest

from graph.model import Edge, Graph
from graph.validate import Diagnostic, has_errors, validate


def chain(*layers: tuple[str, str], **params: dict) -> Graph:
    """Nodes (type, name) connected in a line, "out" -> "in"; ids 1, 2, ..."""
    g = Graph()
    previous = None
    for layer_id, name in layers:
        node = g.add_node(layer_id, params=params.get(name), name=name)
        if previous is not None:
            g.connect(Edge(previous.id, "out", node.id, "in"))
        previous = node
    return g


def mlp() -> Graph:
    return chain(("Input", "x"), ("Linear", "fc1"), ("ReLU", "relu"), ("Linear", "fc2"),
                 ("Output", "y"))


def messages(diags: list[Diagnostic]) -> list[tuple[str, int | None, str]]:
    return [(d.severity, d.node_id, d.message) for d in diags]


def test_valid_graph_has_no_diagnostics():
    assert validate(mlp()) == []
    assert not has_errors([])


def test_has_errors_ignores_warnings():
    warning = Diagnostic("warning", "w")
    assert not has_errors([warning])
    assert has_errors([warning, Diagnostic("error", "e", 3)])


def test_cycle_names_every_node_on_it_and_marks_each():
    g = mlp()
    g.connect(Edge(4, "out", 2, "in"), check=False)  # fc2 -> fc1: fc1 -> relu -> fc2 -> fc1
    diags = validate(g)
    cycle = [d for d in diags if "cycle" in d.message]
    assert [d.node_id for d in cycle] == [2, 3, 4]
    expected = ("is on a cycle: Linear 'fc1' -> ReLU 'relu' -> Linear 'fc2' -> Linear 'fc1'; "
                "networks must flow one way, so remove one of these connections")
    assert cycle[0].message == "Linear 'fc1' " + expected
    assert cycle[1].message == "ReLU 'relu' " + expected
    assert cycle[2].message == "Linear 'fc2' " + expected
    assert all(d.severity == "error" for d in cycle)


def test_self_loop_is_a_cycle():
    g = Graph()
    g.add_node("ReLU", name="r")
    g.connect(Edge(1, "out", 1, "in"), check=False)
    cycle = [d for d in validate(g) if "cycle" in d.message]
    assert messages(cycle) == [("error", 1, "ReLU 'r' is on a cycle: ReLU 'r' -> ReLU 'r'; "
                                "networks must flow one way, so remove one of these "
                                "connections")]


def test_component_with_two_cycles_names_all_its_nodes():
    g = Graph()
    for name in "abcd":
        g.add_node("Add", name=name)
    # a -> b -> a and b -> c -> d -> b: one strongly connected component of four nodes
    for src, dst, port in [(1, 2, "in1"), (2, 1, "in1"), (2, 3, "in1"), (3, 4, "in1"),
                           (4, 2, "in2")]:
        g.connect(Edge(src, "out", dst, port), check=False)
    cycle = [d for d in validate(g) if "cycle" in d.message]
    assert [d.node_id for d in cycle] == [1, 2, 3, 4]
    assert cycle[0].message == (
        "Add 'a' is on a cycle: Add 'a' -> Add 'b' -> Add 'a'; also on a cycle with them: "
        "Add 'c', Add 'd'; networks must flow one way, so remove one of these connections")


def test_nodes_behind_a_cycle_are_not_blamed_for_it():
    g = mlp()
    g.connect(Edge(3, "out", 2, "in"), check=False)  # relu -> fc1 (fc2 and y are behind it)
    assert [d.node_id for d in validate(g) if "cycle" in d.message] == [2, 3]


def test_no_input_and_no_output():
    g = Graph()
    g.add_node("Linear", name="fc")
    diags = validate(g)
    assert messages(diags[:2]) == [
        ("error", None, "the network has no Input node; add one from the palette "
                        "(Input / Output) and connect it to the first layer"),
        ("error", None, "the network has no Output node; add one from the palette "
                        "(Input / Output) and connect the last layer to it"),
    ]
    # No reachability warnings pile up when there is no Input or Output at all.
    assert messages(diags[2:]) == [
        ("error", 1, "input 'in' of Linear 'fc' is not connected; drag a connection to it "
                     "from a layer's output")]


def test_empty_graph_reports_missing_input_and_output_only():
    assert [d.message.split(";")[0] for d in validate(Graph())] == [
        "the network has no Input node", "the network has no Output node"]


def test_unconnected_required_input():
    g = mlp()
    g.disconnect(Edge(3, "out", 4, "in"))
    diags = validate(g)
    assert ("error", 4, "input 'in' of Linear 'fc2' is not connected; drag a connection to it "
            "from a layer's output") in messages(diags)
    assert has_errors(diags)


def test_optional_merge_inputs_may_stay_empty_but_required_may_not():
    g = chain(("Input", "x"), ("Linear", "a"))
    add = g.add_node("Add", name="sum")
    out = g.add_node("Output", name="y")
    g.connect(Edge(1, "out", add.id, "in1"))
    g.connect(Edge(2, "out", add.id, "in2"))
    g.connect(Edge(add.id, "out", out.id, "in"))
    assert validate(g) == []  # in3 and in4 are optional
    g.disconnect(Edge(2, "out", add.id, "in2"))
    assert messages(validate(g)) == [
        ("warning", 2, "Linear 'a' does not lead to any Output, so its result is never used; "
                       "connect it or delete it"),
        ("error", 3, "input 'in2' of Add 'sum' is not connected; drag a connection to it from "
                     "a layer's output"),
    ]


def test_two_edges_into_one_input_port():
    g = chain(("Input", "x"), ("Linear", "a"), ("Linear", "b"), ("Output", "y"))
    extra = Edge(1, "out", 3, "in")
    g.connect(extra, check=False)
    diags = validate(g)
    assert len(diags) == 1
    d = diags[0]
    assert (d.severity, d.node_id, d.edge) == ("error", 3, Edge(2, "out", 3, "in"))
    assert d.message == ("input 'in' of Linear 'b' has 2 connections (from Input 'x', Linear "
                         "'a'); an input takes one, so remove all but one or merge them with an "
                         "Add or Concat layer")


def test_edge_to_missing_node():
    g = mlp()
    bad = Edge(4, "out", 99, "in")
    g.edges.append(bad)  # only possible by editing the list: connect() refuses it
    d = validate(g)[0]
    assert (d.severity, d.node_id, d.edge) == ("error", 4, bad)
    assert d.message == ("a connection 4 -> 99 (at Linear 'fc2') names node 99, which does not "
                         "exist; delete the connection")


def test_edge_between_two_missing_nodes_is_a_graph_diagnostic():
    g = mlp()
    g.edges.append(Edge(50, "out", 51, "in"))
    d = validate(g)[0]
    assert (d.node_id, d.message) == (None, "a connection 50 -> 51 names node 50 and 51, which "
                                            "does not exist; delete the connection")


def test_edges_naming_ports_the_layer_does_not_have():
    g = Graph.from_dict({
        "nodes": [{"id": 1, "type": "Input", "name": "x"}, {"id": 2, "type": "Linear",
                  "name": "fc"}, {"id": 3, "type": "Output", "name": "y"}],
        "edges": [{"src": 1, "src_port": "result", "dst": 2, "dst_port": "in"},
                  {"src": 2, "src_port": "out", "dst": 3, "dst_port": "in7"}],
    })
    diags = validate(g)
    bad = [d for d in diags if "port" in d.message]
    assert messages(bad) == [
        ("error", 1, "Input 'x' has no output port 'result' (it has 'out'); delete the "
                     "connection to Linear 'fc'"),
        ("error", 3, "Output 'y' has no input port 'in7' (it has 'in'); delete the connection "
                     "from Linear 'fc'"),
    ]
    assert [d.edge.src_port for d in bad] == ["result", "out"]
    # The bad edges do not count as connections, so the ports they meant are still empty.
    assert ("error", 2, "input 'in' of Linear 'fc' is not connected; drag a connection to it "
            "from a layer's output") in messages(diags)


def test_unknown_layer_type():
    g = Graph.from_dict({
        "nodes": [{"id": 1, "type": "Input", "name": "x"},
                  {"id": 2, "type": "QuantumLayer", "name": "q", "params": {"qubits": 3}},
                  {"id": 3, "type": "Output", "name": "y"}],
        "edges": [{"src": 1, "src_port": "out", "dst": 2, "dst_port": "in"},
                  {"src": 2, "src_port": "out", "dst": 3, "dst_port": "in"}],
    })
    assert messages(validate(g)) == [
        ("error", 2, "QuantumLayer 'q': unknown layer type 'QuantumLayer' (made by a newer "
                     "Plexus or a typo); delete the node or replace it with a layer from the "
                     "palette")]


@pytest.mark.parametrize("layer, params, text", [
    ("Conv2d", {"kernel_size": (0, 3)},
     "Conv2d 'n': kernel size must be at least 1, not 0 x 3; change it in the inspector"),
    ("Conv2d", {"kernel_size": (3, 3, 3)},
     "Conv2d 'n': kernel size must have 2 values, not 3 x 3 x 3; change it in the inspector"),
    ("Conv1d", {"kernel_size": 0},
     "Conv1d 'n': kernel size must be at least 1, not 0; change it in the inspector"),
    ("Linear", {"out_features": "64"},
     "Linear 'n': out features must be a whole number, not '64'; change it in the inspector"),
    ("Linear", {"out_features": 2.5},
     "Linear 'n': out features must be a whole number, not 2.5; change it in the inspector"),
    ("Linear", {"bias": 1},
     "Linear 'n': bias must be true or false, not 1; change it in the inspector"),
    ("Dropout", {"p": 1.5},
     "Dropout 'n': rate must be at most 0.99, not 1.5; change it in the inspector"),
    ("Dropout", {"p": float("nan")},
     "Dropout 'n': rate must be a number, not NaN, not nan; change it in the inspector"),
    ("LSTM", {"output": "first"},
     "LSTM 'n': output must be one of sequence, last, not 'first'; change it in the "
     "inspector"),
    ("Embedding", {"num_embeddings": 0},
     "Embedding 'n': vocabulary must be at least 1, not 0; change it in the inspector"),
])
def test_bad_parameter_values(layer, params, text):
    g = Graph()
    g.add_node(layer, params=params, name="n")
    param_diags = [d for d in validate(g) if d.message.startswith(f"{layer} 'n': ")]
    assert messages(param_diags) == [("error", 1, text)]


def test_unknown_extra_parameter_is_a_warning():
    g = mlp()
    g.set_param(2, "units", 10)
    assert messages(validate(g)) == [
        ("warning", 2, "Linear 'fc1': unknown parameter 'units' is ignored; remove it (a Linear "
                       "layer has no such setting)")]
    assert not has_errors(validate(g))


def test_learning_rate_multiplier_must_not_be_negative():
    g = mlp()
    g.set_node_options(2, lr_mult=-1.0)
    assert messages(validate(g)) == [
        ("error", 2, "Linear 'fc1': learning-rate multiplier must be a number from 0 to "
                     "1000000, not -1.0; change it in the inspector")]


def test_unreachable_nodes_are_warnings():
    g = mlp()
    g.add_node("Linear", name="orphan")  # 6: neither fed by an Input nor feeding an Output
    side = g.add_node("Input", name="unused")  # 7: an Input that leads nowhere
    g.connect(Edge(side.id, "out", 6, "in"))
    g.add_node("Output", name="y2")  # 8: an Output fed by nothing
    d = messages(validate(g))
    assert d == [
        ("warning", 6, "Linear 'orphan' does not lead to any Output, so its result is never "
                       "used; connect it or delete it"),
        ("warning", 7, "Input 'unused' does not lead to any Output, so its data is never used; "
                       "connect it or delete it"),
        ("error", 8, "input 'in' of Output 'y2' is not connected; drag a connection to it "
                     "from a layer's output"),
        ("warning", 8, "Output 'y2' is not reached from any Input, so it never runs; connect "
                       "it or delete it"),
    ]


def test_node_not_reached_from_input():
    g = mlp()
    stray = g.add_node("Linear", name="stray")
    g.connect(Edge(stray.id, "out", 5, "in"), check=False)  # second edge into y.in too
    msgs = [m for _, node_id, m in messages(validate(g)) if node_id == stray.id]
    assert "Linear 'stray' is not reached from any Input, so it never runs; connect it or " \
           "delete it" in msgs


def test_duplicate_names_mark_every_node_sharing_the_name():
    g = mlp()
    g.rename(4, "fc1")
    assert messages(validate(g)) == [
        ("error", 2, "Linear 'fc1': the name is also used by Linear (node 4); rename one of "
                     "them so every node has its own name"),
        ("error", 4, "Linear 'fc1': the name is also used by Linear (node 2); rename one of "
                     "them so every node has its own name"),
    ]


def test_empty_name():
    g = mlp()
    g.nodes[3].name = "  "  # rename() refuses this; a hand-edited file or script can do it
    assert messages(validate(g)) == [
        ("error", 3, "ReLU node 3 has no name; give it a name in the inspector")]


def test_order_is_deterministic_whatever_the_insertion_order():
    g = mlp()
    g.add_node("Conv2d", params={"stride": (0, 1)}, name="c")
    g.rename(4, "x")
    g.connect(Edge(4, "out", 2, "in"), check=False)
    expected = validate(g)
    ids = [d.node_id for d in expected]
    assert ids == sorted(ids, key=lambda i: -1 if i is None else i)
    for seed in range(5):
        shuffled = g.copy()
        items = list(shuffled.nodes.items())
        random.Random(seed).shuffle(items)
        shuffled.nodes = dict(items)
        random.Random(seed).shuffle(shuffled.edges)
        assert validate(shuffled) == expected
    # Within a node, errors come before warnings.
    conv = [d.severity for d in expected if d.node_id == 6]
    assert conv == sorted(conv, key=["error", "warning"].index)


def test_large_graph_validates_and_finds_a_cycle_at_the_end():
    g = Graph()
    previous = g.add_node("Input", params={"shape": (8,)}, name="x")
    for _ in range(998):
        node = g.add_node("Linear")
        g.connect(Edge(previous.id, "out", node.id, "in"), check=False)
        previous = node
    out = g.add_node("Output", name="y")
    g.connect(Edge(previous.id, "out", out.id, "in"), check=False)
    assert len(g.nodes) == 1000
    assert validate(g) == []
    g.connect(Edge(999, "out", 998, "in"), check=False)
    cycle = [d for d in validate(g) if "cycle" in d.message]
    assert [d.node_id for d in cycle] == [998, 999]
