"""The editor window: docks, menus, palette, projects (save/open/recover), problems, code."""

from __future__ import annotations

import zipfile

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from graph.project import load_project, save_project  # noqa: E402
from gui.commands import DisconnectCommand, SetParamCommand  # noqa: E402
from resources.examples.make import build  # noqa: E402

DOCKS = ("palette", "inspector", "problems", "code", "history")


@pytest.fixture
def example(tmp_path):
    """digits_cnn saved to a temporary file (the committed examples may not exist yet)."""
    path = tmp_path / "digits_cnn.plexus"
    save_project(build("digits_cnn"), path)
    return path


@pytest.fixture
def window(make_window, example):
    window = make_window()
    assert window.open_project(example, ask=False)
    window.runner.run_now()
    return window


def test_window_opens_with_all_docks_menus_and_title(window):
    window.show()
    for key in DOCKS:
        dock = window.docks[key]
        assert dock.isVisibleTo(window), key
        assert dock.toggleViewAction() in window.panels_menu.actions()
    assert set(window.menus) == {"file", "edit", "view", "model", "train", "help"}
    assert window.windowTitle() == "digits_cnn[*] \u2014 Plexus"
    assert not window.isWindowModified()
    assert not window.actions["train"].isEnabled()  # placeholders until training lands
    assert "Ctrl+S" in window.actions["save"].toolTip()
    node = window.graph.nodes_of_type("Conv2d")[0]
    window.undo_stack.push(SetParamCommand(window.graph, node.id, "out_channels", 8))
    assert window.isWindowModified()
    window.undo_stack.undo()
    assert not window.isWindowModified()


def test_docks_do_not_overlap_in_default_layout(window, qtbot):
    window.resize(1600, 1000)
    window.show()
    window.apply_default_layout()
    qtbot.wait(10)
    rects = {k: window.docks[k].geometry() for k in ("palette", "inspector", "problems")}
    rects["canvas"] = window.centralWidget().geometry()
    keys = list(rects)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert not rects[a].intersects(rects[b]), (a, b)
    assert rects["palette"].width() >= 180 and rects["inspector"].width() >= 280


def test_status_bar_shows_validity_and_total_params(window):
    analysis = window.analysis
    assert analysis is not None and analysis.ok
    assert window.validity.text() == "valid"
    assert window.params_label.text() == f"{analysis.shapes.total_params:,} params"
    assert window.params_label.text() == "13,706 params"


def test_palette_filters_as_you_type(window):
    palette = window.palette
    palette.search.setText("conv")
    assert set(palette.visible_layers()) == {"Conv1d", "Conv2d", "ConvTranspose2d"}
    palette.search.setText("recurrent gated")  # every word must match: GRU's description
    assert palette.visible_layers() == ["GRU"]
    palette.search.setText("zzzz")
    assert palette.visible_layers() == [] and not palette.empty.isHidden()
    palette.search.clear()
    assert len(palette.visible_layers()) == len(palette._items)


def test_palette_drag_data_and_double_click_add(window):
    from gui.palette import LAYER_MIME

    palette = window.palette
    item = palette._items["Linear"]
    mime = palette.tree.mimeData([item])
    assert bytes(mime.data(LAYER_MIME)).decode("utf-8") == "Linear"
    before = len(window.graph.nodes)
    palette.tree.itemDoubleClicked.emit(item, 0)
    assert len(window.graph.nodes) == before + 1
    added = max(window.graph.nodes)
    assert window.graph.nodes[added].type == "Linear"
    assert window.scene.selected_node_ids() == [added]
    window.undo_stack.undo()
    assert len(window.graph.nodes) == before


def test_save_close_and_reopen_give_the_same_graph(window, make_window, tmp_path):
    node = window.graph.nodes_of_type("Linear")[0]
    window.undo_stack.push(SetParamCommand(window.graph, node.id, "out_features", 48))
    target = tmp_path / "saved.plexus"
    assert window.save_to(target)
    assert not window.isWindowModified() and window.path == str(target)
    saved_graph, saved_layout = window.graph.to_dict(), window.graph.layout()
    window.close()

    again = make_window()
    assert again.open_project(target, ask=False)
    assert again.graph.to_dict() == saved_graph
    assert again.graph.layout() == saved_layout
    assert again.graph.nodes[node.id].param("out_features") == 48
    assert again.recent.paths()[0] == str(target)


def test_unreadable_file_shows_error_and_keeps_project(window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical",
                        lambda parent, title, text, *a, **k: shown.append((title, text)))
    before = window.graph.to_dict()
    bad = tmp_path / "broken.plexus"
    bad.write_bytes(b"this is not a zip file")
    assert not window.open_project(bad, ask=False)
    assert len(shown) == 1
    assert "broken.plexus" in shown[0][1] and "not a Plexus project" in shown[0][1]
    assert window.graph.to_dict() == before
    assert window.windowTitle().startswith("digits_cnn")

    wrong = tmp_path / "wrong.plexus"
    with zipfile.ZipFile(wrong, "w") as zf:
        zf.writestr("project.json", "{\"format_version\": 1}")
    assert not window.open_project(wrong, ask=False)
    assert "wrong.plexus" in shown[-1][1]
    assert window.graph.to_dict() == before


def test_unsaved_changes_prompt_on_new(window, monkeypatch):
    node = window.graph.nodes_of_type("Linear")[0]
    window.undo_stack.push(SetParamCommand(window.graph, node.id, "out_features", 5))
    before = window.graph.to_dict()
    monkeypatch.setattr(window, "ask_unsaved", lambda: "cancel")
    assert not window.new_project()
    assert window.graph.to_dict() == before
    monkeypatch.setattr(window, "ask_unsaved", lambda: "discard")
    assert window.new_project()
    assert window.graph.nodes == {} and window.path is None
    assert window.project.name == "untitled" and not window.isWindowModified()


def test_unsaved_changes_prompt_on_open_and_close(window, monkeypatch, tmp_path):
    saved = tmp_path / "other.plexus"
    save_project(build("xor_mlp"), saved)
    node = window.graph.nodes_of_type("Linear")[0]
    window.undo_stack.push(SetParamCommand(window.graph, node.id, "out_features", 5))
    before = window.graph.to_dict()
    asked: list[str] = []

    def answer(reply: str):
        return lambda: asked.append(reply) or reply

    monkeypatch.setattr(window, "ask_unsaved", answer("cancel"))
    assert not window.open_project(str(saved))  # Cancel: the edited project stays
    assert window.graph.to_dict() == before and asked == ["cancel"]
    window.show()
    assert not window.close() and window.isVisible()  # Cancel keeps the window open
    assert asked == ["cancel", "cancel"]
    save_to = tmp_path / "edited.plexus"
    window.path = str(save_to)
    monkeypatch.setattr(window, "ask_unsaved", answer("save"))
    assert window.close()  # Save, then close
    assert asked[-1] == "save" and load_project(save_to).graph.to_dict() == before


def test_problems_click_selects_and_centres_the_node(window, qtbot):
    linear = window.graph.nodes_of_type("Linear")[0]
    edge = window.graph.edge_into(linear.id, "in")
    window.undo_stack.push(DisconnectCommand(window.graph, edge))
    window.runner.run_now()
    panel = window.problems
    rows = [panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())]
    target = next(r for r in rows if r.data(0, Qt.ItemDataRole.UserRole + 1) == linear.id)
    assert "error" in window.validity.text()
    window.show()
    window.scene.select_node(None)
    view = window.view
    view.centerOn(-5000, -5000)  # far from every node
    rect = panel.tree.visualItemRect(target)
    qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.scene.selected_node_ids() == [linear.id]
    assert window.inspector.node_form.node_id == linear.id
    centre = view.mapToScene(view.viewport().rect().center())
    node = window.scene.node_item(linear.id).sceneBoundingRect()
    assert node.contains(centre) or (node.center() - centre).manhattanLength() < 40


def test_code_panel_shows_code_or_the_first_error(window):
    window.show()
    window.show_dock("code")
    window.runner.run_now()
    assert window.code.wait()
    text = window.code.text.toPlainText()
    assert "def forward" in text and "conv1" in text
    assert window.code.copy_button.isEnabled()
    output = window.graph.nodes_of_type("Output")[0]
    edge = window.graph.in_edges(output.id)[0]
    window.undo_stack.push(DisconnectCommand(window.graph, edge))
    window.runner.run_now()
    assert window.code.error
    assert "cannot be compiled" in window.code.text.toPlainText()
    assert not window.code.copy_button.isEnabled()


def test_edit_menu_delegates_to_the_canvas(window):
    conv = window.graph.nodes_of_type("Conv2d")[0]
    window.scene.select_node(conv.id)
    count = len(window.graph.nodes)
    window.actions["duplicate"].trigger()
    assert len(window.graph.nodes) == count + 1
    window.actions["delete"].trigger()  # the duplicate is selected after duplicating
    assert len(window.graph.nodes) == count
    window.actions["select_all"].trigger()
    assert sorted(window.scene.selected_node_ids()) == sorted(window.graph.nodes)
    assert window.actions["group"].shortcut().toString() == "Ctrl+G"
    assert window.actions["group"] in window.menus["edit"].actions()
    window.scene.select_nodes([conv.id])
    window.actions["group"].trigger()
    assert [g.node_ids for g in window.graph.groups.values()] == [{conv.id}] or \
        [sorted(g.node_ids) for g in window.graph.groups.values()] == [[conv.id]]
    window.undo_stack.undo()
    assert not window.graph.groups


def test_contextual_docks_follow_the_project_and_the_layout_keeps_the_size(
        window, tmp_path):
    from PySide6.QtWidgets import QLabel

    from gui.panels.registry import spec

    window.add_panel(QLabel("gan"), "GAN", name="gan")
    window.set_contextual_dock("gan", spec("gan").applies)
    gan = window.docks["gan"]
    assert gan.isHidden()  # digits_cnn is no GAN
    path = tmp_path / "gan_ring.plexus"
    save_project(build("gan_ring"), path)
    assert window.open_project(path, ask=False)
    assert not gan.isHidden()
    size = window.size()
    window.apply_default_layout()
    assert window.size() == size
    assert window.tabifiedDockWidgets(window.docks["problems"])  # still tabbed below


def test_autosave_and_recovery_after_a_crash(window, make_window, tmp_path, monkeypatch):
    from gui.recovery import RecoveryChoice

    assert not window.autosave()  # nothing unsaved
    node = window.graph.nodes_of_type("Linear")[0]
    window.undo_stack.push(SetParamCommand(window.graph, node.id, "out_features", 7))
    assert window.autosave()
    assert window.recovery.available() is not None
    expected = window.graph.to_dict()

    # A crash: the window never closes cleanly (its process, and with it the lock on its
    # recovery, is gone), the next start finds the file.
    window.recovery.lock.release()
    later = make_window()
    monkeypatch.setattr(later, "ask_recover",
                        lambda orphans: RecoveryChoice(restore=orphans[0]))
    assert later.offer_recovery()
    assert later.graph.to_dict() == expected
    assert later.isWindowModified()  # recovered work is unsaved until the user saves it
    assert later.path == window.path
    later.undo_stack.setClean()
    later.close()  # a clean exit removes the recovery file
    assert later.recovery.available() is None


def test_declined_recovery_is_discarded(make_window, tmp_path):
    from graph.project import Project
    from gui.recovery import Recovery, RecoveryChoice

    crashed = Recovery(tmp_path / "appdata")
    crashed.write(Project(name="lost"), None)
    crashed.lock.release()
    window = make_window()
    window.ask_recover = lambda orphans: RecoveryChoice(discard=orphans)
    assert not window.offer_recovery()
    assert window.recovery.available() is None
    assert not crashed.path.exists()  # discarded


def test_layout_and_theme_persist(make_window, qsettings):
    from gui import theme

    first = make_window()
    first.docks["code"].close()
    first.set_theme("light")
    assert theme.current().name == "light"
    first.close()
    assert qsettings.value("window/state") is not None
    second = make_window()
    assert not second.docks["code"].isVisibleTo(second)
    assert second.docks["palette"].isVisibleTo(second)
    assert qsettings.value("theme") == "light"
    second.set_theme("dark")
    assert theme.current().name == "dark"
    second.reset_layout()
    assert second.docks["code"].isVisibleTo(second)


def test_add_panel_for_later_features(window):
    from PySide6.QtWidgets import QLabel

    dock = window.add_panel(QLabel("metrics"), "Metrics")
    assert window.docks["metrics"] is dock
    assert dock.toggleViewAction() in window.panels_menu.actions()
    assert window.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert dock in window.tabifiedDockWidgets(window.docks["problems"])


def test_new_from_template(window, monkeypatch, tmp_path):
    from gui.templates import list_templates

    folder = tmp_path / "examples"
    folder.mkdir()
    for name in ("xor_mlp", "digits_cnn"):
        save_project(build(name), folder / f"{name}.plexus")
    templates = list_templates(folder)
    assert {t.name for t in templates} == {"xor_mlp", "digits_cnn"}
    assert all(t.description for t in templates)
    monkeypatch.setattr(window, "choose_template", lambda: folder / "xor_mlp.plexus")
    assert window.new_from_template()
    assert window.project.name == "xor_mlp" and window.path is None
    assert window.graph.to_dict() == load_project(folder / "xor_mlp.plexus").graph.to_dict()


def test_screenshot_option_writes_a_png(example, tmp_path):
    from gui.app import run_gui

    png = tmp_path / "shot.png"
    assert run_gui(str(example), screenshot=str(png)) == 0
    image = QImage(str(png))
    assert png.stat().st_size > 10_000
    assert (image.width(), image.height()) == (1600, 1000)


def test_slow_analysis_runs_on_a_worker_and_applies_only_the_latest(window, monkeypatch):
    import gui.analysis

    monkeypatch.setattr(gui.analysis, "FRAME_S", -1.0)  # every run counts as slow
    runner = window.runner
    linear = window.graph.nodes_of_type("Linear")[0]
    applied = []
    runner.finished.connect(applied.append)
    for width in (10, 20, 30):
        window.undo_stack.push(SetParamCommand(window.graph, linear.id, "out_features", width))
    runner.wait()
    assert applied, "the worker's result was applied"
    final = applied[-1]
    assert final.shapes.outputs[linear.id]["out"] == (2, 30)
    assert window.analysis is final
    assert all(a.shapes.outputs[linear.id]["out"] == (2, 30) for a in applied)
