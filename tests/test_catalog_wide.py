"""Every catalog layer, through everything that reads the catalog: the palette, the inspector,
shape inference and compile (tests/test_catalog_layers.py), the Python export (it runs on its
own and computes what the compiled module computes), the ONNX export, and the fx and ONNX
imports back (the imported graph computes the same and holds the layer again). A layer is
one declaration; these tests pick a new one up without a line here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import graph.layers
from graph import catalog
from graph.model import Edge, Graph
from graph.project import Project
from runtime import export, export_onnx
from runtime.compile import compile_graph, load_node_state, weights_from_bytes
from runtime.importer import ModelImportError, import_module, import_onnx
from runtime.shapes import analyze
from tests.test_catalog_layers import single_layer_graph
from tests.test_runtime_export import compiled_outputs, example_input, with_weights

LAYERS = [spec for spec in graph.layers.LAYERS if spec.role not in (catalog.INPUT, catalog.HEAD)]
TOLERANCE = 1e-4


def ids(spec: catalog.LayerSpec) -> str:
    return spec.id


def layer_project(spec: catalog.LayerSpec) -> Project:
    """Input(s) -> the layer with default params -> Output, with random weights."""
    graph, _, _ = single_layer_graph(spec)
    project = Project(name=f"one {spec.id}", graph=graph)
    return with_weights(project)


def outputs_of(project: Project, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    compiled = compile_graph(project.graph)
    if project.weights:
        load_node_state(compiled, weights_from_bytes(project.weights))
    compiled.module.eval()
    with torch.no_grad():
        out = compiled.module(*inputs)
    return list(out) if isinstance(out, tuple) else [out]


def assert_same(got: list[torch.Tensor], want: list[torch.Tensor], what: str) -> None:
    assert len(got) == len(want), what
    for a, b in zip(got, want, strict=True):
        assert tuple(a.shape) == tuple(b.shape), what
        assert float((a.float() - b.float()).abs().max()) < TOLERANCE, what


def layer_types(project: Project) -> set[str]:
    return {node.type for node in project.graph.nodes.values()}


# -- the GUI reads the declaration -------------------------------------------------------------
def test_palette_lists_every_layer(qtbot):
    from gui.palette import LAYER_ROLE, Palette

    palette = Palette()
    qtbot.addWidget(palette)
    listed = set()
    for index in range(palette.tree.topLevelItemCount()):
        category = palette.tree.topLevelItem(index)
        listed |= {category.child(i).data(0, LAYER_ROLE) for i in range(category.childCount())}
    assert listed == {spec.id for spec in graph.layers.LAYERS}


@pytest.mark.parametrize("spec", graph.layers.LAYERS, ids=ids)
def test_inspector_builds_a_form_for_every_layer(spec, qtbot):
    from PySide6.QtGui import QUndoStack

    from gui.inspector import Inspector
    from runtime.shapes import analyze

    stack = QUndoStack()
    inspector = Inspector(stack)
    qtbot.addWidget(inspector)
    graph, _, layer_id = single_layer_graph(spec)
    inspector.set_project(Project(name="one", graph=graph))
    inspector.set_analysis(analyze(graph))
    inspector.show_nodes([layer_id])
    form = inspector.node_form
    assert list(form.editors) == [p.name for p in spec.params]
    for param in spec.params:
        assert form.editors[param.name].current() == param.default, param.name
    inspector.project_form.wait_preview()


# -- export and import round trips ------------------------------------------------------------
def load_exported(path: Path) -> type[torch.nn.Module]:
    """The class an exported module file defines, loaded from that file alone."""
    name = f"exported_{path.stem}"
    loader = importlib.util.spec_from_file_location(name, path)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module
    try:
        loader.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return getattr(module, export.class_name(path.stem))


@pytest.mark.parametrize("spec", LAYERS, ids=ids)
def test_python_export_runs_and_fx_import_brings_the_layer_back(spec, tmp_path):
    python_and_fx_round_trip(spec, layer_project(spec), tmp_path)


def python_and_fx_round_trip(spec: catalog.LayerSpec, project: Project, tmp_path: Path
                             ) -> None:
    """The exported file runs alone and computes what ``project`` does; fx brings it back."""
    project.name = "layer"
    path = tmp_path / "layer.py"
    export.write_python(project, path)
    text = path.read_text()
    assert "from runtime" not in text and "import graph" not in text  # torch alone runs it
    x = example_input(project, 3)
    want = compiled_outputs(project, x)
    model = load_exported(path)().eval()
    model.load_weights(str(path.with_suffix(".safetensors")))
    with torch.no_grad():
        got = model(*x)
    assert_same(list(got) if isinstance(got, tuple) else [got], want, "exported module")

    imported = import_module(path)
    assert spec.id in layer_types(imported)
    assert_same(outputs_of(imported, x), want, "fx import")


@pytest.mark.parametrize("spec", LAYERS, ids=ids)
def test_onnx_export_and_import_round_trip(spec, tmp_path):
    onnx_round_trip(spec, layer_project(spec), tmp_path)


def onnx_round_trip(spec: catalog.LayerSpec, project: Project, tmp_path: Path) -> None:
    """onnxruntime computes what ``project`` does, and the ONNX import brings it back."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    path = export_onnx.export_onnx(project, tmp_path / "layer.onnx")
    x = example_input(project, 3)
    want = compiled_outputs(project, x)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    got = session.run(None, {n: t.numpy() for n, t in zip(names, x, strict=True)})
    assert_same([torch.from_numpy(g) for g in got], want, "onnxruntime")

    if not spec.onnx.importable:
        assert spec.onnx.why, f"{spec.id} must say why ONNX cannot bring it back"
        with pytest.raises(ModelImportError):
            import_onnx(path)
        return
    imported = import_onnx(path)
    written = {node.op_type for node in onnx.load(str(path)).graph.node}
    if set(spec.onnx.ops) & written:  # (an inference export leaves Dropout out)
        types = layer_types(imported)
        # a tensor op may come back as an equal one (Reshape to one vector: a Flatten)
        assert spec.id in types or (spec.role == catalog.TENSOR_OP and len(types) == 3), types
    assert_same(outputs_of(imported, x), want, "ONNX import")


# -- element-wise merges broadcast ---------------------------------------------------------------
BROADCASTING = [spec for spec in LAYERS if spec.role == catalog.MERGE and not spec.merge_dim]


def broadcast_project(spec: catalog.LayerSpec, other: tuple[int, ...]) -> Project:
    """N x 3 x 4 x 4 and N x ``other`` -> the merge -> Output (squeeze-and-excitation's
    N x C x H x W times N x C x 1 x 1 when ``other`` is 3, 1, 1)."""
    graph = Graph()
    first = graph.add_node("Input", {"shape": (3, 4, 4)}, name="features")
    second = graph.add_node("Input", {"shape": other}, name="gate")
    layer = graph.add_node(spec.id, name="layer")
    graph.connect(Edge(first.id, "out", layer.id, "in1"))
    graph.connect(Edge(second.id, "out", layer.id, "in2"))
    graph.connect(Edge(layer.id, "out", graph.add_node("Output", name="out").id, "in"))
    return with_weights(Project(name=f"broadcast {spec.id}", graph=graph))


@pytest.mark.parametrize("spec", BROADCASTING, ids=ids)
def test_element_wise_merges_broadcast_sizes_of_one(spec, tmp_path):
    project = broadcast_project(spec, (3, 1, 1))
    analysis = analyze(project.graph)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    assert set(analysis.shapes.edges.values()) >= {(2, 3, 4, 4), (2, 3, 1, 1)}
    python_and_fx_round_trip(spec, project, tmp_path)
    onnx_round_trip(spec, project, tmp_path)


@pytest.mark.parametrize("spec", BROADCASTING, ids=ids)
@pytest.mark.parametrize(("other", "why"), [
    ((2, 4, 4), "the shapes must be equal (or 1 where they differ)"),
    ((4, 4), "they have different numbers of dimensions")])
def test_element_wise_merges_name_both_shapes_they_cannot_broadcast(spec, other, why):
    project = broadcast_project(spec, (3, 1, 1))
    gate = next(n for n in project.graph.nodes.values() if n.name == "gate")
    gate.params["shape"] = other
    errors = [d.message for d in analyze(project.graph).diagnostics if d.severity == "error"]
    shape = " x ".join(["N", *map(str, other)])
    (message,) = errors
    assert message.startswith(f"{spec.id} 'layer' cannot {spec.title.lower()} N x 3 x 4 x 4 "
                              f"from Input 'features' and {shape} from Input 'gate'")
    assert why in message


# -- every name a declaration gives resolves ----------------------------------------------------
@pytest.mark.parametrize("spec", graph.layers.LAYERS, ids=ids)
def test_every_declared_name_resolves(spec):
    from runtime import fx_layers, ops
    from runtime.import_fx import _Walker, resolve_call
    from runtime.onnx_layers import LayerReaders

    assert spec.role in catalog.ROLES
    assert spec.dtype in (catalog.FLOATS, catalog.TOKENS, catalog.ANY)
    if spec.torch_class:
        assert ops.torch_class(spec) is not None
    if spec.ops_class:
        assert ops.ops_class(spec) is not None
    if spec.role == catalog.MERGE:
        assert callable(ops.merge_function(spec))
        assert not spec.merge_dim or spec.merge_dim in {p.name for p in spec.params}
    if spec.role in (catalog.MODULE, catalog.TENSOR_OP):
        assert spec.torch_class or spec.ops_class
        assert spec.fx.module in fx_layers.READERS
    if spec.fx.functions:
        assert callable(getattr(_Walker, f"call_{spec.fx.call}"))
        for name in spec.fx.functions:
            assert resolve_call(name) is not None
    if spec.onnx.ops:
        assert callable(getattr(LayerReaders, f"read_{spec.onnx.reader}"))
    assert bool(spec.ranks) == bool(spec.rank_words)
