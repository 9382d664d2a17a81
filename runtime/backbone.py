"""A network as a backbone: where its trunk can end, and a new head for another data set.

Transfer learning on a network someone else designed (a torchvision ResNet brought in with
``main.py import``) cuts it where the general features end, keeps that trunk, and puts a new
head for the new task on it. A trunk can end after any layer that is the trunk's only way
out: every layer before it feeds only layers up to it (a ResNet block's last ReLU, the global
pooling, the Flatten; not a layer inside a block, whose shortcut runs past it).
``plan_head`` computes the new head's nodes and connections for ``runtime.transfer.plan_import``:
the target's Input into the trunk's first layers, and after the trunk's end global average
pooling (when it still gives a feature map), Flatten, BatchNorm1d, a Linear layer sized to the
target's classes and an Output. The BatchNorm1d is the linear-probe recipe (MoCo v3, MAE):
a frozen trunk's features come at whatever scale its training left them, and standardizing
them lets the one Linear layer learn fast with the usual learning rates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from graph import catalog
from graph.catalog import HEAD, INPUT
from graph.layout import COLUMN_GAP, NODE_WIDTH
from graph.model import Edge, Graph, Node
from graph.project import Project
from runtime.shapes import infer_shapes

STEP = NODE_WIDTH + COLUMN_GAP  # one auto-layout column


@dataclass(frozen=True)
class NewHead:
    """The head to put on an imported trunk: what the target's data set asks for."""

    outputs: int  # classes (classification) or target values (regression)
    task: str = "classification"
    input_shape: tuple[int, ...] | None = None  # for an Input the target does not have yet


@dataclass
class HeadPlan:
    """The nodes and connections that give an imported trunk its input and its new head."""

    nodes: list[Node]
    edges: list[Edge]


def _is_io(node: Node) -> bool:
    return node.spec is not None and node.spec.role in (INPUT, HEAD)


def trunk_ends(graph: Graph) -> list[int]:
    """The layers a trunk can end after, in topological order: each is the only way out of
    itself and every layer before it (see the module docstring)."""
    g = nx.DiGraph((e.src, e.dst) for e in graph.edges)
    g.add_nodes_from(graph.nodes)
    try:
        order = list(nx.topological_sort(g))
    except nx.NetworkXUnfeasible:  # a cycle (validation reports it): no cut points
        return []
    ends = []
    for node_id in order:
        if _is_io(graph.nodes[node_id]):
            continue
        part = trunk_until(graph, node_id, g)
        if all(dst in part for src in part if src != node_id for dst in g.successors(src)):
            ends.append(node_id)
    return ends


def trunk_until(graph: Graph, end: int, g: nx.DiGraph | None = None) -> list[int]:
    """The trunk that ends after ``end``: it and every layer before it (Inputs left out)."""
    if g is None:
        g = nx.DiGraph((e.src, e.dst) for e in graph.edges)
        g.add_nodes_from(graph.nodes)
    return sorted(i for i in {end, *nx.ancestors(g, end)} if not _is_io(graph.nodes[i]))


def default_end(graph: Graph, trunk: Iterable[int]) -> int | None:
    """The end whose trunk is the largest one inside ``trunk`` (the default selection)."""
    inside = set(trunk)
    best = [(len(part), end) for end in trunk_ends(graph)
            if (part := set(trunk_until(graph, end))) <= inside]
    return max(best)[1] if best else None


def head_for(target: Project) -> NewHead:
    """The head the target's data set needs; ValueError naming the data set when it has no
    classes or values to predict (or cannot be loaded)."""
    from runtime.data import DataError, load_dataset

    try:
        data = load_dataset(target.dataset)
    except DataError as exc:
        raise ValueError(f"dataset '{target.dataset.name}': {exc}; choose the project's data "
                         "before putting a new head on") from None
    outputs = data.num_classes if data.task == "classification" else len(data.target_names)
    if data.task not in ("classification", "regression") or outputs < 1:
        raise ValueError(f"dataset '{data.name}' ({data.task}) has no classes or values for a "
                         "new head; wire the trunk to a head yourself")
    return NewHead(outputs, data.task, tuple(data.input_shape))


def plan_head(source: Graph, id_map: dict[int, int], planned: dict[int, Node], target: Graph,
              new_name: Callable[[str], str], head: NewHead) -> HeadPlan:
    """Nodes (ids after ``planned``'s, names from ``new_name``) and edges that connect the
    target's Input to the imported trunk (``id_map``: source id -> the ``planned`` node's id)
    and put ``head`` after it; ValueError saying what to choose when the trunk has no single
    entry or end."""
    entries, source_input, end = _cut(source, set(id_map))
    shape = infer_shapes(source).outputs.get(end, {}).get("out")
    if shape is None:
        raise ValueError(f"{source.nodes[end].label} has no output shape; fix the source "
                         "network first")
    existing = [n for n in target.nodes.values() if n.spec is not None and n.spec.role == INPUT]
    if len(existing) > 1:
        raise ValueError("the project has several Inputs; connect the trunk yourself")
    fresh: list[Node] = []
    next_id = max([target.next_id, *(i + 1 for i in planned)])

    def add(layer: str, params: dict[str, Any], base: str, pos: tuple[float, float]) -> Node:
        spec = catalog.get(layer)
        node = Node(next_id + len(fresh), layer, new_name(base),
                    {**(spec.defaults() if spec else {}), **params}, pos)
        fresh.append(node)
        return node

    if existing:
        image = existing[0]
    else:
        x, y = min((planned[id_map[e.dst]] for e in entries), key=lambda n: n.pos[0]).pos
        params = dict(source.nodes[source_input].params)
        if head.input_shape is not None:
            params["shape"] = tuple(head.input_shape)
        image = add("Input", params, "image", (x - STEP, y))
    edges = [Edge(image.id, "out", id_map[e.dst], e.dst_port) for e in entries]
    src = id_map[end]
    x, y = planned[src].pos
    for step, (layer, params, base) in enumerate(_head_layers(shape, head), start=1):
        node = add(layer, params, base, (x + step * STEP, y))
        edges.append(Edge(src, "out", node.id, "in"))
        src = node.id
    return HeadPlan(fresh, edges)


def _cut(source: Graph, chosen: set[int]) -> tuple[list[Edge], int, int]:
    """The edges into the chosen trunk, the Input they all come from, and the trunk's one end;
    ValueError saying what to choose otherwise."""
    if any(_is_io(source.nodes[i]) for i in chosen):
        raise ValueError("untick the Inputs and Outputs to put a new head on the trunk")
    entries = [e for e in sorted(source.edges) if e.dst in chosen and e.src not in chosen]
    inputs = {e.src for e in entries}
    if len(inputs) != 1 or not _is_io(source.nodes[next(iter(inputs))]):
        raise ValueError("the chosen layers must be fed by the network's one Input; choose the "
                         "trunk from its first layer (the Trunk button)")
    ends = sorted(i for i in chosen if not source.out_edges(i)
                  or any(e.dst not in chosen for e in source.out_edges(i)))
    if len(ends) != 1:
        names = ", ".join(source.nodes[i].label for i in ends[:3])
        raise ValueError(f"the chosen layers end in {len(ends)} places ({names}); choose a "
                         "trunk that ends in one layer (Trunk ends after)")
    return entries, next(iter(inputs)), ends[0]


def _head_layers(shape: tuple[int, ...], head: NewHead) -> list[tuple[str, dict[str, Any], str]]:
    """(layer, params, name) of the head after a trunk whose output has ``shape``: global
    average pooling while it is a feature map, Flatten while it has more than one dimension
    per sample, then BatchNorm1d, Linear and Output (see the module docstring)."""
    layers: list[tuple[str, dict[str, Any], str]] = []
    if len(shape) == 4 and math.prod(shape[2:]) > 1:
        layers.append(("AdaptiveAvgPool2d", {"output_size": (1, 1)}, "global_pool"))
    if len(shape) > 2:
        layers.append(("Flatten", {}, "flatten"))
    return [*layers, ("BatchNorm1d", {}, "feature_norm"),
            ("Linear", {"out_features": head.outputs}, "new_head"),
            ("Output", {"task": head.task}, "output")]
