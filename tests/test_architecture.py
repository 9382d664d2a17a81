"""The layering holds: no import circles inside runtime/ or among gui/panels, nothing upward.

Imports are read with ``ast`` from the source, both module-level and inside functions (a late
import still ties two modules together), so nothing is imported to check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]



def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path) -> set[str]:
    """Every module name an import in the file names (``from a import b``: "a" and "a.b")."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_graph(package: str) -> nx.DiGraph:
    """Modules of ``package`` (a folder) and the imports among them."""
    files = {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        for target in imported(path) & files.keys():
            if target != name:
                graph.add_edge(name, target)
    return graph


def circles(package: str) -> list[list[str]]:
    return list(nx.simple_cycles(import_graph(package)))


@pytest.mark.parametrize("package", ["runtime", "gui/panels"])
def test_no_import_circles(package):
    assert circles(package) == []


UPWARD = {
    "graph": ("torch", "PySide6", "pyqtgraph", "runtime", "gui", "numpy"),
    "runtime": ("PySide6", "pyqtgraph", "gui"),
}


@pytest.mark.parametrize("package", sorted(UPWARD))
def test_nothing_imports_upward(package):
    forbidden = UPWARD[package]
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported(path):
            if name.split(".")[0] in forbidden:
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    assert found == []


def test_the_checker_sees_late_imports(tmp_path):
    """A function-level import counts: the circle train -> attacks -> session -> train was one."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from runtime.session import prepare\n")
    assert imported(source) == {"runtime.session", "runtime.session.prepare"}
