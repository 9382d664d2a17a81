"""Key settings show on the node: a BiLSTM does not look like an LSTM, attention keeps room
for its summary between its named ports."""

from __future__ import annotations

import pytest

from graph import catalog
from graph.catalog import BOOL, LayerSpec, Param

pytest.importorskip("pytestqt")

from graph.model import Graph  # noqa: E402
from gui.canvas import style  # noqa: E402
from tests.canvas_driver import CanvasDriver  # noqa: E402


def test_key_settings_join_the_summary_only_when_not_their_defaults():
    lstm = catalog.spec("LSTM")
    assert lstm.describe({}) == "64"
    assert lstm.describe({"bidirectional": True}) == "64 \u00b7 bidirectional"
    assert lstm.describe({"bidirectional": True, "num_layers": 3}) == \
        "64 \u00b7 bidirectional \u00b7 layers 3"
    conv = catalog.spec("Conv2d")
    assert conv.describe({"stride": [1, 1]}) == "16@3x3"  # a list equal to the default tuple
    assert conv.describe({"stride": (2, 2), "groups": 4}) == \
        "16@3x3 \u00b7 stride 2x2 \u00b7 groups 4"
    assert catalog.spec("MaxPool2d").describe({"stride": (1, 1)}) == "2x2 \u00b7 stride 1x1"
    flag = LayerSpec("T", "core", "T", "", params=(Param("bias", BOOL, True),),
                     key_params=("bias",))
    assert flag.describe({"bias": False}) == "no bias"


def test_a_key_param_must_be_a_parameter():
    with pytest.raises(ValueError, match="key_params"):
        LayerSpec("T", "core", "T", "", key_params=("stride",))


def test_nodes_show_their_key_settings_unelided(qtbot):
    graph = Graph()
    plain = graph.add_node("LSTM", pos=(0, 0)).id
    both_ways = graph.add_node("LSTM", {"bidirectional": True}, pos=(0, 200)).id
    attention = graph.add_node("MultiheadAttention", pos=(400, 0)).id
    canvas = CanvasDriver(qtbot, graph)
    try:
        items = {i: canvas.scene.node_item(i) for i in (plain, both_ways, attention)}
        assert items[plain].summary != items[both_ways].summary
        assert items[both_ways].summary == "64 \u00b7 bidirectional"
        attn = items[attention]
        widest_in = max(style.text_width("small", n) for n in attn.inputs)
        widest_out = max(style.text_width("small", n) for n in attn.outputs)
        room = attn.width - 2 * 10 - (widest_in + 8) - (widest_out + 8)
        assert style.text_width("body", attn.summary) <= room  # "4 heads", not "…"
    finally:
        canvas.scene.detach()
