"""Import existing models as editable Plexus graphs: PyTorch modules (torch.fx) and ONNX files.

The public entry points, which hand the file to its front-end: ``runtime/import_fx.py`` traces
a PyTorch module, ``runtime/import_onnx.py`` walks an ONNX graph; both build the project with
``runtime/import_builder.py`` and refuse what they cannot import with ``ModelImportError``,
whose one line lists every module path, function or operator without a catalog equivalent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from graph.project import Project
from runtime import import_fx
from runtime import import_onnx as onnx_front_end
from runtime.import_builder import ModelImportError


# -- public entry points --------------------------------------------------------------------------
def import_module(source: str | Path | torch.nn.Module, name: str | None = None,
                  args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                  input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
                  project_name: str | None = None, weights: str | Path | None = None
                  ) -> Project:
    """A project from a PyTorch module traced with torch.fx.

    ``source`` is a Python file (whose code runs: import only files you trust) or a module
    instance. ``name`` is the nn.Module class or factory function in the file (default: the
    only one), called with ``args``/``kwargs``. ``input_shape`` is one sample's shape without
    the batch (a list of shapes for several inputs); files exported by Plexus carry it.
    ``weights`` is a .safetensors file or a .pth/.pt state dict (read with
    ``weights_only=True``; see ``runtime/import_weights.py``) keyed like the module's
    state_dict, loaded first; for a file it defaults to "<file stem>.safetensors" beside it
    when that exists (as Plexus exports them). Raises ModelImportError.
    """
    return import_fx.import_module(source, name, args, kwargs, input_shape, project_name, weights)


def import_onnx(path: str | Path, project_name: str | None = None) -> Project:
    """A project from an ONNX file's common operators and weights; ModelImportError lists the
    operators without a Plexus equivalent."""
    return onnx_front_end.import_onnx(path, project_name)


def import_file(path: str | Path, name: str | None = None, args: Sequence[Any] = (),
                kwargs: dict[str, Any] | None = None,
                input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
                project_name: str | None = None, weights: str | Path | None = None
                ) -> Project:
    """``import_onnx`` for .onnx files, ``import_module`` for Python files. The user's code
    (the file, the model's constructor and forward) may call sys.exit() or be interrupted:
    both are a ModelImportError here, so neither the editor nor the CLI ends with it."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return import_onnx(path, project_name)
    if path.suffix.lower() != ".py":
        raise ModelImportError(f"{path.name}: import reads Python (.py) or ONNX (.onnx) files")
    try:
        return import_module(path, name, args, kwargs, input_shape, project_name, weights)
    except SystemExit as exc:
        raise ModelImportError(f"{path.name}: the model's code called sys.exit({exc.code!r}); "
                               "nothing was imported") from None
    except KeyboardInterrupt:
        raise ModelImportError(f"{path.name}: interrupted while its code ran; nothing was "
                               "imported") from None
