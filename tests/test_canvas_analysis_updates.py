"""An analysis after a one-layer edit touches only the canvas items whose part changed."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtGui import QUndoStack  # noqa: E402

from graph.model import Edge, Graph  # noqa: E402
from gui.canvas import GraphScene  # noqa: E402
from gui.canvas.edge_item import EdgeItem  # noqa: E402
from gui.canvas.node_item import NodeItem  # noqa: E402
from resources.examples.make import chain  # noqa: E402
from runtime.shapes import AnalysisMemo, analyze  # noqa: E402


def test_one_edit_relabels_only_the_wires_and_layers_it_changed(qtbot, monkeypatch) -> None:
    graph = Graph()
    chain(graph, None, ("Input", {"shape": (8,)}), *[("Linear", {"out_features": 8})] * 12,
          ("Output", {}))
    *layers, out = sorted(graph.nodes)
    scene = GraphScene(graph, QUndoStack())
    memo = AnalysisMemo()
    scene.set_analysis(analyze(graph, None, memo))
    labelled: list[Edge] = []
    restated: list[int] = []
    set_label, set_state = EdgeItem.set_label, NodeItem.set_analysis_state
    monkeypatch.setattr(EdgeItem, "set_label", lambda item, *a: (
        labelled.append(item.edge), set_label(item, *a))[1])
    monkeypatch.setattr(NodeItem, "set_analysis_state", lambda item, *a: (
        restated.append(item.node_id), set_state(item, *a))[1])

    scene.set_analysis(analyze(graph, None, memo))  # the same again: nothing to touch
    assert labelled == [] and restated == []

    graph.set_param(layers[5], "out_features", 3)
    scene.set_analysis(analyze(graph, None, memo))
    assert labelled == [Edge(layers[5], "out", layers[6], "in")]
    assert sorted(restated) == [layers[5], layers[6]]  # its output, and the layer it feeds
    wire = next(i for i in scene.items() if isinstance(i, EdgeItem)
                and i.edge == Edge(layers[5], "out", layers[6], "in"))
    assert wire.label == "N x 3"
    fed = next(i for i in scene.items() if isinstance(i, NodeItem) and i.node_id == layers[6])
    assert fed.port_shapes == {"in:in": "N x 3", "out:out": "N x 8"}
