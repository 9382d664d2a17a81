"""The parts a graph is made of: nodes, edges, groups, and the events that say what changed.

Plain data with their file forms; ``graph.model.Graph`` holds them and keeps them consistent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from graph import catalog


class GraphError(ValueError):
    """A mutation that the model refuses (unknown node, taken port, ...); message is for users."""


@dataclass
class Node:
    id: int
    type: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    pos: tuple[float, float] = (0.0, 0.0)
    frozen: bool = False  # parameters excluded from training (transfer learning)
    lr_mult: float = 1.0  # learning-rate multiplier for this node's parameters

    @property
    def spec(self) -> catalog.LayerSpec | None:
        return catalog.get(self.type)

    @property
    def label(self) -> str:
        """How messages name the node: "Linear 'fc1'"."""
        return f"{self.type} '{self.name}'"

    def param(self, name: str) -> Any:
        """The value of a parameter, falling back to the catalog default (None if unknown)."""
        if name in self.params:
            return self.params[name]
        spec = self.spec
        param = next((p for p in spec.params if p.name == name), None) if spec else None
        return param.default if param else None

    def all_params(self) -> dict[str, Any]:
        spec = self.spec
        return {**(spec.defaults() if spec else {}), **self.params}


@dataclass(frozen=True, order=True)
class Edge:
    """A wire from an output port of ``src`` to an input port of ``dst``."""

    src: int
    src_port: str
    dst: int
    dst_port: str

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "src_port": self.src_port,
                "dst": self.dst, "dst_port": self.dst_port}


@dataclass
class Group:
    """A named set of nodes, drawn as one frame or, collapsed, as one block."""

    id: str  # stable key in the file ("g1", "g2", ...)
    name: str
    node_ids: list[int] = field(default_factory=list)  # may hold deleted ids (see module doc)
    collapsed: bool = False
    role: str = ""  # a key of graph.roles.GROUP_ROLES
    parent: str = ""  # the id of the group this one sits in ("" at the top)

    def to_dict(self, alive: Iterable[int] | None = None) -> dict[str, Any]:
        """The file form; ``alive`` (node ids) drops members that no longer exist."""
        if alive is None:
            ids = list(self.node_ids)
        else:
            keep = set(alive)
            ids = [i for i in self.node_ids if i in keep]
        out: dict[str, Any] = {"name": self.name, "node_ids": ids,
                               "collapsed": self.collapsed}
        if self.role:
            out["role"] = self.role
        if self.parent:
            out["parent"] = self.parent
        return out


@dataclass(frozen=True)
class GraphEvent:
    """What changed. kind is one of KINDS; node_id, edge or group_id says what it changed."""

    kind: str
    node_id: int | None = None
    edge: Edge | None = None
    group_id: str | None = None


EVENT_KINDS = ("node_added", "node_removed", "node_changed", "node_moved",
               "edge_added", "edge_removed", "group_added", "group_removed", "group_changed",
               "reset")

Listener = Callable[[GraphEvent], None]
