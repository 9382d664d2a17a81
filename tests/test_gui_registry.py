"""The panel registry, the prepared-project cache and the import graph of gui.panels."""

from __future__ import annotations

import ast
import pathlib
import threading

import networkx as nx
import pytest

pytest.importorskip("pytestqt")


from gui.training.controller import TrainingSignals  # noqa: E402
from resources.examples.make import build  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_each_panel_is_declared_once_and_the_tabs_keep_their_order():
    from gui.panels.registry import FIXED_RANKS, PANELS, tab_rank

    keys = [spec.key for spec in PANELS]
    assert len(keys) == len(set(keys))
    ranks = [spec.rank for spec in PANELS] + list(FIXED_RANKS.values())
    assert len(ranks) == len(set(ranks))
    order = sorted([*keys, *FIXED_RANKS, "palette"], key=tab_rank)
    assert order == ["metrics", "filters", "activations", "boundary", "confusion",
                     "histograms", "adversarial", "explain", "sequences", "autoencoder", "gan",
                     "problems", "code", "history", "layers", "runs", "palette"]  # undeclared last


def test_contextual_panels_apply_to_the_projects_that_use_them():
    from gui.panels.registry import spec

    def applying(name: str) -> set[str]:
        project = build(name)
        return {key for key in ("boundary", "sequences", "autoencoder", "gan")
                if spec(key).applies(project)}

    assert applying("gan_ring") == {"gan"}
    assert applying("digits_cnn") == set()
    assert "boundary" in applying("spirals_mlp")
    assert all(spec(key).applies is None for key in ("filters", "histograms"))
    # the classifier's panels are hidden where they could only advise "use classification"
    for key in ("confusion", "adversarial", "explain"):
        assert spec(key).applies(build("digits_cnn")), key
        for other in ("gan_ring", "house_prices_mlp", "sine_forecast_lstm",
                      "future_context_lstm", "autoencoder_latent2d"):
            if (key, other) != ("confusion", "future_context_lstm"):
                assert not spec(key).applies(build(other)), (key, other)
    # a tagger's confusion matrix counts its tokens
    assert spec("confusion").applies(build("future_context_lstm"))


class Controller(TrainingSignals):
    """What the panels connect to of a ``gui.training.TrainingController``."""

    state = "idle"

    def __init__(self) -> None:
        super().__init__()
        self.probe_config: dict = {}

    def set_probe_config(self, config: dict) -> None:
        self.probe_config = dict(config)

    def request_probes(self, _project) -> bool:
        return False


def test_install_panels_docks_every_panel_once(editor_window):
    from gui.panels.analysis_panel import AnalysisPanel
    from gui.panels.monitor import ProbeMonitor
    from gui.panels.registry import PANELS, install_panels

    window = editor_window
    panels = install_panels(window, Controller())
    assert list(panels) == [spec.key for spec in PANELS]
    for key, panel in panels.items():
        assert window.docks[key].widget() is panel
    assert isinstance(panels["adversarial"], AnalysisPanel)
    assert window.findChild(ProbeMonitor) is not None
    assert window.docks["gan"].isHidden()  # the default project is no GAN
    for panel in panels.values():
        if hasattr(panel, "shutdown"):
            panel.shutdown()


def test_the_cache_prepares_again_only_for_a_new_revision():
    from gui.prepared import PreparedCache, snapshot

    built: list[str] = []
    cache = PreparedCache(lambda snap: built.append(snap.key) or len(built))
    project = build("spirals_mlp")
    first = snapshot(project)
    assert cache.get(first) == 1 and cache.get(snapshot(project)) == 1
    project.weights = b"new weights"
    assert cache.get(snapshot(project)) == 2 and cache.last == 2
    cache.clear()
    assert cache.last is None and cache.get(first) == 3
    assert len(set(built)) == 2  # two revisions

    gate, builds = threading.Event(), []
    slow = PreparedCache(lambda snap: gate.wait(5) and builds.append(snap.key) or snap.key)
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(slow.get(first)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(5)
    assert results == [first.key, first.key] and builds == [first.key]  # built once


def test_gui_panels_modules_import_no_circle():
    graph = nx.DiGraph()
    for path in (ROOT / "gui").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(
            ".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gui"):
                graph.add_edge(module, node.module)
                for alias in node.names:
                    if (ROOT / (node.module + "." + alias.name).replace(".", "/")).with_suffix(
                            ".py").exists():
                        graph.add_edge(module, f"{node.module}.{alias.name}")
    cycles = [c for c in nx.simple_cycles(graph) if any(m.startswith("gui.panels") for m in c)]
    assert cycles == []
