"""Groups on the canvas, driven like a user: Ctrl+G, collapse, boundary ports, undo, menus."""

from __future__ import annotations

from pathlib import Path

import pytest
from canvas_driver import CTRL, LEFT, NO_MOD, CanvasDriver
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QUndoStack
from PySide6.QtTest import QTest

from graph.boundary import boundary_ports
from graph.model import Edge, Graph
from graph.project import Project, load_project, save_project
from gui.canvas.group_commands import (
    GroupCommand,
    RenameGroupCommand,
    SetGroupCollapsedCommand,
    SetGroupRoleCommand,
)
from gui.canvas.group_geometry import block_position, node_rect
from gui.canvas.group_items import GroupBlockItem

SHIFT = Qt.KeyboardModifier.ShiftModifier


class Canvas(CanvasDriver):
    def __init__(self, qtbot, graph: Graph) -> None:
        super().__init__(qtbot, graph, size=(1400, 700))
        self.view.fit_all()

    def double_click(self, scene_pos: QPointF) -> None:
        """Click, then double-click (QTest's double-click alone reaches an item that did not
        get the first press as a press), after a pause so Qt does not pair it with an
        earlier click elsewhere."""
        QTest.qWait(QGuiApplication.styleHints().mouseDoubleClickInterval() + 50)
        QTest.mouseClick(self.view.viewport(), LEFT, NO_MOD, self.at(scene_pos))
        QTest.mouseDClick(self.view.viewport(), LEFT, NO_MOD, self.at(scene_pos))

    def at(self, scene_pos: QPointF) -> QPoint:
        return self.view.mapFromScene(scene_pos)

    def visible_nodes(self) -> list[int]:
        return [i for i in sorted(self.graph.nodes) if self.scene.node_item(i).isVisible()]


def chain() -> Graph:
    """x -> fc1 -> act -> fc2 -> y, plus a skip wire from x straight into y's neighbour."""
    g = Graph()
    g.add_node("Input", {"shape": [4]}, pos=(0, 0), name="x")
    g.add_node("Linear", pos=(300, 0), name="fc1")
    g.add_node("ReLU", pos=(600, 0), name="act")
    g.add_node("Linear", {"out_features": 64}, pos=(900, 0), name="fc2")
    g.add_node("Add", pos=(1200, 0), name="sum")
    g.add_node("Output", pos=(1500, 0), name="y")
    for src, dst, port in ((1, 2, "in"), (2, 3, "in"), (3, 4, "in"), (4, 5, "in1"),
                           (2, 5, "in2"), (5, 6, "in")):
        g.connect(Edge(src, "out", dst, port))
    return g


@pytest.fixture
def canvas(qtbot):
    c = Canvas(qtbot, chain())
    yield c
    c.scene.detach()


def test_group_collapse_ports_expand_undo_redo(canvas: Canvas) -> None:
    scene, graph, stack = canvas.scene, canvas.graph, canvas.stack
    scene.select_nodes([2, 3, 4])
    canvas.key(Qt.Key.Key_G, CTRL)
    (group,) = graph.groups.values()
    assert group.node_ids == [2, 3, 4] and group.name == "Group"
    assert stack.undoText() == "Group 3 layers as 'Group'"
    frame = scene.groups.frame(group.id)
    assert frame.isVisible() and frame.name == "Group" and frame.count == 3
    for node_id in (2, 3, 4):  # the frame surrounds its layers and leaves the others out
        assert frame.path.contains(scene.node_item(node_id).sceneBoundingRect())
    for node_id in (1, 5):
        assert not frame.path.intersects(scene.node_item(node_id).sceneBoundingRect())

    # double-click the title bar: collapse into one block
    canvas.double_click(frame.title_rect().center())
    assert group.collapsed and stack.undoText() == "Collapse 'Group'"
    block = scene.groups.block(group.id)
    assert block.isVisible() and not frame.isVisible()
    assert canvas.visible_nodes() == [1, 5, 6]
    assert [p.label for p in block.inputs] == ["fc1"]
    assert [(p.label, p.wired) for p in block.outputs] == [("fc1", True), ("fc2", True)]
    inside = [Edge(2, "out", 3, "in"), Edge(3, "out", 4, "in")]
    assert not any(scene.edge_item(e).isVisible() for e in inside)
    wire_in = scene.edge_item(Edge(1, "out", 2, "in"))
    assert wire_in.isVisible()
    assert wire_in.endpoints()[1] == block.pos() + block.port_offset(block.inputs[0])
    skip = scene.edge_item(Edge(2, "out", 5, "in2"))
    assert skip.endpoints()[0] == block.pos() + block.port_offset(block.outputs[0])

    # double-click the block: expand, everything comes back where it was
    canvas.double_click(block.sceneBoundingRect().center())
    assert not group.collapsed and canvas.visible_nodes() == [1, 2, 3, 4, 5, 6]
    assert all(scene.edge_item(e).isVisible() for e in graph.edges)
    node = scene.node_item(2)
    assert wire_in.endpoints()[1] == node.pos() + node.port("in", True).pos()

    stack.undo()  # collapse again
    assert group.collapsed and canvas.visible_nodes() == [1, 5, 6]
    stack.undo()  # expand
    stack.undo()  # no group
    assert graph.groups == {} and scene.groups.frame(group.id) is None
    stack.redo()
    assert graph.groups["g1"].node_ids == [2, 3, 4] and scene.groups.frame("g1").isVisible()
    stack.redo()
    assert graph.groups["g1"].collapsed and canvas.visible_nodes() == [1, 5, 6]


def test_group_value_commands_put_the_old_value_back() -> None:
    graph = chain()
    stack = QUndoStack()
    stack.push(GroupCommand(graph, [2, 3], "Body"))
    for make, read, new, text in (
            (lambda: SetGroupCollapsedCommand(graph, "g1", True), "collapsed", True,
             "Collapse 'Body'"),
            (lambda: RenameGroupCommand(graph, "g1", "  Trunk "), "name", "Trunk",
             "Rename group 'Body' to 'Trunk'"),
            (lambda: SetGroupRoleCommand(graph, "g1", "generator"), "role", "generator",
             "Make 'Trunk' the generator")):
        old = getattr(graph.group("g1"), read)
        stack.push(make())
        assert stack.undoText() == text and getattr(graph.group("g1"), read) == new
        stack.undo()
        assert getattr(graph.group("g1"), read) == old
        stack.redo()


def test_a_collapsed_block_sits_on_the_layer_nearest_the_groups_middle() -> None:
    graph = chain()
    middle = node_rect(graph, 3).center()  # fc1, act, fc2: act is in the middle
    pos = block_position(graph, [2, 3, 4], 100, 40)
    assert (pos.x(), pos.y()) == (round(middle.x() - 50), round(middle.y() - 20))


def test_boundary_ports_include_the_groups_own_inputs_and_outputs() -> None:
    graph = chain()
    graph.add_group([1, 2], name="front")
    graph.add_group([5, 6], name="back")
    ins, outs = boundary_ports(graph, "g1")
    assert [(p.label, p.wired) for p in ins] == [("x", False)]  # the Input layer: no wire
    assert [(p.label, p.wired) for p in outs] == [("fc1", True)]
    ins, outs = boundary_ports(graph, "g2")
    assert [p.label for p in ins] == ["sum.in1", "sum.in2"]  # Add has several inputs
    assert [(p.label, p.wired) for p in outs] == [("y", False)]


def test_ctrl_shift_g_ungroups_and_refusals_say_why(canvas: Canvas) -> None:
    scene, graph = canvas.scene, canvas.graph
    canvas.key(Qt.Key.Key_G, CTRL)
    assert graph.groups == {} and "Select the layers to group first" in canvas.messages[-1]
    scene.select_nodes([2, 3])
    canvas.key(Qt.Key.Key_G, CTRL)
    scene.select_nodes([3, 4])
    canvas.key(Qt.Key.Key_G, CTRL)
    assert len(graph.groups) == 1
    assert canvas.messages[-1] == ("Cannot group: ReLU 'act' is already in group 'Group'; "
                                   "ungroup it first (a group nests inside one group: pick "
                                   "layers of the same group).")
    canvas.key(Qt.Key.Key_G, CTRL | SHIFT)
    assert graph.groups == {} and canvas.stack.undoText() == "Ungroup 'Group'"
    assert all(item.isVisible() for item in scene.node_items())
    canvas.stack.undo()
    assert graph.groups["g1"].node_ids == [2, 3]


def test_block_drag_is_one_step_and_delete_of_a_block_comes_back_grouped(canvas: Canvas
                                                                          ) -> None:
    scene, graph, stack = canvas.scene, canvas.graph, canvas.stack
    stack.push(GroupCommand(graph, [2, 3, 4], "Body"))
    stack.push(SetGroupCollapsedCommand(graph, "g1", True))
    block = scene.groups.block("g1")
    before = {i: graph.nodes[i].pos for i in (2, 3, 4)}
    start = canvas.at(block.sceneBoundingRect().center())
    QTest.mousePress(canvas.view.viewport(), LEFT, NO_MOD, start)
    for step in range(1, 5):
        QTest.mouseMove(canvas.view.viewport(), start + QPoint(0, 30 * step))
    QTest.mouseRelease(canvas.view.viewport(), LEFT, NO_MOD, start + QPoint(0, 120))
    moved = {i: graph.nodes[i].pos for i in (2, 3, 4)}
    dy = moved[2][1] - before[2][1]
    assert dy > 50 and all(moved[i] == (before[i][0], before[i][1] + dy) for i in moved)
    assert stack.undoText() == "Move 3 layers"
    assert block.isSelected() and scene.selected_node_ids() == [2, 3, 4]
    scene.select_node(1)
    assert not block.isSelected()
    scene.select_node(3)  # a hidden layer (a click in the Problems panel): its block
    assert block.isSelected() and scene.selected_node_ids() == [2, 3, 4]
    canvas.key(Qt.Key.Key_Delete)
    assert sorted(graph.nodes) == [1, 5, 6] and not block.isVisible()
    stack.undo()
    assert graph.group_members("g1") == [2, 3, 4] and block.isVisible()
    assert canvas.visible_nodes() == [1, 5, 6]


def test_menus_rename_and_roles(canvas: Canvas, monkeypatch) -> None:
    scene, graph = canvas.scene, canvas.graph

    def titles(menu) -> list[str]:
        return [act.text() for act in menu.actions() if act.text()]

    scene.select_nodes([2, 3])
    menu = scene.build_context_menu(scene.node_item(2).sceneBoundingRect().center())
    group_action = next(a for a in menu.actions() if a.text() == "Group")
    assert group_action.shortcut().toString() == "Ctrl+G"
    group_action.trigger()
    menu = scene.build_context_menu(scene.node_item(2).sceneBoundingRect().center())
    assert "Ungroup 'Group'" in titles(menu) and "Collapse 'Group'" in titles(menu)
    frame = scene.groups.frame("g1")
    menu = scene.build_context_menu(frame.title_rect().center())
    assert titles(menu) == ["Collapse group", "Rename group\u2026", "GAN role",
                            "Select its layers", "Ungroup"]
    monkeypatch.setattr("gui.canvas.groups.QInputDialog.getText",
                        lambda *args, **kwargs: ("Encoder", True))
    next(a for a in menu.actions() if a.text().startswith("Rename")).trigger()
    assert graph.groups["g1"].name == "Encoder" and frame.name == "Encoder"
    roles = next(a.menu() for a in menu.actions() if a.text() == "GAN role")
    next(a for a in roles.actions() if a.text() == "Generator").trigger()
    assert graph.groups["g1"].role == "generator"
    scene.select_nodes([5, 6])
    other = scene.groups.group_selection("Critic")
    assert not scene.groups.set_role(other, "generator")
    assert canvas.messages[-1] == ("Cannot make 'Critic' the generator: group 'Encoder' "
                                   "already is; clear its role first.")
    next(a for a in menu.actions() if a.text() == "Collapse group").trigger()
    block = scene.groups.block("g1")
    menu = scene.build_context_menu(block.sceneBoundingRect().center())
    assert titles(menu)[0] == "Expand group"


def test_save_and_reopen_keep_groups(canvas: Canvas, qtbot, tmp_path: Path) -> None:
    scene, graph, stack = canvas.scene, canvas.graph, canvas.stack
    stack.push(GroupCommand(graph, [2, 3, 4], "Body"))
    stack.push(SetGroupCollapsedCommand(graph, "g1", True))
    path = tmp_path / "grouped.plexus"
    save_project(Project(graph=graph, name="grouped"), path)
    reopened = Canvas(qtbot, load_project(path).graph)
    try:
        group = reopened.graph.groups["g1"]
        assert (group.name, group.node_ids, group.collapsed) == ("Body", [2, 3, 4], True)
        block = reopened.scene.groups.block("g1")
        assert isinstance(block, GroupBlockItem) and block.isVisible()
        assert reopened.visible_nodes() == [1, 5, 6]
        assert [p.label for p in block.inputs] == [p.label for p in
                                                   scene.groups.block("g1").inputs]
    finally:
        reopened.scene.detach()


def test_collapsed_block_shows_parameters_and_errors(canvas: Canvas) -> None:
    from runtime.shapes import analyze

    scene, graph = canvas.scene, canvas.graph
    graph.add_group([2, 3, 4], "Body", collapsed=True)
    scene.set_analysis(analyze(graph))
    block = scene.groups.block("g1")
    assert block.params == (4 * 64 + 64) + (64 * 64 + 64) == 4480 and block.severity is None
    assert block.summary() == "3 layers  \u00b7  4,480 parameters"
    graph.set_param(2, "out_features", 0)  # a layer inside the group breaks
    scene.set_analysis(analyze(graph))
    assert block.severity == "error" and block.message.startswith("Linear 'fc1': ")
    assert "Linear 'fc1'" in block.tooltip_text()


def test_screenshot_of_expanded_and_collapsed_groups(qtbot, tmp_path: Path) -> None:
    from resources.examples import make
    from runtime.shapes import analyze

    project = make.build("gan_ring")
    project.graph.set_group_collapsed("g2", True)
    canvas = Canvas(qtbot, project.graph)
    try:
        canvas.scene.set_analysis(analyze(project.graph))
        canvas.view.fit_all()
        image = canvas.view.grab().toImage()
        out = tmp_path / "groups.png"
        assert image.save(str(out)) and out.stat().st_size > 10_000
        block = canvas.scene.groups.block("g2")
        assert [p.label for p in block.inputs] == ["point"]
        assert [p.label for p in block.outputs] == ["real_or_fake"]
        assert canvas.scene.groups.frame("g1").isVisible()
    finally:
        canvas.scene.detach()
