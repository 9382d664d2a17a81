"""The window at laptop sizes, the panels that apply to a project, maximising a panel, and the
training layout: the real MainWindow with every feature installed, rendered offscreen."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from editor_driver import open_example  # noqa: E402
from PySide6.QtCore import QPoint, QRect, Qt  # noqa: E402
from PySide6.QtWidgets import QDockWidget, QTabBar, QWidget  # noqa: E402

from gui.panels.visibility import on_screen  # noqa: E402

LAPTOPS = [(1280, 800), (1366, 768), (1600, 1000)]


@pytest.fixture
def full_window(make_window, qapp):
    """A window with training (no process until Train) and every panel, dark theme."""
    from gui import style
    from gui.app import install_features

    def make(start_process: bool = False):
        style.apply_theme("dark", qapp)
        window = make_window(restore_layout=False, interactive=False)
        install_features(window, start_process=start_process)
        return window

    return make


def settle(qtbot, window, size=None):
    if size is not None:
        window.resize(*size)
    window.show()
    window.apply_default_layout()
    qtbot.wait(30)
    window.grab()  # lays everything out as a screen would


def window_tab_bars(window) -> list[QTabBar]:
    return [b for b in window.findChildren(QTabBar) if b.parent() is window and b.isVisible()]


def stray_widgets(window) -> list[str]:
    """Visible widgets drawn wholly outside their parent (a tab bar left at -600, -530)."""
    bad = []
    for widget in window.findChildren(QWidget):
        parent = widget.parentWidget()
        if (parent is None or widget.isWindow() or not widget.isVisible()
                or widget.geometry().isEmpty() or isinstance(widget, QDockWidget)):
            continue  # Qt keeps a dock tabbed behind another out of sight on purpose
        if not widget.geometry().intersects(parent.rect()):
            bad.append(f"{type(widget).__name__} {widget.objectName()} {widget.geometry()}")
    return bad


def frame_intact(window) -> bool:
    """Menu bar on top, toolbar under it, every docked panel and the canvas under both."""
    menu, tools = window.menuBar().geometry(), window.toolbar.geometry()
    below = [d.geometry() for d in window.docks.values()
             if d.isVisible() and not d.isFloating() and on_screen(d)]
    if not window.centralWidget().isHidden():
        below.append(window.centralWidget().geometry())
    return (menu.top() == 0 and menu.height() > 0 and tools.top() > menu.bottom()
            and all(rect.top() > tools.bottom() for rect in below))


def tab_of(window, title: str) -> tuple[QTabBar, int]:
    for bar in window_tab_bars(window):
        for index in range(bar.count()):
            if bar.tabText(index) == title:
                return bar, index
    raise AssertionError(f"no tab {title}")


@pytest.mark.parametrize("size", LAPTOPS)
def test_laptop_sizes_have_no_stray_widgets_no_elided_tabs_and_a_readable_inspector(
        full_window, qtbot, tmp_path, size):
    from gui.inspector import MIN_WIDTH

    window = full_window()
    open_example(window, tmp_path, "spirals_mlp")  # the most tabs: Boundary applies too
    settle(qtbot, window, size)
    assert window.size().toTuple() == size  # no panel's minimum widens the window
    assert stray_widgets(window) == [] and frame_intact(window)
    bars = window_tab_bars(window)
    assert len(bars) == 1  # the bottom panels' tabs, no stale "Problems | Code" strip
    bar = bars[0]
    assert [bar.tabText(i) for i in range(4)] == ["Metrics", "Filters", "Activations",
                                                   "Boundary"]
    assert bar.elideMode() == Qt.TextElideMode.ElideNone and bar.usesScrollButtons()
    metrics = bar.fontMetrics()
    for index in range(bar.count()):
        text = bar.tabText(index)
        assert bar.tabRect(index).width() >= metrics.horizontalAdvance(text), text
    docks = [d for d in window.docks.values() if d.isVisible() and not d.isFloating()]
    touching = [d for d in docks if abs(d.geometry().top() - bar.geometry().bottom() - 1) <= 2]
    assert touching, "the tab bar sits right above its docks"
    assert window.docks["inspector"].width() >= MIN_WIDTH
    canvas, inspector = window.centralWidget().width(), window.docks["inspector"].width()
    if size == (1280, 800):  # the side docks give way: the canvas keeps 720 px
        assert canvas >= 720 and inspector <= 340, (canvas, inspector)
    if size == (1600, 1000):  # room enough: the default widths
        assert inspector == 390 and window.docks["palette"].width() == 232
    tree = window.palette.tree  # every layer name whole beside its swatch
    longest = max(tree.fontMetrics().horizontalAdvance(item.text(0))
                  for item in window.palette._items.values())
    assert tree.viewport().width() >= longest + 30
    assert window.inspector.scroll.horizontalScrollBarPolicy() == \
        Qt.ScrollBarPolicy.ScrollBarAsNeeded
    status = window.statusBar()
    for label in (window.validity, window.params_label):
        box = QRect(label.mapTo(status, QPoint(0, 0)), label.size())
        assert status.rect().contains(box), label.objectName()
        assert label.width() >= label.sizeHint().width(), label.text()


def test_side_docks_narrow_to_keep_the_canvas_and_never_under_their_minimums():
    from gui.docks import side_widths

    palette, inspector = (226, 232), (290, 390)  # (minimum, default) each
    assert side_widths(1600, palette, inspector) == (232, 390)
    assert side_widths(1366, palette, inspector) == (232, 390)  # room for both defaults
    assert side_widths(1280, palette, inspector) == (232, 326)  # 1280 - 2 - 232 - 326 = 720
    assert side_widths(1200, palette, inspector) == (226, 290)  # 1200 - 2 - 226 - 290 < 720
    assert side_widths(1000, palette, inspector) == (226, 290)  # the canvas gives way last


def test_panels_that_do_not_apply_are_hidden(full_window, qtbot, tmp_path):
    window = full_window()
    shown = {}
    for name in ("digits_cnn", "gan_ring", "house_prices_mlp", "sine_forecast_lstm"):
        open_example(window, tmp_path, name)
        shown[name] = {key for key in ("activations", "boundary", "confusion", "adversarial",
                                       "explain", "gan", "sequences")
                       if not window.docks[key].isHidden()}
    assert shown["digits_cnn"] == {"activations", "confusion", "adversarial", "explain"}
    assert shown["gan_ring"] == {"gan"}  # no "press Train" or "set it to classification"
    assert shown["house_prices_mlp"] == {"activations"}
    assert shown["sine_forecast_lstm"] == {"activations", "sequences"}


def test_a_panel_is_maximised_by_double_click_and_restored_by_escape(full_window, qtbot,
                                                                     tmp_path):
    window = full_window()
    open_example(window, tmp_path, "digits_cnn")
    settle(qtbot, window, (1280, 800))
    filters = window.docks["filters"]
    bar, index = tab_of(window, "Filters")
    bar.setCurrentIndex(index)
    qtbot.wait(10)
    before = {key: dock.isHidden() for key, dock in window.docks.items()}
    bottom_height = filters.height()
    bar.tabBarDoubleClicked.emit(index)
    qtbot.wait(30)
    window.grab()
    assert window.maximised_dock is filters
    assert window.centralWidget().isHidden()
    assert [k for k, d in window.docks.items() if not d.isHidden()] == ["filters"]
    assert filters.height() > 0.8 * window.centralWidget().parentWidget().height() - 120
    assert filters.width() > 0.95 * window.width()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.wait(30)
    window.grab()
    assert window.maximised_dock is None and not window.centralWidget().isHidden()
    assert {key: dock.isHidden() for key, dock in window.docks.items()} == before
    assert on_screen(filters) and abs(filters.height() - bottom_height) <= 2
    assert stray_widgets(window) == [] and len(window_tab_bars(window)) == 1
    assert frame_intact(window)
    # a docked panel's title bar: double-click maximises it, the button restores
    palette = window.docks["palette"]
    qtbot.mouseDClick(palette.title_bar.label, Qt.MouseButton.LeftButton)
    assert window.maximised_dock is palette and not palette.isFloating()
    palette.title_bar.max_button.click()
    assert window.maximised_dock is None and not window.docks["inspector"].isHidden()


def test_training_layout_puts_metrics_beside_the_chosen_tab_and_comes_back(
        full_window, qtbot, tmp_path):
    from gui.perspectives import MIN_TRAIN_SHARE

    window = full_window()
    open_example(window, tmp_path, "digits_cnn")
    settle(qtbot, window, (1280, 800))
    bar, index = tab_of(window, "Histograms")
    bar.setCurrentIndex(index)
    qtbot.wait(10)
    histograms, metrics = window.docks["histograms"], window.docks["metrics"]
    height = histograms.height()
    assert not on_screen(metrics)
    window.enter_training_layout()
    qtbot.wait(30)
    window.grab()
    assert window.in_training_layout
    assert on_screen(histograms) and on_screen(metrics)  # side by side, the tab kept
    assert metrics.geometry().left() >= histograms.geometry().right()
    assert histograms.height() >= MIN_TRAIN_SHARE * window.height() - 30
    assert histograms.width() + metrics.width() > 0.95 * window.width()  # the whole width
    assert window.chosen_tab() == "histograms" and frame_intact(window)
    window.leave_training_layout()
    qtbot.wait(30)
    window.grab()
    assert not window.in_training_layout and on_screen(histograms) and not on_screen(metrics)
    assert abs(histograms.height() - height) <= 2
    assert stray_widgets(window) == [] and len(window_tab_bars(window)) == 1
    assert frame_intact(window)
    # the user's choice is remembered: a new window reads it
    window.actions["training_layout"].setChecked(False)
    window.enter_training_layout()
    assert not window.in_training_layout
    again = full_window()
    assert not again.actions["training_layout"].isChecked()
    again.actions["training_layout"].setChecked(True)
    assert window.training_layout_enabled()


def test_train_is_disabled_on_an_empty_project_and_says_why(full_window, qtbot, tmp_path):
    from gui.training.controls import EMPTY_NETWORK

    window = full_window()
    train = window.actions["train"]
    assert not window.graph.nodes and not train.isEnabled()
    assert EMPTY_NETWORK in train.toolTip()
    open_example(window, tmp_path, "xor_mlp")
    window.runner.run_now()
    assert train.isEnabled() and EMPTY_NETWORK not in train.toolTip()
    window.new_project()
    window.runner.run_now()
    assert not train.isEnabled()


@pytest.mark.slow
def test_train_keeps_the_chosen_tab_and_its_probes_flow(full_window, qtbot, tmp_path):
    window = full_window(start_process=True)
    controller = window.training
    try:
        # batch 4: epochs of about the live probes' half-second interval
        # (runtime.worker.ProbeBudget), so pictures come during the run, not only at its end
        open_example(window, tmp_path, "digits_cnn", epochs=3, batch_size=4)
        settle(qtbot, window, (1280, 800))
        qtbot.waitUntil(lambda: controller.state == "idle", timeout=120_000)
        bar, index = tab_of(window, "Filters")
        bar.setCurrentIndex(index)
        filters = window.docks["filters"].widget()
        histograms = window.docks["histograms"].widget()
        received: dict[str, list[int]] = {"filters": [], "histograms": []}
        for key, panel in (("filters", filters), ("histograms", histograms)):
            submit = panel.submit

            def record(result, key=key, submit=submit):
                if result.get("live", True):
                    received[key].append(int(result.get("epoch", -1)))
                submit(result)

            panel.submit = record
        epochs, finished, during = [], [], []
        controller.epoch.connect(lambda e: (epochs.append(e.epoch),
                                            during.append(window.chosen_tab())))
        controller.finished.connect(finished.append)
        qtbot.wait(100)
        window.actions["train"].trigger()
        assert window.in_training_layout and on_screen(window.docks["metrics"])
        qtbot.waitUntil(lambda: bool(finished), timeout=240_000)
        assert finished[0].status == "completed", finished[0].message
        assert len(epochs) == 3 and set(during) == {"filters"}
        # pictures arrive while it trains (as often as the probes' time budget allows), and
        # the last epoch's
        assert [e for e in received["filters"] if e < epochs[-1]], received
        assert epochs[-1] in received["filters"]
        assert received["histograms"] == []  # behind another tab: not computed
        assert window.chosen_tab() == "filters" and not window.in_training_layout
        # a panel brought into view during a run gets its probes from then on
        finished.clear()
        epochs.clear()
        window.project.training.epochs = 4

        def switch(event):
            if event.epoch == 1:
                tab_bar, tab = tab_of(window, "Histograms")
                tab_bar.setCurrentIndex(tab)

        controller.epoch.connect(switch)
        window.actions["train"].trigger()
        qtbot.waitUntil(lambda: bool(finished), timeout=240_000)
        assert finished[0].status == "completed", finished[0].message
        assert len(epochs) == 4 and window.chosen_tab() == "histograms"
        assert received["histograms"] and min(received["histograms"]) >= 2, received
    finally:
        controller.shutdown()


def test_dock_widget_is_the_panel_even_when_it_scrolls(full_window):
    from gui.docks import PanelDock

    window = full_window()
    dock = window.docks["adversarial"]
    assert isinstance(dock, PanelDock) and isinstance(dock, QDockWidget)
    assert dock.widget() is dock.panel and dock.scroll.widget() is dock.panel


def test_a_failed_run_keeps_the_chosen_tab_and_says_why(full_window, qtbot, monkeypatch,
                                                       tmp_path):
    from runtime.events import Finished, Started

    window = full_window()
    open_example(window, tmp_path, "xor_mlp", lr=5.0)
    settle(qtbot, window, (1280, 800))
    controller = window.training
    monkeypatch.setattr(controller, "ensure_process", lambda: None)  # no training process:
    monkeypatch.setattr(controller, "_send", lambda message: None)  # its events come by hand
    monkeypatch.setattr(controller, "_ready", True)
    bar, index = tab_of(window, "Filters")
    bar.setCurrentIndex(index)
    assert window.chosen_tab() == "filters"
    window.actions["train"].trigger()
    assert controller.state == "running" and window.in_training_layout
    message = ("loss became infinite at epoch 1: lower the learning rate (now 5) or "
               "normalise the inputs")
    controller._handle(Started(device="cpu", epochs=3, steps_per_epoch=10, params=9,
                               samples=40, val_samples=10))
    controller._handle(Finished(status="failed", message=message, best_epoch=0))
    qtbot.wait(30)
    assert controller.state == "idle" and not window.in_training_layout
    assert window.chosen_tab() == "filters"  # Metrics was not raised over it
    assert window.statusBar().currentMessage() == message
    assert window.metrics.banner_label.text() == message
