"""Reading a Python model file without running it: the nn.Module classes and public functions
it defines (the Import dialog's class list) and the input shapes a class declares. Parsing with
``ast`` never runs the user's code."""

from __future__ import annotations

import ast


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _is_module_base(name: str, modules: set[str]) -> bool:
    return name in modules or name == "Module" or name.startswith(("nn.", "torch.nn."))


def model_names(source: str) -> list[str]:
    """The nn.Module subclasses, then the public top-level functions, defined in ``source``.

    Classes come newest first: a file usually defines its blocks before the model built from
    them, so the first name is the likeliest model. Raises SyntaxError.
    """
    tree = ast.parse(source)
    modules: set[str] = set()
    classes: list[str] = []
    functions: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
                _is_module_base(_dotted(base), modules) for base in node.bases):
            modules.add(node.name)
            classes.append(node.name)
        elif isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            functions.append(node.name)
    return classes[::-1] + functions


def declared_input_shapes(source: str, name: str) -> str:
    """The ``input_shapes`` a class declares (files exported by Plexus do), as the dialog's
    shape text ("1,8,8", several inputs "1,8,8;3"); "" when it declares none."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name == name):
            continue
        for item in node.body:
            targets = item.targets if isinstance(item, ast.Assign) else \
                [item.target] if isinstance(item, ast.AnnAssign) and item.value else []
            if any(isinstance(t, ast.Name) and t.id == "input_shapes" for t in targets):
                try:
                    shapes = ast.literal_eval(item.value)
                    return ";".join(",".join(str(int(v)) for v in s) for s in shapes.values())
                except (ValueError, TypeError, AttributeError, SyntaxError):
                    return ""
    return ""
