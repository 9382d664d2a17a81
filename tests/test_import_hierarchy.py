"""Imported networks keep their module hierarchy as nested groups: the scopes an importer
reads, the groups they become, the layout, and the editor window collapsing and expanding one
level at a time."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from torch import nn

from graph import layout
from graph.hierarchy import dotted_scopes, group_by_scopes, onnx_scopes
from graph.layout import BLOCK_WIDTH, COLUMN_GAP, GROUP_MARGIN, auto_layout, node_size
from graph.model import Graph
from graph.project import save_project
from runtime.importer import import_module, import_onnx

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


class Block(nn.Module):
    """A residual block: conv-bn-relu-conv-bn, plus the input, relu."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + x)


class TinyResNet(nn.Module):
    """A stem, ``stages`` stages of ``blocks`` residual blocks, and a classifier."""

    def __init__(self, stages: int = 3, blocks: int = 3, channels: int = 4) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, padding=1)
        for index in range(stages):
            setattr(self, f"layer{index + 1}",
                    nn.Sequential(*(Block(channels) for _ in range(blocks))))
        self.stages = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for index in range(self.stages):
            x = getattr(self, f"layer{index + 1}")(x)
        return self.fc(torch.flatten(self.pool(x), 1))


def imported(stages: int = 3, blocks: int = 3) -> Graph:
    torch.manual_seed(0)
    return import_module(TinyResNet(stages, blocks), input_shape=(3, 8, 8)).graph


def tree(graph: Graph, group_id: str = "") -> list:
    """The group hierarchy as (name, collapsed, own layer names, nested) tuples."""
    return [(graph.groups[g].name, graph.groups[g].collapsed,
             [graph.nodes[i].name for i in graph.direct_members(g)], tree(graph, g))
            for g in graph.child_groups(group_id)]


def block_centre(graph: Graph, group_id: str) -> tuple[float, float]:
    """Where the canvas centres a collapsed group's block: on the layer nearest the middle of
    its layers (gui.canvas.group_geometry.block_position)."""
    def centre(i: int) -> tuple[float, float]:
        w, h = node_size(graph.nodes[i].type)
        return graph.nodes[i].pos[0] + w / 2, graph.nodes[i].pos[1] + h / 2

    members = graph.group_members(group_id)
    xs = [graph.nodes[i].pos[0] for i in members] + [
        graph.nodes[i].pos[0] + node_size(graph.nodes[i].type)[0] for i in members]
    ys = [graph.nodes[i].pos[1] for i in members] + [
        graph.nodes[i].pos[1] + node_size(graph.nodes[i].type)[1] for i in members]
    mid = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
    return min((centre(i) for i in members),
               key=lambda c: (c[0] - mid[0]) ** 2 + (c[1] - mid[1]) ** 2)


def test_scopes_from_module_paths_and_onnx_names():
    assert dotted_scopes("layer1.0.conv1") == ["layer1", "layer1.0"]
    assert dotted_scopes("fc") == []
    assert onnx_scopes("/layer1/layer1.0/conv1/Conv") == ["layer1", "layer1.0", "conv1"]
    assert onnx_scopes("/fc/Gemm") == ["fc"] and onnx_scopes("node_conv2d") == []


def test_scopes_become_nested_groups_without_redundant_levels():
    g = Graph()
    ids = [g.add_node("ReLU").id for _ in range(7)]
    scopes = {ids[0]: [], ids[1]: ["a", "a.0"], ids[2]: ["a", "a.0"], ids[3]: ["a", "a.1"],
              ids[4]: ["a", "a.1"], ids[5]: ["a"], ids[6]: ["b", "b.0"]}
    made = group_by_scopes(g, scopes, collapse_above=100)
    assert len(made) == 3  # "b" and "b.0" hold one layer each: no group
    assert tree(g) == [("a", False, ["relu_6"], [("a.0", False, ["relu_2", "relu_3"], []),
                                                 ("a.1", False, ["relu_4", "relu_5"], [])])]
    g2 = Graph()
    ids = [g2.add_node("ReLU").id for _ in range(3)]
    group_by_scopes(g2, {i: ["features", "features.1", "features.1.0"] for i in ids},
                    collapse_above=2)
    assert tree(g2) == [("features", True, ["relu_1", "relu_2", "relu_3"], [])]


def test_fx_import_groups_stages_and_blocks_and_collapses_big_networks():
    graph = imported()
    assert len(graph.nodes) == 3 * 3 * 7 + 6 > 60
    stages = tree(graph)
    assert [(name, collapsed, own) for name, collapsed, own, _ in stages] == [
        ("layer1", True, []), ("layer2", True, []), ("layer3", True, [])]
    name, _, _, blocks = stages[0]
    assert [b[0] for b in blocks] == ["layer1.0", "layer1.1", "layer1.2"]
    assert blocks[0] == ("layer1.0", True, ["layer1_0_conv1", "layer1_0_bn1", "layer1_0_relu",
                                            "layer1_0_conv2", "layer1_0_bn2", "add",
                                            "layer1_0_relu_2"], [])
    small = imported(stages=2, blocks=2)  # 34 layers: opens expanded
    assert [(n, c) for n, c, _, _ in tree(small)] == [("layer1", False), ("layer2", False)]


def test_layout_gives_a_collapsed_stage_the_room_of_a_block(tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "MAX_COLUMNS", 5)  # bands of up to five columns
    graph = imported()
    stages = graph.child_groups("")
    top = [n for n in graph.nodes.values() if graph.group_of(n.id) is None]
    assert [n.name for n in top] == ["x", "stem", "pool", "flatten", "fc", "output"]
    # x, stem, 3 stage blocks | pool, flatten, fc, output: 9 columns in two bands
    x0 = graph.node_by_name("x").pos[0]
    stem, pool, fc = (graph.node_by_name(n) for n in ("stem", "pool", "fc"))
    column = node_size("Conv2d")[0] + COLUMN_GAP
    assert stem.pos[0] - x0 == column
    assert pool.pos[1] > stem.pos[1] and pool.pos[0] == x0 and fc.pos[0] - x0 == 2 * column
    # each collapsed stage takes one block's width; its block goes where its middle layer is
    for index, stage in enumerate(stages):
        assert block_centre(graph, stage)[0] - x0 == pytest.approx(
            2 * column + index * (BLOCK_WIDTH + COLUMN_GAP) + BLOCK_WIDTH / 2, abs=1)
    # expanded, a stage keeps its blocks together, side by side left to right
    graph.groups[stages[0]].collapsed = False
    for node_id, pos in auto_layout(graph).items():
        graph.nodes[node_id].pos = pos
    blocks = graph.child_groups(stages[0])
    centres = [block_centre(graph, b) for b in [*blocks, stages[1]]]
    steps = [b[0] - a[0] for a, b in zip(centres, centres[1:], strict=False)]
    assert steps[:2] == pytest.approx([BLOCK_WIDTH + COLUMN_GAP] * 2, abs=1)
    assert steps[2] >= BLOCK_WIDTH + COLUMN_GAP + GROUP_MARGIN - 1  # the frame, then layer2
    assert len({round(c[1]) for c in centres}) == 1  # one straight row
    # an expanded block: its chain runs straight left to right, clear of the next block
    graph.groups[blocks[0]].collapsed = False
    for node_id, pos in auto_layout(graph).items():
        graph.nodes[node_id].pos = pos
    chain = [graph.node_by_name(f"layer1_0_{n}") for n in ("conv1", "bn1", "relu", "conv2")]
    assert len({n.pos[1] for n in chain}) == 1
    assert [b.pos[0] - a.pos[0] for a, b in zip(chain, chain[1:], strict=False)] == \
        [column] * 3
    right = max(graph.nodes[i].pos[0] + node_size(graph.nodes[i].type)[0]
                for i in graph.group_members(blocks[0]))
    assert right + COLUMN_GAP <= block_centre(graph, blocks[1])[0] - BLOCK_WIDTH / 2


def test_onnx_import_groups_by_scoped_names(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    path = tmp_path / "tiny.onnx"
    torch.onnx.export(TinyResNet(2, 2).eval(), (torch.randn(1, 3, 8, 8),), str(path),
                      dynamo=False, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    graph = import_onnx(path).graph
    names = [(n, [b[0] for b in blocks]) for n, _, _, blocks in tree(graph)]
    assert names == [("layer1", ["layer1.0", "layer1.1"]), ("layer2", ["layer2.0", "layer2.1"])]


def test_editor_expands_a_stage_then_a_block_one_level_at_a_time(make_window, tmp_path, qtbot):
    project = import_module(TinyResNet(), input_shape=(3, 8, 8))
    path = tmp_path / "tiny.plexus"
    save_project(project, path)
    window = make_window(restore_layout=False, interactive=False)
    window.resize(1600, 1000)
    window.show()
    qtbot.waitExposed(window)
    assert window.open_project(str(path), ask=False)
    scene, view, graph, stack = window.scene, window.view, window.graph, window.undo_stack
    layer = scene.groups
    stage = graph.child_groups("")[0]
    blocks = graph.child_groups(stage)
    visible = [i for i in graph.nodes if scene.node_item(i).isVisible()]
    assert sorted(graph.nodes[i].name for i in visible) == sorted(
        ["x", "stem", "pool", "flatten", "fc", "output"])
    assert [layer.block(g).isVisible() for g in graph.child_groups("")] == [True] * 3
    view.fit_all()
    assert view.mapToScene(view.viewport().rect()).boundingRect().contains(
        scene.nodes_bounding_rect())

    def double_click(item) -> None:
        view.centerOn(item.sceneBoundingRect().center())
        QTest.qWait(QGuiApplication.styleHints().mouseDoubleClickInterval() + 50)
        centre = view.mapFromScene(item.sceneBoundingRect().center())
        QTest.mouseClick(view.viewport(), LEFT, NO_MOD, centre)
        QTest.mouseDClick(view.viewport(), LEFT, NO_MOD, centre)

    before = graph.layout()
    double_click(layer.block(stage))
    assert not graph.groups[stage].collapsed
    assert layer.frame(stage).isVisible() and not layer.block(stage).isVisible()
    assert [layer.block(b).isVisible() for b in blocks] == [True, True, True]
    assert all(graph.groups[b].collapsed for b in blocks)
    assert not any(scene.node_item(i).isVisible() for i in graph.group_members(stage))
    assert stack.undoText() == "Expand 'layer1'"
    # the unfolded blocks got room: none overlaps a block or layer outside the stage
    rects = [layer.block(b).sceneBoundingRect() for b in blocks]
    outside = [scene.node_item(i).sceneBoundingRect() for i in graph.nodes
               if scene.node_item(i).isVisible()]
    outside += [layer.block(g).sceneBoundingRect() for g in graph.child_groups("")[1:]]
    assert not any(r.intersects(o) for r in rects for o in outside)
    frame = layer.frame(stage).rect
    assert all(frame.contains(r) for r in rects)

    double_click(layer.block(blocks[0]))
    shown = [graph.nodes[i].name for i in graph.group_members(blocks[0])
             if scene.node_item(i).isVisible()]
    assert shown == ["layer1_0_conv1", "layer1_0_bn1", "layer1_0_relu", "layer1_0_conv2",
                     "layer1_0_bn2", "add", "layer1_0_relu_2"]
    assert layer.frame(blocks[0]).isVisible() and layer.block(blocks[1]).isVisible()
    assert layer.frame(blocks[0]).zValue() > layer.frame(stage).zValue()
    assert layer.frame(stage).rect.contains(layer.frame(blocks[0]).rect)

    stack.undo()
    assert graph.groups[blocks[0]].collapsed and not graph.groups[stage].collapsed
    stack.undo()
    assert graph.groups[stage].collapsed and graph.layout() == before
    assert not any(layer.block(b).isVisible() for b in blocks)


@pytest.mark.slow
def test_torchvision_resnet50_opens_with_four_collapsed_stages(torchvision_models):
    resnet50 = torchvision_models.resnet50

    torch.manual_seed(0)
    graph = import_module(resnet50(), input_shape=(3, 64, 64)).graph
    assert len(graph.nodes) > 150
    stages = tree(graph)
    assert [(n, c, len(blocks)) for n, c, _, blocks in stages] == [
        ("layer1", True, 3), ("layer2", True, 4), ("layer3", True, 6), ("layer4", True, 3)]
    assert all(b[1] for _, _, _, blocks in stages for b in blocks)
    assert [n.name for n in graph.nodes.values() if graph.group_of(n.id) is None] == [
        "x", "conv1", "bn1", "relu", "maxpool", "avgpool", "flatten", "fc", "output"]
    downsample = stages[0][3][0][3]
    assert [d[0] for d in downsample] == ["layer1.0.downsample"]
