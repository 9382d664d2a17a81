"""What reaches each classification Output, checked before Train.

A classification Output scores one label per sample, so it needs one vector per sample. When a
feature map reaches it, the error belongs on the first layer where the shape went wrong: a layer
that reads the last dimension only (a Linear) fed a feature map, where a Flatten was missing.
"""

from __future__ import annotations

from graph.catalog import UNITS
from graph.model import Edge, Graph
from graph.validate import ERROR, Diagnostic
from runtime.shape_text import format_shape

INSERT_FLATTEN = "insert Flatten"
SET_WIDTH = "set "  # + "<param>=<value>": the layer before the Output gives one score per class


def _reads_last_dim(graph: Graph, node_id: int) -> bool:
    spec = graph.nodes[node_id].spec
    return spec is not None and any(axis == -1 for _, axis in spec.inferred)


def _chain_into(graph: Graph, node_id: int, edges: dict[int, Edge]) -> list[Edge]:
    """The wires into ``node_id`` through first input ports, nearest first."""
    chain: list[Edge] = []
    seen = {node_id}
    while node_id in edges:
        edge = edges[node_id]
        chain.append(edge)
        node_id = edge.src
        if node_id in seen:
            break
        seen.add(node_id)
    return chain


def check_classification_heads(graph: Graph, shapes: dict[Edge, tuple[int, ...]],
                               classes: int | None = None) -> list[Diagnostic]:
    """With the data's ``classes`` known (one class label per sample): one error per
    classification Output fed a feature map, on the layer that caused it, or fed fewer scores
    than classes."""
    if not classes:
        return []  # only the data says a head reads one class label per sample
    heads = [node for node in graph.nodes.values()
             if node.type == "Output" and node.all_params().get("task") == "classification"]
    if len(heads) > 1:
        return []  # the data's class count is one head's; the others have their own
    first_in: dict[int, Edge] = {}  # (after the early returns: a scan of every wire)
    for edge in graph.edges if heads else ():
        node = graph.nodes.get(edge.dst)
        spec = node.spec if node is not None else None
        if spec is not None and spec.inputs and edge.dst_port == spec.inputs[0].name:
            first_in.setdefault(edge.dst, edge)
    found: list[Diagnostic] = []
    for node in heads:
        chain = _chain_into(graph, node.id, first_in)
        if not chain or chain[0] not in shapes:
            continue
        if len(shapes[chain[0]]) == 2:
            found += _width_problem(graph, node.label, chain[0], shapes[chain[0]][1], classes)
            continue
        culprits = [e for e in chain if _reads_last_dim(graph, e.dst)
                    and len(shapes.get(e, ())) > 3]
        if not culprits:
            continue
        edge = culprits[-1]  # the earliest in flow order
        layer = graph.nodes[edge.dst]
        received = shapes[edge]
        kept = " x ".join(str(int(d)) for d in shapes[chain[0]][1:])
        found.append(Diagnostic(
            ERROR, f"{layer.label} receives {format_shape(received)} but a {layer.type} reads "
            f"the last dimension only: {node.label} then gets {kept} values per sample instead "
            f"of one score per class; insert a Flatten before {layer.name}", layer.id, edge,
            fix=INSERT_FLATTEN))
    return found


def _width_problem(graph: Graph, output: str, edge: Edge, width: int, classes: int
                   ) -> list[Diagnostic]:
    """The layer before the Output gives fewer scores than the data has ``classes`` (Train
    would refuse it)."""
    if width in (1, classes) or width > classes:
        return []  # 1: a bce score; more scores than classes train (the extra ones idle)
    layer = graph.nodes[edge.src]
    spec = layer.spec
    if spec is None or not spec.has(UNITS) or not spec.params:
        return []
    param = spec.params[0].name  # a units layer's first setting is its width (out_features)
    return [Diagnostic(
        ERROR, f"{layer.label} gives {width} scores per sample but the dataset has {classes} "
        f"classes, and {output} needs one score per class; set {layer.name} to {classes} "
        "outputs", layer.id, fix=f"{SET_WIDTH}{param}={classes}")]
