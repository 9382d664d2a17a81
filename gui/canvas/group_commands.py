"""Undo commands for groups: group, ungroup, collapse or expand, rename, set the GAN role.

Like every canvas edit, each one touches only the ``Graph`` model; the group layer redraws from
the graph's events, so undo and redo look the same as the edit did.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from PySide6.QtGui import QUndoCommand

from graph.model import Graph
from gui.text import counted


class GroupCommand(QUndoCommand):
    """Group layers into a new named group (redo after undo gives the same id and name)."""

    def __init__(self, graph: Graph, node_ids: Iterable[int], name: str | None = None,
                 role: str = "", parent: QUndoCommand | None = None,
                 child_groups: Iterable[str] = ()) -> None:
        super().__init__(parent)
        self.graph = graph
        self.node_ids = list(node_ids)
        self.child_groups = list(child_groups)
        self.name = name
        self.role = role
        self.group_id: str | None = None
        self.setText(f"Group {counted(len(self.node_ids), 'layer')}")

    def redo(self) -> None:
        group = self.graph.add_group(self.node_ids, self.name, self.role,
                                     group_id=self.group_id, child_groups=self.child_groups)
        self.group_id, self.name = group.id, group.name
        self.setText(f"Group {counted(len(self.node_ids), 'layer')} as '{group.name}'")

    def undo(self) -> None:
        if self.group_id in self.graph.groups:
            self.graph.remove_group(self.group_id)


class UngroupCommand(QUndoCommand):
    """Dissolve a group; its layers and nested groups stay, in its parent. Undo brings the
    group back as it was, around the same nested groups."""

    def __init__(self, graph: Graph, group_id: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.snapshot = copy.deepcopy(graph.group(group_id))
        self.children = graph.child_groups(group_id)
        self.setText(f"Ungroup '{self.snapshot.name}'")

    def redo(self) -> None:
        if self.snapshot.id in self.graph.groups:
            self.graph.remove_group(self.snapshot.id)

    def undo(self) -> None:
        self.graph.insert_group(copy.deepcopy(self.snapshot), self.children)


class _SetGroupValueCommand(QUndoCommand):
    """Set one value of a group (collapsed, name, role); undo puts the old value back.

    Subclasses say which value through ``_apply``; the old value is read once, at creation.
    """

    def __init__(self, graph: Graph, group_id: str, value: Any, old: Any, text: str,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(text, parent)
        self.graph = graph
        self.group_id = group_id
        self.old = old
        self.value = value

    def _apply(self, value: Any) -> None:
        raise NotImplementedError

    def redo(self) -> None:
        self._apply(self.value)

    def undo(self) -> None:
        self._apply(self.old)


class SetGroupCollapsedCommand(_SetGroupValueCommand):
    """Collapse a group into one block, or expand it back into its layers."""

    def __init__(self, graph: Graph, group_id: str, collapsed: bool,
                 parent: QUndoCommand | None = None) -> None:
        group = graph.group(group_id)
        super().__init__(graph, group_id, bool(collapsed), group.collapsed,
                         f"{'Collapse' if collapsed else 'Expand'} '{group.name}'", parent)

    def _apply(self, value: Any) -> None:
        self.graph.set_group_collapsed(self.group_id, value)


class RenameGroupCommand(_SetGroupValueCommand):
    """Rename a group (the controller checks the name is not empty)."""

    def __init__(self, graph: Graph, group_id: str, name: str,
                 parent: QUndoCommand | None = None) -> None:
        old, name = graph.group(group_id).name, name.strip()
        super().__init__(graph, group_id, name, old, f"Rename group '{old}' to '{name}'", parent)

    def _apply(self, value: Any) -> None:
        self.graph.rename_group(self.group_id, value)


class SetGroupRoleCommand(_SetGroupValueCommand):
    """Mark a group as a GAN's generator or discriminator (check with the model first)."""

    def __init__(self, graph: Graph, group_id: str, role: str,
                 parent: QUndoCommand | None = None) -> None:
        group = graph.group(group_id)
        what = f"the {role}" if role else "a plain group"
        super().__init__(graph, group_id, role, group.role, f"Make '{group.name}' {what}",
                         parent)

    def _apply(self, value: Any) -> None:
        self.graph.set_group_role(self.group_id, value)
