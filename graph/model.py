"""The graph document: nodes, edges and a mutation API that tells observers what changed.

The model knows nothing of any view. The editor's scene subscribes to its events and redraws;
undo commands call its mutation methods. Node ids are stable integers saved in the file.

Groups name a set of nodes (a block the editor can collapse, or the generator and the
discriminator of a GAN). Groups nest: a group may sit in a parent group (an imported ResNet's
stage holds its blocks, a block its layers). ``node_ids`` are a group's own layers, so a node
belongs to one innermost group; ``group_members`` also counts the layers of nested groups. A
group keeps the ids of members that were deleted, so undoing the delete puts them back in the
group; ``group_members`` lists only the nodes that exist, and saving drops the rest.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import re
from collections.abc import Iterable
from typing import Any

from graph import catalog
from graph.elements import (
    Edge,
    GraphError,
    GraphEvent,
    Group,
    Listener,
    Node,
)
from graph.group_tree import GroupTree
from graph.paths import GraphPaths
from graph.roles import GROUP_ROLES


def _copied_node(node: Node) -> Node:
    """A deep copy of ``node``; plain values are shared, as deepcopy would, but without its
    per-value bookkeeping (copying a 5,000-layer graph per edit showed in profiles)."""
    params = {k: v if isinstance(v, _ATOMIC) else copy.deepcopy(v)
              for k, v in node.params.items()}
    return dataclasses.replace(node, params=params)


_ATOMIC = (str, int, float, bool, type(None))

# Node revisions are drawn from one counter for every graph, so a memo keyed on them never
# mistakes a node of one graph for a node of another; a copy keeps them (same content).
_REVISIONS = itertools.count(1)

# The events after which a node's own content (type, name, params, options) may differ.
_NODE_CHANGING = frozenset({"node_added", "node_removed", "node_changed"})

# The events after which a cached topological order may be wrong.
_ORDER_CHANGING = frozenset({"node_added", "node_removed", "edge_added", "edge_removed",
                             "reset"})


class Graph(GroupTree, GraphPaths):
    """A network design: nodes keyed by stable id, edges between ports. The queries over its
    group hierarchy are ``GroupTree``'s, those over its paths ``GraphPaths``'."""

    def __init__(self) -> None:
        self.nodes: dict[int, Node] = {}
        self.edges: list[Edge] = []
        self.next_id = 1
        self.groups: dict[str, Group] = {}
        self._listeners: list[Listener] = []
        self._structure_revision = 0  # bumped by every mutation that can change the order
        self._order: tuple[tuple[int, int, int, int], list[int]] | None = None
        self._node_revisions: dict[int, int] = {}  # see node_revision

    # -- observers ------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, kind: str, node_id: int | None = None, edge: Edge | None = None,
              group_id: str | None = None) -> None:
        if kind in _ORDER_CHANGING:
            self._structure_revision += 1
        if kind in _NODE_CHANGING:
            self._node_revisions.pop(node_id, None)  # type: ignore[arg-type]
        elif kind == "reset":
            self._node_revisions.clear()
        event = GraphEvent(kind, node_id, edge, group_id)
        for listener in list(self._listeners):
            listener(event)

    def node_revision(self, node_id: int) -> int:
        """A number that changes whenever the node's type, name, params or options change
        through this API: the editor's analysis re-checks only nodes whose number moved (a
        5,000-layer design must not be re-validated whole after one edit). Unique across
        graphs; nodes put into ``nodes`` directly get a fresh one on first ask."""
        revision = self._node_revisions.get(node_id)
        if revision is None:
            revision = self._node_revisions[node_id] = next(_REVISIONS)
        return revision

    # -- queries ----------------------------------------------------------------------------
    def node(self, node_id: int) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"there is no node with id {node_id}") from None

    def node_by_name(self, name: str) -> Node | None:
        return next((n for n in self.nodes.values() if n.name == name), None)

    def nodes_of_type(self, layer_id: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.type == layer_id]

    def in_edges(self, node_id: int) -> list[Edge]:
        return [e for e in self.edges if e.dst == node_id]

    def out_edges(self, node_id: int) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def edge_into(self, node_id: int, port: str) -> Edge | None:
        return next((e for e in self.edges if e.dst == node_id and e.dst_port == port), None)

    def unique_name(self, base: str) -> str:
        """``base`` made unique among node names by a numeric suffix ("conv2d_2")."""
        base = re.sub(r"\W+", "_", base.strip()).strip("_").lower() or "node"
        taken = {n.name for n in self.nodes.values()}
        index = 1
        while f"{base}_{index}" in taken:
            index += 1
        return f"{base}_{index}"

    # -- mutations ----------------------------------------------------------------------------
    def add_node(self, layer_id: str, params: dict[str, Any] | None = None,
                 pos: tuple[float, float] = (0.0, 0.0), name: str | None = None,
                 node_id: int | None = None) -> Node:
        """Add a node; params default to the catalog's. ``node_id`` restores a deleted node."""
        if node_id is None:
            node_id = self.next_id
        elif node_id in self.nodes:
            raise GraphError(f"node id {node_id} is already used")
        spec = catalog.get(layer_id)
        merged = {**(spec.defaults() if spec else {}), **(params or {})}
        node = Node(node_id, layer_id, name or self.unique_name(layer_id), merged,
                    (float(pos[0]), float(pos[1])))
        self.nodes[node_id] = node
        self.next_id = max(self.next_id, node_id + 1)
        self._emit("node_added", node_id)
        return node

    def insert_node(self, node: Node) -> Node:
        """Add a fully specified node (undo of a delete, paste); its id must be free."""
        if node.id in self.nodes:
            raise GraphError(f"node id {node.id} is already used")
        self.nodes[node.id] = node
        self.next_id = max(self.next_id, node.id + 1)
        self._emit("node_added", node.id)
        return node

    def remove_node(self, node_id: int) -> tuple[Node, list[Edge]]:
        """Remove a node and its edges; returns both so the removal can be undone."""
        node = self.node(node_id)
        removed = [e for e in self.edges if node_id in (e.src, e.dst)]
        for edge in removed:
            self.disconnect(edge)
        del self.nodes[node_id]
        self._emit("node_removed", node_id)
        return node, removed

    def check_connection(self, edge: Edge) -> str | None:
        """Why ``edge`` cannot be added, in user words, or None when it can."""
        if edge.src not in self.nodes or edge.dst not in self.nodes:
            return "both ends of a connection must be existing nodes"
        src, dst = self.nodes[edge.src], self.nodes[edge.dst]
        if src.spec and not src.spec.output_port(edge.src_port):
            return f"{src.label} has no output port '{edge.src_port}'"
        if dst.spec and not dst.spec.input_port(edge.dst_port):
            return f"{dst.label} has no input port '{edge.dst_port}'"
        taken = self.edge_into(edge.dst, edge.dst_port)
        if taken is not None:
            return (f"input '{edge.dst_port}' of {dst.label} is already connected to "
                    f"{self.nodes[taken.src].label}; remove that connection first")
        if self.would_create_cycle(edge.src, edge.dst):
            return (f"connecting {src.label} to {dst.label} would create a cycle; "
                    "networks must flow one way")
        return None

    def connect(self, edge: Edge, check: bool = True) -> Edge:
        """Add ``edge``; GraphError with the reason when it is refused.

        ``check=False`` skips the editor's rules (used when loading a file, so validation
        can report problems in a saved graph instead of refusing to open it).
        """
        if check:
            problem = self.check_connection(edge)
            if problem:
                raise GraphError(problem)
        elif edge.src not in self.nodes or edge.dst not in self.nodes:
            raise GraphError(f"connection {edge.src} -> {edge.dst} names a missing node")
        self.edges.append(edge)
        self._emit("edge_added", edge=edge)
        return edge

    def disconnect(self, edge: Edge) -> None:
        try:
            self.edges.remove(edge)
        except ValueError:
            raise GraphError("that connection does not exist") from None
        self._emit("edge_removed", edge=edge)

    def set_param(self, node_id: int, name: str, value: Any) -> Any:
        """Set one parameter; returns the old value (for undo)."""
        node = self.node(node_id)
        old = node.param(name)
        node.params[name] = value
        self._emit("node_changed", node_id)
        return old

    def rename(self, node_id: int, name: str) -> str:
        node = self.node(node_id)
        old, node.name = node.name, _given_name(name, "node")
        self._emit("node_changed", node_id)
        return old

    def set_node_options(self, node_id: int, *, frozen: bool | None = None,
                         lr_mult: float | None = None) -> None:
        node = self.node(node_id)
        if frozen is not None:
            node.frozen = frozen
        if lr_mult is not None:
            node.lr_mult = lr_mult
        self._emit("node_changed", node_id)

    def move(self, node_id: int, pos: tuple[float, float]) -> tuple[float, float]:
        node = self.node(node_id)
        old, node.pos = node.pos, (float(pos[0]), float(pos[1]))
        self._emit("node_moved", node_id)
        return old

    def clear(self) -> None:
        self.nodes.clear()
        self.edges.clear()
        self.groups.clear()
        self.next_id = 1
        self._emit("reset")

    def replace_with(self, other: Graph) -> None:
        """Take over another graph's contents (load, revert) and tell observers once."""
        self.nodes = copy.deepcopy(other.nodes)
        self.edges = list(other.edges)
        self.groups = copy.deepcopy(other.groups)
        self.next_id = other.next_id
        self._emit("reset")

    # -- groups -------------------------------------------------------------------------------
    def group(self, group_id: str) -> Group:
        try:
            return self.groups[group_id]
        except KeyError:
            raise GraphError(f"there is no group with id {group_id!r}") from None
    def add_group(self, node_ids: Iterable[int], name: str | None = None, role: str = "",
                  collapsed: bool = False, group_id: str | None = None,
                  child_groups: Iterable[str] = ()) -> Group:
        """Group nodes and groups that share a parent (or none): the new group takes their
        place inside that parent. GraphError says why not."""
        ids = list(dict.fromkeys(node_ids))
        children = list(dict.fromkeys(child_groups))
        if not ids and not children:
            raise GraphError("select at least one layer to group")
        parent = self.common_parent(ids, children)
        self._check_role(role, None)
        if group_id is None:
            group_id = self.new_group_id()
        elif group_id in self.groups:
            raise GraphError(f"group id {group_id!r} is already used")
        name = (name or "").strip() or self.unique_group_name()
        if parent:
            holder = self.groups[parent]
            holder.node_ids = [i for i in holder.node_ids if i not in set(ids)]
        for child in children:
            self.groups[child].parent = group_id
        group = Group(group_id, name, ids, bool(collapsed), role, parent)
        self.groups[group_id] = group
        self._emit("group_added", group_id=group_id)
        return group

    def common_parent(self, ids: Iterable[int], children: Iterable[str] = ()) -> str:
        """The group that directly holds all of ``ids`` and ``children`` ("" for none), where
        a new group of them goes; GraphError when they sit in different groups."""
        places: dict[str, str] = {}
        for node_id in ids:
            node = self.node(node_id)
            group = self.group_of(node_id)
            places.setdefault(group.id if group else "", node.label)
        for child in children:
            places.setdefault(self.parent_of(child), f"group '{self.group(child).name}'")
        if len(places) > 1:
            inside = next(p for p in places if p)
            raise GraphError(f"{places[inside]} is already in group "
                             f"'{self.groups[inside].name}'; ungroup it first (a group "
                             "nests inside one group: pick layers of the same group)")
        return next(iter(places), "")

    def insert_group(self, group: Group, child_groups: Iterable[str] = ()) -> Group:
        """Put back a removed group with its id, members, nested groups and state (undo of
        Ungroup): its layers leave the parent again, ``child_groups`` go back inside."""
        if group.id in self.groups:
            raise GraphError(f"group id {group.id!r} is already used")
        parent = group.parent if group.parent in self.groups else ""
        if parent:
            holder = self.groups[parent]
            holder.node_ids = [i for i in holder.node_ids if i not in set(group.node_ids)]
        restored = Group(group.id, group.name, list(group.node_ids), group.collapsed,
                         group.role, parent)
        for child in child_groups:
            if child in self.groups:
                self.groups[child].parent = group.id
        self.groups[group.id] = restored
        self._emit("group_added", group_id=group.id)
        return restored

    def remove_group(self, group_id: str) -> Group:
        """Ungroup: the group goes, its nodes and nested groups stay, in its parent. Returns
        it so the removal can be undone (``insert_group`` with its ``child_groups``)."""
        group = self.group(group_id)
        parent = self.parent_of(group_id)
        children = self.child_groups(group_id)
        for child in children:
            self.groups[child].parent = parent
        if parent:
            self.groups[parent].node_ids.extend(group.node_ids)
        del self.groups[group_id]
        self._emit("group_removed", group_id=group_id)
        return group

    def rename_group(self, group_id: str, name: str) -> str:
        group = self.group(group_id)
        old, group.name = group.name, _given_name(name, "group")
        self._emit("group_changed", group_id=group_id)
        return old

    def set_group_collapsed(self, group_id: str, collapsed: bool) -> bool:
        group = self.group(group_id)
        old, group.collapsed = group.collapsed, bool(collapsed)
        self._emit("group_changed", group_id=group_id)
        return old

    def set_group_role(self, group_id: str, role: str) -> str:
        """Mark a group as a GAN's generator or discriminator ("" for none)."""
        group = self.group(group_id)
        self._check_role(role, group_id)
        old, group.role = group.role, role
        self._emit("group_changed", group_id=group_id)
        return old

    def _check_role(self, role: str, group_id: str | None) -> None:
        if role not in GROUP_ROLES:
            raise GraphError(f"a group's role must be one of {', '.join(map(repr, GROUP_ROLES))}"
                             f", not {role!r}")
        other = self.group_by_role(role)
        if other is not None and other.id != group_id:
            raise GraphError(f"group '{other.name}' is already the {role}; a project has one "
                             f"{role}, so clear that group's role first")

    # -- copying and serialization ------------------------------------------------------------
    def copy(self) -> Graph:
        """A deep copy without observers."""
        clone = self._copy_without_nodes()
        clone.nodes = {i: _copied_node(n) for i, n in self.nodes.items()}
        clone._node_revisions = {i: self.node_revision(i) for i in self.nodes}
        return clone

    def snapshot(self, previous: Graph | None = None) -> Graph:
        """A copy for a reader on another thread (the editor's analysis) that shares with
        ``previous``, an earlier snapshot, the nodes whose revision has not moved: snapshots
        are never edited, and copying 5,000 nodes per edit cost more than analysing them."""
        if previous is None:
            return self.copy()
        clone = self._copy_without_nodes()
        old, revisions = previous.nodes, previous._node_revisions
        nodes: dict[int, Node] = {}
        for node_id, node in self.nodes.items():
            kept = old.get(node_id)
            revision = self.node_revision(node_id)
            if kept is None or revisions.get(node_id) != revision:
                kept = _copied_node(node)
            nodes[node_id] = kept
        clone.nodes = nodes
        clone._node_revisions = {i: self.node_revision(i) for i in nodes}
        return clone

    def _copy_without_nodes(self) -> Graph:
        clone = Graph()
        clone.edges = list(self.edges)
        clone.groups = copy.deepcopy(self.groups)
        clone.next_id = self.next_id
        if self._order is not None and self._order[0] == self._order_key():
            clone._order = ((clone._structure_revision, id(clone.edges), len(clone.edges),
                             len(self.nodes)), self._order[1])  # same structure, same order
        return clone

    def subgraph_dict(self, node_ids: Iterable[int]) -> dict[str, Any]:
        """The chosen nodes and the edges between them, as a dict (copy/paste, import)."""
        ids = set(node_ids)
        return {
            "nodes": [_node_dict(self.nodes[i]) for i in sorted(ids)],
            "edges": [e.to_dict() for e in self.edges if e.src in ids and e.dst in ids],
            "positions": {str(i): list(self.nodes[i].pos) for i in sorted(ids)},
        }

    def to_dict(self) -> dict[str, Any]:
        """The document without layout (positions are saved separately, see layout())."""
        out: dict[str, Any] = {
            "nodes": [_node_dict(n) for n in sorted(self.nodes.values(), key=lambda n: n.id)],
            "edges": [e.to_dict() for e in sorted(self.edges)],
            "next_id": self.next_id,
        }
        groups = {gid: g.to_dict(self.nodes) for gid, g in self.groups.items()  # made order
                  if self.group_members(gid)}
        if groups:  # optional: files without groups stay as they were
            out["groups"] = groups
        return out

    def layout(self) -> dict[str, list[float]]:
        return {str(n.id): [n.pos[0], n.pos[1]] for n in self.nodes.values()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], layout: dict[str, Any] | None = None) -> Graph:
        """Rebuild a graph; GraphError names the field when the data is malformed."""
        graph = cls()
        layout = layout or {}
        try:
            for raw in data.get("nodes", []):
                node_id = _require(raw, "id", int, "node")
                layer_id = _require(raw, "type", str, f"node {node_id}")
                spec = catalog.get(layer_id)
                params = raw.get("params", {})
                if not isinstance(params, dict):
                    raise GraphError(f"node {node_id} field 'params' must be an object")
                params = dict(params)
                if spec:
                    for p in spec.params:
                        if p.name in params:
                            params[p.name] = p.coerce(params[p.name])
                pos = layout.get(str(node_id), raw.get("pos", (0.0, 0.0)))
                node = Node(node_id, layer_id, str(raw.get("name") or f"node_{node_id}"),
                            {**(spec.defaults() if spec else {}), **params},
                            (float(pos[0]), float(pos[1])),
                            bool(raw.get("frozen", False)), float(raw.get("lr_mult", 1.0)))
                if node_id in graph.nodes:
                    raise GraphError(f"node id {node_id} appears twice")
                graph.nodes[node_id] = node
            for raw in data.get("edges", []):
                edge = Edge(_require(raw, "src", int, "edge"), _require(raw, "src_port", str,
                            "edge"), _require(raw, "dst", int, "edge"),
                            _require(raw, "dst_port", str, "edge"))
                graph.connect(edge, check=False)
            next_id = int(data.get("next_id", 1))
            graph.groups = _groups_from(data.get("groups", {}), graph.nodes)
        except (TypeError, AttributeError, IndexError, ValueError, OverflowError) as exc:
            if isinstance(exc, GraphError):
                raise
            raise GraphError(f"malformed graph: {exc}") from None
        graph.next_id = max([next_id, *(i + 1 for i in graph.nodes)])
        return graph


def _given_name(name: str, what: str) -> str:
    """A rename's new name without surrounding blanks; GraphError when nothing is left."""
    name = name.strip()
    if not name:
        raise GraphError(f"a {what} name cannot be empty")
    return name


def _node_dict(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"id": node.id, "type": node.type, "name": node.name,
                           "params": {k: list(v) if isinstance(v, tuple) else v
                                      for k, v in node.params.items()}}
    if node.frozen:
        out["frozen"] = True
    if node.lr_mult != 1.0:
        out["lr_mult"] = node.lr_mult
    return out


def _groups_from(raw: Any, nodes: dict[int, Node]) -> dict[str, Group]:
    """Groups of a file. Members that do not exist are dropped; a node named by two groups,
    or a parent that is missing or makes a cycle, is kept, so the file still opens and
    validation reports it."""
    if not isinstance(raw, dict):
        raise GraphError(f"'groups' must be an object, not {type(raw).__name__}")
    groups: dict[str, Group] = {}
    for group_id, data in raw.items():
        where = f"group {group_id!r}"
        if not isinstance(data, dict):
            raise GraphError(f"{where} must be an object")
        name = data.get("name", group_id)
        ids = data.get("node_ids", [])
        if not isinstance(name, str) or not isinstance(ids, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise GraphError(f"{where} needs a text 'name' and a list of node ids 'node_ids'")
        role = data.get("role", "")
        if role not in GROUP_ROLES:
            raise GraphError(f"{where} field 'role' must be one of "
                             f"{', '.join(map(repr, GROUP_ROLES))}, not {role!r}")
        parent = data.get("parent", "")
        if not isinstance(parent, str):
            raise GraphError(f"{where} field 'parent' must be a group id, not {parent!r}")
        groups[str(group_id)] = Group(str(group_id), name.strip() or str(group_id),
                                      [i for i in dict.fromkeys(ids) if i in nodes],
                                      bool(data.get("collapsed", False)), role, parent)
    return groups


def _require(raw: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if not isinstance(raw, dict) or key not in raw:
        raise GraphError(f"{where} is missing its '{key}' field")
    value = raw[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GraphError(f"{where} field '{key}' must be {kind.__name__}, not {value!r}")
    return value
