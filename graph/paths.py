"""Queries over a graph's paths: what leads to what, cycles, and the dependency order.

``Graph`` mixes this in (as it does ``GroupTree`` for its groups); the queries read only its
``nodes`` and ``edges``, and the order cache its structural revision.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

    from graph.model import Edge, Node


class GraphPaths:
    """Path queries of a ``Graph``."""

    nodes: dict[int, Node]
    edges: list[Edge]
    _structure_revision: int
    _order: Any

    def would_create_cycle(self, src: int, dst: int) -> bool:
        """True when an edge src -> dst closes a cycle (dst already reaches src)."""
        if src == dst:
            return True
        import networkx as nx  # imported on use: half a second of the command line's start

        return nx.has_path(self.to_networkx(), dst, src)

    def leading_to(self, targets: Iterable[int], edges: Iterable[Edge] | None = None
                   ) -> set[int]:
        """Nodes with a path to one of ``targets``, the targets included: what an Output
        needs computed. ``edges`` (default: all) lets validation walk only its sound ones."""
        return _closure(targets, ((e.dst, e.src) for e in self._edges_among(edges)))

    def reached_from(self, starts: Iterable[int], edges: Iterable[Edge] | None = None
                     ) -> set[int]:
        """Nodes a path from one of ``starts`` reaches, the starts included: what an Input
        feeds."""
        return _closure(starts, ((e.src, e.dst) for e in self._edges_among(edges)))

    def _edges_among(self, edges: Iterable[Edge] | None) -> Iterator[Edge]:
        """The edges (default: all) whose both ends are nodes of this graph."""
        return (e for e in (self.edges if edges is None else edges)
                if e.src in self.nodes and e.dst in self.nodes)

    def to_networkx(self) -> nx.MultiDiGraph:
        """Nodes are ids (with a ``node`` attribute); edges carry their ``Edge``."""
        import networkx as nx

        g = nx.MultiDiGraph()
        for node in self.nodes.values():
            g.add_node(node.id, node=node)
        for edge in self.edges:
            g.add_edge(edge.src, edge.dst, edge=edge)
        return g

    def topological_order(self) -> list[int]:
        """Node ids in dependency order; raises networkx.NetworkXUnfeasible on a cycle.

        Computed once per structural revision and shared: one edit of a 5,000-layer graph
        used to sort it again in every panel. Parameter, name and position changes keep the
        order; the key also notices ``nodes``/``edges`` replaced or resized directly."""
        key = self._order_key()
        if self._order is None or self._order[0] != key:
            import networkx as nx

            self._order = (key, list(nx.lexicographical_topological_sort(self.to_networkx())))
        return list(self._order[1])

    def _order_key(self) -> tuple[int, int, int, int]:
        return (self._structure_revision, id(self.edges), len(self.edges), len(self.nodes))


def _closure(starts: Iterable[int], links: Iterable[tuple[int, int]]) -> set[int]:
    """``starts`` and every node a chain of (from, to) ``links`` leads to from them."""
    following: dict[int, list[int]] = {}
    for a, b in links:
        following.setdefault(a, []).append(b)
    seen = set(starts)
    stack = list(seen)
    while stack:
        for v in following.get(stack.pop(), ()):
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return seen
