"""Nested groups from an imported model's module hierarchy.

An imported network knows where each layer came from: torch.fx names a layer by its module
path (``layer1.0.conv1``), ONNX exporters name nodes by scope (``/layer1/layer1.0/conv1/Conv``).
Each scope that holds more than one layer becomes a group named by that scope, nested as the
modules nest, so a ResNet shows its stages, a stage its blocks, a block its layers. A big
network opens with its stages collapsed, so the canvas reads at fit-to-view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from graph.model import Graph

COLLAPSE_ABOVE = 60  # networks with more layers open with their stages collapsed

Scopes = Sequence[str]  # the scopes around a layer, outermost first ("layer1", "layer1.0")


def group_by_scopes(graph: Graph, scopes: Mapping[int, Scopes],
                    collapse_above: int = COLLAPSE_ABOVE) -> list[str]:
    """Group ``graph``'s (ungrouped) layers by their ``scopes``; returns the new group ids,
    innermost first. A scope holding the same layers as the one around it adds nothing and
    is left out. Above ``collapse_above`` layers the stages start collapsed: the outermost
    level with several groups, and everything inside it."""
    held: dict[tuple[str, ...], list[int]] = {}
    for node_id, names in scopes.items():
        if node_id in graph.nodes:
            for depth in range(1, len(names) + 1):
                held.setdefault(tuple(names[:depth]), []).append(node_id)
    kept: set[tuple[str, ...]] = set()
    for key in sorted(held, key=len):
        outer = _nearest(key, kept)
        if len(held[key]) > 1 and (outer is None or len(held[outer]) > len(held[key])):
            kept.add(key)
    innermost = {node_id: _nearest(tuple(names) + ("",), kept)
                 for node_id, names in scopes.items() if node_id in graph.nodes}
    def in_order(keys: set[tuple[str, ...]]) -> list[tuple[str, ...]]:
        return sorted(keys, key=lambda k: (min(held[k]), len(k)))  # as the network runs

    ids: dict[tuple[str, ...], str] = {}
    for key in sorted(in_order(kept), key=len, reverse=True):
        layers = sorted(i for i, scope in innermost.items() if scope == key)
        children = [ids[k] for k in in_order(set(ids)) if _nearest(k, kept) == key]
        ids[key] = graph.add_group(layers, key[-1], child_groups=children).id
    if len(graph.nodes) > collapse_above:
        roots = [ids[k] for k in in_order(kept) if _nearest(k, kept) is None]
        for group_id in _stages(graph, roots):
            for inside in [group_id, *graph.group_descendants(group_id)]:
                graph.groups[inside].collapsed = True
    return list(ids.values())


def _nearest(key: tuple[str, ...], kept: set[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The longest kept scope strictly around ``key``."""
    for depth in range(len(key) - 1, 0, -1):
        if key[:depth] in kept:
            return key[:depth]
    return None


def _stages(graph: Graph, roots: list[str]) -> list[str]:
    """The outermost level that splits the network: below a single wrapper group
    (EfficientNet's ``features``), its children."""
    while len(roots) == 1 and graph.child_groups(roots[0]):
        roots = graph.child_groups(roots[0])
    return roots


def dotted_scopes(path: str) -> list[str]:
    """The modules around a module path: "layer1.0.conv1" -> ["layer1", "layer1.0"]."""
    parts = path.split(".")
    return [".".join(parts[:depth]) for depth in range(1, len(parts))]


def onnx_scopes(node_name: str) -> list[str]:
    """The scopes of an ONNX node name: "/layer1/layer1.0/conv1/Conv" -> ["layer1",
    "layer1.0", "conv1"] (the last part is the operator); none for unscoped names."""
    if not node_name.startswith("/"):
        return []
    return [part for part in node_name.split("/")[1:-1] if part]
