"""Switching projects while the analysis panels work (issue 14 item 7): jobs of the replaced
project are dropped, none reaches the new project or a panel of it, nothing prints a
traceback, and each panel ends in the state the new project calls for."""

from __future__ import annotations

import pytest

from gui.tasks import TaskRunner

EXAMPLES = "resources/examples"


@pytest.fixture
def panels(editor_window, qtbot):
    from gui.panels.registry import install_panels

    window = editor_window
    found = install_panels(window, keys=("adversarial", "explain"))
    window.resize(1400, 900)
    window.show()
    window.apply_default_layout()
    qtbot.waitExposed(window)
    return window, found


@pytest.mark.parametrize("dock", ["adversarial", "explain"])
def test_opening_another_project_while_the_panel_prepares(panels, qtbot, capfd, dock):
    """The issue's case: trained shapes_source, then sine_forecast_lstm (a forecaster) while
    the panel on screen still prepares or attacks shapes_source's network."""
    window, found = panels
    panel = found[dock]
    assert window.open_project(f"{EXAMPLES}/shapes_source.plexus", ask=False)
    window.show_dock(dock)
    qtbot.waitUntil(lambda: panel.runner.busy, timeout=5000)
    assert window.open_project(f"{EXAMPLES}/sine_forecast_lstm.plexus", ask=False)
    assert panel.runner.wait(60_000)
    qtbot.wait(50)
    assert panel.runner.wait(10_000)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "entries for" not in err
    assert panel.is_empty and "this network forecasts a series" in panel.blocker
    assert "Preparing" not in panel.task_bar.label.text()
    assert panel.task_bar.label.property("role") == "dim"


def test_a_dropped_runner_delivers_nothing(qtbot):
    """``drop()`` with no name drops every active task: no callback runs, and the task bar
    does not announce the cancellation (the panel shows what the new project needs)."""
    import threading

    runner = TaskRunner()
    release = threading.Event()
    heard: list[str] = []

    def slow(_progress, _cancel):
        release.wait(5)
        return 1

    first = runner.run("a", slow, on_done=lambda v: heard.append("a"),
                       on_cancelled=lambda: heard.append("a cancelled"))
    second = runner.run("b", lambda p, c: 2, on_done=lambda v: heard.append("b"))
    runner.drop()
    release.set()
    assert runner.wait(10_000)
    assert heard == [] and first.dropped and second.dropped
    assert first.state == "cancelled" and second.state == "cancelled"
