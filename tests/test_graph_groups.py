"""Groups in the graph model: API and events, file round trip, validation."""

from __future__ import annotations

import json
import zipfile

import pytest

from graph.model import Edge, Graph, GraphError, GraphEvent
from graph.project import Project, load_project, project_to_json, save_project
from graph.validate import validate


def chain() -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": [4]}, name="x")
    for name in ("fc1", "act", "fc2"):
        g.add_node("Linear" if name.startswith("fc") else "ReLU", name=name)
    g.add_node("Output", name="y")
    for src in range(1, 5):
        g.connect(Edge(src, "out", src + 1, "in"))
    return g


def recorded(g: Graph) -> list[GraphEvent]:
    events: list[GraphEvent] = []
    g.subscribe(events.append)
    return events


def test_group_api_and_events():
    g = chain()
    events = recorded(g)
    group = g.add_group([2, 3, 4], name="Body")
    assert (group.id, group.name, group.node_ids, group.collapsed, group.role) == \
        ("g1", "Body", [2, 3, 4], False, "")
    assert g.group_of(3) is group and g.group_of(1) is None
    assert g.group_members("g1") == [2, 3, 4]
    assert g.rename_group("g1", " Trunk ") == "Body" and group.name == "Trunk"
    assert g.set_group_collapsed("g1", True) is False and group.collapsed
    assert g.set_group_role("g1", "generator") == "" and g.group_by_role("generator") is group
    removed = g.remove_group("g1")
    assert g.groups == {} and g.group_of(3) is None
    g.insert_group(removed)
    assert g.groups["g1"].node_ids == [2, 3, 4] and g.groups["g1"].collapsed
    assert [(e.kind, e.group_id) for e in events] == [
        ("group_added", "g1"), ("group_changed", "g1"), ("group_changed", "g1"),
        ("group_changed", "g1"), ("group_removed", "g1"), ("group_added", "g1")]


def test_default_names_and_ids_are_unique():
    g = chain()
    a = g.add_group([1])
    b = g.add_group([2])
    assert (a.id, a.name, b.id, b.name) == ("g1", "Group", "g2", "Group 2")


@pytest.mark.parametrize("ids, message", [
    ([], "select at least one layer"),
    ([99], "no node with id 99"),
    ([3, 4], "Linear 'fc2' is already in group 'Body'; ungroup it first"),
])
def test_add_group_refusals(ids, message):
    g = chain()
    g.add_group([4], name="Body")
    with pytest.raises(GraphError, match=message):
        g.add_group(ids)


def test_roles_are_checked_and_unique():
    g = chain()
    g.add_group([2], name="G", role="generator")
    with pytest.raises(GraphError, match="group 'G' is already the generator"):
        g.add_group([3], role="generator")
    with pytest.raises(GraphError, match="role must be one of"):
        g.add_group([3], role="critic")
    with pytest.raises(GraphError, match="a group name cannot be empty"):
        g.rename_group("g1", "  ")


def test_deleted_member_comes_back_into_its_group():
    g = chain()
    g.add_group([2, 3, 4])
    node, edges = g.remove_node(3)
    assert g.group_members("g1") == [2, 4]
    assert g.to_dict()["groups"]["g1"]["node_ids"] == [2, 4]  # saving drops the deleted id
    g.insert_node(node)
    assert g.group_members("g1") == [2, 3, 4]


def test_copy_replace_and_clear_carry_groups():
    g = chain()
    g.add_group([2, 3], name="A", role="discriminator")
    clone = g.copy()
    assert clone.groups == g.groups and clone.groups["g1"] is not g.groups["g1"]
    other = Graph()
    events = recorded(other)
    other.replace_with(g)
    assert other.groups["g1"].name == "A" and events[-1].kind == "reset"
    other.clear()
    assert other.groups == {}


def test_groups_round_trip_through_the_project_file(tmp_path):
    g = chain()
    g.add_group([2, 3, 4], name="Trunk", collapsed=True)
    g.add_group([5], name="Head", role="discriminator")
    path = tmp_path / "p.plexus"
    save_project(Project(graph=g, name="grouped"), path)
    data = json.loads(zipfile.ZipFile(path).read("project.json"))
    assert data["graph"]["groups"] == {
        "g1": {"name": "Trunk", "node_ids": [2, 3, 4], "collapsed": True},
        "g2": {"name": "Head", "node_ids": [5], "collapsed": False, "role": "discriminator"}}
    loaded = load_project(path).graph
    assert loaded.groups == g.groups


def test_files_without_groups_are_unchanged_and_still_load():
    g = chain()
    data = project_to_json(Project(graph=g))
    assert "groups" not in data["graph"]
    g.add_group([2])
    g.remove_node(2)  # an empty group is not written
    assert "groups" not in g.to_dict()
    assert Graph.from_dict(chain().to_dict()).groups == {}


def test_loading_drops_unknown_members_and_rejects_malformed_groups():
    data = chain().to_dict()
    data["groups"] = {"g7": {"name": "Old", "node_ids": [2, 42], "collapsed": False}}
    assert Graph.from_dict(data).groups["g7"].node_ids == [2]
    for bad, message in (([1], "'groups' must be an object"),
                         ({"g1": {"name": "A", "node_ids": "2"}}, "list of node ids"),
                         ({"g1": {"name": "A", "node_ids": [2], "role": "boss"}},
                          "'role' must be one of")):
        data["groups"] = bad
        with pytest.raises(GraphError, match=message):
            Graph.from_dict(data)


def test_validation_reports_a_node_in_two_groups_and_a_shared_role():
    data = chain().to_dict()
    data["groups"] = {"g1": {"name": "A", "node_ids": [2, 3], "role": "generator"},
                      "g2": {"name": "B", "node_ids": [3], "role": "generator"}}
    g = Graph.from_dict(data)  # a hand-merged file still opens...
    messages = [d.message for d in validate(g) if d.severity == "error"]
    assert any(m.startswith("ReLU 'act' is in 2 groups ('A', 'B')") for m in messages)
    assert any(m.startswith("groups 'A', 'B' are all marked generator") for m in messages)
    assert not [d for d in validate(chain()) if d.severity == "error"]
