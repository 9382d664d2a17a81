"""The per-layer analysis (runtime.layer_stats) and the Layers panel that shows it."""

from __future__ import annotations

import pytest

from graph.project import load_project
from runtime.compile import compile_graph
from runtime.layer_stats import layer_table

EXAMPLES = "resources/examples"


@pytest.fixture(scope="module")
def digits():
    return load_project(f"{EXAMPLES}/digits_cnn.plexus")


def test_parameters_per_layer_are_those_of_the_compiled_modules(digits):
    table = layer_table(digits.graph, batch=32)
    compiled = compile_graph(digits.graph)
    rows = {row.node_id: row for row in table.rows}
    assert len(compiled.module_names) == 11  # every layer but the Input and the Output
    for node_id, name in compiled.module_names.items():
        module = getattr(compiled.module, name)
        assert rows[node_id].params == sum(p.numel() for p in module.parameters())
    assert table.total_params == sum(p.numel() for p in compiled.module.parameters()) == 13706
    assert table.errors == 0


def test_multiply_adds_of_a_convolution_and_a_linear_layer(digits):
    table = layer_table(digits.graph)
    by_name = {row.name: row for row in table.rows}
    conv1 = by_name["conv1"]  # 1 -> 16 channels, 3x3 kernel, 8x8 output
    assert conv1.outputs == ((16, 8, 8),)
    assert conv1.macs == 16 * 8 * 8 * (1 * 3 * 3) == 9216
    conv2 = by_name["conv2"]  # 16 -> 32 channels, 3x3, 4x4 output
    assert conv2.macs == 32 * 4 * 4 * (16 * 3 * 3) == 73728
    assert by_name["fc1"].macs == 128 * 64
    assert by_name["relu1"].macs == 0 and by_name["relu1"].params == 0
    assert table.total_macs == 9216 + 73728 + 128 * 64 + 64 * 10


def test_activation_memory_is_each_output_for_one_batch(digits):
    table = layer_table(digits.graph, batch=32)
    by_name = {row.name: row for row in table.rows}
    assert by_name["conv1"].activation_bytes == 16 * 8 * 8 * 32 * 4
    assert by_name["logits"].activation_bytes == 10 * 32 * 4
    assert table.total_activation_bytes == sum(row.activation_bytes for row in table.rows)
    assert [row.name for row in table.rows][:2] == ["image", "conv1"]  # in running order


def test_a_layer_that_cannot_run_keeps_its_row_with_the_error(digits):
    graph = digits.graph.copy()
    pool2 = next(node for node in graph.nodes.values() if node.name == "pool2")
    pool2.params["kernel_size"] = 8  # larger than its 4x4 input
    table = layer_table(graph)
    by_name = {row.name: row for row in table.rows}
    assert table.errors == 1
    assert "pool2" in by_name["pool2"].error and by_name["pool2"].outputs == ()
    assert by_name["conv1"].error == "" and by_name["conv1"].params == 160
    assert by_name["fc1"].macs is None and not by_name["fc1"].inferred  # behind the error
    assert by_name["conv1"].inferred and table.unmeasured == 7  # pool2 .. digit
    assert table.total_macs is None  # unknown until the network runs


def test_recurrent_layers_are_counted_too():
    project = load_project(f"{EXAMPLES}/future_context_bilstm.plexus")
    table = layer_table(project.graph)
    lstm = next(row for row in table.rows if row.type == "LSTM")
    assert lstm.params > 0 and lstm.macs is not None and lstm.macs > lstm.params


def test_the_layers_panel_shows_the_table_with_totals(qtbot, editor_window):
    pytest.importorskip("pytestqt")
    from gui.panels.registry import install_panels

    window = editor_window
    panels = install_panels(window, None, ["layers"])
    panel = panels["layers"]
    assert window.open_project(f"{EXAMPLES}/digits_cnn.plexus", ask=False)
    window.resize(1280, 800)
    window.show()
    window.docks["layers"].raise_()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: panel.table_data is not None, timeout=30_000)
    rows = panel.table.rowCount()
    assert rows == len(window.project.graph.nodes) + 1
    names = [panel.table.item(row, 0).text() for row in range(rows)]
    assert names[1] == "conv1" and names[-1] == "Total"
    assert panel.table.item(1, 3).text() == "160"
    assert panel.table.item(1, 4).text() == "9,216"
    assert panel.table.item(rows - 1, 3).text() == "13,706"
    assert "13,706 parameters" in panel.summary.text()


def test_the_layers_panel_draws_error_rows_in_red_and_leaves_unmeasured_ones_blank(
        qtbot, digits):
    pytest.importorskip("pytestqt")
    from gui import theme
    from gui.panels.layer_table import LayerTablePanel

    graph = digits.graph.copy()
    next(n for n in graph.nodes.values() if n.name == "pool2").params["kernel_size"] = 8
    panel = LayerTablePanel()
    qtbot.addWidget(panel)
    panel.show_table(layer_table(graph, 32))
    names = [panel.table.item(row, 0).text() for row in range(panel.table.rowCount())]
    pool2, fc1 = names.index("pool2"), names.index("fc1")
    assert panel.table.item(pool2, 0).foreground().color().name() == theme.current().error
    assert "pool2" in panel.table.item(pool2, 6).text()
    assert panel.table.item(fc1, 3).text() == "" and panel.table.item(fc1, 4).text() == ""
    assert panel.table.item(names.index("conv1"), 3).text() == "160"
    assert "1 layer(s) cannot run" in panel.summary.text()
