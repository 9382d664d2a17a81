"""Undo commands: every user edit of the graph is one of these, pushed on a QUndoStack.

Each command touches only the ``Graph`` model, never canvas items: the scene follows the model
through its events, so undo and redo redraw the canvas the same way an edit does. Commands that
delete keep a serialized snapshot (node dicts with their ids, plus their edges) so undo gives
back exactly the same ids and connections. Multi-item edits are one command (delete, paste,
move, auto layout) or a macro (insert a layer into an edge).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from PySide6.QtGui import QUndoCommand

from graph.model import Edge, Graph, Node
from gui.text import counted

# QUndoCommand.id() values for commands that merge with their successor.
MOVE_COMMAND_ID = 1001

_drag_ids = itertools.count(1)


def new_drag_id() -> int:
    """A fresh id for one mouse drag: MoveNodesCommands with the same id merge into one step."""
    return next(_drag_ids)


def _short(node: Node) -> str:
    return f"{node.type} '{node.name}'"


def _edge_dicts(edges: Iterable[Edge]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in edges]


def _edges_from(dicts: Iterable[dict[str, Any]]) -> list[Edge]:
    return [Edge(d["src"], d["src_port"], d["dst"], d["dst_port"]) for d in dicts]


def _nodes_from_snapshot(snapshot: dict[str, Any]) -> list[Node]:
    """Rebuild Node objects (params coerced, positions restored) from a subgraph dict."""
    restored = Graph.from_dict({"nodes": snapshot["nodes"]}, layout=snapshot.get("positions"))
    return [restored.nodes[raw["id"]] for raw in snapshot["nodes"]]


class AddNodeCommand(QUndoCommand):
    """Add one layer; redo after undo brings back the same id and name."""

    def __init__(self, graph: Graph, layer_id: str, pos: tuple[float, float],
                 params: dict[str, Any] | None = None, name: str | None = None,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(f"Add {layer_id}", parent)
        self.graph = graph
        self.layer_id = layer_id
        self.pos = (float(pos[0]), float(pos[1]))
        self.params = dict(params or {})
        self.name = name
        self.node_id: int | None = None

    def redo(self) -> None:
        node = self.graph.add_node(self.layer_id, self.params, self.pos, self.name,
                                   node_id=self.node_id)
        self.node_id, self.name = node.id, node.name
        self.setText(f"Add {_short(node)}")

    def undo(self) -> None:
        if self.node_id is not None and self.node_id in self.graph.nodes:
            self.graph.remove_node(self.node_id)


class RemoveItemsCommand(QUndoCommand):
    """Delete nodes (with all their edges) and loose edges in one step.

    Undo restores a serialized snapshot: the nodes with their ids, names, params, options and
    positions, then every edge that was removed, unchecked (they were valid before).
    """

    def __init__(self, graph: Graph, node_ids: Iterable[int] = (),
                 edges: Iterable[Edge] = (), parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        ids = sorted({i for i in node_ids if i in graph.nodes})
        self.node_ids = ids
        self.snapshot = graph.subgraph_dict(ids)
        touching = [e for e in graph.edges if e.src in ids or e.dst in ids]
        loose = [e for e in edges if e in graph.edges and e not in touching]
        self.loose_edges = _edge_dicts(loose)
        self.all_edges = _edge_dicts(touching + loose)
        if ids and not loose:
            what = (_short(graph.nodes[ids[0]]) if len(ids) == 1 else f"{len(ids)} layers")
        elif loose and not ids:
            what = "connection" if len(loose) == 1 else f"{len(loose)} connections"
        else:
            what = f"{len(ids)} layers and {len(loose)} connections"
        self.setText(f"Delete {what}")

    def is_empty(self) -> bool:
        return not self.node_ids and not self.loose_edges

    def redo(self) -> None:
        for edge in _edges_from(self.loose_edges):
            if edge in self.graph.edges:
                self.graph.disconnect(edge)
        for node_id in self.node_ids:
            if node_id in self.graph.nodes:
                self.graph.remove_node(node_id)

    def undo(self) -> None:
        for node in _nodes_from_snapshot(self.snapshot):
            self.graph.insert_node(node)
        for edge in _edges_from(self.all_edges):
            if edge not in self.graph.edges:
                self.graph.connect(edge, check=False)


class RemoveNodesCommand(RemoveItemsCommand):
    """Delete nodes and their edges (see RemoveItemsCommand)."""

    def __init__(self, graph: Graph, ids: Iterable[int],
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(graph, ids, (), parent)


class ConnectCommand(QUndoCommand):
    """Add one edge. Check it first with ``graph.check_connection``: redo must not fail."""

    def __init__(self, graph: Graph, edge: Edge, parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.edge = edge
        src, dst = graph.nodes.get(edge.src), graph.nodes.get(edge.dst)
        names = (f"{src.name}.{edge.src_port} to {dst.name}.{edge.dst_port}"
                 if src and dst else "")
        self.setText(f"Connect {names}".strip())

    def redo(self) -> None:
        self.graph.connect(self.edge)

    def undo(self) -> None:
        if self.edge in self.graph.edges:
            self.graph.disconnect(self.edge)


class DisconnectCommand(QUndoCommand):
    """Remove one edge."""

    def __init__(self, graph: Graph, edge: Edge, parent: QUndoCommand | None = None) -> None:
        super().__init__("Delete connection", parent)
        self.graph = graph
        self.edge = edge

    def redo(self) -> None:
        if self.edge in self.graph.edges:
            self.graph.disconnect(self.edge)

    def undo(self) -> None:
        self.graph.connect(self.edge, check=False)


class MoveNodesCommand(QUndoCommand):
    """Move nodes: ``moves`` maps node id to (old position, new position).

    Commands pushed during one mouse drag share a ``drag_id`` and merge, so a drag is one
    undo step however many mouse moves it took. A drag that ends where it began disappears.
    """

    def __init__(self, graph: Graph,
                 moves: dict[int, tuple[tuple[float, float], tuple[float, float]]],
                 drag_id: int | None = None, parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.moves = {i: (tuple(map(float, old)), tuple(map(float, new)))
                      for i, (old, new) in moves.items()}
        self.drag_id = drag_id
        self._update_text()

    def _update_text(self) -> None:
        if len(self.moves) == 1:
            node = self.graph.nodes.get(next(iter(self.moves)))
            self.setText(f"Move {_short(node)}" if node else "Move layer")
        else:
            self.setText(f"Move {len(self.moves)} layers")

    def id(self) -> int:
        return MOVE_COMMAND_ID if self.drag_id is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, MoveNodesCommand) or other.drag_id != self.drag_id:
            return False
        for node_id, (old, new) in other.moves.items():
            first = self.moves.get(node_id, (old, new))[0]
            self.moves[node_id] = (first, new)
        self._update_text()
        if all(old == new for old, new in self.moves.values()):
            self.setObsolete(True)
        return True

    def _apply(self, index: int) -> None:
        for node_id, positions in self.moves.items():
            if node_id in self.graph.nodes:
                self.graph.move(node_id, positions[index])

    def redo(self) -> None:
        self._apply(1)

    def undo(self) -> None:
        self._apply(0)


class NodeDrag:
    """One mouse drag of layers (from the canvas or a group's frame): every position it
    reaches is a MoveNodesCommand under the drag's id, so the whole drag is one undo step.
    The pointer must travel 2 pixels before the layers follow, so a click moves nothing."""

    def __init__(self, graph: Graph, node_ids: Iterable[int], x: float, y: float) -> None:
        self.graph = graph
        self.drag_id = new_drag_id()
        self.start = (x, y)
        self.positions = {i: graph.nodes[i].pos for i in sorted(node_ids) if i in graph.nodes}
        self.moved = False

    def move_to(self, x: float, y: float) -> MoveNodesCommand | None:
        """The command that puts the dragged layers under the pointer at (x, y); None while
        the pointer has not left the start (or nothing is dragged)."""
        if not self.positions:
            return None
        dx, dy = round(x - self.start[0]), round(y - self.start[1])
        if not self.moved and abs(dx) + abs(dy) < 2:
            return None
        self.moved = True
        moves = {i: (p, (p[0] + dx, p[1] + dy)) for i, p in self.positions.items()}
        return MoveNodesCommand(self.graph, moves, drag_id=self.drag_id)


class SetParamCommand(QUndoCommand):
    """Change one parameter of one node."""

    def __init__(self, graph: Graph, node_id: int, name: str, value: Any,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.node_id = node_id
        self.name = name
        self.value = value
        node = graph.node(node_id)
        self.old = node.param(name)
        self.setText(f"Set {node.name}.{name}")

    def redo(self) -> None:
        self.old = self.graph.set_param(self.node_id, self.name, self.value)

    def undo(self) -> None:
        self.graph.set_param(self.node_id, self.name, self.old)


class RenameCommand(QUndoCommand):
    """Rename one node (check the name is free before pushing)."""

    def __init__(self, graph: Graph, node_id: int, name: str,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.node_id = node_id
        self.name = name.strip()
        self.old = graph.node(node_id).name
        self.setText(f"Rename '{self.old}' to '{self.name}'")

    def redo(self) -> None:
        self.old = self.graph.rename(self.node_id, self.name)

    def undo(self) -> None:
        self.graph.rename(self.node_id, self.old)


class SetNodeOptionsCommand(QUndoCommand):
    """Change a node's training options: frozen (transfer learning) and learning-rate factor."""

    def __init__(self, graph: Graph, node_id: int, *, frozen: bool | None = None,
                 lr_mult: float | None = None, parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.node_id = node_id
        node = graph.node(node_id)
        self.new = {"frozen": frozen, "lr_mult": lr_mult}
        self.old = {"frozen": node.frozen if frozen is not None else None,
                    "lr_mult": node.lr_mult if lr_mult is not None else None}
        if frozen is not None and lr_mult is None:
            self.setText(f"{'Freeze' if frozen else 'Unfreeze'} {_short(node)}")
        else:
            self.setText(f"Change options of {_short(node)}")

    def redo(self) -> None:
        self.graph.set_node_options(self.node_id, **self.new)

    def undo(self) -> None:
        self.graph.set_node_options(self.node_id, **self.old)


class PasteCommand(QUndoCommand):
    """Insert a copied subgraph (``Graph.subgraph_dict``) shifted by ``offset``.

    Pasted nodes get fresh ids and unique names; edges between them are kept with the new ids
    (edges to nodes outside the copy were never in the dict). ``new_ids`` lists the created
    nodes in the order of the dict so the canvas can select them.
    """

    def __init__(self, graph: Graph, subgraph: dict[str, Any],
                 offset: tuple[float, float] = (30.0, 30.0),
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.subgraph = subgraph
        self.offset = (float(offset[0]), float(offset[1]))
        self.new_ids: list[int] = []
        self._created: dict[str, Any] | None = None  # snapshot of what the first redo made
        count = len(subgraph.get("nodes", []))
        self.setText(f"Paste {counted(count, 'layer')}")

    def redo(self) -> None:
        if self._created is None:
            self._first_redo()
            return
        for node in _nodes_from_snapshot(self._created):
            self.graph.insert_node(node)
        for edge in _edges_from(self._created["edges"]):
            self.graph.connect(edge, check=False)

    def _first_redo(self) -> None:
        nodes = _nodes_from_snapshot({"nodes": self.subgraph.get("nodes", []),
                                      "positions": self.subgraph.get("positions", {})})
        mapping: dict[int, int] = {}
        for node in nodes:
            new_id = self.graph.next_id
            name = node.name if self.graph.node_by_name(node.name) is None else \
                self.graph.unique_name(_base_name(node.name))
            pos = (node.pos[0] + self.offset[0], node.pos[1] + self.offset[1])
            self.graph.insert_node(Node(new_id, node.type, name, dict(node.params), pos,
                                        node.frozen, node.lr_mult))
            mapping[node.id] = new_id
            self.new_ids.append(new_id)
        for edge in _edges_from(self.subgraph.get("edges", [])):
            if edge.src in mapping and edge.dst in mapping:
                self.graph.connect(Edge(mapping[edge.src], edge.src_port,
                                        mapping[edge.dst], edge.dst_port), check=False)
        self._created = self.graph.subgraph_dict(self.new_ids)

    def undo(self) -> None:
        for node_id in reversed(self.new_ids):
            if node_id in self.graph.nodes:
                self.graph.remove_node(node_id)


def _base_name(name: str) -> str:
    """"conv_3" -> "conv", so a pasted copy becomes "conv_4", not "conv_3_1"."""
    head, sep, tail = name.rpartition("_")
    return head if sep and tail.isdigit() and head else name


class AutoLayoutCommand(MoveNodesCommand):
    """Arrange all nodes left to right by topological generation, columns centred vertically:
    one move of every node, that never merges with a drag."""

    def __init__(self, graph: Graph, parent: QUndoCommand | None = None) -> None:
        from graph.layout import auto_layout  # layout math only, no items

        new = auto_layout(graph)
        super().__init__(graph, {i: (graph.nodes[i].pos, pos) for i, pos in new.items()},
                         parent=parent)

    def _update_text(self) -> None:
        self.setText("Auto layout")


class InsertOnWireCommand(QUndoCommand):
    """Put a new layer on a wire (src -> new layer -> dst) in one undo step: the quick fix
    "Insert Flatten before fc1"."""

    def __init__(self, graph: Graph, edge: Edge, layer_id: str,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        src, dst = graph.nodes[edge.src], graph.nodes[edge.dst]
        pos = ((src.pos[0] + dst.pos[0]) / 2, (src.pos[1] + dst.pos[1]) / 2)
        self.graph, self.edge = graph, edge
        self.add = AddNodeCommand(graph, layer_id, pos)
        self.setText(f"Insert {layer_id} before {dst.name}")
        self._wires: list[QUndoCommand] = []

    def redo(self) -> None:
        self.add.redo()
        new = self.add.node_id
        assert new is not None
        spec = self.graph.nodes[new].spec
        assert spec is not None
        self._wires = [DisconnectCommand(self.graph, self.edge),
                       ConnectCommand(self.graph, Edge(self.edge.src, self.edge.src_port, new,
                                                       spec.inputs[0].name)),
                       ConnectCommand(self.graph, Edge(new, spec.outputs[0].name, self.edge.dst,
                                                       self.edge.dst_port))]
        for wire in self._wires:
            wire.redo()

    def undo(self) -> None:
        for wire in reversed(self._wires):
            wire.undo()
        self.add.undo()
