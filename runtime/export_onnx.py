"""Export a design as one ONNX file, and say which layer is to blame when that fails.

ONNX goes through ``torch.onnx.export`` (dynamo) with the inputs named after the Input nodes,
the outputs after the Output nodes, a dynamic batch and the weights inside the one file. When
the whole model fails, each layer is exported on its own to find the first one ONNX cannot
express, so the one-line ``ExportError`` names a node the user can remove or replace.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor, nn

from graph.catalog import INPUT
from graph.project import Project
from runtime.export import Design, ExportError, design
from runtime.shapes import Shape


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress lines, optional-dependency notes and deprecations."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _require_onnx() -> None:
    missing = [name for name in ("onnx", "onnxscript") if not _importable(name)]
    if missing:
        raise ExportError(f"ONNX export needs {' and '.join(missing)}; install them with "
                          "pip install onnx onnxscript (or pip install 'plexus[onnx]')")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _example_tensor(shape: Shape, dtype: str, batch: int = 2) -> Tensor:
    if dtype == "long":
        return torch.zeros(batch, *shape, dtype=torch.long)
    return torch.randn(batch, *shape)


def _onnx_export(module: nn.Module, args: tuple[Tensor, ...], path: Path,
                 input_names: list[str], output_names: list[str] | None) -> None:
    batch = torch.export.Dim("batch", min=1)
    with _quiet_exporter():
        torch.onnx.export(module, args, str(path), dynamo=True, external_data=False,
                          input_names=input_names, output_names=output_names,
                          dynamic_shapes=tuple({0: batch} for _ in args), verbose=False)


def export_onnx(project: Project, path: str | Path) -> Path:
    """Write an ONNX file: inputs named after the Input nodes, outputs after the Output
    nodes, a dynamic batch dimension, weights inside the one file.

    ExportError names the node that ONNX cannot express and why.
    """
    _require_onnx()
    path = Path(path)
    d = design(project)
    nodes = d.graph_nodes
    inputs = [nodes[i] for i in d.compiled.input_nodes]
    args = tuple(_example_tensor(tuple(n.param("shape")), n.param("dtype")) for n in inputs)
    output_names = [nodes[i].name for i in d.compiled.output_nodes]
    if len(set(output_names)) != len(output_names) or set(output_names) & {
            n.name for n in inputs}:
        output_names = None  # names must be unique in ONNX; keep the exporter's own
    try:
        _onnx_export(d.compiled.module, args, path, [n.name for n in inputs], output_names)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    except Exception as exc:  # noqa: BLE001 - torch.export and onnxscript raise many types
        raise ExportError(_blame(d, exc, path)) from None
    return path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Traceback", "File ")):
            return line[:300]
    return type(exc).__name__


def _blame(d: Design, exc: BaseException, path: Path) -> str:
    """Find the node whose layer alone fails to export, to name it in the message."""
    import tempfile

    nodes = d.graph_nodes
    with tempfile.TemporaryDirectory() as folder:
        for node_id in d.compiled.graph.topological_order():
            name = d.compiled.module_names.get(node_id)
            if name is None:
                continue
            node = nodes[node_id]
            module = d.compiled.module.get_submodule(name)
            shapes = d.inputs[node_id]
            dtype = "float"
            edge = d.compiled.graph.edge_into(node_id, "in")
            source = nodes[edge.src].spec if edge is not None else None
            if edge is not None and source is not None and source.role == INPUT:
                dtype = nodes[edge.src].param("dtype")
            args = tuple(_example_tensor(tuple(s[1:]), dtype) for s in shapes)
            try:
                _onnx_export(module, args, Path(folder) / "layer.onnx", ["x"], None)
            except Exception as layer_exc:  # noqa: BLE001
                return (f"{node.label} cannot be exported to ONNX: {_first_line(layer_exc)}; "
                        "remove or replace that layer to export")
    return f"{path.name}: ONNX export failed: {_first_line(exc)}"
