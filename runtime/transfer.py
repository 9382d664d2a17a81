"""Transfer learning: copy chosen layers, with their trained weights, from one project into another.

Transfer learning keeps the general part of a trained network (typically the convolutional
trunk: edges, corners, strokes) and replaces the task-specific part (the classifier head).
Here that is a copy between two projects: the chosen nodes keep their parameters, the
connections among them, their frozen / learning-rate options, and their trained tensors,
which are re-keyed to the new node ids and merged into the target's weights. Connections to
layers that were not chosen are left out; the user wires the imported block into the target,
or asks for a new head (``runtime.backbone``): the target's Input feeds the imported trunk and
a head for the target's data follows it, as when a torchvision network brought in by
``main.py import`` becomes the frozen backbone of a new task.

Importing is split in two so the editor can undo it in one step: ``plan_import`` computes
everything (new nodes and ids, edges, the target's weights after the import) without touching
the target, and ``apply_plan`` / ``remove_plan`` put it in and take it out again.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx
from torch import Tensor

from graph.catalog import ENDS_TRUNK, FILTERS, HEAD, INPUT
from graph.layout import graph_bounds
from graph.model import Edge, Graph, Node
from graph.project import Project, load_project
from runtime.backbone import NewHead, plan_head
from runtime.compile import weights_from_bytes, weights_to_bytes
from runtime.shapes import infer_shapes

GAP = 80.0  # space between the target's drawing and an imported block placed below it


@dataclass(frozen=True)
class ImportableLayer:
    """One node of the source project as the import dialog lists it."""

    node_id: int
    name: str
    type: str
    summary: str  # the node's parameter summary ("16@3x3")
    values: int  # trained values stored for it in the source (0: no trained weights)
    trunk: bool  # part of the default selection (the convolutional trunk)
    frozen: bool

    @property
    def label(self) -> str:
        return f"{self.type} '{self.name}'"


@dataclass
class ImportPlan:
    """What importing will add to the target; computed once, applied (and undone) later."""

    nodes: list[Node]  # new nodes with their target ids, names, positions and options
    edges: list[Edge]  # connections among the new nodes
    weights_before: bytes | None  # the target's weights before the import (for undo)
    weights_after: bytes | None  # the target's weights with the imported tensors merged in
    id_map: dict[int, int] = field(default_factory=dict)  # source node id -> new node id
    copied: int = 0  # tensors copied

    @property
    def new_ids(self) -> list[int]:
        return [n.id for n in self.nodes]


def load_source(path: str | os.PathLike[str]) -> Project:
    """The project to import from; ProjectError (naming the file) when it cannot be read."""
    return load_project(path)


def source_tensors(source: Project) -> dict[str, Tensor]:
    """The source's trained tensors by key (empty when it was never trained); ValueError
    naming the project when its weights are damaged."""
    if not source.weights:
        return {}
    try:
        return weights_from_bytes(source.weights)
    except ValueError as exc:
        raise ValueError(f"project '{source.name}': {exc}; train it again and save it") \
            from None


def _node_of(key: str) -> int | None:
    head = key.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def _is_io(node: Node) -> bool:
    """An Input or Output: what a transfer never imports."""
    return node.spec is not None and node.spec.role in (INPUT, HEAD)


def _has(node: Node, trait: str) -> bool:
    return node.spec is not None and node.spec.has(trait)


def trunk_ids(graph: Graph) -> list[int]:
    """The default layers to import: the convolutional trunk.

    With convolutions: every layer between the Inputs and the first layer that no longer gives
    a feature map (Flatten, Linear, global pooling down to 1 x 1, ...) or an Output. Without
    any (an MLP): every layer except the Inputs, Outputs and the last Linear before each Output
    (the classifier that the new task replaces).
    """
    inner = [n.id for n in graph.nodes.values() if not _is_io(n)]
    if any(_has(graph.nodes[i], FILTERS) for i in inner):
        g = graph.to_networkx()
        outputs = infer_shapes(graph).outputs
        head: set[int] = set()
        for node in graph.nodes.values():
            shape = outputs.get(node.id, {}).get("out")
            feature_map = shape is not None and len(shape) >= 3 and math.prod(shape[2:]) > 1
            ends = _has(node, ENDS_TRUNK) or (node.spec is not None and node.spec.role == HEAD)
            if ends or (not _is_io(node) and shape is not None and not feature_map):
                head |= {node.id, *nx.descendants(g, node.id)}
        return sorted(i for i in inner if i not in head)
    head = set()  # walk back from each Output to (and including) the first Linear
    for output in graph.nodes_of_type("Output"):
        frontier = [e.src for e in graph.in_edges(output.id)]
        while frontier:
            node_id = frontier.pop()
            if node_id in head or _is_io(graph.nodes[node_id]):
                continue
            head.add(node_id)
            if graph.nodes[node_id].type != "Linear":
                frontier.extend(e.src for e in graph.in_edges(node_id))
    return sorted(i for i in inner if i not in head)


def list_importable(source: Project) -> list[ImportableLayer]:
    """Every node of the source in topological order (Inputs first), with the default ticks
    and how many trained values each has."""
    graph = source.graph
    tensors = source_tensors(source)
    values: dict[int, int] = {}
    for key, tensor in tensors.items():
        node_id = _node_of(key)
        if node_id is not None:
            values[node_id] = values.get(node_id, 0) + int(tensor.numel())
    try:
        order = graph.topological_order()
    except Exception:  # a cyclic source (validation reports it): fall back to id order
        order = sorted(graph.nodes)
    trunk = set(trunk_ids(graph))
    out = []
    for node_id in order:
        node = graph.nodes[node_id]
        spec = node.spec
        out.append(ImportableLayer(node_id, node.name, node.type,
                                   spec.describe(node.params) if spec else "",
                                   values.get(node_id, 0), node_id in trunk, node.frozen))
    return out


def placement_offset(source: Project, node_ids: Iterable[int], target: Project
                     ) -> tuple[float, float]:
    """Where the imported block goes, as a shift of the source positions: at the origin in an
    empty target, else below the target's drawing, left-aligned with it."""
    chosen = [source.graph.nodes[i] for i in node_ids if i in source.graph.nodes]
    if not chosen:
        return 0.0, 0.0
    left, top, _right, _bottom = graph_bounds(chosen)
    existing = list(target.graph.nodes.values())
    if not existing:
        return -left, -top
    t_left, _t_top, _t_right, t_bottom = graph_bounds(existing)
    return t_left - left, t_bottom + GAP - top


def plan_import(source: Project, node_ids: Iterable[int], target: Project,
                offset: tuple[float, float] | None = None, *, freeze: bool | None = None,
                lr_mult: float | None = None, head: NewHead | None = None) -> ImportPlan:
    """Everything importing ``node_ids`` of ``source`` into ``target`` would do; the target
    is not changed.

    ``offset`` shifts the source positions (default: ``placement_offset``). ``freeze`` True or
    False sets the frozen option of every imported layer that has trained weights (None keeps
    the source's options); ``lr_mult`` likewise sets their learning-rate multiplier. With
    ``head`` (see ``runtime.backbone.head_for``) the imported layers must be a trunk: the
    target's Input (made when it has none) feeds it and a new head follows it
    (``runtime.backbone.plan_head``). Raises ValueError with a user message for an empty
    selection, unknown node ids, a selection that is no trunk, or damaged weights.
    """
    ids = sorted(set(node_ids))
    if not ids:
        raise ValueError("choose at least one layer to import")
    missing = [i for i in ids if i not in source.graph.nodes]
    if missing:
        raise ValueError(f"project '{source.name}' has no node with id {missing[0]}; "
                         "reload the project to import from")
    if lr_mult is not None and lr_mult < 0:
        raise ValueError(f"learning-rate multiplier must be 0 or more, not {lr_mult}")
    if offset is None:
        offset = placement_offset(source, ids, target)
    tensors = source_tensors(source)
    trained = {_node_of(k) for k in tensors}

    graph = target.graph
    taken = {n.name for n in graph.nodes.values()}
    id_map: dict[int, int] = {}
    nodes: list[Node] = []
    next_id = graph.next_id
    for old_id in ids:
        node = source.graph.nodes[old_id]
        name = node.name
        if name in taken:
            name = _unique(graph, _base_name(name), taken)
        taken.add(name)
        new = Node(next_id, node.type, name, copy.deepcopy(node.params),
                   (node.pos[0] + offset[0], node.pos[1] + offset[1]), node.frozen, node.lr_mult)
        if old_id in trained:
            if freeze is not None:
                new.frozen = bool(freeze)
            if lr_mult is not None:
                new.lr_mult = float(lr_mult)
        id_map[old_id] = next_id
        nodes.append(new)
        next_id += 1
    edges = [Edge(id_map[e.src], e.src_port, id_map[e.dst], e.dst_port)
             for e in sorted(source.graph.edges) if e.src in id_map and e.dst in id_map]
    if head is not None:

        def new_name(base: str) -> str:
            name = base if base not in taken else _unique(graph, base, taken)
            taken.add(name)
            return name

        extra = plan_head(source.graph, id_map, {n.id: n for n in nodes}, graph, new_name, head)
        nodes += extra.nodes
        edges += extra.edges

    copied = {f"{id_map[n]}.{k.split('.', 1)[1]}": t for k, t in tensors.items()
              if (n := _node_of(k)) in id_map}
    before = target.weights
    after = before
    if copied:
        after = merge_weights(before, copied, {n.id for n in nodes})
    return ImportPlan(nodes, edges, before, after, id_map, len(copied))


def merge_weights(existing: bytes | None, tensors: Mapping[str, Tensor],
                  replaced_nodes: set[int]) -> bytes:
    """``existing`` weights with every tensor of ``replaced_nodes`` dropped (left over from a
    deleted node that had the same id) and ``tensors`` added."""
    merged = {k: v for k, v in (weights_from_bytes(existing) if existing else {}).items()
              if _node_of(k) not in replaced_nodes}
    merged.update(tensors)
    return weights_to_bytes(merged)


def apply_plan(target: Project, plan: ImportPlan) -> list[int]:
    """Insert the planned nodes, edges and weights into ``target``; returns the new ids."""
    for node in plan.nodes:
        target.graph.insert_node(copy.deepcopy(node))
    for edge in plan.edges:
        target.graph.connect(edge, check=False)
    target.weights = plan.weights_after
    return plan.new_ids


def remove_plan(target: Project, plan: ImportPlan) -> None:
    """Undo ``apply_plan``: remove the imported nodes (with their edges), restore the weights."""
    for node_id in reversed(plan.new_ids):
        if node_id in target.graph.nodes:
            target.graph.remove_node(node_id)
    target.weights = plan.weights_before


def import_layers(source: Project, node_ids: Iterable[int], target: Project,
                  offset: tuple[float, float] | None = None, *, freeze: bool | None = None,
                  lr_mult: float | None = None, head: NewHead | None = None) -> list[int]:
    """Copy ``node_ids`` of ``source`` (parameters, internal edges, frozen options and trained
    weights) into ``target``; returns the new node ids in source id order. See plan_import."""
    return apply_plan(target, plan_import(source, node_ids, target, offset, freeze=freeze,
                                          lr_mult=lr_mult, head=head))


def _base_name(name: str) -> str:
    """"conv_3" -> "conv", so an imported copy becomes "conv_4", not "conv_3_1"."""
    head, sep, tail = name.rpartition("_")
    return head if sep and tail.isdigit() and head else name


def _unique(graph: Graph, base: str, taken: set[str]) -> str:
    """``graph.unique_name`` that also avoids names given earlier in the same import."""
    name = graph.unique_name(base)
    index = 2
    while name in taken:
        name = f"{name.rsplit('_', 1)[0]}_{index}"
        index += 1
    return name
