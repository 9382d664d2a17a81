"""File > Export... and File > Import Model...: the dialogs, their background jobs, the menu."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "resources" / "examples" / "xor_mlp.plexus"
TIMEOUT_MS = 60_000  # an ONNX export or a torch.fx trace takes seconds on a small machine

NET = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, hidden)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def helper_not_a_model():
    return 1
"""

BILINEAR = """\
from torch import nn


class Pairwise(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.mix = nn.Bilinear(4, 4, 2)

    def forward(self, x):
        y = self.fc(x)
        return self.mix(y, y)
"""


@pytest.fixture
def window(editor_window):
    from gui.exchange import install_exchange_actions

    install_exchange_actions(editor_window)
    assert editor_window.open_project(EXAMPLE, ask=False)
    return editor_window


def _trained_weights(project):
    """Weights as a finished training run leaves them (xor_mlp ships untrained)."""
    from runtime.compile import compile_graph, node_state, weights_to_bytes

    return weights_to_bytes(node_state(compile_graph(project.graph)))


def _export_dialog(qtbot, window):
    from gui.exchange import ExportDialog

    dialog = ExportDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _import_dialog(qtbot, window):
    from gui.exchange import ImportDialog

    dialog = ImportDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


# -- the menu -------------------------------------------------------------------------------------
def test_install_enables_export_and_adds_import_before_it(window):
    actions = window.actions
    assert actions["export"].isEnabled()
    assert "ONNX" in actions["export"].statusTip()
    item = actions["import_model"]
    assert item.objectName() == "action_import_model"
    assert item.text() == "&Import Model\u2026" and item.shortcut().isEmpty()
    entries = window.menus["file"].actions()
    assert entries.index(item) == entries.index(actions["export"]) - 1


def test_menu_actions_open_the_dialogs(qtbot, window):
    from PySide6.QtWidgets import QDialog

    window.actions["export"].trigger()
    dialog = window.findChild(QDialog, "export_dialog")
    assert dialog is not None and dialog.isVisible()
    dialog.reject()
    window.actions["import_model"].trigger()
    dialog = window.findChild(QDialog, "import_dialog")
    assert dialog is not None and dialog.isVisible()
    dialog.reject()


# -- export ---------------------------------------------------------------------------------------
def test_export_python_writes_the_module_and_its_current_weights(qtbot, window, tmp_path):
    # The training controller puts its latest weights in on about_to_save, as before a save.
    window.about_to_save.connect(
        lambda project: setattr(project, "weights", _trained_weights(project)))
    dialog = _export_dialog(qtbot, window)
    assert dialog.kind == "python"
    assert dialog.path_edit.text() == str(EXAMPLE.with_name("xor_mlp.py"))  # beside the project
    dialog.set_kind("onnx")  # the proposal follows the format until the user edits it
    assert dialog.path_edit.text().endswith("xor_mlp.onnx")
    dialog.set_kind("python")
    target = tmp_path / "out" / "xor_mlp.py"
    target.parent.mkdir()
    dialog.set_path(target)

    qtbot.keyClick(dialog.path_edit, Qt.Key.Key_Return)  # Enter runs the export
    weights = target.with_suffix(".safetensors")
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=TIMEOUT_MS)
    assert target.is_file() and weights.is_file()
    assert "class XorMlp(nn.Module):" in target.read_text(encoding="utf-8")
    assert dialog.written == [target, weights]
    assert window.statusBar().currentMessage() == \
        f"Exported xor_mlp.py and xor_mlp.safetensors to {target.parent}"


def test_an_edited_path_keeps_its_name_when_the_format_changes(qtbot, window, tmp_path):
    dialog = _export_dialog(qtbot, window)
    qtbot.keyClicks(dialog.path_edit, "x")  # the user types: the path is theirs now
    dialog.set_path(tmp_path / "mine.py")
    dialog.set_kind("onnx")
    assert dialog.path_edit.text() == str(tmp_path / "mine.onnx")
    (tmp_path / "mine.onnx").write_bytes(b"")
    dialog.set_path(tmp_path / "mine.onnx")
    assert "replaces it" in dialog.note.text() and dialog.note.isVisible()


@pytest.mark.skipif(importlib.util.find_spec("onnx") is None
                    or importlib.util.find_spec("onnxscript") is None,
                    reason="ONNX export needs onnx and onnxscript")
def test_export_onnx_writes_a_valid_model(qtbot, window, tmp_path):
    import onnx

    dialog = _export_dialog(qtbot, window)
    dialog.set_kind("onnx")
    target = tmp_path / "xor.onnx"
    dialog.set_path(target)
    dialog.accept()
    assert dialog.busy and not dialog.busy_row.isHidden()
    assert not dialog.action_button.isEnabled()  # one export at a time
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=TIMEOUT_MS)
    model = onnx.load(str(target))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["input"]
    assert window.statusBar().currentMessage() == f"Exported xor.onnx to {tmp_path}"


def test_export_of_an_invalid_graph_names_the_node_and_writes_nothing(qtbot, window,
                                                                      tmp_path):
    from gui.commands import DisconnectCommand

    edge = next(e for e in window.graph.edges if window.graph.nodes[e.dst].name == "act1")
    window.undo_stack.push(DisconnectCommand(window.graph, edge))
    dialog = _export_dialog(qtbot, window)
    target = tmp_path / "broken.py"
    dialog.set_path(target)
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=TIMEOUT_MS)
    assert dialog.isVisible()  # stays open to fix and retry
    assert not dialog.error.isHidden()
    message = dialog.error.text()
    assert "act1" in message and "not connected" in message and "\n" not in message
    assert "Traceback" not in message
    assert list(tmp_path.glob("broken*")) == []
    assert dialog.action_button.isEnabled()


def test_an_unexpected_failure_is_one_line_too(qtbot, window, tmp_path, monkeypatch):
    from runtime import exporter

    def broken(*_args):
        raise RuntimeError("disk on fire\nTraceback (most recent call last): ...")

    monkeypatch.setattr(exporter, "export_project", broken)
    dialog = _export_dialog(qtbot, window)
    dialog.set_path(tmp_path / "xor.py")
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=TIMEOUT_MS)
    assert dialog.error.text() == "RuntimeError: disk on fire" and dialog.isVisible()


def test_export_to_a_missing_folder_names_the_field(qtbot, window, tmp_path):
    dialog = _export_dialog(qtbot, window)
    dialog.set_path(tmp_path / "nowhere" / "xor.py")
    dialog.accept()
    assert not dialog.busy
    assert dialog.error.text().startswith("Save to:") and "nowhere" in dialog.error.text()


def test_the_exported_project_is_a_snapshot(window):
    from gui.exchange import project_to_export

    snapshot = project_to_export(window)
    assert snapshot.graph is not window.graph
    assert snapshot.graph.to_dict() == window.graph.to_dict()
    snapshot.graph.disconnect(snapshot.graph.edges[0])
    assert len(window.graph.edges) == len(snapshot.graph.edges) + 1


# -- import ---------------------------------------------------------------------------------------
def test_model_names_lists_modules_and_functions_without_running_the_file():
    from gui.model_source import declared_input_shapes, model_names

    source = ("raise SystemExit('never run')\n"
              "from torch import nn\n"
              "class Block(nn.Module): pass\n"
              "class Net(Block):\n"
              "    input_shapes = {'image': (1, 8, 8), 'extra': (3,)}\n"
              "class Config: pass\n"
              "def build(): return Net()\n"
              "def _private(): pass\n")
    assert model_names(source) == ["Net", "Block", "build"]
    assert declared_input_shapes(source, "Net") == "1,8,8;3"
    assert declared_input_shapes(source, "Block") == ""


def test_import_python_opens_the_model_as_a_new_unsaved_project(qtbot, window, tmp_path):
    source = tmp_path / "net.py"
    source.write_text(NET, encoding="utf-8")
    dialog = _import_dialog(qtbot, window)
    dialog.set_source(source)
    assert [dialog.class_combo.itemText(i) for i in range(dialog.class_combo.count())] == \
        ["Net", "helper_not_a_model"]
    assert dialog.class_combo.currentText() == "Net"
    assert not dialog.shape_edit.isHidden()
    dialog.shape_edit.setText("4")

    qtbot.keyClick(dialog.shape_edit, Qt.Key.Key_Return)  # Enter runs the import
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=TIMEOUT_MS)
    layers = [n.type for n in window.graph.nodes.values()]
    assert layers.count("Linear") == 2 and "ReLU" in layers
    assert window.project is dialog.project and window.project.name == "Net"
    assert window.path is None and window.isWindowModified()
    assert window.windowTitle().startswith("Net[*]")
    assert window.statusBar().currentMessage().startswith("Imported 3 layers from net.py")


def test_import_reads_the_shape_a_plexus_export_declares(qtbot, window, tmp_path):
    from runtime.exporter import export_project

    exported = tmp_path / "xor_mlp.py"
    export_project(window.project, "python", exported)
    dialog = _import_dialog(qtbot, window)
    dialog.set_source(exported)
    assert dialog.class_combo.currentText() == "XorMlp"
    assert dialog.shape_edit.text() == "2"


def test_an_unsupported_module_is_named_and_the_project_kept(qtbot, window, tmp_path):
    source = tmp_path / "pairwise.py"
    source.write_text(BILINEAR, encoding="utf-8")
    before = window.project
    nodes = window.graph.to_dict()
    dialog = _import_dialog(qtbot, window)
    dialog.set_source(source)
    dialog.shape_edit.setText("4")
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=TIMEOUT_MS)
    assert dialog.isVisible()
    message = dialog.error.text()
    assert "'mix' (Bilinear" in message and "pairwise.py" in message
    assert dialog.error.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    assert window.project is before and window.graph.to_dict() == nodes
    assert not window.isWindowModified()


@pytest.mark.parametrize(("field", "text", "expected"), [
    ("shape", "a,b", "Input shape 'a,b'"),
    ("shape", "", "Input shape:"),
    ("args", "[1,", "Constructor arguments are not valid JSON"),
])
def test_bad_field_text_names_the_field(qtbot, window, tmp_path, field, text, expected):
    source = tmp_path / "net.py"
    source.write_text(NET, encoding="utf-8")
    dialog = _import_dialog(qtbot, window)
    dialog.set_source(source)
    dialog.shape_edit.setText("4")
    {"shape": dialog.shape_edit, "args": dialog.args_edit}[field].setText(text)
    dialog.accept()
    assert not dialog.busy  # refused before any work starts
    assert dialog.error.text().startswith(expected)
    assert "\n" not in dialog.error.text() and dialog.isVisible()


def test_onnx_sources_hide_the_python_fields(qtbot, window, tmp_path):
    dialog = _import_dialog(qtbot, window)
    dialog.set_source(tmp_path / "model.onnx")
    assert all(field.isHidden() for _label, field in dialog.python_rows)
    dialog.set_source(tmp_path / "model.py")
    assert not any(field.isHidden() for _label, field in dialog.python_rows)
    dialog.accept()
    assert dialog.error.text().startswith("Source file:")


def test_escape_closes_the_dialogs(qtbot, window):
    for dialog in (_export_dialog(qtbot, window), _import_dialog(qtbot, window)):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
        assert not dialog.isVisible()


def test_import_takes_a_pth_state_dict_as_weights(qtbot, window, tmp_path):
    import torch

    from gui.exchange import WEIGHTS_FILTER
    from runtime.compile import weights_from_bytes

    assert "*.safetensors *.pth *.pt" in WEIGHTS_FILTER
    source = tmp_path / "net.py"
    source.write_text(NET, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("net_for_pth", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    state = module.Net().state_dict()
    torch.save({"state_dict": state}, tmp_path / "net.pth")
    torch.save(torch.nn.Linear(4, 2), tmp_path / "whole.pth")  # a whole module: refused
    dialog = _import_dialog(qtbot, window)
    dialog.set_source(source)
    assert "optional .safetensors, .pth or .pt file" == dialog.weights_edit.placeholderText()
    dialog.shape_edit.setText("4")
    dialog.weights_edit.setText(str(tmp_path / "whole.pth"))
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=TIMEOUT_MS)
    assert dialog.error.text().startswith("whole.pth: not a state dict that loads safely")
    dialog.weights_edit.setText(str(tmp_path / "net.pth"))
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=TIMEOUT_MS)
    tensors = weights_from_bytes(window.project.weights)
    fc1 = window.graph.node_by_name("fc1").id
    assert torch.equal(tensors[f"{fc1}.weight"], state["fc1.weight"])
