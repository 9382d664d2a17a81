"""The canvas's context menus: a layer's, a wire's and the empty canvas's (a group's comes from
its GroupLayer). Every entry is added one way, ``menu_action``: a slot that takes no
arguments, and the shortcut shown beside the text."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from graph import catalog
from graph.model import Edge
from gui.canvas.edge_item import EdgeItem
from gui.canvas.node_item import NodeItem
from gui.commands import DisconnectCommand

if TYPE_CHECKING:
    from gui.canvas.scene import GraphScene


def menu_action(menu: QMenu, text: str, slot: Callable[[], object],
                shortcut: str | None = None) -> QAction:
    """Add ``text`` to ``menu``; choosing it calls ``slot()``. ``shortcut`` is only shown
    (the window's own action takes the key)."""
    act = menu.addAction(text)
    act.triggered.connect(lambda _=False: slot())
    if shortcut:
        act.setShortcut(QKeySequence(shortcut))
        act.setShortcutVisibleInContextMenu(True)
    return act


def context_menu(scene: GraphScene, scene_pos: QPointF, parent: QWidget | None = None
                 ) -> QMenu:
    """The menu for what is under ``scene_pos``: a node, an edge, a group or the canvas."""
    menu = QMenu(parent)
    group_id = scene.groups.group_at(scene_pos)
    item = scene.item_at(scene_pos)
    if group_id is not None and not isinstance(item, NodeItem):
        scene.groups.fill_group_menu(menu, group_id)  # a group's title bar or block
    elif isinstance(item, NodeItem):
        _node_menu(scene, menu, item)
    elif isinstance(item, EdgeItem):
        _edge_menu(scene, menu, item.edge)
    else:
        _canvas_menu(scene, menu, scene_pos)
    return menu


def _node_menu(scene: GraphScene, menu: QMenu, item: NodeItem) -> None:
    if item.node_id not in scene.selected_node_ids():
        scene.select_node(item.node_id)
    ids = scene.selected_node_ids()
    node = scene.graph.node(item.node_id)
    rename = menu_action(menu, "Rename\u2026", lambda: scene.ask_rename(item.node_id), "F2")
    rename.setEnabled(len(ids) == 1)
    menu_action(menu, "Duplicate", scene.duplicate_selection, "Ctrl+D")
    menu_action(menu, "Copy", scene.copy_selection, "Ctrl+C")
    menu.addSeparator()
    scene.groups.add_node_actions(menu, ids)
    menu.addSeparator()
    freeze = menu_action(menu, "Freeze weights", lambda: scene.set_frozen(ids, not node.frozen))
    freeze.setCheckable(True)
    freeze.setChecked(node.frozen)
    freeze.setToolTip("A frozen layer keeps its weights while the rest trains.")
    menu.addSeparator()
    menu_action(menu, "Delete", scene.delete_selection, "Del")


def _edge_menu(scene: GraphScene, menu: QMenu, edge: Edge) -> None:
    insert = menu.addMenu("Insert layer here")
    add_layer_menu(insert, lambda layer: scene.insert_layer_on_edge(edge, layer),
                   needs_ports=True)
    menu.addSeparator()
    graph = scene.graph
    menu_action(menu, "Delete connection",
                lambda: scene.push(DisconnectCommand(graph, edge))
                if edge in graph.edges else None, "Del")


def _canvas_menu(scene: GraphScene, menu: QMenu, scene_pos: QPointF) -> None:
    add = menu.addMenu("Add layer")
    add_layer_menu(add, lambda layer: scene.add_layer(layer, scene_pos))
    paste = menu_action(menu, "Paste", lambda: scene.paste(scene_pos), "Ctrl+V")
    paste.setEnabled(scene.can_paste())
    menu.addSeparator()
    has_layers = not scene.is_empty()
    menu_action(menu, "Select all", scene.select_all, "Ctrl+A").setEnabled(has_layers)
    menu_action(menu, "Auto layout", scene.auto_layout).setEnabled(has_layers)
    views = scene.views()
    if views and hasattr(views[0], "fit_all"):
        menu_action(menu, "Fit to view", views[0].fit_all, "F")


def add_layer_menu(menu: QMenu, callback: Callable[[str], object],
                   needs_ports: bool = False) -> None:
    """Fill ``menu`` with one submenu per catalog category; choosing calls ``callback``."""
    for _cid, title, specs in catalog.by_category():
        if needs_ports:
            specs = [s for s in specs if s.inputs and s.outputs]
        if not specs:
            continue
        sub = menu.addMenu(title)
        for spec in specs:
            act = sub.addAction(spec.title)
            act.setToolTip(spec.description)
            act.setData(spec.id)
            act.triggered.connect(lambda _=False, layer=spec.id: callback(layer))
        sub.setToolTipsVisible(True)
