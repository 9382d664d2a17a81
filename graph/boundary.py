"""The ports of a collapsed group: which ports of its layers the outside sees.

A collapsed group is drawn as one block; its inputs are the layer inputs fed from outside and
its own Input layers, its outputs the layer outputs read outside and its own Output layers. The
canvas draws them and the auto layout sizes the block by them, so both ask here.
"""

from __future__ import annotations

from dataclasses import dataclass

from graph.model import Graph


@dataclass(frozen=True)
class BoundaryPort:
    """A port of a collapsed group: a port of one of its layers that the outside sees."""

    node_id: int
    port: str
    is_input: bool
    label: str
    wired: bool  # False for the group's own Input / Output layers (no wire crosses)

    @property
    def key(self) -> tuple[int, str, bool]:
        return self.node_id, self.port, self.is_input


def boundary_ports(graph: Graph, group_id: str) -> tuple[list[BoundaryPort], list[BoundaryPort]]:
    """(inputs, outputs) of a group as a block, top to bottom as the layers sit.

    Inputs: each layer input fed from outside the group, then the group's Input layers.
    Outputs: each layer output read outside the group, then the group's Output layers.
    """
    members = graph.group_members(group_id)
    inside = set(members)
    nodes = graph.nodes
    ins: dict[tuple[int, str], BoundaryPort] = {}
    outs: dict[tuple[int, str], BoundaryPort] = {}

    def label(node_id: int, port: str, is_input: bool) -> str:
        node = nodes[node_id]
        spec = node.spec
        ports = (spec.inputs if is_input else spec.outputs) if spec else ()
        return f"{node.name}.{port}" if len(ports) > 1 else node.name

    for edge in graph.edges:
        if edge.dst in inside and edge.src not in inside and edge.src in nodes:
            ins.setdefault((edge.dst, edge.dst_port), BoundaryPort(
                edge.dst, edge.dst_port, True, label(edge.dst, edge.dst_port, True), True))
        if edge.src in inside and edge.dst not in inside and edge.dst in nodes:
            outs.setdefault((edge.src, edge.src_port), BoundaryPort(
                edge.src, edge.src_port, False, label(edge.src, edge.src_port, False), True))
    for node_id in members:
        node = nodes[node_id]
        if node.type == "Input":
            ins.setdefault((node_id, "out"), BoundaryPort(node_id, "out", True, node.name, False))
        elif node.type == "Output":
            outs.setdefault((node_id, "in"), BoundaryPort(node_id, "in", False, node.name, False))

    def order(port: BoundaryPort) -> tuple[bool, float, int, str]:
        return not port.wired, nodes[port.node_id].pos[1], port.node_id, port.port

    return sorted(ins.values(), key=order), sorted(outs.values(), key=order)
