"""Node geometry and automatic layout, as plain arithmetic (no Qt).

The editor's items and commands, the example builders and the importers all place nodes with
it, so a generated or imported graph opens looking like one laid out in the editor.

A node's position is the top-left corner of its rectangle. Sizes depend only on the layer's
port count, so the auto-layout command can compute positions without any canvas item.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import networkx as nx

from graph import catalog
from graph.model import Graph, Node

NODE_WIDTH = 184.0
HEADER_HEIGHT = 26.0
BODY_MIN_HEIGHT = 46.0  # two text lines: the parameter summary and the output shape
PORT_SPACING = 18.0
PORT_RADIUS = 5.5
PORT_CHAR = 6.6  # width of a port-name character in the canvas' small font, generously
SUMMARY_ROOM = 96.0  # what a node keeps for its summary between its named ports
CORNER_RADIUS = 7.0

COLUMN_GAP = 104.0  # horizontal space between auto-layout columns (room for shape labels)
ROW_GAP = 36.0
SKIP_SLOT = 56.0  # height reserved in a column for a wire that skips it
MAX_COLUMNS = 3  # more generations than this wrap into bands below (a band fits a laptop)
BAND_GAP = 90.0  # vertical space between bands (room for the wire back to the left)

BLOCK_WIDTH = NODE_WIDTH + 40.0  # a collapsed group's block
BLOCK_SUMMARY_HEIGHT = 22.0  # the block's "3 layers · 1,234 parameters" line
BLOCK_PORT_ROW = 20.0  # the block's port rows
GROUP_MARGIN = 30.0  # room an expanded group's frame takes beside and below its layers
GROUP_TITLE = 56.0  # room above them for the frame's title bar

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


@cache
def node_width(layer_id: str) -> float:
    """NODE_WIDTH, or wider for a layer whose several ports are named on the card (attention:
    query ... attn_mask), so its summary keeps room between the names."""
    inputs, outputs = port_names(layer_id)
    named = sum(PORT_CHAR * max(map(len, names)) + 8.0
                for names in (inputs, outputs) if len(names) > 1)
    return max(NODE_WIDTH, round(20.0 + named + SUMMARY_ROOM))


def node_size(layer_id: str) -> tuple[float, float]:
    """Width and height of a node of this layer type."""
    return node_width(layer_id), HEADER_HEIGHT + body_height(layer_id)


@cache
def port_offset(layer_id: str, port: str, is_input: bool) -> tuple[float, float]:
    """Centre of a port relative to the node's top-left corner."""
    inputs, outputs = port_names(layer_id)
    names = inputs if is_input else outputs
    index = names.index(port) if port in names else 0
    count = max(len(names), 1)
    body = body_height(layer_id)
    y = HEADER_HEIGHT + body / 2 + (index - (count - 1) / 2) * PORT_SPACING
    return (0.0 if is_input else node_width(layer_id)), y


def auto_layout(graph: Graph) -> dict[int, tuple[float, float]]:
    """Positions for every node: one column per topological generation, left to right.

    Columns are centred on a common horizontal line. A connection that skips columns (a
    residual branch) reserves a slot in every column it crosses, so its wire runs beside the
    layers it skips instead of behind them. Within a column, nodes are ordered by the mean row
    of their predecessors (fewer crossings), then by their current height. Cycles (which
    validation reports) are collapsed so layout still works on a broken graph.

    Groups are laid out from the inside out: an expanded group is one box holding its layout
    (its layers stay together, its chains run straight left to right), a collapsed group takes
    the room of its block, with its hidden layers laid out under the block for when it opens.
    Only the top level wraps into bands.
    """
    if not graph.nodes:
        return {}
    left, top = _anchor(graph.nodes.values())
    chains = _group_chains(graph)
    box = _layout_scope(graph, "", chains, wrap=True)
    return {i: (round(left + x), round(top + y)) for i, (x, y) in box.positions.items()}


@dataclass
class _Box:
    """A laid-out scope: positions relative to its top-left corner, and its size."""

    width: float
    height: float
    positions: dict[int, tuple[float, float]]


def _group_chains(graph: Graph) -> dict[int, list[int | str]]:
    """Each node followed by the groups around it, innermost first."""
    innermost: dict[int, str] = {}
    for group in graph.groups.values():
        for node_id in group.node_ids:
            innermost.setdefault(node_id, group.id)
    chains: dict[int, list[int | str]] = {}
    for node_id in graph.nodes:
        group_id = innermost.get(node_id)
        around: list[int | str] = [] if group_id is None else [
            group_id, *graph.group_ancestors(group_id)]
        chains[node_id] = [node_id, *around]
    return chains


def _layout_scope(graph: Graph, scope: str, chains: dict[int, list[int | str]],
                  wrap: bool) -> _Box:
    """Lay out what sits directly in ``scope`` ("" for the top): layers and nested groups,
    each group one unit of the size it takes."""
    unit_of: dict[int, int | str] = {}
    for node_id, chain in chains.items():
        if not scope:
            unit_of[node_id] = chain[-1]
        elif scope in chain:
            unit_of[node_id] = chain[chain.index(scope) - 1]
    # each unit is known by a node id: its own, or a group's lowest member's
    rank: dict[int | str, int] = {}
    for node_id in sorted(unit_of):
        rank.setdefault(unit_of[node_id], node_id)
    sizes: dict[int, tuple[float, float]] = {}
    heights: dict[int, float] = {}
    inner: dict[int, _Box] = {}
    for unit, r in rank.items():
        if isinstance(unit, int):
            sizes[r] = node_size(graph.nodes[unit].type)
            heights[r] = graph.nodes[unit].pos[1]
            continue
        members = [i for i, u in unit_of.items() if u == unit]
        heights[r] = min(graph.nodes[i].pos[1] for i in members)
        inner[r] = _layout_scope(graph, unit, chains, wrap=False)
        if graph.groups[unit].collapsed:
            sizes[r] = (BLOCK_WIDTH, block_height(graph, members))
        else:
            # as much room below as the title takes above: its middle row stays in line
            sizes[r] = (inner[r].width + 2 * GROUP_MARGIN, inner[r].height + 2 * GROUP_TITLE)
    links = {(rank[unit_of[e.src]], rank[unit_of[e.dst]]) for e in graph.edges
             if e.src in unit_of and e.dst in unit_of and unit_of[e.src] != unit_of[e.dst]}
    placed = _arrange(sorted(rank.values()), links, sizes, heights, wrap)
    positions: dict[int, tuple[float, float]] = {}
    for unit, r in rank.items():
        x, y = placed[r]
        if isinstance(unit, int):
            positions[unit] = (x, y)
        elif graph.groups[unit].collapsed:
            w, h = sizes[r]
            positions.update(_centred_on(inner[r].positions, graph, (x + w / 2, y + h / 2)))
        else:
            positions.update((i, (x + GROUP_MARGIN + px, y + GROUP_TITLE + py))
                             for i, (px, py) in inner[r].positions.items())
    width = max((placed[r][0] + sizes[r][0] for r in placed), default=0.0)
    height = max((placed[r][1] + sizes[r][1] for r in placed), default=0.0)
    return _Box(width, height, positions)


def _centred_on(positions: dict[int, tuple[float, float]], graph: Graph,
                centre: tuple[float, float]) -> dict[int, tuple[float, float]]:
    """A collapsed group's hidden layout moved so that the layer nearest its middle, where
    the canvas puts the block, sits at ``centre``."""
    def mid(i: int) -> tuple[float, float]:
        w, h = node_size(graph.nodes[i].type)
        return positions[i][0] + w / 2, positions[i][1] + h / 2

    mids = {i: mid(i) for i in positions}
    lo_x = min(positions[i][0] for i in positions)
    lo_y = min(positions[i][1] for i in positions)
    hi_x = max(positions[i][0] + node_size(graph.nodes[i].type)[0] for i in positions)
    hi_y = max(positions[i][1] + node_size(graph.nodes[i].type)[1] for i in positions)
    cx, cy = (lo_x + hi_x) / 2, (lo_y + hi_y) / 2
    nearest = min(positions, key=lambda i: (mids[i][0] - cx) ** 2 + (mids[i][1] - cy) ** 2)
    dx, dy = centre[0] - mids[nearest][0], centre[1] - mids[nearest][1]
    return {i: (x + dx, y + dy) for i, (x, y) in positions.items()}


def block_height(graph: Graph, members: list[int]) -> float:
    """The height of a collapsed group's block: a header, a summary line, one row per port."""
    inside = set(members)
    ins = {(e.dst, e.dst_port) for e in graph.edges if e.dst in inside and e.src not in inside}
    outs = {(e.src, e.src_port) for e in graph.edges if e.src in inside and e.dst not in inside}
    ins |= {(i, "out") for i in members if graph.nodes[i].type == "Input"}
    outs |= {(i, "in") for i in members if graph.nodes[i].type == "Output"}
    rows = max(len(ins), len(outs))
    return HEADER_HEIGHT + BLOCK_SUMMARY_HEIGHT + rows * BLOCK_PORT_ROW + (8 if rows else 4)


def _arrange(units: list[int], links: set[tuple[int, int]],
             sizes: dict[int, tuple[float, float]], heights: dict[int, float],
             wrap: bool) -> dict[int, tuple[float, float]]:
    """Top-left corners of ``units`` (of the given sizes) in generation columns, relative to
    the arrangement's top-left corner; ``heights`` (current tops) break ties in a column."""
    g = nx.DiGraph()
    g.add_nodes_from(units)
    g.add_edges_from(links)
    condensed = nx.condensation(g)
    members = condensed.graph["mapping"]  # unit -> component
    by_component: dict[int, list[int]] = {}
    for unit in units:
        by_component.setdefault(members[unit], []).append(unit)
    columns: list[list[Slot]] = []
    column_of: dict[int, int] = {}
    for index, generation in enumerate(nx.topological_generations(condensed)):
        column: list[Slot] = sorted(n for c in generation for n in by_component[c])
        column_of.update((n, index) for n in column)
        columns.append(column)

    bands = -(-len(columns) // MAX_COLUMNS) if wrap else 1  # long networks wrap into bands
    per_band = -(-len(columns) // bands)

    # Layered graph: long edges become chains through placeholder slots ("d", edge, column),
    # within a band (a wire to another band is routed by the canvas, along the band gap).
    preds: dict[Slot, list[Slot]] = {}
    for number, (u, v) in enumerate(sorted(set(g.edges()))):
        cu, cv = column_of[u], column_of[v]
        if cv <= cu:
            continue  # inside a cycle
        previous: Slot = u
        for col in range(cu + 1, cv) if cu // per_band == cv // per_band else ():
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
                return bary, 0, heights[slot], f"{slot:09d}"
            return bary, 1, 0.0, str(slot)
        column = sorted(column, key=key)
        for row, slot in enumerate(column):
            row_of[slot] = float(row)
        ordered.append(column)

    slot_heights = [[sizes[s][1] if isinstance(s, int) else SKIP_SLOT for s in column]
                    for column in ordered]
    widths = [max((sizes[s][0] if isinstance(s, int) else NODE_WIDTH for s in column),
                  default=NODE_WIDTH) for column in ordered]
    totals = [sum(h) + ROW_GAP * (len(h) - 1) for h in slot_heights]
    positions: dict[int, tuple[float, float]] = {}
    band_top = 0.0
    for band in range(bands):
        indices = range(band * per_band, min(len(ordered), (band + 1) * per_band))
        band_height = max(totals[i] for i in indices)
        centre = band_top + band_height / 2
        x = 0.0
        for index in indices:
            y = centre - totals[index] / 2
            for slot, height in zip(ordered[index], slot_heights[index], strict=True):
                if isinstance(slot, int):
                    positions[slot] = (x + (widths[index] - sizes[slot][0]) / 2, y)
                y += height + ROW_GAP
            x += widths[index] + COLUMN_GAP
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
