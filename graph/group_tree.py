"""Queries over a graph's nested groups: which group holds a node, what a group holds, its
parent, ancestors and descendants.

Groups nest through their ``parent``; a group's ``node_ids`` are its own layers. These
queries read only, and stay usable on a broken file (a missing parent counts as the top, a
cycle of parents stops), so the editor can open it and validation can say what is wrong.
``graph.model.Graph`` mixes them in; its mutations keep the hierarchy consistent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graph.model import Group, Node


class GroupTree:
    """The group hierarchy queries of ``graph.model.Graph``."""

    nodes: dict[int, Node]
    groups: dict[str, Group]

    def group(self, group_id: str) -> Group:
        raise NotImplementedError  # Graph.group: GraphError for an unknown id

    def group_of(self, node_id: int) -> Group | None:
        """The innermost group holding ``node_id`` (the first one, should a broken file name
        two)."""
        return next((g for g in self.groups.values() if node_id in g.node_ids), None)

    def group_members(self, group_id: str) -> list[int]:
        """The ids of the group's nodes that exist, its nested groups' included: its own in
        the group's order, then each nested group's."""
        out = self.direct_members(group_id)
        for child in self.group_descendants(group_id):
            out.extend(self.direct_members(child))
        return out

    def direct_members(self, group_id: str) -> list[int]:
        """The group's own nodes that exist, without those of nested groups."""
        return [i for i in self.group(group_id).node_ids if i in self.nodes]

    def child_groups(self, group_id: str) -> list[str]:
        """The ids of the groups directly inside ``group_id`` ("" for the top level)."""
        return [g.id for g in self.groups.values() if self.parent_of(g.id) == group_id]

    def parent_of(self, group_id: str) -> str:
        """The id of the group around ``group_id``; "" at the top or when a broken file names
        a missing parent (validation reports it)."""
        parent = self.group(group_id).parent
        return parent if parent in self.groups and parent != group_id else ""

    def group_ancestors(self, group_id: str) -> list[str]:
        """The groups around ``group_id``, innermost first (a cycle in a broken file stops)."""
        out: list[str] = []
        parent = self.parent_of(group_id)
        while parent and parent not in out and parent != group_id:
            out.append(parent)
            parent = self.parent_of(parent)
        return out

    def group_descendants(self, group_id: str) -> list[str]:
        """Every group nested in ``group_id``, parents before their children."""
        out: list[str] = []
        stack = list(reversed(self.child_groups(group_id)))
        while stack:
            child = stack.pop()
            if child in out or child == group_id:
                continue
            out.append(child)
            stack.extend(reversed(self.child_groups(child)))
        return out

    def groups_holding(self, node_id: int) -> list[str]:
        """The groups around a node, innermost first ([] for an ungrouped node)."""
        group = self.group_of(node_id)
        return [] if group is None else [group.id, *self.group_ancestors(group.id)]

    def group_by_role(self, role: str) -> Group | None:
        return next((g for g in self.groups.values() if role and g.role == role), None)

    def new_group_id(self) -> str:
        index = 1
        while f"g{index}" in self.groups:
            index += 1
        return f"g{index}"

    def unique_group_name(self, base: str = "Group") -> str:
        """``base`` or "base 2", "base 3"... so that no two groups share a name."""
        taken = {g.name for g in self.groups.values()}
        if base not in taken:
            return base
        index = 2
        while f"{base} {index}" in taken:
            index += 1
        return f"{base} {index}"
