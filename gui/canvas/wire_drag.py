"""Dragging a wire between ports: the dashed wire that follows the pointer, snapping to a
compatible port nearby (or the first free one of the layer under the pointer), and what a
drop does: connect, re-route or remove a picked-up wire, or say why it cannot connect.

The scene starts one per drag (``GraphScene.start_wire``) and drops it when the drag ends or
is cancelled; every edit it makes is an undo command pushed through the scene.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsPathItem

from graph.model import Edge
from gui.canvas import style
from gui.canvas.node_item import NodeItem
from gui.canvas.port_item import PortItem
from gui.canvas.wire_route import curve
from gui.commands import ConnectCommand, DisconnectCommand

if TYPE_CHECKING:
    from gui.canvas.scene import GraphScene

SNAP_PIXELS = 26.0  # a dragged wire snaps to a compatible port this close (screen pixels)


class WireDrag:
    """One wire being dragged from ``port``; from a connected input it picks up that wire
    (the other end stays fixed, the wire is hidden until the drop)."""

    def __init__(self, scene: GraphScene, port: PortItem) -> None:
        self.scene = scene
        graph = scene.graph
        self.detached: Edge | None = None  # a wire picked up from an input port
        self.fixed = port  # the end that stays put
        if port.is_input:
            self.detached = graph.edge_into(port.node_id, port.name)
            if self.detached is not None:
                src_item = scene.node_item(self.detached.src)
                self.fixed = src_item.port(self.detached.src_port, False) or port
                scene.edge_item(self.detached).hide()
        # True: the fixed end is an output and the free end seeks an input
        self.from_output = not self.fixed.is_input
        # the nodes the free end may not reach without making a cycle
        self.blocked = (graph.leading_to([self.fixed.node_id]) if self.from_output
                        else graph.reached_from([self.fixed.node_id]))
        self.target: PortItem | None = None
        self.item = QGraphicsPathItem()
        pen = QPen(style.color("accent"), 2.0, Qt.PenStyle.DashLine)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        self.item.setPen(pen)
        self.item.setZValue(10)
        scene.addItem(self.item)

    def drag_to(self, scene_pos: QPointF) -> None:
        target = self._snap_target(scene_pos)
        if target is not self.target:
            if self.target is not None:
                self.target.set_highlighted(False)
            if target is not None:
                target.set_highlighted(True)
            self.target = target
        free = target.scene_center() if target is not None else scene_pos
        fixed = self.fixed.scene_center()
        self.item.setPath(curve(fixed, free) if self.from_output
                          else curve(free, fixed))

    def remove(self) -> None:
        """Take the dashed wire away and show a picked-up wire again (until an edit)."""
        if self.target is not None:
            self.target.set_highlighted(False)
        self.scene.removeItem(self.item)
        if self.detached is not None:
            item = self.scene.edge_item(self.detached)
            if item is not None:
                item.show()

    def drop(self, scene_pos: QPointF) -> None:
        """Connect (or re-route) to the port under ``scene_pos``, or say why not; a
        picked-up wire dropped on the empty canvas is removed."""
        scene, graph = self.scene, self.scene.graph
        target = self._snap_target(scene_pos)
        under = self._port_near(scene_pos)
        self.remove()
        if target is not None:
            edge = self._edge_to(target)
            if edge == self.detached:
                return
            reason = graph.check_connection(edge)
            if reason:
                scene.status_message.emit(f"Cannot connect: {reason}")
                return
            if self.detached is not None:
                scene.undo_stack.beginMacro("Reconnect")
                scene.push(DisconnectCommand(graph, self.detached))
                scene.push(ConnectCommand(graph, edge))
                scene.undo_stack.endMacro()
            else:
                scene.push(ConnectCommand(graph, edge))
            return
        if under is not None and under.is_input == self.from_output:
            edge = self._edge_to(under)
            if edge != self.detached:
                reason = graph.check_connection(edge) or "these ports cannot be joined"
                scene.status_message.emit(f"Cannot connect: {reason}")
            return
        if under is not None and under is not self.fixed:
            scene.status_message.emit("Cannot connect: wires run from an output port (right "
                                      "side) to an input port (left side).")
            return
        node = scene.item_at(scene_pos)
        if isinstance(node, NodeItem) and node is not self.fixed.node_item:
            ports = list(node.inputs.values() if self.from_output else node.outputs.values())
            if not ports:
                side = "inputs" if self.from_output else "outputs"
                scene.status_message.emit(f"Cannot connect: {node.label} has no {side}.")
            else:
                reason = graph.check_connection(self._edge_to(ports[0]))
                scene.status_message.emit(f"Cannot connect: {reason or 'no free port'}")
            return  # a picked-up wire dropped on the wrong layer stays where it was
        if self.detached is not None:
            scene.push(DisconnectCommand(graph, self.detached))
            scene.status_message.emit("Connection removed.")

    def _edge_to(self, other: PortItem) -> Edge:
        fixed = self.fixed
        if self.from_output:
            return Edge(fixed.node_id, fixed.name, other.node_id, other.name)
        return Edge(other.node_id, other.name, fixed.node_id, fixed.name)

    def _snap_radius(self) -> float:
        views = self.scene.views()
        scale = views[0].transform().m11() if views else 1.0
        return SNAP_PIXELS / max(scale, 0.05)

    def _ports_near(self, scene_pos: QPointF) -> list[tuple[float, PortItem]]:
        r = self._snap_radius()
        found = []
        for item in self.scene.items(QRectF(scene_pos.x() - r, scene_pos.y() - r, 2 * r,
                                            2 * r)):
            if isinstance(item, PortItem):
                d = item.scene_center() - scene_pos
                distance = (d.x() ** 2 + d.y() ** 2) ** 0.5
                if distance <= r:
                    found.append((distance, item))
        found.sort(key=lambda f: f[0])
        return found

    def _port_near(self, scene_pos: QPointF) -> PortItem | None:
        found = self._ports_near(scene_pos)
        return found[0][1] if found else None

    def _compatible(self, port: PortItem) -> bool:
        """Whether the free end of the wire may attach to ``port``."""
        if port.is_input != self.from_output or port.node_id in self.blocked:
            return False
        if port.is_input:
            taken = self.scene.graph.edge_into(port.node_id, port.name)
            return taken is None or taken == self.detached
        return True

    def _snap_target(self, scene_pos: QPointF) -> PortItem | None:
        """A compatible port near the cursor, else the first free one of the node under it
        (required ports before optional ones)."""
        for _, port in self._ports_near(scene_pos):
            if self._compatible(port):
                return port
        node = self.scene.item_at(scene_pos)
        if isinstance(node, NodeItem):
            ports = node.inputs if self.from_output else node.outputs
            candidates = [p for p in ports.values() if self._compatible(p)]
            if candidates:
                return min(candidates, key=lambda p: p.optional)  # stable: port order kept
        return None
