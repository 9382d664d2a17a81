"""Nested groups in the graph model: hierarchy queries, ungroup and undo, file round trip,
old files, validation of nesting."""

from __future__ import annotations

import json
import zipfile

import pytest

from graph.model import Edge, Graph, GraphError
from graph.project import Project, load_project, project_from_json, project_to_json, save_project
from graph.validate import validate


def staged() -> Graph:
    """x -> 6 ReLUs -> y, grouped as a stage "layer1" holding blocks "layer1.0", "layer1.1"."""
    g = Graph()
    g.add_node("Input", {"shape": [4]}, name="x")
    for index in range(6):
        g.add_node("ReLU", name=f"r{index}")
    g.add_node("Output", name="y")
    for src in range(1, 8):
        g.connect(Edge(src, "out", src + 1, "in"))
    a = g.add_group([2, 3, 4], "layer1.0")
    b = g.add_group([5, 6], "layer1.1")
    g.add_group([7], "layer1", collapsed=True, child_groups=[a.id, b.id])
    return g


def test_hierarchy_queries():
    g = staged()
    assert [(x.id, x.name, x.parent, x.node_ids) for x in g.groups.values()] == [
        ("g1", "layer1.0", "g3", [2, 3, 4]), ("g2", "layer1.1", "g3", [5, 6]),
        ("g3", "layer1", "", [7])]
    assert g.group_members("g3") == [7, 2, 3, 4, 5, 6]
    assert g.direct_members("g3") == [7]
    assert g.child_groups("") == ["g3"] and g.child_groups("g3") == ["g1", "g2"]
    assert g.group_ancestors("g1") == ["g3"] and g.group_descendants("g3") == ["g1", "g2"]
    assert g.groups_holding(3) == ["g1", "g3"] and g.groups_holding(1) == []
    assert g.group_of(3).name == "layer1.0"


def test_a_subgroup_takes_layers_out_of_its_parent_and_refusals_say_why():
    g = staged()
    inner = g.add_group([2, 3], "pair")
    assert inner.parent == "g1" and g.groups["g1"].node_ids == [4]
    with pytest.raises(GraphError, match="ReLU 'r2' is already in group 'layer1.0'; ungroup it "
                                         "first .a group nests inside one group"):
        g.add_group([4, 5])
    with pytest.raises(GraphError, match="already in group 'layer1'"):
        g.add_group([1], child_groups=["g1"])


def test_ungroup_keeps_nested_groups_and_undo_puts_them_back():
    g = staged()
    children = g.child_groups("g3")
    removed = g.remove_group("g3")
    assert g.groups["g1"].parent == "" and g.groups["g2"].parent == ""
    assert g.group_of(7) is None
    g.insert_group(removed, children)
    assert g.groups["g3"].node_ids == [7] and g.child_groups("g3") == ["g1", "g2"]
    inner = g.remove_group("g1")  # a block of a stage: its layers go to the stage
    assert g.groups["g3"].node_ids == [7, 2, 3, 4]
    g.insert_group(inner)
    assert g.groups["g3"].node_ids == [7] and g.group_of(2).name == "layer1.0"


def test_nesting_round_trips_through_the_project_file(tmp_path):
    g = staged()
    path = tmp_path / "p.plexus"
    save_project(Project(graph=g), path)
    data = json.loads(zipfile.ZipFile(path).read("project.json"))
    assert data["format_version"] == 2
    assert data["graph"]["groups"]["g1"] == {"name": "layer1.0", "node_ids": [2, 3, 4],
                                             "collapsed": False, "parent": "g3"}
    assert "parent" not in data["graph"]["groups"]["g3"]
    loaded = load_project(path).graph
    assert loaded.groups == g.groups
    assert validate(loaded) == validate(g)
    assert not [d for d in validate(loaded) if d.severity == "error"]


def test_a_format_1_file_with_flat_groups_still_loads():
    data = project_to_json(Project(graph=staged()))
    data["format_version"] = 1
    for raw in data["graph"]["groups"].values():
        raw.pop("parent", None)
    graph = project_from_json(data, "old.plexus").graph
    assert [g.parent for g in graph.groups.values()] == ["", "", ""]
    assert graph.group_members("g3") == [7]


def test_validation_reports_missing_parents_cycles_and_a_layer_in_two_groups():
    data = staged().to_dict()
    data["groups"]["g2"]["parent"] = "g9"
    data["groups"]["g1"]["parent"] = "g1"
    data["groups"]["g3"]["node_ids"] = [7, 2]
    g = Graph.from_dict(data)
    messages = sorted(d.message for d in validate(g) if d.severity == "error")
    assert messages == [
        "ReLU 'r0' is in 2 groups ('layer1.0', 'layer1'); a layer belongs to one group, so "
        "ungroup it from the others",
        "group 'layer1.1' sits in group id 'g9', which does not exist; ungroup it or fix the "
        "file",
        "groups nest in a circle ('layer1.0' in 'layer1.0'); a group cannot sit inside "
        "itself, so ungroup one of them"]
    assert g.group_ancestors("g1") == [] and g.group_members("g1") == [2, 3, 4]
    data["groups"]["g1"]["parent"] = "g3"
    data["groups"]["g3"]["parent"] = "g1"
    messages = [d.message for d in validate(Graph.from_dict(data))]
    assert "groups nest in a circle ('layer1.0' in 'layer1' in 'layer1.0'); a group cannot " \
           "sit inside itself, so ungroup one of them" in messages
    with pytest.raises(GraphError, match="field 'parent' must be a group id"):
        data["groups"]["g1"]["parent"] = 3
        Graph.from_dict(data)


def test_nested_groups_keep_their_order_through_a_file():
    g = Graph()
    ids = [g.add_node("ReLU").id for _ in range(12)]
    blocks = [g.add_group(ids[i:i + 1], f"b{i}").id for i in range(11)]  # g1 .. g11
    g.add_group([ids[11]], "stage", child_groups=blocks)
    loaded = Graph.from_dict(json.loads(json.dumps(g.to_dict())))
    assert [loaded.groups[c].name for c in loaded.child_groups("g12")] == [
        f"b{i}" for i in range(11)]
