"""Shared test set-up: Qt renders offscreen, pyqtgraph uses PySide6, torch stays small; and the
fixtures several test files use (editor windows, a fake training controller, lab panels on a
trained network, short example trainings, a wait for queued events)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

# pytest-xdist runs the suite in several processes (`make test`: two, one per core).
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER:
    # Subprocesses (CLI runs, exported scripts) beside another worker: one torch thread each,
    # read by torch when it starts, so two workers on two cores do not oversubscribe them.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config):
    """The user's folders stay untouched and parallel workers never share one: settings
    (QSettings' default file), application data (recovery/autosave) and caches go to a
    fresh folder per test process, inherited by the processes a test starts."""
    import tempfile

    home = tempfile.mkdtemp(prefix=f"plexus-tests-{WORKER or 'main'}-")
    config.plexus_home = home
    for variable, folder in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                             ("XDG_CACHE_HOME", "cache")):
        os.environ[variable] = os.path.join(home, folder)


def pytest_sessionfinish(session, exitstatus):
    """Copied layers left on the clipboard crash PySide6 at exit (see release_clipboard); the
    process's folders go (here: xdist's workers end without pytest_unconfigure)."""
    import shutil

    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is not None:
        from gui.canvas import release_clipboard

        release_clipboard()
    shutil.rmtree(session.config.plexus_home, ignore_errors=True)


# -- torch -----------------------------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> None:
    """Two cores are shared by every test process: torch computes on one thread."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def warm_trainer() -> None:
    """The first optimizer imports torch._dynamo: pay it once, outside the timed tests."""
    from runtime.trainer import warm_up

    warm_up()


# -- short trainings of the examples ---------------------------------------------------------------
class TrainedExample(NamedTuple):
    project: Any  # with its trained weights
    result: Any  # runtime.session.run_training's result
    best: dict[str, Any]  # the best epoch's event


@pytest.fixture(scope="session")
def short_example() -> Callable[..., Any]:
    """``short_example(name, epochs=2, **options)``: an example project set for a short run
    (a tenth of the GAN ring's data), with these training options."""
    from resources.examples import make

    def build(name: str, epochs: int = 2, **options: Any) -> Any:
        project = make.build(name)
        project.training.epochs = epochs
        project.training.options.update(options)
        if name == "gan_ring":
            project.dataset.samples = 1024
        return project

    return build


@pytest.fixture(scope="session")
def train_example() -> Callable[..., TrainedExample]:
    """``train_example(name, epochs=None, **options)`` builds an example, trains it through
    ``runtime.session.run_training`` (for its own epoch count when ``epochs`` is None) with
    these training options, checks that the run ended well and returns it."""
    from resources.examples import make
    from runtime.session import run_training

    def train(name: str, epochs: int | None = None, **options: Any) -> TrainedExample:
        project = make.build(name)
        project.training.options.update(options)
        result = run_training(project, epochs=epochs)
        assert result.status in ("completed", "early_stopped"), result.message
        best = next(e for e in result.epochs if e["epoch"] == result.best_epoch)
        return TrainedExample(project, result, best)

    return train


@pytest.fixture(scope="session")
def train_project() -> Callable[..., Any]:
    """``train_project(project, epochs, **training)``: the project trained in place through
    ``runtime.session.run_training`` with these training settings replaced; returns it."""
    import dataclasses

    from runtime import session

    def train(project: Any, epochs: int, **training: Any) -> Any:
        project.training = dataclasses.replace(project.training, epochs=epochs, **training)
        result = session.run_training(project)
        assert result.status == "completed", result.message
        return project

    return train


@pytest.fixture(scope="session")
def trained_digits(train_project) -> Any:
    """digits_cnn after 4 epochs (validation accuracy about 0.94), shared by the analysis tests
    of the whole run; do not modify it."""
    from resources.examples.make import digits_cnn

    return train_project(digits_cnn(), 4, lr=0.01, batch_size=64)


# -- waits -----------------------------------------------------------------------------------------
@pytest.fixture
def flush_events(qtbot) -> Callable[[], None]:
    """``flush_events()`` returns once the events and zero-delay timers queued before the call,
    and those they queue in turn (a few rounds deep), have been delivered: the positive signal
    to wait on before asserting that something did not happen, instead of a fixed sleep."""
    from PySide6.QtCore import QTimer

    def flush(rounds: int = 3) -> None:
        for _ in range(rounds):
            with qtbot.waitCallback(timeout=5000) as delivered:
                QTimer.singleShot(0, delivered)  # runs after what is queued now

    return flush


# -- editor windows --------------------------------------------------------------------------------
@pytest.fixture
def qsettings(tmp_path):
    """The windows' settings file, private to the test."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, tmp_path, qsettings) -> Iterator[Callable[..., Any]]:
    """A factory of main windows sharing one settings file and recovery folder; they never ask
    to save and are closed after the test without writing a layout."""
    from gui.main_window import MainWindow

    made = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("settings", qsettings)
        kwargs.setdefault("data_dir", tmp_path / "appdata")
        window = MainWindow(**kwargs)
        window.ask_unsaved = lambda: "discard"  # never a modal dialog in tests
        qtbot.addWidget(window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.undo_stack.setClean()
        window.persist = False
        window.close()


@pytest.fixture
def editor_window(make_window):
    """A main window that neither restores nor asks anything. Not shown: a test shows it when
    it needs to."""
    return make_window(restore_layout=False, interactive=False)


# -- the training controller -----------------------------------------------------------------------
def _fake_controller_class() -> type:
    from gui.training.controller import TrainingSignals

    class FakeController(TrainingSignals):
        """The public surface of gui.training.TrainingController that panels use: its signals
        (fed by hand or from an in-process run) and its probe methods, recording what it is
        asked."""

        def __init__(self) -> None:
            super().__init__()
            self.state = "idle"
            self.configs: list[dict] = []
            self.requests = 0

        @property
        def probe_config(self) -> dict:
            return dict(self.configs[-1]) if self.configs else {}

        def set_probe_config(self, config: dict) -> None:
            self.configs.append(config)

        def request_probes(self, project: Any) -> bool:
            self.requests += 1
            return True

        def feed(self, event: Any) -> None:
            """A training event (runtime.events), emitted as the controller would: probe
            bundles unpacked, a batch with its loss point."""
            from runtime.events import Batch, Probe

            if isinstance(event, Probe):
                for result in event.results():
                    self.probe.emit(result)
            elif isinstance(event, Batch):
                self.batch.emit(event, [[event.global_step, event.loss]])
            elif event.kind in ("started", "epoch", "finished"):
                getattr(self, event.kind).emit(event)

    return FakeController


@pytest.fixture
def fake_controller() -> Any:
    """A fresh stand-in for the training controller (no training process)."""
    return _fake_controller_class()()


# -- analysis panels on a trained network ----------------------------------------------------------
@pytest.fixture(scope="module")
def lab_cache() -> Any:
    """One prepared network for a module's lab panels (each panel would prepare its own)."""
    from gui.panels.lab import prepare_lab
    from gui.prepared import PreparedCache

    return PreparedCache(prepare_lab)


@pytest.fixture
def lab_panel(qtbot, lab_cache) -> Iterator[Callable[[type, Any], Any]]:
    """``lab_panel(PanelClass, project)``: an Adversarial or Explain panel sharing the module's
    prepared network, sized and given ``project``; shut down after the test."""
    made = []

    def make(panel_class: type, project: Any) -> Any:
        widget = panel_class()
        widget.cache = lab_cache
        qtbot.addWidget(widget)
        widget.resize(1100, 300)
        widget.set_project(project)
        made.append(widget)
        return widget

    yield make
    for widget in made:
        widget.shutdown()


# -- torchvision's model classes -------------------------------------------------------------------
@pytest.fixture(scope="session")
def torchvision_models() -> Any:
    """torchvision.models with random weights: its compiled operators do not register beside
    this torch, so the module that registers them is kept from loading (its model classes are
    plain Python). Skips where torchvision is not installed (``make`` adds it)."""
    import importlib.util
    import sys
    import types

    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed")
    sys.modules.setdefault("torchvision._meta_registrations",
                           types.ModuleType("torchvision._meta_registrations"))
    from torchvision import models

    return models


@pytest.fixture
def lessons_window(editor_window, fake_controller, qtbot):
    """The editor at 1280x800 with its panels and the Lessons panel installed (the lessons
    and start-page tests)."""
    from gui.lessons_panel import install_lessons
    from gui.panels.registry import install_panels

    install_panels(editor_window, fake_controller)
    install_lessons(editor_window, fake_controller)
    editor_window.apply_default_layout()
    editor_window.resize(1280, 800)
    editor_window.show()
    qtbot.waitExposed(editor_window)
    return editor_window
