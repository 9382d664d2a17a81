"""Driving the editor window in tests: open an example as a file, reach the project form,
pick a value in a combo box."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graph.project import save_project
from resources.examples import make


def open_example(window: Any, folder: Path, name: str = "xor_mlp", **training: Any) -> str:
    """Save example ``name`` (with these training settings) in ``folder`` and open it in
    ``window``; returns its path."""
    project = make.build(name)
    for key, value in training.items():
        setattr(project.training, key, value)
    path = str(Path(folder) / f"{name}.plexus")
    save_project(project, path)
    assert window.open_project(path, ask=False)
    return path


def project_form(window: Any) -> Any:
    """The inspector's project form (shown when no layer is selected)."""
    window.inspector.show_nodes([])
    return window.inspector.project_form


def choose(combo: Any, value: str) -> None:
    index = combo.findData(value)
    assert index >= 0, value
    combo.setCurrentIndex(index)
