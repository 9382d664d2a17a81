"""Export a project as one of its kinds: the entry point of the command line and File > Export.

Each kind has its own exporter: the PyTorch module (``runtime/export.py``), the training script
(``runtime/export_script.py``) and ONNX (``runtime/export_onnx.py``). Every failure is an
``ExportError`` whose one-line message names the node or file.
"""

from __future__ import annotations

from pathlib import Path

from graph.project import Project
from runtime.export import ExportError, file_stem, write_python
from runtime.export_onnx import export_onnx
from runtime.export_script import write_script

EXPORT_KINDS = {"python": "PyTorch module (.py)", "script": "Training script (.py)",
                "onnx": "ONNX model (.onnx)"}


def default_file_name(project: Project, kind: str) -> str:
    """The file name an export dialog proposes: "digits_cnn.py", "train_digits_cnn.py",
    "digits_cnn.onnx"."""
    stem = file_stem(project.name)
    return {"python": f"{stem}.py", "script": f"train_{stem}.py", "onnx": f"{stem}.onnx"}[kind]


def export_project(project: Project, kind: str, path: str | Path) -> list[Path]:
    """Export as ``kind`` (a key of EXPORT_KINDS) to ``path``; returns the files written (a
    module's weights go beside it). Raises ExportError."""
    if kind == "python":
        return write_python(project, path)
    if kind == "script":
        return write_script(project, path)
    if kind == "onnx":
        return [export_onnx(project, path)]
    raise ExportError(f"unknown export kind {kind!r}; choose {', '.join(EXPORT_KINDS)}")
