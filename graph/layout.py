"""Node geometry and automatic layout, as plain arithmetic (no Qt).

The editor's items and commands, the example builders and the importers all place nodes with
it, so a generated or imported graph opens looking like one laid out in the editor.

A node's position is the top-left corner of its rectangle. Sizes depend only on the layer's
port count, so the auto-layout command can compute positions without any canvas item.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import networkx as nx

from graph import catalog
from graph.model import Graph, Node

NODE_WIDTH = 184.0
HEADER_HEIGHT = 26.0
BODY_MIN_HEIGHT = 46.0  # two text lines: the parameter summary and the output shape
PORT_SPACING = 18.0
PORT_RADIUS = 5.5
CORNER_RADIUS = 7.0

COLUMN_GAP = 104.0  # horizontal space between auto-layout columns (room for shape labels)
ROW_GAP = 36.0
SKIP_SLOT = 56.0  # height reserved in a column for a wire that skips it
MAX_COLUMNS = 5  # more generations than this wrap into another band below
BAND_GAP = 90.0  # vertical space between bands (room for the wire back to the left)

Slot = int | tuple[str, int, int]  # a node id, or a placeholder for a long wire


@cache
def port_names(layer_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Input and output port names of a layer type (unknown types get one of each)."""
    spec = catalog.get(layer_id)
    if spec is None:
        return ("in",), ("out",)
    return tuple(p.name for p in spec.inputs), tuple(p.name for p in spec.outputs)


@cache
def body_height(layer_id: str) -> float:
    inputs, outputs = port_names(layer_id)
    count = max(len(inputs), len(outputs), 1)
    return max(BODY_MIN_HEIGHT, count * PORT_SPACING + 10.0)


def node_size(layer_id: str) -> tuple[float, float]:
    """Width and height of a node of this layer type."""
    return NODE_WIDTH, HEADER_HEIGHT + body_height(layer_id)


@cache
def port_offset(layer_id: str, port: str, is_input: bool) -> tuple[float, float]:
    """Centre of a port relative to the node's top-left corner."""
    inputs, outputs = port_names(layer_id)
    names = inputs if is_input else outputs
    index = names.index(port) if port in names else 0
    count = max(len(names), 1)
    body = body_height(layer_id)
    y = HEADER_HEIGHT + body / 2 + (index - (count - 1) / 2) * PORT_SPACING
    return (0.0 if is_input else NODE_WIDTH), y


def auto_layout(graph: Graph) -> dict[int, tuple[float, float]]:
    """Positions for every node: one column per topological generation, left to right.

    Columns are centred on a common horizontal line. A connection that skips columns (a
    residual branch) reserves a slot in every column it crosses, so its wire runs beside the
    layers it skips instead of behind them. Within a column, nodes are ordered by the mean row
    of their predecessors (fewer crossings), then by their current height. Cycles (which
    validation reports) are collapsed so layout still works on a broken graph.
    """
    if not graph.nodes:
        return {}
    g = nx.DiGraph()
    g.add_nodes_from(graph.nodes)
    g.add_edges_from((e.src, e.dst) for e in graph.edges)
    condensed = nx.condensation(g)
    members = condensed.graph["mapping"]  # node id -> component
    by_component: dict[int, list[int]] = {}
    for node_id in graph.nodes:
        by_component.setdefault(members[node_id], []).append(node_id)
    columns: list[list[Slot]] = []
    column_of: dict[int, int] = {}
    for index, generation in enumerate(nx.topological_generations(condensed)):
        column: list[Slot] = sorted(n for c in generation for n in by_component[c])
        column_of.update((n, index) for n in column)
        columns.append(column)

    # Layered graph: long edges become chains through placeholder slots ("d", edge, column).
    preds: dict[Slot, list[Slot]] = {}
    for number, (u, v) in enumerate(sorted(set(g.edges()))):
        cu, cv = column_of[u], column_of[v]
        if cv <= cu:
            continue  # inside a cycle
        previous: Slot = u
        for col in range(cu + 1, cv):
            dummy: Slot = ("d", number, col)
            columns[col].append(dummy)
            preds.setdefault(dummy, []).append(previous)
            previous = dummy
        preds.setdefault(v, []).append(previous)

    row_of: dict[Slot, float] = {}
    ordered: list[list[Slot]] = []
    for column in columns:
        def key(slot: Slot) -> tuple[float, int, float, str]:
            rows = [row_of[p] for p in preds.get(slot, []) if p in row_of]
            bary = sum(rows) / len(rows) if rows else float("inf")
            if isinstance(slot, int):
                return bary, 0, graph.nodes[slot].pos[1], f"{slot:09d}"
            return bary, 1, 0.0, str(slot)
        column = sorted(column, key=key)
        for row, slot in enumerate(column):
            row_of[slot] = float(row)
        ordered.append(column)

    left, top = _anchor(graph.nodes.values())
    heights = [[node_size(graph.nodes[s].type)[1] if isinstance(s, int) else SKIP_SLOT
                for s in column] for column in ordered]
    totals = [sum(h) + ROW_GAP * (len(h) - 1) for h in heights]
    positions: dict[int, tuple[float, float]] = {}
    bands = -(-len(ordered) // MAX_COLUMNS)  # long networks wrap into bands of columns
    per_band = -(-len(ordered) // bands)
    band_top = top
    for band in range(bands):
        indices = range(band * per_band, min(len(ordered), (band + 1) * per_band))
        band_height = max(totals[i] for i in indices)
        centre = band_top + band_height / 2
        for offset, index in enumerate(indices):
            y = centre - totals[index] / 2
            x = left + offset * (NODE_WIDTH + COLUMN_GAP)
            for slot, height in zip(ordered[index], heights[index], strict=True):
                if isinstance(slot, int):
                    positions[slot] = (round(x), round(y))
                y += height + ROW_GAP
        band_top += band_height + BAND_GAP
    return positions


def _anchor(nodes: Iterable[Node]) -> tuple[float, float]:
    """Left edge and top of the current drawing, so a layout does not jump away."""
    items = list(nodes)
    return float(round(min(n.pos[0] for n in items))), float(round(min(n.pos[1] for n in items)))


def graph_bounds(nodes: list[Node]) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the given nodes' rectangles."""
    rects = [(n.pos[0], n.pos[1], *node_size(n.type)) for n in nodes]
    return (min(r[0] for r in rects), min(r[1] for r in rects),
            max(r[0] + r[2] for r in rects), max(r[1] + r[3] for r in rects))
