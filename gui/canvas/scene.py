"""The canvas scene: draws a ``Graph`` and turns mouse gestures into undo commands.

The scene follows the model and never the reverse: it subscribes to ``GraphEvent``s and adds,
removes or updates one item per event; every user gesture (drop, wire, drag, delete, paste,
context menu) pushes a command from ``gui.commands`` that changes the model, and the resulting
events redraw the canvas. Shapes and diagnostics arrive through ``set_analysis``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QUndoStack
from PySide6.QtWidgets import (
    QGraphicsScene,
    QGraphicsSceneContextMenuEvent,
    QInputDialog,
    QMenu,
    QWidget,
)

from graph import catalog
from graph.layout import NODE_WIDTH, node_size, port_offset
from graph.model import Edge, Graph, GraphEvent, Node
from gui.canvas import style
from gui.canvas.clipboard import SceneClipboard
from gui.canvas.edge_item import EdgeItem
from gui.canvas.groups import GroupLayer  # group frames and collapsed blocks (issue 8)
from gui.canvas.menus import context_menu
from gui.canvas.node_item import NodeItem
from gui.canvas.port_item import PortItem
from gui.canvas.wire_drag import WireDrag
from gui.commands import (
    AddNodeCommand,
    AutoLayoutCommand,
    ConnectCommand,
    DisconnectCommand,
    MoveNodesCommand,
    NodeDrag,
    RemoveItemsCommand,
    RenameCommand,
    SetNodeOptionsCommand,
    new_drag_id,
)
from gui.text import counted

LAYER_MIME = "application/x-plexus-layer"  # palette drags: the layer id as UTF-8

GRID_MINOR = 24.0
GRID_MAJOR = GRID_MINOR * 5
SCENE_MARGIN = 1500.0


class GraphScene(SceneClipboard, QGraphicsScene):
    """A QGraphicsScene that mirrors a Graph and edits it through an undo stack.

    Signals: ``nodes_selected(list[int])`` when the node selection changes,
    ``status_message(str)`` for one-line feedback (refused connections, copies),
    ``node_activated(int)`` on a double-click on a node, ``empty_changed(bool)``.
    """

    nodes_selected = Signal(list)
    status_message = Signal(str)
    node_activated = Signal(int)
    empty_changed = Signal(bool)

    def __init__(self, graph: Graph, undo_stack: QUndoStack,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._graph = graph
        self._undo = undo_stack
        self._nodes: dict[int, NodeItem] = {}
        self._edges: dict[Edge, EdgeItem] = {}
        self._analysis: Any = None
        self._wire: WireDrag | None = None
        self._drag: NodeDrag | None = None
        self._last_selection: list[int] = []
        self._was_empty = True
        self._paste_serial = 0
        self._nudge: tuple[tuple[int, ...], int] | None = None
        self._fixing_selection = False
        self.rubber_banding = False  # set by the view while a rubber band is dragged
        self.setSceneRect(QRectF(-2000, -1400, 4000, 2800))
        self.selectionChanged.connect(self._on_selection_changed)
        graph.subscribe(self._on_graph_event)
        self._rebuild()
        self.groups = GroupLayer(self)  # subscribes after the scene: items exist when it runs

    # -- public API ---------------------------------------------------------------------------
    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def undo_stack(self) -> QUndoStack:
        return self._undo

    def detach(self) -> None:
        """Stop following the graph (call before dropping the scene)."""
        self._graph.unsubscribe(self._on_graph_event)
        if getattr(self, "groups", None) is not None:
            self.groups.detach()

    def node_item(self, node_id: int) -> NodeItem | None:
        return self._nodes.get(node_id)

    def edge_item(self, edge: Edge) -> EdgeItem | None:
        return self._edges.get(edge)

    def node_items(self) -> list[NodeItem]:
        return list(self._nodes.values())

    def edge_items(self) -> list[EdgeItem]:
        return list(self._edges.values())

    def is_empty(self) -> bool:
        return not self._nodes

    def selected_node_ids(self) -> list[int]:
        """Selected layers; a selected collapsed group counts as its layers."""
        ids = {i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)}
        groups = getattr(self, "groups", None)
        if groups is not None and groups.blocks:
            ids |= groups.selected_members()
        return sorted(ids)

    def selected_edges(self) -> list[Edge]:
        return sorted(i.edge for i in self.selectedItems() if isinstance(i, EdgeItem))

    def select_node(self, node_id: int | None) -> None:
        """Make ``node_id`` the only selected item (None clears the selection)."""
        self.select_nodes([] if node_id is None else [node_id])

    def select_nodes(self, node_ids: Iterable[int]) -> None:
        wanted = set(node_ids)
        self.blockSignals(True)
        try:
            self.clearSelection()
            for node_id in wanted:
                item = self._nodes.get(node_id)
                if item is not None:
                    item.setSelected(True)
                    if not item.isVisible():  # inside a collapsed group: select its block
                        self.groups.select_hiding_block(node_id)
        finally:
            self.blockSignals(False)
        self._on_selection_changed()

    def select_all(self) -> None:
        self.select_nodes(self._nodes)

    def nodes_bounding_rect(self) -> QRectF:
        rect = QRectF()
        for item in self._nodes.values():
            if item.isVisible():  # layers in a collapsed group: their block counts instead
                rect = rect.united(item.sceneBoundingRect())
        for block in self.groups.blocks.values():
            if block.isVisible():
                rect = rect.united(block.sceneBoundingRect())
        return rect

    def set_analysis(self, analysis: Any) -> None:
        """Show an analysis (runtime.shapes.Analysis): shapes on edges and nodes, diagnostics.

        Nodes with an error get a red outline and badge whose tooltip is the message, warnings
        amber; edges get their tensor shape in a pill. Only items whose state changed repaint.
        """
        self._analysis = analysis
        shapes = getattr(analysis, "shapes", None)
        outputs: dict[int, dict[str, tuple]] = getattr(shapes, "outputs", None) or {}
        edge_shapes: dict[Edge, tuple] = getattr(shapes, "edges", None) or {}
        messages: dict[int, list[tuple[str, str]]] = {}
        bad_edges: set[Edge] = set()
        for diag in getattr(analysis, "diagnostics", None) or []:
            if diag.node_id is not None and getattr(diag, "cause", None) is None:
                messages.setdefault(diag.node_id, []).append((diag.severity, diag.message))
            if diag.edge is not None and diag.severity == "error":
                bad_edges.add(diag.edge)
        fmt = style.format_shape
        # Only edges and nodes whose part of the analysis changed are touched: an edit of a
        # 5,000-layer design changes a handful, and formatting every shape showed in profiles.
        # Each item keeps what it was last given (a new item has nothing); an unchanged part
        # is mostly the very object of the last analysis (shape inference shares them).
        dirty: set[int] = set()
        for edge, item in self._edges.items():
            shape = edge_shapes.get(edge)
            bad = bool(bad_edges) and edge in bad_edges
            drawn = item.analysed
            if drawn is None or drawn[1] != bad or (drawn[0] is not shape
                                                    and drawn[0] != shape):
                item.set_label(fmt(tuple(shape)) if shape is not None else "", bad)
                item.analysed = (shape, bad)
                dirty.add(edge.dst)
        for node_id, item in self._nodes.items():
            found = messages.get(node_id)
            out = outputs.get(node_id)
            drawn = item.analysed
            if node_id not in dirty and drawn is not None and drawn[1] == found and (
                    drawn[0] is out or drawn[0] == out):
                continue
            item.analysed = (out, found)
            port_shapes = {f"out:{port}": fmt(tuple(shape))
                           for port, shape in (out or {}).items()}
            for wire in item.edges:  # its own wires, not a scan of every wire
                if wire.edge.dst == node_id and wire.label:
                    port_shapes[f"in:{wire.edge.dst_port}"] = wire.label
            if item.outputs:
                first = next(iter(item.outputs))
                shape_text = "\u2192 " + port_shapes.get(f"out:{first}", "?")
            else:
                first_in = next(iter(item.inputs), "")
                shape_text = port_shapes.get(f"in:{first_in}", "")
            severity, text = None, ""
            if found:
                severity = "error" if any(s == "error" for s, _ in found) else "warning"
                text = "\n".join(m for _, m in sorted(found, key=lambda f: f[0] != "error"))
            item.set_analysis_state(shape_text, port_shapes, severity, text)
        if getattr(self, "groups", None) is not None:
            self.groups.set_analysis(analysis)

    # -- editing operations (each one undo step) ----------------------------------------------
    def push(self, command: Any) -> None:
        self._undo.push(command)

    def add_layer(self, layer_id: str, scene_pos: QPointF) -> int | None:
        """Add a layer centred on ``scene_pos``, select it and return its id."""
        if catalog.get(layer_id) is None:
            self.status_message.emit(f"Unknown layer type '{layer_id}'; pick one from the "
                                     "palette.")
            return None
        w, h = node_size(layer_id)
        command = AddNodeCommand(self._graph, layer_id,
                                 (round(scene_pos.x() - w / 2), round(scene_pos.y() - h / 2)))
        self.push(command)
        self.select_node(command.node_id)
        return command.node_id

    def connect_ports(self, src: int, src_port: str, dst: int, dst_port: str) -> bool:
        """Connect two ports, or say why not on ``status_message``."""
        edge = Edge(src, src_port, dst, dst_port)
        reason = self._graph.check_connection(edge)
        if reason:
            self.status_message.emit(f"Cannot connect: {reason}")
            return False
        self.push(ConnectCommand(self._graph, edge))
        return True

    def delete_selection(self) -> None:
        node_ids = self.selected_node_ids()
        edges = [e for e in self.selected_edges() if e.src not in node_ids
                 and e.dst not in node_ids]
        command = RemoveItemsCommand(self._graph, node_ids, edges)
        if not command.is_empty():
            self.push(command)

    def insert_layer_on_edge(self, edge: Edge, layer_id: str) -> int | None:
        """Put a new layer inside a connection: one undo step (a macro of four commands)."""
        spec = catalog.get(layer_id)
        if spec is None or not spec.inputs or not spec.outputs:
            self.status_message.emit(f"{layer_id} cannot go inside a connection: it needs an "
                                     "input and an output port.")
            return None
        if edge not in self._graph.edges:
            return None
        src, dst = self._graph.node(edge.src), self._graph.node(edge.dst)
        in_port, out_port = spec.inputs[0].name, spec.outputs[0].name
        src_port_y = src.pos[1] + port_offset(src.type, edge.src_port, False)[1]
        y = round(src_port_y - port_offset(layer_id, in_port, True)[1])
        room = 50.0
        x = src.pos[0] + NODE_WIDTH + room
        shift = 0.0
        if dst.pos[0] > src.pos[0]:
            shift = max(0.0, x + NODE_WIDTH + room - dst.pos[0])
        else:
            x = (src.pos[0] + dst.pos[0]) / 2
        self._undo.beginMacro(f"Insert {spec.title} into a connection")
        try:
            if shift:
                downstream = self._graph.reached_from([dst.id])
                moves = {i: (self._graph.nodes[i].pos, (self._graph.nodes[i].pos[0] + shift,
                                                         self._graph.nodes[i].pos[1]))
                         for i in downstream}
                self.push(MoveNodesCommand(self._graph, moves))
            self.push(DisconnectCommand(self._graph, edge))
            add = AddNodeCommand(self._graph, layer_id, (round(x), y))
            self.push(add)
            assert add.node_id is not None
            self.push(ConnectCommand(self._graph, Edge(edge.src, edge.src_port, add.node_id,
                                                       in_port)))
            self.push(ConnectCommand(self._graph, Edge(add.node_id, out_port, edge.dst,
                                                       edge.dst_port)))
        finally:
            self._undo.endMacro()
        self.select_node(add.node_id)
        return add.node_id

    def rename_node(self, node_id: int, name: str) -> bool:
        """Rename, refusing empty names and names another layer has (one-line reason)."""
        name = name.strip()
        node = self._graph.node(node_id)
        if not name:
            self.status_message.emit(f"Cannot rename {node.label}: a name cannot be empty.")
            return False
        other = self._graph.node_by_name(name)
        if other is not None and other.id != node_id:
            self.status_message.emit(f"Cannot rename {node.label}: {other.label} already has "
                                     "that name; choose another.")
            return False
        if name != node.name:
            self.push(RenameCommand(self._graph, node_id, name))
        return True

    def set_frozen(self, node_ids: Iterable[int], frozen: bool) -> None:
        ids = [i for i in node_ids if i in self._graph.nodes]
        if not ids:
            return
        self._undo.beginMacro(f"{'Freeze' if frozen else 'Unfreeze'} "
                              f"{counted(len(ids), 'layer')}")
        for node_id in ids:
            self.push(SetNodeOptionsCommand(self._graph, node_id, frozen=frozen))
        self._undo.endMacro()

    def nudge_selection(self, dx: float, dy: float) -> None:
        """Move the selected layers by the arrow keys; repeated nudges of the same selection
        merge into one undo step (like one drag)."""
        ids = self.selected_node_ids()
        if not ids:
            return
        last = self._undo.command(self._undo.index() - 1) if self._undo.index() else None
        key = tuple(ids)
        if self._nudge is None or self._nudge[0] != key or not isinstance(
                last, MoveNodesCommand) or last.drag_id != self._nudge[1]:
            self._nudge = (key, new_drag_id())
        moves = {i: (self._graph.nodes[i].pos, (self._graph.nodes[i].pos[0] + dx,
                                                 self._graph.nodes[i].pos[1] + dy)) for i in ids}
        self.push(MoveNodesCommand(self._graph, moves, drag_id=self._nudge[1]))

    def auto_layout(self) -> None:
        if self._graph.nodes:
            self.push(AutoLayoutCommand(self._graph))

    # -- graph events -> items ----------------------------------------------------------------
    def _on_graph_event(self, event: GraphEvent) -> None:
        kind = event.kind
        if kind == "node_added" and event.node_id is not None:
            self._add_node_item(self._graph.nodes[event.node_id])
        elif kind == "node_removed" and event.node_id is not None:
            self._remove_node_item(event.node_id)
        elif kind == "node_changed" and event.node_id in self._nodes:
            item = self._nodes[event.node_id]
            item.sync(self._graph.nodes[event.node_id])
            item.update_edges()
        elif kind == "node_moved" and event.node_id in self._nodes:
            item = self._nodes[event.node_id]
            item.setPos(QPointF(*self._graph.nodes[event.node_id].pos))
            item.update_edges()
            self._grow_scene_rect(item.sceneBoundingRect())
        elif kind == "edge_added" and event.edge is not None:
            self._add_edge_item(event.edge)
        elif kind == "edge_removed" and event.edge is not None:
            self._remove_edge_item(event.edge)
        elif kind == "reset":
            self._rebuild()
        self._check_empty()

    def _add_node_item(self, node: Node) -> NodeItem:
        item = NodeItem(node)
        self._nodes[node.id] = item
        self.addItem(item)
        self._grow_scene_rect(item.sceneBoundingRect())
        return item

    def _remove_node_item(self, node_id: int) -> None:
        item = self._nodes.pop(node_id, None)
        if item is None:
            return
        for edge_item in list(item.edges):
            self._remove_edge_item(edge_item.edge)
        if self._drag is not None:
            self._drag.positions.pop(node_id, None)
        self.removeItem(item)

    def _add_edge_item(self, edge: Edge) -> None:
        src, dst = self._nodes.get(edge.src), self._nodes.get(edge.dst)
        if src is None or dst is None or edge in self._edges:
            return
        item = EdgeItem(edge, src, dst)
        self._edges[edge] = item
        src.edges.add(item)
        dst.edges.add(item)
        for port in (src.port(edge.src_port, False), dst.port(edge.dst_port, True)):
            if port is not None:
                port.connections += 1
                port.update()
        self.addItem(item)

    def _remove_edge_item(self, edge: Edge) -> None:
        item = self._edges.pop(edge, None)
        if item is None:
            return
        for node, port_name, is_input in ((item.src_item, edge.src_port, False),
                                          (item.dst_item, edge.dst_port, True)):
            node.edges.discard(item)
            port = node.port(port_name, is_input)
            if port is not None:
                port.connections = max(0, port.connections - 1)
                port.update()
        self.removeItem(item)

    def _rebuild(self) -> None:
        self.cancel_gestures()
        for edge in list(self._edges):
            self._remove_edge_item(edge)
        for node_id in list(self._nodes):
            self._remove_node_item(node_id)
        for node in self._graph.nodes.values():
            self._add_node_item(node)
        for edge in self._graph.edges:
            self._add_edge_item(edge)
        if self._analysis is not None:
            self.set_analysis(self._analysis)
        self._check_empty()

    def _grow_scene_rect(self, rect: QRectF) -> None:
        current = self.sceneRect()
        padded = rect.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN)
        if not current.contains(padded):
            self.setSceneRect(current.united(padded))

    def _check_empty(self) -> None:
        empty = not self._nodes
        if empty != self._was_empty:
            self._was_empty = empty
            self.empty_changed.emit(empty)

    def _on_selection_changed(self) -> None:
        if self._fixing_selection:
            return
        if self.rubber_banding:  # a rubber band picks layers, not the wires crossing it
            self._fixing_selection = True
            try:
                for item in self.selectedItems():
                    if isinstance(item, EdgeItem):
                        item.setSelected(False)
            finally:
                self._fixing_selection = False
        ids = self.selected_node_ids()
        if ids != self._last_selection:
            for node_id in set(self._last_selection) - set(ids):
                if node_id in self._nodes:
                    self._nodes[node_id].setZValue(0)
            for node_id in ids:
                self._nodes[node_id].setZValue(1)  # selected layers draw above the others
            self._last_selection = ids
            self.nodes_selected.emit(ids)

    # -- node drag (one undo step per drag) ---------------------------------------------------
    def begin_node_drag(self, item: NodeItem, scene_pos: QPointF) -> None:
        self.begin_drag_of(set(self.selected_node_ids()) | {item.node_id}, scene_pos)

    def begin_drag_of(self, node_ids: Iterable[int], scene_pos: QPointF) -> None:
        """Start moving these layers with the pointer (a layer's card or a group's frame)."""
        self._drag = NodeDrag(self._graph, node_ids, scene_pos.x(), scene_pos.y())

    def node_drag_to(self, scene_pos: QPointF) -> None:
        command = self._drag.move_to(scene_pos.x(), scene_pos.y()) if self._drag else None
        if command is not None:
            self.push(command)

    def end_node_drag(self) -> None:
        self._drag = None

    # -- wire drag (canvas/wire_drag.py) -------------------------------------------------------
    def start_wire(self, port: PortItem, scene_pos: QPointF) -> None:
        """Begin dragging a wire from ``port``; from a connected input, pick up its wire."""
        self.cancel_gestures()
        self._wire = WireDrag(self, port)
        self._wire.drag_to(scene_pos)

    def drag_wire(self, scene_pos: QPointF) -> None:
        if self._wire is not None:
            self._wire.drag_to(scene_pos)

    def finish_wire(self, scene_pos: QPointF) -> None:
        wire, self._wire = self._wire, None
        self._drag = None
        if wire is not None:
            wire.drop(scene_pos)

    def cancel_gestures(self) -> None:
        """Drop a wire or node drag in progress (Esc, reset)."""
        self._drag = None
        wire, self._wire = self._wire, None
        if wire is not None:
            wire.remove()

    # -- context menus ------------------------------------------------------------------------
    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        menu = self.build_context_menu(event.scenePos(), event.widget())
        if not menu.isEmpty():
            menu.exec(event.screenPos())
        menu.deleteLater()
        event.accept()

    def item_at(self, scene_pos: QPointF) -> NodeItem | EdgeItem | None:
        """The node (a port or badge counts as its node) or edge under ``scene_pos``."""
        views = self.views()
        transform = views[0].transform() if views else None
        for item in self.items(scene_pos, Qt.ItemSelectionMode.IntersectsItemShape,
                               Qt.SortOrder.DescendingOrder, transform):
            while item is not None and not isinstance(item, (NodeItem, EdgeItem)):
                item = item.parentItem()
            if item is not None and item.isVisible():
                return item
        return None

    def build_context_menu(self, scene_pos: QPointF, parent: QWidget | None = None) -> QMenu:
        """The menu for what is under ``scene_pos``: a node, an edge, a group or the canvas."""
        return context_menu(self, scene_pos, parent)

    def ask_rename(self, node_id: int) -> None:
        node = self._graph.node(node_id)
        views = self.views()
        name, ok = QInputDialog.getText(views[0] if views else None, "Rename layer",
                                        f"New name for {node.label}:", text=node.name)
        if ok:
            self.rename_node(node_id, name)

    def rename_selected(self) -> None:
        ids = self.selected_node_ids()
        if len(ids) == 1:
            self.ask_rename(ids[0])

    # -- background ---------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        canvas = style.color("canvas")
        painter.fillRect(rect, canvas)
        scale = painter.worldTransform().m11()
        major = style.color("grid")
        minor = QColor((canvas.red() + major.red()) // 2, (canvas.green() + major.green()) // 2,
                       (canvas.blue() + major.blue()) // 2)
        for step, colour, min_px in ((GRID_MINOR, minor, 10.0), (GRID_MAJOR, major, 8.0)):
            if step * scale < min_px:
                continue
            pen = QPen(colour, 1.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            lines = []
            x = int(rect.left() // step) * step
            while x < rect.right():
                lines.append(QLineF(x, rect.top(), x, rect.bottom()))
                x += step
            y = int(rect.top() // step) * step
            while y < rect.bottom():
                lines.append(QLineF(rect.left(), y, rect.right(), y))
                y += step
            painter.drawLines(lines)

    def refresh_theme(self) -> None:
        """Repaint every item after a theme switch (cached pixmaps are dropped by update)."""
        for item in self.items():
            item.update()
        self.update()
        for view in self.views():
            view.resetCachedContent()
