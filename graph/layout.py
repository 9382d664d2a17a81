"""Automatic left-to-right layout from the graph's topological generations."""

from __future__ import annotations

import networkx as nx

from graph.model import Graph

COLUMN_SPACING = 240.0
ROW_SPACING = 130.0


def auto_layout(graph: Graph, origin: tuple[float, float] = (0.0, 0.0)
                ) -> dict[int, tuple[float, float]]:
    """Positions that put each topological generation in a column, centred vertically.

    An invalid graph with cycles still gets a layout: cycle edges are ignored for placement.
    """
    g = nx.DiGraph(graph.to_networkx())
    while not nx.is_directed_acyclic_graph(g):
        g.remove_edge(*nx.find_cycle(g)[0][:2])
    positions: dict[int, tuple[float, float]] = {}
    for column, generation in enumerate(nx.topological_generations(g)):
        ids = sorted(generation)
        top = origin[1] - (len(ids) - 1) * ROW_SPACING / 2
        for row, node_id in enumerate(ids):
            positions[node_id] = (origin[0] + column * COLUMN_SPACING, top + row * ROW_SPACING)
    return positions
