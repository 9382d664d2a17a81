"""Groups on the canvas: the layer that keeps group frames and blocks in step with the graph.

A group (``graph.Group``) is drawn as a translucent frame with a title bar around its layers;
dragging the title moves them, double-clicking it (or its arrow) collapses the group. Collapsed,
the layers and the wires between them are hidden and one block stands in for them, with the
group's boundary ports: one input per wire that enters the group, one output per layer output
that leaves it, and the group's own Input / Output layers as ports without wires (a GAN's
generator shows "noise" in and "sample" out). The wires that cross the boundary are re-routed to
the block's ports; expanding restores everything.

Groups nest (an imported ResNet's stages hold blocks, its blocks hold layers). A collapsed group
hides everything inside it, nested frames and blocks included: the outermost collapsed group is
the block that stands in. Expanding it shows its nested groups as they were left, each one
collapsible on its own; when the unfolded layers would land on others, the canvas is laid out
again in the same undo step.

``GroupLayer`` only follows the model: every change is one of the undo commands in
``group_commands`` and the graph's events redraw. The items are in ``group_items``, the
outlines, block places and boundary ports in ``group_geometry``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QGraphicsItem, QInputDialog, QMenu

from graph.boundary import boundary_ports
from graph.model import Edge, Graph, GraphError, GraphEvent
from graph.roles import GROUP_ROLES
from gui.canvas.group_commands import (
    GroupCommand,
    RenameGroupCommand,
    SetGroupCollapsedCommand,
    SetGroupRoleCommand,
    UngroupCommand,
)
from gui.canvas.group_geometry import block_position, frame_geometry, node_rect
from gui.canvas.group_items import FRAME_Z, GroupBlockItem, GroupFrameItem
from gui.canvas.menus import menu_action
from gui.commands import AutoLayoutCommand

if TYPE_CHECKING:
    from gui.canvas.scene import GraphScene

# the GAN role menu: "None", "Generator", "Discriminator"


class GroupLayer:
    """The group frames and blocks of one GraphScene, kept in step with the graph's events."""

    def __init__(self, scene: GraphScene) -> None:
        self.scene = scene
        self.graph: Graph = scene.graph
        self.frames: dict[str, GroupFrameItem] = {}
        self.blocks: dict[str, GroupBlockItem] = {}
        self._hidden: dict[int, str] = {}  # node id -> collapsed group hiding it
        self._touched: set[Edge] = set()  # edges hidden or re-routed by a collapsed group
        self._wired: dict[str, list[Edge]] = {}  # collapsed group -> edges ending at its block
        self._analysis: Any = None
        self.graph.subscribe(self._on_graph_event)
        self.sync()

    def detach(self) -> None:
        self.graph.unsubscribe(self._on_graph_event)

    # -- queries ------------------------------------------------------------------------------
    def frame(self, group_id: str) -> GroupFrameItem | None:
        return self.frames.get(group_id)

    def block(self, group_id: str) -> GroupBlockItem | None:
        return self.blocks.get(group_id)

    def selected_members(self) -> set[int]:
        """Layers of the collapsed groups whose block is selected (they act as selected)."""
        out: set[int] = set()
        for group_id, block in self.blocks.items():
            if block.isVisible() and block.isSelected() and group_id in self.graph.groups:
                out.update(self.graph.group_members(group_id))
        return out

    def select_hiding_block(self, node_id: int) -> bool:
        """Select the block of the collapsed group that hides ``node_id`` (the Problems panel
        and other selections by id land on the block); False when the node is not hidden."""
        group_id = self._hidden.get(node_id)
        block = self.blocks.get(group_id) if group_id is not None else None
        if block is None or not block.isVisible():
            return False
        block.setSelected(True)
        return True

    def group_at(self, scene_pos: QPointF) -> str | None:
        """The group whose block or frame title is under ``scene_pos``."""
        for item in self.scene.items(scene_pos):
            if isinstance(item, (GroupBlockItem, GroupFrameItem)) and item.isVisible():
                if isinstance(item, GroupFrameItem) and not item.title_rect().contains(
                        scene_pos):
                    continue
                return item.group_id
        return None

    def groups_of(self, node_ids: Iterable[int]) -> list[str]:
        """The groups the user sees the layers in: the collapsed block hiding a layer, else
        its innermost group."""
        found = []
        for node_id in node_ids:
            group_id = self.visible_group(node_id)
            if group_id and group_id not in found:
                found.append(group_id)
        return found

    def visible_group(self, node_id: int) -> str:
        """The collapsed group hiding ``node_id``, else its innermost group ("" for none)."""
        hiding = self._hidden.get(node_id)
        if hiding is not None:
            return hiding
        group = self.graph.group_of(node_id)
        return group.id if group is not None else ""

    def hidden_by(self, group_id: str) -> bool:
        """Whether a collapsed group around ``group_id`` hides it."""
        return any(self.graph.groups[g].collapsed for g in self.graph.group_ancestors(group_id))

    # -- editing (each one undo step) -----------------------------------------------------------
    def push(self, command: QUndoCommand) -> None:
        self.scene.undo_stack.push(command)

    def group_selection(self, name: str | None = None, role: str = "") -> str | None:
        """Group the selected layers (Ctrl+G); returns the new group's id, or None with the
        reason on the scene's status line."""
        ids = sorted(set(self.scene.selected_node_ids()))
        if not ids:
            self.scene.status_message.emit("Select the layers to group first (Ctrl+G groups "
                                           "them).")
            return None
        # a selected collapsed block joins the new group whole, as a nested group
        blocks = list(dict.fromkeys(self._hidden[i] for i in ids if i in self._hidden))
        layers = [i for i in ids if i not in self._hidden]
        try:
            self.graph.common_parent(layers, blocks)
        except GraphError as exc:
            self.scene.status_message.emit(f"Cannot group: {exc}.")
            return None
        command = GroupCommand(self.graph, layers, name, role, child_groups=blocks)
        self.push(command)
        return command.group_id

    def ungroup(self, group_ids: Iterable[str]) -> int:
        ids = [g for g in dict.fromkeys(group_ids) if g in self.graph.groups]
        if not ids:
            return 0
        if len(ids) == 1:
            self.push(UngroupCommand(self.graph, ids[0]))
        else:
            self.scene.undo_stack.beginMacro(f"Ungroup {len(ids)} groups")
            for group_id in ids:
                self.push(UngroupCommand(self.graph, group_id))
            self.scene.undo_stack.endMacro()
        return len(ids)

    def ungroup_selection(self) -> int:
        """Ungroup the groups of the selected layers and blocks (Ctrl+Shift+G)."""
        count = self.ungroup(self.groups_of(self.scene.selected_node_ids()))
        if not count:
            self.scene.status_message.emit("Select a grouped layer or a collapsed group to "
                                           "ungroup.")
        return count

    def set_collapsed(self, group_id: str, collapsed: bool) -> None:
        """Collapse or expand one level; an expanded group whose layers would land on other
        layers or blocks lays the canvas out again, in the same undo step."""
        group = self.graph.groups.get(group_id)
        if group is None or group.collapsed == collapsed:
            return
        self.scene.select_node(None)
        command = SetGroupCollapsedCommand(self.graph, group_id, collapsed)
        if collapsed or not self._unfolds_onto_others(group_id):
            self.push(command)
            return
        stack = self.scene.undo_stack
        stack.beginMacro(command.text())
        self.push(command)
        self.push(AutoLayoutCommand(self.graph))
        stack.endMacro()

    def _unfolds_onto_others(self, group_id: str) -> bool:
        """Whether the layers of ``group_id``, expanded, overlap a visible layer or block
        outside it."""
        graph = self.graph
        inside = set(graph.group_members(group_id))
        rects = [node_rect(graph, i) for i in inside]  # its frame goes around them all
        others = [node_rect(graph, i) for i in graph.nodes
                  if i not in inside and i not in self._hidden]
        others += [b.sceneBoundingRect() for g, b in self.blocks.items()
                   if b.isVisible() and g != group_id]
        return any(r.intersects(o) for r in rects for o in others)

    def toggle_selection_collapsed(self) -> None:
        for group_id in self.groups_of(self.scene.selected_node_ids()):
            self.set_collapsed(group_id, not self.graph.groups[group_id].collapsed)

    def rename(self, group_id: str, name: str) -> bool:
        name = name.strip()
        if not name:
            self.scene.status_message.emit("Cannot rename the group: a name cannot be empty.")
            return False
        if name != self.graph.group(group_id).name:
            self.push(RenameGroupCommand(self.graph, group_id, name))
        return True

    def set_role(self, group_id: str, role: str) -> bool:
        group = self.graph.group(group_id)
        other = self.graph.group_by_role(role)
        if other is not None and other.id != group_id:
            self.scene.status_message.emit(
                f"Cannot make '{group.name}' the {role}: group '{other.name}' already is; "
                "clear its role first.")
            return False
        if role != group.role:
            self.push(SetGroupRoleCommand(self.graph, group_id, role))
        return True

    def ask_rename(self, group_id: str) -> None:
        views = self.scene.views()
        group = self.graph.group(group_id)
        name, ok = QInputDialog.getText(views[0] if views else None, "Rename group",
                                        f"New name for group '{group.name}':", text=group.name)
        if ok:
            self.rename(group_id, name)

    # -- drags --------------------------------------------------------------------------------
    def begin_drag(self, group_id: str, scene_pos: QPointF, select: bool) -> None:
        """Start moving a group's layers (and, from a block, the other selected layers)."""
        members = self.graph.group_members(group_id)
        if select:
            self.scene.select_nodes(members)
        self.scene.begin_drag_of(set(members) | set(self.scene.selected_node_ids()), scene_pos)

    # -- menus --------------------------------------------------------------------------------
    def fill_group_menu(self, menu: QMenu, group_id: str) -> None:
        """The menu of a group's title bar or block."""
        group = self.graph.group(group_id)
        if group.collapsed:
            menu_action(menu, "Expand group", lambda: self.set_collapsed(group_id, False))
        else:
            menu_action(menu, "Collapse group", lambda: self.set_collapsed(group_id, True))
        menu_action(menu, "Rename group\u2026", lambda: self.ask_rename(group_id))
        roles = menu.addMenu("GAN role")
        for role, spec in GROUP_ROLES.items():
            act = roles.addAction(spec.title)
            act.setCheckable(True)
            act.setChecked(group.role == role)
            act.triggered.connect(lambda _=False, r=role: self.set_role(group_id, r))
        menu_action(menu, "Select its layers",
                lambda: self.scene.select_nodes(self.graph.group_members(group_id)))
        menu.addSeparator()
        menu_action(menu, "Ungroup", lambda: self.ungroup([group_id]), "Ctrl+Shift+G")

    def add_node_actions(self, menu: QMenu, node_ids: list[int]) -> None:
        """Group / Ungroup entries for the layer context menu."""
        groups = self.groups_of(node_ids)
        grouped = bool(groups)
        act = menu_action(menu, "Group", self.group_selection, "Ctrl+G")
        act.setEnabled(bool(node_ids))
        act.setToolTip("Put the selected layers in a named group that can collapse into one "
                       "block.")
        if grouped:
            names = ", ".join(f"'{self.graph.groups[g].name}'" for g in groups)
            menu_action(menu, f"Collapse {names}", lambda: [self.set_collapsed(g, True)
                                                        for g in groups])
            menu_action(menu, f"Ungroup {names}", lambda: self.ungroup(groups), "Ctrl+Shift+G")

    # -- model -> items -----------------------------------------------------------------------
    def _on_graph_event(self, event: GraphEvent) -> None:
        if not self.graph.groups and not self.frames and not self.blocks and not self._hidden:
            return
        if event.kind == "node_moved" and event.node_id is not None:
            holding = self.graph.groups_holding(event.node_id)
            if holding:
                for group_id in holding:
                    self._place(group_id)
            elif event.node_id in self.graph.nodes:  # a layer moving past a frame: re-bridge
                rect = node_rect(self.graph, event.node_id)
                for group_id, frame in self.frames.items():
                    if frame.isVisible() and frame.rect.intersects(rect):
                        self._place(group_id)
            return
        if event.kind == "node_changed" and event.node_id is not None:
            group = self.graph.group_of(event.node_id)
            if group is None:
                return
        self.sync()

    def set_analysis(self, analysis: Any) -> None:
        """Parameter counts and the worst diagnostic of each collapsed group's layers."""
        self._analysis = analysis
        for group_id in self.blocks:
            self._update_block(group_id)

    def sync(self) -> None:
        """Bring frames, blocks, hidden layers and re-routed wires in line with the groups."""
        graph = self.graph
        for group_id in [g for g in {*self.frames, *self.blocks} if g not in graph.groups]:
            for items in (self.frames, self.blocks):
                item = items.pop(group_id, None)
                if item is not None:
                    self.scene.removeItem(item)
        hidden: dict[int, str] = {}
        for group_id, group in graph.groups.items():
            members = graph.group_members(group_id)
            covered = self.hidden_by(group_id)
            if group.collapsed and members and not covered:
                hidden.update((i, group_id) for i in members)
            self._ensure_items(group_id)
            frame, block = self.frames[group_id], self.blocks[group_id]
            frame.setZValue(FRAME_Z + 0.01 * len(graph.group_ancestors(group_id)))
            frame.setVisible(bool(members) and not group.collapsed and not covered)
            block.setVisible(bool(members) and group.collapsed and not covered)
        for node_id in set(self._hidden) | set(hidden):
            item = self.scene.node_item(node_id)
            if item is not None:
                item.setVisible(node_id not in hidden)
        self._hidden = hidden
        shown = [g for g in graph.groups if self.blocks[g].isVisible() or
                 self.frames[g].isVisible()]
        for group_id in shown:  # blocks first: frames around them need their size
            if self.blocks[group_id].isVisible():
                self._update_block(group_id)
        for group_id in shown:
            self._place(group_id, reroute=False)
        self._reroute_all()

    def _ensure_items(self, group_id: str) -> None:
        if group_id not in self.frames:
            frame = GroupFrameItem(self, group_id)
            self.frames[group_id] = frame
            self.scene.addItem(frame)
        if group_id not in self.blocks:
            block = GroupBlockItem(self, group_id)
            block.hide()
            self.blocks[group_id] = block
            self.scene.addItem(block)

    def _update_block(self, group_id: str) -> None:
        group = self.graph.groups.get(group_id)
        block = self.blocks.get(group_id)
        if group is None or block is None:
            return
        members = self.graph.group_members(group_id)
        inputs, outputs = boundary_ports(self.graph, group_id)
        params = None
        shapes = getattr(self._analysis, "shapes", None)
        if shapes is not None and getattr(shapes, "params", None) is not None:
            params = sum(int(shapes.params.get(i, 0)) for i in members)
        found = [(item.severity, item.message) for item in map(self.scene.node_item, members)
                 if item is not None and item.severity]
        severities = {s for s, _ in found}
        severity = "error" if "error" in severities else ("warning" if severities else None)
        messages = [m for s, m in sorted(found, key=lambda f: f[0] != "error")]
        block.set_state(group.name, group.role, len(members), inputs, outputs, params,
                        severity, "\n".join(messages[:3]))

    def _place(self, group_id: str, reroute: bool = True) -> None:
        """Put the frame around the layers and the block where they are."""
        group = self.graph.groups.get(group_id)
        if group is None or group_id not in self.frames:
            return
        members = self.graph.group_members(group_id)
        if not members:
            return
        frame = self.frames[group_id]
        if not group.collapsed and frame.isVisible():
            rects, others = self._frame_rects(group_id, members)
            path, title = frame_geometry(rects, others, self._levels_inside(group_id))
            frame.set_state(group.name, group.role, len(members), path, title)
        block = self.blocks[group_id]
        if group.collapsed:
            block.setPos(block_position(self.graph, members, block.width, block.height))
            if reroute:
                for edge in self._wired.get(group_id, ()):
                    item = self.scene.edge_item(edge)
                    if item is not None:
                        item.update_path()

    def _frame_rects(self, group_id: str, members: list[int]
                     ) -> tuple[list[QRectF], list[QRectF]]:
        """What an expanded group's frame goes around (its visible layers and the blocks of
        its collapsed nested groups) and what stays outside (the rest that is visible)."""
        graph = self.graph
        inside: list[QRectF] = []
        covering: set[str] = set()
        for node_id in members:
            block = self._covering(node_id, group_id)
            if block is None:
                inside.append(node_rect(graph, node_id))
            elif block not in covering:
                covering.add(block)
                inside.append(self._block_rect(block))
        nested = {group_id, *graph.group_descendants(group_id)}
        held = set(members)
        others = [node_rect(graph, i) for i in graph.nodes
                  if i not in held and i not in self._hidden]
        others += [QRectF(b.pos().x(), b.pos().y(), b.width, b.height)
                   for g, b in self.blocks.items() if g not in nested and b.isVisible()]
        return inside, others

    def _covering(self, node_id: int, group_id: str) -> str | None:
        """The outermost collapsed group inside ``group_id`` that hides ``node_id``."""
        found = None
        for holder in self.graph.groups_holding(node_id):
            if holder == group_id:
                break
            if self.graph.groups[holder].collapsed:
                found = holder
        return found

    def _block_rect(self, group_id: str) -> QRectF:
        block = self.blocks[group_id]
        pos = block_position(self.graph, self.graph.group_members(group_id), block.width,
                             block.height)
        return QRectF(pos.x(), pos.y(), block.width, block.height)

    def _levels_inside(self, group_id: str) -> int:
        """How many expanded frames nest inside ``group_id`` at most (its frame leaves room
        for their title bars)."""
        graph = self.graph
        return max((1 + self._levels_inside(c) for c in graph.child_groups(group_id)
                    if not graph.groups[c].collapsed and c not in graph.group_ancestors(
                        group_id)), default=0)

    def _reroute_all(self) -> None:
        """Hide wires inside collapsed groups; attach wires crossing into one to its block."""
        hidden = self._hidden
        touched: set[Edge] = set()
        wired: dict[str, list[Edge]] = {}
        bundles: set[tuple[int, str, int | str]] = set()
        for edge in self.graph.edges:
            src_group, dst_group = hidden.get(edge.src), hidden.get(edge.dst)
            if src_group is None and dst_group is None and edge not in self._touched:
                continue
            item = self.scene.edge_item(edge)
            if item is None:
                continue
            if src_group is not None and src_group == dst_group:
                item.hide()
                touched.add(edge)
                continue
            item.show()
            src = self._anchor(src_group, edge.src, edge.src_port, False)
            dst = self._anchor(dst_group, edge.dst, edge.dst_port, True)
            # several wires from one output into one block run side by side: one shape label
            bundle = (edge.src, edge.src_port, dst_group or edge.dst)
            item.reroute(src, dst, label=dst is None or bundle not in bundles)
            bundles.add(bundle)
            if src is not None or dst is not None:
                touched.add(edge)
            for group_id in {src_group, dst_group} - {None}:
                wired.setdefault(group_id, []).append(edge)
        self._touched = touched
        self._wired = wired

    def _anchor(self, group_id: str | None, node_id: int, port: str, is_input: bool
                ) -> tuple[QGraphicsItem, QPointF] | None:
        if group_id is None:
            return None
        block = self.blocks[group_id]
        boundary = block.port_for(node_id, port, is_input)
        if boundary is None:
            return None
        return block, block.port_offset(boundary)
