"""The graph model (mutations, events, serialization) and the project settings."""

from __future__ import annotations

import math

import networkx as nx
import pytest

from graph import catalog
from graph.fields import SettingsError, parse
from graph.model import Edge, Graph, GraphError, GraphEvent, Node
from graph.settings import (
    TRAINING_FIELDS,
    DatasetSettings,
    TrainingSettings,
    from_dict,
    to_dict,
)


def recorded(g: Graph) -> list[GraphEvent]:
    events: list[GraphEvent] = []
    g.subscribe(events.append)
    return events


def small() -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": (4,)}, pos=(0, 0), name="x")
    g.add_node("Linear", {"out_features": 3}, pos=(0, 100), name="fc")
    g.add_node("Output", pos=(0, 200), name="y")
    g.connect(Edge(1, "out", 2, "in"))
    g.connect(Edge(2, "out", 3, "in"))
    return g


# -- nodes -------------------------------------------------------------------------------------
def test_add_node_fills_defaults_names_and_ids():
    g = Graph()
    events = recorded(g)
    a = g.add_node("Conv2d", {"out_channels": 4}, pos=(1, 2))
    b = g.add_node("Conv2d")
    assert (a.id, a.name, b.id, b.name) == (1, "conv2d_1", 2, "conv2d_2")
    assert a.params == {**catalog.spec("Conv2d").defaults(), "out_channels": 4}
    assert a.pos == (1.0, 2.0) and isinstance(a.pos[0], float)
    assert events == [GraphEvent("node_added", 1), GraphEvent("node_added", 2)]


def test_add_node_with_explicit_id_moves_next_id_past_it():
    g = Graph()
    g.add_node("ReLU", node_id=10)
    assert g.add_node("ReLU").id == 11
    with pytest.raises(GraphError, match="node id 10 is already used"):
        g.add_node("ReLU", node_id=10)


def test_node_label_param_and_all_params():
    node = Graph().add_node("Linear", {"out_features": 5}, name="fc1")
    assert node.label == "Linear 'fc1'"
    assert node.param("out_features") == 5
    del node.params["bias"]
    assert node.param("bias") is True  # catalog default
    assert node.param("no_such_param") is None
    assert node.all_params() == {"out_features": 5, "bias": True}
    unknown = Node(1, "Mystery", "m", {"a": 1})
    assert unknown.spec is None and unknown.param("b") is None and unknown.all_params() == {"a": 1}


def test_unique_name():
    g = Graph()
    g.add_node("ReLU", name="my_layer_1")
    assert g.unique_name("My Layer") == "my_layer_2"
    assert g.unique_name("  !! ") == "node_1"


def test_queries():
    g = small()
    assert g.node(2).name == "fc"
    with pytest.raises(GraphError, match="there is no node with id 9"):
        g.node(9)
    assert g.node_by_name("y").id == 3 and g.node_by_name("nope") is None
    assert [n.id for n in g.nodes_of_type("Linear")] == [2]
    assert g.in_edges(2) == [Edge(1, "out", 2, "in")]
    assert g.out_edges(2) == [Edge(2, "out", 3, "in")]
    assert g.edge_into(3, "in") == Edge(2, "out", 3, "in") and g.edge_into(1, "in") is None
    assert g.topological_order() == [1, 2, 3]
    nxg = g.to_networkx()
    assert nxg.nodes[2]["node"] is g.nodes[2]
    assert [d["edge"] for _, _, d in nxg.edges(data=True)] == g.edges


def test_set_param_rename_options_and_move_emit_events_and_return_old_values():
    g = small()
    events = recorded(g)
    assert g.set_param(2, "out_features", 7) == 3
    assert g.set_param(2, "units", 1) is None  # unknown names are kept for validation to flag
    assert g.rename(2, "  dense ") == "fc" and g.nodes[2].name == "dense"
    g.set_node_options(2, frozen=True, lr_mult=0.5)
    assert g.move(2, (5, 6)) == (0.0, 100.0)
    assert (g.nodes[2].frozen, g.nodes[2].lr_mult, g.nodes[2].pos) == (True, 0.5, (5.0, 6.0))
    assert [e.kind for e in events] == ["node_changed"] * 4 + ["node_moved"]
    assert all(e.node_id == 2 for e in events)
    with pytest.raises(GraphError, match="a node name cannot be empty"):
        g.rename(2, "   ")


def test_remove_node_returns_node_and_edges_for_undo():
    g = small()
    events = recorded(g)
    node, edges = g.remove_node(2)
    assert node.name == "fc" and edges == [Edge(1, "out", 2, "in"), Edge(2, "out", 3, "in")]
    assert g.edges == [] and 2 not in g.nodes
    assert [e.kind for e in events] == ["edge_removed", "edge_removed", "node_removed"]
    g.insert_node(node)  # undo
    for edge in edges:
        g.connect(edge)
    assert g.to_dict() == small().to_dict()
    with pytest.raises(GraphError, match="node id 2 is already used"):
        g.insert_node(node)


def test_unsubscribe():
    g = Graph()
    events = recorded(g)
    g.unsubscribe(events.append)
    g.unsubscribe(events.append)  # twice is harmless
    g.add_node("ReLU")
    assert events == []


# -- edges ----------------------------------------------------------------------------------------
def test_check_connection_reasons():
    g = small()
    g.add_node("Add", name="sum")  # 4
    assert g.check_connection(Edge(1, "out", 9, "in")) == (
        "both ends of a connection must be existing nodes")
    assert g.check_connection(Edge(1, "x", 4, "in1")) == "Input 'x' has no output port 'x'"
    assert g.check_connection(Edge(1, "out", 4, "in9")) == "Add 'sum' has no input port 'in9'"
    assert g.check_connection(Edge(1, "out", 2, "in")) == (
        "input 'in' of Linear 'fc' is already connected to Input 'x'; remove that connection "
        "first")
    g.disconnect(Edge(1, "out", 2, "in"))
    assert g.check_connection(Edge(3, "out", 2, "in")) == "Output 'y' has no output port 'out'"
    g.add_node("ReLU", name="r")  # 5
    g.connect(Edge(2, "out", 5, "in"))
    assert g.check_connection(Edge(5, "out", 2, "in")) == (
        "connecting ReLU 'r' to Linear 'fc' would create a cycle; networks must flow one way")
    assert g.would_create_cycle(5, 5)
    assert g.check_connection(Edge(1, "out", 4, "in1")) is None


def test_connect_refuses_and_check_false_allows_only_existing_nodes():
    g = small()
    events = recorded(g)
    with pytest.raises(GraphError, match="already connected"):
        g.connect(Edge(1, "out", 2, "in"))
    g.connect(Edge(2, "out", 2, "in"), check=False)  # a loaded file may hold a cycle
    with pytest.raises(GraphError, match="connection 1 -> 8 names a missing node"):
        g.connect(Edge(1, "out", 8, "in"), check=False)
    assert events == [GraphEvent("edge_added", edge=Edge(2, "out", 2, "in"))]
    with pytest.raises(nx.NetworkXUnfeasible):
        g.topological_order()
    with pytest.raises(GraphError, match="that connection does not exist"):
        g.disconnect(Edge(3, "out", 1, "in"))


def test_leading_to_and_reached_from_follow_edges_and_match_networkx():
    g = small()
    g.add_node("ReLU", name="dangling")  # 4: fed by fc, leads to no Output
    g.add_node("Input", {"shape": (4,)}, name="unused")  # 5: feeds nothing
    g.connect(Edge(2, "out", 4, "in"))
    nxg = g.to_networkx()
    assert g.leading_to([3]) == {3, *nx.ancestors(nxg, 3)} == {1, 2, 3}
    assert g.reached_from([1, 5]) == {1, 5, *nx.descendants(nxg, 1)} == {1, 2, 3, 4, 5}
    # validation walks only its sound edges
    assert g.leading_to([3], [Edge(2, "out", 3, "in")]) == {2, 3}
    assert g.reached_from([1], []) == {1}


def test_edge_is_ordered_and_hashable():
    edges = [Edge(2, "out", 3, "in"), Edge(1, "out", 3, "in2"), Edge(1, "out", 3, "in1")]
    assert sorted(edges)[0] == Edge(1, "out", 3, "in1")
    assert len(set(edges + edges)) == 3
    assert edges[0].to_dict() == {"src": 2, "src_port": "out", "dst": 3, "dst_port": "in"}


# -- whole-graph operations -----------------------------------------------------------------------
def test_clear_replace_with_and_copy():
    g = small()
    events = recorded(g)
    clone = g.copy()
    clone.set_param(2, "out_features", 99)
    assert g.nodes[2].params["out_features"] == 3  # deep copy
    assert clone._listeners == []
    g.clear()
    assert (g.nodes, g.edges, g.next_id) == ({}, [], 1)
    g.replace_with(clone)
    assert g.to_dict() == clone.to_dict()
    g.nodes[2].params["out_features"] = 1
    assert clone.nodes[2].params["out_features"] == 99
    assert [e.kind for e in events] == ["reset", "reset"]


def test_subgraph_dict_keeps_inner_edges_and_positions():
    g = small()
    part = g.subgraph_dict([3, 2])
    assert [n["id"] for n in part["nodes"]] == [2, 3]
    assert part["edges"] == [{"src": 2, "src_port": "out", "dst": 3, "dst_port": "in"}]
    assert part["positions"] == {"2": [0.0, 100.0], "3": [0.0, 200.0]}


def test_to_dict_layout_and_from_dict_round_trip():
    g = small()
    g.add_node("Conv2d", {"kernel_size": (5, 5)}, pos=(3.5, -1), name="c")
    g.set_node_options(4, frozen=True, lr_mult=0.25)
    data = g.to_dict()
    assert data["next_id"] == 5
    conv = data["nodes"][3]
    assert conv["params"]["kernel_size"] == [5, 5]  # JSON-friendly lists
    assert (conv["frozen"], conv["lr_mult"]) == (True, 0.25)
    assert "frozen" not in data["nodes"][0] and "pos" not in data["nodes"][0]
    again = Graph.from_dict(data, layout=g.layout())
    assert again.nodes == g.nodes and again.edges == g.edges
    assert again.nodes[4].params["kernel_size"] == (5, 5)
    assert Graph.from_dict(data).nodes[4].pos == (0.0, 0.0)  # no layout: origin


def test_from_dict_coerces_json_numbers_and_fills_defaults():
    g = Graph.from_dict({"nodes": [
        {"id": 3, "type": "Linear", "name": "fc", "params": {"out_features": 8.0}},
        {"id": 4, "type": "Dropout", "params": {"p": 0}},
        {"id": 5, "type": "Mystery", "name": "m", "params": {"z": [1]}}]})
    assert g.nodes[3].params == {"out_features": 8, "bias": True}
    assert isinstance(g.nodes[3].params["out_features"], int)
    assert g.nodes[4].params == {"p": 0.0} and isinstance(g.nodes[4].params["p"], float)
    assert g.nodes[4].name == "node_4"
    assert g.nodes[5].params == {"z": [1]}  # unknown layers keep their params untouched
    assert g.next_id == 6


@pytest.mark.parametrize("data, message", [
    ({"nodes": [{"type": "ReLU"}]}, "node is missing its 'id' field"),
    ({"nodes": [{"id": True, "type": "ReLU"}]}, "node field 'id' must be int, not True"),
    ({"nodes": [{"id": 1, "type": 5}]}, "node 1 field 'type' must be str, not 5"),
    ({"nodes": [{"id": 1, "type": "ReLU"}, {"id": 1, "type": "ReLU"}]},
     "node id 1 appears twice"),
    ({"nodes": [{"id": 1, "type": "ReLU", "params": "relu"}]},
     "node 1 field 'params' must be an object"),
    ({"nodes": ["ReLU"]}, "node is missing its 'id' field"),
    ({"nodes": 3}, "malformed graph: 'int' object is not iterable"),
    ({"nodes": [{"id": 1, "type": "ReLU", "lr_mult": "fast"}]},
     "malformed graph: could not convert string to float: 'fast'"),
    ({"edges": [{"src": 1, "src_port": "out", "dst": 2}]},
     "edge is missing its 'dst_port' field"),
    ({"nodes": [{"id": 1, "type": "ReLU"}],
      "edges": [{"src": 1, "src_port": "out", "dst": 2, "dst_port": "in"}]},
     "connection 1 -> 2 names a missing node"),
    ({"next_id": "x"}, "malformed graph: invalid literal for int() with base 10: 'x'"),
    ({"next_id": None}, "malformed graph: int() argument must be"),
    ({"next_id": 1e400}, "malformed graph: cannot convert float infinity to integer"),
    ({"nodes": [{"id": 1, "type": "ReLU", "lr_mult": 10**400}]},
     "malformed graph: int too large to convert to float"),
])
def test_from_dict_errors_name_the_field(data, message):
    with pytest.raises(GraphError) as info:
        Graph.from_dict(data)
    assert str(info.value).startswith(message)


def test_from_dict_bad_layout_is_a_graph_error():
    data = {"nodes": [{"id": 1, "type": "ReLU"}]}
    with pytest.raises(GraphError, match="malformed graph"):
        Graph.from_dict(data, layout={"1": "left"})


# -- catalog parameters (as the model and validation use them) ------------------------------------
def test_param_check_and_coerce():
    kernel = catalog.spec("Conv2d").param("kernel_size")
    assert kernel.title == "Kernel size"
    assert kernel.check((3, 3)) is None and kernel.check([0, 3]) == "each value must be at least 1"
    assert kernel.check((3,)) == "must have 2 values" and kernel.check(()) is not None
    assert kernel.coerce([3, 3]) == (3, 3)
    rate = catalog.spec("Dropout").param("p")
    assert rate.check(True) == "must be a number" and rate.check(math.nan).endswith("NaN")
    assert rate.check(math.inf) == "must be at most 0.99"


# -- settings -------------------------------------------------------------------------------------
def test_settings_round_trip():
    dataset = DatasetSettings(name="csv", path="/data/x.csv", seed=4, target_column="price",
                              options={"delimiter": ";"})
    training = TrainingSettings(optimizer="adamw", lr=0.01, epochs=5, device="cpu",
                                options={"beta": [0.9, 0.99]})
    assert from_dict(DatasetSettings, to_dict(dataset), "dataset") == dataset
    assert from_dict(TrainingSettings, to_dict(training), "training") == training
    assert from_dict(TrainingSettings, {}, "training") == TrainingSettings()


def test_settings_convert_json_numbers_and_ignore_unknown_keys():
    t = from_dict(TrainingSettings, {"epochs": 5.0, "lr": 1, "future_key": 1}, "training")
    assert t.epochs == 5 and isinstance(t.epochs, int)
    assert t.lr == 1.0 and isinstance(t.lr, float)


@pytest.mark.parametrize("cls, data, message", [
    (TrainingSettings, [], "training must be an object"),
    (TrainingSettings, {"epochs": 2.5}, "training.epochs must be a whole number, not 2.5"),
    (TrainingSettings, {"epochs": True}, "training.epochs must be a whole number, not True"),
    (TrainingSettings, {"epochs": math.inf}, "training.epochs must be a whole number, not inf"),
    (TrainingSettings, {"epochs": math.nan}, "training.epochs must be a whole number, not nan"),
    (TrainingSettings, {"epochs": 0}, "training.epochs must be between 1 and 100000, not 0"),
    (TrainingSettings, {"lr": "0.1"}, "training.lr must be a number, not '0.1'"),
    (TrainingSettings, {"lr": math.nan}, "training.lr must be a number, not nan"),
    (TrainingSettings, {"lr": math.inf}, "training.lr must be between 1e-08 and 10.0, not inf"),
    (TrainingSettings, {"device": "tpu"},
     "training.device must be one of auto, cpu, cuda, not 'tpu'"),
    (TrainingSettings, {"options": []}, "training.options must be an object"),
    (DatasetSettings, {"name": 3}, "dataset.name must be text, not 3"),
    (DatasetSettings, {"scaling": "log"},
     "dataset.scaling must be one of none, standardize, normalize, not 'log'"),
])
def test_settings_errors_name_the_field(cls, data, message):
    where = "training" if cls is TrainingSettings else "dataset"
    with pytest.raises(SettingsError) as info:
        from_dict(cls, data, where)
    assert str(info.value) == message


def test_settings_huge_whole_number_is_out_of_bounds_not_a_crash():
    with pytest.raises(SettingsError, match=r"^training.epochs must be between 1 and 100000"):
        from_dict(TrainingSettings, {"epochs": 10**400}, "training")
    with pytest.raises(SettingsError, match=r"^training.lr is too large a number$"):
        from_dict(TrainingSettings, {"lr": 10**400}, "training")


def test_parse_field_label():
    assert parse(TRAINING_FIELDS["batch_size"], 64.0, "settings") == 64
    with pytest.raises(SettingsError, match=r"^settings.batch_size must be between"):
        parse(TRAINING_FIELDS["batch_size"], 0, "settings")
