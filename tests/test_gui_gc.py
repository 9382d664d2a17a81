"""After a project opens, the running app freezes the heap so full collections stay short."""

from __future__ import annotations

import gc

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

from graph.project import save_project  # noqa: E402
from gui.app import freeze_after_open, freeze_heap  # noqa: E402
from resources.examples.make import build  # noqa: E402


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_opening_a_project_freezes_the_heap(make_window, tmp_path, unfrozen):
    path = tmp_path / "digits_cnn.plexus"
    save_project(build("digits_cnn"), path)
    window = make_window()
    freeze_after_open(window)
    assert gc.get_freeze_count() == 0
    assert window.open_project(path, ask=False)
    QApplication.processEvents()
    assert gc.get_freeze_count() > 1000
    nodes = window.graph.nodes
    assert not any(o is nodes for o in gc.get_objects())  # out of every generation's walk


def test_freezing_again_lets_the_previous_garbage_go(unfrozen):
    class Cycle:
        pass

    garbage = Cycle()
    garbage.me = garbage
    freeze_heap()
    frozen = gc.get_freeze_count()
    del garbage
    freeze_heap()  # unfreezes, collects the cycle, freezes the rest
    assert not any(type(o) is Cycle for o in gc.get_objects())
    assert gc.get_freeze_count() < frozen + 10_000


def test_the_first_analysis_after_opening_is_frozen_too(make_window, tmp_path, unfrozen):
    path = tmp_path / "digits_cnn.plexus"
    save_project(build("digits_cnn"), path)
    window = make_window()
    freeze_after_open(window)
    shown: list[object] = []
    window.analysis_updated.connect(shown.append)
    assert window.open_project(path, ask=False)
    QApplication.processEvents()
    window.runner.wait()
    QApplication.processEvents()
    assert shown, "no analysis after opening"
    outputs = shown[0].shapes.outputs
    assert len(outputs) > 5
    assert not any(o is outputs for o in gc.get_objects())  # frozen with the first analysis
