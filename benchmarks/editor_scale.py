"""How the editor scales: edit -> diagnostics, opening a project, panning a large canvas.

Generated networks of 100 and 1000 layers (a chain of Linear/ReLU blocks with a residual Add
every few layers) are measured side by side in one run:

  edit->diagnostics   push one SetParamCommand and wait for the editor's AnalysisRunner (its
                      debounce, runtime.shapes.analyze on the GUI thread or a worker) and
                      scene.set_analysis, median of several edits; analyze and set_analysis
                      are also timed alone
  build scene         GraphScene over an already loaded graph (every item created)
  open project        load_project of a saved .plexus + building the scene
  pan fps             frames per second while scrolling the 1000-layer canvas, each frame a full
                      offscreen render of a 1600x1000 viewport, at 100% zoom and zoomed to fit
  imported ResNet-50  torchvision's own ResNet-50 class with random weights, imported with
                      torch.fx (nested groups, stages collapsed), then in a real MainWindow:
                      open (until the first diagnostics and shapes are shown), edit->diagnostics,
                      fit-to-view (with a render), expand one stage (with a render)

  real window         (issue 16) generated convolutional networks of 1000 and 5000 layers with
                      mixed types (Conv2d, BatchNorm2d, ReLU, Add residuals, Flatten, Linear)
                      and the imported ResNet-50, opened in a real MainWindow with its default
                      panels: edit->diagnostics with the Code panel hidden, visible (compiling
                      on the meta device in the background; edit->code shown is timed too) and
                      visible with the old synchronous compile (real weights on the GUI thread),
                      side by side in one process, as a ratio

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/editor_scale.py
     (--window-only, or EDITOR_SCALE_WINDOW_ONLY=1: only the real-window rows; --layers 5000:
     only that size; --lean: Code panel hidden only, with process CPU per edit, no ResNet-50)
Targets (issue 3): edit->diagnostics <= 50 ms at 100 layers, <= 250 ms at 1000; pan >= 30 fps.
Targets (issue 16): edit->diagnostics in the real window <= 50 ms at 1000, <= 250 ms at 5000.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop  # noqa: E402
from PySide6.QtGui import QUndoStack  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from graph.layout import auto_layout  # noqa: E402
from graph.model import Edge, Graph  # noqa: E402
from gui.analysis import DEBOUNCE_MS, AnalysisRunner  # noqa: E402
from gui.canvas import GraphScene, GraphView  # noqa: E402
from gui.commands import SetParamCommand  # noqa: E402

WIDTH = 64


def generate(layers: int) -> tuple[Graph, list[int]]:
    """Input, then blocks Linear-ReLU-Linear-Add(skip) until ``layers`` nodes, then Output.

    Returns the graph and the ids of the Linear layers whose width can be edited freely (the
    last Linear of the network, which feeds the Output).
    """
    graph = Graph()
    prev = graph.add_node("Input", {"shape": (WIDTH,)}).id
    skip = prev
    count = 1
    while count < layers - 3:
        for kind in ("Linear", "ReLU", "Linear"):
            params = {"out_features": WIDTH} if kind == "Linear" else {}
            node = graph.add_node(kind, params).id
            graph.connect(Edge(prev, "out", node, "in"))
            prev = node
            count += 1
        add = graph.add_node("Add").id
        graph.connect(Edge(prev, "out", add, "in1"))
        graph.connect(Edge(skip, "out", add, "in2"))
        prev = skip = add
        count += 1
    head = graph.add_node("Linear", {"out_features": 10}).id
    graph.connect(Edge(prev, "out", head, "in"))
    out = graph.add_node("Output").id
    graph.connect(Edge(head, "out", out, "in"))
    for node_id, pos in auto_layout(graph).items():
        graph.nodes[node_id].pos = pos
    return graph, [head]


def generate_mixed(layers: int, channels: int = 8) -> tuple[Graph, int]:
    """A convolutional network of about ``layers`` nodes: residual blocks Conv2d-BatchNorm2d-
    ReLU-Conv2d-BatchNorm2d-Add(skip)-ReLU, then Flatten-Linear-ReLU-Linear and an Output.
    Returns the graph and the id of the last Linear (its width is what the edits change)."""
    graph = Graph()
    prev = graph.add_node("Input", {"shape": (channels, 8, 8)}, name="x").id

    def add(kind: str, params: dict[str, object] | None = None, port: str = "in") -> int:
        # Named and wired without the cycle check: a chain built forward cannot close one,
        # and both checks scan the whole graph (5000 layers took minutes to build).
        node = graph.add_node(kind, params or {}, name=f"{kind.lower()}_{graph.next_id}").id
        graph.connect(Edge(prev, "out", node, port), check=False)
        return node

    conv = {"out_channels": channels, "kernel_size": [3, 3], "padding": [1, 1]}
    while len(graph.nodes) < layers - 6:
        skip = prev
        for kind in ("Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d"):
            prev = add(kind, conv if kind == "Conv2d" else None)
        prev = add("Add", port="in1")
        graph.connect(Edge(skip, "out", prev, "in2"), check=False)
        prev = add("ReLU")
    for kind, params in (("Flatten", {}), ("Linear", {"out_features": 32}), ("ReLU", {}),
                         ("Linear", {"out_features": 10})):
        prev = add(kind, params)
    head = prev
    prev = add("Output")
    for node_id, pos in auto_layout(graph).items():
        graph.nodes[node_id].pos = pos
    return graph, head


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def bench_edit(graph: Graph, scene: GraphScene, stack: QUndoStack, node_id: int,
               edits: int = 9) -> tuple[float, float, float]:
    """Median seconds of (edit -> diagnostics shown, analyze alone, set_analysis alone)."""
    from runtime.shapes import analyze

    runner = AnalysisRunner(graph)
    applied: list[object] = []
    runner.finished.connect(scene.set_analysis)
    runner.finished.connect(applied.append)
    runner.run_now()  # warm caches as the running editor has them
    totals, analyses, draws = [], [], []
    for i in range(edits):
        count = len(applied)
        t0 = time.perf_counter()
        stack.push(SetParamCommand(graph, node_id, "out_features", 11 + i))
        while len(applied) == count:
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)
        totals.append(time.perf_counter() - t0)
        assert runner.last.shapes.outputs[node_id]["out"] == (2, 11 + i)
        t1 = time.perf_counter()
        analysis = analyze(graph)
        t2 = time.perf_counter()
        scene.set_analysis(analysis)
        analyses.append(t2 - t1)
        draws.append(time.perf_counter() - t2)
    runner.shutdown()
    return statistics.median(totals), statistics.median(analyses), statistics.median(draws)


def bench_build(graph: Graph) -> float:
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        scene = GraphScene(graph, QUndoStack())
        times.append(time.perf_counter() - t0)
        scene.detach()
        scene.deleteLater()
        QApplication.processEvents()
    return min(times)


def bench_open(graph: Graph, folder: Path) -> float | None:
    try:
        from graph.project import Project, load_project, save_project
    except ImportError:
        return None
    path = folder / f"scale_{len(graph.nodes)}.plexus"
    save_project(Project(graph=graph.copy()), path)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        project = load_project(path)
        scene = GraphScene(project.graph, QUndoStack())
        times.append(time.perf_counter() - t0)
        assert len(scene.node_items()) == len(graph.nodes)
        scene.detach()
        scene.deleteLater()
        QApplication.processEvents()
    return min(times)


def bench_pan(view: GraphView, frames: int = 90) -> float:
    viewport = view.viewport()
    viewport.grab()  # fill the item caches once, as a first paint would
    t0 = time.perf_counter()
    for i in range(frames):
        view.pan_by(24 if (i // 30) % 2 == 0 else -24, 6)
        viewport.grab()
    return frames / (time.perf_counter() - t0)


def torchvision_model(name: str) -> object:
    """A torchvision model class (``name`` in torchvision.models) with random weights (no
    download). torchvision's compiled ops fail to register beside this torch, so its meta
    registrations are kept from loading; the pure-Python model classes work without them."""
    import torch

    sys.modules.setdefault("torchvision._meta_registrations",
                           types.ModuleType("torchvision._meta_registrations"))
    from torchvision import models

    torch.manual_seed(0)
    return getattr(models, name)()


def torchvision_resnet50() -> object:
    return torchvision_model("resnet50")


def bench_imported_efficientnet(folder: Path) -> list[str]:
    """torchvision's EfficientNet-B0 (3 x 64 x 64) beside the ResNet-50 rows: import through
    fx, open (load + scene), edit->diagnostics on its classifier, build the scene."""
    from runtime.importer import import_module

    t0 = time.perf_counter()
    graph = import_module(torchvision_model("efficientnet_b0"), input_shape=(3, 64, 64)).graph
    imported = time.perf_counter() - t0
    head = next(n.id for n in graph.nodes.values() if n.type == "Linear")
    opened = bench_open(graph, folder)
    stack = QUndoStack()
    scene = GraphScene(graph, stack)
    total, analysis_alone, draw_alone = bench_edit(graph, scene, stack, head)
    scene.detach()
    layers = len(graph.nodes)
    return [
        f"import EfficientNet-B0 (torchvision class, fx, 3x64x64): {ms(imported)}; {layers} "
        f"layers, {len(graph.groups)} groups",
        "open imported EfficientNet-B0 (load + scene): "
        + (ms(opened) if opened is not None else "n/a"),
        f"edit->diagnostics imported EfficientNet-B0 ({layers} layers, scene): {ms(total)} "
        f"(analyze alone {ms(analysis_alone)}, set_analysis alone {ms(draw_alone)})",
        f"build scene imported EfficientNet-B0: {ms(bench_build(graph))}",
    ]


def wait_for(count: list[object], before: int) -> None:
    while len(count) == before:
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)


def bench_imported(folder: Path, edits: int = 5) -> list[str]:
    """Import torchvision's ResNet-50 and drive a real editor window over it."""
    from PySide6.QtCore import QSettings

    from graph.project import load_project, save_project
    from gui.app import install_features
    from gui.main_window import MainWindow
    from runtime.importer import import_module

    model = torchvision_resnet50()
    t0 = time.perf_counter()
    project = import_module(model, input_shape=(3, 224, 224))
    imported = time.perf_counter() - t0
    graph = project.graph
    stages = graph.child_groups("")
    path = folder / "resnet50.plexus"
    save_project(project, path)
    # the same measures as the generated networks: a bare scene over the loaded project
    loaded = load_project(path).graph
    stack = QUndoStack()
    scene = GraphScene(loaded, stack)
    head = loaded.node_by_name("fc").id
    total, analysis_alone, draw_alone = bench_edit(loaded, scene, stack, head)
    scene.detach()

    window = MainWindow(settings=QSettings(str(folder / "settings.ini"),
                                           QSettings.Format.IniFormat),
                        data_dir=folder / "appdata", restore_layout=False, interactive=False)
    install_features(window, start_process=False)  # the panels that follow each analysis
    window.resize(1600, 1000)
    window.show()
    QApplication.processEvents()
    shown: list[object] = []
    window.analysis_updated.connect(shown.append)
    t0 = time.perf_counter()
    assert window.open_project(str(path), ask=False)
    wait_for(shown, 0)
    opened = time.perf_counter() - t0
    analysis = window.analysis
    fc = window.graph.node_by_name("fc").id
    assert analysis.shapes.outputs[fc]["out"][1:] == (1000,), analysis.shapes.outputs[fc]
    assert not [d for d in analysis.diagnostics if d.severity == "error"]
    times = []
    for i in range(edits):
        before = len(shown)
        t0 = time.perf_counter()
        window.undo_stack.push(SetParamCommand(window.graph, fc, "out_features", 11 + i))
        wait_for(shown, before)
        times.append(time.perf_counter() - t0)
        assert window.analysis.shapes.outputs[fc]["out"][1:] == (11 + i,)
    viewport = window.view.viewport()
    t0 = time.perf_counter()
    window.view.fit_all()
    viewport.grab()
    fitted = time.perf_counter() - t0
    zoom = window.view.zoom()
    stage = window.graph.child_groups("")[0]
    t0 = time.perf_counter()
    window.scene.groups.set_collapsed(stage, False)
    QApplication.processEvents()
    viewport.grab()
    expanded = time.perf_counter() - t0
    blocks = window.graph.child_groups(stage)
    assert all(window.scene.groups.block(b).isVisible() for b in blocks)
    window.undo_stack.setClean()
    window.persist = False
    window.close()
    layers = len(graph.nodes)
    return [
        f"import ResNet-50 (torchvision class, fx, 3x224x224): {ms(imported)}; {layers} layers, "
        f"{len(graph.groups)} groups, {len(stages)} stages collapsed",
        f"open imported ResNet-50 in MainWindow until diagnostics and shapes show: "
        f"{ms(opened)}",
        f"edit->diagnostics imported ResNet-50 ({layers} layers, scene): {ms(total)} (analyze "
        f"alone {ms(analysis_alone)}, set_analysis alone {ms(draw_alone)}; targets: 50 ms at "
        "100 layers, 250 ms at 1000)",
        f"edit->diagnostics imported ResNet-50 in MainWindow (every panel that follows an "
        f"analysis): {ms(statistics.median(times))}",
        f"fit-to-view + render imported ResNet-50: {ms(fitted)} (zoom {zoom:.2f}x)",
        f"expand one stage ({len(blocks)} blocks) + render: {ms(expanded)}",
    ]


def synchronous_code_refresh(panel: object) -> None:
    """The Code panel's refresh before issue 16: compile with real weights on the GUI thread
    (and a copy of the graph more), kept here to time it beside the new one."""
    from runtime.compile import compile_graph

    panel._stale = False  # type: ignore[attr-defined]
    graph, analysis = panel._graph, panel._analysis  # type: ignore[attr-defined]
    if graph is None or any(d.severity == "error" for d in analysis.diagnostics):
        return
    module = compile_graph(graph.copy().copy()).module
    lines = ["# Submodules:"] + [f"#   self.{name} = {child!r}".replace("\n", " ")
                                 for name, child in module.named_children()]
    code = "\n".join(lines) + "\n" + module.code
    if panel.text.toPlainText() != code:  # type: ignore[attr-defined]
        panel.text.setPlainText(code)  # type: ignore[attr-defined]


def bench_window(path: Path, head_name: str | None, head: int | None, folder: Path,
                 label: str, edits: int = 5, lean: bool = False) -> list[str]:
    """Median edit->diagnostics in a real MainWindow over ``path`` with the Code panel hidden,
    visible (background meta compile) and visible with the old synchronous compile; ``lean``:
    hidden only, with the CPU time of the whole process per edit beside the wall time."""
    from PySide6.QtCore import QSettings

    from gui.app import freeze_after_open, install_features
    from gui.main_window import MainWindow

    window = MainWindow(settings=QSettings(str(folder / "window.ini"), QSettings.Format.IniFormat),
                        data_dir=folder / "appdata", restore_layout=False, interactive=False)
    install_features(window, start_process=False)
    freeze_after_open(window)  # as run_gui does
    window.resize(1600, 1000)
    window.show()
    QApplication.processEvents()
    shown: list[object] = []
    window.analysis_updated.connect(shown.append)
    assert window.open_project(str(path), ask=False)
    wait_for(shown, 0)
    node = window.graph.node_by_name(head_name).id if head_name else head
    width = [100]

    def edit_times(code_too: bool = False) -> tuple[float, float]:
        totals, coded = [], []
        for _ in range(edits):
            width[0] += 1
            before = len(shown)
            t0 = time.perf_counter()
            window.undo_stack.push(SetParamCommand(window.graph, node, "out_features",
                                                   width[0]))
            wait_for(shown, before)
            totals.append(time.perf_counter() - t0)
            if code_too:
                window.code.wait(120_000)
                coded.append(time.perf_counter() - t0)
        return statistics.median(totals), statistics.median(coded) if coded else 0.0

    window.docks["code"].close()
    QApplication.processEvents()
    hidden, _ = edit_times()
    layers = len(window.graph.nodes)
    if lean:
        cpu_start = time.process_time()
        again, _ = edit_times()
        cpu = (time.process_time() - cpu_start) / edits
        window.undo_stack.setClean()
        window.persist = False
        window.close()
        return [f"real window {label} ({layers} layers) edit->diagnostics, Code panel hidden: "
                f"{ms(hidden)}, again {ms(again)} (process CPU {ms(cpu)} per edit)"]
    window.show_dock("code")
    window.code.wait(120_000)
    visible, code_shown = edit_times(code_too=True)
    window.code.refresh = types.MethodType(synchronous_code_refresh, window.code)
    old, _ = edit_times()
    window.undo_stack.setClean()
    window.persist = False
    window.close()
    return [f"real window {label} ({layers} layers) edit->diagnostics: Code panel hidden "
            f"{ms(hidden)}, visible {ms(visible)} (code shown after {ms(code_shown)}), "
            f"visible with the old synchronous compile {ms(old)}: old/new "
            f"{old / visible:.1f}x"]


def bench_real_window(folder: Path, sizes: tuple[int, ...] = (1000, 5000),
                      lean: bool = False) -> None:
    """Issue 16's rows: generated mixed networks and (unless ``lean``) the imported
    ResNet-50."""
    from graph.project import Project, save_project

    for layers in sizes:
        graph, head = generate_mixed(layers)
        path = folder / f"mixed_{layers}.plexus"
        save_project(Project(graph=graph), path)
        for row in bench_window(path, None, head, folder, f"mixed {layers}", lean=lean):
            print(row, flush=True)
    if lean:
        return
    resnet = folder / "resnet50.plexus"
    if not resnet.exists():  # bench_imported saves it; alone, import it here
        from runtime.importer import import_module

        save_project(import_module(torchvision_resnet50(), input_shape=(3, 224, 224)), resnet)
    for row in bench_window(resnet, "fc", None, folder, "imported ResNet-50"):
        print(row, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[1000, 5000],
                        help="sizes of the real-window rows (default 1000 5000)")
    parser.add_argument("--window-only", action="store_true",
                        default=bool(os.environ.get("EDITOR_SCALE_WINDOW_ONLY")),
                        help="only the real-window rows")
    parser.add_argument("--lean", action="store_true",
                        help="real window: Code panel hidden only, no ResNet-50 (implies "
                        "--window-only)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.window_only or args.lean:
            bench_real_window(Path(tmp), tuple(args.layers), lean=args.lean)
            return
        for layers in (100, 1000):
            graph, (head,) = generate(layers)
            stack = QUndoStack()
            scene = GraphScene(graph, stack)
            total, analysis, draw = bench_edit(graph, scene, stack, head)
            rows.append(f"edit->diagnostics {layers} layers: {ms(total)} (debounce "
                        f"{DEBOUNCE_MS} ms; analyze alone {ms(analysis)}, set_analysis alone "
                        f"{ms(draw)})")
            rows.append(f"build scene {layers} layers: {ms(bench_build(graph))}")
            opened = bench_open(graph, Path(tmp))
            rows.append(f"open project {layers} layers: "
                        + (ms(opened) if opened is not None else "n/a (no graph.project)"))
            if layers == 1000:
                view = GraphView(scene)
                view.resize(1600, 1000)
                view.show()
                app.processEvents()
                view.resetTransform()
                view.centerOn(scene.nodes_bounding_rect().center())
                rows.append(f"pan fps {layers} layers at 100%: {bench_pan(view):.1f}")
                view.fit_all()
                rows.append(f"pan fps {layers} layers fit ({view.zoom():.2f}x, all visible): "
                            f"{bench_pan(view):.1f}")
                view.close()
            scene.detach()
            for row in rows[-5:]:
                print(row, flush=True)
        for row in [*bench_imported(Path(tmp)), *bench_imported_efficientnet(Path(tmp))]:
            print(row, flush=True)
        bench_real_window(Path(tmp), tuple(args.layers))


if __name__ == "__main__":
    main()
