"""One data set load in the editor (issue 16): the inspector's preview and the monitor panels
share it, askers that arrive during a load wait for it, and a waiter can be cancelled."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject

from graph.project import Project
from graph.settings import DatasetSettings
from gui.dataset_cache import DatasetCache, LoadCancelled, settings_key, shared_datasets
from runtime.datasets import core


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the builds of every data set (the loader the cache must run once)."""
    builds: list[str] = []
    for name, builder in list(core.BUILDERS.items()):
        def counting(settings, _builder=builder, _name=name):
            builds.append(_name if settings.seed != 4242 else "xor 4242")
            return _builder(settings)
        monkeypatch.setitem(core.BUILDERS, name, counting)
    shared_datasets().clear()
    yield builds
    shared_datasets().clear()


def test_preview_and_monitor_panels_load_the_data_set_once(make_window, counted) -> None:
    from gui.app import install_features

    window = make_window(restore_layout=False, interactive=False)
    install_features(window, start_process=False)
    monitor = window.findChild(QObject, "probe_monitor")
    project = Project()
    project.dataset = DatasetSettings(name="xor", samples=300, val_split=0.2, seed=4242)
    window._set_project(project, None)
    window.inspector.project_form.wait_preview()
    monitor._loader.wait(30_000)
    window.inspector.project_form.wait_preview()
    assert counted.count("xor 4242") == 1  # the window's first project loads its own set too
    assert window.inspector.project_form.preview.data["train"] == 240
    assert monitor.dataset is not None and monitor.dataset.name == "xor"
    assert monitor.dataset.input_shape == (2,)


def test_askers_during_a_load_wait_for_it(counted) -> None:
    cache = DatasetCache()
    settings = DatasetSettings(name="xor", samples=200, seed=11)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(cache.full(settings)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert counted == ["xor"] and cache.loads == 1
    assert len(results) == 4 and all(r is results[0] for r in results)


def test_a_generated_set_bigger_than_the_preview_loads_in_full_once_more(counted) -> None:
    from graph import limits

    cache = DatasetCache()
    settings = DatasetSettings(name="xor", samples=limits.PREVIEW_SAMPLES * 2, seed=3)
    assert cache.preview(settings).sampled_from == limits.PREVIEW_SAMPLES * 2
    full = cache.full(settings)
    assert len(full.train) + len(full.val) == limits.PREVIEW_SAMPLES * 2
    cache.full(settings)
    assert counted == ["xor", "xor"]


def test_a_waiter_stops_waiting_when_cancelled_and_errors_are_not_kept() -> None:
    cache = DatasetCache()
    release = threading.Event()

    def slow() -> str:
        release.wait(10)
        return "loaded"

    owner = threading.Thread(target=lambda: cache._get(("preview", "k"), slow, None))
    owner.start()
    time.sleep(0.1)
    with pytest.raises(LoadCancelled):
        cache._get(("preview", "k"), slow, lambda: True)
    release.set()
    owner.join(10)
    assert cache._get(("preview", "k"), slow, None) == "loaded"
    assert cache.loads == 1

    def broken() -> str:
        raise ValueError("bad file")

    with pytest.raises(ValueError, match="bad file"):
        cache._get(("preview", "b"), broken, None)
    assert cache._get(("preview", "b"), lambda: "fixed", None) == "fixed"
    assert cache.loads == 3


def test_a_rewritten_file_is_a_new_key(tmp_path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("x,y\n1,0\n")
    settings = DatasetSettings(name="csv", path=str(path))
    before = settings_key(settings)
    path.write_text("x,y\n1,0\n2,1\n")
    assert settings_key(settings) != before


def test_the_editor_hands_the_gil_to_its_window_every_millisecond() -> None:
    """A worker thread splitting a loaded data set runs Python; with the default 5 ms switch
    interval the GUI thread waited that long at each return from Qt (make_app lowers it)."""
    import sys

    from gui.app import GIL_SWITCH_SECONDS, make_app

    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        make_app()
        assert sys.getswitchinterval() == pytest.approx(0.001)
        assert GIL_SWITCH_SECONDS == pytest.approx(0.001)
    finally:
        sys.setswitchinterval(before)
